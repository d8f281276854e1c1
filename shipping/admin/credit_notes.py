"""Credit notes: the list (filters, search), each note with its lines, the PDF; issuing them from orders (the rest
of an invoice) and from received returns. Written only through ``shipping.services.credit_notes``."""

from django.contrib import admin

from orders.admin.common import actor_of
from orders.models import Return
from shipping.admin.common import shipment_refusal
from shipping.admin.documents import print_action
from shipping.errors import NOTHING_TO_CREDIT
from shipping.models import CreditNote, CreditNoteLine, CreditNoteLineKind, CreditNoteReason, DocumentKind
from shipping.services.credit_notes import Credit, credit_note_for_return, credit_note_issue
from shopops.admin import (
    ActionReport,
    MerchantScopedAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    actor_display,
    run_per_object,
)


class OrderCreditNoteInline(ReadOnlyInline):
    """The order's credit notes, on its page."""

    model = CreditNote
    fields = ["number", "issued_at", "reason", "return_request", "total"]
    readonly_fields = fields
    verbose_name_plural = "credit notes"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("return_request").order_by("id")


class CreditNoteLineInline(ReadOnlyInline):
    model = CreditNoteLine
    fields = ["kind", "name", "sku", "hsn_code", "quantity", "uqc", "rate", "taxable_value", "cgst", "sgst", "igst",
              "total"]  # fmt: skip
    readonly_fields = fields


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    """Credit notes are issued by ShopOps (cancellations after invoicing, received returns) or by the actions of
    the order and return lists; their pages only show them, and print them."""

    list_display = ["number", "issued_at", "order", "invoice", "return_request", "reason", "taxable_value",
                    "tax", "total"]  # fmt: skip
    list_select_related = ["order", "invoice", "return_request"]
    list_filter = ["reason", "intra_state", "issued_at"]
    search_fields = ["number", "order__number", "invoice__number", "return_request__number"]
    search_help_text = "Credit note, order, invoice or return number."
    date_hierarchy = "issued_at"
    inlines = [CreditNoteLineInline]
    actions = [print_action(DocumentKind.CREDIT_NOTE, "Print credit notes (PDF)")]
    fields = ["number", "issued_at", "order", "invoice", "return_request", "reason", "note", "intra_state",
              "taxable_value", "cgst", "sgst", "igst", "total", "currency", "created_by_name"]  # fmt: skip
    readonly_fields = fields
    created_by_name = actor_display("created_by", "issued by")

    def has_change_permission(self, request, obj=None) -> bool:
        # Without an object: may the user print (a document job is a write). With one: the page is view-only.
        return obj is None and MerchantScopedAdmin.has_change_permission(self, request)

    @admin.display(description="GST")
    def tax(self, note: CreditNote):
        return note.cgst + note.sgst + note.igst


@admin.action(description="Issue credit notes for the rest of their invoices", permissions=["change"])
def credit_rest_of_invoice_selected(model_admin, request, queryset):
    """Each order's invoice, whatever of it no credit note gave back yet: its lines' units and its charges."""

    def credit(order):
        credits = [Credit(CreditNoteLineKind.ITEM, line.pk, line.quantity) for line in order.lines.order_by("id")]
        credits += [Credit(CreditNoteLineKind.SHIPPING), Credit(CreditNoteLineKind.COD)]
        note = credit_note_issue(order=order, credits=credits, reason=CreditNoteReason.OTHER, partial=True,
                                 note="The rest of the invoice, credited from the order desk.",
                                 actor=actor_of(request))  # fmt: skip
        if note is None:
            raise NOTHING_TO_CREDIT("its invoice is already credited in full")

    run_per_object(model_admin, request, list(queryset.select_related("merchant").order_by("pk")),
                   ActionReport("Credited", "order"), credit, shipment_refusal)  # fmt: skip


@admin.action(description="Issue credit notes for the selected received returns", permissions=["change"])
def credit_returns_selected(model_admin, request, queryset):
    """A received return's note (issued when it was received: asking again finds it)."""

    def credit(return_request: Return):
        if credit_note_for_return(return_request=return_request, actor=actor_of(request)) is None:
            raise NOTHING_TO_CREDIT("its order has no invoice, or nothing is left to credit")

    run_per_object(model_admin, request, list(queryset.select_related("order").order_by("pk")),
                   ActionReport("Credited", "return"), credit, shipment_refusal)  # fmt: skip

"""Ship batches: the order action "Ship selected orders…" and the batch pages with each order's outcome."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from orders.admin.common import actor_of
from orders.models import Order
from shipping.admin.common import warn_eway_bills
from shipping.admin.documents import document_link
from shipping.choices import CourierSort, LabelFormat
from shipping.models import ShipBatch, ShipBatchStatus
from shipping.services.batches import SHIP_BATCH_MAX, ship_batch_create, ship_batch_resume
from shipping.services.ship import ShipOptions
from shopops.admin import (
    ActionReport,
    MerchantScopedAdmin,
    ReadOnlyAdmin,
    action_form_page,
    refusal_reason,
    run_per_object,
)
from shopops.errors import DomainError


class ShipBatchForm(forms.Form):
    """The options of "Ship selected orders…"."""

    sort = forms.ChoiceField(
        choices=[("", "The merchant's default order"), *CourierSort.choices], required=False,
        help_text="How each order's courier is picked among those that can carry it.")  # fmt: skip
    request_pickup = forms.BooleanField(label="Request pickups", required=False, initial=True,
                                        help_text="One pickup per courier and pickup location.")  # fmt: skip
    pickup_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text="Default: today before the courier's cut-off, else the next working "
                                            "day.")  # fmt: skip
    print_label = forms.BooleanField(label="Print labels", required=False, initial=True,
                                     help_text="One PDF with every label.")  # fmt: skip
    label_format = forms.ChoiceField(choices=LabelFormat.choices, initial=LabelFormat.LABEL_4X6)
    print_invoice = forms.BooleanField(label="Print invoices", required=False, initial=True,
                                       help_text="One PDF with every tax invoice.")  # fmt: skip
    generate_manifest = forms.BooleanField(label="Generate manifests", required=False, initial=False,
                                           help_text="One manifest (and its PDF) per courier and pickup "
                                                     "location.")  # fmt: skip

    def options(self) -> ShipOptions:
        return ShipOptions(**{**self.cleaned_data, "sort": self.cleaned_data["sort"] or None})


def _batch_link(batch: ShipBatch):
    return format_html('<a href="{}">{}</a>', reverse("admin:shipping_shipbatch_change", args=[batch.pk]), batch)


@admin.action(description="Ship selected orders…", permissions=["change"])
def ship_selected(modeladmin, request, queryset):
    """Confirm, pack, book the courier and the AWB of each selected order, then one pickup per courier and location,
    one label PDF, one invoice PDF and the manifests: one ShipBatch job per merchant, followed on its page."""
    count = queryset.count()
    if count > SHIP_BATCH_MAX:
        modeladmin.message_user(request, f"Select at most {SHIP_BATCH_MAX} orders a batch, not {count}.",
                                messages.ERROR)  # fmt: skip
        return None
    form = ShipBatchForm(request.POST if "apply" in request.POST else None, prefix="ship")
    if not (form.is_bound and form.is_valid()):
        return action_form_page(modeladmin, request, form=form, title="Ship selected orders", action="ship_selected",
                                rows_name="orders", rows=queryset.order_by("pk")[:100], count=count)  # fmt: skip
    writable = set(modeladmin.writable_merchants(request).values_list("pk", flat=True))
    by_merchant: dict[int, list] = {}
    for order in queryset.select_related("merchant").order_by("pk"):
        by_merchant.setdefault(order.merchant_id, []).append(order)
    batches = []
    for orders in by_merchant.values():
        merchant = orders[0].merchant
        if merchant.pk not in writable:
            modeladmin.message_user(request, f"{merchant}: your role only reads its orders; nothing was shipped.",
                                    messages.ERROR)  # fmt: skip
            continue
        try:
            batch = ship_batch_create(merchant=merchant, order_ids=[o.pk for o in orders], actor=actor_of(request),
                                      options=form.options())  # fmt: skip
        except (DomainError, ValidationError) as exc:
            modeladmin.message_user(request, f"{merchant}: nothing shipped ({refusal_reason(exc)}).", messages.ERROR)
            continue
        batches.append(batch)
        batch.refresh_from_db()  # without a broker the job has already run
        modeladmin.message_user(request, format_html(
            "{} for {} order{}: {}. Its page shows each order's outcome, the pickups and the PDFs.",
            _batch_link(batch), batch.total, "" if batch.total == 1 else "s", batch_outcome(batch)),
            batch_level(batch))  # fmt: skip
        booked = [int(order_id) for order_id, outcome in batch.results.items() if outcome["steps"]["awb_assigned"]]
        warn_eway_bills(modeladmin, request, Order.objects.filter(pk__in=booked).order_by("pk"))
    if len(batches) == 1:
        return HttpResponseRedirect(reverse("admin:shipping_shipbatch_change", args=[batches[0].pk]))
    return None


def batch_outcome(batch: ShipBatch) -> str:
    """The batch's state in words: "done", "done, 2 of 5 orders refused", "failed", "queued"."""
    text = batch.get_status_display().lower()
    if batch.status == ShipBatchStatus.DONE and batch.failed:
        text += f", {batch.failed} of {batch.total} order{'' if batch.total == 1 else 's'} refused"
    return text


def batch_level(batch: ShipBatch) -> int:
    """A batch that failed is an error, one with refused orders a warning, never a success."""
    if batch.status == ShipBatchStatus.FAILED or (batch.total and batch.failed == batch.total):
        return messages.ERROR
    if batch.failed:
        return messages.WARNING
    return messages.SUCCESS if batch.status == ShipBatchStatus.DONE else messages.INFO


@admin.register(ShipBatch)
class ShipBatchAdmin(ReadOnlyAdmin):
    """The "Ship selected orders" jobs: progress, each order's outcome, and what the batch booked and printed."""

    list_display = ["id", "status", "progress", "shipped", "failed", "created_by", "created_at", "finished_at"]
    list_filter = ["status"]
    actions = ["run_again_selected"]
    fields = ["status", "progress", "shipped", "failed", "error", "options_display", "results_table", "pickup_links",
              "manifest_links", "document_links", "created_by", "created_at", "started_at", "finished_at"]  # fmt: skip
    readonly_fields = fields

    def get_object(self, request, object_id, from_field=None):
        queryset = self.get_queryset(request).select_related("label_document", "invoice_document").prefetch_related(
            "pickups__courier", "pickups__location", "manifests", "manifest_documents")  # fmt: skip
        try:
            return queryset.get(pk=int(object_id))
        except (ShipBatch.DoesNotExist, ValueError):
            return None

    def has_rerun_permission(self, request) -> bool:
        return MerchantScopedAdmin.has_change_permission(self, request)

    @admin.display(description="progress")
    def progress(self, batch: ShipBatch) -> str:
        return f"{batch.processed}/{batch.total}"

    @admin.display(description="options")
    def options_display(self, batch: ShipBatch) -> str:
        options = ShipOptions.from_json(batch.options)
        parts = [f"courier: {options.courier}", f"sort: {options.sort or 'the merchant default'}",
                 f"pickup: {'on ' + str(options.pickup_date) if options.pickup_date else 'next'}"
                 if options.request_pickup else "no pickup",
                 f"labels ({options.label_format})" if options.print_label else "no labels",
                 "invoices" if options.print_invoice else "no invoices",
                 "manifests" if options.generate_manifest else "no manifests"]  # fmt: skip
        return "; ".join(parts)

    @admin.display(description="orders")
    def results_table(self, batch: ShipBatch):
        """One row per order in the batch's order: number (linked), outcome, AWB, courier and the refusal, or the
        booking's warnings (an e-way bill required)."""
        numbers = dict(Order.objects.filter(merchant_id=batch.merchant_id, pk__in=batch.order_ids)
                       .values_list("pk", "number"))  # fmt: skip

        def row(order_id: int) -> tuple:
            outcome = batch.results.get(str(order_id))
            if outcome is None:
                state, error = "waiting", ""
            elif outcome["steps"]["awb_assigned"]:
                state, error = "shipped", " ".join(w["message"] for w in outcome.get("warnings", []))
            else:
                state, error = "refused", f"{outcome['error']['step']}: {outcome['error']['message']}"
            url = reverse("admin:orders_order_change", args=[order_id])
            return (url, numbers.get(order_id, order_id), state, (outcome or {}).get("awb") or "-",
                    (outcome or {}).get("courier") or "-", error)  # fmt: skip

        body = format_html_join("", "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                                "</tr>", (row(order_id) for order_id in batch.order_ids))  # fmt: skip
        return format_html('<table class="ship-batch-results"><thead><tr><th>Order</th><th>Outcome</th><th>AWB</th>'
                           "<th>Courier</th><th>Refused at / why, or warnings</th></tr></thead><tbody>{}</tbody>"
                           "</table>",
                           body)  # fmt: skip

    @admin.display(description="pickups")
    def pickup_links(self, batch: ShipBatch):
        pickups = sorted(batch.pickups.all(), key=lambda p: p.pk)
        return format_html_join(", ", '<a href="{}">{}</a> ({} from {} on {})', (
            (reverse("admin:shipping_pickuprequest_change", args=[p.pk]), p.token, p.courier.name,
             p.location.nickname, p.pickup_date) for p in pickups)) or "-"  # fmt: skip

    @admin.display(description="manifests")
    def manifest_links(self, batch: ShipBatch):
        manifests = sorted(batch.manifests.all(), key=lambda m: m.pk)
        return format_html_join(", ", '<a href="{}">{}</a>', (
            (reverse("admin:shipping_manifest_change", args=[m.pk]), m.number) for m in manifests)) or "-"  # fmt: skip

    @admin.display(description="PDFs")
    def document_links(self, batch: ShipBatch):
        documents = [d for d in (batch.label_document, batch.invoice_document) if d is not None]
        documents += sorted(batch.manifest_documents.all(), key=lambda d: d.pk)
        return format_html_join(", ", "{}", ((document_link(d),) for d in documents)) or "-"

    @admin.action(description="Run again (resume where it stopped)", permissions=["rerun"])
    def run_again_selected(self, request, queryset):
        """Queue batches that are not done again: each resumes, skipping the orders and steps already done."""
        batches = list(queryset.order_by("pk"))
        run_per_object(self, request, batches, ActionReport("Queued again", "ship job"),
                       lambda batch: ship_batch_resume(batch=batch), refusal_reason)  # fmt: skip

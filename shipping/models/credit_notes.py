"""Credit notes (CGST Act section 34, CGST Rules rule 53): the tax document that gives back part or all of what an
invoice charged, for returned goods, an order cancelled after it was invoiced, or by hand. Numbered from the
merchant's own gap-free series ("CN-000001"), never reused."""

from django.db import models
from django.db.models import Q

from catalog.models import UQC
from shipping.models.documents import Invoice
from shopops.models import Merchant
from shopops.validation import money_field


class CreditNoteReason(models.TextChoices):
    CANCELLATION = "cancellation", "Order cancelled after it was invoiced"
    RETURN = "return", "Goods returned"
    OTHER = "other", "Other (a correction, deficient goods, goods not delivered)"


class CreditNoteLineKind(models.TextChoices):
    ITEM = "item", "Goods"
    SHIPPING = "shipping", "Shipping charges"
    COD = "cod", "Cash-on-delivery charges"


class CreditNote(models.Model):
    """A credit note against one invoice: its lines (goods with quantities, charges) and their tax, as issued.

    At most one per return received (``return_request``) and one for an order's cancellation; together an order's
    credit notes never give back more than its invoice charged (``shipping.services.credit_notes``)."""

    # db_index=False: the unique (merchant, number) and the (merchant, issued_at, id) index lead with it
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="credit_notes", db_index=False, verbose_name="merchant"
    )
    number = models.CharField("number", max_length=32)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes", verbose_name="invoice")
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="credit_notes", verbose_name="order"
    )
    return_request = models.ForeignKey("orders.Return", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="credit_notes", verbose_name="return")  # fmt: skip
    reason = models.CharField("reason", max_length=12, choices=CreditNoteReason.choices)
    note = models.CharField("note", max_length=255, blank=True, help_text="Why, in the merchant's words.")
    issued_at = models.DateTimeField("issued")
    intra_state = models.BooleanField(
        "intra-state", help_text="CGST + SGST (within the seller's state) rather than IGST."
    )
    taxable_value = money_field(verbose_name="taxable value")
    cgst = money_field(verbose_name="CGST")
    sgst = money_field(verbose_name="SGST")
    igst = money_field(verbose_name="IGST")
    total = money_field(
        help_text="taxable_value + CGST + SGST + IGST: what the buyer is credited.", verbose_name="total"
    )
    currency = models.CharField("currency", max_length=3, default="INR")
    created_by = models.CharField("created by", max_length=100, help_text="user:<id>, app:<client_id> or system.")

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "number"], name="creditnote_unique_number"),
            models.UniqueConstraint(fields=["return_request"], condition=Q(return_request__isnull=False),
                                    name="creditnote_one_per_return"),
            models.UniqueConstraint(fields=["order"], condition=Q(reason="cancellation"),
                                    name="creditnote_one_per_cancellation"),
            models.CheckConstraint(condition=Q(reason__in=CreditNoteReason.values), name="creditnote_reason_valid"),
            models.CheckConstraint(condition=Q(total__gt=0), name="creditnote_total_positive"),
        ]  # fmt: skip
        indexes = [models.Index(fields=["merchant", "issued_at", "id"], name="creditnote_merchant_issued")]

    def __str__(self) -> str:
        return self.number


class CreditNoteLine(models.Model):
    """A line given back: some units of an order line, or a charge, with the taxable value and tax credited."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    credit_note = models.ForeignKey(
        CreditNote, on_delete=models.CASCADE, related_name="lines", verbose_name="credit note"
    )
    kind = models.CharField("kind", max_length=8, choices=CreditNoteLineKind.choices)
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="credit_note_lines", verbose_name="order line")  # fmt: skip
    name = models.CharField("name", max_length=255)
    sku = models.CharField("SKU", max_length=64, blank=True)
    hsn_code = models.CharField("HSN code", max_length=8, blank=True)
    uqc = models.CharField("UQC", max_length=3, choices=UQC.choices, blank=True)
    quantity = models.PositiveIntegerField("quantity", null=True, blank=True, help_text="Units credited (goods only).")
    rate = models.DecimalField("GST rate", max_digits=5, decimal_places=2, help_text="GST %.")
    taxable_value = money_field(verbose_name="taxable value")
    cgst = money_field(verbose_name="CGST")
    sgst = money_field(verbose_name="SGST")
    igst = money_field(verbose_name="IGST")
    total = money_field(verbose_name="total")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=CreditNoteLineKind.values), name="creditnoteline_kind_valid"),
            models.CheckConstraint(condition=Q(kind="item", order_line__isnull=False, quantity__gt=0)
                                   | (~Q(kind="item") & Q(order_line__isnull=True, quantity__isnull=True)),
                                   name="creditnoteline_item_has_quantity"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.name} ({self.total})"

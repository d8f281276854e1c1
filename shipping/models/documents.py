"""Printed documents (labels, invoices, manifests, packing slips, credit notes) and invoice numbers; ship batches (many
orders shipped as one job)."""

from django.db import models
from django.db.models import Q

from shipping.choices import LabelFormat, PackingSlipFormat
from shipping.models.shipments import Manifest, PickupRequest, Shipment
from shopops.jobs import Job
from shopops.models import Merchant
from shopops.storage import PrivateStorage
from shopops.transitions import declare


class DocumentKind(models.TextChoices):
    LABEL = "label", "Shipping labels"
    INVOICE = "invoice", "Tax invoices"
    MANIFEST = "manifest", "Manifest"
    PACKING_SLIP = "packing_slip", "Packing slips"
    CREDIT_NOTE = "credit_note", "Credit notes"
    CARRIER_LABEL = "carrier_label", "Courier's own label"


#: Every format a document comes in: the label formats and the sheet sizes (invoices and manifests are A4,
#: packing slips A4 or A5).
DocumentFormat = models.TextChoices(
    "DocumentFormat", [(f.name, (f.value, f.label)) for f in (*LabelFormat, *PackingSlipFormat)], module=__name__
)


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RENDERING = "rendering", "Rendering"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Document(Job):
    """A PDF rendered by a worker: labels, invoices, a manifest or packing slips for the shipments or orders it
    covers. ``checksum`` digests the data it was rendered from: the same request on unchanged data returns the
    same document."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="documents", verbose_name="merchant")
    kind = models.CharField("kind", max_length=20, choices=DocumentKind.choices)
    format = models.CharField("format", max_length=6, choices=DocumentFormat.choices)
    status = models.CharField("status", max_length=9, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED)
    shipments = models.ManyToManyField(Shipment, blank=True, related_name="documents", verbose_name="shipments")
    orders = models.ManyToManyField("orders.Order", blank=True, related_name="documents", verbose_name="orders")
    manifest = models.ForeignKey(
        Manifest, on_delete=models.SET_NULL, null=True, blank=True, related_name="documents", verbose_name="manifest"
    )
    credit_notes = models.ManyToManyField(
        "shipping.CreditNote", blank=True, related_name="documents", verbose_name="credit notes"
    )
    checksum = models.CharField("checksum", max_length=64, help_text="SHA-256 of the request and the data rendered.")
    file = models.FileField("file", upload_to="documents/%Y/%m/", storage=PrivateStorage(), blank=True)
    file_checksum = models.CharField("file checksum", max_length=64, blank=True, help_text="SHA-256 of the PDF bytes.")
    page_count = models.PositiveIntegerField("page count", default=0)
    not_created = models.JSONField(
        "left out", default=list, blank=True, help_text="[{id, reason}] left out of the PDF."
    )
    requested_by = models.CharField("requested by", max_length=100)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=DocumentKind.values), name="document_kind_valid"),
            models.CheckConstraint(condition=Q(format__in=DocumentFormat.values), name="document_format_valid"),
            models.CheckConstraint(condition=Q(status__in=DocumentStatus.values), name="document_status_valid"),
        ]
        indexes = [
            models.Index(fields=["merchant", "created_at", "id"], name="document_merchant_created"),
            models.Index(fields=["merchant", "kind", "checksum"], name="document_merchant_checksum"),
            models.Index(fields=["queued_at"], condition=Q(status="queued"), name="document_waiting"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk}"


#: A worker takes a queued document to rendering (again, when the first worker was lost), then done or failed; a
#: failed one may be rendered again by a redelivered task. Done is final.
DOCUMENT_STATES = declare(Document, {
    DocumentStatus.QUEUED: {DocumentStatus.RENDERING, DocumentStatus.FAILED},
    DocumentStatus.RENDERING: {DocumentStatus.RENDERING, DocumentStatus.DONE, DocumentStatus.FAILED},
    DocumentStatus.FAILED: {DocumentStatus.RENDERING, DocumentStatus.FAILED},
    DocumentStatus.DONE: set(),
})  # fmt: skip


class Invoice(models.Model):
    """An order's tax invoice number, taken once from the merchant's gap-free sequence and kept for reprints."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="invoices", verbose_name="merchant")
    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="invoice", verbose_name="order")
    number = models.CharField("number", max_length=32)
    issued_at = models.DateTimeField("issued")

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["merchant", "number"], name="invoice_unique_number")]

    def __str__(self) -> str:
        return self.number


# -- shipping in one call, and in batches ---------------------------------------------------------------------------


class ShipBatchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ShipBatch(Job):
    """ "Ship selected orders" as one resumable job: each order confirmed, packed, booked with a courier and given an
    AWB; then one pickup per courier and location, one label PDF, one invoice PDF and one manifest per courier.

    ``results`` holds each order's outcome by id ({steps, shipment, awb, courier, error}); a re-run skips what is
    already done."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="ship_batches", verbose_name="merchant"
    )
    status = models.CharField("status", max_length=8, choices=ShipBatchStatus.choices, default=ShipBatchStatus.QUEUED)
    order_ids = models.JSONField("order IDs", help_text="The orders, in the order given.")
    options = models.JSONField("options", default=dict, blank=True)
    total = models.PositiveIntegerField("total", default=0, help_text="Orders in the batch.")
    processed = models.PositiveIntegerField("processed", default=0, help_text="Orders dealt with so far.")
    shipped = models.PositiveIntegerField("shipped", default=0, help_text="Orders with an AWB.")
    failed = models.PositiveIntegerField("failed", default=0, help_text="Orders that could not be shipped.")
    results = models.JSONField("results", default=dict, blank=True)
    pickups = models.ManyToManyField(PickupRequest, blank=True, related_name="+", verbose_name="pickups")
    manifests = models.ManyToManyField(Manifest, blank=True, related_name="+", verbose_name="manifests")
    label_document = models.ForeignKey(
        Document, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="label document"
    )
    invoice_document = models.ForeignKey(Document, on_delete=models.SET_NULL, null=True, blank=True,
                                         related_name="+", verbose_name="invoice document")  # fmt: skip
    manifest_documents = models.ManyToManyField(
        Document, blank=True, related_name="+", verbose_name="manifest documents"
    )
    created_by = models.CharField("created by", max_length=100)
    heartbeat_at = models.DateTimeField("last heartbeat", null=True, blank=True,
                                        help_text="Last sign of life of the worker running it.")  # fmt: skip

    class Meta:
        verbose_name = "ship batch"
        verbose_name_plural = "ship batches"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ShipBatchStatus.values), name="shipbatch_status_valid"),
        ]
        indexes = [models.Index(fields=["queued_at"], condition=Q(status="queued"), name="shipbatch_waiting")]

    def __str__(self) -> str:
        return f"Ship batch {self.pk}"


def _link_str(link: models.Model) -> str:
    """A row of a many-to-many link table (a document's shipments, orders and credit notes; a ship batch's pickups,
    manifests and documents): its two ends, each by its own name when loaded, else by kind and id."""
    return ", ".join(
        str(getattr(link, end.name)) if end.is_cached(link)
        else f"{end.related_model._meta.verbose_name} {getattr(link, end.attname)}"
        for end in link._meta.fields if end.is_relation
    )  # fmt: skip


# The link tables Django makes for these fields have no __str__ of their own: without one, the document inlines of
# the shipment and order pages would show each row as "Document_shipments object (12)".
for _field in (*Document._meta.local_many_to_many, *ShipBatch._meta.local_many_to_many):
    _field.remote_field.through.__str__ = _link_str


#: A worker takes a queued batch to running; a running batch whose worker was lost, or a failed one, is run again
#: (running); it ends done, or failed when it runs out of time. Done is final.
SHIP_BATCH_STATES = declare(ShipBatch, {
    ShipBatchStatus.QUEUED: {ShipBatchStatus.RUNNING},
    ShipBatchStatus.RUNNING: {ShipBatchStatus.RUNNING, ShipBatchStatus.DONE, ShipBatchStatus.FAILED},
    ShipBatchStatus.FAILED: {ShipBatchStatus.RUNNING},
    ShipBatchStatus.DONE: set(),
})  # fmt: skip

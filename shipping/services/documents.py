"""Printed documents as jobs: requested (reused when the data is unchanged), rendered by a worker, failed; and
invoice numbers."""

import hashlib
import io
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from orders.models import Order, OrderStatus
from shipping import outbox
from shipping.adapters import adapter_for
from shipping.choices import LabelFormat, PackingSlipFormat
from shipping.documents import data, render
from shipping.errors import MISSING_MERCHANT_SETTING
from shipping.models import Document, DocumentFormat, DocumentKind, DocumentStatus, Invoice, Shipment
from shipping.models.documents import DOCUMENT_STATES
from shopops.dispatch import send_on_commit
from shopops.errors import NOT_FOUND
from shopops.jobs import Job
from shopops.models import Merchant
from shopops.services import counter_next
from shopops.transitions import transition, transition_where


def invoice_for(*, order: Order, at: datetime | None = None) -> Invoice:
    """The order's tax invoice number: taken once from the merchant's gap-free sequence ("INV-000001", never reset:
    unique across financial years, 10 characters, within GST's 16) and kept for every reprint.

    The order's row lock serialises two requests for the same order; the counter's lock, held until commit,
    hands the numbers out in commit order, so numbers have no gaps and no duplicates."""
    existing = Invoice.objects.filter(order_id=order.pk).first()
    if existing:
        return existing
    with transaction.atomic():
        Order.objects.select_for_update().filter(pk=order.pk).values_list("pk", flat=True).get()
        existing = Invoice.objects.filter(order_id=order.pk).first()
        if existing:
            return existing
        number = counter_next(merchant=order.merchant, name="invoice")
        return Invoice.objects.create(merchant_id=order.merchant_id, order=order, number=f"INV-{number:06d}",
                                      issued_at=at or timezone.now())  # fmt: skip


def invoices_issue(*, merchant: Merchant, orders: list[Order]) -> None:
    """Give each order that is not cancelled its invoice number (``invoice_for``), before its invoice is rendered;
    MissingMerchantSetting, and no number taken, when the merchant cannot issue tax invoices yet."""
    data.check_invoice_settings(merchant)
    for order in orders:  # loaded by invoice_queryset(), with their invoices: a reprint reads no more
        if order.status != OrderStatus.CANCELLED and not hasattr(order, "invoice"):
            order.invoice = invoice_for(order=order)


def label_invoices_issue(*, merchant: Merchant, shipments: list) -> None:
    """Labels print the invoice number couriers ask for: before labels are rendered, the orders of the printable ones
    get their invoice numbers (``invoices_issue``) when the merchant can issue tax invoices (GSTIN and address set).
    Otherwise nothing is issued and the labels show the invoice value without a number."""
    if not data.invoice_issuable(merchant):
        return
    invoices_issue(merchant=merchant, orders=[s.order for s in shipments if data.label_problem(s) is None])


DOCUMENT_MAX_ITEMS = 500
#: The render task's hard time limit (s): a document still "rendering" after it lost its worker.
DOCUMENT_TIME_LIMIT = 600
#: kind -> (model the ids name, the formats it comes in, its default format)
DOCUMENT_KINDS = {
    DocumentKind.LABEL: ("shipment", tuple(LabelFormat.values), LabelFormat.LABEL_4X6),
    DocumentKind.INVOICE: ("order", (DocumentFormat.A4,), DocumentFormat.A4),
    DocumentKind.MANIFEST: ("manifest", (DocumentFormat.A4,), DocumentFormat.A4),
    DocumentKind.PACKING_SLIP: ("order", tuple(PackingSlipFormat.values), PackingSlipFormat.A4),
    DocumentKind.CREDIT_NOTE: ("credit_note", (DocumentFormat.A4,), DocumentFormat.A4),
    DocumentKind.CARRIER_LABEL: ("shipment", (LabelFormat.LABEL_4X6,), LabelFormat.LABEL_4X6),
}
#: The kinds that print tax documents: they need the merchant's GSTIN and address.
TAX_DOCUMENTS = (DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE)


def _document_objects(merchant: Merchant, kind: str, ids: list[int]) -> list:
    """The merchant's objects of the ids, loaded with everything the document shows; ``not_found`` naming the missing
    ids."""
    queryset = {
        DocumentKind.LABEL: data.label_queryset,
        DocumentKind.INVOICE: data.invoice_queryset,
        DocumentKind.MANIFEST: data.manifest_queryset,
        DocumentKind.PACKING_SLIP: data.packing_slip_queryset,
        DocumentKind.CREDIT_NOTE: data.credit_note_queryset,
        DocumentKind.CARRIER_LABEL: lambda: Shipment.objects.select_related("courier__account", "order"),
    }[kind]()
    found = {obj.pk: obj for obj in queryset.filter(merchant=merchant, pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        noun = DOCUMENT_KINDS[kind][0].replace("_", " ")
        raise NOT_FOUND(f"No {noun}s with ids {', '.join(map(str, missing))}.")
    return [found[i] for i in ids]


def document_request(*, merchant: Merchant, kind: str, ids: list[int], actor: str, format: str | None = None,
                     enqueue: bool = True) -> Document:  # fmt: skip
    """Queue a PDF of ``kind`` for the merchant's shipments (labels), orders (invoices, packing slips), credit
    notes or manifest, one page (or more) per item in id order. The same request on unchanged data returns the document
    already made (or being made).

    Field errors for no ids, more than 500, a format the kind does not come in; ``missing_merchant_setting`` for tax
    invoices and credit notes without the merchant's GSTIN or address; ``not_found`` (for the whole request, nothing
    queued) when any id is not the merchant's."""
    noun, formats, default = DOCUMENT_KINDS[kind]
    ids = sorted({int(i) for i in ids})  # rendered in id order: the same ids in any order are the same document
    format = format or default
    if not ids:
        raise ValidationError({f"{noun}_ids": [f"Name at least one {noun}."]})
    if len(ids) > DOCUMENT_MAX_ITEMS:
        raise ValidationError({f"{noun}_ids": [f"At most {DOCUMENT_MAX_ITEMS} per document, not {len(ids)}."]})
    if format not in formats:
        raise ValidationError({"format": [f"One of {', '.join(formats)}."]})
    if kind in TAX_DOCUMENTS:
        try:
            data.check_invoice_settings(merchant)
        except data.MissingMerchantSetting as exc:
            raise MISSING_MERCHANT_SETTING(str(exc), {"setting": exc.setting}) from exc
    objects = _document_objects(merchant, kind, ids)
    checksum = data.data_checksum(kind, format, objects)
    with transaction.atomic():
        # Its worker was killed: not reused. A queued one is (its message, if lost, is sent again by the sweep).
        lost = Q(
            status=DocumentStatus.RENDERING, started_at__lt=timezone.now() - timedelta(seconds=DOCUMENT_TIME_LIMIT)
        )
        reusable = (Document.objects.select_for_update()
                    .filter(merchant=merchant, kind=kind, format=format, checksum=checksum)
                    .exclude(Q(status=DocumentStatus.FAILED) | lost).order_by("-id").first())  # fmt: skip
        file_lost = reusable is not None and reusable.status == DocumentStatus.DONE and not (
            reusable.file and reusable.file.storage.exists(reusable.file.name))  # fmt: skip
        if reusable is not None and not file_lost:
            return reusable
        document = Document.objects.create(merchant=merchant, kind=kind, format=format, checksum=checksum,
                                           requested_by=actor,
                                           manifest=objects[0] if kind == DocumentKind.MANIFEST else None)  # fmt: skip
        if kind in (DocumentKind.LABEL, DocumentKind.CARRIER_LABEL):
            document.shipments.set(objects)
        elif kind in (DocumentKind.INVOICE, DocumentKind.PACKING_SLIP):
            document.orders.set(objects)
        elif kind == DocumentKind.CREDIT_NOTE:
            document.credit_notes.set(objects)
        else:
            document.shipments.set(objects[0].shipments.all())
        if enqueue:  # else the caller renders it (document_render) itself
            send_on_commit("shipping.tasks.document_render", document.pk)
    return document


def document_render(*, document_id: int, claim: str = "") -> Document:
    """Render a queued document to its PDF (a worker's job; run again it leaves a finished document alone).

    Claimed once: another delivery of the job finds it rendering and leaves it to its worker, unless that worker
    was lost (rendering for longer than the task may run) or ``claim`` is the claimer's own (its task's id: the
    task retried after a database error)."""
    now = timezone.now()
    taken = Q(status=DocumentStatus.RENDERING, started_at__gte=now - timedelta(seconds=DOCUMENT_TIME_LIMIT))
    if claim:
        taken &= ~Q(claimed_by=claim)
    claimable = Document.objects.filter(pk=document_id).exclude(taken)
    claimed = transition_where(DOCUMENT_STATES, claimable, DocumentStatus.RENDERING, started_at=now, error="",
                               claimed_by=claim)  # fmt: skip
    document = Document.objects.select_related("merchant").get(pk=document_id)
    if not claimed:  # done, or rendering in another worker
        return document
    merchant = document.merchant
    try:
        if document.kind == DocumentKind.LABEL:
            ids = list(document.shipments.order_by("id").values_list("id", flat=True))
            shipments = _document_objects(merchant, document.kind, ids)
            label_invoices_issue(merchant=merchant, shipments=shipments)
            rendered = render.render_labels(merchant=merchant, format=document.format, shipments=shipments)
        elif document.kind == DocumentKind.CARRIER_LABEL:
            ids = list(document.shipments.order_by("id").values_list("id", flat=True))
            rendered = carrier_labels(_document_objects(merchant, document.kind, ids))
        elif document.kind == DocumentKind.MANIFEST:
            manifest = data.manifest_queryset().get(pk=document.manifest_id)
            rendered = render.render_manifest(merchant=merchant, manifest=manifest)
        elif document.kind == DocumentKind.CREDIT_NOTE:
            ids = list(document.credit_notes.order_by("id").values_list("id", flat=True))
            notes = _document_objects(merchant, document.kind, ids)
            rendered = render.render_credit_notes(merchant=merchant, credit_notes=notes)
        else:
            ids = list(document.orders.order_by("id").values_list("id", flat=True))
            orders = _document_objects(merchant, document.kind, ids)
            if document.kind == DocumentKind.INVOICE:
                invoices_issue(merchant=merchant, orders=orders)
                rendered = render.render_invoices(merchant=merchant, orders=orders)
            else:
                rendered = render.render_packing_slips(merchant=merchant, orders=orders, format=document.format)
    except ValidationError as exc:
        return _document_failed(document, " ".join(exc.messages))
    if not rendered.page_count:
        return _document_failed(document, "Nothing to print: " + "; ".join(
            f"{item['id']}: {item['reason']}" for item in rendered.not_created[:20]), rendered.not_created)  # fmt: skip
    document.file.save(f"{document.kind}-{document.pk}.pdf", ContentFile(rendered.pdf), save=False)
    done = {"file": document.file.name, "file_checksum": hashlib.sha256(rendered.pdf).hexdigest(),
            "page_count": rendered.page_count, "not_created": rendered.not_created,
            "finished_at": timezone.now()}  # fmt: skip
    with transaction.atomic():
        document = transition(DOCUMENT_STATES, document, DocumentStatus.DONE, values=done)
        outbox.document_emit(document)
    return document


def carrier_labels(shipments: list[Shipment]) -> render.Rendered:
    """The couriers' own labels of booked shipments, fetched from their services (no transaction open) and put in
    one PDF in id order; a shipment without an AWB, or whose courier has no label of its own, is left out. A
    service that fails raises its error (the render task retries the transient ones)."""
    from pypdf import PdfReader, PdfWriter

    writer, not_created = PdfWriter(), []
    for shipment in shipments:
        pdf = adapter_for(shipment.courier).carrier_label(shipment) if shipment.awb else None
        if pdf is None:
            reason = "no AWB yet" if not shipment.awb else f"{shipment.courier.name} has no label of its own"
            not_created.append({"id": shipment.pk, "reason": reason})
            continue
        try:
            writer.append(PdfReader(io.BytesIO(pdf)))
        except Exception as exc:  # pypdf raises many kinds on a broken file
            raise ValidationError(f"{shipment.courier.name}'s label for AWB {shipment.awb} is not a readable PDF "
                                  f"({type(exc).__name__}).") from exc  # fmt: skip
    out = io.BytesIO()
    if writer.pages:
        writer.write(out)
    return render.Rendered(pdf=out.getvalue(), page_count=len(writer.pages), not_created=not_created)


def document_fail(*, document_id: int, error: str) -> Document | None:
    """Record that a document could not be rendered (its worker crashed on it or ran out of time); a document
    already done is left alone. A new request for the same data then makes a new document."""
    with transaction.atomic():
        document = Document.objects.select_for_update().filter(pk=document_id).first()
        if document is None or document.status == DocumentStatus.DONE:
            return document
        return _document_failed(document, error, locked=True)


def _document_failed(document: Document, error: str, not_created: list | None = None, *,
                     locked: bool = False) -> Document:  # fmt: skip
    return transition(DOCUMENT_STATES, document, DocumentStatus.FAILED, locked=locked, values={
        "error": Job.error_text(error), "finished_at": timezone.now(), "not_created": not_created or []})  # fmt: skip

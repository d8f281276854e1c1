"""Rendering to PDF. Labels, the volume document, are drawn on a ReportLab canvas (2-5 ms a label; WeasyPrint took
30-60 ms, see bench/labels.py). Invoices, manifests and packing slips are HTML templates under
``templates/documents/`` rendered by WeasyPrint, one document per request up to ``CHUNK_SIZE`` items, chunks merged
with pypdf beyond.

Output is deterministic: no clock is read while rendering; the PDF's dates come from the data and its identifier
from the data, so the same data renders the same bytes. Nothing here writes: an invoice is rendered for an order
that already has its number.
"""

import hashlib
import io
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.template.loader import render_to_string

from orders.models import Order, OrderStatus
from shipping.choices import LabelFormat, PackingSlipFormat
from shipping.documents import text
from shipping.documents.barcodes import QUIET_ZONE_MODULES, barcode_modules, barcode_svg, module_size_mm
from shipping.documents.data import (
    TEMPLATE_DIR,
    check_invoice_settings,
    credit_note_context,
    invoice_context,
    label_context,
    label_problem,
    manifest_context,
    packing_slip_context,
)
from shipping.models import CreditNote, Invoice, Manifest, Shipment

#: Items per WeasyPrint document; bigger batches are rendered in chunks and merged. Measured on the label (when it
#: was HTML): one document of 1,000 pages ran at 16 labels/s, chunks of 100 or 25 merged with pypdf at 9 labels/s
#: (each document pays ~0.5 s of stylesheet and font set-up): one document per request (<= 500 items) is
#: fastest; chunks only bound the memory of bigger batches.
CHUNK_SIZE = 500

# WeasyPrint reports each layout step and fontTools each subsetting step at INFO: one line per document page.
for _name in ("weasyprint.progress", "fontTools"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass
class Rendered:
    pdf: bytes
    page_count: int
    not_created: list[dict] = field(default_factory=list)  # [{"id": <shipment or order id>, "reason": "..."}]


def _logo_url(merchant) -> str:
    """A file URL for the merchant's logo when its storage is on this machine's disk, else ''."""
    if not merchant.logo:
        return ""
    try:
        path = Path(merchant.logo.path)
    except NotImplementedError:  # remote storage: no local path
        return ""
    return path.as_uri() if path.is_file() else ""


# -- labels: drawn on a PDF canvas -----------------------------------------------------------------------------------
#
# Labels are the volume document (hundreds every morning, 1,000 in one request): they are drawn with ReportLab's
# canvas, at about 1-2 ms a label, where WeasyPrint took 30-60 ms a label on this machine even for a bare page
# (figures in bench/labels.py). The layout below is the label's template: rows from the top, in millimetres.

LABEL_W, LABEL_H = 94.0, 144.0  # the label's box, in mm, on a 4x6 page (3 mm margins) and in an A4 quarter
PAGE_4X6 = (100.0, 150.0)
PAGE_A4 = (210.0, 297.0)
MM = 72 / 25.4  # points per millimetre
#: (row, height in mm), top to bottom: 144 mm in all. The invoice row holds what couriers ask of a consignment
#: (invoice number and value, the seller's GSTIN, the e-way bill); the AWB barcode keeps 15 mm of height.
LABEL_ROWS = (("head", 16), ("awb", 24), ("route", 8), ("ship_to", 38), ("order", 18), ("invoice", 12), ("items", 13),
              ("return", 15))  # fmt: skip


def _drop_last_cluster(value: str) -> str:
    """``value`` without its last character and the marks that follow it (a vowel sign never outlives its letter)."""
    value = value[:-1]
    while value and (unicodedata.category(value[-1]) in ("Mn", "Mc", "Me") or value[-1] in "\u200c\u200d"):
        value = value[:-1]
    return value


class _Pen:
    """Draws on a ReportLab canvas in millimetres from the top-left corner of a label."""

    def __init__(self, canvas, page_height_mm: float, left: float, top: float):
        self.c, self.page_h, self.left, self.top = canvas, page_height_mm, left, top

    def _y(self, y: float) -> float:
        return (self.page_h - self.top - y) * MM

    def text(self, x: float, y: float, value: str, *, font: str = "regular", size: float = 8.5,
             width: float | None = None, align: str = "left", white: bool = False) -> None:  # fmt: skip
        """One line whose baseline is ``y`` mm below the label's top, cut with an ellipsis to ``width`` mm; ``font``
        is a style of the font stack (regular, bold, mono-bold)."""
        value = str(value)
        if width is not None:
            value = self.fit(value, font, size, width)
        if white:
            self.c.setFillColorRGB(1, 1, 1)
        px, py = (self.left + x) * MM, self._y(y)
        if align != "left":
            drawn = text.line_width(value, font, size)
            px -= drawn / 2 if align == "center" else drawn
        text.draw_line(self.c, px, py, value, font, size)
        if white:
            self.c.setFillColorRGB(0, 0, 0)

    def fit(self, value: str, font: str, size: float, width: float) -> str:
        if text.line_width(value, font, size) <= width * MM:
            return value
        while value and text.line_width(value + "…", font, size) > width * MM:
            value = _drop_last_cluster(value)
        return value + "…"

    def wrap(self, value: str, font: str, size: float, width: float, lines: int) -> list[str]:
        """``value`` broken at spaces into lines of ``width`` mm (a word longer than a line is cut), at most
        ``lines`` of them, the last cut with an ellipsis."""
        wrapped: list[str] = []
        for word in value.split():
            candidate = f"{wrapped[-1]} {word}" if wrapped else word
            if wrapped and text.line_width(candidate, font, size) <= width * MM:
                wrapped[-1] = candidate
            else:
                wrapped.append(word)
        if len(wrapped) > lines:
            wrapped = [*wrapped[: lines - 1], " ".join(wrapped[lines - 1 :])]
        return [self.fit(line, font, size, width) for line in wrapped]

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.4) -> None:
        self.c.setLineWidth(width * MM)
        self.c.line((self.left + x1) * MM, self._y(y1), (self.left + x2) * MM, self._y(y2))

    def box(self, x: float, y: float, w: float, h: float, *, fill: bool = False, width: float = 0.4) -> None:
        self.c.setLineWidth(width * MM)
        self.c.rect((self.left + x) * MM, self._y(y + h), w * MM, h * MM, stroke=0 if fill else 1, fill=int(fill))

    def barcode(self, value: str, x_center: float, y: float, height: float, max_width: float) -> None:
        """Code128 bars of ``value`` centred on ``x_center``, top at ``y``: whole-dot modules, 10-module quiet
        zones (left white)."""
        modules = barcode_modules(value)
        module = module_size_mm(len(modules) + 2 * QUIET_ZONE_MODULES, max_width)
        start = x_center - len(modules) * module / 2
        bottom = self._y(y + height)
        for match in re.finditer("1+", modules):
            self.c.rect((self.left + start + match.start() * module) * MM, bottom,
                        (match.end() - match.start()) * module * MM, height * MM, stroke=0, fill=1)  # fmt: skip


def _draw_label(pen: _Pen, label: dict[str, Any]) -> None:
    rows, y = {}, 0.0
    for name, height in LABEL_ROWS:
        rows[name] = y
        y += height
    w = LABEL_W
    pen.box(0, 0, w, LABEL_H)
    for top in rows.values():
        if top:
            pen.line(0, top, w, top)

    top = rows["head"]  # courier (the logo area) | payment type and the cash to collect
    pen.line(54, top, 54, top + 16)
    pen.text(2, top + 3.8, "COURIER", font="bold", size=6.5)
    pen.text(2, top + 10, label["courier"], font="bold", size=15, width=50)
    pen.text(2, top + 14.3, label["courier_code"], size=7, width=50)
    if label["cod_amount"]:
        pen.box(54, top, w - 54, 16, fill=True)
        pen.text(74, top + 6.4, "COD", font="bold", size=15, align="center", white=True)
        pen.text(74, top + 9.6, "Collect", size=7, align="center", white=True)
        pen.text(74, top + 14.2, label["cod_amount"], font="bold", size=13, align="center", width=38, white=True)
    else:
        pen.text(74, top + 10, label["payment"], font="bold", size=15, align="center")

    top = rows["awb"]  # the AWB barcode and its digits
    pen.barcode(label["awb"], w / 2, top + 2, 15, 90)
    pen.text(w / 2, top + 21.8, label["awb"], font="mono-bold", size=14, align="center", width=90)

    top = rows["route"]  # the courier's routing code (up to 40 characters), else the zone route | zone and date
    routing = label["routing"]
    if len(routing) <= 14:
        pen.text(2, top + 6, routing, font="bold", size=13, width=44)
        pen.text(w - 2, top + 5.5, f"{label['zone']} · {label['date']}", size=8, align="right", width=46)
    elif len(routing) <= 24:
        pen.text(2, top + 5.6, routing, font="bold", size=10, width=64)
        pen.text(w - 2, top + 5.5, label["date"], size=8, align="right", width=24)
    else:
        pen.text(2, top + 5.4, routing, font="bold", size=8, width=90)

    top = rows["ship_to"]  # name, up to 4 address lines, the pincode large, the phone (masked if the merchant asks)
    ship_to = label["ship_to"]
    pen.text(2, top + 3.6, "SHIP TO", font="bold", size=6.5)
    pen.text(2, top + 8.8, ship_to["name"], font="bold", size=12, width=90)
    lines = [wrapped for line in ship_to["lines"] for wrapped in pen.wrap(line, "regular", 9, 90, 2)][:4]
    for n, line in enumerate(lines):
        pen.text(2, top + 12.9 + n * 3.6, line, size=9)
    pen.text(2, top + 30.5, f"PIN {ship_to['postcode']}", font="bold", size=20, width=90)
    pen.text(2, top + 35.6, f"Phone: {ship_to['phone']}", size=10, width=90)

    top = rows["order"]  # order number barcode | weight, dimensions, items
    pen.line(56, top, 56, top + 18)
    pen.text(2, top + 3.3, "ORDER", font="bold", size=6.5)
    pen.barcode(label["order_number"], 28, top + 4.6, 8.4, 52)
    pen.text(28, top + 16.6, label["order_number"], font="mono-bold", size=9, align="center", width=52)
    facts = [("WEIGHT", label["weight"]), ("DIMS", label["dimensions"]), ("ITEMS", str(label["item_count"]))]
    for n, (caption, value) in enumerate(f for f in facts if f[1]):
        pen.text(58, top + 4.8 + n * 5, caption, font="bold", size=6.5)
        pen.text(69.5, top + 4.8 + n * 5, value, size=8, width=23.5)

    top = rows["invoice"]  # invoice number | invoice value; the seller's GSTIN | the e-way bill (those it has)
    pen.line(47, top, 47, top + 12)
    for n, (left, right, right_width) in enumerate((
        (("INVOICE", label["invoice_number"]), ("VALUE", label["invoice_value"]), 33),
        (("GSTIN", label["gstin"]), ("E-WAY BILL", label["eway_bill"]), 27),
    )):  # fmt: skip
        y = top + 4.7 + n * 5.2
        if left[1]:
            pen.text(2, y, left[0], font="bold", size=6.5)
            pen.text(14, y, left[1], font="bold", size=8, width=32)
        if right[1]:
            pen.text(49, y, right[0], font="bold", size=6.5)
            pen.text(w - 2, y, right[1], font="bold", size=9, align="right", width=right_width)

    top = rows["items"]
    items = [*label["items"], *([f"+ {label['more_items']} more"] if label["more_items"] else [])]
    for n, item in enumerate(items[:4]):
        pen.text(2, top + 3.1 + n * 3, item, size=7, width=90)

    top = rows["return"]
    back = label["return_to"]
    address = ", ".join([label["seller"], back["name"], *back["lines"], f"PIN {back['postcode']}",
                         *([back["phone"]] if back["phone"] else [])])  # fmt: skip
    pen.text(2, top + 3.3, "IF UNDELIVERED, RETURN TO", font="bold", size=6.5)
    for n, line in enumerate(pen.wrap(address, "regular", 7, 90, 3)):
        pen.text(2, top + 6.6 + n * 3.1, line, size=7)


def _labels_pdf(labels: list[dict[str, Any]], format: str, *, title: str, created: datetime) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    page = PAGE_4X6 if format == LabelFormat.LABEL_4X6 else PAGE_A4
    canvas = Canvas(out, pagesize=(page[0] * MM, page[1] * MM), invariant=1, pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator("ShopOps")
    canvas.setProducer("ShopOps")
    canvas.setDateFormatter(lambda *_: created.astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'"))
    if format == LabelFormat.LABEL_4X6:
        for label in labels:
            _draw_label(_Pen(canvas, page[1], 3, 3), label)
            canvas.showPage()
    else:
        for start in range(0, len(labels), 4):
            canvas.setDash(1 * MM, 1 * MM)
            pen = _Pen(canvas, page[1], 0, 0)
            pen.line(105, 0, 105, 297, width=0.2)
            pen.line(0, 148.5, 210, 148.5, width=0.2)
            canvas.setDash()
            for n, label in enumerate(labels[start : start + 4]):
                _draw_label(_Pen(canvas, page[1], 5.5 + n % 2 * 105, 2.25 + n // 2 * 148.5), label)
            canvas.showPage()
    canvas.save()
    return out.getvalue()


# -- documents from templates: WeasyPrint, merged with pypdf ------------------------------------------------------


@lru_cache(maxsize=1)
def _font_config():
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def _pdf_date(value: datetime | date | None) -> str:
    """The W3C date WeasyPrint writes as the PDF's creation and modification date: from the data, never the clock."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return "2000-01-01"


def _write(template: str, context: dict[str, Any], identifier: str) -> tuple[bytes, int]:
    from weasyprint import HTML

    text.install_actual_text()
    html = render_to_string(f"documents/{template}", {**context, "fonts": text.css_fonts()})
    document = HTML(string=html, base_url=str(TEMPLATE_DIR)).render(font_config=_font_config())
    pdf = document.write_pdf(pdf_identifier=identifier.encode())
    return pdf, len(document.pages)


def _merge(parts: list[bytes]) -> bytes:
    """One PDF of the parts' pages, in order, with the first part's metadata (dates, producer)."""
    if len(parts) == 1:
        return parts[0]
    from pypdf import PdfReader, PdfWriter

    readers = [PdfReader(io.BytesIO(part)) for part in parts]
    writer = PdfWriter()
    for reader in readers:
        writer.append(reader)
    writer.add_metadata(dict(readers[0].metadata or {}))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _render_chunks(template: str, base: dict[str, Any], items: list[dict], *, key: str, chunk_size: int,
                   created: str, identifier: str) -> tuple[bytes, int]:  # fmt: skip
    """Render ``items`` ``chunk_size`` at a time (each chunk one WeasyPrint document) and merge the PDFs."""
    parts, pages = [], 0
    for start in range(0, len(items), chunk_size):
        context = {**base, key: items[start : start + chunk_size], "created": created}
        pdf, count = _write(template, context, identifier)
        parts.append(pdf)
        pages += count
    return _merge(parts), pages


def _identifier(kind: str, items: list[dict]) -> str:
    digest = hashlib.sha256(json.dumps([kind, items], sort_keys=True, default=str).encode()).hexdigest()
    return digest[:32]


# -- rendering -----------------------------------------------------------------------------------------------------


def _check_scope(merchant, objects) -> None:
    """Callers pass objects already scoped to ``merchant``; anything else is a programming error."""
    strangers = [obj.pk for obj in objects if obj.merchant_id != merchant.pk]
    if strangers:
        raise ValueError(f"Objects {strangers} do not belong to merchant {merchant.pk}.")


def _empty() -> Rendered:
    return Rendered(pdf=b"", page_count=0, not_created=[])


def render_labels(*, merchant, shipments: list[Shipment], format: str) -> Rendered:
    """Shipping labels, one 4x6 in (100 x 150 mm) page each, or four to an A4 sheet. Shipments without an AWB, or
    cancelled, are listed in ``not_created`` with the reason; the rest are rendered, in the order given."""
    if format not in LabelFormat.values:
        raise ValidationError({"format": [f"Labels come in {', '.join(LabelFormat.values)}, not {format!r}."]})
    _check_scope(merchant, shipments)
    labels, not_created, dates = [], [], []
    for shipment in shipments:
        problem = label_problem(shipment)
        if problem:
            not_created.append({"id": shipment.pk, "reason": problem})
            continue
        labels.append(label_context(shipment))
        dates.append(shipment.awb_assigned_at or shipment.created_at)
    if not labels:
        return Rendered(pdf=b"", page_count=0, not_created=not_created)
    pdf = _labels_pdf(labels, format, title=f"Shipping labels ({len(labels)})", created=max(dates))
    pages = len(labels) if format == LabelFormat.LABEL_4X6 else -(-len(labels) // 4)
    return Rendered(pdf=pdf, page_count=pages, not_created=not_created)


def render_invoices(*, merchant, orders: list[Order], chunk_size: int = CHUNK_SIZE) -> Rendered:
    """Tax invoices, one or more A4 pages each, of orders that have their invoice number (given once, kept on
    reprints: ``shipping.services.documents.invoices_issue``). Orders cancelled before they had an invoice are
    listed in ``not_created``; one invoiced before its cancellation is printed as it was issued.
    Raises MissingMerchantSetting when the merchant has no GSTIN or address."""
    check_invoice_settings(merchant)
    _check_scope(merchant, orders)
    invoices, not_created = [], []
    for order in orders:
        try:
            invoice = order.invoice  # loaded by invoice_queryset(): reprints read no more
        except Invoice.DoesNotExist:
            if order.status == OrderStatus.CANCELLED:  # cancelled before it was invoiced (after: a credit note)
                not_created.append({"id": order.pk, "reason": "The order is cancelled: it has no invoice."})
                continue
            raise ValueError(f"Order {order.number} has no invoice number: issue it before rendering.") from None
        context = invoice_context(order, invoice)
        context["logo_url"] = _logo_url(order.merchant)
        context["order_barcode"] = barcode_svg(order.number, height_mm=8, max_width_mm=60)
        invoices.append((invoice, context))
    if not invoices:
        return Rendered(pdf=b"", page_count=0, not_created=not_created)
    created = _pdf_date(max(invoice.issued_at for invoice, _ in invoices))
    contexts = [context for _, context in invoices]
    identifier = _identifier("invoice", [(c["id"], c["number"]) for c in contexts])
    pdf, pages = _render_chunks("invoice.html", {}, contexts, key="invoices", chunk_size=chunk_size,
                                created=created, identifier=identifier)  # fmt: skip
    return Rendered(pdf=pdf, page_count=pages, not_created=not_created)


def render_manifest(*, merchant, manifest: Manifest) -> Rendered:
    """The manifest: courier, pickup location and date, every shipment with its AWB barcode, counts, signatures."""
    _check_scope(merchant, [manifest])
    context = manifest_context(manifest)
    for page in context["pages"]:
        for row in page:
            row["barcode"] = barcode_svg(row["awb"], height_mm=7, max_width_mm=55)
    context["created"] = _pdf_date(manifest.created_at)
    pdf, pages = _write("manifest.html", context, _identifier("manifest", [manifest.pk, context["count"]]))
    return Rendered(pdf=pdf, page_count=pages, not_created=[])


def render_packing_slips(*, merchant, orders: list[Order], format: str, chunk_size: int = CHUNK_SIZE) -> Rendered:
    """Packing slips, A4 or A5: the items with SKU, quantity and the location to pick them from."""
    if format not in PackingSlipFormat.values:
        raise ValidationError(
            {"format": [f"Packing slips come in {', '.join(PackingSlipFormat.values)}, not {format!r}."]}
        )
    _check_scope(merchant, orders)
    if not orders:
        return _empty()
    slips = []
    for order in orders:
        context = packing_slip_context(order)
        context["logo_url"] = _logo_url(order.merchant)
        context["order_barcode"] = barcode_svg(order.number, height_mm=10, max_width_mm=60)
        slips.append(context)
    created = _pdf_date(max(order.ordered_at for order in orders))
    pdf, pages = _render_chunks(
        "packing_slip.html",
        {"format": format},
        slips,
        key="slips",
        chunk_size=chunk_size,
        created=created,
        identifier=_identifier("packing_slip", [s["id"] for s in slips]),
    )
    return Rendered(pdf=pdf, page_count=pages, not_created=[])


def render_credit_notes(*, merchant, credit_notes: list[CreditNote], chunk_size: int = CHUNK_SIZE) -> Rendered:
    """Credit notes, one or more A4 pages each, in the order given (loaded by ``credit_note_queryset()``: a PDF of N
    notes costs a constant number of queries). Raises MissingMerchantSetting when the merchant has no GSTIN or
    address."""
    check_invoice_settings(merchant)
    _check_scope(merchant, credit_notes)
    if not credit_notes:
        return _empty()
    notes = []
    for credit_note in credit_notes:
        context = credit_note_context(credit_note)
        context["logo_url"] = _logo_url(credit_note.merchant)
        notes.append(context)
    created = _pdf_date(max(note.issued_at for note in credit_notes))
    identifier = _identifier("credit_note", [(c["id"], c["number"]) for c in notes])
    pdf, pages = _render_chunks("credit_note.html", {}, notes, key="notes", chunk_size=chunk_size, created=created,
                                identifier=identifier)  # fmt: skip
    return Rendered(pdf=pdf, page_count=pages, not_created=[])

"""Printable documents: shipping labels, tax invoices, manifests and packing slips, rendered to PDF.

Each kind is built in two steps. A *context* function turns a model object into plain, JSON-able data:
everything the page shows, already formatted (names, addresses, amounts as text, dates). A template under
``templates/documents/`` (WeasyPrint) or, for labels, ``_draw_label`` (a ReportLab canvas) lays that data
out. ``data_checksum`` digests the same contexts plus the templates' and this module's source, so a reprint
of unchanged data can reuse the stored PDF.

Output is deterministic: no clock is read while rendering; the PDF's dates come from the data and its
identifier from the data, so the same data renders the same bytes.

Barcodes are Code128 from python-barcode's encoder, drawn as bars on the canvas or as inline SVG (one path),
with no text from a writer: the digits are printed as real text under the bars, so they are in the PDF's
text layer. A module is a whole number of dots of a 203 dpi thermal printer (3 dots = 0.375 mm when the code
fits, else 2, else 1), and the quiet zones are 10 modules on each side.

Labels, the volume document, are drawn on a ReportLab canvas (2-5 ms a label; WeasyPrint took 30-60 ms, see
bench/labels.py). Invoices, manifests and packing slips are HTML templates rendered by WeasyPrint, one document
per request up to ``CHUNK_SIZE`` items, chunks merged with pypdf beyond.

Callers pass objects loaded with ``label_queryset()``, ``invoice_queryset()``, ``manifest_queryset()`` or
``packing_slip_queryset()``: rendering N items then costs a constant number of queries (invoices add the
numbering writes of orders not yet invoiced).
"""

import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from barcode import Code128
from barcode.errors import BarcodeError
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.template.loader import render_to_string
from num2words import num2words

from orders.models import Order, OrderLine, OrderStatus, PaymentMethod
from shipping.models import Invoice, Manifest, Shipment, ShipmentStatus
from shipping.zones import Zone

LABEL_FORMATS = ("4x6", "a4-4up")
PACKING_SLIP_FORMATS = ("a4", "a5")
#: Items per WeasyPrint document; bigger batches are rendered in chunks and merged. Measured on the label (when it
#: was HTML): one document of 1,000 pages ran at 16 labels/s, chunks of 100 or 25 merged with pypdf at 9 labels/s
#: (each document pays ~0.5 s of stylesheet and font set-up): one document per request (<= 500 items) is
#: fastest; chunks only bound the memory of bigger batches.
CHUNK_SIZE = 500
#: Rows of the manifest's shipment table on one page (one table per page keeps layout time linear).
MANIFEST_ROWS_PER_PAGE = 16
#: Lines of the label's item summary; more are counted as "+ N more".
LABEL_ITEM_LINES = 3
TEMPLATE_DIR = Path(settings.BASE_DIR) / "templates" / "documents"

DOTS_PER_INCH = 203
QUIET_ZONE_MODULES = 10
PAISA = Decimal("0.01")

# WeasyPrint reports each layout step and fontTools each subsetting step at INFO: one line per document page.
for _name in ("weasyprint.progress", "fontTools"):
    logging.getLogger(_name).setLevel(logging.WARNING)
ZERO = Decimal("0")


@dataclass
class Rendered:
    pdf: bytes
    page_count: int
    not_created: list[dict] = field(default_factory=list)  # [{"id": <shipment or order id>, "reason": "..."}]


class MissingMerchantSetting(ValidationError):
    """A document needs a merchant setting that is blank (the GSTIN, the address); ``setting`` names the field."""

    def __init__(self, setting: str, message: str):
        self.setting = setting
        super().__init__(message, code="missing_merchant_setting")

    def __str__(self) -> str:
        return self.message


# -- querysets: everything a document shows, in a constant number of queries ----------------------------------------


def _lines() -> Prefetch:
    return Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("id"))


def label_queryset() -> QuerySet[Shipment]:
    return Shipment.objects.select_related("merchant", "courier", "order", "order__pickup_location").prefetch_related(
        Prefetch("order__lines", queryset=OrderLine.objects.order_by("id"))
    )


def invoice_queryset() -> QuerySet[Order]:
    return Order.objects.select_related("merchant", "invoice").prefetch_related(_lines())


def packing_slip_queryset() -> QuerySet[Order]:
    active = Shipment.objects.exclude(status=ShipmentStatus.CANCELLED).select_related("courier").order_by("id")
    return Order.objects.select_related("merchant", "pickup_location").prefetch_related(
        _lines(), Prefetch("shipments", queryset=active, to_attr="active_shipments")
    )


def manifest_queryset() -> QuerySet[Manifest]:
    shipments = Shipment.objects.select_related("order").order_by("id")
    return Manifest.objects.select_related("merchant", "courier", "location", "pickup").prefetch_related(
        Prefetch("shipments", queryset=shipments)
    )


# -- formatting ----------------------------------------------------------------------------------------------------


def indian_grouping(value: Decimal) -> str:
    """``1234567.5`` -> ``12,34,567.50``: the last three digits, then groups of two (lakh, crore)."""
    value = Decimal(value).quantize(PAISA, ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    whole, fraction = f"{abs(value):.2f}".split(".")
    head, tail = whole[:-3], whole[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return sign + ",".join([*groups, tail]) + "." + fraction


def money(value: Decimal, currency: str = "INR") -> str:
    if currency == "INR":
        return f"₹{indian_grouping(value)}"
    return f"{currency} {Decimal(value).quantize(PAISA, ROUND_HALF_UP):,.2f}"


def amount_in_words(value: Decimal, currency: str = "INR") -> str:
    """The amount in words, Indian system (lakh, crore): ``Rupees one lakh, twenty thousand and fifty paise only``."""
    value = Decimal(value).quantize(PAISA, ROUND_HALF_UP)
    if value < 0:
        raise ValueError("amount_in_words needs an amount >= 0")
    rupees, paise = int(value), int((value - int(value)) * 100)
    unit, sub = ("Rupees", "paise") if currency == "INR" else (currency, "cents")
    words = f"{unit} {num2words(rupees, lang='en_IN')}"
    if paise:
        words += f" and {num2words(paise, lang='en_IN')} {sub}"
    return words + " only"


def _weight(grams: int) -> str:
    return f"{Decimal(grams) / 1000:.3f} kg"


def _dimensions(order: Order) -> str:
    sides = (order.length_cm, order.breadth_cm, order.height_cm)
    if not all(sides):
        return ""
    return " x ".join(f"{side.normalize():f}" for side in sides) + " cm"


def _local_date(value: datetime | date | None, tz) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(tz).date()
    return value.strftime("%d %b %Y")


def _address_lines(address: dict) -> list[str]:
    """Street lines, then "city, state", then the postcode as its own line is left to the template."""
    lines = [address.get("line1", ""), address.get("line2", "")]
    place = ", ".join(part for part in (address.get("city", ""), address.get("state", "")) if part)
    lines.append(place)
    country = address.get("country") or "IN"
    if country != "IN":
        lines.append(country)
    return [line.strip() for line in lines if line and line.strip()]


def _party(address: dict) -> dict:
    return {"name": address.get("name", ""), "lines": _address_lines(address), "phone": address.get("phone", ""),
            "postcode": str(address.get("postcode", "")), "state": address.get("state", "")}  # fmt: skip


def _location_party(location) -> dict:
    return _party({"name": location.contact_name or location.name, "line1": f"{location.name}, {location.line1}"
                   if location.contact_name else location.line1, "line2": location.line2, "city": location.city,
                   "state": location.state, "postcode": location.postcode, "country": location.country,
                   "phone": location.phone})  # fmt: skip


def _merchant_party(merchant) -> dict:
    return {
        "name": merchant.legal_name or merchant.name, "trade_name": merchant.name,
        "lines": _address_lines({"line1": merchant.line1, "line2": merchant.line2, "city": merchant.city,
                                 "state": merchant.state, "country": merchant.country}),
        "postcode": merchant.postcode, "phone": merchant.phone, "email": merchant.email, "tax_id": merchant.tax_id,
        "logo": merchant.logo.name if merchant.logo else "",
    }  # fmt: skip


def _logo_url(merchant) -> str:
    """A file URL for the merchant's logo when its storage is on this machine's disk, else ''."""
    if not merchant.logo:
        return ""
    try:
        path = Path(merchant.logo.path)
    except NotImplementedError:  # remote storage: no local path
        return ""
    return path.as_uri() if path.is_file() else ""


# -- barcodes ------------------------------------------------------------------------------------------------------


def barcode_modules(value: str) -> str:
    """Code128 bars and spaces of ``value`` as a string of 1 (bar) and 0 (space) modules, without quiet zones."""
    return Code128(value).build()[0]


def barcode_svg(value: str, *, height_mm: float, max_width_mm: float) -> str:
    """``value`` as a Code128 inline SVG at the widest whole-dot module (3, 2, then 1 dot at 203 dpi) that fits
    ``max_width_mm`` with 10-module quiet zones on both sides."""
    modules = barcode_modules(value)
    total = len(modules) + 2 * QUIET_ZONE_MODULES
    module_mm = _module_mm(total, max_width_mm)
    width_mm = total * module_mm
    height = height_mm / module_mm
    path = []
    for match in re.finditer("1+", modules):
        path.append(f"M{match.start() + QUIET_ZONE_MODULES} 0h{match.end() - match.start()}v{height:.2f}h-"
                    f"{match.end() - match.start()}z")  # fmt: skip
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="barcode" width="{width_mm:.3f}mm" height="{height_mm}mm" '
            f'viewBox="0 0 {total} {height:.2f}" shape-rendering="crispEdges"><path fill="#000" d="{"".join(path)}"/>'
            "</svg>")  # fmt: skip


# -- GST: place of supply ----------------------------------------------------------------------------------------------

#: GST state codes (the first two digits of a GSTIN), by normalized state or union territory name.
GST_STATE_CODES = {
    "jammu and kashmir": "01", "himachal pradesh": "02", "punjab": "03", "chandigarh": "04", "uttarakhand": "05",
    "uttaranchal": "05", "haryana": "06", "delhi": "07", "nct of delhi": "07", "new delhi": "07", "rajasthan": "08",
    "uttar pradesh": "09", "bihar": "10", "sikkim": "11", "arunachal pradesh": "12", "nagaland": "13",
    "manipur": "14", "mizoram": "15", "tripura": "16", "meghalaya": "17", "assam": "18", "west bengal": "19",
    "jharkhand": "20", "odisha": "21", "orissa": "21", "chhattisgarh": "22", "madhya pradesh": "23",
    "gujarat": "24", "daman and diu": "26", "dadra and nagar haveli": "26",
    "dadra and nagar haveli and daman and diu": "26", "the dadra and nagar haveli and daman and diu": "26",
    "maharashtra": "27", "karnataka": "29", "goa": "30", "lakshadweep": "31", "kerala": "32", "tamil nadu": "33",
    "puducherry": "34", "pondicherry": "34", "andaman and nicobar islands": "35", "andaman and nicobar": "35",
    "telangana": "36", "andhra pradesh": "37", "ladakh": "38",
}  # fmt: skip


def _normalize_state(name: str) -> str:
    return " ".join(re.sub(r"[^a-z]+", " ", (name or "").lower().replace("&", " and ")).split())


def gst_state_code(name: str) -> str:
    """The GST state code of a state or union territory name ('' if unknown)."""
    return GST_STATE_CODES.get(_normalize_state(name), "")


def seller_state_code(merchant) -> str:
    """The seller's state code: the GSTIN's first two digits, else from the merchant's state."""
    prefix = (merchant.tax_id or "")[:2]
    return prefix if prefix.isdigit() else gst_state_code(merchant.state)


def is_intra_state(merchant, ship_to: dict) -> bool:
    """Whether the supply is within the seller's state (CGST + SGST) rather than to another state or abroad
    (IGST). The place of supply is the ship-to state."""
    if (ship_to.get("country") or "IN") != "IN" or merchant.country != "IN":
        return False
    seller, place = seller_state_code(merchant), gst_state_code(ship_to.get("state", ""))
    if seller and place:
        return seller == place
    return bool(_normalize_state(merchant.state)) and _normalize_state(merchant.state) == _normalize_state(
        ship_to.get("state", "")
    )


@dataclass(frozen=True)
class TaxLine:
    taxable_value: Decimal
    cgst: Decimal
    sgst: Decimal
    igst: Decimal


def split_tax(*, total: Decimal, tax_amount: Decimal, intra_state: bool) -> TaxLine:
    """A GST-inclusive line total split into its taxable value and CGST + SGST (the halves add up to the line's tax
    to the paisa: CGST takes the odd paisa) or IGST."""
    taxable = total - tax_amount
    if not intra_state:
        return TaxLine(taxable, ZERO, ZERO, tax_amount)
    cgst = (tax_amount / 2).quantize(PAISA, ROUND_HALF_UP)
    return TaxLine(taxable, cgst, tax_amount - cgst, ZERO)


def _rate(value: Decimal) -> str:
    return f"{value.normalize():f}%"


# -- contexts: what each document shows ----------------------------------------------------------------------------

ZONE_CODES = {Zone.WITHIN_CITY: "WC", Zone.WITHIN_STATE: "WS", Zone.METRO: "MM", Zone.REST_OF_INDIA: "ROI",
              Zone.SPECIAL: "SPL"}  # fmt: skip


def label_problem(shipment: Shipment) -> str | None:
    """Why no label can be printed for ``shipment`` (None: it can)."""
    if shipment.status == ShipmentStatus.CANCELLED:
        return "The shipment is cancelled."
    if not shipment.awb:
        return "The shipment has no AWB yet: assign one first."
    try:
        barcode_modules(shipment.awb)
    except BarcodeError as exc:
        return f"The AWB {shipment.awb!r} cannot be printed as a Code128 barcode: {exc}"
    return None


def label_context(shipment: Shipment) -> dict[str, Any]:
    order, courier = shipment.order, shipment.courier
    tz = shipment.merchant.tzinfo
    origin, ship_to = order.pickup_location, order.shipping_address or {}
    lines = list(order.lines.all())
    cod = order.payment_method == PaymentMethod.COD
    items = [f"{line.quantity} x {line.name} ({line.sku})" for line in lines[:LABEL_ITEM_LINES]]
    return {
        "id": shipment.pk, "courier": courier.name, "courier_code": courier.code.upper(), "awb": shipment.awb,
        "routing": f"{ZONE_CODES.get(shipment.zone, shipment.zone.upper())}/{origin.postcode[:3]}-"
                   f"{str(ship_to.get('postcode', ''))[:3]}",
        "zone": shipment.get_zone_display(), "ship_to": _party(ship_to), "return_to": _location_party(origin),
        "order_number": order.number, "payment": "COD" if cod else "PREPAID",
        "cod_amount": money(shipment.cod_amount, shipment.currency) if cod else "",
        "weight": _weight(shipment.applied_weight_grams), "dimensions": _dimensions(order),
        "items": items, "more_items": max(len(lines) - LABEL_ITEM_LINES, 0),
        "item_count": sum(line.quantity for line in lines),
        "date": _local_date(shipment.pickup_date or shipment.awb_assigned_at or shipment.created_at, tz),
        "seller": shipment.merchant.legal_name or shipment.merchant.name,
    }  # fmt: skip


def invoice_context(order: Order, invoice=None) -> dict[str, Any]:
    """The invoice of ``order``; ``invoice`` (number, date) is left out of the checksum: it never changes once
    the order has one."""
    merchant, ship_to = order.merchant, order.shipping_address or {}
    intra = is_intra_state(merchant, ship_to)
    rows, totals = [], {"taxable": ZERO, "cgst": ZERO, "sgst": ZERO, "igst": ZERO, "total": ZERO, "discount": ZERO}
    for n, line in enumerate(order.lines.all(), 1):
        tax = split_tax(total=line.total, tax_amount=line.tax_amount, intra_state=intra)
        half = _rate(line.tax_rate / 2)
        rows.append({
            "n": n, "name": line.name, "sku": line.sku, "hsn": line.hsn_code, "quantity": line.quantity,
            "unit_price": indian_grouping(line.unit_price), "discount": indian_grouping(line.discount),
            "taxable": indian_grouping(tax.taxable_value), "rate": _rate(line.tax_rate),
            "cgst": f"{indian_grouping(tax.cgst)} ({half})", "sgst": f"{indian_grouping(tax.sgst)} ({half})",
            "igst": f"{indian_grouping(tax.igst)} ({_rate(line.tax_rate)})", "total": indian_grouping(line.total),
        })  # fmt: skip
        for key, value in (("taxable", tax.taxable_value), ("cgst", tax.cgst), ("sgst", tax.sgst),
                           ("igst", tax.igst), ("total", line.total), ("discount", line.discount)):  # fmt: skip
            totals[key] += value
    grand_total = totals["total"] + order.shipping_charge
    tz = merchant.tzinfo
    place = ship_to.get("state", "") or ship_to.get("country", "")
    code = gst_state_code(ship_to.get("state", ""))
    return {
        "id": order.pk, "seller": _merchant_party(merchant), "order_number": order.number,
        "order_date": _local_date(order.ordered_at, tz),
        "number": invoice.number if invoice else "", "date": _local_date(invoice.issued_at, tz) if invoice else "",
        "bill_to": _party(order.billing_address or ship_to), "ship_to": _party(ship_to),
        "place_of_supply": f"{place} ({code})" if code else place, "intra_state": intra, "lines": rows,
        "totals": {key: indian_grouping(value) for key, value in totals.items()},
        "shipping_charge": indian_grouping(order.shipping_charge) if order.shipping_charge else "",
        "grand_total": money(grand_total, order.currency), "currency": order.currency,
        "in_words": amount_in_words(grand_total, order.currency),
        "payment": order.get_payment_method_display(), "payment_status": order.get_payment_status_display(),
    }  # fmt: skip


def manifest_context(manifest: Manifest) -> dict[str, Any]:
    tz = manifest.merchant.tzinfo
    shipments = list(manifest.shipments.all())
    rows = [{"n": n, "id": s.pk, "awb": s.awb, "order_number": s.order.number,
             "weight": _weight(s.applied_weight_grams),
             "payment": "COD" if s.order.payment_method == PaymentMethod.COD else "Prepaid",
             "cod_amount": indian_grouping(s.cod_amount) if s.cod_amount else "",
             "destination": str((s.order.shipping_address or {}).get("postcode", ""))}
            for n, s in enumerate(shipments, 1)]  # fmt: skip
    cod = [s for s in shipments if s.cod_amount]
    pickup = manifest.pickup
    return {
        "id": manifest.pk, "number": manifest.number, "courier": manifest.courier.name,
        "courier_code": manifest.courier.code.upper(), "seller": manifest.merchant.legal_name or manifest.merchant.name,
        "location": _location_party(manifest.location), "location_name": manifest.location.nickname,
        "pickup_date": _local_date(pickup.pickup_date if pickup else manifest.created_at, tz),
        "pickup_token": pickup.token if pickup else "", "created_date": _local_date(manifest.created_at, tz),
        "pages": [rows[i : i + MANIFEST_ROWS_PER_PAGE] for i in range(0, len(rows), MANIFEST_ROWS_PER_PAGE)],
        "count": len(shipments), "cod_count": len(cod), "prepaid_count": len(shipments) - len(cod),
        "cod_total": money(sum((s.cod_amount for s in cod), ZERO)),
        "weight_total": _weight(sum(s.applied_weight_grams for s in shipments)),
    }  # fmt: skip


def packing_slip_context(order: Order) -> dict[str, Any]:
    location = order.pickup_location
    shipments = getattr(order, "active_shipments", None)
    if shipments is None:
        shipments = list(order.shipments.exclude(status=ShipmentStatus.CANCELLED).select_related("courier"))
    shipment = shipments[-1] if shipments else None
    lines = [{"n": n, "sku": line.sku, "name": line.name, "quantity": line.quantity,
              "gtin": line.product.barcode if line.product_id else "",
              "location": f"{location.nickname} ({location.name})"}
             for n, line in enumerate(order.lines.all(), 1)]  # fmt: skip
    return {
        "id": order.pk, "seller": order.merchant.legal_name or order.merchant.name, "order_number": order.number,
        "order_date": _local_date(order.ordered_at, order.merchant.tzinfo), "ship_to": _party(order.shipping_address),
        "payment": order.get_payment_method_display(), "lines": lines,
        "item_count": sum(line["quantity"] for line in lines), "notes": order.notes,
        "courier": shipment.courier.name if shipment else "", "awb": shipment.awb if shipment else "",
        "location": f"{location.nickname}: {location.name}, {location.line1}, {location.city}",
        "logo": order.merchant.logo.name if order.merchant.logo else "",
    }  # fmt: skip


# -- labels: drawn on a PDF canvas -----------------------------------------------------------------------------------
#
# Labels are the volume document (hundreds every morning, 1,000 in one request): they are drawn with ReportLab's
# canvas, at about 1-2 ms a label, where WeasyPrint took 30-60 ms a label on this machine even for a bare page
# (figures in bench/labels.py). The layout below is the label's template: rows from the top, in millimetres.

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/usr/share/fonts/dejavu")
FONTS = {"Sans": "DejaVuSans.ttf", "Sans-Bold": "DejaVuSans-Bold.ttf", "Mono-Bold": "DejaVuSansMono-Bold.ttf"}
LABEL_W, LABEL_H = 94.0, 144.0  # the label's box, in mm, on a 4x6 page (3 mm margins) and in an A4 quarter
PAGE_4X6 = (100.0, 150.0)
PAGE_A4 = (210.0, 297.0)
MM = 72 / 25.4  # points per millimetre
#: (row, height in mm), top to bottom: 144 mm in all.
LABEL_ROWS = (("head", 17), ("awb", 26), ("route", 8), ("ship_to", 38), ("order", 21), ("items", 15), ("return", 19))


@lru_cache(maxsize=1)
def _register_fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for name, file_name in FONTS.items():
        path = next((Path(d) / file_name for d in FONT_DIRS if (Path(d) / file_name).is_file()), None)
        if path is None:
            raise RuntimeError(f"Font {file_name} not found in {', '.join(FONT_DIRS)}: install fonts-dejavu-core.")
        pdfmetrics.registerFont(TTFont(name, str(path)))


class _Pen:
    """Draws on a ReportLab canvas in millimetres from the top-left corner of a label."""

    def __init__(self, canvas, page_height_mm: float, left: float, top: float):
        from reportlab.pdfbase.pdfmetrics import stringWidth

        self.c, self.page_h, self.left, self.top, self.width_of = canvas, page_height_mm, left, top, stringWidth

    def _y(self, y: float) -> float:
        return (self.page_h - self.top - y) * MM

    def text(self, x: float, y: float, value: str, *, font: str = "Sans", size: float = 8.5, width: float | None = None,
             align: str = "left", white: bool = False) -> None:  # fmt: skip
        """One line whose baseline is ``y`` mm below the label's top, cut with an ellipsis to ``width`` mm."""
        value = str(value)
        if width is not None:
            value = self.fit(value, font, size, width)
        self.c.setFont(font, size)
        if white:
            self.c.setFillColorRGB(1, 1, 1)
        px, py = (self.left + x) * MM, self._y(y)
        if align == "center":
            self.c.drawCentredString(px, py, value)
        elif align == "right":
            self.c.drawRightString(px, py, value)
        else:
            self.c.drawString(px, py, value)
        if white:
            self.c.setFillColorRGB(0, 0, 0)

    def fit(self, value: str, font: str, size: float, width: float) -> str:
        if self.width_of(value, font, size) <= width * MM:
            return value
        while value and self.width_of(value + "…", font, size) > width * MM:
            value = value[:-1]
        return value + "…"

    def wrap(self, value: str, font: str, size: float, width: float, lines: int) -> list[str]:
        from reportlab.lib.utils import simpleSplit

        wrapped = simpleSplit(value, font, size, width * MM)
        if len(wrapped) > lines:
            wrapped = [*wrapped[: lines - 1], self.fit(" ".join(wrapped[lines - 1 :]), font, size, width)]
        return wrapped

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
        module = _module_mm(len(modules) + 2 * QUIET_ZONE_MODULES, max_width)
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
    pen.line(54, top, 54, top + 17)
    pen.text(2, top + 4, "COURIER", font="Sans-Bold", size=6.5)
    pen.text(2, top + 10.5, label["courier"], font="Sans-Bold", size=15, width=50)
    pen.text(2, top + 15, label["courier_code"], size=7, width=50)
    if label["cod_amount"]:
        pen.box(54, top, w - 54, 17, fill=True)
        pen.text(74, top + 7, "COD", font="Sans-Bold", size=15, align="center", white=True)
        pen.text(74, top + 10.3, "Collect", size=7, align="center", white=True)
        pen.text(74, top + 15, label["cod_amount"], font="Sans-Bold", size=13, align="center", width=38, white=True)
    else:
        pen.text(74, top + 10.5, label["payment"], font="Sans-Bold", size=15, align="center")

    top = rows["awb"]  # the AWB barcode and its digits
    pen.barcode(label["awb"], w / 2, top + 2, 16, 90)
    pen.text(w / 2, top + 23.5, label["awb"], font="Mono-Bold", size=14, align="center", width=90)

    top = rows["route"]
    pen.text(2, top + 6, label["routing"], font="Sans-Bold", size=13, width=44)
    pen.text(w - 2, top + 5.5, f"{label['zone']} · {label['date']}", size=8, align="right", width=46)

    top = rows["ship_to"]
    ship_to = label["ship_to"]
    pen.text(2, top + 4, "SHIP TO", font="Sans-Bold", size=6.5)
    pen.text(2, top + 9.5, ship_to["name"], font="Sans-Bold", size=12, width=90)
    lines = [wrapped for line in ship_to["lines"] for wrapped in pen.wrap(line, "Sans", 9.5, 90, 2)][:4]
    for n, line in enumerate(lines):
        pen.text(2, top + 14 + n * 4, line, size=9.5)
    pen.text(2, top + 31, f"PIN {ship_to['postcode']}", font="Sans-Bold", size=20, width=90)
    pen.text(2, top + 36, f"Phone: {ship_to['phone']}", size=10, width=90)

    top = rows["order"]  # order number barcode | weight, dimensions, items
    pen.line(56, top, 56, top + 21)
    pen.text(2, top + 3.5, "ORDER", font="Sans-Bold", size=6.5)
    pen.barcode(label["order_number"], 28, top + 5, 9, 52)
    pen.text(28, top + 18.5, label["order_number"], font="Mono-Bold", size=9, align="center", width=52)
    facts = [("WEIGHT", label["weight"]), ("DIMS", label["dimensions"]), ("ITEMS", str(label["item_count"]))]
    for n, (caption, value) in enumerate(f for f in facts if f[1]):
        pen.text(58, top + 5 + n * 5.5, caption, font="Sans-Bold", size=6.5)
        pen.text(70, top + 5 + n * 5.5, value, size=8, width=23)

    top = rows["items"]
    items = [*label["items"], *([f"+ {label['more_items']} more"] if label["more_items"] else [])]
    for n, item in enumerate(items[:4]):
        pen.text(2, top + 3.5 + n * 3.3, item, size=7.5, width=90)

    top = rows["return"]
    back = label["return_to"]
    address = ", ".join([label["seller"], back["name"], *back["lines"], f"PIN {back['postcode']}",
                         *([back["phone"]] if back["phone"] else [])])  # fmt: skip
    pen.text(2, top + 3.5, "IF UNDELIVERED, RETURN TO", font="Sans-Bold", size=6.5)
    for n, line in enumerate(pen.wrap(address, "Sans", 7.5, 90, 4)):
        pen.text(2, top + 7 + n * 3.2, line, size=7.5)


def _module_mm(total_modules: int, max_width_mm: float) -> float:
    """The widest module of 3, 2 or 1 dots at 203 dpi that fits ``total_modules`` in ``max_width_mm``."""
    for dots in (3, 2, 1):
        module_mm = dots * 25.4 / DOTS_PER_INCH
        if total_modules * module_mm <= max_width_mm:
            return module_mm
    return module_mm


def _labels_pdf(labels: list[dict[str, Any]], format: str, *, title: str, created: datetime) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    _register_fonts()
    out = io.BytesIO()
    page = PAGE_4X6 if format == "4x6" else PAGE_A4
    canvas = Canvas(out, pagesize=(page[0] * MM, page[1] * MM), invariant=1, pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator("ShopOps")
    canvas.setProducer("ShopOps")
    canvas.setDateFormatter(lambda *_: created.astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'"))
    if format == "4x6":
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


# -- checksum ------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _templates_digest() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())  # the label's layout is code: this module
    for path in sorted(TEMPLATE_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _contexts(kind: str, objects) -> list[dict]:
    if kind == "label":
        return [label_context(s) if label_problem(s) is None else {"id": s.pk, "not_created": label_problem(s)}
                for s in objects]  # fmt: skip
    if kind == "invoice":
        return [invoice_context(o) for o in objects]
    if kind == "manifest":
        return [manifest_context(m) for m in objects]
    if kind == "packing_slip":
        return [packing_slip_context(o) for o in objects]
    raise ValueError(f"unknown document kind {kind!r}")


def data_checksum(kind: str, format: str, objects) -> str:
    """SHA-256 (hex) of everything the document shows, its kind, format and templates: an unchanged reprint has
    the same checksum and may reuse the stored PDF. ``objects``: shipments (labels), orders (invoices, packing
    slips) or a manifest, loaded with the matching queryset function."""
    if isinstance(objects, Manifest):
        objects = [objects]
    payload = {"kind": kind, "format": format, "templates": _templates_digest(), "items": _contexts(kind, objects)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# -- rendering -----------------------------------------------------------------------------------------------------


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

    html = render_to_string(f"documents/{template}", context)
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
    if format not in LABEL_FORMATS:
        raise ValidationError({"format": [f"Labels come in {', '.join(LABEL_FORMATS)}, not {format!r}."]})
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
    pages = len(labels) if format == "4x6" else -(-len(labels) // 4)
    return Rendered(pdf=pdf, page_count=pages, not_created=not_created)


def check_invoice_settings(merchant) -> None:
    """Raise MissingMerchantSetting when the merchant lacks what a tax invoice must show."""
    if not (merchant.tax_id or "").strip():
        raise MissingMerchantSetting("tax_id", "Set the merchant's GSTIN / tax id (Merchant.tax_id) before issuing "
                                               "tax invoices.")  # fmt: skip
    missing = [name for name in ("line1", "city", "state", "postcode") if not (getattr(merchant, name) or "").strip()]
    if missing:
        raise MissingMerchantSetting(missing[0], "Set the merchant's address (Merchant." + ", Merchant.".join(missing)
                                     + ") before issuing tax invoices.")  # fmt: skip


def render_invoices(*, merchant, orders: list[Order], chunk_size: int = CHUNK_SIZE) -> Rendered:
    """Tax invoices, one or more A4 pages each. Each order gets its invoice number once (``invoice_for``: a
    gap-free per-merchant sequence) and keeps it on reprints. Cancelled orders are listed in ``not_created``.
    Raises MissingMerchantSetting when the merchant has no GSTIN or address."""
    from shipping.services.documents import invoice_for

    check_invoice_settings(merchant)
    _check_scope(merchant, orders)
    invoices, not_created = [], []
    for order in orders:
        if order.status == OrderStatus.CANCELLED:
            not_created.append({"id": order.pk, "reason": "The order is cancelled: it has no invoice."})
            continue
        try:
            invoice = order.invoice  # loaded by invoice_queryset(): reprints read no more
        except Invoice.DoesNotExist:
            invoice = invoice_for(order=order)
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
    if format not in PACKING_SLIP_FORMATS:
        raise ValidationError({"format": [f"Packing slips come in {', '.join(PACKING_SLIP_FORMATS)}, not {format!r}."]})
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

"""What each printed document shows: the querysets that load it, and a *context* per kind (label, invoice, manifest,
packing slip, credit note): plain, JSON-able data, everything the page shows, already formatted (names, addresses,
amounts as text, dates). ``data_checksum`` digests the same contexts plus the templates and the layout code, so a
reprint of unchanged data can reuse the stored PDF.

Callers pass objects loaded with ``label_queryset()``, ``invoice_queryset()``, ``manifest_queryset()``,
``packing_slip_queryset()`` or ``credit_note_queryset()``: a document of N items then costs a constant number of
queries."""

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from barcode.errors import BarcodeError
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from num2words import num2words

from orders.gst import is_export
from orders.models import Order, OrderLine, OrderStatus, PaymentMethod
from shipping.documents.barcodes import barcode_modules
from shipping.documents.gst import ZERO, invoice_lines, is_intra_state, place_of_supply
from shipping.models import CreditNote, CreditNoteLine, Manifest, Shipment, ShipmentStatus
from shipping.zones import Zone
from shopops.money import round_money

#: Rows of the manifest's shipment table on one page (one table per page keeps layout time linear).
MANIFEST_ROWS_PER_PAGE = 16
#: Lines of the label's item summary; more are counted as "+ N more".
LABEL_ITEM_LINES = 3
TEMPLATE_DIR = Path(settings.BASE_DIR) / "templates" / "documents"


class MissingMerchantSetting(ValidationError):
    """A document needs a merchant setting that is blank (the GSTIN, the address); ``setting`` names the field."""

    def __init__(self, setting: str, message: str):
        self.setting = setting
        super().__init__(message, code="missing_merchant_setting")

    def __str__(self) -> str:
        return self.message


def invoice_issuable(merchant) -> bool:
    """Whether the merchant can issue tax invoices (``check_invoice_settings`` passes)."""
    try:
        check_invoice_settings(merchant)
    except MissingMerchantSetting:
        return False
    return True


def check_invoice_settings(merchant) -> None:
    """Raise MissingMerchantSetting when the merchant lacks what a tax invoice must show."""
    if not (merchant.tax_id or "").strip():
        raise MissingMerchantSetting("tax_id", "Set the merchant's GSTIN / tax id (Merchant.tax_id) before issuing "
                                               "tax invoices.")  # fmt: skip
    missing = [name for name in ("line1", "city", "state", "postcode") if not (getattr(merchant, name) or "").strip()]
    if missing:
        raise MissingMerchantSetting(missing[0], "Set the merchant's address (Merchant." + ", Merchant.".join(missing)
                                     + ") before issuing tax invoices.")  # fmt: skip


# -- querysets: everything a document shows, in a constant number of queries ----------------------------------------


def _lines() -> Prefetch:
    return Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("id"))


def label_queryset() -> QuerySet[Shipment]:
    return Shipment.objects.select_related(
        "merchant", "courier", "order", "order__pickup_location", "order__invoice"
    ).prefetch_related(Prefetch("order__lines", queryset=OrderLine.objects.order_by("id")))


def invoice_queryset() -> QuerySet[Order]:
    return Order.objects.select_related("merchant", "invoice").prefetch_related(_lines())


def packing_slip_queryset() -> QuerySet[Order]:
    active = Shipment.objects.exclude(status=ShipmentStatus.CANCELLED).select_related("courier").order_by("id")
    return Order.objects.select_related("merchant", "pickup_location").prefetch_related(
        _lines(), Prefetch("shipments", queryset=active, to_attr="active_shipments")
    )


def credit_note_queryset() -> QuerySet[CreditNote]:
    return CreditNote.objects.select_related("merchant", "invoice", "order", "return_request").prefetch_related(
        Prefetch("lines", queryset=CreditNoteLine.objects.order_by("id"))
    )


def manifest_queryset() -> QuerySet[Manifest]:
    shipments = Shipment.objects.select_related("order").order_by("id")
    return Manifest.objects.select_related("merchant", "courier", "location", "pickup").prefetch_related(
        Prefetch("shipments", queryset=shipments)
    )


# -- formatting ----------------------------------------------------------------------------------------------------


def indian_grouping(value: Decimal) -> str:
    """``1234567.5`` -> ``12,34,567.50``: the last three digits, then groups of two (lakh, crore)."""
    value = round_money(value)
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
    return f"{currency} {round_money(value):,.2f}"


def amount_in_words(value: Decimal, currency: str = "INR") -> str:
    """The amount in words, Indian system (lakh, crore): ``Rupees one lakh, twenty thousand and fifty paise only``."""
    value = round_money(value)
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
    return "x".join(f"{side.normalize():f}" for side in sides) + " cm"  # "40x30x12.5 cm": fits the label's column


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


# -- contexts: what each document shows ----------------------------------------------------------------------------


def _rate(value: Decimal) -> str:
    return f"{value.normalize():f}%"


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


def mask_phone(phone: str) -> str:
    """The phone's last 4 digits, the rest hidden: ``+919812345678`` -> ``XXXXXX5678`` (blank stays blank)."""
    digits = [c for c in phone if c.isascii() and c.isdigit()]
    return f"XXXXXX{''.join(digits[-4:])}" if digits else ""


def label_context(shipment: Shipment) -> dict[str, Any]:
    """What a label shows. The route is the courier's routing code when its booking gave one, else ShopOps's zone
    route (zone code, origin and destination pincode prefixes). The invoice number is the order's, once issued
    (``shipping.services.documents.label_invoices_issue`` issues it before labels are rendered, when the merchant
    can issue tax invoices); the invoice value, the order's total, is shown in any case. The customer's phone is
    masked to its last 4 digits when the merchant asks (``Merchant.mask_phone_on_label``)."""
    order, courier, merchant = shipment.order, shipment.courier, shipment.merchant
    tz = merchant.tzinfo
    origin, ship_to = order.pickup_location, order.shipping_address or {}
    lines = list(order.lines.all())
    cod = order.payment_method == PaymentMethod.COD
    items = [f"{line.quantity} x {line.name} ({line.sku})" for line in lines[:LABEL_ITEM_LINES]]
    recipient = _party(ship_to)
    if merchant.mask_phone_on_label:
        recipient["phone"] = mask_phone(recipient["phone"])
    invoice = getattr(order, "invoice", None)  # joined by label_queryset(): no query, None before it is issued
    zone_route = (f"{ZONE_CODES.get(shipment.zone, shipment.zone.upper())}/{origin.postcode[:3]}-"
                  f"{str(ship_to.get('postcode', ''))[:3]}")  # fmt: skip
    return {
        "id": shipment.pk, "courier": courier.name, "courier_code": courier.code.upper(), "awb": shipment.awb,
        "routing": shipment.routing_code or zone_route,
        "zone": shipment.get_zone_display(), "ship_to": recipient, "return_to": _location_party(origin),
        "order_number": order.number, "payment": "COD" if cod else "PREPAID",
        "cod_amount": money(shipment.cod_amount, shipment.currency) if cod else "",
        "weight": _weight(shipment.applied_weight_grams), "dimensions": _dimensions(order),
        "items": items, "more_items": max(len(lines) - LABEL_ITEM_LINES, 0),
        "item_count": sum(line.quantity for line in lines),
        "date": _local_date(shipment.pickup_date or shipment.awb_assigned_at or shipment.created_at, tz),
        "seller": merchant.legal_name or merchant.name, "gstin": (merchant.tax_id or "").strip(),
        "invoice_number": invoice.number if invoice else "", "invoice_value": money(order.total, order.currency),
        "eway_bill": order.eway_bill_number,
    }  # fmt: skip


#: Rule 46(p): every invoice says whether tax is payable on reverse charge. ShopOps's sellers supply goods, on which
#: the buyer never pays the seller's tax (the reverse-charge supplies are services and goods notified under section
#: 9(3) of the CGST Act, none of them sold through a shop): always "No".
REVERSE_CHARGE = "No"
EXPORT_UNDER_LUT = "SUPPLY MEANT FOR EXPORT UNDER LETTER OF UNDERTAKING WITHOUT PAYMENT OF INTEGRATED TAX"
EXPORT_WITH_IGST = "SUPPLY MEANT FOR EXPORT ON PAYMENT OF INTEGRATED TAX"


def tax_columns(line) -> dict[str, str]:
    """A taxable line's tax as the invoice and the credit note print it: amount (rate)."""
    half = _rate(line.rate / 2)
    return {"taxable": indian_grouping(line.taxable_value), "rate": _rate(line.rate),
            "cgst": f"{indian_grouping(line.cgst)} ({half})", "sgst": f"{indian_grouping(line.sgst)} ({half})",
            "igst": f"{indian_grouping(line.igst)} ({_rate(line.rate)})",
            "total": indian_grouping(line.total)}  # fmt: skip


def supply_context(merchant, ship_to: dict, lut_reference: str) -> dict[str, Any]:
    """What an invoice and a credit note say of the supply: place of supply (with its code), CGST + SGST or IGST,
    reverse charge, and for an export its destination and the export statement (under the LUT, or with IGST)."""
    name, code = place_of_supply(ship_to)
    export = is_export(ship_to)
    statement = ""
    if export:
        statement = f"{EXPORT_UNDER_LUT} (LUT {lut_reference})" if lut_reference else EXPORT_WITH_IGST
    return {
        "place_of_supply": f"{code} - {name}" if export else (f"{name} ({code})" if code else name),
        "intra_state": is_intra_state(merchant, ship_to), "reverse_charge": REVERSE_CHARGE, "export": export,
        "destination_country": (ship_to.get("country") or "").upper() if export else "",
        "export_statement": statement, "zero_rated": bool(lut_reference),
    }  # fmt: skip


def invoice_context(order: Order, invoice=None) -> dict[str, Any]:
    """The invoice of ``order``; ``invoice`` (number, date) is left out of the checksum: it never changes once
    the order has one."""
    merchant, ship_to = order.merchant, order.shipping_address or {}
    supply = supply_context(merchant, ship_to, order.lut_reference)
    rows, totals = [], {"taxable": ZERO, "cgst": ZERO, "sgst": ZERO, "igst": ZERO, "total": ZERO, "discount": ZERO}
    for n, line in enumerate(invoice_lines(order), 1):
        rows.append({
            "n": n, "kind": line.kind, "name": line.name, "sku": line.sku, "hsn": line.hsn, "uqc": line.uqc,
            "quantity": line.quantity if line.quantity is not None else "",
            "unit_price": indian_grouping(line.unit_price), "discount": indian_grouping(line.discount),
            **tax_columns(line),
        })  # fmt: skip
        for key, value in (("taxable", line.taxable_value), ("cgst", line.cgst), ("sgst", line.sgst),
                           ("igst", line.igst), ("total", line.total), ("discount", line.discount)):  # fmt: skip
            totals[key] += value
    grand_total = totals["total"]
    tz = merchant.tzinfo
    return {
        "id": order.pk, "seller": _merchant_party(merchant), "order_number": order.number,
        "order_date": _local_date(order.ordered_at, tz), "eway_bill": order.eway_bill_number,
        "number": invoice.number if invoice else "", "date": _local_date(invoice.issued_at, tz) if invoice else "",
        "bill_to": _party(order.billing_address or ship_to), "ship_to": _party(ship_to), **supply, "lines": rows,
        "totals": {key: indian_grouping(value) for key, value in totals.items()},
        "grand_total": money(grand_total, order.currency), "currency": order.currency,
        "in_words": amount_in_words(grand_total, order.currency),
        "payment": order.get_payment_method_display(), "payment_status": order.get_payment_status_display(),
    }  # fmt: skip


def credit_note_context(credit_note: CreditNote) -> dict[str, Any]:
    """A credit note (rule 53): the supplier, its number and date, the invoice it credits (number and date), the
    recipient, the place of supply, each line's quantity, taxable value and tax credited, the totals, the reason."""
    merchant, order, invoice = credit_note.merchant, credit_note.order, credit_note.invoice
    ship_to, tz = order.shipping_address or {}, merchant.tzinfo
    supply = {**supply_context(merchant, ship_to, order.lut_reference), "intra_state": credit_note.intra_state}
    rows = [{"n": n, "kind": line.kind, "name": line.name, "sku": line.sku, "hsn": line.hsn_code, "uqc": line.uqc,
             "quantity": line.quantity if line.quantity is not None else "", **tax_columns(line)}
            for n, line in enumerate(credit_note.lines.all(), 1)]  # fmt: skip
    totals = {name: indian_grouping(getattr(credit_note, name)) for name in ("taxable_value", "cgst", "sgst", "igst")}
    reason = credit_note.get_reason_display()
    return {
        "id": credit_note.pk, "seller": _merchant_party(merchant), "number": credit_note.number,
        "date": _local_date(credit_note.issued_at, tz), "invoice_number": invoice.number,
        "invoice_date": _local_date(invoice.issued_at, tz), "order_number": order.number,
        "return_number": credit_note.return_request.number if credit_note.return_request_id else "",
        "reason": reason, "note": credit_note.note if credit_note.note != reason else "",
        "bill_to": _party(order.billing_address or ship_to), "ship_to": _party(ship_to), **supply, "lines": rows,
        "totals": totals, "grand_total": money(credit_note.total, credit_note.currency),
        "currency": credit_note.currency, "in_words": amount_in_words(credit_note.total, credit_note.currency),
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


# -- checksum ------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _templates_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):  # the label's layout is code: this package's modules
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for path in sorted(TEMPLATE_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _label_checksum_context(shipment: Shipment) -> dict:
    """The label's context with, in place of its invoice number, whether it prints one. As on invoices, the number is
    left out: issued when the label is rendered (the merchant able to issue tax invoices), it never changes, so a
    label asked for before and after its number was issued is the same label."""
    problem = label_problem(shipment)
    if problem is not None:
        return {"id": shipment.pk, "not_created": problem}
    context = label_context(shipment)
    issuable = shipment.order.status != OrderStatus.CANCELLED and invoice_issuable(shipment.merchant)
    context["invoice_number"] = bool(context["invoice_number"]) or issuable
    return context


def contexts(kind: str, objects) -> list[dict]:
    if kind == "label":
        return [_label_checksum_context(s) for s in objects]
    if kind == "invoice":
        return [invoice_context(o) for o in objects]
    if kind == "manifest":
        return [manifest_context(m) for m in objects]
    if kind == "packing_slip":
        return [packing_slip_context(o) for o in objects]
    if kind == "credit_note":
        return [credit_note_context(c) for c in objects]
    if kind == "carrier_label":  # the courier's own PDF: what identifies its booking
        return [{"id": s.pk, "courier": s.courier_id, "awb": s.awb} for s in objects]
    raise ValueError(f"unknown document kind {kind!r}")


def data_checksum(kind: str, format: str, objects) -> str:
    """SHA-256 (hex) of everything the document shows, its kind, format and templates: an unchanged reprint has
    the same checksum and may reuse the stored PDF. ``objects``: shipments (labels), orders (invoices, packing
    slips) or a manifest, loaded with the matching queryset function."""
    if isinstance(objects, Manifest):
        objects = [objects]
    payload = {"kind": kind, "format": format, "templates": _templates_digest(), "items": contexts(kind, objects),
               "fonts": [*settings.DOCUMENT_FONTS, settings.DOCUMENT_MONO_FONT]}  # fmt: skip
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

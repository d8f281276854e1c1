"""GST on invoices: state codes, the place of supply (intra-state: CGST + SGST; inter-state or abroad: IGST;
"96 - Other Countries" for exports), the split of a line's tax, and the taxable lines of an order's invoice: its
goods, then its shipping and COD charges (taxed at the principal supply's rate: ``orders.gst``)."""

import re
from dataclasses import dataclass
from decimal import Decimal

from orders.gst import is_export, principal_index
from shipping.models.credit_notes import CreditNoteLineKind
from shopops.money import round_money

ZERO = Decimal("0")
#: The place of supply of an export: GST's code for a place outside India.
OTHER_COUNTRIES = ("Other Countries", "96")


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


def normalize_state(name: str) -> str:
    return " ".join(re.sub(r"[^a-z]+", " ", (name or "").lower().replace("&", " and ")).split())


def gst_state_code(name: str) -> str:
    """The GST state code of a state or union territory name ('' if unknown)."""
    return GST_STATE_CODES.get(normalize_state(name), "")


def seller_state_code(merchant) -> str:
    """The seller's state code: the GSTIN's first two digits, else from the merchant's state."""
    prefix = (merchant.tax_id or "")[:2]
    return prefix if prefix.isdigit() else gst_state_code(merchant.state)


def place_of_supply(ship_to: dict) -> tuple[str, str]:
    """(name, GST state code) of the place of supply: the ship-to state, or "Other Countries" (96) abroad."""
    if is_export(ship_to):
        return OTHER_COUNTRIES
    state = ship_to.get("state", "")
    return state, gst_state_code(state)


def is_intra_state(merchant, ship_to: dict) -> bool:
    """Whether the supply is within the seller's state (CGST + SGST) rather than to another state or abroad
    (IGST). The place of supply is the ship-to state."""
    if (ship_to.get("country") or "IN") != "IN" or merchant.country != "IN":
        return False
    seller, place = seller_state_code(merchant), gst_state_code(ship_to.get("state", ""))
    if seller and place:
        return seller == place
    return bool(normalize_state(merchant.state)) and normalize_state(merchant.state) == normalize_state(
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
    cgst = round_money(tax_amount / 2)
    return TaxLine(taxable, cgst, tax_amount - cgst, ZERO)


@dataclass(frozen=True)
class InvoiceLine:
    """A taxable line of an invoice: one of the order's lines (``kind`` "item"), or its shipping or COD charge."""

    kind: str
    order_line_id: int | None
    name: str
    sku: str
    hsn: str
    uqc: str
    quantity: int | None
    unit_price: Decimal
    discount: Decimal
    rate: Decimal
    taxable_value: Decimal
    cgst: Decimal
    sgst: Decimal
    igst: Decimal
    total: Decimal


def invoice_lines(order) -> list[InvoiceLine]:
    """The order's invoice, line by line: its goods, then its shipping and COD charges (when not zero), each with
    its taxable value and CGST + SGST or IGST. A charge is part of the composite supply: the principal supply's
    rate and HSN code. An export under an LUT carries no tax (rate 0). ``order.lines`` in id order (prefetched by
    ``invoice_queryset``)."""
    intra = is_intra_state(order.merchant, order.shipping_address or {})
    zero_rated = bool(order.lut_reference)
    lines = list(order.lines.all())
    result = []
    for line in lines:
        tax = split_tax(total=line.total, tax_amount=line.tax_amount, intra_state=intra)
        result.append(InvoiceLine(CreditNoteLineKind.ITEM, line.pk, line.name, line.sku, line.hsn_code, line.uqc,
                                  line.quantity, line.unit_price, line.discount, ZERO if zero_rated else line.tax_rate,
                                  tax.taxable_value, tax.cgst, tax.sgst, tax.igst, line.total))  # fmt: skip
    principal = principal_index(lines)
    hsn = lines[principal].hsn_code if principal is not None else ""
    for kind, amount, tax_amount in ((CreditNoteLineKind.SHIPPING, order.shipping_charge, order.shipping_tax),
                                     (CreditNoteLineKind.COD, order.cod_charge, order.cod_tax)):  # fmt: skip
        if amount:
            tax = split_tax(total=amount, tax_amount=tax_amount, intra_state=intra)
            result.append(InvoiceLine(kind, None, kind.label, "", hsn, "", None, amount, ZERO,
                                      ZERO if zero_rated else order.charges_tax_rate, tax.taxable_value, tax.cgst,
                                      tax.sgst, tax.igst, amount))  # fmt: skip
    return result

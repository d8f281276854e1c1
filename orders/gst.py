"""The GST an order's prices contain: the rules order pricing, edits, invoices and credit notes share.

Prices are GST-inclusive. A line's tax is the GST its total contains at the line's rate. The shipping and COD
charges that the seller puts on its own invoice are part of a *composite supply* (CGST Act section 2(30)): goods
delivered to the buyer, the delivery (and the collection of cash) ancillary to them. Section 8(a) treats a
composite supply as a supply of its *principal supply* (section 2(90): its predominant element), so the charges
are taxed at the principal supply's rate, not at a rate of their own (no 18% "freight" line).

For an order whose lines have several rates, the principal supply is the line of the largest taxable value (its
total less its tax): the predominant element of what the buyer paid for. Ties go to the higher rate, then to the
earlier line, so the choice never depends on anything but the lines. The rate is kept on the order
(``charges_tax_rate``) when it is priced: invoices and credit notes read it, they never choose again.

Exports: a ship-to outside India is an export of goods (IGST Act section 2(5)), an inter-state supply taxed with
IGST (section 7(5)(a)), zero-rated (section 16). A seller who has furnished a Letter of Undertaking (``Merchant.
lut_reference``) exports without paying IGST: the order is priced with no tax (the buyer pays the same total,
all of it the taxable value) and keeps the LUT it was priced under (``Order.lut_reference``). Without an LUT
the export is taxed with IGST like any inter-state supply.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from shopops.money import round_money

ZERO = Decimal("0.00")


def is_export(ship_to: dict | None) -> bool:
    """Whether goods sent to ``ship_to`` leave India."""
    return ((ship_to or {}).get("country") or "IN").upper() != "IN"


def zero_rated_lut(merchant, ship_to: dict | None) -> str:
    """The LUT an export to ``ship_to`` goes under without IGST ('' when IGST or CGST + SGST is charged)."""
    return (merchant.lut_reference or "").strip() if is_export(ship_to) else ""


def tax_included(amount: Decimal, rate: Decimal) -> Decimal:
    """The GST that a GST-inclusive ``amount`` contains at ``rate`` percent, to the paisa."""
    return round_money(amount - amount / (1 + Decimal(rate) / 100))


def principal_index(lines: Iterable) -> int | None:
    """Which line is the order's principal supply: the one of the largest taxable value; ties to the higher rate,
    then the earlier line (None without lines). ``lines``: objects with ``total`` and ``tax_rate`` (order lines,
    prepared lines). A line's taxable value is compared as if taxed at its rate (an export under LUT chooses as
    any order does)."""
    best, best_key = None, None
    for index, line in enumerate(lines):
        key = (line.total - tax_included(line.total, line.tax_rate), line.tax_rate, -index)
        if best_key is None or key > best_key:
            best, best_key = index, key
    return best


def principal_rate(lines: Iterable) -> Decimal:
    """The GST rate of the order's principal supply (``principal_index``); 0 without lines."""
    lines = list(lines)
    index = principal_index(lines)
    return Decimal("0") if index is None else lines[index].tax_rate


@dataclass(frozen=True)
class ChargesTax:
    rate: Decimal
    shipping_tax: Decimal
    cod_tax: Decimal


def charges_tax(*, lines: Iterable, shipping_charge: Decimal, cod_charge: Decimal, zero_rated: bool) -> ChargesTax:
    """The GST the shipping and COD charges contain: at the principal supply's rate, none under an LUT."""
    rate = principal_rate(lines)
    if zero_rated:
        return ChargesTax(rate, ZERO, ZERO)
    return ChargesTax(rate, tax_included(shipping_charge, rate), tax_included(cod_charge, rate))

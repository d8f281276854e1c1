"""Pricing rules the channel mappings share: a line as ShopOps prices it from what a channel says the line cost.

ShopOps prices a line as ``quantity x unit_price - discount`` with a GST-included unit price to the paisa
(``orders.services.prepare``). A channel often gives only the line's amount (Amazon's ``ItemPrice`` is the price of
the whole quantity) or a unit price whose multiple is not what the buyer paid (a discount, a rounding of the tax per
row). ``line_price`` turns the line's amount into a unit price rounded *up* to the paisa and puts the remainder in
the line's discount, so ``quantity x unit_price - discount`` is exactly what the buyer paid for the line and the
order's total adds up to the channel's to the paisa.
"""

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from shopops.money import CENT, round_money


def line_price(*, quantity: int, paid: Decimal, unit: Decimal | None = None,
               gross: Decimal | None = None) -> tuple[Decimal, Decimal]:  # fmt: skip
    """``(unit_price, discount)`` for a line of ``quantity`` units the buyer paid ``paid`` for (both to the paisa).

    The unit price is the channel's own (``unit``, GST included) or the line's amount before its discount
    (``gross``) divided by the quantity and rounded up to the paisa; the discount is what makes ``quantity x
    unit_price - discount`` equal ``paid``. A unit price whose multiple falls short of what was paid (a channel's
    rounding) gives way to ``paid / quantity`` rounded up, the few paise over being the discount.
    """
    paid = round_money(paid)
    if unit is not None:
        unit = round_money(unit)
    elif gross is not None:
        unit = (round_money(gross) / quantity).quantize(CENT, rounding=ROUND_CEILING)
    if unit is None or unit * quantity < paid:
        unit = (paid / quantity).quantize(CENT, rounding=ROUND_CEILING)
    return unit, unit * quantity - paid


def rate_text(value: Decimal) -> str:
    """A GST rate as the order input takes it: a percentage with two places (``18.0000`` -> ``18.00``)."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))

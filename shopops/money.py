"""Money rounding, one rule for all of ShopOps: to the paisa (two places, the money columns' precision), halves
away from zero (``ROUND_HALF_UP``: 0.125 -> 0.13, -0.125 -> -0.13), as GST invoices and the couriers' rate cards
round."""

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency

from shopops.validation import MONEY_DECIMAL_PLACES

#: The smallest amount a money column holds: 0.01.
CENT = Decimal(1).scaleb(-MONEY_DECIMAL_PLACES)


def round_money(value: Decimal | int | str) -> Decimal:
    """``value`` rounded to the paisa (a str or int is read as a Decimal first)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | int | str | None, currency: str, locale: str = "en_IN") -> str:
    """``amount`` with its currency's symbol and the locale's grouping, for people: ``₹1,23,456.50`` (Indian lakh
    grouping by default), ``$12.50``; an empty string for no amount."""
    if amount is None or amount == "":
        return ""
    return format_currency(round_money(amount), currency or "INR", locale=locale)

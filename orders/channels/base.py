"""What every channel mapping answers: a channel's order as ShopOps's order input.

A mapping is a pure function of the channel's payload (a webhook body, a page of a pull, a row group of an export):
no database, no network. Its ``data`` has the shape of the API's ``OrderInput`` (``orders.api.serializers``) with
JSON values (money as decimal strings, times as ISO 8601), so it goes through the same checks and the same writer
as an order created by a partner: the writer refuses what the mapping could not know (an unknown pickup location,
a total that does not add up, a phone that is not one). ``lines[].sku`` is the channel's SKU: the caller maps it to
the merchant's product through the SKU mapping table; an unmapped SKU makes an order whose line waits to be mapped,
never a dropped line.

A payload that cannot be an order at all (no lines, no shipping address, a quantity that is not a positive whole
number, a price that is not an amount) raises ``MappingError`` naming the field, in the channel's own terms.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from shopops.money import CENT, round_money


class MappingError(ValueError):
    """The channel's payload cannot be an order; ``field`` is the channel's own field name (``line_items.0.price``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ChannelOrder:
    """A channel's order as ShopOps sees it."""

    #: The channel's id of the order (``Order.channel_order_id``): Shopify's ``id``, WooCommerce's ``id``, Magento's
    #: ``increment_id``, Amazon's ``AmazonOrderId``.
    external_id: str
    #: ``OrderInput``-shaped order input, JSON values; ``channel`` and ``pickup_location`` are left to the caller.
    data: dict[str, Any]
    #: The channel's status of the order, as the channel spells it ("paid", "processing", "Unshipped"...).
    channel_status: str = ""
    #: Whether the channel cancelled the order, and why (in the channel's words).
    cancelled: bool = False
    cancel_reason: str = ""
    #: When the channel last changed the order (the pull cursor and the order of updates).
    updated_at: datetime | None = None
    #: Whether the order is the channel's to ship: an order the marketplace fulfils itself (Amazon AFN), a
    #: pending/draft order, is not taken in.
    shippable: bool = True
    #: The channel's names of the payment gateway or method ("Cash on Delivery (COD)", "razorpay", "cod"): the
    #: channel's payment mapping may say what they mean where the mapping's own reading does not.
    payment_names: tuple[str, ...] = ()
    #: What the mapping noticed and kept out of the order (an unknown field is not one of them), shown on its event.
    notes: list[str] = field(default_factory=list)


def amount(value: Any, where: str) -> Decimal:
    """A channel's money value (a string or a number) as a Decimal; MappingError for anything else."""
    if isinstance(value, bool) or value is None or value == "":
        raise MappingError(where, f"{value!r} is not an amount.")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise MappingError(where, f"{value!r} is not an amount.") from None
    if not result.is_finite():
        raise MappingError(where, f"{value!r} is not an amount.")
    return result


def money(value: Decimal) -> str:
    """An amount as the order input's decimal string, rounded to paise (half up, as the order writer rounds)."""
    return str(round_money(value))


def line_price(count: int, gross_unit_price: Decimal, line_amount: Decimal, where: str) -> tuple[Decimal, Decimal]:
    """(unit_price, discount) of a line whose channel amount, GST included and after discounts, is ``line_amount``:
    the order writer's line total (count x unit_price - discount) is then exactly that amount.

    The unit price is the channel's GST-included price per unit (``gross_unit_price``, which may have more places
    than paise: a price before tax plus its tax) rounded up to the paisa, and never less than the line amount per
    unit; the discount is the rest (the channel's discount, its GST, and the rounding), never negative."""
    line_amount = round_money(line_amount)
    if line_amount < 0:
        raise MappingError(where, f"The line's amount after discounts is negative ({line_amount}).")
    unit_price = max(_paisa_up(gross_unit_price), _paisa_up(line_amount / count))
    return unit_price, count * unit_price - line_amount


def rate_text(value: Decimal) -> str:
    """A GST rate as the order input takes it: a percentage with two places (``18.0000`` -> ``18.00``)."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _paisa_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_CEILING)


def quantity(value: Any, where: str) -> int:
    """A line's quantity: a positive whole number; MappingError otherwise."""
    if isinstance(value, bool):
        raise MappingError(where, f"{value!r} is not a quantity.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise MappingError(where, f"{value!r} is not a quantity.") from None
    if not number.is_finite() or number != number.to_integral_value() or number <= 0:
        raise MappingError(where, f"{value!r} is not a positive whole quantity.")
    return int(number)


#: India's states and union territories by the codes the channels send, spelled as the address rules
#: (``shopops.validation.normalize_address``, Google's i18n address data) spell them: those rules know the names
#: only, so "KA" is refused where "Karnataka" passes. The codes are WooCommerce's (``i18n/states.php``: CT, OR, TS,
#: UK...), Shopify's (``Shopify/worldwide`` ``regions/IN.yml``: CG, OR, TS, UK with CT, OD, TG, UT as alternates)
#: and ISO 3166-2:IN's; Dadra and Nagar Haveli (DN) and Daman and Diu (DD, DH) are one territory since 2020.
INDIAN_STATE_CODES = {
    "AN": "Andaman and Nicobar Islands", "AP": "Andhra Pradesh", "AR": "Arunachal Pradesh", "AS": "Assam",
    "BR": "Bihar", "CH": "Chandigarh", "CG": "Chhattisgarh", "CT": "Chhattisgarh",
    "DN": "Dadra and Nagar Haveli and Daman and Diu", "DD": "Dadra and Nagar Haveli and Daman and Diu",
    "DH": "Dadra and Nagar Haveli and Daman and Diu", "DL": "Delhi", "GA": "Goa", "GJ": "Gujarat", "HR": "Haryana",
    "HP": "Himachal Pradesh", "JK": "Jammu and Kashmir", "JH": "Jharkhand", "KA": "Karnataka", "KL": "Kerala",
    "LA": "Ladakh", "LD": "Lakshadweep", "MP": "Madhya Pradesh", "MH": "Maharashtra", "MN": "Manipur",
    "ML": "Meghalaya", "MZ": "Mizoram", "NL": "Nagaland", "OR": "Odisha", "OD": "Odisha", "PY": "Puducherry",
    "PB": "Punjab", "RJ": "Rajasthan", "SK": "Sikkim", "TN": "Tamil Nadu", "TS": "Telangana", "TG": "Telangana",
    "TR": "Tripura", "UP": "Uttar Pradesh", "UK": "Uttarakhand", "UT": "Uttarakhand", "WB": "West Bengal",
}  # fmt: skip
#: Names the channels use that the address rules do not know (old names, WooCommerce's spellings).
INDIAN_STATE_NAMES = {
    "orissa": "Odisha", "pondicherry": "Puducherry", "pondicherry (puducherry)": "Puducherry",
    "uttaranchal": "Uttarakhand", "lakshadeep": "Lakshadweep", "chattisgarh": "Chhattisgarh",
    "andaman and nicobar": "Andaman and Nicobar Islands",
    "dadra and nagar haveli": "Dadra and Nagar Haveli and Daman and Diu",
    "daman and diu": "Dadra and Nagar Haveli and Daman and Diu",
}  # fmt: skip


def indian_state(state: str, country: str) -> str:
    """A channel's state of an Indian address (a code such as "KA", or a name) as the address rules spell it;
    anything else, and any other country's state, unchanged (the order writer refuses what it does not know)."""
    state = (state or "").strip()
    if (country or "IN").strip().upper() != "IN":
        return state
    return INDIAN_STATE_CODES.get(state.upper()) or INDIAN_STATE_NAMES.get(state.lower()) or state

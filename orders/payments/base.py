"""The shape every gateway's event is read into, and the helpers the gateway modules share."""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from babel.numbers import get_currency_precision, is_currency


class SignatureRefused(Exception):
    """The request does not prove it comes from the gateway (answered 401, nothing stored)."""


class UnreadableEvent(ValueError):
    """The event is signed but lacks what ShopOps needs from it (a payment id, an amount, a currency)."""


#: Payment methods as ShopOps names them.
METHODS = ("card", "upi", "netbanking", "wallet", "cod", "emi", "bank_transfer", "other")


@dataclass(frozen=True)
class Refund:
    """A refund the gateway reports: its id, amount and state (``pending``, ``processed`` or ``failed``)."""

    refund_id: str
    amount: Decimal
    status: str


@dataclass(frozen=True)
class GatewayEvent:
    """One gateway event about one payment.

    ``status`` is the payment's state the event reports (``authorized``, ``captured``, ``failed``; None when it
    reports none, e.g. a refund), ``amount_refunded`` the payment's refunded total when the event carries it, and
    ``reference`` the order reference the storefront set (Razorpay: ``notes.shopops_order`` or the order's
    ``receipt``; Stripe: ``metadata.shopops_order`` or the Checkout Session's ``client_reference_id``).
    """

    event_id: str
    event_type: str
    payment_id: str
    gateway_order_id: str
    method: str
    amount: Decimal
    currency: str
    status: str | None
    amount_refunded: Decimal | None
    reference: str
    occurred_at: datetime
    refund: Refund | None = None


def from_minor_units(value, currency: str) -> Decimal:
    """An amount in the currency's smallest unit (paise, cents; yen are whole) as a Decimal of the currency."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnreadableEvent(f"{value!r} is not an amount in minor units.")
    if not is_currency(currency):
        raise UnreadableEvent(f"{currency!r} is not a currency.")
    places = get_currency_precision(currency)
    return (Decimal(value) / (10**places)).quantize(Decimal(1).scaleb(-places))


def currency_code(value) -> str:
    code = str(value or "").strip().upper()
    if not is_currency(code):
        raise UnreadableEvent(f"{value!r} is not a currency code.")
    return code


def timestamp(value) -> datetime:
    """A Unix time (seconds) as an aware datetime; now when the event has none."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, tz=UTC)
    return datetime.now(tz=UTC)


def text(value, limit: int = 200) -> str:
    return str(value).strip()[:limit] if isinstance(value, str | int) and not isinstance(value, bool) else ""

"""Razorpay's webhooks: the signature, and the events read into ``GatewayEvent``.

- Signature: ``X-Razorpay-Signature`` is the hex HMAC-SHA256 of the raw body keyed with the webhook's secret,
  checked with the official SDK (``razorpay.Utility.verify_webhook_signature``, which takes the body as text). After
  a secret is changed Razorpay retries older events signed with the old one, so the previous secret is also tried.
- Identity: ``X-Razorpay-Event-Id`` is unique per event and repeated on a retry.
- Events taken in: ``payment.authorized``, ``payment.captured``, ``payment.failed``, ``order.paid`` (the payment
  captured, with its order) and ``refund.created``, ``refund.processed``, ``refund.failed``. Each carries the payment
  entity (``payload.payment.entity``): id (``pay_...``), amount and ``amount_refunded`` in paise, currency, status,
  ``order_id`` (``order_...``), method, ``notes``.
- The storefront names the ShopOps order in the payment's ``notes.shopops_order`` or in the Razorpay order's
  ``receipt``.
"""

import razorpay
from razorpay.errors import SignatureVerificationError

from orders.payments.base import (
    GatewayEvent,
    Refund,
    SignatureRefused,
    UnreadableEvent,
    currency_code,
    from_minor_units,
    text,
    timestamp,
)

SIGNATURE_HEADER = "X-Razorpay-Signature"
EVENT_ID_HEADER = "X-Razorpay-Event-Id"
#: The events taken in, and the payment state each reports (None: a refund's news).
EVENTS = {
    "payment.authorized": "authorized",
    "payment.captured": "captured",
    "payment.failed": "failed",
    "order.paid": "captured",
    "refund.created": None,
    "refund.processed": None,
    "refund.failed": None,
}
REFUND_STATES = {"refund.created": "pending", "refund.processed": "processed", "refund.failed": "failed"}
_METHODS = {"card": "card", "upi": "upi", "netbanking": "netbanking", "wallet": "wallet", "emi": "emi",
            "cardless_emi": "emi", "paylater": "other", "cod": "cod", "bank_transfer": "bank_transfer"}  # fmt: skip


def verify(body: bytes, signature: str | None, secrets: list[str]) -> None:
    """``SignatureRefused`` unless ``body`` is signed with one of ``secrets``."""
    signature = (signature or "").strip()
    if not signature:
        raise SignatureRefused(f"The request has no {SIGNATURE_HEADER} header.")
    try:
        body_text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureRefused("The body is not UTF-8 text, so it cannot be Razorpay's.") from None
    utility = razorpay.Utility()
    for secret in secrets:
        try:
            utility.verify_webhook_signature(body_text, signature, secret)
            return
        except SignatureVerificationError:
            continue
    raise SignatureRefused("The signature does not match the body with the gateway's webhook secret.")


def read(headers, payload: dict) -> GatewayEvent | None:
    """The event as a ``GatewayEvent``; None for an event ShopOps does not take in. ``UnreadableEvent`` when the
    payment entity lacks its id, amount or currency."""
    event_type = text(payload.get("event"))
    if event_type not in EVENTS:
        return None
    entities = payload.get("payload") if isinstance(payload.get("payload"), dict) else {}
    payment = _entity(entities, "payment")
    order = _entity(entities, "order")
    refund = _entity(entities, "refund")
    payment_id = text(payment.get("id"))
    if not payment_id:
        raise UnreadableEvent(f"The {event_type} event carries no payment.")
    currency = currency_code(payment.get("currency"))
    notes = payment.get("notes") if isinstance(payment.get("notes"), dict) else {}  # [] when the payment has none
    event_id = text(headers.get(EVENT_ID_HEADER) or "") or f"{event_type}:{payment_id}:{payload.get('created_at')}"
    return GatewayEvent(
        event_id=event_id,
        event_type=event_type,
        payment_id=payment_id,
        gateway_order_id=text(payment.get("order_id")) or text(order.get("id")),
        method=_METHODS.get(text(payment.get("method")), "other"),
        amount=from_minor_units(payment.get("amount"), currency),
        currency=currency,
        status=EVENTS[event_type],
        amount_refunded=(
            from_minor_units(payment["amount_refunded"], currency)
            if payment.get("amount_refunded") is not None
            else None
        ),  # fmt: skip
        reference=text(notes.get("shopops_order")) or text(order.get("receipt")),
        occurred_at=timestamp(payload.get("created_at")),
        refund=_refund(event_type, refund, currency),
    )


def _entity(entities: dict, name: str) -> dict:
    wrapper = entities.get(name)
    entity = wrapper.get("entity") if isinstance(wrapper, dict) else None
    return entity if isinstance(entity, dict) else {}


def _refund(event_type: str, refund: dict, currency: str) -> Refund | None:
    if event_type not in REFUND_STATES:
        return None
    if not text(refund.get("id")):
        raise UnreadableEvent(f"The {event_type} event carries no refund.")
    return Refund(text(refund.get("id")), from_minor_units(refund.get("amount"), currency), REFUND_STATES[event_type])

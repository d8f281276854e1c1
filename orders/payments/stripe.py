"""Stripe's webhooks: the signature, and the events read into ``GatewayEvent``.

- Signature: ``Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...]``, the hex HMAC-SHA256 of ``"<t>.<raw body>"``
  keyed with the endpoint's secret (``whsec_...``); any ``v1`` may match, and ``t`` may be at most 300 s old. Checked
  with the official SDK (``stripe.WebhookSignature.verify_header``, no network call); the previous secret is also
  tried while a secret is being rolled.
- Identity: the event's ``id`` (``evt_...``), repeated on a retry.
- Events taken in: ``payment_intent.succeeded`` (captured), ``payment_intent.amount_capturable_updated``
  (authorized, for manual capture), ``payment_intent.payment_failed``, ``charge.refunded`` (the charge's
  ``amount_refunded``, partial refunds included) and ``checkout.session.completed`` (the Checkout Session, its
  PaymentIntent and ``client_reference_id``). A payment is known by its PaymentIntent id (``pi_...``).
- The storefront names the ShopOps order in ``metadata.shopops_order`` (PaymentIntent, Charge or Session) or, with
  Checkout, in ``client_reference_id``.
"""

import stripe

from orders.payments.base import (
    GatewayEvent,
    SignatureRefused,
    UnreadableEvent,
    currency_code,
    from_minor_units,
    text,
    timestamp,
)

SIGNATURE_HEADER = "Stripe-Signature"
TOLERANCE_SECONDS = 300
#: The events taken in, and the payment state each reports (None: news of refunds or of the session only).
EVENTS = {
    "payment_intent.succeeded": "captured",
    "payment_intent.amount_capturable_updated": "authorized",
    "payment_intent.payment_failed": "failed",
    "charge.refunded": None,
    "checkout.session.completed": None,
}
_METHODS = {"card": "card", "upi": "upi", "netbanking": "netbanking", "us_bank_account": "bank_transfer",
            "customer_balance": "bank_transfer", "link": "wallet", "paypal": "wallet"}  # fmt: skip


def verify(body: bytes, header: str | None, secrets: list[str], tolerance: int = TOLERANCE_SECONDS) -> None:
    """``SignatureRefused`` unless ``body`` carries a valid ``v1`` signature with one of ``secrets``, made less than
    ``tolerance`` seconds ago."""
    header = (header or "").strip()
    if not header:
        raise SignatureRefused(f"The request has no {SIGNATURE_HEADER} header.")
    try:
        body_text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureRefused("The body is not UTF-8 text, so it cannot be Stripe's.") from None
    reasons = []
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(body_text, header, secret, tolerance)
            return
        except stripe.SignatureVerificationError as exc:
            reasons.append(str(exc.user_message or exc))
    raise SignatureRefused(reasons[0] if reasons else "The gateway has no webhook secret.")


def read(payload: dict) -> GatewayEvent | None:
    """The event as a ``GatewayEvent``; None for an event ShopOps does not take in, or a Checkout Session without
    a payment (a subscription's or a setup's). ``UnreadableEvent`` when the object lacks an id, amount or
    currency."""
    event_type = text(payload.get("type"))
    if event_type not in EVENTS:
        return None
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    obj = data.get("object") if isinstance(data.get("object"), dict) else {}
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    reference = text(metadata.get("shopops_order"))
    currency = currency_code(obj.get("currency"))
    status, refunded, gateway_order_id = EVENTS[event_type], None, ""
    if event_type.startswith("payment_intent."):
        payment_id, amount = text(obj.get("id")), obj.get("amount")
        method = _method((obj.get("payment_method_types") or [""])[0])
    elif event_type == "charge.refunded":
        payment_id, amount = text(obj.get("payment_intent")) or text(obj.get("id")), obj.get("amount")
        refunded = from_minor_units(obj.get("amount_refunded"), currency)
        details = obj.get("payment_method_details") if isinstance(obj.get("payment_method_details"), dict) else {}
        method = _method(details.get("type"))
    else:  # checkout.session.completed
        payment_id, amount = text(obj.get("payment_intent")), obj.get("amount_total")
        if not payment_id:
            return None
        gateway_order_id = text(obj.get("id"))
        reference = text(obj.get("client_reference_id")) or reference
        status = "captured" if obj.get("payment_status") == "paid" else None
        method = _method((obj.get("payment_method_types") or [""])[0])
    if not payment_id:
        raise UnreadableEvent(f"The {event_type} event carries no payment.")
    event_id = text(payload.get("id"))
    if not event_id:
        raise UnreadableEvent("The event has no id.")
    return GatewayEvent(
        event_id=event_id, event_type=event_type, payment_id=payment_id, gateway_order_id=gateway_order_id,
        method=method, amount=from_minor_units(amount, currency), currency=currency, status=status,
        amount_refunded=refunded, reference=reference, occurred_at=timestamp(payload.get("created")),
    )  # fmt: skip


def _method(value) -> str:
    return _METHODS.get(text(value), "other")

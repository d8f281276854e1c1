"""Payments from gateways' webhooks: verified on the raw body, stored once per event, applied to their payment in
the same transaction, and the order's payment status derived from its payments.

Each gateway connection has its own webhook address (``GatewayConnection.webhook_id``), so a request is checked
against that connection's secrets only, and what it carries only ever touches that merchant's payments and orders.

Events arrive twice and out of order. A repeat (the same event id) is answered 200 and changes nothing. A payment's
status only moves forward: created, then authorized, then captured; failed only before a capture; a refund implies
a capture, and the refunded total only grows (the gateways send the payment's total, not the increment). So a
``payment.authorized`` that arrives after ``payment.captured`` leaves the payment captured.

A payment finds its order by the reference the storefront set (the order number: Razorpay ``notes.shopops_order``
or the order's ``receipt``; Stripe ``metadata.shopops_order`` or Checkout's ``client_reference_id``), else by an
earlier payment of the same gateway order; else it waits, unmatched, for the merchant to link it
(``payment_link``).
"""

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from importlib import import_module
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum

from orders.errors import PAYMENT_ALREADY_MATCHED, PAYMENT_CURRENCY_MISMATCH
from orders.models import (
    GATEWAY_PAYMENT_STATES,
    PAYMENT_STATES,
    GatewayConnection,
    GatewayPaymentStatus,
    Order,
    OrderEventKind,
    Payment,
    PaymentEvent,
    PaymentGateway,
    PaymentStatus,
    order_event,
)
from orders.payments.base import GatewayEvent, SignatureRefused, UnreadableEvent
from orders.services.channel_webhooks import WebhookNotFound, WebhookTooLarge
from shopops.crypto import merge_credentials
from shopops.models import Merchant
from shopops.transitions import transition
from shopops.validation import loads_storable

#: The largest webhook body stored.
WEBHOOK_MAX_BYTES = 1_000_000
GATEWAY_MODULES = {PaymentGateway.RAZORPAY: "orders.payments.razorpay", PaymentGateway.STRIPE: "orders.payments.stripe"}
#: How far each status is along a payment's life; a status only gives way to a later one.
PROGRESS = {
    GatewayPaymentStatus.CREATED: 0,
    GatewayPaymentStatus.FAILED: 1,
    GatewayPaymentStatus.AUTHORIZED: 1,
    GatewayPaymentStatus.CAPTURED: 2,
    GatewayPaymentStatus.PARTIALLY_REFUNDED: 3,
    GatewayPaymentStatus.REFUNDED: 4,
}
#: Statuses of a payment whose money was taken.
CAPTURED_STATUSES = (GatewayPaymentStatus.CAPTURED, GatewayPaymentStatus.PARTIALLY_REFUNDED,
                     GatewayPaymentStatus.REFUNDED)  # fmt: skip
ACTOR = "gateway:{}"


@dataclass(frozen=True)
class Received:
    """What a webhook request did: the stored event (None when not taken in), whether it is new, and why nothing
    was stored."""

    event: PaymentEvent | None
    new: bool
    ignored: str = ""

    @property
    def stored(self) -> bool:
        return self.event is not None


def gateway_module(gateway: str):
    return import_module(GATEWAY_MODULES[gateway])


def webhook_secrets(connection: GatewayConnection) -> list[str]:
    found = [connection.credentials.get(name, "") for name in ("webhook_secret", "previous_webhook_secret")]
    return list(dict.fromkeys(secret for secret in found if secret))


def payment_webhook_receive(*, webhook_id: str, headers, body: bytes) -> Received:
    """Verify a gateway's webhook request, store its event once and apply it to its payment.

    ``WebhookNotFound``; ``SignatureRefused`` (nothing stored); ``WebhookTooLarge``; ``ValueError`` for a body that
    is not a JSON object. An event of a type ShopOps does not take in is answered and not stored; a signed event
    that lacks what a payment needs is stored with the reason, for the merchant to see."""
    connection = GatewayConnection.objects.filter(webhook_id=webhook_id, is_active=True).first()
    if connection is None:
        raise WebhookNotFound(webhook_id)
    module = gateway_module(connection.gateway)
    secrets = webhook_secrets(connection)
    if not secrets:
        raise SignatureRefused(f"The gateway {connection.name!r} has no webhook secret: set the one it signs with.")
    module.verify(body, headers.get(module.SIGNATURE_HEADER), secrets)
    if len(body) > WEBHOOK_MAX_BYTES:
        raise WebhookTooLarge(f"The body is larger than {WEBHOOK_MAX_BYTES} bytes.")
    payload = loads_storable(body.decode("utf-8"))
    if not isinstance(payload, dict):
        raise ValueError("The body is not a JSON object.")
    try:
        event = module.read(headers, payload) if connection.gateway == PaymentGateway.RAZORPAY else module.read(payload)
    except UnreadableEvent as exc:
        return _store_unreadable(connection, headers, payload, str(exc))
    if event is None:
        return Received(None, False, f"ShopOps does not take in {module.__name__.rsplit('.', 1)[1]} events of this "
                                     f"type; it takes in {', '.join(sorted(module.EVENTS))}.")  # fmt: skip
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: a repeated event is recognised by the unique event id
                stored = PaymentEvent.objects.create(
                    merchant_id=connection.merchant_id, connection=connection, event_id=event.event_id[:200],
                    event_type=event.event_type, payload=payload,
                )  # fmt: skip
        except IntegrityError:
            return Received(PaymentEvent.objects.get(connection=connection, event_id=event.event_id[:200]), False)
        payment, outcome = _apply(connection, event)
        stored.payment, stored.outcome = payment, outcome[:300]
        stored.save(update_fields=["payment", "outcome"])
    return Received(stored, True)


def _store_unreadable(connection: GatewayConnection, headers, payload: dict, reason: str) -> Received:
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    event_id = str(payload.get("id") or headers.get("X-Razorpay-Event-Id") or "")[:200] or f"sha256:{digest}"
    try:
        with transaction.atomic():
            stored = PaymentEvent.objects.create(
                merchant_id=connection.merchant_id, connection=connection, event_id=event_id,
                event_type=str(payload.get("event") or payload.get("type") or "")[:60], payload=payload,
                outcome=f"Not applied: {reason}"[:300],
            )  # fmt: skip
    except IntegrityError:
        return Received(PaymentEvent.objects.get(connection=connection, event_id=event_id), False)
    return Received(stored, True)


def _apply(connection: GatewayConnection, event: GatewayEvent) -> tuple[Payment, str]:
    """Apply ``event`` to its payment (created on its first event, locked otherwise) and to the payment's order."""
    # The payment's row, made by its first event; two first events at once make one row (get_or_create catches the
    # loser's unique violation in a savepoint and reads the winner's), then each event applies under the row's lock.
    payment, is_new = Payment.objects.get_or_create(
        connection=connection, payment_id=event.payment_id,
        defaults={"merchant_id": connection.merchant_id, "gateway": connection.gateway, "amount": event.amount,
                  "currency": event.currency, "method": event.method},
    )  # fmt: skip
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    before = payment.status
    if event.method != "other":
        payment.method = event.method
    payment.gateway_order_id = payment.gateway_order_id or event.gateway_order_id
    payment.reference = payment.reference or event.reference
    if payment.status == GatewayPaymentStatus.CREATED:
        payment.amount, payment.currency = event.amount, event.currency
    if event.amount_refunded is not None:
        payment.amount_refunded = min(max(payment.amount_refunded, event.amount_refunded), payment.amount)
    if payment.last_event_at is None or event.occurred_at > payment.last_event_at:
        payment.last_event_at = event.occurred_at
    if payment.order_id is None:
        payment.order = _find_order(connection, payment)
    payment.save()
    after = _next_status(payment, event.status)
    if after != before:
        payment = transition(GATEWAY_PAYMENT_STATES, payment, after, locked=True)
    outcome = (f"Recorded as {payment.status}" if is_new else f"{before} → {payment.status}"
               if before != payment.status else f"Still {payment.status}")  # fmt: skip
    if payment.order_id is None:
        outcome += "; no order matched yet"
    else:
        outcome += f"; order {payment.order.number}"
        payment_status_refresh(order=payment.order, actor=ACTOR.format(connection.gateway))
    return payment, outcome


def _next_status(payment: Payment, reported: str | None) -> str:
    """The payment's status after an event reporting ``reported``: never back along its life, refunds derived from
    the refunded total."""
    status = payment.status
    if reported == GatewayPaymentStatus.FAILED:
        status = status if PROGRESS[status] >= PROGRESS[GatewayPaymentStatus.AUTHORIZED] else reported
    elif (
        reported is not None
        and PROGRESS[reported] > PROGRESS[status]
        or (reported == GatewayPaymentStatus.AUTHORIZED and status == GatewayPaymentStatus.FAILED)
    ):
        status = reported
    if payment.amount_refunded > 0:  # refunded money was captured first, whatever order the events came in
        full = payment.amount_refunded >= payment.amount
        status = GatewayPaymentStatus.REFUNDED if full else GatewayPaymentStatus.PARTIALLY_REFUNDED
    return status


def _find_order(connection: GatewayConnection, payment: Payment) -> Order | None:
    """The merchant's order the payment names (its number, as given or upper-cased), else the order an earlier
    payment of the same gateway order was matched to; only in the payment's currency."""
    orders = Order.objects.filter(merchant_id=connection.merchant_id, currency=payment.currency)
    if payment.reference:
        found = orders.filter(number__in={payment.reference, payment.reference.upper()}).first()
        if found is not None:
            return found
    if payment.gateway_order_id:
        earlier = (Payment.objects.filter(connection=connection, gateway_order_id=payment.gateway_order_id,
                                          order__isnull=False, order__currency=payment.currency)
                   .exclude(pk=payment.pk).select_related("order").first())  # fmt: skip
        if earlier is not None:
            return earlier.order
    return None


def payment_status_refresh(*, order: Order, actor: str) -> Order:
    """Set ``order.payment_status`` from its captured payments: paid, then partially refunded or refunded as their
    refunded totals grow. An order with no captured payment keeps the status its channel or partner gave it. A
    change is the payment status table's move (PAYMENT_STATES): on the order's timeline and sent to partners as
    order.updated."""
    totals = Payment.objects.filter(order=order, status__in=CAPTURED_STATUSES).aggregate(
        captured=Sum("amount"), refunded=Sum("amount_refunded")
    )
    captured, refunded = totals["captured"] or Decimal(0), totals["refunded"] or Decimal(0)
    if captured <= 0:
        return order
    if refunded >= captured:
        status = PaymentStatus.REFUNDED
    elif refunded > 0:
        status = PaymentStatus.PARTIALLY_REFUNDED
    else:
        status = PaymentStatus.PAID
    if status == order.payment_status:
        return order
    data = {"fields": ["payment_status"], "captured": str(captured), "refunded": str(refunded)}
    return transition(PAYMENT_STATES, order, status, actor=actor, data=data,
                      message=f"Payment status: {order.payment_status} → {status}.")  # fmt: skip


def payment_link(*, payment: Payment, order: Order, actor: str) -> Payment:
    """Match an unmatched payment to ``order`` by hand (the order of the payment's merchant, in its currency)."""
    if order.merchant_id != payment.merchant_id:
        raise ValueError("The order is another merchant's.")  # callers look the order up in the merchant's orders
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.order_id is not None:
            raise PAYMENT_ALREADY_MATCHED(f"Payment {payment.payment_id} is already matched to an order.")
        if order.currency != payment.currency:
            raise PAYMENT_CURRENCY_MISMATCH(f"Payment {payment.payment_id} is in {payment.currency}; order "
                                            f"{order.number} is in {order.currency}.")  # fmt: skip
        payment.order = order
        payment.save(update_fields=["order", "updated_at"])
        order_event(order, OrderEventKind.PAYMENT, actor, message=f"Payment {payment.payment_id} matched to the "
                    "order.", data={"payment": payment.pk})  # fmt: skip
        payment_status_refresh(order=order, actor=actor)
    return payment


#: Each gateway's credentials (name -> required), stored encrypted and never shown again. None is required: a Stripe
#: endpoint's signing secret exists only once the endpoint is made with the connection's address, after saving.
GATEWAY_CREDENTIALS: dict[str, dict[str, bool]] = {
    PaymentGateway.RAZORPAY: {"key_id": False, "key_secret": False, "webhook_secret": False,
                              "previous_webhook_secret": False},
    PaymentGateway.STRIPE: {"secret_key": False, "webhook_secret": False, "previous_webhook_secret": False},
}  # fmt: skip


def gateway_connection_save(*, merchant: Merchant, data: dict[str, Any],
                            connection: GatewayConnection | None = None) -> GatewayConnection:  # fmt: skip
    """Create ``merchant``'s gateway connection (no ``connection``) or change it. ``data`` may hold name, gateway (on
    creation only), is_live, is_active and credentials: a credential given replaces the stored one, a blank or
    missing one keeps it. ValidationError for a bad value, a name the merchant already uses, or another gateway."""
    with transaction.atomic():
        if connection is None:
            connection = GatewayConnection(merchant=merchant, gateway=data.get("gateway", ""))
        else:
            connection = GatewayConnection.objects.select_for_update().get(pk=connection.pk, merchant=merchant)
            if data.get("gateway", connection.gateway) != connection.gateway:
                raise ValidationError({"gateway": ["A connection stays with its gateway; add another connection."]})
        for name in ("name", "is_live", "is_active"):
            if name in data:
                setattr(connection, name, data[name])
        connection.full_clean(exclude=["merchant", "credentials", "webhook_id"], validate_unique=False,
                              validate_constraints=False)  # fmt: skip
        connection.credentials = merge_credentials(GATEWAY_CREDENTIALS[connection.gateway], data.get("credentials"),
                                                   connection.credentials or {}, kind=connection.gateway)  # fmt: skip
        taken = GatewayConnection.objects.filter(merchant=merchant, name=connection.name).exclude(pk=connection.pk)
        if taken.exists():
            raise ValidationError({"name": [f"A payment gateway named {connection.name!r} already exists."]})
        connection.save()
    return connection

"""Channels' webhooks: verified on the raw body, stored as received (the inbox), answered at once, and taken in by
a worker.

Each channel has its own address (``Channel.webhook_id``, unguessable), so a request is checked against that
channel's secrets only, and what it carries can only ever become that channel's (that merchant's) orders.

- Shopify signs the raw body: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 keyed with the app's secret.
  After the secret is rotated Shopify may sign with the old one for up to an hour, so both the secret and the
  previous one are accepted. ``X-Shopify-Webhook-Id`` identifies a delivery (a retry repeats it): stored once.
  A delivery for another shop (``X-Shopify-Shop-Domain`` against the channel's store URL) is refused.
- WooCommerce signs the same way in ``X-WC-Webhook-Signature``. Saving a webhook in WooCommerce first sends an
  unsigned ping, a form body ``webhook_id=<n>`` with no WooCommerce headers, which must get a 200 for the save to
  succeed: it gets one and nothing is stored. WooCommerce's delivery id is a hash of the webhook id and the second,
  neither unique nor repeated on a retry, so a delivery is identified by the webhook, the order and the order's
  modification time.

A request that does not prove it comes from the channel is refused (401) with nothing stored; a topic that is not
an order's is answered 200 (the channel would otherwise retry it and then disable the webhook) and not stored.
"""

import base64
import hashlib
import hmac
import html
import json
import re
from dataclasses import dataclass
from importlib import import_module
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from orders.channels.base import MappingError
from orders.models import (
    CHANNEL_WEBHOOK_STATES,
    Channel,
    ChannelKind,
    ChannelWebhookDelivery,
    ConnectionStatus,
)
from orders.services.channel_orders import channel_order_apply
from shopops.dispatch import send_on_commit
from shopops.errors import DomainError
from shopops.transitions import transition_where
from shopops.validation import loads_storable

#: The largest webhook body stored (an order of 500 lines is well under it).
WEBHOOK_MAX_BYTES = 2_000_000
#: The order topics taken in, by kind (a cancellation comes as orders/cancelled, or an update with its status).
ORDER_TOPICS = {
    ChannelKind.SHOPIFY: {"orders/create", "orders/updated", "orders/cancelled"},
    ChannelKind.WOOCOMMERCE: {"order.created", "order.updated"},
}
SIGNATURE_HEADERS = {ChannelKind.SHOPIFY: "X-Shopify-Hmac-Sha256", ChannelKind.WOOCOMMERCE: "X-WC-Webhook-Signature"}
TOPIC_HEADERS = {ChannelKind.SHOPIFY: "X-Shopify-Topic", ChannelKind.WOOCOMMERCE: "X-WC-Webhook-Topic"}
_WOO_PING = re.compile(rb"^webhook_id=\d+$")


class WebhookNotFound(Exception):
    """No active channel (or payment gateway) that sends webhooks has this address."""


class WebhookRefused(Exception):
    """The request does not prove it comes from the channel (401, nothing stored)."""


class WebhookTooLarge(Exception):
    """The body is larger than ``WEBHOOK_MAX_BYTES`` (413, nothing stored)."""


@dataclass(frozen=True)
class Received:
    """What receiving a request did: the stored delivery (None for a ping or a topic not taken in), whether it is
    new, and why nothing was stored."""

    delivery: ChannelWebhookDelivery | None
    new: bool
    ignored: str = ""

    @property
    def stored(self) -> bool:
        return self.delivery is not None


def channel_webhook_receive(*, webhook_id: str, headers, body: bytes) -> Received:
    """Verify, store and hand to a worker a channel's webhook request. ``WebhookNotFound``, ``WebhookRefused``,
    ``WebhookTooLarge``; ``ValueError`` for a body that is not a JSON object."""
    channel = (Channel.objects.filter(webhook_id=webhook_id, is_active=True, kind__in=list(ORDER_TOPICS))
               .select_related("merchant").first())  # fmt: skip
    if channel is None:
        raise WebhookNotFound(webhook_id)
    if channel.kind == ChannelKind.WOOCOMMERCE and _is_woo_ping(headers, body):
        return Received(None, False, "WooCommerce's ping on saving the webhook.")
    verify_signature(channel, headers, body)
    if len(body) > WEBHOOK_MAX_BYTES:
        raise WebhookTooLarge(f"The body is larger than {WEBHOOK_MAX_BYTES} bytes.")
    topic = (headers.get(TOPIC_HEADERS[channel.kind]) or "").strip()
    if topic not in ORDER_TOPICS[channel.kind]:
        return Received(None, False, f"The topic {topic!r} is not an order's; ShopOps takes in "
                                     f"{', '.join(sorted(ORDER_TOPICS[channel.kind]))}.")  # fmt: skip
    payload = loads_storable(body.decode("utf-8"))
    if not isinstance(payload, dict):
        raise ValueError("The body is not a JSON object.")
    delivery_id = _delivery_id(channel, headers, payload, body)[:200]
    try:
        with transaction.atomic():
            delivery = ChannelWebhookDelivery.objects.create(
                merchant_id=channel.merchant_id, channel=channel, delivery_id=delivery_id, topic=topic,
                body=body.decode("utf-8"),
            )  # fmt: skip
            if channel.connection_status != ConnectionStatus.PAUSED:
                send_on_commit("orders.tasks.channel_webhook_process", delivery.pk)
    except IntegrityError:
        return Received(ChannelWebhookDelivery.objects.get(channel=channel, delivery_id=delivery_id), False)
    return Received(delivery, True)


def _is_woo_ping(headers, body: bytes) -> bool:
    return not headers.get(SIGNATURE_HEADERS[ChannelKind.WOOCOMMERCE]) and bool(_WOO_PING.match(body.strip()))


def webhook_secrets(channel: Channel) -> list[str]:
    """The secrets a signature may be made with: the current one and, during a rotation, the previous one. A
    WooCommerce secret with HTML entities is also tried decoded (WooCommerce decodes the stored secret before
    signing)."""
    found = [channel.credentials.get(name, "") for name in ("webhook_secret", "previous_webhook_secret")]
    if channel.kind == ChannelKind.WOOCOMMERCE:
        found += [html.unescape(secret) for secret in found]
    return list(dict.fromkeys(secret for secret in found if secret))


def verify_signature(channel: Channel, headers, body: bytes) -> None:
    """``WebhookRefused`` unless ``body`` is signed with one of the channel's webhook secrets (compared in constant
    time) and, for Shopify, comes from the channel's own shop."""
    secrets = webhook_secrets(channel)
    if not secrets:
        raise WebhookRefused(f"The channel {channel.name!r} has no webhook secret: set the one the channel signs "
                             "with.")  # fmt: skip
    given = (headers.get(SIGNATURE_HEADERS[channel.kind]) or "").strip()
    try:
        signature = base64.b64decode(given, validate=True)
    except ValueError:
        signature = b""
    if not signature or not any(
        hmac.compare_digest(hmac.new(secret.encode(), body, hashlib.sha256).digest(), signature) for secret in secrets
    ):
        raise WebhookRefused("The signature does not match the body with the channel's webhook secret.")
    shop = (headers.get("X-Shopify-Shop-Domain") or "").strip().lower()
    own = (urlsplit(channel.store_url).hostname or "").lower()
    if channel.kind == ChannelKind.SHOPIFY and shop and own and shop != own:
        raise WebhookRefused(f"The delivery is for the shop {shop}, not this channel's {own}.")


def _delivery_id(channel: Channel, headers, payload: dict, body: bytes) -> str:
    if channel.kind == ChannelKind.SHOPIFY and (webhook := (headers.get("X-Shopify-Webhook-Id") or "").strip()):
        return webhook
    if channel.kind == ChannelKind.WOOCOMMERCE and "id" in payload:
        hook = (headers.get("X-WC-Webhook-ID") or "").strip()
        return f"{hook}:{payload.get('id')}:{payload.get('date_modified_gmt') or payload.get('date_modified') or ''}"
    return "sha256:" + hashlib.sha256(body).hexdigest()


def channel_webhook_process(*, delivery_id: int) -> ChannelWebhookDelivery:
    """Take in a stored webhook's order (a worker's job). A delivery processed already is left alone; one of a
    paused channel waits (``channel_resume`` sends it again)."""
    delivery = ChannelWebhookDelivery.objects.select_related("channel__merchant").get(pk=delivery_id)
    channel = delivery.channel
    if delivery.status != ChannelWebhookDelivery.Status.PENDING or channel.connection_status == ConnectionStatus.PAUSED:
        return delivery
    ChannelWebhookDelivery.objects.filter(pk=delivery_id).update(attempts=F("attempts") + 1)
    S = ChannelWebhookDelivery.Status
    try:
        incoming = import_module(f"orders.channels.{channel.kind}").order_from_payload(json.loads(delivery.body))
        applied = channel_order_apply(channel=channel, incoming=incoming)
    except MappingError as exc:
        return _finished(delivery, S.FAILED, "The payload is not an order ShopOps can take in.",
                         {exc.field: [exc.message]})  # fmt: skip
    except ValidationError as exc:
        return _finished(delivery, S.FAILED, "The order could not be written.", exc.message_dict)
    except DomainError as exc:
        return _finished(delivery, S.FAILED, exc.message[:500], {"code": [exc.code]})
    status = S.IGNORED if applied.outcome == "ignored" else S.PROCESSED
    return _finished(delivery, status, applied.message, {}, order=applied.order)


def _finished(delivery, status: str, result: str, error: dict, order=None) -> ChannelWebhookDelivery:
    pending = ChannelWebhookDelivery.objects.filter(pk=delivery.pk)
    transition_where(CHANNEL_WEBHOOK_STATES, pending, status, result=result[:500], error=error, order=order,
                     processed_at=timezone.now())  # fmt: skip
    delivery.refresh_from_db()
    return delivery


def channel_webhook_retry(*, deliveries) -> int:
    """Process failed deliveries again (their cause fixed: a SKU mapped, a location added); how many were sent."""
    S = ChannelWebhookDelivery.Status
    ids = list(deliveries.filter(status=S.FAILED).values_list("pk", flat=True))
    with transaction.atomic():
        moved = transition_where(CHANNEL_WEBHOOK_STATES, ChannelWebhookDelivery.objects.filter(pk__in=ids), S.PENDING,
                                 error={}, result="", queued_at=timezone.now())  # fmt: skip
        for pk in ids:
            send_on_commit("orders.tasks.channel_webhook_process", pk)
    return moved

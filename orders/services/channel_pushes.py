"""Write-backs to stores: what ShopOps tells a channel, through an outbox.

- **Fulfilment**: when a shipment of a store's order gets its AWB, a ``ChannelPush`` is written in the same
  transaction (``fulfilment_queue``, called by the shipment services), and a worker tells the store: Shopify gets a
  fulfilment with the tracking company, number and URL; WooCommerce a customer note and the order's status;
  Magento a shipment with its track; Amazon a shipment confirmation (confirmShipment).
- **Stock**: a mapped SKU's available quantity is pushed when it differs from what the store was last told
  (``stock_reconcile``, on Celery beat every ``CHANNEL_STOCK_EVERY`` seconds). Comparing the stock with what was
  last sent, rather than reacting to each stock move, debounces a burst of moves into one push, never runs inside a
  stock transaction, and cannot lose a change: whatever happened, the next run sees the difference. The quantity is
  the product's available stock (on hand less reserved) at the channel's pickup location, or at every active
  location when the channel names none, never below 0.

A push is sent step by step (``orders.channels.writeback``): each step's answer is kept on the push (``known``), so
a retry after a lost answer resumes instead of repeating a step that took (a second fulfilment, a second note).
A transient failure (no answer, 429, 5xx, an open circuit) is retried with backoff up to
``CHANNEL_PUSH_MAX_ATTEMPTS``; a refusal by the store (its own words) fails the push at once. Failed pushes are
listed with their reason and may be sent again.
"""

import json
from datetime import UTC, datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from orders.channels.http import ChannelClient
from orders.channels.writeback import MAX_STEPS, WritebackRefused, WritebackRetry
from orders.errors import CHANNEL_ADDRESS_REFUSED, CHANNEL_OUTCOME_UNKNOWN
from orders.models import CHANNEL_PUSH_STATES, Channel, ChannelKind, ChannelPush, ConnectionStatus, Order, SkuMapping
from orders.services.channel_sync import amazon_access_token, auth_headers, base, missing, sp_api_host
from shopops.dispatch import send_on_commit
from shopops.errors import DomainError
from shopops.transitions import transition_where

#: The stores ShopOps writes back to.
PUSH_KINDS = (ChannelKind.SHOPIFY, ChannelKind.WOOCOMMERCE, ChannelKind.MAGENTO, ChannelKind.AMAZON)
#: Options a kind's stock push cannot do without, and why.
STOCK_NEEDS = {
    ChannelKind.SHOPIFY: ("location_id", "Set the channel's Shopify location (options.location_id) for stock pushes: "
                          "Shopify keeps stock per location."),
    ChannelKind.AMAZON: ("seller_id", "Set the channel's Amazon seller id (options.seller_id, Seller Central's "
                         "Merchant Token) for stock pushes: listings are addressed by seller and SKU."),
}  # fmt: skip
#: The longest wait between two attempts of a push.
MAX_BACKOFF = timedelta(hours=6)
#: How long a worker holds a push it is sending (longer than a send's time limit).
SEND_LEASE = timedelta(minutes=5)


def pushes_to(channel: Channel) -> bool:
    """Whether ShopOps writes back to the channel: a store it can reach (its address and credentials given), not
    paused."""
    return channel.kind in PUSH_KINDS and not missing(channel) and (
        channel.connection_status != ConnectionStatus.PAUSED)  # fmt: skip


def fulfilment_queue(*, order: Order, awb: str, courier_name: str, tracking_url: str, package: int | None = None,
                     shipped_at: datetime | None = None) -> ChannelPush | None:  # fmt: skip
    """Tell the order's store its AWB (in the caller's transaction; sent after commit). None when the order's channel
    is not a store ShopOps writes back to. ``package``: the shipment's id (Amazon's package reference);
    ``shipped_at``: when the AWB was assigned (Amazon's ship date; now when not given)."""
    channel = order.channel
    if not pushes_to(channel):
        return None
    push = ChannelPush.objects.create(
        merchant_id=order.merchant_id, channel=channel, kind=ChannelPush.Kind.FULFILMENT, order=order,
        key=f"fulfilment:{order.pk}:{awb}"[:120],
        data={"order_id": order.channel_order_id, "awb": awb, "courier_name": courier_name,
              "tracking_url": tracking_url, "notify": True, "package": package,
              "ship_date": (shipped_at or timezone.now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
    )  # fmt: skip
    send_on_commit("orders.tasks.channel_push_send", push.pk)
    return push


def stock_quantities(channel: Channel) -> dict[int, int]:
    """mapping id -> the available quantity to tell the store (never below 0), in one query."""
    levels = Q(product__stock_levels__location__is_active=True)
    if channel.pickup_location_id:
        levels &= Q(product__stock_levels__location_id=channel.pickup_location_id)
    rows = (SkuMapping.objects.filter(channel=channel).values("pk")
            .annotate(available=Sum("product__stock_levels__available", filter=levels)))  # fmt: skip
    return {row["pk"]: max(0, row["available"] or 0) for row in rows}


def stock_reconcile(*, channel: Channel, now: datetime | None = None) -> int:
    """Queue a stock push for each of the channel's mapped SKUs whose available quantity differs from what the store
    was last told (a pending push's figure is replaced in place); returns how many were queued or updated."""
    if not pushes_to(channel):
        return 0
    now = now or timezone.now()
    quantities = stock_quantities(channel)
    mappings = {m.pk: m for m in SkuMapping.objects.filter(channel=channel, pk__in=quantities)}
    pending = {p.mapping_id: p for p in ChannelPush.objects.filter(channel=channel, kind=ChannelPush.Kind.STOCK,
                                                                   status=ChannelPush.Status.PENDING)}  # fmt: skip
    changed = 0
    with transaction.atomic():
        for pk, quantity in quantities.items():
            mapping, waiting = mappings[pk], pending.get(pk)
            if waiting is not None:
                if waiting.data.get("quantity") != quantity:
                    ChannelPush.objects.filter(pk=waiting.pk, status=ChannelPush.Status.PENDING).update(
                        data={**waiting.data, "quantity": quantity}, updated_at=now
                    )
                    changed += 1
                continue
            if mapping.pushed_quantity == quantity:
                continue
            push = ChannelPush.objects.create(
                merchant_id=channel.merchant_id, channel=channel, kind=ChannelPush.Kind.STOCK, mapping=mapping,
                key=f"stock:{pk}", data={"sku": mapping.channel_sku, "quantity": quantity}, next_attempt_at=now,
            )  # fmt: skip
            send_on_commit("orders.tasks.channel_push_send", push.pk)
            changed += 1
    return changed


def backoff(attempts: int) -> timedelta:
    """The wait after ``attempts`` failed attempts: 1, 2, 4, 8... minutes, at most MAX_BACKOFF."""
    return min(timedelta(minutes=2 ** max(0, attempts - 1)), MAX_BACKOFF)


def push_succeeded(push: ChannelPush, known: dict, now: datetime) -> ChannelPush:
    with transaction.atomic():
        transition_where(CHANNEL_PUSH_STATES, ChannelPush.objects.filter(pk=push.pk), ChannelPush.Status.SENT,
                         known=known, sent_at=now, last_error="", updated_at=now)  # fmt: skip
        if push.kind == ChannelPush.Kind.STOCK and push.mapping_id:
            SkuMapping.objects.filter(pk=push.mapping_id).update(pushed_quantity=push.data["quantity"], pushed_at=now)
    push.refresh_from_db()
    return push


def push_failed(push: ChannelPush, known: dict, error: str, now: datetime, *, retry: bool) -> ChannelPush:
    """Record a failed attempt: retried later (backoff) when ``retry`` and attempts remain, else failed."""
    attempts = push.attempts + 1
    pending = ChannelPush.objects.filter(pk=push.pk, status=ChannelPush.Status.PENDING)
    if retry and attempts < settings.CHANNEL_PUSH_MAX_ATTEMPTS:
        pending.update(attempts=attempts, known=known, last_error=error[:500], updated_at=now,
                       next_attempt_at=now + backoff(attempts))  # fmt: skip
    else:
        transition_where(CHANNEL_PUSH_STATES, pending, ChannelPush.Status.FAILED, attempts=attempts, known=known,
                         last_error=error[:500], updated_at=now)  # fmt: skip
    push.refresh_from_db()
    return push


def pushes_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Send the pending pushes whose time has come (Celery beat); how many were sent to workers."""
    now = now or timezone.now()
    due = ChannelPush.objects.filter(status=ChannelPush.Status.PENDING, next_attempt_at__lte=now)
    ids = list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    with transaction.atomic():
        for pk in ids:
            send_on_commit("orders.tasks.channel_push_send", pk)
    return len(ids)


def push_retry(*, pushes) -> int:
    """Send failed pushes again (their cause fixed); how many."""
    ids = list(pushes.filter(status=ChannelPush.Status.FAILED).values_list("pk", flat=True))
    with transaction.atomic():
        failed = ChannelPush.objects.filter(pk__in=ids)
        moved = transition_where(CHANNEL_PUSH_STATES, failed, ChannelPush.Status.PENDING, attempts=0,
                                 next_attempt_at=timezone.now(), last_error="")  # fmt: skip
        for pk in ids:
            send_on_commit("orders.tasks.channel_push_send", pk)
    return moved


def _options(channel: Channel, push: ChannelPush) -> dict:
    """The push's data with the channel's write-back settings."""
    options = channel.options or {}
    extra = {
        ChannelKind.SHOPIFY: {"location_id": options.get("location_id", "")},
        ChannelKind.WOOCOMMERCE: {"status": options.get("shipped_status", "completed")},
        ChannelKind.MAGENTO: {"source_code": options.get("source_code", "default")},
        ChannelKind.AMAZON: {"marketplace_id": channel.marketplace_id, "seller_id": options.get("seller_id", "")},
    }.get(channel.kind, {})
    return {**extra, **push.data}


def _endpoint(channel: Channel, client: ChannelClient) -> tuple[str, dict[str, str], tuple[str, ...]]:
    """Where the channel's API is, with its authentication and the hosts it may be reached at: the store's URL, or
    the marketplace region's SP-API host with a Login with Amazon access token (renewed when near its end)."""
    if channel.kind == ChannelKind.AMAZON:
        host = sp_api_host(channel)
        token = amazon_access_token(channel, client)
        return f"https://{host}", {"x-amz-access-token": token, "Accept": "application/json"}, (host,)
    return base(channel), auth_headers(channel), ()


def channel_push_send(*, push_id: int, now: datetime | None = None) -> ChannelPush | None:
    """Send one push to its store (a worker's job; no transaction open), step by step, keeping what each answer
    taught. A push not pending, not yet due, or of a channel that is paused waits as it is."""
    now = now or timezone.now()
    push = ChannelPush.objects.select_related("channel").filter(pk=push_id).first()
    if push is None or push.status != ChannelPush.Status.PENDING or push.next_attempt_at > now:
        return push
    channel = push.channel
    if not pushes_to(channel):
        return push
    # Claimed for SEND_LEASE (a conditional UPDATE): a second delivery of the job, or the beat's sweep, meanwhile
    # finds it not due and leaves it, so a store is never written to by two workers at once.
    due = ChannelPush.objects.filter(pk=push.pk, status=ChannelPush.Status.PENDING, next_attempt_at__lte=now)
    if not due.update(next_attempt_at=now + SEND_LEASE):
        return push
    needed, why = STOCK_NEEDS.get(channel.kind, ("", ""))
    if needed and push.kind == ChannelPush.Kind.STOCK and not (channel.options or {}).get(needed):
        return push_failed(push, dict(push.known or {}), why, now, retry=False)
    module = import_module(f"orders.channels.writeback.{channel.kind}")
    plan, read = getattr(module, f"plan_{push.kind}"), getattr(module, f"read_{push.kind}")
    data, known = _options(channel, push), dict(push.known or {})
    try:
        with ChannelClient(channel, operation=f"push {push.kind}") as client:
            for _ in range(MAX_STEPS):
                request = plan(data, known)
                if request is None:
                    return push_succeeded(push, known, now)
                root, headers, hosts = _endpoint(channel, client)
                try:
                    exchange = client.request(request.method, root + request.path, headers=headers,
                                              params=request.params or None, json_body=request.json, hosts=hosts,
                                              idempotent=request.idempotent, refusals=True)  # fmt: skip
                except DomainError as exc:
                    if exc.code == CHANNEL_OUTCOME_UNKNOWN.code:  # it may have taken: check before writing again
                        known |= read(None, known, data)
                    raise
                answer = json.loads(exchange.content) if exchange.content.strip() else {}
                known |= read(answer, known, data)
        raise WritebackRefused(f"The write-back took more than {MAX_STEPS} steps.")
    except WritebackRefused as exc:
        return push_failed(push, known, exc.message, now, retry=False)
    except WritebackRetry as exc:
        return push_failed(push, known, exc.message, now, retry=True)
    except ValueError as exc:  # an answer that is not JSON
        return push_failed(push, known, f"{channel.name}: the store's answer is not JSON ({exc}).", now, retry=True)
    except DomainError as exc:  # an address ShopOps may not call fails at once; anything else is tried again
        return push_failed(push, known, exc.message, now, retry=exc.code != CHANNEL_ADDRESS_REFUSED.code)


def channels_stock_reconcile(*, now: datetime | None = None) -> int:
    """Compare every store channel's mapped SKUs with what it was last told (Celery beat); pushes queued."""
    channels = Channel.objects.filter(kind__in=PUSH_KINDS, is_active=True, sku_mappings__isnull=False).distinct()
    return sum(stock_reconcile(channel=channel, now=now) for channel in channels.order_by("pk"))

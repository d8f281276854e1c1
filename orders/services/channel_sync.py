"""A store's connection tested, and its orders pulled on a schedule into the same inbox its webhooks fill.

A webhook can be lost (the store gave up retrying, the endpoint was down, the merchant never registered it), so
each connected store is also asked, every ``CHANNEL_PULL_EVERY`` seconds, for the orders updated since the last
pull. Each order of a page becomes an inbox row (``ChannelWebhookDelivery`` with topic ``pull`` and delivery id
``pull:<order id>:<updated_at>``) and is taken in by the worker that takes webhooks in
(``channel_webhook_process``): one road into orders, one dedupe. A repeated pull (or an order that came by webhook
too) stores nothing new or finds its order unchanged.

The cursor is the store's own updated_at of the last order of the last page stored, saved in the transaction that
stores that page: a pull that fails on its third page keeps the first two and the next pull starts after them.
The next pull asks from the cursor itself (nothing subtracted): the order at the cursor comes again and is
deduplicated. A first pull starts ``CHANNEL_PULL_BACKFILL`` seconds back. Amazon's pages
come in no promised order, so its cursor moves once, at the end of a pull.

Calls to the store run with no transaction open (``orders.channels.http``); a page is stored in a short one.
"""

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from orders.channels.http import REJECTED_MESSAGE, ChannelClient, mark_connected, mark_failing
from orders.errors import CHANNEL_BAD_RESPONSE, CHANNEL_CREDENTIALS_REJECTED, CHANNEL_NOT_CONFIGURED
from orders.models import Channel, ChannelKind, ChannelWebhookDelivery, ConnectionStatus
from shopops.dispatch import send_on_commit
from shopops.errors import DomainError
from shopops.integrations import outside_transaction

SHOPIFY_API = "/admin/api/2024-10"
#: Orders per page asked of each store (Shopify's and Magento's maximum is 250; WooCommerce's is 100).
PAGE_SIZE = {ChannelKind.SHOPIFY: 250, ChannelKind.WOOCOMMERCE: 100, ChannelKind.MAGENTO: 100}
#: The credentials each kind's calls need.
NEEDED = {
    ChannelKind.SHOPIFY: ("access_token",),
    ChannelKind.WOOCOMMERCE: ("consumer_key", "consumer_secret"),
    ChannelKind.MAGENTO: ("access_token",),
    ChannelKind.AMAZON: ("client_id", "client_secret", "refresh_token"),
}
#: Login with Amazon, where an Amazon channel's refresh token becomes an access token (an hour's).
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
#: The Selling Partner API's host by marketplace: North America, Far East, and Europe (India, the Middle East and
#: the rest) for every other marketplace.
SP_API_HOSTS = {
    **dict.fromkeys(("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8", "A2Q3Y263D00KWC"),
                    "sellingpartnerapi-na.amazon.com"),
    **dict.fromkeys(("A1VC38T7YXB528", "A39IBJ37TRP1C6", "A19VAU5U5O7RUS"), "sellingpartnerapi-fe.amazon.com"),
}  # fmt: skip
SP_API_DEFAULT_HOST = "sellingpartnerapi-eu.amazon.com"
#: Amazon lists orders updated until about two minutes ago: LastUpdatedAfter may not be later than that.
AMAZON_LAG = timedelta(minutes=2)
#: Access tokens of Amazon channels in this process, renewed this long before they expire.
AMAZON_TOKEN_MARGIN = timedelta(minutes=5)
_amazon_tokens: dict[tuple[int, str], tuple[str, datetime]] = {}
#: The inbox topic of a pulled order.
PULL_TOPIC = "pull"
#: A page of orders and where it moves the cursor (None: to its last order's updated_at; "": nowhere yet).
Page = tuple[list[dict], str | None]


@dataclass(frozen=True)
class Pulled:
    """What a pull did: pages read, inbox rows stored (new ones), the cursor it left; ``skipped`` says why it did
    not run."""

    pages: int = 0
    stored: int = 0
    cursor: str = ""
    skipped: str = ""


def base(channel: Channel) -> str:
    return channel.store_url.rstrip("/")


def missing(channel: Channel) -> list[str]:
    """What the channel lacks for calls to its store (store_url, credentials by name)."""
    if channel.kind not in NEEDED:
        return ["kind"]
    if channel.kind == ChannelKind.AMAZON:
        lacking = [] if channel.marketplace_id else ["marketplace_id"]
    else:
        lacking = [] if channel.store_url else ["store_url"]
    return lacking + [name for name in NEEDED[channel.kind] if not (channel.credentials or {}).get(name)]


def auth_headers(channel: Channel) -> dict[str, str]:
    """The store's authentication: Shopify's access token header, WooCommerce's consumer key and secret as HTTP
    Basic (over https only: the address check refuses http outside development), Magento's bearer token."""
    credentials = channel.credentials or {}
    if channel.kind == ChannelKind.SHOPIFY:
        return {"X-Shopify-Access-Token": credentials["access_token"], "Accept": "application/json"}
    if channel.kind == ChannelKind.WOOCOMMERCE:
        pair = f"{credentials['consumer_key']}:{credentials['consumer_secret']}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}", "Accept": "application/json"}
    return {"Authorization": f"Bearer {credentials['access_token']}", "Accept": "application/json"}


# -- test connection ---------------------------------------------------------------------------------------------


def channel_check(channel: Channel) -> Channel:
    """Ask the store who it is with the channel's credentials; the answer becomes the channel's connection status
    and message (connected, or failing with the reason). ``channel_not_configured`` when the channel lacks its
    store URL or credentials. Runs with no transaction open."""
    outside_transaction(f"test the connection of the channel {channel.name}")
    lacking = missing(channel)
    if lacking == ["kind"]:
        raise CHANNEL_NOT_CONFIGURED(f"A {channel.get_kind_display()} channel has no store to test.",
                                     {"missing": lacking})  # fmt: skip
    if lacking:
        raise CHANNEL_NOT_CONFIGURED(f"The channel needs {', '.join(lacking)} to reach its store.",
                                     {"missing": lacking})  # fmt: skip
    if channel.kind == ChannelKind.AMAZON:
        return _amazon_check(channel)
    url = {
        ChannelKind.SHOPIFY: f"{base(channel)}{SHOPIFY_API}/shop.json",
        ChannelKind.WOOCOMMERCE: f"{base(channel)}/wp-json/wc/v3/system_status",
        ChannelKind.MAGENTO: f"{base(channel)}/rest/V1/store/storeConfigs",
    }[channel.kind]
    try:
        with ChannelClient(channel, operation="check") as client:
            body, _ = client.get_json(url, headers=auth_headers(channel))
    except DomainError as exc:
        mark_failing(channel, exc.message)  # a rejection or an outage says so already; the rest is said here
        channel.refresh_from_db()
        return channel
    mark_connected(channel, _who(channel, body))
    channel.refresh_from_db()
    return channel


def _who(channel: Channel, body) -> str:
    host = urlsplit(channel.store_url).hostname
    if channel.kind == ChannelKind.SHOPIFY and isinstance(body, dict) and isinstance(body.get("shop"), dict):
        return f"Connected to the Shopify shop {body['shop'].get('name') or host}."
    if channel.kind == ChannelKind.WOOCOMMERCE and isinstance(body, dict):
        version = (body.get("environment") or {}).get("version") if isinstance(body.get("environment"), dict) else None
        return f"Connected to WooCommerce at {host}" + (f" (version {version})." if version else ".")
    if channel.kind == ChannelKind.MAGENTO and isinstance(body, list):
        return f"Connected to Magento at {host} ({len(body)} store view{'s' if len(body) != 1 else ''})."
    return f"Connected to {host}."


# -- pull --------------------------------------------------------------------------------------------------------


def channels_due(now: datetime | None = None):
    """The channels a scheduled pull runs for: active stores that can be pulled, not paused, circuit closed."""
    now = now or timezone.now()
    return (
        Channel.objects.filter(is_active=True, kind__in=list(NEEDED))
        .exclude(Q(store_url="") & ~Q(kind=ChannelKind.AMAZON))
        .exclude(connection_status__in=[ConnectionStatus.PAUSED, ConnectionStatus.NOT_CONNECTED])
        .filter(Q(circuit_open_until__isnull=True) | Q(circuit_open_until__lte=now))
    )


def channel_pull(channel: Channel, now: datetime | None = None) -> Pulled:
    """Pull the store's orders updated since the channel's cursor into its inbox, page by page (see the module's
    docstring). A domain error of the store (rejected, unavailable) is raised after the pages before it are kept."""
    now = now or timezone.now()
    channel.refresh_from_db()
    if not channel.is_active or channel.connection_status == ConnectionStatus.PAUSED:
        return Pulled(cursor=channel.sync_cursor, skipped="The channel is paused or inactive.")
    lacking = missing(channel)
    if lacking:
        return Pulled(cursor=channel.sync_cursor, skipped=f"The channel lacks {', '.join(lacking)}.")
    if channel.circuit_open_until is not None and channel.circuit_open_until > now:
        return Pulled(cursor=channel.sync_cursor, skipped="The channel's circuit is open.")
    outside_transaction(f"pull the orders of the channel {channel.name}")
    start = channel.sync_cursor or first_cursor(channel.kind, now - timedelta(seconds=settings.CHANNEL_PULL_BACKFILL))
    pages = stored = 0
    cursor = channel.sync_cursor
    with ChannelClient(channel, operation="pull") as client:
        for orders, page_cursor in PAGES[channel.kind](channel, client, start, now):
            stored += _store_page(channel, orders, now, page_cursor)
            pages += 1
            channel.refresh_from_db(fields=["sync_cursor"])
            cursor = channel.sync_cursor
    Channel.objects.filter(pk=channel.pk).update(last_synced_at=now)
    return Pulled(pages=pages, stored=stored, cursor=cursor)


def first_cursor(kind: str, moment: datetime) -> str:
    """A moment as the store's filter takes it: Shopify ISO 8601 with its offset, WooCommerce ISO 8601 in GMT
    (sent with dates_are_gmt), Magento "YYYY-MM-DD HH:MM:SS" in UTC."""
    moment = moment.astimezone(UTC).replace(microsecond=0)
    if kind in (ChannelKind.SHOPIFY, ChannelKind.AMAZON):
        return moment.isoformat().replace("+00:00", "Z")
    if kind == ChannelKind.WOOCOMMERCE:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def order_key(kind: str, order: dict) -> tuple[str, str]:
    """(order id, updated_at) of a pulled order, as the store gives them."""
    if kind == ChannelKind.SHOPIFY:
        return str(order.get("id") or ""), str(order.get("updated_at") or "")
    if kind == ChannelKind.WOOCOMMERCE:
        return str(order.get("id") or ""), str(order.get("date_modified_gmt") or order.get("date_modified") or "")
    if kind == ChannelKind.AMAZON:
        part = order.get("order") if isinstance(order.get("order"), dict) else {}
        return str(part.get("AmazonOrderId") or ""), str(part.get("LastUpdateDate") or "")
    return str(order.get("increment_id") or order.get("entity_id") or ""), str(order.get("updated_at") or "")


def _store_page(channel: Channel, orders: list[dict], now: datetime, cursor: str | None) -> int:
    """Store a page's orders as inbox rows (a repeat is stored once) and move the cursor to ``cursor`` (None: the
    page's last updated_at; "": leave it), in one transaction; each new row goes to the worker after commit. How
    many were new."""
    new = 0
    last = ""
    with transaction.atomic():
        for order in orders:
            if not isinstance(order, dict):
                continue
            order_id, updated_at = order_key(channel.kind, order)
            last = updated_at or last
            try:
                with transaction.atomic():
                    delivery = ChannelWebhookDelivery.objects.create(
                        merchant_id=channel.merchant_id, channel=channel, topic=PULL_TOPIC,
                        delivery_id=f"pull:{order_id}:{updated_at}"[:200], body=json.dumps(order, ensure_ascii=False),
                    )  # fmt: skip
            except IntegrityError:
                continue
            new += 1
            send_on_commit("orders.tasks.channel_webhook_process", delivery.pk)
        fields = {"last_synced_at": now}
        moved = last if cursor is None else cursor
        if moved:
            fields["sync_cursor"] = moved[:200]
        Channel.objects.filter(pk=channel.pk).update(**fields)
    return new


def _shopify_pages(channel: Channel, client: ChannelClient, cursor: str, now: datetime) -> Iterator[Page]:
    """Shopify's orders updated at or after the cursor, oldest first, following the Link header's next page (a
    page_info link carries the query: only limit may go with it)."""
    headers = auth_headers(channel)
    url = f"{base(channel)}{SHOPIFY_API}/orders.json"
    params: dict | None = {"status": "any", "updated_at_min": cursor, "order": "updated_at asc",
                           "limit": PAGE_SIZE[ChannelKind.SHOPIFY]}  # fmt: skip
    while url:
        body, exchange = client.get_json(url, headers=headers, params=params)
        yield _list(body, "orders"), None
        url, params = next_link(exchange.headers.get("link", "")), None


def next_link(header: str) -> str:
    """The rel="next" URL of a Link header, or ""."""
    for part in header.split(","):
        if 'rel="next"' in part or "rel=next" in part:
            start, end = part.find("<"), part.find(">")
            if 0 <= start < end:
                return part[start + 1 : end].strip()
    return ""


def _woocommerce_pages(channel: Channel, client: ChannelClient, cursor: str, now: datetime) -> Iterator[Page]:
    """WooCommerce's orders modified after the cursor (GMT), oldest first, page by page until a short page or the
    last of X-WP-TotalPages. ``modified_after`` is exclusive and counts in whole seconds, so it is asked from one
    second before the cursor: an order modified in the cursor's second but not yet stored (a pull that stopped
    between two pages of that second) comes again; the ones stored are deduplicated."""
    size = PAGE_SIZE[ChannelKind.WOOCOMMERCE]
    cursor = _second_before(cursor)
    url = f"{base(channel)}/wp-json/wc/v3/orders"
    page = 1
    while True:
        params = {"modified_after": cursor, "dates_are_gmt": "true", "orderby": "modified", "order": "asc",
                  "per_page": size, "page": page}  # fmt: skip
        body, exchange = client.get_json(url, headers=auth_headers(channel), params=params)
        orders = body if isinstance(body, list) else []
        yield orders, None
        total = exchange.headers.get("x-wp-totalpages", "")
        if len(orders) < size or (total.isdigit() and page >= int(total)):
            return
        page += 1


def _second_before(cursor: str) -> str:
    try:
        moment = datetime.fromisoformat(cursor)
    except ValueError:
        return cursor
    return (moment - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")


def _magento_pages(channel: Channel, client: ChannelClient, cursor: str, now: datetime) -> Iterator[Page]:
    """Magento's orders updated at or after the cursor, oldest first, page by page until total_count is read."""
    size = PAGE_SIZE[ChannelKind.MAGENTO]
    url = f"{base(channel)}/rest/V1/orders"
    page = 1
    while True:
        params = {
            "searchCriteria[filter_groups][0][filters][0][field]": "updated_at",
            "searchCriteria[filter_groups][0][filters][0][value]": cursor,
            "searchCriteria[filter_groups][0][filters][0][condition_type]": "gteq",
            "searchCriteria[sortOrders][0][field]": "updated_at",
            "searchCriteria[sortOrders][0][direction]": "ASC",
            "searchCriteria[pageSize]": size,
            "searchCriteria[currentPage]": page,
        }
        body, _ = client.get_json(url, headers=auth_headers(channel), params=params)
        orders = _list(body, "items")
        yield orders, None
        total = body.get("total_count") if isinstance(body, dict) else None
        if not orders or len(orders) < size or not isinstance(total, int) or page * size >= total:
            return
        page += 1


def _list(body, key: str) -> list[dict]:
    value = body.get(key) if isinstance(body, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


# -- Amazon ------------------------------------------------------------------------------------------------------


def sp_api_host(channel: Channel) -> str:
    return SP_API_HOSTS.get(channel.marketplace_id, SP_API_DEFAULT_HOST)


def amazon_access_token(channel: Channel, client: ChannelClient, now: datetime | None = None) -> str:
    """The channel's Login with Amazon access token: the one this process holds while it has five minutes left,
    else a new one for the refresh token (once per token life, not per call)."""
    now = now or timezone.now()
    credentials = channel.credentials or {}
    key = (channel.pk, credentials["refresh_token"][-12:])
    held = _amazon_tokens.get(key)
    if held is not None and held[1] > now + AMAZON_TOKEN_MARGIN:
        return held[0]
    form = {"grant_type": "refresh_token", "refresh_token": credentials["refresh_token"],
            "client_id": credentials["client_id"], "client_secret": credentials["client_secret"]}  # fmt: skip
    try:
        body, _ = client.request_json("POST", LWA_TOKEN_URL, form=form, hosts=("api.amazon.com",))
    except DomainError as exc:
        if exc.code != "channel_refused":  # 400 invalid_grant / invalid_client: the credentials
            raise
        message = f"{REJECTED_MESSAGE} (Login with Amazon: {exc.details.get('service_message') or exc.message})."
        mark_failing(channel, message)
        raise CHANNEL_CREDENTIALS_REJECTED(message, exc.details) from exc
    token = body.get("access_token") if isinstance(body, dict) else None
    if not token:
        raise CHANNEL_BAD_RESPONSE("Login with Amazon answered without an access token.", {})
    expires_in = body.get("expires_in") if isinstance(body.get("expires_in"), int) else 3600
    _amazon_tokens[key] = (token, now + timedelta(seconds=expires_in))
    return token


def _amazon_check(channel: Channel) -> Channel:
    host = sp_api_host(channel)
    try:
        with ChannelClient(channel, operation="check") as client:
            token = amazon_access_token(channel, client)
            body, _ = client.get_json(f"https://{host}/sellers/v1/marketplaceParticipations",
                                      headers={"x-amz-access-token": token}, hosts=(host,))  # fmt: skip
    except DomainError as exc:
        mark_failing(channel, exc.message)
        channel.refresh_from_db()
        return channel
    marketplaces = {
        (entry.get("marketplace") or {}).get("id"): (entry.get("marketplace") or {}).get("name")
        for entry in (body.get("payload") or [] if isinstance(body, dict) else []) if isinstance(entry, dict)
    }  # fmt: skip
    if channel.marketplace_id not in marketplaces:
        mark_failing(channel, f"The seller does not sell in the marketplace {channel.marketplace_id}; they sell in "
                              f"{', '.join(sorted(filter(None, marketplaces))) or 'none'}.")  # fmt: skip
    else:
        mark_connected(channel, f"Connected to Amazon: selling in {marketplaces[channel.marketplace_id]}.")
    channel.refresh_from_db()
    return channel


def _amazon_pages(channel: Channel, client: ChannelClient, cursor: str, now: datetime) -> Iterator[Page]:
    """Amazon's orders updated after the cursor (getOrders with LastUpdatedAfter, then NextToken), each with its
    items (getOrderItems, every page). The orders' shipping address and buyer are restricted data: getOrders is
    called with a Restricted Data Token for them. Amazon does not promise the orders in LastUpdateDate order, so
    the cursor moves once, with the last page, to the latest LastUpdateDate read."""
    host = sp_api_host(channel)
    token = amazon_access_token(channel, client, now)
    rdt_body, _ = client.request_json(
        "POST", f"https://{host}/tokens/2021-03-01/restrictedDataToken", hosts=(host,),
        headers={"x-amz-access-token": token},
        json_body={"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders",
                                            "dataElements": ["buyerInfo", "shippingAddress"]}]},
    )  # fmt: skip
    rdt = rdt_body.get("restrictedDataToken") if isinstance(rdt_body, dict) else None
    if not rdt:
        raise CHANNEL_BAD_RESPONSE("Amazon answered without a Restricted Data Token.", {})
    latest = min(cursor, first_cursor(ChannelKind.AMAZON, now - AMAZON_LAG))
    params = {"MarketplaceIds": channel.marketplace_id, "LastUpdatedAfter": latest, "MaxResultsPerPage": 100}
    newest = cursor
    while True:
        body, _ = client.get_json(f"https://{host}/orders/v0/orders", params=params, hosts=(host,),
                                  headers={"x-amz-access-token": rdt})  # fmt: skip
        payload = body.get("payload") if isinstance(body, dict) and isinstance(body.get("payload"), dict) else {}
        orders = [{"order": order, "items": _amazon_items(channel, client, host, order, now)}
                  for order in _list(payload, "Orders")]  # fmt: skip
        newest = max([newest] + [str(o["order"].get("LastUpdateDate") or "") for o in orders])
        next_token = payload.get("NextToken")
        yield orders, ("" if next_token else newest)
        if not next_token:
            return
        params = {"MarketplaceIds": channel.marketplace_id, "NextToken": next_token}


def _amazon_items(channel: Channel, client: ChannelClient, host: str, order: dict, now: datetime) -> list[dict]:
    url = f"https://{host}/orders/v0/orders/{order.get('AmazonOrderId')}/orderItems"
    items: list[dict] = []
    params = None
    while True:
        token = amazon_access_token(channel, client, now)
        body, _ = client.get_json(url, params=params, hosts=(host,), headers={"x-amz-access-token": token})
        payload = body.get("payload") if isinstance(body, dict) and isinstance(body.get("payload"), dict) else {}
        items += _list(payload, "OrderItems")
        if not payload.get("NextToken"):
            return items
        params = {"NextToken": payload["NextToken"]}


PAGES = {
    ChannelKind.SHOPIFY: _shopify_pages,
    ChannelKind.WOOCOMMERCE: _woocommerce_pages,
    ChannelKind.MAGENTO: _magento_pages,
    ChannelKind.AMAZON: _amazon_pages,
}

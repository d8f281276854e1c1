"""Stores called by ShopOps: the connection test and the scheduled pull of orders, against recorded answers.

Each store's name resolves (in the test) to a public address and respx answers there: nothing reaches the network.
The requests are checked exactly (path, query, auth header, Host), the pages followed (Shopify's Link header,
WooCommerce's pages, Magento's currentPage), the cursor saved with each page, and every pulled order taken in
through the inbox by the webhooks' worker."""

import base64
import copy
import json
import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from orders.channels import http as channel_http
from orders.models import Channel, ChannelHttpLog, ChannelKind, ChannelWebhookDelivery, Order
from orders.services import channel_sync
from orders.services.channel_sync import channel_check, channel_pull
from orders.services.channels import channel_create, channel_pause
from orders.tasks import channels_pull
from shopops.errors import DomainError
from shopops.webhooks import addresses
from tests.catalog.factories import ProductFactory, stock
from tests.orders.factories import default_location

SAMPLES = Path(__file__).parent / "channels" / "samples"
SHOPIFY_ORDER = json.loads((SAMPLES / "shopify_order.json").read_text())
WOO_ORDER = json.loads((SAMPLES / "woocommerce_order.json").read_text())
MAGENTO_ORDER = json.loads((SAMPLES / "magento_cod_new.json").read_text())
AMAZON = json.loads((SAMPLES / "amazon_mfn_prepaid.json").read_text())

#: The stores' names and the addresses they resolve to in the tests (public ones, except internal.acme.in).
HOSTS = {
    "acme.myshopify.com": "23.227.38.65",
    "shop.acme.in": "104.21.32.7",
    "magento.acme.in": "172.67.140.20",
    "internal.acme.in": "10.0.0.7",
    "api.amazon.com": "54.239.28.85",
    "sellingpartnerapi-eu.amazon.com": "52.95.120.20",
}
SHOPIFY_IP, WOO_IP, MAGENTO_IP = HOSTS["acme.myshopify.com"], HOSTS["shop.acme.in"], HOSTS["magento.acme.in"]
SHOPIFY_TOKEN = "shpat_5f1e7c2a9b3d4e6f"
WOO_KEY, WOO_SECRET = "ck_8d2b0c4e6a1f3579", "cs_2a4c6e8f0b1d3579"
MAGENTO_TOKEN = "mgt_9x8y7z6w5v4u3t2s"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def store_names(monkeypatch, settings):
    """Resolve the stores' names without DNS (an unknown name does not resolve); the address check stays on."""

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in HOSTS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (HOSTS[host], port))]

    monkeypatch.setattr(addresses.socket, "getaddrinfo", getaddrinfo)
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    settings.DEBUG = False
    settings.CHANNEL_MAX_ATTEMPTS = 3
    settings.CHANNEL_MAX_BACKOFF = 8
    settings.CHANNEL_CIRCUIT_FAILURES = 3
    settings.CHANNEL_CIRCUIT_SECONDS = 60
    settings.CHANNEL_PULL_BACKFILL = 7 * 24 * 3600


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The backoff waits the client would have slept, in order (nothing sleeps)."""
    recorded: list[float] = []
    monkeypatch.setattr(channel_http, "sleep", recorded.append)
    return recorded


@pytest.fixture
def stocked(merchant):
    location = default_location(merchant)
    for sku in ("KURTA-IND-M", "DIYA-L", "SOAP-NEEM-75G", "KURTA-COT-IND-L", "DUPATTA-SILK-MRN"):
        stock(ProductFactory(merchant=merchant, sku=sku, title=sku.title()), location, 50)


@pytest.fixture
def shopify(merchant):
    return channel_create(merchant=merchant, name="Shopify store", kind=ChannelKind.SHOPIFY,
                          store_url="https://acme.myshopify.com",
                          credentials={"access_token": SHOPIFY_TOKEN, "webhook_secret": "shpss_3c2f0e9b7"})  # fmt: skip


@pytest.fixture
def woo(merchant):
    return channel_create(merchant=merchant, name="Woo store", kind=ChannelKind.WOOCOMMERCE,
                          store_url="https://shop.acme.in",
                          credentials={"consumer_key": WOO_KEY, "consumer_secret": WOO_SECRET})  # fmt: skip


@pytest.fixture
def magento(merchant):
    return channel_create(merchant=merchant, name="Magento store", kind=ChannelKind.MAGENTO,
                          store_url="https://magento.acme.in", credentials={"access_token": MAGENTO_TOKEN})  # fmt: skip


@pytest.fixture
def pull(django_capture_on_commit_callbacks):
    """Pull the channel and run the worker jobs of the rows it stored (eager Celery)."""

    def run(channel, now=NOW):
        with django_capture_on_commit_callbacks(execute=True):
            return channel_pull(channel, now)

    return run


def shopify_order(order_id: int, updated_at: str) -> dict:
    return {**copy.deepcopy(SHOPIFY_ORDER), "id": order_id, "name": f"#{order_id}", "updated_at": updated_at}


def woo_order(order_id: int, modified: str) -> dict:
    return {**copy.deepcopy(WOO_ORDER), "id": order_id, "number": str(order_id), "date_modified_gmt": modified}


def magento_order(entity_id: int, updated_at: str) -> dict:
    return {**copy.deepcopy(MAGENTO_ORDER), "entity_id": entity_id, "increment_id": f"{entity_id:09d}",
            "updated_at": updated_at}  # fmt: skip


def params(call) -> dict:
    return dict(call.request.url.params)


def assert_no_credential_logged(*secrets: str) -> None:
    for log in ChannelHttpLog.objects.all():
        for value in (log.url, log.error, log.request_body, log.response_body):
            assert not any(secret in value for secret in secrets), value


# -- test connection ---------------------------------------------------------------------------------------------


def test_a_shopify_check_asks_the_shop_with_its_token_and_connects(shopify, respx_mock):
    route = respx_mock.get(f"https://{SHOPIFY_IP}/admin/api/2024-10/shop.json").respond(
        200, json={"shop": {"id": 548380009, "name": "Acme Ethnic", "myshopify_domain": "acme.myshopify.com",
                            "note": f"echoed {SHOPIFY_TOKEN}"}})  # fmt: skip

    checked = channel_check(shopify)

    request = route.calls.last.request
    assert (route.call_count, request.headers["X-Shopify-Access-Token"], request.headers["Host"]) == (
        1, SHOPIFY_TOKEN, "acme.myshopify.com")  # fmt: skip
    assert (checked.connection_status, checked.status_message, checked.failing_since) == (
        "connected", "Connected to the Shopify shop Acme Ethnic.", None)  # fmt: skip
    log = ChannelHttpLog.objects.get()
    assert (log.operation, log.method, log.url, log.status_code, log.attempt) == (
        "check", "GET", "https://acme.myshopify.com/admin/api/2024-10/shop.json", 200, 1)  # fmt: skip
    assert "echoed [redacted]" in log.response_body
    assert_no_credential_logged(SHOPIFY_TOKEN)


def test_a_woocommerce_check_sends_the_consumer_key_and_secret_as_basic_auth(woo, respx_mock):
    route = respx_mock.get(f"https://{WOO_IP}/wp-json/wc/v3/system_status").respond(
        200, json={"environment": {"home_url": "https://shop.acme.in", "version": "9.3.3"}})  # fmt: skip

    checked = channel_check(woo)

    expected = "Basic " + base64.b64encode(f"{WOO_KEY}:{WOO_SECRET}".encode()).decode()
    assert route.calls.last.request.headers["Authorization"] == expected
    assert (checked.connection_status, checked.status_message) == (
        "connected", "Connected to WooCommerce at shop.acme.in (version 9.3.3).")  # fmt: skip
    assert_no_credential_logged(WOO_KEY, WOO_SECRET)


def test_a_magento_check_sends_the_bearer_token(magento, respx_mock):
    route = respx_mock.get(f"https://{MAGENTO_IP}/rest/V1/store/storeConfigs").respond(
        200, json=[{"id": 1, "code": "default", "base_url": "https://magento.acme.in/"}]
    )

    checked = channel_check(magento)

    assert route.calls.last.request.headers["Authorization"] == f"Bearer {MAGENTO_TOKEN}"
    assert (checked.connection_status, checked.status_message) == (
        "connected", "Connected to Magento at magento.acme.in (1 store view).")  # fmt: skip


def test_rejected_credentials_mark_the_channel_failing_since_the_first_rejection(shopify, respx_mock):
    route = respx_mock.get(f"https://{SHOPIFY_IP}/admin/api/2024-10/shop.json").respond(
        401, json={"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    )
    first = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    Channel.objects.filter(pk=shopify.pk).update(connection_status="failing", failing_since=first)

    checked = channel_check(shopify)

    assert route.call_count == 1  # a rejection is not retried
    assert (checked.connection_status, checked.status_message, checked.failing_since) == (
        "failing", "The store rejected the channel's credentials (HTTP 401).", first)  # fmt: skip


def test_a_first_rejection_sets_failing_since(shopify, respx_mock):
    respx_mock.get(f"https://{SHOPIFY_IP}/admin/api/2024-10/shop.json").respond(403, json={"errors": "Forbidden"})

    checked = channel_check(shopify)

    assert checked.connection_status == "failing"
    assert checked.status_message.startswith("The store rejected the channel's credentials (HTTP 403")
    assert checked.failing_since is not None


@pytest.mark.parametrize("store_url, reason", [
    ("https://127.0.0.1", "The URL names 127.0.0.1 (loopback address)"),
    ("https://10.1.2.3", "The URL names 10.1.2.3 (private address)"),
    ("https://169.254.169.254", "The URL names 169.254.169.254 (link-local address)"),
    ("https://internal.acme.in", "internal.acme.in resolves to 10.0.0.7 (private address)"),
    ("http://acme.myshopify.com", "Use an https:// URL: plain http is allowed only in development."),
])  # fmt: skip
def test_a_store_url_on_an_internal_address_is_refused_without_a_request(shopify, respx_mock, store_url, reason):
    Channel.objects.filter(pk=shopify.pk).update(store_url=store_url)
    shopify.refresh_from_db()

    checked = channel_check(shopify)

    assert respx_mock.calls.call_count == 0
    assert checked.connection_status == "failing"
    assert checked.status_message.startswith(f"The store URL may not be called: {reason}")
    assert ChannelHttpLog.objects.count() == 0
    with pytest.raises(DomainError) as refused:
        channel_pull(shopify, NOW)
    assert refused.value.code == "channel_address_refused"
    assert respx_mock.calls.call_count == 0


def test_a_check_without_credentials_is_refused(merchant):
    channel = channel_create(merchant=merchant, name="Bare", kind=ChannelKind.SHOPIFY,
                             store_url="https://acme.myshopify.com")  # fmt: skip
    with pytest.raises(DomainError) as refused:
        channel_check(channel)
    assert (refused.value.code, refused.value.details) == ("channel_not_configured", {"missing": ["access_token"]})


def test_the_api_tests_the_connection(api, shopify, respx_mock):
    respx_mock.get(f"https://{SHOPIFY_IP}/admin/api/2024-10/shop.json").respond(200, json={"shop": {"name": "Acme"}})

    response = api.post(f"/api/v1/channels/{shopify.pk}/test/")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["connection_status"], body["status_message"], body["failing_since"]) == (
        "connected", "Connected to the Shopify shop Acme.", None)  # fmt: skip


def test_the_api_test_of_a_channel_without_credentials_is_409(api, merchant):
    channel = channel_create(merchant=merchant, name="Bare", kind=ChannelKind.MAGENTO, store_url="https://m.acme.in")
    response = api.post(f"/api/v1/channels/{channel.pk}/test/")
    assert (response.status_code, response.json()["code"]) == (409, "channel_not_configured")


def test_another_merchant_cannot_test_the_channel(other_api, shopify, respx_mock):
    response = other_api.post(f"/api/v1/channels/{shopify.pk}/test/")
    assert (response.status_code, respx_mock.calls.call_count) == (404, 0)


# -- pull: Shopify -----------------------------------------------------------------------------------------------


def test_a_shopify_pull_follows_the_link_header_and_saves_the_cursor(shopify, stocked, respx_mock, pull):
    next_url = ("https://acme.myshopify.com/admin/api/2024-10/orders.json?limit=250"
                "&page_info=eyJsYXN0X2lkIjo0NTA3ODk0NjksImRpcmVjdGlvbiI6Im5leHQifQ")  # fmt: skip
    route = respx_mock.get(f"https://{SHOPIFY_IP}/admin/api/2024-10/orders.json").mock(side_effect=[
        httpx.Response(200, json={"orders": [shopify_order(450789469, "2026-12-01T10:15:00+05:30")]},
                       headers={"Link": f'<{next_url}>; rel="next"'}),
        httpx.Response(200, json={"orders": [shopify_order(450789470, "2026-12-02T08:00:00+05:30")]},
                       headers={"Link": '<https://acme.myshopify.com/admin/api/2024-10/orders.json?limit=250'
                                        '&page_info=eyJkaXJlY3Rpb24iOiJwcmV2In0>; rel="previous"'}),
    ])  # fmt: skip

    pulled = pull(shopify)

    assert route.call_count == 2
    assert params(route.calls[0]) == {"status": "any", "updated_at_min": "2026-11-27T12:00:00Z",
                                      "order": "updated_at asc", "limit": "250"}  # fmt: skip
    assert params(route.calls[1]) == {
        "limit": "250",
        "page_info": "eyJsYXN0X2lkIjo0NTA3ODk0NjksImRpcmVjdGlvbiI6Im5leHQifQ",
    }
    assert {call.request.headers["X-Shopify-Access-Token"] for call in route.calls} == {SHOPIFY_TOKEN}
    assert pulled == channel_sync.Pulled(pages=2, stored=2, cursor="2026-12-02T08:00:00+05:30")
    shopify.refresh_from_db()
    assert (shopify.sync_cursor, shopify.last_synced_at, shopify.connection_status) == (
        "2026-12-02T08:00:00+05:30", NOW, "connected")  # fmt: skip
    assert sorted(ChannelWebhookDelivery.objects.values_list("topic", "delivery_id", "status")) == [
        ("pull", "pull:450789469:2026-12-01T10:15:00+05:30", "processed"),
        ("pull", "pull:450789470:2026-12-02T08:00:00+05:30", "processed"),
    ]
    assert sorted(Order.objects.values_list("channel_order_id", flat=True)) == ["450789469", "450789470"]
    assert_no_credential_logged(SHOPIFY_TOKEN)


def test_a_repeated_pull_stores_nothing_new(shopify, stocked, respx_mock, pull):
    route = respx_mock.get(f"https://{SHOPIFY_IP}/admin/api/2024-10/orders.json").respond(
        200, json={"orders": [shopify_order(450789469, "2026-12-01T10:15:00+05:30")]}
    )
    pull(shopify)

    again = pull(shopify, NOW + timedelta(minutes=5))

    assert route.call_count == 2
    assert params(route.calls[1])["updated_at_min"] == "2026-12-01T10:15:00+05:30"  # from the cursor, nothing off
    assert again == channel_sync.Pulled(pages=1, stored=0, cursor="2026-12-01T10:15:00+05:30")
    assert (ChannelWebhookDelivery.objects.count(), Order.objects.count()) == (1, 1)


def test_a_failing_second_page_keeps_the_first_page_and_its_cursor(shopify, stocked, respx_mock, pull, waits):
    next_url = "https://acme.myshopify.com/admin/api/2024-10/orders.json?limit=250&page_info=abc123"
    route = respx_mock.get(f"https://{SHOPIFY_IP}/admin/api/2024-10/orders.json").mock(side_effect=[
        httpx.Response(200, json={"orders": [shopify_order(450789469, "2026-12-01T10:15:00+05:30")]},
                       headers={"Link": f'<{next_url}>; rel="next"'}),
        httpx.Response(502, text="<html>Bad gateway</html>"),
        httpx.Response(503, json={"errors": "Unavailable"}),
        httpx.Response(500, json={"errors": "Internal"}),
    ])  # fmt: skip

    with pytest.raises(DomainError) as failed:
        pull(shopify)

    assert (failed.value.code, failed.value.details) == ("channel_unavailable", {"attempts": 3})
    assert (route.call_count, len(waits)) == (4, 2)
    shopify.refresh_from_db()
    assert shopify.sync_cursor == "2026-12-01T10:15:00+05:30"
    assert list(Order.objects.values_list("channel_order_id", flat=True)) == ["450789469"]
    assert shopify.connection_status == "failing"
    assert (shopify.consecutive_failures, shopify.circuit_open_until is not None) == (3, True)


def test_the_same_order_by_webhook_then_by_pull_is_one_order(shopify, stocked, respx_mock, pull):
    from orders.services.channel_webhooks import channel_webhook_process

    webhook = ChannelWebhookDelivery.objects.create(
        merchant=shopify.merchant, channel=shopify, topic="orders/create", delivery_id="b54557e4-1",
        body=json.dumps(SHOPIFY_ORDER))  # fmt: skip
    assert channel_webhook_process(delivery_id=webhook.pk).status == "processed"
    respx_mock.get(f"https://{SHOPIFY_IP}/admin/api/2024-10/orders.json").respond(
        200, json={"orders": [copy.deepcopy(SHOPIFY_ORDER)]}
    )

    pulled = pull(shopify)

    order = Order.objects.get()
    delivery = ChannelWebhookDelivery.objects.get(topic="pull")
    assert pulled.stored == 1
    assert (delivery.status, delivery.result, delivery.order_id) == (
        "processed", f"Order {order.number} has nothing new.", order.pk)  # fmt: skip


def test_429_waits_as_long_as_the_store_asks(shopify, respx_mock, pull, waits):
    route = respx_mock.get(f"https://{SHOPIFY_IP}/admin/api/2024-10/orders.json").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "2"}, json={"errors": "Exceeded 2 calls per second"}),
        httpx.Response(429, headers={"Retry-After": "3"}, json={"errors": "Exceeded 2 calls per second"}),
        httpx.Response(200, json={"orders": []}),
    ])  # fmt: skip

    pulled = pull(shopify)

    assert (route.call_count, pulled.pages, pulled.stored) == (3, 1, 0)
    assert waits == [2.0, 3.0]


def test_5xx_is_retried_then_the_circuit_opens_and_the_next_pull_is_skipped(shopify, respx_mock, pull, waits):
    route = respx_mock.get(f"https://{SHOPIFY_IP}/admin/api/2024-10/orders.json").respond(503)

    with pytest.raises(DomainError) as failed:
        pull(shopify)

    assert (failed.value.code, route.call_count, len(waits)) == ("channel_unavailable", 3, 2)
    shopify.refresh_from_db()
    assert (shopify.consecutive_failures, shopify.connection_status) == (3, "failing")
    assert shopify.circuit_open_until is not None
    assert shopify.sync_cursor == ""
    skipped = pull(shopify, timezone_now())
    assert (skipped.skipped, route.call_count) == ("The channel's circuit is open.", 3)
    assert list(channel_sync.channels_due()) == []


def timezone_now():
    from django.utils import timezone

    return timezone.now()


def test_paused_and_uncredentialled_channels_are_skipped(merchant, shopify, respx_mock, pull):
    bare = channel_create(merchant=merchant, name="Bare", kind=ChannelKind.SHOPIFY,
                          store_url="https://acme.myshopify.com")  # fmt: skip
    channel_pause(channel=shopify)

    assert pull(shopify).skipped == "The channel is paused or inactive."
    assert pull(bare).skipped == "The channel lacks access_token."
    assert respx_mock.calls.call_count == 0


def test_the_schedule_pulls_each_due_channel(merchant, shopify, woo, respx_mock):
    shopify_route = respx_mock.get(f"https://{SHOPIFY_IP}/admin/api/2024-10/orders.json").respond(
        200, json={"orders": []}
    )
    channel_pause(channel=woo)
    Channel.objects.filter(pk=shopify.pk).update(connection_status="connected")

    assert channels_pull() == 1
    assert shopify_route.call_count == 1
    shopify.refresh_from_db()
    assert shopify.last_synced_at is not None


# -- pull: WooCommerce and Magento -------------------------------------------------------------------------------


def test_a_woocommerce_pull_reads_pages_until_the_last(woo, stocked, respx_mock, pull, monkeypatch):
    monkeypatch.setitem(channel_sync.PAGE_SIZE, ChannelKind.WOOCOMMERCE, 2)
    route = respx_mock.get(f"https://{WOO_IP}/wp-json/wc/v3/orders").mock(side_effect=[
        httpx.Response(200, json=[woo_order(727, "2026-12-01T04:45:00"), woo_order(728, "2026-12-01T05:00:00")],
                       headers={"X-WP-Total": "3", "X-WP-TotalPages": "2"}),
        httpx.Response(200, json=[woo_order(731, "2026-12-02T09:30:00")],
                       headers={"X-WP-Total": "3", "X-WP-TotalPages": "2"}),
    ])  # fmt: skip

    pulled = pull(woo)

    assert route.call_count == 2
    assert [params(call) for call in route.calls] == [
        {"modified_after": "2026-11-27T11:59:59", "dates_are_gmt": "true", "orderby": "modified", "order": "asc",
         "per_page": "2", "page": str(page)} for page in (1, 2)]  # fmt: skip
    expected = "Basic " + base64.b64encode(f"{WOO_KEY}:{WOO_SECRET}".encode()).decode()
    assert {call.request.headers["Authorization"] for call in route.calls} == {expected}
    assert pulled == channel_sync.Pulled(pages=2, stored=3, cursor="2026-12-02T09:30:00")
    assert sorted(Order.objects.values_list("channel_order_id", flat=True)) == ["727", "728", "731"]
    assert_no_credential_logged(WOO_KEY, WOO_SECRET)


def test_a_magento_pull_reads_pages_until_total_count(magento, stocked, respx_mock, pull, monkeypatch):
    monkeypatch.setitem(channel_sync.PAGE_SIZE, ChannelKind.MAGENTO, 2)
    route = respx_mock.get(f"https://{MAGENTO_IP}/rest/V1/orders").mock(side_effect=[
        httpx.Response(200, json={"items": [magento_order(911, "2026-12-01 04:45:00"),
                                            magento_order(912, "2026-12-01 05:00:00")], "total_count": 3}),
        httpx.Response(200, json={"items": [magento_order(913, "2026-12-02 09:30:00")], "total_count": 3}),
    ])  # fmt: skip

    pulled = pull(magento)

    assert route.call_count == 2
    assert [params(call) for call in route.calls] == [{
        "searchCriteria[filter_groups][0][filters][0][field]": "updated_at",
        "searchCriteria[filter_groups][0][filters][0][value]": "2026-11-27 12:00:00",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "gteq",
        "searchCriteria[sortOrders][0][field]": "updated_at",
        "searchCriteria[sortOrders][0][direction]": "ASC",
        "searchCriteria[pageSize]": "2",
        "searchCriteria[currentPage]": str(page),
    } for page in (1, 2)]  # fmt: skip
    assert {call.request.headers["Authorization"] for call in route.calls} == {f"Bearer {MAGENTO_TOKEN}"}
    assert pulled == channel_sync.Pulled(pages=2, stored=3, cursor="2026-12-02 09:30:00")
    assert sorted(ChannelWebhookDelivery.objects.values_list("delivery_id", "status")) == [
        ("pull:000000911:2026-12-01 04:45:00", "processed"),
        ("pull:000000912:2026-12-01 05:00:00", "processed"),
        ("pull:000000913:2026-12-02 09:30:00", "processed"),
    ]
    assert Order.objects.count() == 3


def test_the_admin_action_tests_the_connection(client, owner, shopify, respx_mock):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
    from django.contrib.messages import get_messages

    respx_mock.get(f"https://{SHOPIFY_IP}/admin/api/2024-10/shop.json").respond(200, json={"shop": {"name": "Acme"}})
    client.force_login(owner)

    response = client.post("/admin/orders/channel/", {"action": "test_connection", ACTION_CHECKBOX_NAME: [shopify.pk],
                                                      "index": "0"})  # fmt: skip

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Shopify store: Connected. Connected to the Shopify shop Acme."
    ]
    log_page = client.get("/admin/orders/channelhttplog/")
    assert log_page.status_code == 200
    assert SHOPIFY_TOKEN not in log_page.content.decode()


# -- Amazon ------------------------------------------------------------------------------------------------------

LWA_IP, SP_IP = HOSTS["api.amazon.com"], HOSTS["sellingpartnerapi-eu.amazon.com"]
AMAZON_CREDENTIALS = {"client_id": "amzn1.application-oa2-client.4f8e2d1c", "client_secret": "amzn1.oa2-cs.v1.9d7c5b3a",
                      "refresh_token": "Atzr|IwEBIJ3k7v9q2w4e6r8t"}  # fmt: skip
ACCESS_TOKEN = "Atza|IwEBIFq8r6t4y2u0i9o7p"
RDT = "Atz.sprdt|IwEBIHk3j5l7z9x1c3v"


@pytest.fixture
def amazon(merchant):
    channel_sync._amazon_tokens.clear()
    return channel_create(merchant=merchant, name="Amazon.in", kind=ChannelKind.AMAZON, marketplace_id="A21TJRUUN4KGV",
                          credentials=dict(AMAZON_CREDENTIALS))  # fmt: skip


def amazon_order(order_id: str, updated: str) -> dict:
    order = {**copy.deepcopy(AMAZON["order"]), "AmazonOrderId": order_id, "LastUpdateDate": updated}
    order["ShippingAddress"] = copy.deepcopy(AMAZON["address"])  # what getOrders answers with the RDT
    return order


def lwa(respx_mock):
    return respx_mock.post(f"https://{LWA_IP}/auth/o2/token").respond(
        200, json={"access_token": ACCESS_TOKEN, "refresh_token": AMAZON_CREDENTIALS["refresh_token"],
                   "token_type": "bearer", "expires_in": 3600})  # fmt: skip


def test_an_amazon_check_refreshes_the_token_and_reads_the_marketplaces(amazon, respx_mock):
    token = lwa(respx_mock)
    route = respx_mock.get(f"https://{SP_IP}/sellers/v1/marketplaceParticipations").respond(200, json={"payload": [
        {"marketplace": {"id": "A21TJRUUN4KGV", "countryCode": "IN", "name": "Amazon.in", "defaultCurrencyCode": "INR",
                         "defaultLanguageCode": "en_IN", "domainName": "www.amazon.in"},
         "participation": {"isParticipating": True, "hasSuspendedListings": False}}]})  # fmt: skip

    checked = channel_check(amazon)

    assert dict(httpx.QueryParams(token.calls.last.request.content.decode())) == {
        "grant_type": "refresh_token",
        **AMAZON_CREDENTIALS,
    }
    assert route.calls.last.request.headers["x-amz-access-token"] == ACCESS_TOKEN
    assert (checked.connection_status, checked.status_message) == (
        "connected", "Connected to Amazon: selling in Amazon.in.")  # fmt: skip
    assert_no_credential_logged(ACCESS_TOKEN, *AMAZON_CREDENTIALS.values())


def test_an_amazon_refresh_token_refused_marks_the_channel_failing(amazon, respx_mock):
    respx_mock.post(f"https://{LWA_IP}/auth/o2/token").respond(
        400,
        json={
            "error_description": "The request has an invalid grant parameter : refresh_token",
            "error": "invalid_grant",
        },
    )

    checked = channel_check(amazon)

    assert (checked.connection_status, checked.status_message) == ("failing", (
        "The store rejected the channel's credentials (Login with Amazon: invalid_grant)."))  # fmt: skip


def test_an_amazon_pull_reads_orders_with_a_restricted_data_token_and_each_order_s_items(amazon, stocked, respx_mock,
                                                                                          pull):  # fmt: skip
    token = lwa(respx_mock)
    rdt = respx_mock.post(f"https://{SP_IP}/tokens/2021-03-01/restrictedDataToken").respond(
        200, json={"restrictedDataToken": RDT, "expiresIn": 3600}
    )
    orders = respx_mock.get(f"https://{SP_IP}/orders/v0/orders").mock(side_effect=[
        httpx.Response(200, json={"payload": {"Orders": [amazon_order("171-5304612-4431543", "2026-12-01T07:15:40Z")],
                                              "NextToken": "2YgYW55IGNhcm5hbCBwbGVhc3VyZQ=="}}),
        httpx.Response(200, json={"payload": {"Orders": [amazon_order("171-5304612-4431544", "2026-11-30T09:00:00Z")],
                                              "LastUpdatedBefore": "2026-12-04T11:58:00Z"}}),
    ])  # fmt: skip
    items = respx_mock.get(url__regex=rf"https://{SP_IP}/orders/v0/orders/[0-9-]+/orderItems").respond(
        200, json={"payload": {"OrderItems": copy.deepcopy(AMAZON["items"]), "AmazonOrderId": "x"}}
    )

    pulled = pull(amazon)

    assert (token.call_count, rdt.call_count, orders.call_count, items.call_count) == (1, 1, 2, 2)
    assert json.loads(rdt.calls.last.request.content) == {
        "restrictedResources": [
            {"method": "GET", "path": "/orders/v0/orders", "dataElements": ["buyerInfo", "shippingAddress"]}
        ]
    }
    assert [params(call) for call in orders.calls] == [
        {"MarketplaceIds": "A21TJRUUN4KGV", "LastUpdatedAfter": "2026-11-27T12:00:00Z", "MaxResultsPerPage": "100"},
        {"MarketplaceIds": "A21TJRUUN4KGV", "NextToken": "2YgYW55IGNhcm5hbCBwbGVhc3VyZQ=="},
    ]
    assert {call.request.headers["x-amz-access-token"] for call in orders.calls} == {RDT}
    assert {call.request.headers["x-amz-access-token"] for call in items.calls} == {ACCESS_TOKEN}
    assert [call.request.url.path for call in items.calls] == [
        "/orders/v0/orders/171-5304612-4431543/orderItems",
        "/orders/v0/orders/171-5304612-4431544/orderItems",
    ]
    # the cursor moves once, to the latest LastUpdateDate (Amazon does not promise the order of its pages)
    assert pulled == channel_sync.Pulled(pages=2, stored=2, cursor="2026-12-01T07:15:40Z")
    assert sorted(ChannelWebhookDelivery.objects.values_list("delivery_id", "status")) == [
        ("pull:171-5304612-4431543:2026-12-01T07:15:40Z", "processed"),
        ("pull:171-5304612-4431544:2026-11-30T09:00:00Z", "processed"),
    ]
    order = Order.objects.get(channel_order_id="171-5304612-4431543")
    assert (order.shipping_address["name"], order.shipping_address["line1"], order.total, order.payment_method) == (
        "Ananya Iyer", "Flat 12B, Lotus Residency", Decimal("1549.00"), "prepaid")  # fmt: skip
    assert Order.objects.count() == 2
    assert_no_credential_logged(ACCESS_TOKEN, RDT, *AMAZON_CREDENTIALS.values())

"""Write-backs sent to stores against recorded answers: each step's request exactly (path, body, auth), what the
store taught kept on the push so a retry resumes, a lost answer checked before writing again, refusals failing the
push with the store's words, and a store at an internal address never called."""

import json
import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from orders.models import ChannelKind, ChannelPush, SkuMapping
from orders.services import channel_sync
from orders.services.channel_pushes import channel_push_send
from orders.services.channels import channel_create, channel_pause
from shopops.webhooks import addresses
from tests.catalog.factories import ProductFactory

HOSTS = {"acme.myshopify.com": "23.227.38.65", "shop.acme.in": "104.21.32.7", "magento.acme.in": "172.67.140.20",
         "internal.acme.in": "10.0.0.7", "api.amazon.com": "54.239.28.85",
         "sellingpartnerapi-eu.amazon.com": "52.95.120.20"}  # fmt: skip
SHOPIFY, WOO, MAGENTO = (f"https://{HOSTS[h]}" for h in ("acme.myshopify.com", "shop.acme.in", "magento.acme.in"))
GRAPHQL = f"{SHOPIFY}/admin/api/2024-10/graphql.json"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
FULFILMENT = {"order_id": "727", "awb": "BL10000000", "courier_name": "Blue Dart",
              "tracking_url": "https://ops.acme.in/track/BL10000000/tok/", "notify": True}  # fmt: skip


@pytest.fixture(autouse=True)
def store_names(monkeypatch, settings):
    """Resolve the stores' names without DNS; the address check stays on."""

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in HOSTS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (HOSTS[host], port))]

    monkeypatch.setattr(addresses.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr("orders.channels.http.sleep", lambda seconds: None)
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS, settings.DEBUG = False, False
    settings.CHANNEL_MAX_ATTEMPTS, settings.CHANNEL_CIRCUIT_FAILURES = 2, 5


def store(merchant, kind: str, host: str, credentials: dict, **options):
    return channel_create(merchant=merchant, name=f"{kind} store", kind=kind, store_url=f"https://{host}",
                          credentials=credentials, options=options)  # fmt: skip


def push(channel, kind: str = "fulfilment", data: dict | None = None, **values) -> ChannelPush:
    return ChannelPush.objects.create(merchant=channel.merchant, channel=channel, kind=kind, key=f"{kind}:1",
                                      data=FULFILMENT if data is None else data, next_attempt_at=NOW,
                                      **values)  # fmt: skip


def test_woocommerce_gets_a_customer_note_then_the_shipped_status(merchant, respx_mock):
    woo = store(merchant, ChannelKind.WOOCOMMERCE, "shop.acme.in", {"consumer_key": "ck_1", "consumer_secret": "cs_1"})
    note = respx_mock.post(f"{WOO}/wp-json/wc/v3/orders/727/notes").respond(201, json={"id": 281, "note": "x"})
    status = respx_mock.put(f"{WOO}/wp-json/wc/v3/orders/727").respond(200, json={"id": 727, "status": "completed"})

    sent = channel_push_send(push_id=push(woo).pk, now=NOW)

    assert (sent.status, sent.sent_at, sent.last_error) == ("sent", NOW, "")
    assert json.loads(note.calls.last.request.content) == {
        "note": "Shipped with Blue Dart: AWB BL10000000. Track: https://ops.acme.in/track/BL10000000/tok/",
        "customer_note": True}  # fmt: skip
    assert json.loads(status.calls.last.request.content) == {"status": "completed"}
    assert note.calls.last.request.headers["Host"] == "shop.acme.in"
    assert (note.call_count, status.call_count) == (1, 1)


def test_a_retry_after_the_note_took_does_not_write_it_again(merchant, respx_mock):
    woo = store(merchant, ChannelKind.WOOCOMMERCE, "shop.acme.in", {"consumer_key": "ck_1", "consumer_secret": "cs_1"},
                shipped_status="completed")  # fmt: skip
    note = respx_mock.post(f"{WOO}/wp-json/wc/v3/orders/727/notes").respond(201, json={"id": 281})
    status = respx_mock.put(f"{WOO}/wp-json/wc/v3/orders/727")
    status.side_effect = [httpx.Response(503, text="busy"), httpx.Response(503, text="busy"),
                          httpx.Response(200, json={"id": 727, "status": "completed"})]  # fmt: skip

    first = channel_push_send(push_id=push(woo).pk, now=NOW)
    assert (first.status, first.attempts, first.next_attempt_at) == ("pending", 1, NOW + timedelta(minutes=1))
    assert "answered 503" in first.last_error

    later = channel_push_send(push_id=first.pk, now=NOW + timedelta(minutes=1))

    assert later.status == "sent"
    assert (note.call_count, status.call_count) == (1, 3)  # the note once; the status PUT (absolute) again


def test_shopify_fulfils_the_open_fulfilment_orders_with_the_tracking(merchant, respx_mock):
    shopify = store(merchant, ChannelKind.SHOPIFY, "acme.myshopify.com", {"access_token": "shpat_1"})
    route = respx_mock.post(GRAPHQL)
    route.side_effect = [
        httpx.Response(200, json={"data": {"order": {"fulfillmentOrders": {"nodes": [
            {"id": "gid://shopify/FulfillmentOrder/1046000", "status": "OPEN"},
            {"id": "gid://shopify/FulfillmentOrder/1046001", "status": "CLOSED"}]}}}}),
        httpx.Response(200, json={"data": {"fulfillmentCreate": {
            "fulfillment": {"id": "gid://shopify/Fulfillment/255858046", "status": "SUCCESS"}, "userErrors": []}}}),
    ]  # fmt: skip

    sent = channel_push_send(push_id=push(shopify, data={**FULFILMENT, "order_id": "450789469"}).pk, now=NOW)

    assert sent.status == "sent"
    assert sent.known["fulfillment_id"] == "gid://shopify/Fulfillment/255858046"
    first, second = (json.loads(call.request.content) for call in route.calls)
    assert first["variables"] == {"id": "gid://shopify/Order/450789469"}
    assert second["variables"]["fulfillment"] == {
        "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1046000"}],
        "trackingInfo": {"company": "Bluedart", "number": "BL10000000",
                         "url": "https://ops.acme.in/track/BL10000000/tok/"},
        "notifyCustomer": True}  # fmt: skip
    assert route.calls.last.request.headers["X-Shopify-Access-Token"] == "shpat_1"


def test_a_refusal_fails_the_push_with_the_store_s_words(merchant, respx_mock):
    shopify = store(merchant, ChannelKind.SHOPIFY, "acme.myshopify.com", {"access_token": "shpat_1"},
                    location_id="gid://shopify/Location/1")  # fmt: skip
    mapping = SkuMapping.objects.create(merchant=merchant, channel=shopify, channel_sku="KURTA-M",
                                        product=ProductFactory(merchant=merchant))  # fmt: skip
    respx_mock.post(GRAPHQL).respond(200, json={"data": {"productVariants": {"nodes": []}}})

    sent = channel_push_send(push_id=push(shopify, "stock", {"sku": "KURTA-M", "quantity": 7}, mapping=mapping).pk,
                             now=NOW)  # fmt: skip

    assert (sent.status, sent.attempts, sent.last_error) == ("failed", 1, "Shopify has no variant with SKU 'KURTA-M'.")
    mapping.refresh_from_db()
    assert mapping.pushed_quantity is None


def test_magento_stock_is_set_on_its_source_and_remembered(merchant, respx_mock):
    magento = store(merchant, ChannelKind.MAGENTO, "magento.acme.in", {"access_token": "mgt_1"}, source_code="blr")
    mapping = SkuMapping.objects.create(merchant=merchant, channel=magento, channel_sku="KURTA-M",
                                        product=ProductFactory(merchant=merchant))  # fmt: skip
    route = respx_mock.post(f"{MAGENTO}/rest/V1/inventory/source-items").respond(200, json=[])

    sent = channel_push_send(push_id=push(magento, "stock", {"sku": "KURTA-M", "quantity": 0}, mapping=mapping).pk,
                             now=NOW)  # fmt: skip

    assert sent.status == "sent"
    assert json.loads(route.calls.last.request.content) == {
        "sourceItems": [{"sku": "KURTA-M", "source_code": "blr", "quantity": 0, "status": 0}]}  # fmt: skip
    assert route.calls.last.request.headers["Authorization"] == "Bearer mgt_1"
    mapping.refresh_from_db()
    assert (mapping.pushed_quantity, mapping.pushed_at) == (0, NOW)


def test_a_store_at_an_internal_address_is_never_called(merchant, respx_mock):
    inside = store(merchant, ChannelKind.MAGENTO, "internal.acme.in", {"access_token": "mgt_1"})

    sent = channel_push_send(push_id=push(inside, "stock", {"sku": "KURTA-M", "quantity": 3}).pk, now=NOW)

    assert sent.status == "failed"
    assert "private" in sent.last_error
    assert respx_mock.calls.call_count == 0


def test_a_push_not_yet_due_or_of_a_paused_channel_waits(merchant, respx_mock):
    magento = store(merchant, ChannelKind.MAGENTO, "magento.acme.in", {"access_token": "mgt_1"})
    later = push(magento, "stock", {"sku": "KURTA-M", "quantity": 3})
    ChannelPush.objects.filter(pk=later.pk).update(next_attempt_at=NOW + timedelta(minutes=5))

    assert channel_push_send(push_id=later.pk, now=NOW).status == "pending"
    channel_pause(channel=magento)
    assert channel_push_send(push_id=later.pk, now=NOW + timedelta(minutes=5)).status == "pending"
    assert respx_mock.calls.call_count == 0


def test_a_shopify_stock_push_without_a_location_fails_with_what_to_set(merchant, respx_mock):
    shopify = store(merchant, ChannelKind.SHOPIFY, "acme.myshopify.com", {"access_token": "shpat_1"})

    sent = channel_push_send(push_id=push(shopify, "stock", {"sku": "KURTA-M", "quantity": 7}).pk, now=NOW)

    assert (sent.status, sent.last_error) == ("failed", "Set the channel's Shopify location (options.location_id) for "
                                                        "stock pushes: Shopify keeps stock per location.")  # fmt: skip
    assert respx_mock.calls.call_count == 0


def test_a_push_being_sent_is_not_sent_again_by_a_second_worker(merchant, respx_mock):
    magento = store(merchant, ChannelKind.MAGENTO, "magento.acme.in", {"access_token": "mgt_1"})
    route = respx_mock.post(f"{MAGENTO}/rest/V1/inventory/source-items")
    taken = push(magento, "stock", {"sku": "KURTA-M", "quantity": 3})
    second = []

    def answer(request):  # while the first worker waits for the store, the job is delivered again
        second.append(channel_push_send(push_id=taken.pk, now=NOW).status)
        return httpx.Response(200, json=[])

    route.side_effect = answer

    sent = channel_push_send(push_id=taken.pk, now=NOW)

    assert (sent.status, second, route.call_count) == ("sent", ["pending"], 1)


# -- Amazon ------------------------------------------------------------------------------------------------------

LWA, SP_API = (f"https://{HOSTS[h]}" for h in ("api.amazon.com", "sellingpartnerapi-eu.amazon.com"))
AMAZON_ORDER = "402-8816309-7716321"


def amazon_store(merchant, **options):
    channel_sync._amazon_tokens.clear()
    return channel_create(merchant=merchant, name="Amazon.in", kind=ChannelKind.AMAZON, marketplace_id="A21TJRUUN4KGV",
                          credentials={"client_id": "amzn1.application-oa2-client.4f8e", "client_secret": "cs",
                                       "refresh_token": "Atzr|IwEBIJ3k"}, options=options)  # fmt: skip


def test_amazon_gets_a_shipment_confirmation_with_a_fresh_access_token(merchant, respx_mock):
    amazon = amazon_store(merchant)
    token = respx_mock.post(f"{LWA}/auth/o2/token").respond(200, json={"access_token": "Atza|live", "expires_in": 3600})
    items = respx_mock.get(f"{SP_API}/orders/v0/orders/{AMAZON_ORDER}/orderItems").respond(200, json={"payload": {
        "AmazonOrderId": AMAZON_ORDER, "OrderItems": [{"OrderItemId": "32109455617230", "SellerSKU": "TIFFIN-SS-3TIER",
                                                        "QuantityOrdered": 2, "QuantityShipped": 0}]}})  # fmt: skip
    confirm = respx_mock.post(f"{SP_API}/orders/v0/orders/{AMAZON_ORDER}/shipmentConfirmation").respond(204)
    data = {**FULFILMENT, "order_id": AMAZON_ORDER, "package": 81, "ship_date": "2026-12-04T11:58:00Z"}

    sent = channel_push_send(push_id=push(amazon, data=data).pk, now=NOW)

    assert (sent.status, sent.known["outcome"], sent.last_error) == ("sent", "confirmed", "")
    assert json.loads(confirm.calls.last.request.content) == {
        "marketplaceId": "A21TJRUUN4KGV",
        "packageDetail": {"packageReferenceId": "81", "carrierCode": "Other", "carrierName": "Blue Dart",
                          "trackingNumber": "BL10000000", "shipDate": "2026-12-04T11:58:00Z",
                          "orderItems": [{"orderItemId": "32109455617230", "quantity": 2}]}}  # fmt: skip
    for route in (items, confirm):
        assert route.calls.last.request.headers["x-amz-access-token"] == "Atza|live"
        assert route.calls.last.request.headers["Host"] == "sellingpartnerapi-eu.amazon.com"
    assert (token.call_count, items.call_count, confirm.call_count) == (1, 1, 1)  # one token for both calls


def test_amazon_stock_sets_the_listing_quantity_for_the_seller(merchant, respx_mock):
    amazon = amazon_store(merchant, seller_id="A2B3C4D5E6F7G8")
    mapping = SkuMapping.objects.create(merchant=merchant, channel=amazon, channel_sku="TIFFIN-SS-3TIER",
                                        product=ProductFactory(merchant=merchant))  # fmt: skip
    respx_mock.post(f"{LWA}/auth/o2/token").respond(200, json={"access_token": "Atza|live", "expires_in": 3600})
    listing = respx_mock.patch(f"{SP_API}/listings/2021-08-01/items/A2B3C4D5E6F7G8/TIFFIN-SS-3TIER").respond(
        200, json={"sku": "TIFFIN-SS-3TIER", "status": "ACCEPTED", "submissionId": "f1dc", "issues": []}
    )

    sent = channel_push_send(push_id=push(amazon, "stock", {"sku": "TIFFIN-SS-3TIER", "quantity": 5},
                                          mapping=mapping).pk, now=NOW)  # fmt: skip

    assert sent.status == "sent"
    request = listing.calls.last.request
    assert dict(request.url.params) == {"marketplaceIds": "A21TJRUUN4KGV", "issueLocale": "en_US"}
    assert json.loads(request.content)["patches"] == [{"op": "merge", "path": "/attributes/fulfillment_availability",
                                                       "value": [{"fulfillment_channel_code": "DEFAULT",
                                                                  "quantity": 5}]}]  # fmt: skip
    mapping.refresh_from_db()
    assert (mapping.pushed_quantity, mapping.pushed_at) == (5, NOW)


def test_an_amazon_stock_push_without_the_seller_id_fails_with_what_to_set(merchant, respx_mock):
    amazon = amazon_store(merchant)

    sent = channel_push_send(push_id=push(amazon, "stock", {"sku": "TIFFIN-SS-3TIER", "quantity": 5}).pk, now=NOW)

    assert (sent.status, sent.last_error) == ("failed", "Set the channel's Amazon seller id (options.seller_id, "
                                                        "Seller Central's Merchant Token) for stock pushes: listings "
                                                        "are addressed by seller and SKU.")  # fmt: skip
    assert respx_mock.calls.call_count == 0

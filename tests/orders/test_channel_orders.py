"""A store's orders taken in: a Shopify webhook becomes one ShopOps order with exact figures, its SKUs mapped (or
waiting for a mapping that then maps them), its later changes applied while they still can be and flagged when they
come too late; a payload the writer refuses fails its delivery with the reason and writes nothing."""

import base64
import copy
import hashlib
import hmac
import json
from decimal import Decimal
from itertools import count
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from orders.channels.shopify import order_from_payload
from orders.models import (
    ChannelKind,
    ChannelWebhookDelivery,
    Order,
    OrderEvent,
    OrderStatus,
    SkuMapping,
)
from orders.services.channel_orders import channel_order_apply
from orders.services.channel_webhooks import channel_webhook_process, channel_webhook_receive
from orders.services.channels import channel_create
from orders.services.orders import order_confirm, order_mark_shipped, order_pack
from tests.catalog.factories import LocationFactory, ProductFactory, stock
from tests.orders.factories import default_location

SAMPLE = json.loads((Path(__file__).parent / "channels" / "samples" / "shopify_order.json").read_text())
SECRET = "shpss_3c2f0e9b7a1d"
_deliveries = count(1)


def payload(**changes) -> dict:
    return {**copy.deepcopy(SAMPLE), **changes}


@pytest.fixture
def location(merchant):
    return default_location(merchant)


@pytest.fixture
def kurta(merchant, location):
    product = ProductFactory(merchant=merchant, sku="KURTA-IND-M", title="Cotton kurta (M)")
    stock(product, location, 50)
    return product


@pytest.fixture
def shopify(merchant):
    return channel_create(merchant=merchant, name="Shopify store", kind=ChannelKind.SHOPIFY,
                          store_url="https://acme.myshopify.com", credentials={"webhook_secret": SECRET})  # fmt: skip


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """Post a signed Shopify webhook and run its worker job (eager Celery): the stored delivery."""

    def post(channel, body: dict, topic: str = "orders/create") -> ChannelWebhookDelivery:
        raw = json.dumps(body).encode()
        signature = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
        with django_capture_on_commit_callbacks(execute=True):
            response = APIClient().post(f"/api/v1/webhooks/channels/{channel.webhook_id}/", raw,
                                        content_type="application/json", HTTP_X_SHOPIFY_TOPIC=topic,
                                        HTTP_X_SHOPIFY_HMAC_SHA256=signature,
                                        HTTP_X_SHOPIFY_WEBHOOK_ID=f"w-{next(_deliveries)}")  # fmt: skip
        assert response.status_code == 200, response.json()
        return ChannelWebhookDelivery.objects.order_by("-id").first()

    return post


def test_a_webhook_order_is_created_with_shopify_s_figures_and_its_unmapped_line_waits(merchant, shopify, kurta,
                                                                                       deliver):  # fmt: skip
    delivery = deliver(shopify, payload())

    order = Order.objects.get()
    assert (delivery.status, delivery.result, delivery.order_id, delivery.error) == (
        "processed", f"Created order {order.number}.", order.pk, {})  # fmt: skip
    assert (order.channel_id, order.channel_order_id, order.status, order.payment_method, order.payment_status,
            order.total, order.currency) == (shopify.pk, "450789469", "new", "prepaid", "paid", Decimal("2525.50"),
                                             "INR")  # fmt: skip
    assert [(ln.sku, ln.product_id, ln.quantity, ln.total) for ln in order.lines.order_by("id")] == [
        ("KURTA-IND-M", kurta.pk, 2, Decimal("2124.00")),
        ("shopify-variant-49148385", None, 1, Decimal("283.50")),
    ]
    created = OrderEvent.objects.get(order=order, kind="created")
    assert (created.actor, created.data["unmapped_skus"]) == (f"channel:{shopify.channel_id}",
                                                               ["shopify-variant-49148385"])  # fmt: skip


def test_mapping_the_sku_maps_the_line_waiting_for_it(merchant, shopify, kurta, deliver, api):
    deliver(shopify, payload())
    dupatta = ProductFactory(merchant=merchant, sku="DUPATTA-RED")

    response = api.post("/api/v1/sku-mappings/", {"channel": shopify.channel_id,
                                                  "channel_sku": "shopify-variant-49148385", "sku": "DUPATTA-RED"},
                        format="json")  # fmt: skip

    assert response.status_code == 201, response.json()
    mapping = SkuMapping.objects.get()
    assert response.json() == {"id": mapping.pk, "channel": shopify.pk, "channel_sku": "shopify-variant-49148385",
                               "product": dupatta.pk, "sku": "DUPATTA-RED",
                               "created_at": response.json()["created_at"],
                               "updated_at": response.json()["updated_at"]}  # fmt: skip
    line = Order.objects.get().lines.get(sku="shopify-variant-49148385")
    assert line.product_id == dupatta.pk
    # the next order with that SKU arrives mapped
    deliver(shopify, payload(id=450789470))
    assert Order.objects.get(channel_order_id="450789470").lines.filter(product__isnull=True).count() == 0


def test_the_same_order_by_webhook_then_by_pull_is_one_order(shopify, kurta, deliver):
    deliver(shopify, payload())
    again = deliver(shopify, payload(), topic="orders/updated")  # a new delivery of the same order, nothing changed

    applied = channel_order_apply(channel=shopify, incoming=order_from_payload(payload()))  # a pull's page

    assert Order.objects.count() == 1
    assert (again.status, again.result) == ("processed", f"Order {Order.objects.get().number} has nothing new.")
    assert (applied.outcome, applied.order.pk) == ("unchanged", Order.objects.get().pk)


def test_a_new_address_applies_before_packing_and_is_flagged_after(shopify, kurta, deliver):
    deliver(shopify, payload())
    order = Order.objects.get()
    moved = copy.deepcopy(SAMPLE["shipping_address"]) | {"address1": "7 MG Road", "zip": "560001"}

    delivery = deliver(shopify, payload(shipping_address=moved), topic="orders/updated")

    order.refresh_from_db()
    assert (delivery.result, order.shipping_address["line1"], order.shipping_address["postcode"]) == (
        f"Updated order {order.number}: shipping_address.", "7 MG Road", "560001")  # fmt: skip
    event = OrderEvent.objects.get(order=order, kind="channel_update")
    assert event.message == "Shopify store changed shipping address."

    SkuMapping.objects.create(merchant=order.merchant, channel=shopify, channel_sku="shopify-variant-49148385",
                              product=ProductFactory(merchant=order.merchant, sku="DUPATTA-RED"))  # fmt: skip
    order.lines.filter(product__isnull=True).update(product=SkuMapping.objects.get().product)
    stock(SkuMapping.objects.get().product, default_location(order.merchant), 5)
    order_pack(order=order_confirm(order=order, actor="user:1"), actor="user:1")
    late = copy.deepcopy(moved) | {"address1": "9 Brigade Road"}

    delivery = deliver(shopify, payload(shipping_address=late), topic="orders/updated")

    order.refresh_from_db()
    assert order.shipping_address["line1"] == "7 MG Road"
    assert delivery.result == "Shopify store sent a new shipping address, but the order is packed: not applied."
    assert OrderEvent.objects.filter(order=order, kind="channel_conflict").count() == 1


def test_a_cancellation_applies_before_shipping(shopify, kurta, deliver):
    deliver(shopify, payload())

    delivery = deliver(shopify, payload(cancelled_at="2026-12-01T12:00:00+05:30", cancel_reason="customer"),
                       topic="orders/cancelled")  # fmt: skip

    order = Order.objects.get()
    assert (order.status, order.cancel_reason) == ("cancelled", "Cancelled on Shopify store: customer")
    assert delivery.result == f"Cancelled order {order.number}."


def test_a_cancellation_after_shipping_is_flagged_not_applied(merchant, shopify, kurta, deliver):
    SkuMapping.objects.create(merchant=merchant, channel=shopify, channel_sku="shopify-variant-49148385",
                              product=kurta)  # fmt: skip
    deliver(shopify, payload())
    order = Order.objects.get()
    order = order_mark_shipped(order=order_pack(order=order_confirm(order=order, actor="user:1"), actor="user:1"),
                               actor="system", awb="AWB1", courier="bluedart")  # fmt: skip

    delivery = deliver(shopify, payload(cancelled_at="2026-12-01T12:00:00+05:30", cancel_reason="fraud"),
                       topic="orders/cancelled")  # fmt: skip

    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert (delivery.status, delivery.result) == ("processed", (
        "Cancelled on Shopify store: fraud, but the order is shipped: not cancelled in ShopOps; stop or recall the "
        "parcel with the courier."))  # fmt: skip
    assert OrderEvent.objects.get(order=order, kind="channel_conflict").data == {
        "cancelled": True,
        "cancel_reason": "fraud",
    }


def test_an_order_cancelled_before_it_arrived_is_not_taken_in(shopify, kurta, deliver):
    delivery = deliver(shopify, payload(cancelled_at="2026-12-01T12:00:00+05:30"), topic="orders/cancelled")

    assert (delivery.status, delivery.result) == ("ignored", "Cancelled on Shopify store before it reached ShopOps.")
    assert Order.objects.count() == 0


@pytest.mark.parametrize("change,error", [
    ({"currency": "USD"}, {"currency": ["The order is in USD; Acme Retail sells in INR."]}),
    ({"shipping_address": None, "billing_address": None},
     {"shipping_address": ["The order has no shipping address."]}),
    ({"line_items": []}, {"line_items": ["The order has no lines."]}),
])  # fmt: skip
def test_a_payload_the_writer_refuses_fails_its_delivery_with_the_reason(shopify, kurta, deliver, change, error):
    delivery = deliver(shopify, payload(**change))

    assert (delivery.status, delivery.error) == ("failed", error)
    assert Order.objects.count() == 0


def test_the_channel_s_payment_mapping_and_pickup_location_apply(merchant, shopify, kurta, deliver):
    warehouse = LocationFactory(merchant=merchant, nickname="mumbai-wh")
    shopify.payment_mapping = {"razorpay secure (upi, cards, wallets, netbanking)": "cod"}
    shopify.pickup_location = warehouse
    shopify.save()

    deliver(shopify, payload())

    order = Order.objects.get()
    assert (order.payment_method, order.payment_status, order.pickup_location_id) == ("cod", "pending", warehouse.pk)


def lines_payload(merchant, location, count_: int, order_id: int) -> dict:
    """The sample order with ``count_`` copies of its first line, each a product of its own (SKU matched)."""
    body = payload(id=order_id, name=f"#{order_id}")
    first = body["line_items"][0]
    body["line_items"] = []
    for index in range(count_):
        sku = f"KURTA-{order_id}-{index}"
        stock(ProductFactory(merchant=merchant, sku=sku), location, 10)
        body["line_items"].append({**copy.deepcopy(first), "id": order_id * 100 + index, "sku": sku})
    body["total_price"] = f"{count_ * 2124 + 118}.00"  # each line 2 x 1180 less 236, and the shipping line
    return body


def test_processing_a_delivery_costs_the_same_queries_for_2_or_20_lines(
    merchant, shopify, location, kurta, django_capture_on_commit_callbacks
):
    def process(body: dict) -> tuple[int, ChannelWebhookDelivery]:
        raw = json.dumps(body).encode()
        signature = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
        headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": signature,
                   "X-Shopify-Webhook-Id": f"w-{next(_deliveries)}"}  # fmt: skip
        with django_capture_on_commit_callbacks(execute=False):
            received = channel_webhook_receive(webhook_id=shopify.webhook_id, headers=headers, body=raw)
        with CaptureQueriesContext(connection) as queries:
            delivery = channel_webhook_process(delivery_id=received.delivery.pk)
        return len(queries), delivery

    process(lines_payload(merchant, location, 1, 9000))  # the process's first order warms its caches
    small, first = process(lines_payload(merchant, location, 2, 9001))
    large, second = process(lines_payload(merchant, location, 20, 9002))

    assert (first.status, second.status) == ("processed", "processed"), (first.error, second.error)
    assert Order.objects.get(channel_order_id="9002").lines.count() == 20
    assert large == small
    assert small <= 25

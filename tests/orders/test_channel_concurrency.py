"""The same store order arriving by two roads at once (its webhook and a pull, or Shopify's retry of a webhook being
processed twice) is one order (PostgreSQL, real threads)."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from orders.channels.shopify import order_from_payload
from orders.models import ChannelKind, ChannelWebhookDelivery, Order, OrderEvent
from orders.services.channel_orders import channel_order_apply
from orders.services.channel_webhooks import channel_webhook_process
from orders.services.channels import channel_create
from tests.catalog.factories import ProductFactory, stock
from tests.orders.factories import default_location

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SAMPLE = (Path(__file__).parent / "channels" / "samples" / "shopify_order.json").read_text()


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real concurrent inserts: set DATABASE_URL (CI does)")


@pytest.fixture
def shopify(merchant):
    stock(ProductFactory(merchant=merchant, sku="KURTA-IND-M"), default_location(merchant), 50)
    return channel_create(merchant=merchant, name="Shopify store", kind=ChannelKind.SHOPIFY)


def race(*calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_a_webhook_and_a_pull_of_the_same_order_at_once_make_one_order(merchant, shopify):
    delivery = ChannelWebhookDelivery.objects.create(merchant=merchant, channel=shopify, delivery_id="w-1",
                                                     topic="orders/create", body=SAMPLE)  # fmt: skip

    processed, pulled = race(
        lambda: channel_webhook_process(delivery_id=delivery.pk),
        lambda: channel_order_apply(channel=shopify, incoming=order_from_payload(json.loads(SAMPLE))),
    )

    order = Order.objects.get()
    assert Order.objects.count() == 1
    created_by_webhook, created_by_pull = processed.result.startswith("Created"), pulled.outcome == "created"
    assert created_by_webhook != created_by_pull  # exactly one of them created it; the other found it
    assert processed.status == "processed"
    assert OrderEvent.objects.filter(order=order, kind="created").count() == 1
    assert order.lines.count() == 2


def test_one_delivery_processed_by_two_workers_at_once_makes_one_order(merchant, shopify):
    delivery = ChannelWebhookDelivery.objects.create(merchant=merchant, channel=shopify, delivery_id="w-1",
                                                     topic="orders/create", body=SAMPLE)  # fmt: skip

    race(*[lambda: channel_webhook_process(delivery_id=delivery.pk)] * 2)

    delivery.refresh_from_db()
    assert Order.objects.count() == 1
    assert (delivery.status, delivery.order_id) == ("processed", Order.objects.get().pk)

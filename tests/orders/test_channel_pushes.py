"""Write-backs queued in the outbox: a store's order that gets its AWB queues one fulfilment push in the same
transaction; mapped SKUs' stock is compared with what the store was last told and pushed once per difference; a
push's failures back off, run out, and may be sent again."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from catalog import services as catalog_services
from orders.models import ChannelKind, ChannelPush, OrderStatus, SkuMapping
from orders.services.channel_pushes import (
    backoff,
    push_failed,
    push_retry,
    push_succeeded,
    pushes_due,
    stock_reconcile,
)
from orders.services.channels import channel_create, channel_pause
from tests.catalog.factories import LocationFactory, ProductFactory, stock
from tests.orders.factories import default_location, make_order
from tests.shipping.factories import make_shipment

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def shopify(merchant):
    return channel_create(merchant=merchant, name="Shopify store", kind=ChannelKind.SHOPIFY,
                          store_url="https://acme.myshopify.com", credentials={"access_token": "shpat_1"})  # fmt: skip


def test_an_awb_for_a_store_s_order_queues_one_fulfilment_push(merchant, shopify):
    order = make_order(merchant, OrderStatus.PACKED, channel=shopify.channel_id, channel_order_id="450789469")

    shipment = make_shipment(merchant, "awb_assigned", order=order)

    push = ChannelPush.objects.get()
    assert (push.channel_id, push.kind, push.order_id, push.key, push.status) == (
        shopify.pk, "fulfilment", order.pk, f"fulfilment:{order.pk}:{shipment.awb}", "pending")  # fmt: skip
    assert push.data == {"order_id": "450789469", "awb": shipment.awb, "courier_name": "Blue Dart",
                         "tracking_url": f"{settings.SHOPOPS_PUBLIC_URL}/track/{shipment.awb}/"
                                         f"{shipment.tracking_token}/", "notify": True, "package": shipment.pk,
                         "ship_date": f"{shipment.awb_assigned_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"}  # fmt: skip


def test_orders_of_other_channels_and_of_a_paused_store_queue_nothing(merchant, shopify):
    make_shipment(merchant, "awb_assigned")  # the default API channel
    channel_pause(channel=shopify)
    make_shipment(merchant, "awb_assigned", order=make_order(merchant, OrderStatus.PACKED, channel=shopify.channel_id))

    assert ChannelPush.objects.count() == 0


def test_stock_is_pushed_once_per_difference(merchant, shopify):
    location = default_location(merchant)
    kurta = ProductFactory(merchant=merchant, sku="KURTA-IND-M")
    stock(kurta, location, 50, reserved=8)
    mapping = SkuMapping.objects.create(merchant=merchant, channel=shopify, channel_sku="SHOP-KURTA", product=kurta)

    assert stock_reconcile(channel=shopify, now=NOW) == 1
    assert stock_reconcile(channel=shopify, now=NOW) == 0  # the pending push already says 42
    push = ChannelPush.objects.get()
    assert (push.kind, push.mapping_id, push.key, push.data) == ("stock", mapping.pk, f"stock:{mapping.pk}",
                                                                  {"sku": "SHOP-KURTA", "quantity": 42})  # fmt: skip

    catalog_services.stock_adjust(merchant=merchant, product=kurta, location=location, action="remove", quantity=2,
                                  reason="damaged", actor="user:1")  # fmt: skip
    assert stock_reconcile(channel=shopify, now=NOW) == 1  # the pending push's figure is replaced in place
    assert list(ChannelPush.objects.values_list("data", flat=True)) == [{"sku": "SHOP-KURTA", "quantity": 40}]

    push_succeeded(ChannelPush.objects.get(), {"inventory_item": "gid://shopify/InventoryItem/1"}, NOW)
    mapping.refresh_from_db()
    assert (mapping.pushed_quantity, mapping.pushed_at) == (40, NOW)
    assert stock_reconcile(channel=shopify, now=NOW) == 0  # the store knows 40 already


def test_the_channel_s_pickup_location_alone_counts_and_nothing_goes_below_zero(merchant, shopify):
    main, mumbai = default_location(merchant), LocationFactory(merchant=merchant, nickname="mumbai-wh")
    kurta, scarf = ProductFactory(merchant=merchant, sku="KURTA"), ProductFactory(merchant=merchant, sku="SCARF")
    stock(kurta, main, 30)
    stock(kurta, mumbai, 5)
    for product in (kurta, scarf):
        SkuMapping.objects.create(merchant=merchant, channel=shopify, channel_sku=f"S-{product.sku}", product=product)
    shopify.pickup_location = mumbai
    shopify.save()

    stock_reconcile(channel=shopify, now=NOW)

    assert sorted(tuple(d.values()) for d in ChannelPush.objects.values_list("data", flat=True)) == [
        ("S-KURTA", 5), ("S-SCARF", 0)]  # fmt: skip


def test_failures_back_off_then_fail_and_may_be_sent_again(merchant, shopify, settings):
    settings.CHANNEL_PUSH_MAX_ATTEMPTS = 3
    push = ChannelPush.objects.create(merchant=merchant, channel=shopify, kind="stock", key="stock:1",
                                      data={"sku": "S", "quantity": 1})  # fmt: skip

    push = push_failed(push, {}, "503 from the store", NOW, retry=True)
    assert (push.status, push.attempts, push.next_attempt_at) == ("pending", 1, NOW + timedelta(minutes=1))
    push = push_failed(push, {"step": 1}, "503 from the store", NOW, retry=True)
    assert (push.status, push.attempts, push.next_attempt_at, push.known) == (
        "pending", 2, NOW + timedelta(minutes=2), {"step": 1})  # fmt: skip
    assert pushes_due(now=NOW + timedelta(minutes=1)) == 0
    assert pushes_due(now=NOW + timedelta(minutes=2)) == 1
    push = push_failed(push, {"step": 1}, "503 from the store", NOW, retry=True)
    assert (push.status, push.attempts, push.last_error) == ("failed", 3, "503 from the store")

    assert push_retry(pushes=ChannelPush.objects.all()) == 1
    push.refresh_from_db()
    assert (push.status, push.attempts, push.last_error) == ("pending", 0, "")


def test_a_refusal_fails_the_push_at_once(merchant, shopify):
    push = ChannelPush.objects.create(merchant=merchant, channel=shopify, kind="stock", key="stock:1",
                                      data={"sku": "S", "quantity": 1})  # fmt: skip

    push = push_failed(push, {}, "Shopify has no variant with SKU S", NOW, retry=False)

    assert (push.status, push.attempts) == ("failed", 1)


def test_backoff_doubles_up_to_six_hours():
    assert [backoff(n) for n in (1, 2, 3, 9, 20)] == [timedelta(minutes=1), timedelta(minutes=2),
                                                       timedelta(minutes=4), timedelta(minutes=256),
                                                       timedelta(hours=6)]  # fmt: skip

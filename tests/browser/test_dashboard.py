"""Logging in through the admin's form, and the admin's home page, the merchant dashboard: each tile's number read off
the page against counts made from the database for hand-made data, and a tile's link listing exactly its rows."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db.models import F
from django.utils import timezone

from catalog.models import StockLevel
from orders.models import (
    BulkImport,
    Channel,
    ChannelPush,
    ChannelWebhookDelivery,
    ConnectionStatus,
    ImportStatus,
    Order,
    OrderStatus,
)
from shipping.models import NDR, Document, DocumentStatus, NDRStatus, ShipBatch, ShipBatchStatus, Shipment
from shipping.models import ShipmentStatus as S
from tests.orders.factories import make_order
from tests.shipping.factories import make_shipment, shipping_courier

pytestmark = pytest.mark.browser
#: Shipments whose cash on delivery is still to be collected.
COD_OPEN = (S.AWB_ASSIGNED, S.PICKUP_SCHEDULED, S.PICKED_UP, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.NDR)


def test_a_merchant_s_owner_logs_in_through_the_form_and_lands_on_the_dashboard(visit, owner, merchant):
    desk = visit("login")
    page = desk.page
    assert get_user_model().objects.get(pk=owner.pk).last_login is None

    desk.open("/admin/", "login-form")  # not logged in: sent to the form
    assert page.url == f"{desk.base_url}/admin/login/?next=/admin/"
    page.get_by_label("Username").fill(owner.username)
    page.get_by_label("Password").fill("not-the-password")
    desk.follow(page.get_by_role("button", name="Log in"))
    desk.shot("wrong-password")

    assert page.locator("p.errornote").inner_text().startswith("Please enter the correct username and password")
    assert get_user_model().objects.get(pk=owner.pk).last_login is None
    assert Session.objects.count() == 0

    page.get_by_label("Username").fill(owner.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    desk.follow(page.get_by_role("button", name="Log in"))
    assert page.url == f"{desk.base_url}/admin/"
    desk.shot("dashboard")

    assert page.locator("#dashboard .bar-head strong").inner_text() == "Acme Retail"
    assert page.locator("#user-tools strong").inner_text() == owner.username.upper()
    assert get_user_model().objects.get(pk=owner.pk).last_login is not None
    assert [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()] == [str(owner.pk)]


def tiles(page, widget: str) -> dict[str, int]:
    """The tiles of a dashboard widget as shown: label -> the number in its ``data-count``, checked against the
    number printed on the tile."""
    shown = {}
    for tile in page.locator(f'div.tiles[data-widget="{widget}"] a.tile').all():
        label = tile.locator("span.label").inner_text()
        count = int(tile.get_attribute("data-count"))
        assert int(tile.locator("span.count").inner_text()) == count, label
        shown[label] = count
    return shown


@pytest.fixture
def day_of_work(merchant, other_merchant):
    """Acme's orders and shipments in hand-picked statuses, a failed import; Other Shop has some of its own that
    Acme's dashboard must not count."""
    courier = shipping_courier(merchant)
    for _ in range(3):
        make_order(merchant, OrderStatus.NEW)
    for status in (OrderStatus.CONFIRMED, OrderStatus.CONFIRMED, OrderStatus.PACKED, OrderStatus.DELIVERED):
        make_order(merchant, status)
    made = [make_shipment(merchant, status, courier=courier)
            for status in (S.AWB_ASSIGNED, S.AWB_ASSIGNED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.NDR)]  # fmt: skip
    Shipment.objects.filter(pk=made[3].pk).update(cod_amount=Decimal("1499.50"))  # cash to collect at the door
    BulkImport.objects.create(merchant=merchant, kind="orders", file="imports/a.csv", file_name="a.csv", checksum="a",
                              status=ImportStatus.FAILED)  # fmt: skip
    make_order(other_merchant, OrderStatus.NEW)
    make_shipment(other_merchant, S.NDR, courier=shipping_courier(other_merchant))
    BulkImport.objects.create(merchant=other_merchant, kind="orders", file="imports/b.csv", file_name="b.csv",
                              checksum="b", status=ImportStatus.FAILED)  # fmt: skip


def test_the_dashboard_s_tiles_show_the_database_s_counts_and_a_tile_lists_its_rows(visit, owner, merchant,
                                                                                    day_of_work):  # fmt: skip
    orders = Order.objects.filter(merchant=merchant)
    shipments = Shipment.objects.filter(merchant=merchant)
    waiting = (OrderStatus.CONFIRMED, OrderStatus.PACKED)
    zone = ZoneInfo(merchant.time_zone)
    midnight = datetime.combine(timezone.now().astimezone(zone).date(), time.min, tzinfo=zone)  # the merchant's
    expected_todo = {
        "Orders to confirm": orders.filter(status=OrderStatus.NEW).count(),
        "Orders to pack": orders.filter(status=OrderStatus.CONFIRMED).count(),
        "To ship: no AWB yet": orders.filter(status__in=waiting, awb="").count(),
        "To ship: AWB, no pickup": shipments.filter(status=S.AWB_ASSIGNED).count(),
        "NDRs awaiting action": NDR.objects.filter(merchant=merchant, status=NDRStatus.OPEN).count(),
    }
    expected_moving = {
        "In transit": shipments.filter(status__in=(S.PICKED_UP, S.IN_TRANSIT)).count(),
        "Out for delivery": shipments.filter(status=S.OUT_FOR_DELIVERY).count(),
        "RTOs in flight": shipments.filter(status__in=(S.RTO_INITIATED, S.RTO_IN_TRANSIT)).count(),
        "Delivered today": shipments.filter(
            delivered_at__gte=midnight, delivered_at__lt=midnight + timedelta(days=1)
        ).count(),
        "COD to collect": shipments.filter(status__in=COD_OPEN, cod_amount__gt=0).count(),
    }
    expected_attention = {
        "Low-stock SKUs": StockLevel.objects.filter(merchant=merchant,
                                                    available__lte=F("low_stock_threshold")).count(),
        "Imports with errors": BulkImport.objects.filter(
            merchant=merchant, status__in=(ImportStatus.FAILED, ImportStatus.PARTIALLY_FAILED)).count(),
        "Documents failed": Document.objects.filter(merchant=merchant, status=DocumentStatus.FAILED).count(),
        "Ship batches failed": ShipBatch.objects.filter(merchant=merchant, status=ShipBatchStatus.FAILED).count(),
        "Channel webhooks failed": ChannelWebhookDelivery.objects.filter(
            merchant=merchant, status=ChannelWebhookDelivery.Status.FAILED).count(),
        "Channel write-backs failed": ChannelPush.objects.filter(merchant=merchant,
                                                                 status=ChannelPush.Status.FAILED).count(),
        "Channels failing": Channel.objects.filter(merchant=merchant,
                                                   connection_status=ConnectionStatus.FAILING).count(),
    }  # fmt: skip
    # the hand-made day, in numbers: the database's counts are these
    assert expected_todo == {"Orders to confirm": 3, "Orders to pack": 2, "To ship: no AWB yet": 3,
                             "To ship: AWB, no pickup": 2, "NDRs awaiting action": 1}  # fmt: skip
    assert expected_moving == {"In transit": 1, "Out for delivery": 1, "RTOs in flight": 0, "Delivered today": 0,
                               "COD to collect": 1}  # fmt: skip
    assert expected_attention == {"Low-stock SKUs": 0, "Imports with errors": 1, "Documents failed": 0,
                                  "Ship batches failed": 0, "Channel webhooks failed": 0,
                                  "Channel write-backs failed": 0, "Channels failing": 0}  # fmt: skip
    desk = visit("dashboard")
    page = desk.page

    desk.log_in(owner)
    desk.shot("home")

    assert tiles(page, "todo") == expected_todo
    assert tiles(page, "moving") == expected_moving
    cod = page.locator('div.tiles[data-widget="moving"] a.tile', has_text="COD to collect")
    assert cod.locator("span.amount").inner_text() == "₹1,499.50"
    assert tiles(page, "attention") == expected_attention
    assert tiles(page, "pickups") == {}
    assert page.locator('div.tiles[data-widget="pickups"] p.empty').inner_text() == "No pickup is scheduled for today."

    tile = page.locator('div.tiles[data-widget="todo"] a.tile', has_text="Orders to confirm")
    href = tile.get_attribute("href")
    desk.follow(tile)
    assert (href.startswith("/admin/orders/order/?"), page.url) == (True, f"{desk.base_url}{href}")
    desk.shot("orders-to-confirm")

    assert sorted(desk.rows()) == sorted(orders.filter(status=OrderStatus.NEW).values_list("pk", flat=True))
    assert len(desk.rows()) == expected_todo["Orders to confirm"]

    page.go_back()
    tile = page.locator('div.tiles[data-widget="todo"] a.tile', has_text="NDRs awaiting action")
    href = tile.get_attribute("href")
    desk.follow(tile)
    assert (href.startswith("/admin/shipping/ndr/?"), page.url) == (True, f"{desk.base_url}{href}")
    desk.shot("ndrs-awaiting-action")

    assert desk.rows() == list(
        NDR.objects.filter(merchant=merchant, status=NDRStatus.OPEN).values_list("pk", flat=True)
    )
    assert len(desk.rows()) == expected_todo["NDRs awaiting action"]

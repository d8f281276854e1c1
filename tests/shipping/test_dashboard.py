"""The merchant's dashboard (the admin's home): every number against hand-made data of two merchants, each number's
link listing exactly the rows it counts, one query per widget, the charts' figures, a merchant with no data, a user
with two merchants switching between them, and a viewer."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache

from catalog.models import StockLevel
from orders.models import BulkImport, Channel, ConnectionStatus, ImportStatus, Order, OrderStatus
from shipping import dashboard as board_module
from shipping.dashboard import dashboard, merchant_today
from shipping.models import NDR, Courier, Shipment, ShipmentStatus
from tests.catalog.factories import LocationFactory, ProductFactory, stock
from tests.orders.factories import make_order
from tests.shipping.factories import make_shipment, shipping_courier
from tests.shopops.factories import MembershipFactory

S = ShipmentStatus
#: 14:30 in Kolkata: "today" is 4 December there.
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def tiles(widget) -> list[tuple[str, int]]:
    return [(tile.label, tile.count) for tile in widget]


@pytest.fixture
def shop(merchant, other_merchant):
    """Acme's day: orders in each desk status, shipments along the way, an open NDR, a pickup today, low stock and
    failures; Other Shop has some of each too, which Acme's numbers must not count."""
    for _ in range(2):
        make_order(merchant, OrderStatus.NEW)
    make_order(merchant, OrderStatus.CONFIRMED)
    make_order(merchant, OrderStatus.PACKED)
    bluedart = shipping_courier(merchant)
    delhivery = shipping_courier(merchant, code="delhivery", name="Delhivery")
    made = {status: make_shipment(merchant, status, courier=bluedart) for status in
            (S.NEW, S.AWB_ASSIGNED, S.PICKUP_SCHEDULED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.NDR, S.RTO_INITIATED,
             S.DELIVERED, S.CANCELLED)}  # fmt: skip
    second_transit = make_shipment(merchant, S.PICKED_UP, courier=delhivery)
    second_pickup = make_shipment(merchant, S.PICKUP_SCHEDULED, courier=delhivery)
    delivered_today = make_shipment(merchant, S.DELIVERED, courier=delhivery)
    Shipment.objects.filter(pk=delivered_today.pk).update(delivered_at=NOW - timedelta(hours=2))
    Shipment.objects.filter(pk__in=[made[S.OUT_FOR_DELIVERY].pk, made[S.NDR].pk]).update(cod_amount=Decimal("1499.50"))
    Shipment.objects.filter(pk=made[S.DELIVERED].pk).update(cod_amount=Decimal("999.00"))  # collected: not counted
    Shipment.objects.filter(pk__in=[made[S.PICKUP_SCHEDULED].pk, second_pickup.pk, second_transit.pk]).update(
        pickup_date=merchant_today(merchant, NOW)
    )  # the one picked up already is no longer waiting
    level = StockLevel.objects.filter(merchant=merchant).first()
    StockLevel.objects.filter(pk=level.pk).update(low_stock_threshold=level.on_hand + 1)
    BulkImport.objects.create(merchant=merchant, kind="orders", file="imports/a.csv", file_name="a.csv", checksum="a",
                              status=ImportStatus.FAILED)  # fmt: skip
    BulkImport.objects.create(merchant=merchant, kind="orders", file="imports/b.csv", file_name="b.csv", checksum="b",
                              status=ImportStatus.DONE)  # fmt: skip
    Channel.objects.filter(merchant=merchant).update(connection_status=ConnectionStatus.FAILING)
    # the other merchant: none of this is Acme's
    make_order(other_merchant, OrderStatus.NEW)
    make_shipment(other_merchant, S.IN_TRANSIT, courier=shipping_courier(other_merchant))
    BulkImport.objects.create(merchant=other_merchant, kind="orders", file="imports/c.csv", file_name="c.csv",
                              checksum="c", status=ImportStatus.FAILED)  # fmt: skip
    return made


def test_every_number_counts_only_the_merchant_s_own_rows(merchant, shop):
    board = dashboard(merchant, now=NOW, cached=False)

    assert board.today.isoformat() == "2026-12-04"
    # no AWB yet: the confirmed and packed orders, the order of the shipment still new and that of the cancelled one
    assert tiles(board.todo) == [("Orders to confirm", 2), ("Orders to pack", 1), ("To ship: no AWB yet", 4),
                                 ("To ship: AWB, no pickup", 1), ("NDRs awaiting action", 1)]  # fmt: skip
    assert tiles(board.moving) == [("In transit", 2), ("Out for delivery", 1), ("RTOs in flight", 1),
                                   ("Delivered today", 1), ("COD to collect", 2)]  # fmt: skip
    cod = board.moving[-1]
    assert (cod.amount, cod.currency) == (Decimal("2999.00"), "INR")
    assert tiles(board.pickups) == [("Blue Dart", 1), ("Delhivery", 1)]
    assert [tile.hint for tile in board.pickups] == ["1 pickup", "1 pickup"]
    assert tiles(board.stock) == [("Low-stock SKUs", 1)]
    channels = Channel.objects.filter(merchant=merchant).count()
    assert tiles(board.failures) == [("Imports with errors", 1), ("Documents failed", 0), ("Ship batches failed", 0),
                                     ("Channel webhooks failed", 0), ("Channel write-backs failed", 0),
                                     ("Channels failing", channels)]  # fmt: skip
    assert [tile.tone for tile in board.failures] == ["error", "", "", "", "", "error"]


def test_each_number_links_to_the_list_of_exactly_its_rows(client, owner, merchant, shop):
    board = dashboard(merchant, now=NOW, cached=False)
    client.force_login(owner)

    for tile in [*board.todo, *board.moving, *board.pickups, *board.stock, *board.failures]:
        if tile.label == "Delivered today" or tile.label in ("Blue Dart", "Delhivery"):
            continue  # "today" in the list is the real today; checked below with the real clock
        response = client.get(tile.url)
        assert response.status_code == 200, (tile.label, tile.url)
        assert response.context["cl"].result_count == tile.count, (tile.label, tile.url)


def test_today_s_links_list_today_s_rows(client, owner, merchant):
    courier = shipping_courier(merchant)
    delivered = make_shipment(merchant, S.DELIVERED, courier=courier)
    Shipment.objects.filter(pk=delivered.pk).update(delivered_at=datetime.now(UTC))
    scheduled = make_shipment(merchant, S.PICKUP_SCHEDULED, courier=courier)
    Shipment.objects.filter(pk=scheduled.pk).update(pickup_date=merchant_today(merchant))
    board = dashboard(merchant, cached=False)
    client.force_login(owner)

    for tile in (board.moving[3], board.pickups[0]):
        assert tile.count == 1
        assert client.get(tile.url).context["cl"].result_count == 1, tile.label


def test_each_widget_is_one_query_whatever_the_size(merchant, shop, django_assert_num_queries):
    today = merchant_today(merchant, NOW)
    widgets = [
        lambda: board_module.order_work(merchant),
        lambda: board_module.shipment_work(merchant, today),
        lambda: board_module.ndr_work(merchant),
        lambda: board_module.pickups_today(merchant, today),
        lambda: board_module.low_stock(merchant),
        lambda: board_module.failures(merchant),
        lambda: board_module.orders_per_day(merchant, today, 90),
        lambda: board_module.shipments_by_status(merchant),
        lambda: board_module.courier_performance(merchant),
        lambda: board_module.rto_by_state(merchant, today, 90),
    ]
    for widget in widgets:
        with django_assert_num_queries(1):
            widget()
    for _ in range(3):  # more of everything: still one query each
        make_shipment(merchant, S.RTO_INITIATED)
        make_order(merchant, OrderStatus.NEW)
    for widget in widgets:
        with django_assert_num_queries(1):
            widget()
    with django_assert_num_queries(10):
        dashboard(merchant, now=NOW)
    with django_assert_num_queries(0):  # kept for a minute
        dashboard(merchant, now=NOW)


def test_the_charts_figures(merchant, shop):
    Order.objects.filter(merchant=merchant).update(ordered_at=NOW - timedelta(days=1))
    latest = Order.objects.filter(merchant=merchant).order_by("-pk").first()
    Order.objects.filter(pk=latest.pk).update(ordered_at=NOW)
    Order.objects.filter(pk=Order.objects.filter(merchant=merchant).order_by("pk").first().pk).update(
        ordered_at=NOW - timedelta(days=40))  # fmt: skip
    Courier.objects.filter(merchant=merchant, code="bluedart").update(on_time_rate=Decimal("0.9250"),
                                                                      rto_rate=Decimal("0.0500"),
                                                                      performance_shipments=40)  # fmt: skip
    rto = Shipment.objects.get(merchant=merchant, status=S.RTO_INITIATED)
    Shipment.objects.filter(pk=rto.pk).update(rto_initiated_at=NOW - timedelta(days=1))
    Shipment.objects.filter(merchant=merchant, status=S.DELIVERED).update(delivered_at=NOW - timedelta(days=2))
    total = Order.objects.filter(merchant=merchant).count()

    board = dashboard(merchant, now=NOW, cached=False)

    assert len(board.orders_per_day) == 30
    assert (board.orders_per_day[-1].day.isoformat(), board.orders_per_day[-1].total) == ("2026-12-04", 1)
    assert (board.orders_per_day[-2].day.isoformat(), board.orders_per_day[-2].total) == ("2026-12-03", total - 2)
    assert sum(column.total for column in board.orders_per_day) == total - 1  # the order of 40 days ago is out
    assert board.channels == [Order.objects.filter(merchant=merchant).first().channel.name]
    assert board.orders_per_day[-2].segments == [(board.channels[0], total - 2, 100.0, 0)]
    assert [(bar.label, bar.value) for bar in board.shipments_by_status] == [
        ("New", 1), ("AWB assigned", 1), ("Pickup scheduled", 2), ("Picked up", 1), ("In transit", 1),
        ("Out for delivery", 1), ("Delivered", 2), ("Delivery failed (NDR)", 1), ("RTO initiated", 1),
        ("Cancelled", 1)]  # fmt: skip
    assert [(c["name"], c["on_time_pct"], c["rto_pct"], c["performance_shipments"]) for c in board.couriers] == [
        ("Blue Dart", 92.5, 5.0, 40), ("Delhivery", None, None, 0)]  # fmt: skip
    # Karnataka (every test address): 2 delivered and 1 returned in the period
    assert [(bar.label, bar.value, bar.note) for bar in board.rto_by_state] == [("Karnataka", 33.3, "1 of 3")]


def test_a_merchant_with_no_data_gets_zeros_and_the_page_renders(client, owner, merchant):
    board = dashboard(merchant, now=NOW, cached=False)

    assert {tile.count for tile in [*board.todo, *board.moving, *board.stock, *board.failures]} == {0}
    assert (board.pickups, board.channels, board.shipments_by_status, board.couriers, board.rto_by_state) == (
        [], [], [], [], [])  # fmt: skip
    assert board.moving[-1].amount == Decimal("0")
    client.force_login(owner)
    page = client.get("/admin/").content.decode()
    assert "Orders to confirm" in page
    assert "No pickup is scheduled for today." in page
    assert "No orders in this period." in page
    assert "₹0.00" in page


def test_a_user_of_two_merchants_switches_and_sees_no_other(client, merchant, other_merchant):
    user = MembershipFactory(merchant=merchant, role="owner").user
    MembershipFactory(merchant=other_merchant, user=user, role="viewer")
    outsider = MembershipFactory(role="owner").merchant  # a third merchant the user does not belong to
    make_order(other_merchant, OrderStatus.NEW)
    for _ in range(3):
        make_order(outsider, OrderStatus.NEW)
    client.force_login(user)

    first = client.get("/admin/")
    other = client.get("/admin/", {"merchant": other_merchant.pk, "period": 90})
    foreign = client.get("/admin/", {"merchant": outsider.pk})

    assert first.status_code == other.status_code == foreign.status_code == 200
    assert first.context["board"].merchant == merchant  # the first by name: Acme Retail
    assert tiles(first.context["board"].todo)[0] == ("Orders to confirm", 0)
    assert (other.context["board"].merchant, other.context["board"].period) == (other_merchant, 90)
    assert tiles(other.context["board"].todo)[0] == ("Orders to confirm", 1)
    assert foreign.context["board"].merchant == merchant  # not the outsider's numbers
    assert f'href="?merchant={other_merchant.pk}&amp;period=30"' in first.content.decode()
    assert outsider.name not in foreign.content.decode()


def test_a_viewer_sees_the_numbers(client, merchant, shop):
    viewer = MembershipFactory(merchant=merchant, role="viewer").user
    client.force_login(viewer)

    response = client.get("/admin/")

    assert response.status_code == 200
    assert tiles(response.context["board"].todo)[0] == ("Orders to confirm", 2)


def test_the_low_stock_tile_counts_levels_at_or_below_their_threshold(merchant):
    location = LocationFactory(merchant=merchant, nickname="blr")
    for on_hand, threshold in ((5, 5), (6, 5), (0, 0), (10, 0)):
        level = stock(ProductFactory(merchant=merchant), location, on_hand)
        StockLevel.objects.filter(pk=level.pk).update(low_stock_threshold=threshold)

    assert tiles([board_module.low_stock(merchant)]) == [("Low-stock SKUs", 2)]


def test_ndrs_resolved_are_not_awaiting_action(merchant):
    make_shipment(merchant, S.NDR)
    NDR.objects.filter(merchant=merchant).update(status="delivered")

    assert board_module.ndr_work(merchant).count == 0

"""The order list's working tabs (New, Ready to ship, Pickups, In transit, Delivered, RTO, All): each a saved filter
whose count is the number of orders its link lists, in one query; and the filters behind them: several statuses at
once, and whether the order has an AWB yet."""

import pytest

from orders.models import Order, OrderStatus
from orders.selectors import ORDER_TABS, order_tab_counts
from tests.orders.factories import make_order
from tests.shopops.factories import MembershipFactory

ORDERS = "/admin/orders/order/"


@pytest.fixture
def desk(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def orders(merchant, other_merchant):
    made = {status: make_order(merchant, status) for status in
            (OrderStatus.NEW, OrderStatus.CONFIRMED, OrderStatus.PACKED, OrderStatus.SHIPPED, OrderStatus.DELIVERED,
             OrderStatus.RTO, OrderStatus.CANCELLED)}  # fmt: skip
    make_order(merchant, OrderStatus.NEW)
    awaiting_pickup = make_order(merchant, OrderStatus.PACKED)
    Order.objects.filter(pk=awaiting_pickup.pk).update(awb="BD123456789")
    make_order(other_merchant, OrderStatus.NEW)  # not counted, not listed
    return made


def listed(response) -> list[int]:
    return sorted(obj.pk for obj in response.context["cl"].result_list)


def test_each_tab_counts_the_orders_its_link_lists(desk, merchant, orders):
    page = desk.get(ORDERS)
    tabs = page.context["order_tabs"]

    assert [(tab["label"], tab["count"]) for tab in tabs] == [
        ("New", 2), ("Ready to ship", 2), ("Pickups", 1), ("In transit", 1), ("Delivered", 1), ("RTO", 1),
        ("All", 9)]  # fmt: skip
    assert [tab["current"] for tab in tabs] == [False] * 6 + [True]
    for tab in tabs:
        response = desk.get(ORDERS + tab["url"])
        assert response.status_code == 200, tab
        assert response.context["cl"].result_count == tab["count"], tab["label"]
        assert [t["current"] for t in response.context["order_tabs"]].count(True) == 1
        assert next(t for t in response.context["order_tabs"] if t["current"])["label"] == tab["label"]


def test_the_tab_counts_are_one_query(merchant, orders, django_assert_num_queries):
    with django_assert_num_queries(1):  # without the time limit, which adds its setting (and savepoint) queries
        counts = order_tab_counts(Order.objects.filter(merchant=merchant), timeout_ms=None)
    assert list(counts) == [tab.key for tab in ORDER_TABS]


def test_a_search_carries_over_to_the_tabs(desk, orders):
    page = desk.get(ORDERS, {"q": orders[OrderStatus.NEW].number})

    assert page.context["order_tabs"][0]["url"] == f"?status__in=new&q={orders[OrderStatus.NEW].number}"


def test_several_statuses_at_once_and_toggling_one(desk, orders):
    both = desk.get(ORDERS, {"status__in": "confirmed,packed"})

    assert listed(both) == sorted(Order.objects.filter(status__in=["confirmed", "packed"], merchant=orders[
        OrderStatus.NEW].merchant).values_list("pk", flat=True))  # fmt: skip
    status_filter = next(spec for spec in both.context["cl"].filter_specs if spec.title == "status")
    choices = {choice["display"]: choice for choice in status_filter.choices(both.context["cl"])}
    assert (choices["Confirmed"]["selected"], choices["Packed"]["selected"], choices["New"]["selected"]) == (
        True, True, False)  # fmt: skip
    assert "status__in=packed" in choices["Confirmed"]["query_string"]  # clicking Confirmed takes it out
    assert "status__in=confirmed%2Cpacked%2Cnew" in choices["New"]["query_string"]  # clicking New adds it


def test_an_unknown_status_is_refused_with_the_error_flag(desk, orders):
    response = desk.get(ORDERS, {"status__in": "confirmed,shipped-ish"})

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_no_awb_yet_and_has_an_awb(desk, orders, merchant):
    without = desk.get(ORDERS, {"has_awb": "no", "status__in": "packed"})
    with_awb = desk.get(ORDERS, {"has_awb": "yes"})

    assert listed(without) == [orders[OrderStatus.PACKED].pk]
    having = Order.objects.filter(merchant=merchant).exclude(awb="").values_list("pk", flat=True)
    assert listed(with_awb) == sorted(having)


def test_a_viewer_sees_the_tabs_too(client, merchant, orders):
    viewer = MembershipFactory(merchant=merchant, role="viewer").user
    client.force_login(viewer)

    assert [tab["count"] for tab in client.get(ORDERS).context["order_tabs"]][-1] == 9

"""Concurrent transitions on one order end in one consistent state with one event each (PostgreSQL)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from catalog.models import StockLevel, StockMovement
from orders.models import Customer, Order, OrderEvent, OrderStatus
from orders.services.create import order_create
from orders.services.orders import order_cancel, order_pack
from orders.services.prepare import Catalog
from shopops.errors import DomainError
from tests.orders.factories import make_order, order_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real row locks: set DATABASE_URL (CI does)")


def race(*calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        except DomainError as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def status_events(order):
    return list(OrderEvent.objects.filter(order=order, kind="status_changed").values_list("from_status", "to_status"))


def test_two_concurrent_cancels_cancel_once_and_release_stock_once(merchant):
    order = make_order(merchant, OrderStatus.CONFIRMED)
    level = StockLevel.objects.get(product=order.lines.first().product)
    assert level.reserved == 2

    results = race(*[lambda: order_cancel(order=order, reason="dup", actor="system")] * 2)

    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1 and refused[0].code == "transition_not_allowed"
    order.refresh_from_db()
    level.refresh_from_db()
    assert order.status == "cancelled"
    assert level.reserved == 0
    assert StockMovement.objects.filter(stock_level=level, kind="release").count() == 1
    assert status_events(order) == [("new", "confirmed"), ("confirmed", "cancelled")]


def test_a_cancel_racing_a_pack_ends_in_one_consistent_state(merchant):
    order = make_order(merchant, OrderStatus.CONFIRMED)
    level = StockLevel.objects.get(product=order.lines.first().product)

    results = race(
        lambda: order_cancel(order=order, reason="customer asked", actor="user:1"),
        lambda: order_pack(order=order, actor="user:2"),
    )

    order.refresh_from_db()
    level.refresh_from_db()
    # Either the cancel won (the pack is refused) or the pack won and the cancel followed it.
    assert order.status == "cancelled"
    assert level.reserved == 0
    cancel_first = [("new", "confirmed"), ("confirmed", "cancelled")]
    pack_first = [("new", "confirmed"), ("confirmed", "packed"), ("packed", "cancelled")]
    events = status_events(order)
    assert events in (cancel_first, pack_first)
    succeeded = [r for r in results if not isinstance(r, DomainError)]
    assert len(succeeded) == len(events) - 1
    assert StockMovement.objects.filter(stock_level=level, kind="release").count() == 1


def test_two_concurrent_creates_of_one_channel_order_id_make_one_order_and_refuse_the_other(merchant):
    data = order_data(merchant, channel_order_id="WEB-RACE")
    Catalog.for_orders(merchant, [data]).default_channel()  # created before the race, as a first order would

    results = race(*[lambda: order_create(merchant=merchant, data=dict(data), actor="system")] * 2)

    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1 and refused[0].code == "duplicate_order"
    [order] = Order.objects.filter(merchant=merchant)
    assert refused[0].details["number"] == order.number == "SO-000001"
    assert Customer.objects.get(merchant=merchant).orders_count == 1
    assert OrderEvent.objects.filter(order=order, kind="created").count() == 1

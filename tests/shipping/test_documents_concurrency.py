"""Invoice numbers under concurrent generation (PostgreSQL, real threads): gap-free, no duplicates, kept on
reprint."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from orders.models import Order, OrderStatus
from shipping.documents.data import invoice_queryset
from shipping.documents.render import render_invoices
from shipping.models import Invoice
from shipping.services.documents import invoice_for, invoices_issue
from tests.catalog.factories import ProductFactory, stock
from tests.orders.factories import default_location, make_order
from tests.shipping.documents_helpers import gst_merchant, page_texts

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real row locks: set DATABASE_URL (CI does)")


def _run_at_once(work, items, threads: int = 10) -> list:
    start = threading.Event()

    def run(item):
        start.wait()
        try:
            return work(item)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(run, item) for item in items]
        start.set()
        return [f.result() for f in futures]


def _orders(merchant, count: int) -> list[Order]:
    product = ProductFactory(merchant=merchant)
    stock(product, default_location(merchant), count)
    return [make_order(merchant, OrderStatus.PACKED, products=[(product, 1)]) for _ in range(count)]


def test_20_orders_invoiced_from_10_threads_get_numbers_1_to_20(merchant):
    gst_merchant(merchant)
    orders = _orders(merchant, 20)

    numbers = _run_at_once(lambda order: invoice_for(order=order).number, orders)

    assert sorted(numbers) == [f"INV-{n:06d}" for n in range(1, 21)]
    assert dict(Invoice.objects.values_list("order_id", "number")) == {
        o.pk: n for o, n in zip(orders, numbers, strict=True)}  # fmt: skip


def test_the_same_order_invoiced_from_10_threads_gets_one_number(merchant):
    gst_merchant(merchant)
    [order] = _orders(merchant, 1)

    numbers = _run_at_once(lambda _: invoice_for(order=order).number, range(10))

    assert numbers == ["INV-000001"] * 10
    assert Invoice.objects.count() == 1


def test_concurrent_batches_number_every_order_once_and_reprints_keep_the_numbers(merchant):
    gst_merchant(merchant)
    orders = _orders(merchant, 12)
    batches = [orders[0:6], orders[3:9], orders[6:12], orders[0:12]]  # overlapping requests

    def render(batch):
        loaded = list(invoice_queryset().filter(pk__in=[o.pk for o in batch]).order_by("pk"))
        invoices_issue(merchant=merchant, orders=loaded)
        return render_invoices(merchant=merchant, orders=loaded).page_count

    assert _run_at_once(render, batches, threads=4) == [6, 6, 6, 12]
    numbers = dict(Invoice.objects.values_list("order_id", "number"))
    assert sorted(numbers.values()) == [f"INV-{n:06d}" for n in range(1, 13)]

    reprint = render_invoices(merchant=merchant, orders=list(invoice_queryset().filter(pk=orders[5].pk)))
    assert numbers[orders[5].pk] in page_texts(reprint.pdf)[0]
    assert dict(Invoice.objects.values_list("order_id", "number")) == numbers

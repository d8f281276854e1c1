"""AWB numbers under concurrency (PostgreSQL, real threads): every assignment gets its own number, none is reused,
and an exhausted pool refuses with 409 awb_pool_exhausted."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from orders.models import OrderStatus
from shipping.models import AWBNumber, Shipment, ShipmentStatus
from shipping.services.awb import awb_pool_create_list, awb_pool_remaining
from shipping.services.shipments import shipment_assign_awb, shipment_cancel, shipment_create
from shopops.errors import DomainError, ErrorKind
from tests.catalog.factories import ProductFactory, stock
from tests.orders.factories import default_location, make_order
from tests.shipping.factories import shipping_courier

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real row locks: set DATABASE_URL (CI does)")


def _new_shipments(merchant, courier, count: int) -> list[Shipment]:
    product = ProductFactory(merchant=merchant)
    stock(product, default_location(merchant), count)
    return [
        shipment_create(order=make_order(merchant, OrderStatus.PACKED, products=[(product, 1)]),
                        courier=courier, actor="system")
        for _ in range(count)
    ]  # fmt: skip


def _assign_all(shipments: list[Shipment], threads: int = 40) -> list:
    """Assign an AWB to every shipment from ``threads`` threads released at once; AWBs or refusals."""
    start = threading.Event()

    def assign(shipment):
        start.wait()
        try:
            return shipment_assign_awb(shipment=shipment, actor="system").awb
        except DomainError as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(assign, s) for s in shipments]
        start.set()
        return [f.result() for f in futures]


def test_200_concurrent_assignments_from_a_range_pool_get_200_distinct_awbs(merchant):
    courier = shipping_courier(merchant, pool=200)
    shipments = _new_shipments(merchant, courier, 201)

    awbs = _assign_all(shipments[:200])

    assert sorted(awbs) == [f"BL{n}" for n in range(10_000_000, 10_000_200)]
    stored = dict(Shipment.objects.filter(courier=courier).values_list("pk", "awb"))
    assert sorted(stored[s.pk] for s in shipments[:200]) == sorted(awbs)
    assert Shipment.objects.filter(courier=courier, status=ShipmentStatus.AWB_ASSIGNED).count() == 200
    with pytest.raises(DomainError) as refused:
        shipment_assign_awb(shipment=shipments[200], actor="system")
    assert (refused.value.code, refused.value.kind) == ("awb_pool_exhausted", ErrorKind.CONFLICT)
    shipments[200].refresh_from_db()
    assert (shipments[200].status, shipments[200].awb) == (ShipmentStatus.NEW, "")


def test_concurrent_assignments_from_a_list_pool_take_each_number_once(merchant):
    courier = shipping_courier(merchant, pool=None)
    numbers = [f"LX{n:08d}" for n in range(60)]
    awb_pool_create_list(courier=courier, name="uploaded", numbers=numbers)
    shipments = _new_shipments(merchant, courier, 61)

    awbs = _assign_all(shipments, threads=30)

    given = [a for a in awbs if isinstance(a, str)]
    refused = [a.code for a in awbs if isinstance(a, DomainError)]
    assert sorted(given) == numbers
    assert refused == ["awb_pool_exhausted"]
    assert AWBNumber.objects.filter(courier=courier, used_at__isnull=True).count() == 0


def test_a_cancelled_shipments_awb_is_never_handed_out_again(merchant):
    courier = shipping_courier(merchant, pool=4)
    first, second, third = _new_shipments(merchant, courier, 3)
    first = shipment_assign_awb(shipment=first, actor="system")
    shipment_cancel(shipment=first, actor="system", reason="customer changed address")

    again = shipment_create(order=first.order, courier=courier, actor="system")
    again = shipment_assign_awb(shipment=again, actor="system")
    other = _assign_all([second, third], threads=2)

    assert first.awb == "BL10000000"
    assert again.awb == "BL10000001"
    assert sorted(other) == ["BL10000002", "BL10000003"]
    assert awb_pool_remaining(courier.awb_pools.get()) == 0

"""Stock services: the ledger, all-or-nothing reservations, and no oversell under real concurrency."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from catalog import services
from catalog.errors import InsufficientStock
from catalog.models import ON_HAND_KINDS, MovementKind, StockLevel, StockMovement
from catalog.services import StockLine
from shopops.errors import DomainError
from tests.catalog.factories import LocationFactory, ProductFactory, stock


@pytest.fixture
def location(merchant):
    return LocationFactory(merchant=merchant, nickname="main")


@pytest.fixture
def product(merchant):
    return ProductFactory(merchant=merchant, sku="TEE-RED-M")


def ledger_on_hand(level: StockLevel) -> int:
    rows = StockMovement.objects.filter(stock_level=level, kind__in=ON_HAND_KINDS)
    return rows.aggregate(total=Sum("quantity"))["total"] or 0


def ledger_reserved(level: StockLevel) -> int:
    rows = StockMovement.objects.filter(
        stock_level=level, kind__in=[MovementKind.RESERVATION, MovementKind.RELEASE, MovementKind.SHIPMENT]
    )
    return rows.aggregate(total=Sum("quantity"))["total"] or 0


def test_adjust_writes_one_ledger_row_per_change(merchant, product, location):
    level = stock(product, location, 10)

    services.stock_adjust(merchant=merchant, product=product, location=location, action="add", quantity=5,
                          reason="delivery", actor="user:7")  # fmt: skip
    services.stock_adjust(merchant=merchant, product=product, location=location, action="remove", quantity=3,
                          reason="damaged", actor="user:7")  # fmt: skip
    services.stock_adjust(merchant=merchant, product=product, location=location, action="set", quantity=12,
                          reason="count", actor="user:7")  # fmt: skip

    level.refresh_from_db()
    assert level.on_hand == 12
    rows = list(StockMovement.objects.filter(stock_level=level).order_by("id").values_list(
        "kind", "quantity", "on_hand_after", "reason", "actor"))  # fmt: skip
    assert rows == [
        ("adjustment", 10, 10, "test stock", "system"),
        ("receipt", 5, 15, "delivery", "user:7"),
        ("adjustment", -3, 12, "damaged", "user:7"),
    ]
    assert ledger_on_hand(level) == 12


def test_set_to_the_same_quantity_writes_nothing(merchant, product, location):
    level = stock(product, location, 4)

    services.stock_adjust(merchant=merchant, product=product, location=location, action="set", quantity=4,
                          reason="count", actor="system")  # fmt: skip

    assert StockMovement.objects.filter(stock_level=level).count() == 1


def test_remove_below_reserved_is_refused_and_changes_nothing(merchant, product, location):
    level = stock(product, location, 5, reserved=4)

    with pytest.raises(InsufficientStock) as refused:
        services.stock_adjust(merchant=merchant, product=product, location=location, action="remove", quantity=2,
                              reason="damaged", actor="system")  # fmt: skip

    assert refused.value.details["lines"] == [
        {
            "sku": "TEE-RED-M",
            "product": product.pk,
            "location": location.pk,
            "requested": 2,
            "available": 1,
            "reserved": 4,
        }  # fmt: skip
    ]
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (5, 4)


def test_stale_expected_on_hand_is_a_conflict(merchant, product, location):
    stock(product, location, 5)

    with pytest.raises(DomainError) as refused:
        services.stock_adjust(merchant=merchant, product=product, location=location, action="set", quantity=9,
                              reason="count", actor="system", expected_on_hand=4)  # fmt: skip

    assert refused.value.code == "stock_conflict"
    assert refused.value.details == {"expected_on_hand": 4, "on_hand": 5, "sku": "TEE-RED-M"}


def test_a_reservation_is_all_or_nothing_and_names_every_short_line(merchant, product, location):
    other = ProductFactory(merchant=merchant, sku="TEE-BLUE-M")
    third = ProductFactory(merchant=merchant, sku="CAP-1")
    stock(product, location, 3)
    stock(other, location, 1)
    stock(third, location, 10)

    with pytest.raises(InsufficientStock) as refused:
        services.stock_reserve(
            merchant=merchant,
            lines=[
                StockLine(product.pk, location.pk, 2),
                StockLine(other.pk, location.pk, 2),
                StockLine(third.pk, location.pk, 5),
            ],  # fmt: skip
            reference="order:1",
            actor="system",
        )

    assert [line["sku"] for line in refused.value.details["lines"]] == ["TEE-BLUE-M"]
    assert list(StockLevel.objects.order_by("sku").values_list("sku", "reserved")) == [
        ("CAP-1", 0), ("TEE-BLUE-M", 0), ("TEE-RED-M", 0)
    ]  # fmt: skip
    assert StockMovement.objects.filter(kind="reservation").count() == 0


def test_reserve_release_ship_and_restock_keep_the_ledger_equal_to_the_level(merchant, product, location):
    level = stock(product, location, 10)
    line = [StockLine(product.pk, location.pk, 4)]

    services.stock_reserve(merchant=merchant, lines=line, reference="order:1", actor="system")
    services.stock_release(merchant=merchant, lines=[StockLine(product.pk, location.pk, 1)], reference="order:1",
                           actor="system")  # fmt: skip
    services.stock_ship(merchant=merchant, lines=[StockLine(product.pk, location.pk, 3)], reference="shipment:1",
                        actor="system")  # fmt: skip
    services.stock_restock(merchant=merchant, lines=[StockLine(product.pk, location.pk, 1)], kind="return",
                           reference="return:1", actor="system")  # fmt: skip

    level.refresh_from_db()
    assert (level.on_hand, level.reserved, level.available) == (8, 0, 8)
    assert ledger_on_hand(level) == 8
    assert ledger_reserved(level) == 4 - 1 - 3
    kinds = list(StockMovement.objects.filter(stock_level=level).order_by("id").values_list("kind", "quantity"))
    assert kinds == [("adjustment", 10), ("reservation", 4), ("release", -1), ("shipment", -3), ("return", 1)]


def test_shipping_more_than_reserved_is_refused(merchant, product, location):
    stock(product, location, 10, reserved=2)

    with pytest.raises(DomainError) as refused:
        services.stock_ship(merchant=merchant, lines=[StockLine(product.pk, location.pk, 3)], reference="s:1",
                            actor="system")  # fmt: skip

    assert refused.value.code == "not_reserved"


@pytest.mark.parametrize("reserved, on_hand", [(-1, 5), (6, 5)])
def test_the_database_refuses_reserved_outside_zero_to_on_hand(product, location, reserved, on_hand):
    level = stock(product, location, 5)

    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(pk=level.pk).update(reserved=reserved, on_hand=on_hand)


def _run_concurrently(count: int, work):
    barrier = threading.Barrier(count)

    def call(index: int):
        barrier.wait()
        try:
            return work(index)
        except Exception as exc:  # collected and asserted by the test
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


def _require_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real row locks: set DATABASE_URL (CI does)")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_oversell_50_concurrent_reservations_for_5_units(merchant, product, location):
    _require_postgres()
    level = stock(product, location, 5)

    results = _run_concurrently(
        50,
        lambda i: services.stock_reserve(
            merchant=merchant, lines=[StockLine(product.pk, location.pk, 1)], reference=f"order:{i}", actor="system"
        ),
    )

    succeeded = [r for r in results if isinstance(r, list)]
    refused = [r for r in results if isinstance(r, InsufficientStock)]
    assert (len(succeeded), len(refused)) == (5, 45)
    level.refresh_from_db()
    assert (level.on_hand, level.reserved, level.available) == (5, 5, 0)
    assert StockMovement.objects.filter(stock_level=level, kind="reservation").count() == 5
    assert ledger_on_hand(level) == 5
    assert ledger_reserved(level) == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reservations_locking_two_levels_in_opposite_orders_do_not_deadlock(merchant, product, location):
    _require_postgres()
    other = ProductFactory(merchant=merchant, sku="TEE-BLUE-M")
    stock(product, location, 40)
    stock(other, location, 40)

    def reserve(i: int):
        first, second = (product, other) if i % 2 else (other, product)
        return services.stock_reserve(
            merchant=merchant,
            lines=[StockLine(first.pk, location.pk, 1), StockLine(second.pk, location.pk, 1)],
            reference=f"order:{i}",
            actor="system",
        )

    results = _run_concurrently(30, reserve)

    assert [type(r).__name__ for r in results if not isinstance(r, list)] == []
    assert list(StockLevel.objects.order_by("sku").values_list("reserved", flat=True)) == [30, 30]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_compare_and_set_adjustments_exactly_one_wins(merchant, product, location):
    _require_postgres()
    level = stock(product, location, 10)

    results = _run_concurrently(20, lambda i: services.stock_adjust(
        merchant=merchant, product=product, location=location, action="set", quantity=100 + i, reason="count",
        actor=f"user:{i}", expected_on_hand=10))  # fmt: skip

    winners = [r for r in results if isinstance(r, StockLevel)]
    conflicts = [r for r in results if isinstance(r, DomainError) and r.code == "stock_conflict"]
    assert (len(winners), len(conflicts)) == (1, 19)
    level.refresh_from_db()
    assert level.on_hand == winners[0].on_hand
    assert ledger_on_hand(level) == level.on_hand
    assert StockMovement.objects.filter(stock_level=level).count() == 2

"""The simulated courier driven by polling: delivery, a failed attempt then a reattempt, RTO; the poll limit and the
beat task. Time is an explicit ``now`` given to ``tracking_poll``: no sleeping, no randomness (each AWB's fate is
``simulated_failures(awb)``, a hash, and the tests pick pool numbers whose AWBs have the wanted fate)."""

import itertools
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from catalog.models import MovementKind, StockLevel, StockMovement
from orders.models import OrderStatus
from shipping import tasks
from shipping.adapters import SIM_NDR_TIMEOUT, simulated_failures
from shipping.models import NDR, Courier, NDRStatus, ShipmentStatus, TrackingEvent
from shipping.services.awb import awb_pool_create_range
from shipping.services.couriers import courier_update
from shipping.services.ndr import ndr_action
from shipping.services.tracking import tracking_poll
from tests.shipping.factories import make_shipment, shipping_courier

pytestmark = pytest.mark.django_db

S = ShipmentStatus


def first_number(prefix: str, failures: int, start: int = 10_000_000) -> int:
    """The first number from ``start`` whose AWB fails ``failures`` delivery attempts."""
    return next(n for n in itertools.count(start) if simulated_failures(f"{prefix}{n}") == failures)


def simulated_courier(merchant, failures: int | None = None, code: str = "simex", **data) -> Courier:
    """A simulated courier; with ``failures``, its pool starts at an AWB that fails that many attempts."""
    courier = shipping_courier(merchant, code=code, name="Sim Express", adapter="simulated", pool=None, **data)
    if failures is not None:
        start = first_number("SX", failures)
        awb_pool_create_range(courier=courier, name=f"{code} pool", start=start, end=start + 99, prefix="SX")
    return courier


def booked(merchant, failures: int):
    """A shipment with a pickup booked today; returns it and when the simulated courier collects it (15:00)."""
    shipment = make_shipment(merchant, S.PICKUP_SCHEDULED, courier=simulated_courier(merchant, failures))
    assert simulated_failures(shipment.awb) == failures
    pickup_at = datetime.combine(shipment.pickup_date, time(15), tzinfo=timezone.get_current_timezone())
    return shipment, pickup_at


def poll(shipment, now):
    result = tracking_poll(courier=Courier.objects.get(pk=shipment.courier_id), now=now)
    shipment.refresh_from_db()
    shipment.order.refresh_from_db()
    return result.accepted, shipment.status, shipment.order.status


def level_of(order) -> StockLevel:
    line = order.lines.get()
    return StockLevel.objects.get(product_id=line.product_id, location_id=order.pickup_location_id)


def movements(order) -> list[tuple[str, int]]:
    return list(StockMovement.objects.filter(stock_level=level_of(order), kind__in=[
        MovementKind.SHIPMENT, MovementKind.RTO]).order_by("id").values_list("kind", "quantity"))  # fmt: skip


def scans(shipment) -> list[tuple[str, datetime, bool]]:
    return list(TrackingEvent.objects.filter(shipment=shipment).order_by("occurred_at", "id")
                .values_list("code", "occurred_at", "applied"))  # fmt: skip


def test_a_parcel_without_failures_is_delivered_step_by_step(merchant):
    shipment, t = booked(merchant, failures=0)
    order = shipment.order

    assert poll(shipment, t - timedelta(minutes=1)) == (0, S.PICKUP_SCHEDULED, OrderStatus.PACKED)
    assert poll(shipment, t) == (1, S.PICKED_UP, OrderStatus.SHIPPED)
    assert (level_of(order).on_hand, level_of(order).reserved) == (98, 0)
    assert movements(order) == [(MovementKind.SHIPMENT, -2)]
    assert poll(shipment, t + timedelta(hours=5)) == (0, S.PICKED_UP, OrderStatus.SHIPPED)
    assert poll(shipment, t + timedelta(hours=6)) == (1, S.IN_TRANSIT, OrderStatus.SHIPPED)
    assert poll(shipment, t + timedelta(hours=36)) == (1, S.OUT_FOR_DELIVERY, OrderStatus.SHIPPED)
    assert poll(shipment, t + timedelta(hours=40)) == (1, S.DELIVERED, OrderStatus.DELIVERED)
    assert poll(shipment, t + timedelta(days=9)) == (0, S.DELIVERED, OrderStatus.DELIVERED)  # no longer polled

    assert scans(shipment) == [("picked_up", t, True), ("in_transit", t + timedelta(hours=6), True),
                               ("out_for_delivery", t + timedelta(hours=36), True),
                               ("delivered", t + timedelta(hours=40), True)]  # fmt: skip
    assert (shipment.shipped_at, shipment.delivered_at, shipment.last_polled_at) == (
        t, t + timedelta(hours=40), t + timedelta(hours=40))  # fmt: skip
    assert movements(order) == [(MovementKind.SHIPMENT, -2)]
    assert NDR.objects.count() == 0


def test_a_late_poll_catches_up_the_whole_journey(merchant):
    shipment, t = booked(merchant, failures=0)

    assert poll(shipment, t + timedelta(days=3)) == (4, S.DELIVERED, OrderStatus.DELIVERED)
    assert [code for code, _, _ in scans(shipment)] == ["picked_up", "in_transit", "out_for_delivery", "delivered"]
    assert poll(shipment, t + timedelta(days=3)) == (0, S.DELIVERED, OrderStatus.DELIVERED)


def test_one_failed_attempt_then_a_reattempt_is_delivered(merchant):
    shipment, t = booked(merchant, failures=1)
    ndr_at = t + timedelta(hours=42)

    assert poll(shipment, ndr_at) == (4, S.NDR, OrderStatus.SHIPPED)
    ndr = NDR.objects.get(shipment=shipment)
    assert (ndr.status, ndr.attempts, ndr.reason, ndr.first_attempt_at) == (
        NDRStatus.OPEN, 1, "Customer not available", ndr_at)  # fmt: skip

    day = (ndr_at + timedelta(days=1)).date()
    ndr_action(ndr=ndr, action="reattempt", actor="user:1", reattempt_date=day, comment="call first",
               now=ndr_at + timedelta(hours=1))  # fmt: skip
    out_at = datetime.combine(day, time(9), tzinfo=timezone.get_current_timezone())

    assert poll(shipment, out_at - timedelta(minutes=1)) == (0, S.NDR, OrderStatus.SHIPPED)
    assert poll(shipment, out_at) == (1, S.OUT_FOR_DELIVERY, OrderStatus.SHIPPED)
    assert poll(shipment, out_at + timedelta(hours=4)) == (1, S.DELIVERED, OrderStatus.DELIVERED)
    ndr.refresh_from_db()
    assert (ndr.status, ndr.attempts, ndr.resolved_at) == (NDRStatus.DELIVERED, 1, out_at + timedelta(hours=4))
    assert [code for code, _, _ in scans(shipment)] == ["picked_up", "in_transit", "out_for_delivery", "ndr",
                                                        "out_for_delivery", "delivered"]  # fmt: skip


def test_a_parcel_that_always_fails_returns_to_origin_and_is_restocked(merchant):
    shipment, t = booked(merchant, failures=99)
    order = shipment.order
    ndr_at = t + timedelta(hours=42)
    assert poll(shipment, ndr_at) == (4, S.NDR, OrderStatus.SHIPPED)

    asked_at = ndr_at + timedelta(hours=20)  # the merchant decides the next day
    ndr_action(ndr=NDR.objects.get(shipment=shipment), action="rto", actor="user:1", now=asked_at)
    shipment.refresh_from_db()
    order.refresh_from_db()
    assert (shipment.status, order.status) == (S.RTO_INITIATED, OrderStatus.RTO)

    # the parcel starts back after the merchant asked, not after the failed attempt
    assert poll(shipment, asked_at + timedelta(hours=11)) == (0, S.RTO_INITIATED, OrderStatus.RTO)
    assert poll(shipment, asked_at + timedelta(hours=12)) == (1, S.RTO_IN_TRANSIT, OrderStatus.RTO)
    assert poll(shipment, asked_at + timedelta(hours=60)) == (1, S.RTO_DELIVERED, OrderStatus.RTO_DELIVERED)

    ndr = NDR.objects.get(shipment=shipment)
    assert (ndr.status, ndr.attempts, ndr.action) == (NDRStatus.RTO, 1, "rto")
    level = level_of(order)
    assert (level.on_hand, level.reserved) == (100, 0)
    assert movements(order) == [(MovementKind.SHIPMENT, -2), (MovementKind.RTO, 2)]
    assert scans(shipment)[-2:] == [("rto_in_transit", asked_at + timedelta(hours=12), True),
                                    ("rto_delivered", asked_at + timedelta(hours=60), True)]  # fmt: skip


def test_an_ndr_left_without_instructions_goes_back_to_origin(merchant):
    shipment, t = booked(merchant, failures=99)
    ndr_at = t + timedelta(hours=42)
    poll(shipment, ndr_at)

    assert poll(shipment, ndr_at + SIM_NDR_TIMEOUT - timedelta(minutes=1)) == (0, S.NDR, OrderStatus.SHIPPED)
    assert poll(shipment, ndr_at + SIM_NDR_TIMEOUT) == (1, S.RTO_INITIATED, OrderStatus.RTO)
    ndr = NDR.objects.get(shipment=shipment)
    assert (ndr.status, ndr.resolved_at) == (NDRStatus.RTO, ndr_at + SIM_NDR_TIMEOUT)


def test_the_poll_takes_the_courier_limit_longest_unpolled_first(merchant):
    courier = simulated_courier(merchant, poll_limit_per_minute=2)
    Courier.objects.filter(pk=courier.pk).update(poll_limit_per_minute=2)
    shipments = [make_shipment(merchant, S.PICKUP_SCHEDULED, courier=courier) for _ in range(5)]
    now = timezone.now()
    for shipment, ago in zip(shipments, [1, None, 10, 5, None], strict=True):
        type(shipment).objects.filter(pk=shipment.pk).update(
            last_polled_at=None if ago is None else now - timedelta(minutes=ago))  # fmt: skip

    def polled_at(moment) -> list[int]:
        return [n for n, s in enumerate(shipments) if type(s).objects.get(pk=s.pk).last_polled_at == moment]

    courier.refresh_from_db()
    rounds = []
    for minute in range(1, 4):
        moment = now + timedelta(minutes=minute)
        tracking_poll(courier=courier, now=moment)
        rounds.append(polled_at(moment))

    assert rounds == [[1, 4], [2, 3], [0, 1]]  # never polled, then the oldest poll first (ties by id)


def test_the_beat_task_polls_each_active_simulated_courier_with_live_shipments(merchant):
    live = simulated_courier(merchant, code="sim-live")
    done = simulated_courier(merchant, code="sim-done")
    offline = shipping_courier(merchant, code="offline", name="Offline")
    asleep = simulated_courier(merchant, code="sim-off")
    polled = make_shipment(merchant, S.IN_TRANSIT, courier=live)
    delivered = make_shipment(merchant, S.DELIVERED, courier=done)
    manual = make_shipment(merchant, S.IN_TRANSIT, courier=offline)
    inactive = make_shipment(merchant, S.IN_TRANSIT, courier=asleep)
    courier_update(courier=asleep, data={"is_active": False})

    assert tasks.tracking_poll_all() == 1  # eager here: the one task ran

    last_polled = {s.awb: type(s).objects.get(pk=s.pk).last_polled_at is not None
                   for s in (polled, delivered, manual, inactive)}  # fmt: skip
    assert last_polled == {polled.awb: True, delivered.awb: False, manual.awb: False, inactive.awb: False}


def test_the_poll_task_reports_what_it_ingested(merchant):
    shipment, _ = booked(merchant, failures=0)
    type(shipment).objects.filter(pk=shipment.pk).update(pickup_date=timezone.localdate() - timedelta(days=10))

    result = tasks.tracking_poll_courier(shipment.courier_id)  # now: the whole journey is due

    shipment.refresh_from_db()
    assert result == {"accepted": 4, "applied": 4, "duplicates": 0}
    assert shipment.status == S.DELIVERED

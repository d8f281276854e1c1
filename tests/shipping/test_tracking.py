"""Tracking ingestion in the service: duplicates, orphans, forward-only moves, informational codes, NDR repeats."""

import threading
import time
from dataclasses import asdict
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from shipping.adapters import TrackingUpdate
from shipping.models import NDR, Courier, NDRStatus, Notification, ShipmentEvent, ShipmentStatus, TrackingEvent
from shipping.services.ndr import ndr_action
from shipping.services.tracking import tracking_ingest
from tests.shipping.factories import courier_event, make_shipment, shipping_courier

pytestmark = pytest.mark.django_db


def ingest(shipment, *updates: tuple, awb: str | None = None) -> dict:
    """Ingest (code, at, event_id) updates for the shipment's AWB; the result without its errors."""
    result = tracking_ingest(courier=shipment.courier, source="webhook", updates=[
        TrackingUpdate(awb=awb or shipment.awb, code=code, occurred_at=at, event_id=event_id, description=f"{code}!")
        for code, at, event_id in updates
    ])  # fmt: skip
    return {k: v for k, v in asdict(result).items() if k != "errors"}


def counts(accepted=0, duplicates=0, orphans=0, applied=0, ignored=0, refused=0, unknown=0) -> dict:
    return {"accepted": accepted, "duplicates": duplicates, "orphans": orphans, "applied": applied, "ignored": ignored,
            "refused": refused, "unknown": unknown}  # fmt: skip


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


def test_a_repeated_event_id_is_a_duplicate(merchant, now):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)

    first = ingest(shipment, ("picked_up", now - timedelta(hours=2), "ev-1"))
    again = ingest(shipment, ("picked_up", now - timedelta(hours=2), "ev-1"), ("in_transit", now, "ev-1"))

    assert first == counts(accepted=1, applied=1)
    assert again == counts(duplicates=2)  # the id decides, whatever the content
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PICKED_UP
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 1


def test_without_an_id_the_same_content_is_a_duplicate(merchant, now):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    at = now - timedelta(hours=2)

    first = ingest(shipment, ("picked_up", at, ""), ("picked_up", at, ""))
    other_time = ingest(shipment, ("picked_up", at + timedelta(minutes=1), ""))

    assert first == counts(accepted=1, duplicates=1, applied=1)
    assert other_time == counts(accepted=1, ignored=1)  # a new scan, but no move: already picked up
    keys = list(TrackingEvent.objects.filter(shipment=shipment).values_list("event_key", flat=True))
    assert [key[:7] for key in keys] == ["sha256:", "sha256:"]
    assert keys[0] != keys[1]


def test_an_unknown_awb_is_an_orphan(merchant, now):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)

    result = ingest(shipment, ("picked_up", now, "ev-1"), awb="BL55555555")

    assert result == counts(accepted=1, orphans=1)
    orphan = TrackingEvent.objects.get()
    assert (orphan.shipment_id, orphan.awb, orphan.status, orphan.applied, orphan.merchant_id) == (
        None, "BL55555555", "picked_up", False, merchant.pk)  # fmt: skip


def test_a_cancelled_shipments_awb_collects_orphans(merchant, now):
    shipment = make_shipment(merchant, ShipmentStatus.CANCELLED)

    assert ingest(shipment, ("picked_up", now, "ev-1")) == counts(accepted=1, orphans=1)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.CANCELLED


def test_a_backward_move_is_stored_but_not_applied(merchant, now):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    ingest(shipment, ("in_transit", now - timedelta(hours=3), "ev-1"))
    events_before = ShipmentEvent.objects.filter(shipment=shipment).count()

    result = ingest(shipment, ("picked_up", now - timedelta(hours=1), "ev-2"))  # newer, but behind in_transit

    assert result == counts(accepted=1, ignored=1)
    shipment.refresh_from_db()
    assert (shipment.status, shipment.last_event_at) == (ShipmentStatus.IN_TRANSIT, now - timedelta(hours=3))
    assert list(TrackingEvent.objects.filter(shipment=shipment).values_list("code", "applied")) == [
        ("in_transit", True), ("picked_up", False)]  # fmt: skip
    assert ShipmentEvent.objects.filter(shipment=shipment).count() == events_before


def test_an_older_event_never_moves_the_shipment(merchant, now):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    ingest(shipment, ("picked_up", now - timedelta(hours=1), "ev-1"))

    result = ingest(shipment, ("in_transit", now - timedelta(hours=2), "ev-2"))  # forward, but older

    assert result == counts(accepted=1, ignored=1)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PICKED_UP


def test_an_unknown_code_is_kept_flagged_and_moves_nothing(merchant, now):
    shipment = make_shipment(merchant, ShipmentStatus.IN_TRANSIT)
    last = shipment.last_event_at

    result = ingest(shipment, ("BAGGED", now, "ev-1"))

    assert result == counts(accepted=1, ignored=1, unknown=1)
    scan = TrackingEvent.objects.get(event_key=f"{shipment.awb}|ev-1")
    assert (scan.status, scan.code, scan.applied, scan.unknown_code, scan.description) == (
        "", "BAGGED", False, True, "BAGGED!")  # fmt: skip
    shipment.refresh_from_db()
    assert (shipment.status, shipment.last_event_at) == (ShipmentStatus.IN_TRANSIT, last)


def test_a_code_mapped_to_nothing_is_informational_not_unknown(merchant, now):
    shipment = make_shipment(merchant, ShipmentStatus.IN_TRANSIT)
    Courier.objects.filter(pk=shipment.courier_id).update(status_codes={"Bagged": ""})
    shipment.courier.refresh_from_db()

    result = ingest(shipment, ("BAGGED", now, "ev-1"))

    assert result == counts(accepted=1, ignored=1)
    scan = TrackingEvent.objects.get(event_key=f"{shipment.awb}|ev-1")
    assert (scan.status, scan.applied, scan.unknown_code) == ("", False, False)


def test_a_courier_specific_code_maps_through_the_courier(merchant, now):
    shipment = make_shipment(merchant, ShipmentStatus.IN_TRANSIT)
    shipment.courier.__class__.objects.filter(pk=shipment.courier_id).update(
        status_codes={"OFD-77": "out_for_delivery"}
    )
    shipment.courier.refresh_from_db()

    assert ingest(shipment, ("ofd-77", now, "ev-1")) == counts(accepted=1, applied=1)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.OUT_FOR_DELIVERY


def test_a_repeated_ndr_counts_the_attempts(merchant, now):
    shipment = make_shipment(merchant, ShipmentStatus.OUT_FOR_DELIVERY)
    first_at, second_at = now - timedelta(hours=20), now - timedelta(hours=2)

    first = ingest(shipment, ("ndr", first_at, "ndr-1"))
    second = ingest(shipment, ("undelivered", second_at, "ndr-2"))

    assert first == second == counts(accepted=1, applied=1)
    ndr = NDR.objects.get(shipment=shipment)
    assert (ndr.status, ndr.attempts, ndr.first_attempt_at, ndr.last_attempt_at, ndr.reason) == (
        NDRStatus.OPEN, 2, first_at, second_at, "undelivered!")  # fmt: skip
    shipment.refresh_from_db()
    assert (shipment.status, shipment.last_event_at) == (ShipmentStatus.NDR, second_at)
    assert ShipmentEvent.objects.filter(shipment=shipment, to_status=ShipmentStatus.NDR).count() == 1


def test_delivery_after_an_ndr_resolves_it(merchant, now):
    shipment = make_shipment(merchant, ShipmentStatus.NDR)
    ndr = NDR.objects.get(shipment=shipment)
    ndr_action(ndr=ndr, action="reattempt", actor="user:1", comment="call first")

    ingest(shipment, ("out_for_delivery", now - timedelta(hours=2), "r-1"), ("delivered", now, "r-2"))

    ndr.refresh_from_db()
    shipment.refresh_from_db()
    assert (ndr.status, ndr.attempts, ndr.resolved_at, shipment.status) == (
        NDRStatus.DELIVERED, 1, now, ShipmentStatus.DELIVERED)  # fmt: skip


def test_events_of_a_batch_apply_in_the_order_given(merchant, now):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)

    result = ingest(shipment, ("picked_up", now - timedelta(hours=3), "a"),
                    ("in_transit", now - timedelta(hours=2), "b"),
                    ("out_for_delivery", now - timedelta(hours=1), "c"), ("delivered", now, "d"))  # fmt: skip

    assert result == counts(accepted=4, applied=4)
    shipment.refresh_from_db()
    order = shipment.order
    order.refresh_from_db()
    assert (shipment.status, shipment.shipped_at, shipment.delivered_at, order.status) == (
        ShipmentStatus.DELIVERED, now - timedelta(hours=3), now, "delivered")  # fmt: skip


def _wait_for_a_lock_wait(timeout: float = 10) -> None:
    """Until another session of this database waits on a lock (its insert waits for ours to commit)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")  # fmt: skip
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    pytest.fail("the second delivery never waited on the first")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_orphan_event_delivered_twice_at_once_is_stored_once(merchant):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real concurrent inserts: set DATABASE_URL (CI does)")
    courier = shipping_courier(merchant, pool=None)
    update = TrackingUpdate(awb="BL55555555", code="in_transit", occurred_at=timezone.now(), event_id="ev-1")
    outcome = {}

    def deliver_again():
        try:
            outcome["second"] = tracking_ingest(courier=courier, updates=[update], source="webhook")
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc
        finally:
            connection.close()

    with transaction.atomic():  # the first delivery, not yet committed: no shipment row orders the two
        first = tracking_ingest(courier=courier, updates=[update], source="webhook")
        second = threading.Thread(target=deliver_again)
        second.start()
        _wait_for_a_lock_wait()
    second.join(timeout=30)

    assert "error" not in outcome, outcome.get("error")
    assert (first.accepted, first.orphans, first.duplicates) == (1, 1, 0)
    assert (outcome["second"].accepted, outcome["second"].orphans, outcome["second"].duplicates) == (0, 0, 1)
    assert TrackingEvent.objects.filter(courier=courier, event_key="BL55555555|ev-1").count() == 1


def test_courier_event_ids_count_per_awb(merchant):
    first = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    second = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)

    one = courier_event(first, "picked_up", event_id="1")
    two = courier_event(second, "picked_up", event_id="1")
    again = courier_event(second, "picked_up", event_id="1")

    first.refresh_from_db()
    second.refresh_from_db()
    assert (one.applied, two.applied, again.duplicates) == (1, 1, 1)
    assert (first.status, second.status) == ("picked_up", "picked_up")


def test_a_second_scan_of_the_same_status_is_kept_without_moving_or_notifying(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.OUT_FOR_DELIVERY)
    notified = Notification.objects.filter(shipment=shipment).count()

    result = courier_event(shipment, "out_for_delivery")

    assert (result.accepted, result.applied, result.ignored) == (1, 0, 1)
    assert Notification.objects.filter(shipment=shipment).count() == notified
    assert ShipmentEvent.objects.filter(shipment=shipment, to_status="out_for_delivery").count() == 1

"""One pickup calendar (shipping/calendar.py): a quote's ETD counts from the day the pickup booked at the same
moment is on, Sundays skipped by both."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from shipping.calendar import pickup_day
from shipping.models import ShipmentStatus
from shipping.selectors import quote
from shipping.services.pickups import pickup_schedule
from tests.shipping.factories import make_shipment, shipping_courier

IST = ZoneInfo("Asia/Kolkata")
CUTOFF = time(14, 0)


@pytest.mark.parametrize(("local", "expected"), [
    (datetime(2026, 11, 27, 13, 59, tzinfo=IST), date(2026, 11, 27)),  # Friday before the cut-off: Friday
    (datetime(2026, 11, 27, 14, 0, tzinfo=IST), date(2026, 11, 28)),  # Friday after: Saturday
    (datetime(2026, 11, 28, 10, 0, tzinfo=IST), date(2026, 11, 28)),  # Saturday morning: Saturday
    (datetime(2026, 11, 28, 18, 0, tzinfo=IST), date(2026, 11, 30)),  # Saturday evening: Monday, not Sunday
    (datetime(2026, 11, 29, 9, 0, tzinfo=IST), date(2026, 11, 30)),  # Sunday morning: Monday
])  # fmt: skip
def test_the_pickup_day(local, expected):
    assert pickup_day(local, CUTOFF) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(("local", "first_day"), [
    (datetime(2026, 11, 28, 18, 0, tzinfo=IST), date(2026, 11, 30)),  # Saturday evening: counted from Monday
    (datetime(2026, 11, 28, 10, 0, tzinfo=IST), date(2026, 11, 28)),  # Saturday morning: counted from Saturday
])  # fmt: skip
def test_a_quotes_etd_counts_from_the_day_the_pickup_is_booked_on(merchant, local, first_day):
    courier = shipping_courier(merchant, pickup_cutoff=CUTOFF)
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED, courier=courier)

    offered = quote(merchant=merchant, pickup_postcode="560001", delivery_postcode="560025", weight_grams=500,
                    at=local)  # fmt: skip
    pickup = pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor="user:1", now=local)

    [courier_quote] = offered.couriers
    assert pickup.pickup_date == first_day
    assert courier_quote.etd == pickup.pickup_date + timedelta(days=courier_quote.estimated_delivery_days)
    assert courier_quote.etd == first_day + timedelta(days=2)

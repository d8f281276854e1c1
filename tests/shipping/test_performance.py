"""Courier performance from ShopOps's own shipments, smoothed towards the neutral prior while they are few."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from shipping.models import Shipment, ShipmentStatus
from shipping.selectors import courier_rating
from shipping.services.tracking import courier_performance_refresh
from tests.shipping.factories import make_shipment, shipping_courier

pytestmark = pytest.mark.django_db


def test_a_courier_without_finished_shipments_keeps_the_prior(merchant):
    courier = shipping_courier(merchant)
    make_shipment(merchant, ShipmentStatus.IN_TRANSIT, courier=courier)

    courier = courier_performance_refresh(courier=courier)

    assert (courier.on_time_rate, courier.rto_rate, courier.avg_transit_days, courier.performance_shipments) == (
        Decimal("0.9000"), Decimal("0.1000"), None, 0)  # fmt: skip


def test_rates_count_late_deliveries_and_rtos_with_the_prior_weight_of_20(merchant):
    courier = shipping_courier(merchant)
    delivered = [make_shipment(merchant, ShipmentStatus.DELIVERED, courier=courier) for _ in range(3)]
    make_shipment(merchant, ShipmentStatus.RTO_DELIVERED, courier=courier)
    make_shipment(merchant, ShipmentStatus.CANCELLED, courier=courier)  # not finished: not counted
    now = timezone.now()
    # Two delivered on time (by the expected date), one a day late; each 2 days after pickup.
    for shipment, late in zip(delivered, (False, False, True), strict=True):
        done = now - timedelta(days=1)
        expected = done.astimezone(merchant.tzinfo).date() - timedelta(days=1 if late else 0)
        Shipment.objects.filter(pk=shipment.pk).update(shipped_at=done - timedelta(days=2), delivered_at=done,
                                                       expected_delivery_date=expected)  # fmt: skip

    courier = courier_performance_refresh(courier=courier, now=now)

    # on time: (0.90 x 20 + 2) / (20 + 3); RTO: (0.10 x 20 + 1) / (20 + 4)
    assert courier.on_time_rate == Decimal("0.8696")
    assert courier.rto_rate == Decimal("0.1250")
    assert courier.avg_transit_days == Decimal("2.00")
    assert courier.performance_shipments == 4
    assert courier_rating(courier.on_time_rate, courier.rto_rate) == Decimal("3.80")


def test_shipments_older_than_90_days_are_forgotten(merchant):
    courier = shipping_courier(merchant)
    shipment = make_shipment(merchant, ShipmentStatus.RTO_DELIVERED, courier=courier)
    Shipment.objects.filter(pk=shipment.pk).update(rto_initiated_at=timezone.now() - timedelta(days=91))

    courier = courier_performance_refresh(courier=courier)

    assert (courier.rto_rate, courier.performance_shipments) == (Decimal("0.1000"), 0)

"""Shipment services: creation, AWB, reassignment, cancellation, pickups and manifests, with every refusal."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from orders.models import OrderEvent, OrderStatus
from orders.services import orders as order_services
from shipping.calendar import pickup_day
from shipping.models import PickupRequest, PickupStatus, ShipmentEvent, ShipmentStatus
from shipping.services.awb import awb_pool_create_range, awb_pool_remaining, awb_pool_set_active
from shipping.services.manifests import manifest_create
from shipping.services.pickups import pickup_cancel, pickup_schedule
from shipping.services.shipments import shipment_assign_awb, shipment_cancel, shipment_create
from shopops.api.exceptions import Conflict
from shopops.errors import DomainError, ErrorKind
from tests.catalog.factories import LocationFactory, ProductFactory, stock
from tests.orders.factories import make_order
from tests.shipping.factories import CITY_CARD, courier_event, make_courier, make_shipment, shipping_courier

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")


def _conflict(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    assert caught.value.kind == ErrorKind.CONFLICT
    return caught.value


def test_a_shipment_without_a_courier_takes_the_recommended_one_and_its_quote(merchant):
    cheap = shipping_courier(merchant, code="cheap", name="Cheap")
    pricey = make_courier(merchant, code="pricey", name="Pricey", pincodes=("560001", "560025"),
                          rate_cards=[CITY_CARD | {"first_slab_price": Decimal("90.00")}])  # fmt: skip
    order = make_order(merchant, OrderStatus.CONFIRMED)

    shipment = shipment_create(order=order, actor="user:1")

    assert pricey.pk != cheap.pk and shipment.courier_id == cheap.pk
    assert (shipment.status, shipment.zone, shipment.applied_weight_grams) == ("new", "within_city", 500)
    # 30.00 freight, 10 % fuel on it, 18 % GST on both: 30 + 3 + 5.94
    charges = (shipment.freight_charge, shipment.fuel_surcharge, shipment.tax, shipment.total_charge)
    assert charges == (Decimal("30.00"), Decimal("3.00"), Decimal("5.94"), Decimal("38.94"))
    assert shipment.cod_amount == Decimal("0")
    assert list(ShipmentEvent.objects.filter(shipment=shipment).values_list("kind", "to_status")) == [
        ("created", "new")
    ]


@pytest.mark.parametrize("status", [OrderStatus.NEW, OrderStatus.CANCELLED, OrderStatus.SHIPPED])
def test_only_confirmed_or_packed_orders_get_a_shipment(merchant, status):
    courier = shipping_courier(merchant)
    order = make_order(merchant, status)

    refused = _conflict(lambda: shipment_create(order=order, courier=courier, actor="user:1"))

    assert refused.code == "order_not_shippable"
    assert refused.details == {"status": status, "shippable_statuses": ["confirmed", "packed"]}


def test_an_order_has_one_live_shipment(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.NEW)

    refused = _conflict(lambda: shipment_create(order=shipment.order, actor="user:1"))

    assert (refused.code, refused.details) == ("shipment_exists", {"shipment": shipment.pk, "status": "new"})


def test_a_courier_that_cannot_carry_the_parcel_is_refused_with_its_reason(merchant):
    shipping_courier(merchant)
    remote = shipping_courier(merchant, code="remote", name="Remote", pool=None)
    remote.pincodes.filter(pincode="560025").delete()
    order = make_order(merchant, OrderStatus.PACKED)

    refused = _conflict(lambda: shipment_create(order=order, courier=remote, actor="user:1"))

    assert (refused.code, refused.details) == (
        "courier_not_available",
        {"courier": "remote", "reason": "delivery pincode not serviceable"},
    )


def test_no_courier_at_all_is_not_serviceable(merchant):
    order = make_order(merchant, OrderStatus.PACKED)

    refused = _conflict(lambda: shipment_create(order=order, actor="user:1"))

    assert (refused.code, refused.details) == ("not_serviceable", {"blocked": []})


def test_the_awb_is_recorded_on_the_order_and_a_second_assignment_is_refused(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    order = shipment.order
    order.refresh_from_db()

    assert (order.awb, order.courier) == (shipment.awb, "bluedart")
    assert OrderEvent.objects.filter(order=order, kind="awb_assigned").count() == 1
    refused = _conflict(lambda: shipment_assign_awb(shipment=shipment, actor="user:1"))
    assert (refused.code, refused.details) == ("awb_already_assigned", {"awb": shipment.awb, "courier": "bluedart"})


def test_no_awb_for_a_cancelled_shipment(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.CANCELLED)

    refused = _conflict(lambda: shipment_assign_awb(shipment=shipment, actor="user:1"))

    assert (refused.code, refused.details) == ("shipment_cancelled", {"status": "cancelled"})


def test_reassignment_before_pickup_spends_the_old_awb_and_records_the_change(merchant):
    first = shipping_courier(merchant)
    second = shipping_courier(merchant, code="delhivery", name="Delhivery")
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED, courier=first)
    old_awb = shipment.awb

    shipment = shipment_assign_awb(shipment=shipment, courier=second, actor="user:1")

    assert (shipment.courier_id, shipment.awb, shipment.status) == (second.pk, "DE10000000", "awb_assigned")
    assert (shipment.pickup_id, shipment.pickup_date) == (None, None)
    change = ShipmentEvent.objects.get(shipment=shipment, kind="courier_changed")
    assert change.data == {"from_courier": "bluedart", "to_courier": "delhivery", "old_awb": old_awb}
    assert awb_pool_remaining(first.awb_pools.get()) == 999  # the old number is not given back
    shipment.order.refresh_from_db()
    assert (shipment.order.awb, shipment.order.courier) == ("DE10000000", "delhivery")


def test_no_reassignment_after_pickup(merchant):
    shipping_courier(merchant)
    other = shipping_courier(merchant, code="delhivery", name="Delhivery")
    shipment = make_shipment(merchant, ShipmentStatus.PICKED_UP)

    refused = _conflict(lambda: shipment_assign_awb(shipment=shipment, courier=other, actor="user:1"))

    assert (refused.code, refused.details["status"]) == ("transition_not_allowed", "picked_up")


def test_cancelling_clears_the_orders_awb_so_it_can_ship_again_and_be_cancelled(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    order = shipment.order
    with pytest.raises((DomainError, Conflict)) as refused:  # orders' 409, as orders raises it
        order_services.order_cancel(order=order, reason="dup", actor="user:1")
    assert refused.value.code == "order_has_awb"

    shipment_cancel(shipment=shipment, actor="user:1", reason="wrong address")

    shipment.refresh_from_db()
    order.refresh_from_db()
    assert (shipment.status, shipment.cancel_reason, order.awb, order.courier) == ("cancelled", "wrong address", "", "")
    assert order_services.order_cancel(order=order, reason="dup", actor="user:1").status == "cancelled"


def test_no_cancellation_after_pickup(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.IN_TRANSIT)

    refused = _conflict(lambda: shipment_cancel(shipment=shipment, actor="user:1"))

    assert (refused.code, refused.details["status"]) == ("transition_not_allowed", "in_transit")


@pytest.mark.parametrize(("local", "expected"), [
    (datetime(2026, 11, 27, 13, 59, tzinfo=IST), date(2026, 11, 27)),  # Friday before the 14:00 cut-off
    (datetime(2026, 11, 27, 14, 0, tzinfo=IST), date(2026, 11, 28)),  # Friday after: Saturday
    (datetime(2026, 11, 28, 15, 0, tzinfo=IST), date(2026, 11, 30)),  # Saturday after: Sunday is skipped
])  # fmt: skip
def test_the_cut_off_decides_today_or_the_next_working_day(merchant, local, expected):
    courier = shipping_courier(merchant, pickup_cutoff=time(14, 0))

    assert pickup_day(local, courier.pickup_cutoff) == expected


def test_shipments_of_one_courier_location_and_day_share_one_pickup(merchant):
    a = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    b = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)

    first = pickup_schedule(merchant=merchant, shipment_ids=[a.pk], actor="user:1")
    second = pickup_schedule(merchant=merchant, shipment_ids=[b.pk], actor="user:1")

    assert first.pk == second.pk
    assert sorted(first.shipments.values_list("pk", flat=True)) == [a.pk, b.pk]
    assert first.token.startswith("PU-")
    assert set(first.shipments.values_list("status", flat=True)) == {"pickup_scheduled"}


def test_a_pickup_refuses_shipments_from_two_locations(merchant):
    a = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    elsewhere = LocationFactory(merchant=merchant, nickname="mumbai", city="Mumbai", state="Maharashtra",
                                postcode="400050")  # fmt: skip
    product = ProductFactory(merchant=merchant)
    stock(product, elsewhere, 5)
    order = make_order(merchant, OrderStatus.PACKED, products=[(product, 1)], pickup_location=str(elsewhere.pk))
    b = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED, order=order)

    with pytest.raises(ValidationError) as caught:
        pickup_schedule(merchant=merchant, shipment_ids=[a.pk, b.pk], actor="user:1")

    assert caught.value.message_dict == {
        "shipment_ids": [
            "The shipments leave from several locations (main, mumbai); one pickup or manifest is for one location."
        ]
    }
    assert PickupRequest.objects.count() == 0


def test_a_pickup_needs_shipments_with_an_awb_of_the_merchant(merchant, other_merchant):
    fresh = make_shipment(merchant, ShipmentStatus.NEW)
    foreign = make_shipment(other_merchant, ShipmentStatus.AWB_ASSIGNED)

    refused = _conflict(lambda: pickup_schedule(merchant=merchant, shipment_ids=[fresh.pk], actor="u"))
    assert (refused.code, refused.details) == ("shipments_not_ready", {"shipments": {str(fresh.pk): "new"}})
    with pytest.raises(DomainError) as missing:
        pickup_schedule(merchant=merchant, shipment_ids=[foreign.pk], actor="u")
    assert (missing.value.kind, missing.value.code, missing.value.message) == (
        ErrorKind.NOT_FOUND, "not_found", f"No shipments with ids {foreign.pk}.")  # fmt: skip


def test_cancelling_a_pickup_puts_its_shipments_back(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)

    pickup = pickup_cancel(pickup=shipment.pickup, actor="user:1")

    shipment.refresh_from_db()
    assert (pickup.status, shipment.status, shipment.pickup_id) == (PickupStatus.CANCELLED, "awb_assigned", None)
    refused = _conflict(lambda: pickup_cancel(pickup=pickup, actor="user:1"))
    assert refused.code == "pickup_cancelled"


def test_a_pickup_with_a_collected_shipment_cannot_be_cancelled(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.PICKED_UP)

    refused = _conflict(lambda: pickup_cancel(pickup=shipment.pickup, actor="user:1"))

    assert (refused.code, refused.details) == ("pickup_in_progress", {"shipments": [shipment.pk]})


def test_a_manifest_numbers_its_shipments_once(merchant):
    a = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    b = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)

    manifest = manifest_create(merchant=merchant, pickup=a.pickup, actor="user:1")

    assert (manifest.number, manifest.pickup_id) == ("MAN-000001", a.pickup_id)
    assert sorted(manifest.shipments.values_list("pk", flat=True)) == [a.pk, b.pk]
    refused = _conflict(lambda: manifest_create(merchant=merchant, shipment_ids=[a.pk], actor="user:1"))
    assert (refused.code, refused.details) == ("already_manifested", {"shipments": {str(a.pk): "MAN-000001"}})


def test_a_past_pickup_date_is_refused(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)

    with pytest.raises(ValidationError) as caught:
        pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor="u",
                        pickup_date=date.today() - timedelta(days=2))  # fmt: skip

    assert caught.value.message_dict == {"pickup_date": ["The pickup date is in the past."]}


def test_an_order_cancelled_after_its_shipment_was_made_gets_no_awb(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.NEW)
    order_services.order_cancel(order=shipment.order, reason="customer asked", actor="user:1")

    refused = _conflict(lambda: shipment_assign_awb(shipment=shipment, actor="user:1"))

    assert (refused.code, refused.details) == (
        "order_not_shippable", {"status": "cancelled", "shippable_statuses": ["confirmed", "packed"]})  # fmt: skip
    shipment.refresh_from_db()
    assert (shipment.status, shipment.awb) == ("new", "")
    assert awb_pool_remaining(shipment.courier.awb_pools.get()) == 1000


def test_overlapping_pools_skip_a_number_already_given_to_a_shipment(merchant):
    courier = shipping_courier(merchant, code="acourier", name="A Courier", pool=None)
    awb_pool_create_range(courier=courier, name="first", start=10, end=19, prefix="A")
    first = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED, courier=courier)
    awb_pool_set_active(pool=courier.awb_pools.get(name="first"), is_active=False)
    awb_pool_create_range(courier=courier, name="second", start=0, end=2, prefix="A1")  # A10, A11, A12

    second = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED, courier=courier)

    assert (first.awb, second.awb) == ("A10", "A11")
    assert awb_pool_remaining(courier.awb_pools.get(name="second")) == 1


def test_a_lost_scan_before_pickup_is_kept_but_does_not_move_the_shipment(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)

    result = courier_event(shipment, "lost")

    shipment.refresh_from_db()
    assert (result.accepted, result.applied, result.ignored) == (1, 0, 1)
    assert shipment.status == "awb_assigned"

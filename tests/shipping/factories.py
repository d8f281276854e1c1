"""Couriers with rate cards and serviceable pincodes, built through the shipping services."""

import io
from datetime import time
from decimal import Decimal

from shipping.services.couriers import courier_create, serviceability_import

METRO_CARD = {
    "zone": "metro", "first_slab_grams": 500, "first_slab_price": Decimal("40.00"), "additional_slab_grams": 500,
    "additional_slab_price": Decimal("35.00"), "cod_fixed": Decimal("30.00"), "cod_percent": Decimal("2.00"),
    "fuel_surcharge_percent": Decimal("10.00"), "rto_charge": Decimal("60.00"), "estimated_days": 4,
}  # fmt: skip


def make_courier(merchant, code: str = "delhivery-surface", name: str = "Delhivery Surface", rate_cards=None,
                 pincodes=("560001", "400050"), **data):  # fmt: skip
    data = {"pickup_cutoff": time.max, **data}  # picked up today whatever the hour: ETDs are today + days
    courier = courier_create(merchant=merchant, data={"code": code, "name": name, **data},
                             rate_cards=[METRO_CARD] if rate_cards is None else rate_cards)  # fmt: skip
    if pincodes:
        serve(courier, *pincodes)
    return courier


def serve(courier, *pincodes: str, cod: str = "Y") -> None:
    lines = ["pincode,pickup,delivery,cod", *(f"{p},Y,Y,{cod}" for p in pincodes)]
    result = serviceability_import(courier=courier, fileobj=io.BytesIO("\n".join(lines).encode()))
    assert result.errors == []


# -- shipments ----------------------------------------------------------------------------------------------------

from datetime import UTC, datetime, timedelta  # noqa: E402

from django.utils import timezone  # noqa: E402

from orders.models import OrderStatus  # noqa: E402
from shipping.adapters import TrackingUpdate  # noqa: E402
from shipping.models import Courier, Shipment, ShipmentStatus  # noqa: E402
from shipping.services.awb import awb_pool_create_range  # noqa: E402
from shipping.services.pickups import pickup_schedule  # noqa: E402
from shipping.services.shipments import shipment_assign_awb, shipment_cancel, shipment_create  # noqa: E402
from shipping.services.tracking import tracking_ingest  # noqa: E402
from shipping.zones import Zone  # noqa: E402
from tests.orders.factories import make_order  # noqa: E402

#: The test order ships from 560001 to 560025: both Bengaluru, the within-city zone.
CITY_CARD = METRO_CARD | {"zone": Zone.WITHIN_CITY, "first_slab_price": Decimal("30.00"), "estimated_days": 2}


def shipping_courier(merchant, code: str = "bluedart", name: str = "Blue Dart", adapter: str = "offline",
                     pool: int | None = 1000, **data):  # fmt: skip
    """A courier that carries the test orders (560001 -> 560025), with a range pool of ``pool`` AWBs."""
    courier = make_courier(merchant, code=code, name=name, rate_cards=[CITY_CARD, METRO_CARD],
                           pincodes=("560001", "560025", "400050"), adapter=adapter, **data)  # fmt: skip
    if pool:
        awb_pool_create_range(courier=courier, name=f"{code} pool", start=10_000_000,
                              end=10_000_000 + pool - 1, prefix=code[:2].upper())  # fmt: skip
    return courier


#: The service calls that take a new shipment to each status (offline courier events for the later ones).
SHIPMENT_PATHS = {
    ShipmentStatus.NEW: [],
    ShipmentStatus.AWB_ASSIGNED: ["awb"],
    ShipmentStatus.PICKUP_SCHEDULED: ["awb", "pickup"],
    ShipmentStatus.PICKED_UP: ["awb", "pickup", "picked_up"],
    ShipmentStatus.IN_TRANSIT: ["awb", "pickup", "picked_up", "in_transit"],
    ShipmentStatus.OUT_FOR_DELIVERY: ["awb", "pickup", "picked_up", "in_transit", "out_for_delivery"],
    ShipmentStatus.DELIVERED: ["awb", "pickup", "picked_up", "in_transit", "out_for_delivery", "delivered"],
    ShipmentStatus.NDR: ["awb", "pickup", "picked_up", "in_transit", "out_for_delivery", "ndr"],
    ShipmentStatus.RTO_INITIATED: ["awb", "pickup", "picked_up", "in_transit", "out_for_delivery", "ndr",
                                   "rto_initiated"],
    ShipmentStatus.RTO_IN_TRANSIT: ["awb", "pickup", "picked_up", "in_transit", "out_for_delivery", "ndr",
                                    "rto_initiated", "rto_in_transit"],
    ShipmentStatus.RTO_DELIVERED: ["awb", "pickup", "picked_up", "in_transit", "out_for_delivery", "ndr",
                                   "rto_initiated", "rto_in_transit", "rto_delivered"],
    ShipmentStatus.CANCELLED: ["awb", "cancel"],
    ShipmentStatus.LOST: ["awb", "pickup", "picked_up", "in_transit", "lost"],
}  # fmt: skip


def courier_event(shipment: Shipment, code: str, at: datetime | None = None, event_id: str = "", **extra):
    """A courier's event for the shipment, through ingestion (as its webhook would deliver it)."""
    update = TrackingUpdate(awb=shipment.awb, code=code, occurred_at=at or timezone.now(), event_id=event_id,
                            **extra)  # fmt: skip
    return tracking_ingest(courier=shipment.courier, updates=[update], source="webhook")


#: When the orders of ``make_shipment`` were placed.
ORDERED_AT = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def make_shipment(merchant, status: str = ShipmentStatus.NEW, courier=None, order=None, **order_overrides):
    """A shipment of a packed order, taken to ``status`` through the services and courier events."""
    courier = courier or Courier.objects.filter(merchant=merchant, code="bluedart").first()
    courier = courier or shipping_courier(merchant)
    # placed well before any scan the tests send (a scan dated before its order is refused)
    order_overrides.setdefault("ordered_at", ORDERED_AT)
    order = order or make_order(merchant, OrderStatus.PACKED, **order_overrides)
    shipment = shipment_create(order=order, courier=courier, actor="system")
    start = timezone.now() - timedelta(days=3)
    for n, step in enumerate(SHIPMENT_PATHS[status]):
        if step == "awb":
            shipment = shipment_assign_awb(shipment=shipment, actor="system")
        elif step == "pickup":
            pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], actor="system")
        elif step == "cancel":
            shipment_cancel(shipment=shipment, actor="system", reason="test")
        else:
            courier_event(shipment, step, at=start + timedelta(hours=n), description=f"test {step}")
    shipment.refresh_from_db()
    return shipment

"""A parcel's whole life through the services: AWB, pickup, tracking, NDR, delivery or RTO, with the order and
the stock ledger checked at each step."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import MovementKind, StockLevel, StockMovement
from orders.models import OrderStatus
from shipping.models import NDR, NDRStatus, ShipmentStatus
from shipping.services.ndr import ndr_action
from tests.shipping.factories import courier_event, make_shipment

pytestmark = pytest.mark.django_db


def _level(order):
    line = order.lines.get()
    return StockLevel.objects.get(product_id=line.product_id, location_id=order.pickup_location_id)


def test_offline_shipment_to_delivery_moves_the_order_and_ships_the_stock(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    order = shipment.order
    assert (shipment.awb, order.status) == ("BL10000000", OrderStatus.PACKED)
    order.refresh_from_db()
    assert (order.awb, order.courier) == ("BL10000000", "bluedart")
    level = _level(order)
    assert (level.on_hand, level.reserved) == (100, 2)

    at = timezone.now() - timedelta(hours=5)
    courier_event(shipment, "picked_up", at=at)
    shipment.refresh_from_db()
    order.refresh_from_db()
    level.refresh_from_db()
    assert (shipment.status, shipment.shipped_at, order.status) == (ShipmentStatus.PICKED_UP, at, OrderStatus.SHIPPED)
    assert (level.on_hand, level.reserved) == (98, 0)
    assert StockMovement.objects.filter(kind=MovementKind.SHIPMENT, stock_level=level).get().quantity == -2

    courier_event(shipment, "delivered", at=at + timedelta(hours=3))
    shipment.refresh_from_db()
    order.refresh_from_db()
    assert (shipment.status, order.status) == (ShipmentStatus.DELIVERED, OrderStatus.DELIVERED)
    assert order.delivered_at is not None


def test_ndr_then_rto_restocks(merchant):
    shipment = make_shipment(merchant, ShipmentStatus.NDR)
    ndr = NDR.objects.get(shipment=shipment)
    assert (ndr.status, ndr.attempts) == (NDRStatus.OPEN, 1)
    ndr_action(ndr=ndr, action="rto", actor="user:1", comment="customer unreachable")
    shipment.refresh_from_db()
    order = shipment.order
    order.refresh_from_db()
    assert (shipment.status, order.status) == (ShipmentStatus.RTO_INITIATED, OrderStatus.RTO)
    courier_event(shipment, "rto_delivered", at=timezone.now())
    shipment.refresh_from_db()
    order.refresh_from_db()
    level = _level(order)
    assert (shipment.status, order.status) == (ShipmentStatus.RTO_DELIVERED, OrderStatus.RTO_DELIVERED)
    assert (level.on_hand, level.reserved) == (100, 0)

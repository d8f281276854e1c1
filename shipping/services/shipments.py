"""Shipments: create, book the courier and the AWB (or reassign), cancel; and the helpers every shipment write
shares (locks, the status move with its event, the order following its parcel)."""

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from orders.models import Order, OrderStatus, PaymentMethod
from orders.services import orders as order_services
from shipping import outbox
from shipping.adapters import adapter_for
from shipping.errors import (
    AWB_ALREADY_ASSIGNED,
    COURIER_NOT_AVAILABLE,
    NOT_SERVICEABLE,
    ORDER_NOT_SHIPPABLE,
    SHIPMENT_CANCELLED,
    SHIPMENT_EXISTS,
)
from shipping.models import (
    PICKED_UP_STATUSES,
    PRE_PICKUP_STATUSES,
    RTO_STATUSES,
    SHIPMENT_TRANSITIONS,
    Courier,
    Shipment,
    ShipmentEvent,
)
from shipping.models import ShipmentStatus as S
from shipping.selectors import CourierQuote, quote_for_order
from shipping.services.awb import awb_allocate
from shipping.zones import UnknownPincode
from shopops.errors import NOT_FOUND, DomainError, state_refusal
from shopops.models import Merchant

SHIPPABLE_ORDER_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.PACKED)


def record_event(shipment: Shipment, kind: str, actor: str, *, from_status: str = "", to_status: str = "",
                 message: str = "", data: dict | None = None) -> ShipmentEvent:  # fmt: skip
    return ShipmentEvent.objects.create(merchant_id=shipment.merchant_id, shipment=shipment, kind=kind,
                                        from_status=from_status, to_status=to_status, actor=actor,
                                        message=message[:500], data=data or {})  # fmt: skip


def shipment_transition_refused(shipment: Shipment, to_status: str) -> DomainError:
    return state_refusal(noun=f"Shipment {shipment}", status=shipment.status, to_status=to_status,
                         allowed=SHIPMENT_TRANSITIONS[shipment.status])  # fmt: skip


def set_status(shipment: Shipment, to_status: str, actor: str, *, at: datetime | None = None, message: str = "",
               data: dict | None = None, fields: tuple[str, ...] = ()) -> None:  # fmt: skip
    """Move a locked shipment to ``to_status``, stamping its timestamps, and write the event."""
    from_status, at = shipment.status, at or timezone.now()
    shipment.status = to_status
    changed = {"status", "updated_at", *fields}
    if to_status in PICKED_UP_STATUSES and shipment.shipped_at is None:
        shipment.shipped_at = at
        changed.add("shipped_at")
    stamp = {S.DELIVERED: "delivered_at", S.RTO_INITIATED: "rto_initiated_at", S.CANCELLED: "cancelled_at"}.get(
        to_status)  # fmt: skip
    if to_status in RTO_STATUSES and shipment.rto_initiated_at is None:
        stamp = "rto_initiated_at"
    if stamp and getattr(shipment, stamp) is None:
        setattr(shipment, stamp, at)
        changed.add(stamp)
    shipment.save(update_fields=sorted(changed))
    record_event(shipment, "status_changed", actor, from_status=from_status, to_status=to_status, message=message,
                 data=data)  # fmt: skip
    outbox.shipment_emit(shipment, "shipment.status_changed", previous_status=from_status)


def locked_order(order_id: int) -> Order:
    return Order.objects.select_for_update().select_related("merchant", "pickup_location").get(pk=order_id)


def _quoted(order: Order, courier: Courier | None, at: datetime | None, sort: str | None = None) -> CourierQuote:
    """The courier's quote for the order, else the first by ``sort`` (default: the recommended one);
    ``courier_not_available`` / ``not_serviceable`` when it cannot carry the parcel."""
    try:
        result = quote_for_order(order, at=at, sort=sort)
    except UnknownPincode as exc:
        raise ValidationError({"order": [f"{exc.pincode} is not a known pincode."]}) from exc
    if courier is None:
        if not result.couriers:
            raise NOT_SERVICEABLE(f"No courier can carry order {order.number}.",
                                  {"blocked": result.blocked})  # fmt: skip
        if sort:
            return result.couriers[0]
        return next(q for q in result.couriers if q.courier_id == result.recommended_courier_id)
    for candidate in result.couriers:
        if candidate.courier_id == courier.pk:
            return candidate
    reason = next((b["reason"] for b in result.blocked if b["courier_id"] == courier.pk), "not a courier of yours")
    raise COURIER_NOT_AVAILABLE(f"{courier.name} cannot carry order {order.number}: {reason}.",
                                {"courier": courier.code, "reason": reason})  # fmt: skip


def _apply_quote(shipment: Shipment, chosen: CourierQuote) -> None:
    shipment.zone = chosen.zone
    shipment.applied_weight_grams = chosen.chargeable_weight_grams
    shipment.freight_charge, shipment.cod_charge = chosen.freight_charge, chosen.cod_charge
    shipment.fuel_surcharge, shipment.tax, shipment.total_charge = (
        chosen.fuel_surcharge,
        chosen.tax,
        chosen.total_charge,
    )
    shipment.expected_delivery_date = chosen.etd


QUOTE_FIELDS = ("courier", "zone", "applied_weight_grams", "freight_charge", "cod_charge", "fuel_surcharge", "tax",
                "total_charge", "expected_delivery_date")  # fmt: skip


def shipment_create(*, order: Order, actor: str, courier: Courier | None = None, at: datetime | None = None,
                    sort: str | None = None) -> Shipment:  # fmt: skip
    """A shipment for a confirmed or packed order, with ``courier``, else the first courier by ``sort``
    (recommended, cheapest, fastest, rating), else the merchant's recommended one.

    Refused: ``order_not_shippable`` for another order status, ``shipment_exists`` when the order already has a live
    shipment, ``courier_not_available`` / ``not_serviceable`` when no courier can carry the parcel."""
    if courier is not None and courier.merchant_id != order.merchant_id:
        raise ValidationError({"courier": ["Not a courier of this merchant."]})
    with transaction.atomic():
        locked = locked_order(order.pk)
        if locked.status not in SHIPPABLE_ORDER_STATUSES:
            raise order_not_shippable(locked)
        live = Shipment.objects.filter(order=locked).exclude(status=S.CANCELLED).first()
        if live is not None:
            raise SHIPMENT_EXISTS(f"Order {locked.number} already has shipment {live.pk} ({live.status}).",
                                  {"shipment": live.pk, "status": live.status})  # fmt: skip
        chosen = _quoted(locked, courier, at, sort)
        shipment = Shipment(
            merchant_id=locked.merchant_id,
            order=locked,
            courier_id=chosen.courier_id,
            currency=locked.currency,
            cod_amount=locked.total if locked.payment_method == PaymentMethod.COD else Decimal("0"),
        )
        _apply_quote(shipment, chosen)
        shipment.save()
        record_event(shipment, "created", actor, to_status=S.NEW,
                     message=f"{chosen.name}, {chosen.zone}, {chosen.total_charge} {shipment.currency}",
                     data={"courier": chosen.code, "recommended": courier is None})  # fmt: skip
    return shipment


def lock_order_of(shipment_id: int) -> None:
    """Lock the shipment's order. Everywhere the order is locked before its shipment, so a shipment service and
    an order transition (the /ship/ booking, a courier event driving the order) never wait on each other."""
    order_id = Shipment.objects.filter(pk=shipment_id).values_list("order_id", flat=True).get()
    list(Order.objects.select_for_update().filter(pk=order_id).values_list("pk", flat=True))


def locked_shipment(shipment_id: int) -> Shipment:
    """The shipment under its row lock, its order locked first."""
    lock_order_of(shipment_id)
    return (Shipment.objects.select_for_update(of=("self",))
            .select_related("courier", "order", "merchant").get(pk=shipment_id))  # fmt: skip


def order_not_shippable(order: Order) -> DomainError:
    details = {"status": order.status, "shippable_statuses": list(SHIPPABLE_ORDER_STATUSES)}
    message = f"Order {order.number} is {order.status}; only confirmed or packed orders are shipped."
    return ORDER_NOT_SHIPPABLE(message, details)


def shipment_assign_awb(*, shipment: Shipment, actor: str, courier: Courier | None = None,
                        at: datetime | None = None) -> Shipment:  # fmt: skip
    """Book the shipment with its courier and get its AWB; with another ``courier``, reassign it first.

    Reassignment is allowed until pickup: the old AWB stays spent (never reused), the shipment leaves its pickup
    and manifest, and the change is recorded as an event. Refused: ``shipment_cancelled``, ``awb_already_assigned``,
    ``awb_pool_exhausted``, ``transition_not_allowed`` (after pickup)."""
    if courier is not None and courier.merchant_id != shipment.merchant_id:
        raise ValidationError({"courier": ["Not a courier of this merchant."]})
    with transaction.atomic():
        locked = locked_shipment(shipment.pk)
        if locked.status == S.CANCELLED:
            raise SHIPMENT_CANCELLED(f"Shipment {locked.pk} is cancelled; create a new one.",
                                     {"status": locked.status})  # fmt: skip
        reassign = courier is not None and courier.pk != locked.courier_id
        if locked.status not in PRE_PICKUP_STATUSES:
            raise shipment_transition_refused(locked, S.AWB_ASSIGNED)
        if locked.order.status not in SHIPPABLE_ORDER_STATUSES:  # e.g. cancelled since the shipment was made
            raise order_not_shippable(locked.order)
        if not reassign and locked.awb:
            raise AWB_ALREADY_ASSIGNED(f"Shipment {locked.pk} already has AWB {locked.awb}.",
                                       {"awb": locked.awb, "courier": locked.courier.code})  # fmt: skip
        if reassign:
            _reassign(locked, courier, actor, at)
        adapter = adapter_for(locked.courier)
        awb = adapter.assign_awb(locked, lambda: awb_allocate(courier=locked.courier))
        from_status = locked.status
        locked.awb, locked.awb_assigned_at = awb, timezone.now()
        locked.status = S.AWB_ASSIGNED
        locked.save(update_fields=["awb", "awb_assigned_at", "status", "updated_at"])
        record_event(locked, "awb_assigned", actor, from_status=from_status, to_status=S.AWB_ASSIGNED,
                     message=f"AWB {awb} with {locked.courier.name}",
                     data={"awb": awb, "courier": locked.courier.code})  # fmt: skip
        outbox.shipment_emit(locked, "shipment.awb_assigned", previous_status=from_status)
        order_services.order_set_awb(order=locked.order, awb=awb, courier=locked.courier.code, actor=actor)
    return locked


def _reassign(locked: Shipment, courier: Courier, actor: str, at: datetime | None) -> None:
    old_courier, old_awb = locked.courier, locked.awb
    chosen = _quoted(locked_order(locked.order_id), courier, at)
    if old_awb:
        adapter_for(old_courier).cancel(locked)
    locked.courier = courier
    _apply_quote(locked, chosen)
    locked.awb, locked.pickup, locked.pickup_date, locked.manifest = "", None, None, None
    locked.status = S.NEW
    locked.save(update_fields=[*QUOTE_FIELDS, "awb", "pickup", "pickup_date", "manifest", "status", "updated_at"])
    record_event(
        locked,
        "courier_changed",
        actor,
        to_status=S.NEW,
        message=f"{old_courier.name} -> {courier.name}" + (f"; AWB {old_awb} released" if old_awb else ""),
        data={"from_courier": old_courier.code, "to_courier": courier.code, "old_awb": old_awb},
    )


def shipment_cancel(*, shipment: Shipment, actor: str, reason: str = "") -> Shipment:
    """Cancel before pickup: the courier is told, the AWB stays spent, the order is free to ship again."""
    with transaction.atomic():
        locked = locked_shipment(shipment.pk)
        if S.CANCELLED not in SHIPMENT_TRANSITIONS[locked.status]:
            raise shipment_transition_refused(locked, S.CANCELLED)
        if locked.awb:
            adapter_for(locked.courier).cancel(locked)
        locked.cancel_reason = reason[:255]
        set_status(locked, S.CANCELLED, actor, message=reason, fields=("cancel_reason",))
        if locked.order.awb:
            order_services.order_set_awb(order=locked.order, awb="", courier="", actor=actor)
    return locked


def locked_shipments(merchant: Merchant, shipment_ids: list[int]) -> list[Shipment]:
    """The merchant's shipments, locked in primary-key order; ``not_found`` when any id is not one of them."""
    ids = sorted(set(shipment_ids))
    shipments = list(Shipment.objects.select_for_update(of=("self",)).filter(merchant=merchant, pk__in=ids)
                     .select_related("courier", "order__pickup_location").order_by("pk"))  # fmt: skip
    missing = sorted(set(ids) - {s.pk for s in shipments})
    if missing:
        raise NOT_FOUND(f"No shipments with ids {', '.join(map(str, missing))}.")
    return shipments


def order_follow(shipment: Shipment, status: str, actor: str) -> None:
    """Bring the order to where its parcel is (skipping none of the order's own steps)."""
    order = Order.objects.get(pk=shipment.order_id)
    if status in PICKED_UP_STATUSES and status != S.LOST:
        if order.status == OrderStatus.CONFIRMED:
            order = order_services.order_pack(order=order, actor=actor)
        if order.status == OrderStatus.PACKED:
            order = order_services.order_mark_shipped(order=order, actor=actor, awb=shipment.awb,
                                                      courier=shipment.courier.code)  # fmt: skip
    if status == S.DELIVERED and order.status == OrderStatus.SHIPPED:
        order_services.order_mark_delivered(order=order, actor=actor)
    if status in RTO_STATUSES and order.status == OrderStatus.SHIPPED:
        order = order_services.order_mark_rto(order=order, actor=actor, reason="Returned to origin")
    if status == S.RTO_DELIVERED and order.status == OrderStatus.RTO:
        order_services.order_mark_rto_delivered(order=order, actor=actor)

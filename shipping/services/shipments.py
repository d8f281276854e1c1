"""Shipments: create, book the courier and the AWB (or reassign), cancel; and the helpers every shipment write
shares (locks, the status move with its event, the order following its parcel)."""

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from orders.models import Order, OrderEventKind, OrderStatus, PaymentMethod, order_event
from orders.services import orders as order_services
from orders.services.channel_pushes import fulfilment_queue
from shipping.adapters import Booking, adapter_for
from shipping.errors import (
    AWB_ALREADY_ASSIGNED,
    COURIER_NOT_AVAILABLE,
    NOT_SERVICEABLE,
    ORDER_NOT_SHIPPABLE,
    SHIPMENT_CANCELLED,
    SHIPMENT_EXISTS,
)
from shipping.eway import booking_warnings
from shipping.models import (
    PICKED_UP_STATUSES,
    PRE_PICKUP_STATUSES,
    RTO_STATUSES,
    SHIPMENT_STATES,
    SHIPMENT_TRANSITIONS,
    Courier,
    CourierCall,
    CourierCallKind,
    CourierCallStatus,
    DocumentKind,
    Shipment,
    ShipmentEvent,
    ShipmentEventKind,
)
from shipping.models import ShipmentStatus as S
from shipping.notifications import tracking_url
from shipping.selectors import CourierQuote, quote_for_order
from shipping.services.calls import (
    CallFailed,
    call_fail,
    call_failed_error,
    call_open,
    call_pool_awb,
    call_reopen,
    call_run,
    call_succeed,
    call_tell,
    unfinished_calls,
)
from shipping.services.documents import document_request
from shipping.zones import UnknownPincode
from shopops.errors import NOT_FOUND, DomainError, state_refusal
from shopops.models import Merchant
from shopops.transitions import transition

SHIPPABLE_ORDER_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.PACKED)


def record_event(shipment: Shipment, kind: str, actor: str, *, from_status: str = "", to_status: str = "",
                 message: str = "", data: dict | None = None) -> ShipmentEvent:  # fmt: skip
    """A timeline event that is not a status move (created, manifested, NDR action); moves record theirs through
    the state table."""
    return ShipmentEvent.objects.create(merchant_id=shipment.merchant_id, shipment=shipment, kind=kind,
                                        from_status=from_status, to_status=to_status, actor=actor,
                                        message=message[:500], data=data or {})  # fmt: skip


def shipment_transition_refused(shipment: Shipment, to_status: str) -> DomainError:
    return state_refusal(noun=f"Shipment {shipment}", status=shipment.status, to_status=to_status,
                         allowed=SHIPMENT_TRANSITIONS[shipment.status],
                         labels=dict(S.choices))  # fmt: skip


def set_status(shipment: Shipment, to_status: str, actor: str, *, at: datetime | None = None, message: str = "",
               data: dict | None = None, values: dict | None = None) -> Shipment:  # fmt: skip
    """Move a locked shipment to ``to_status`` through its state table: stamps, event and webhook."""
    return transition(SHIPMENT_STATES, shipment, to_status, actor=actor, at=at, message=message, data=data,
                      values=values, locked=True)  # fmt: skip


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


def _quote_values(chosen: CourierQuote) -> dict:
    """The shipment's fields the quote sets (courier, zone, weight, charges, expected delivery)."""
    return {"courier_id": chosen.courier_id, "zone": chosen.zone,
            "applied_weight_grams": chosen.chargeable_weight_grams, "freight_charge": chosen.freight_charge,
            "cod_charge": chosen.cod_charge, "fuel_surcharge": chosen.fuel_surcharge, "tax": chosen.tax,
            "total_charge": chosen.total_charge, "expected_delivery_date": chosen.etd}  # fmt: skip


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
        shipment = Shipment.objects.create(
            merchant_id=locked.merchant_id,
            order=locked,
            currency=locked.currency,
            cod_amount=locked.total if locked.payment_method == PaymentMethod.COD else Decimal("0"),
            **_quote_values(chosen),
        )
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
            .select_related("courier", "order__channel", "merchant").get(pk=shipment_id))  # fmt: skip


def order_not_shippable(order: Order) -> DomainError:
    details = {"status": order.status, "shippable_statuses": list(SHIPPABLE_ORDER_STATUSES)}
    message = f"Order {order.number} is {order.status}; only confirmed or packed orders are shipped."
    return ORDER_NOT_SHIPPABLE(message, details)


def shipment_assign_awb(*, shipment: Shipment, actor: str, courier: Courier | None = None,
                        at: datetime | None = None) -> Shipment:  # fmt: skip
    """Book the shipment with its courier and get its AWB; with another ``courier``, reassign it first.

    Reassignment is allowed until pickup: the old AWB stays spent (never reused), the shipment leaves its pickup
    and manifest, the old courier is told the booking is off, and the change is recorded as an event. The courier
    is called after the checks are committed, with no lock held (``book_intent``, then ``book_finish``); a failed
    or unanswered booking stays recorded and is asked again, with the same key, by calling this again. Refused:
    ``shipment_cancelled``, ``awb_already_assigned``, ``awb_pool_exhausted``, ``transition_not_allowed`` (after
    pickup), ``courier_call_in_progress``, ``courier_call_failed``."""
    cancels, call = book_intent(shipment=shipment, actor=actor, courier=courier, at=at)
    for cancel in cancels:
        call_tell(cancel)
    return book_finish(call, actor=actor)


def book_intent(*, shipment: Shipment, actor: str, courier: Courier | None = None, at: datetime | None = None,
                resume: bool = False) -> tuple[list[CourierCall], CourierCall]:  # fmt: skip
    """The booking's first step, in one short transaction (or the caller's): the checks, a courier change (its
    cancel call to the old courier recorded), and the book call recorded, pending: a failed or lost book call of
    the shipment with its courier is asked again with its key. When the courier's AWBs come from the merchant's
    pools the number is taken here, with the call (``awb_pool_exhausted`` keeps nothing); with ``resume`` a pending
    book call is asked again at once (``call_reopen``). Returns the cancel calls to make and the book call."""
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
        cancels = _reassign(locked, courier, actor, at) if reassign else []
        earlier = unfinished_calls(shipment=locked, kind=CourierCallKind.BOOK, courier=locked.courier)
        if earlier:
            call = call_reopen(earlier[-1], actor=actor, resume=resume)
        else:
            call = call_open(courier=locked.courier, kind=CourierCallKind.BOOK, actor=actor, shipment=locked)
        if adapter_for(locked.courier).uses_pool(locked.courier):
            call_pool_awb(call)
    return cancels, call


def book_finish(call: CourierCall, *, actor: str) -> Shipment:
    """Ask the courier for the booking (no transaction open), then record the answer (``book_outcome``). Refused:
    ``courier_call_failed`` (recorded on the call; the shipment waits, new, for the booking to be asked again)."""
    try:
        booking = call_run(call)
    except CallFailed as failed:
        raise call_failed_error(failed, f"book shipment {failed.call.shipment_id}") from failed.cause
    return book_outcome(call, booking, actor=actor)


def book_outcome(call: CourierCall, booking: Booking | str, *, actor: str) -> Shipment:
    """Record the courier's AWB (and routing code, if it gave one) and move the shipment to awb_assigned,
    re-checking under the lock that it still waits for this booking; an order that needs an e-way bill it lacks gets
    the warning on its and the shipment's timelines. A shipment cancelled (or moved to another courier) meanwhile
    keeps the record, and the courier is told the booking is off in another recorded call; the caller gets the
    refusal."""
    booking = Booking.of(booking)
    awb = booking.awb
    response = {
        "awb": awb,
        **({"routing_code": booking.routing_code} if booking.routing_code else {}),
        **({"carrier_data": booking.carrier_data} if booking.carrier_data else {}),
    }
    with transaction.atomic():
        locked = locked_shipment(call.shipment_id)
        if not call_succeed(call, response):  # recorded by an earlier attempt, with its move
            return locked
        wanted = (locked.status == S.NEW and locked.courier_id == call.courier_id and not locked.awb
                  and locked.order.status in SHIPPABLE_ORDER_STATUSES)  # fmt: skip
        if wanted:
            set_status(locked, S.AWB_ASSIGNED, actor, message=f"AWB {awb} with {locked.courier.name}",
                       data={"awb": awb, "courier": locked.courier.code,
                             **({"routing_code": booking.routing_code} if booking.routing_code else {})},
                       values={"awb": awb, "routing_code": booking.routing_code, "carrier_data": booking.carrier_data,
                               "awb_assigned_at": timezone.now()})  # fmt: skip
            order_services.order_set_awb(order=locked.order, awb=awb, courier=locked.courier.code, actor=actor)
            # the order's store learns the AWB (a push sent after commit; nothing for orders of other channels)
            fulfilment_queue(order=locked.order, awb=awb, courier_name=locked.courier.name,
                             tracking_url=tracking_url(locked), package=locked.pk,
                             shipped_at=locked.awb_assigned_at)  # fmt: skip
            _record_booking_warnings(locked, actor)
            if adapter_for(locked.courier).carrier_labels:  # the courier's own label, fetched by a worker
                document_request(merchant=locked.merchant, kind=DocumentKind.CARRIER_LABEL, ids=[locked.pk],
                                 actor=actor)  # fmt: skip
            return locked
        cancel = call_open(courier=call.courier, kind=CourierCallKind.CANCEL, actor=actor, shipment=locked,
                           request={"awb": awb})  # fmt: skip
    call_tell(cancel)
    if locked.status == S.CANCELLED:
        raise SHIPMENT_CANCELLED(f"Shipment {locked.pk} was cancelled while {call.courier.name} booked it; the "
                                 f"booking (AWB {awb}) is called off.", {"status": locked.status})  # fmt: skip
    if locked.order.status not in SHIPPABLE_ORDER_STATUSES:
        raise order_not_shippable(locked.order)
    if locked.awb:
        raise AWB_ALREADY_ASSIGNED(f"Shipment {locked.pk} already has AWB {locked.awb}.",
                                   {"awb": locked.awb, "courier": locked.courier.code})  # fmt: skip
    raise shipment_transition_refused(locked, S.AWB_ASSIGNED)


def _record_booking_warnings(shipment: Shipment, actor: str) -> None:
    """The booking's warnings (an e-way bill required) on the shipment's and the order's timelines."""
    for warning in booking_warnings(shipment.order):
        record_event(shipment, ShipmentEventKind.EWAY_BILL_REQUIRED, actor, message=warning["message"],
                     data={"code": warning["code"], "total": str(shipment.order.total)})  # fmt: skip
        order_event(shipment.order, OrderEventKind.EWAY_BILL_REQUIRED, actor, message=warning["message"],
                    data={"code": warning["code"], "shipment": shipment.pk, "awb": shipment.awb})  # fmt: skip


def _reassign(locked: Shipment, courier: Courier, actor: str, at: datetime | None) -> list[CourierCall]:
    """Move the locked shipment to ``courier``, back to new; the old courier's booking is called off (a cancel call
    to make after commit) and an unfinished booking with it is superseded."""
    old_courier, old_awb = locked.courier, locked.awb
    chosen = _quoted(locked_order(locked.order_id), courier, at)
    for stale in unfinished_calls(shipment=locked, kind=CourierCallKind.BOOK):
        stale = call_reopen(stale, actor=actor) if stale.status == CourierCallStatus.PENDING else stale
        stale.error = f"Superseded: the shipment moved to {courier.name}."
        if stale.status == CourierCallStatus.PENDING:
            call_fail(stale)
        else:
            CourierCall.objects.filter(pk=stale.pk).update(error=stale.error)
    cancels = [call_open(courier=old_courier, kind=CourierCallKind.CANCEL, actor=actor, shipment=locked,
                         request={"awb": old_awb})] if old_awb else []  # fmt: skip
    set_status(
        locked,
        S.NEW,
        actor,
        message=f"{old_courier.name} -> {courier.name}" + (f"; AWB {old_awb} released" if old_awb else ""),
        data={"from_courier": old_courier.code, "to_courier": courier.code, "old_awb": old_awb},
        values={
            **_quote_values(chosen),
            "awb": "",
            "routing_code": "",
            "pickup": None,
            "pickup_date": None,
            "manifest": None,
        },
    )
    locked.courier = courier
    return cancels


def shipment_cancel(*, shipment: Shipment, actor: str, reason: str = "") -> Shipment:
    """Cancel before pickup: the AWB stays spent, the order is free to ship again, and the courier is told after
    commit. A courier that could not be told leaves the cancel call failed (the shipment stays cancelled):
    cancelling again asks it again."""
    with transaction.atomic():
        locked = locked_shipment(shipment.pk)
        untold = unfinished_calls(shipment=locked, kind=CourierCallKind.CANCEL) if locked.status == S.CANCELLED else []
        if untold:
            calls = [call_reopen(call, actor=actor) for call in untold]
        else:
            if S.CANCELLED not in SHIPMENT_TRANSITIONS[locked.status]:
                raise shipment_transition_refused(locked, S.CANCELLED)
            calls = [call_open(courier=locked.courier, kind=CourierCallKind.CANCEL, actor=actor, shipment=locked,
                               request={"awb": locked.awb})] if locked.awb else []  # fmt: skip
            set_status(locked, S.CANCELLED, actor, message=reason, values={"cancel_reason": reason[:255]})
            if locked.order.awb:
                order_services.order_set_awb(order=locked.order, awb="", courier="", actor=actor)
    for call in calls:
        call_tell(call)
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

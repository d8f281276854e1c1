"""Pickups: booking the courier's visit for shipments of one courier and one location, and calling it off."""

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from catalog.models import Location
from shipping.calendar import pickup_day
from shipping.errors import PICKUP_CANCELLED, PICKUP_IN_PROGRESS, SHIPMENTS_NOT_READY
from shipping.models import (
    PICKUP_STATES,
    PRE_PICKUP_STATUSES,
    Courier,
    CourierCall,
    CourierCallKind,
    PickupRequest,
    PickupStatus,
    Shipment,
)
from shipping.models import ShipmentStatus as S
from shipping.services.calls import (
    CallFailed,
    call_failed_error,
    call_open,
    call_reopen,
    call_run,
    call_succeed,
    call_tell,
    unfinished_calls,
)
from shipping.services.shipments import SHIPPABLE_ORDER_STATUSES, locked_shipments, order_not_shippable, set_status
from shopops.models import Merchant
from shopops.transitions import transition


def one_courier_and_location(shipments: list[Shipment]) -> tuple[Courier, Location]:
    couriers = {s.courier.code for s in shipments}
    locations = {s.order.pickup_location.nickname for s in shipments}
    if len(couriers) > 1:
        names = ", ".join(sorted(couriers))
        raise ValidationError({"shipment_ids": [f"The shipments are with several couriers ({names}); one pickup or "
                                                "manifest is for one courier."]})  # fmt: skip
    if len(locations) > 1:
        raise ValidationError({"shipment_ids": [f"The shipments leave from several locations "
                                                f"({', '.join(sorted(locations))}); one pickup or manifest is for "
                                                "one location."]})  # fmt: skip
    return shipments[0].courier, shipments[0].order.pickup_location


def pickup_schedule(*, merchant: Merchant, shipment_ids: list[int], actor: str, location: Location | None = None,
                    pickup_date: date | None = None, now: datetime | None = None) -> PickupRequest:  # fmt: skip
    """Book the courier to collect these shipments (one courier, one location) on ``pickup_date`` (default: today
    before the cut-off, else the next working day). Shipments join the pickup already booked for that courier,
    location and date, if any; otherwise the courier is called after the checks are committed, with no lock held,
    and the shipments join the pickup when its answer is recorded. A failed or unanswered booking stays recorded
    and is asked again, with the same key, by scheduling the same pickup again. Refused also:
    ``courier_call_in_progress``, ``courier_call_failed``."""
    if not shipment_ids:
        raise ValidationError({"shipment_ids": ["Name at least one shipment."]})
    now = (now or timezone.now()).astimezone(merchant.tzinfo)
    with transaction.atomic():
        shipments = locked_shipments(merchant, shipment_ids)
        courier, origin = one_courier_and_location(shipments)
        if location is not None and location.pk != origin.pk:
            raise ValidationError(
                {"location": [f"The shipments leave from {origin.nickname}, not {location.nickname}."]}
            )
        not_ready = {s.pk: s.status for s in shipments if s.status != S.AWB_ASSIGNED}
        unshippable = [s.order for s in shipments if s.order.status not in SHIPPABLE_ORDER_STATUSES]
        if unshippable:
            raise order_not_shippable(unshippable[0])
        if not_ready:
            raise SHIPMENTS_NOT_READY("Only shipments with an AWB and no pickup yet can be picked up.",
                                      {"shipments": {str(k): v for k, v in not_ready.items()}})  # fmt: skip
        day = pickup_date or pickup_day(now, courier.pickup_cutoff)
        if day < now.date():
            raise ValidationError({"pickup_date": ["The pickup date is in the past."]})
        pickup = _scheduled(courier, origin.pk, day)
        if pickup is not None:
            _join(pickup, shipments, actor)
            return pickup
        request = {"location": origin.pk, "pickup_date": day.isoformat(), "shipment_ids": [s.pk for s in shipments],
                   "awbs": [s.awb for s in shipments]}  # fmt: skip
        earlier = unfinished_calls(courier=courier, kind=CourierCallKind.SCHEDULE_PICKUP, request__location=origin.pk,
                                   request__pickup_date=day.isoformat())  # fmt: skip
        if earlier:  # asked again with its key; the shipments are the ones named now
            call = call_reopen(earlier[-1], actor=actor)
            CourierCall.objects.filter(pk=call.pk).update(request=request)
        else:
            call = call_open(courier=courier, kind=CourierCallKind.SCHEDULE_PICKUP, actor=actor, request=request)
    return pickup_book_finish(call, actor=actor)


def _scheduled(courier: Courier, location_id: int, day: date) -> PickupRequest | None:
    return (PickupRequest.objects.select_for_update()
            .filter(courier=courier, location_id=location_id, pickup_date=day, status=PickupStatus.SCHEDULED)
            .first())  # fmt: skip


def _join(pickup: PickupRequest, shipments: list[Shipment], actor: str) -> None:
    for shipment in shipments:
        set_status(shipment, S.PICKUP_SCHEDULED, actor, message=f"Pickup {pickup.token} on {pickup.pickup_date}",
                   data={"pickup": pickup.pk, "token": pickup.token},
                   values={"pickup": pickup, "pickup_date": pickup.pickup_date})  # fmt: skip


def pickup_book_finish(call: CourierCall, *, actor: str) -> PickupRequest:
    """Ask the courier for the pickup (no transaction open), then record its token: the pickup is made and the
    shipments still waiting for one join it. Refused: ``courier_call_failed`` (recorded on the call; the shipments
    stay awb_assigned), ``shipments_not_ready`` when none of them waits any more (the courier is told the visit is
    off)."""
    try:
        token = call_run(call)
    except CallFailed as failed:
        raise call_failed_error(failed, "schedule the pickup") from failed.cause
    request, day = call.request, date.fromisoformat(call.request["pickup_date"])
    with transaction.atomic():
        shipments = list(Shipment.objects.select_for_update(of=("self",)).filter(pk__in=request["shipment_ids"])
                         .select_related("courier", "order").order_by("pk"))  # fmt: skip
        if not call_succeed(call, {"token": token}):  # recorded by an earlier attempt
            call.refresh_from_db()
            return call.pickup
        ready = [s for s in shipments if s.status == S.AWB_ASSIGNED and s.pickup_id is None
                 and s.order.status in SHIPPABLE_ORDER_STATUSES]  # fmt: skip
        pickup = _scheduled(call.courier, request["location"], day)  # booked meanwhile by another request
        if pickup is None and ready:
            pickup = PickupRequest.objects.create(merchant_id=call.merchant_id, courier=call.courier,
                                                  location_id=request["location"], pickup_date=day, token=token,
                                                  created_by=actor)  # fmt: skip
            unused = None
        else:
            unused = call_open(courier=call.courier, kind=CourierCallKind.CANCEL_PICKUP, actor=actor,
                               request={"token": token})  # fmt: skip
        if pickup is not None:
            CourierCall.objects.filter(pk=call.pk).update(pickup=pickup)
            _join(pickup, ready, actor)
    if unused is not None:
        call_tell(unused)
    if not ready:
        raise SHIPMENTS_NOT_READY("None of the shipments waits for a pickup any more; the courier's visit is off.",
                                  {"shipments": {str(s.pk): s.status for s in shipments}})  # fmt: skip
    return pickup


def pickup_cancel(*, pickup: PickupRequest, actor: str) -> PickupRequest:
    """Call the courier's visit off; its shipments go back to waiting for a pickup (``pickup_in_progress`` once one
    is picked up). The courier is told after commit; a courier that could not be told leaves the call failed (the
    pickup stays cancelled): cancelling again asks it again."""
    with transaction.atomic():
        locked = PickupRequest.objects.select_for_update().select_related("courier").get(pk=pickup.pk)
        if locked.status != PickupStatus.SCHEDULED:
            untold = unfinished_calls(pickup=locked, kind=CourierCallKind.CANCEL_PICKUP)
            if not untold:
                raise PICKUP_CANCELLED(f"Pickup {locked.token} is already cancelled.", {"status": locked.status})
            calls = [call_reopen(call, actor=actor) for call in untold]
        else:
            shipments = locked_shipments(locked.merchant, list(locked.shipments.values_list("pk", flat=True)))
            collected = [s.pk for s in shipments if s.status not in PRE_PICKUP_STATUSES]
            if collected:
                raise PICKUP_IN_PROGRESS("Some shipments of this pickup are already picked up.",
                                         {"shipments": collected})  # fmt: skip
            for shipment in shipments:
                if shipment.status == S.PICKUP_SCHEDULED:
                    set_status(shipment, S.AWB_ASSIGNED, actor, message=f"Pickup {locked.token} cancelled",
                               values={"pickup": None, "pickup_date": None})  # fmt: skip
                else:
                    Shipment.objects.filter(pk=shipment.pk).update(pickup=None, pickup_date=None,
                                                                   updated_at=timezone.now())  # fmt: skip
            locked = transition(PICKUP_STATES, locked, PickupStatus.CANCELLED, actor=actor, locked=True)
            calls = [call_open(courier=locked.courier, kind=CourierCallKind.CANCEL_PICKUP, actor=actor, pickup=locked,
                               request={"token": locked.token})]  # fmt: skip
    for call in calls:
        call_tell(call)
    return locked

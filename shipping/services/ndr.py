"""Failed deliveries (NDRs): opened and followed by courier events, resolved by the merchant's decision."""

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from shipping import outbox
from shipping.errors import NDR_ACTION_TAKEN, NDR_RESOLVED
from shipping.models import (
    NDR,
    NDR_STATES,
    RTO_STATUSES,
    SHIPMENT_TRANSITIONS,
    CourierCall,
    CourierCallKind,
    NDRAction,
    NDRStatus,
    Shipment,
    TrackingEvent,
)
from shipping.models import ShipmentStatus as S
from shipping.services.calls import call_open, call_reopen, call_tell, unfinished_calls
from shipping.services.notifications import notify
from shipping.services.shipments import (
    locked_shipment,
    order_follow,
    record_event,
    set_status,
    shipment_transition_refused,
)
from shopops.transitions import transition, transition_where


def ndr_follow(shipment: Shipment, status: str, event: TrackingEvent, previous: str) -> None:
    live = (
        NDR.objects.select_for_update()
        .filter(shipment=shipment, status__in=[NDRStatus.OPEN, NDRStatus.REATTEMPT])
        .first()
    )
    if status == S.NDR:
        reason = event.description or event.code
        if live is None:
            NDR.objects.create(merchant_id=shipment.merchant_id, shipment=shipment, reason=reason[:255],
                               first_attempt_at=event.occurred_at, last_attempt_at=event.occurred_at)  # fmt: skip
        else:  # another failed attempt: open again, waiting for the merchant
            transition_where(NDR_STATES, NDR.objects.filter(pk=live.pk), NDRStatus.OPEN, attempts=F("attempts") + 1,
                             last_attempt_at=event.occurred_at, reason=reason[:255], action="",
                             reattempt_date=None)  # fmt: skip
        outbox.shipment_emit(shipment, "shipment.ndr")
        return
    if live is not None and status == S.DELIVERED:
        transition_where(NDR_STATES, NDR.objects.filter(pk=live.pk), NDRStatus.DELIVERED,
                         resolved_at=event.occurred_at)  # fmt: skip
    elif live is not None and status in RTO_STATUSES:
        transition_where(NDR_STATES, NDR.objects.filter(pk=live.pk), NDRStatus.RTO, resolved_at=event.occurred_at)


def ndr_action(*, ndr: NDR, action: str, actor: str, comment: str = "", reattempt_date: date | None = None,
               now: datetime | None = None) -> NDR:  # fmt: skip
    """The merchant's decision on a failed delivery: ``reattempt`` (on ``reattempt_date``, default tomorrow) or
    ``rto`` (the shipment returns to origin now). The decision is recorded first; the courier is told after
    commit, and a courier that could not be told leaves the call failed (the decision stands): taking the same
    action again asks it again. Refused: ``ndr_resolved``, ``ndr_action_taken`` (a reattempt again)."""
    if action not in NDRAction.values:
        raise ValidationError({"action": [f"One of {', '.join(NDRAction.values)}."]})
    now = now or timezone.now()
    with transaction.atomic():
        shipment = locked_shipment(ndr.shipment_id)  # its order, then the shipment, then the NDR, as tracking does
        locked = NDR.objects.select_for_update().get(pk=ndr.pk)
        untold = unfinished_calls(shipment=shipment, kind=CourierCallKind.NDR_ACTION, request__ndr=locked.pk,
                                  request__action=action) if locked.action == action else []  # fmt: skip
        if untold:
            calls = [call_reopen(call, actor=actor) for call in untold]
        else:
            calls = [_decide(shipment, locked, action, actor, comment, reattempt_date, now)]
    for call in calls:
        call_tell(call)
    locked.refresh_from_db()
    return locked


def _decide(shipment: Shipment, locked: NDR, action: str, actor: str, comment: str, reattempt_date: date | None,
            now: datetime) -> CourierCall:  # fmt: skip
    """Check and record the decision (the NDR, the shipment's RTO); the call that tells the courier, pending."""
    if locked.status not in (NDRStatus.OPEN, NDRStatus.REATTEMPT):
        raise NDR_RESOLVED(f"NDR {locked.pk} is resolved ({locked.status}).", {"status": locked.status})
    if locked.status == NDRStatus.REATTEMPT and action == NDRAction.REATTEMPT:
        raise NDR_ACTION_TAKEN(f"A reattempt on {locked.reattempt_date} is already requested.",
                               {"status": locked.status, "reattempt_date": str(locked.reattempt_date)})  # fmt: skip
    today = now.astimezone(shipment.merchant.tzinfo).date()
    if action == NDRAction.REATTEMPT:
        day = reattempt_date or today + timedelta(days=1)
        if day < today:
            raise ValidationError({"reattempt_date": ["The reattempt date is in the past."]})
    else:
        if S.RTO_INITIATED not in SHIPMENT_TRANSITIONS[shipment.status]:
            raise shipment_transition_refused(shipment, S.RTO_INITIATED)
        day = None
    values = {"action": action, "action_comment": comment[:500], "action_by": actor, "action_at": now,
              "reattempt_date": day}  # fmt: skip
    if action == NDRAction.RTO:
        values["resolved_at"] = now
    to_status = NDRStatus.REATTEMPT if action == NDRAction.REATTEMPT else NDRStatus.RTO
    transition(NDR_STATES, locked, to_status, actor=actor, locked=True, values=values)
    record_event(shipment, "ndr_action", actor, message=f"{action}" + (f" on {day}" if day else "")
                 + (f": {comment}" if comment else ""), data={"ndr": locked.pk, "action": action})  # fmt: skip
    if action == NDRAction.RTO:
        set_status(shipment, S.RTO_INITIATED, actor, at=now, message="RTO requested by the merchant")
        order_follow(shipment, S.RTO_INITIATED, actor)
        notify(shipment, S.RTO_INITIATED, None)
    return call_open(courier=shipment.courier, kind=CourierCallKind.NDR_ACTION, actor=actor, shipment=shipment,
                     request={"ndr": locked.pk, "action": action, "reattempt_date": day.isoformat() if day else None,
                              "comment": comment})  # fmt: skip

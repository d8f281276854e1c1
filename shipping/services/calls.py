"""Calls to couriers: the intent recorded before the call, the call made with no transaction open, the outcome
recorded after; a failed or lost call asked again with the same idempotency key.

A service records a ``CourierCall`` (pending) in the transaction that checks and records its own decision
(``call_open``, or ``call_reopen`` to ask again), makes the call after commit (``call_run``: the adapter is given
the call's key; a failure is recorded on the call, failed) and records the answer in a new short transaction
(``call_succeed``). Calls whose answer ShopOps only records (cancel, cancel pickup, NDR action) are made with
``call_tell``; booking an AWB and scheduling a pickup have their outcome steps in their own modules.
"""

import copy
import logging
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import Location
from shipping.adapters import Booking, adapter_for
from shipping.adapters.http import current_call, is_outcome_unknown
from shipping.errors import COURIER_CALL_DONE, COURIER_CALL_FAILED, COURIER_CALL_IN_PROGRESS
from shipping.models import COURIER_CALL_STATES, Courier, CourierCall, PickupRequest, Shipment
from shipping.models import CourierCallKind as K
from shipping.models import CourierCallStatus as C
from shipping.services.awb import awb_allocate
from shopops.errors import DomainError
from shopops.integrations import outside_transaction
from shopops.transitions import transition

logger = logging.getLogger(__name__)

#: A pending call whose attempt began this long ago is taken as lost (its process died, or the courier never
#: answered) and may be asked again; a younger one is under way.
CALL_RETRY_AFTER = timedelta(minutes=5)
#: Calls not yet known to have succeeded.
UNFINISHED = (C.PENDING, C.FAILED)


class CallFailed(Exception):
    """The courier refused the call or did not answer; the failure is recorded on ``call``."""

    def __init__(self, call: CourierCall, cause: Exception):
        super().__init__(call.error)
        self.call, self.cause = call, cause


def call_open(*, courier: Courier, kind: str, actor: str, shipment: Shipment | None = None,
              pickup: PickupRequest | None = None, request: dict | None = None) -> CourierCall:  # fmt: skip
    """Record the intent (pending, a new key) in the caller's transaction."""
    return CourierCall.objects.create(merchant_id=courier.merchant_id, courier=courier, kind=kind, shipment=shipment,
                                      pickup=pickup, request=request or {}, actor=actor,
                                      started_at=timezone.now())  # fmt: skip


def call_reopen(call: CourierCall, *, actor: str, now: datetime | None = None, resume: bool = False) -> CourierCall:
    """Ask again, in the caller's transaction: a failed call is pending again; a pending one whose attempt began
    more than ``CALL_RETRY_AFTER`` ago is asked again, or at once with ``resume`` (the caller knows the attempt is
    over: a batch's task that holds its batch's claim, retried after a database error cut the attempt short). The
    key stays. Refused: ``courier_call_in_progress`` (a younger pending call), ``courier_call_done``."""
    now = now or timezone.now()
    locked = CourierCall.objects.select_for_update().select_related("courier").get(pk=call.pk)
    if locked.status == C.SUCCEEDED:
        raise COURIER_CALL_DONE(f"The {locked.get_kind_display().lower()} call to {locked.courier.name} succeeded "
                                "already.", {"call": locked.pk})  # fmt: skip
    if locked.status == C.PENDING:
        if not resume and locked.started_at is not None and locked.started_at > now - CALL_RETRY_AFTER:
            raise COURIER_CALL_IN_PROGRESS(
                f"A {locked.get_kind_display().lower()} call to {locked.courier.name} is under way; ask again in a "
                "few minutes.", {"call": locked.pk, "started_at": locked.started_at.isoformat()})  # fmt: skip
        CourierCall.objects.filter(pk=locked.pk).update(started_at=now)
        locked.started_at = now
        return locked
    return transition(COURIER_CALL_STATES, locked, C.PENDING, actor=actor, locked=True,
                      values={"started_at": now, "actor": actor})  # fmt: skip


def unfinished_calls(**filters) -> list[CourierCall]:
    """The calls matching ``filters`` not known to have succeeded, oldest first, locked (caller's transaction)."""
    return list(CourierCall.objects.select_for_update().filter(status__in=UNFINISHED, **filters).order_by("id"))


def call_pool_awb(call: CourierCall) -> str:
    """The pool number of this booking: taken and recorded with the call in one transaction, so every attempt
    of the call (same key) gets the same number and the pool spends one. Refused: ``awb_pool_exhausted``."""
    if call.request.get("pool_awb"):  # taken when the booking was recorded
        return call.request["pool_awb"]
    with transaction.atomic():
        locked = CourierCall.objects.select_for_update().select_related("courier").get(pk=call.pk)
        awb = locked.request.get("pool_awb")
        if not awb:
            awb = awb_allocate(courier=locked.courier)
            locked.request = {**locked.request, "pool_awb": awb}
            locked.save(update_fields=["request"])
    call.request = locked.request
    return awb


def _call_shipment(call: CourierCall) -> Shipment | None:
    """The call's shipment as the call's courier knows it: a courier change moves the shipment to its new courier
    before the old courier's booking is called off, and that call goes to the old courier (its account)."""
    shipment = call.shipment
    if shipment is not None and shipment.courier_id != call.courier_id:
        shipment = copy.copy(shipment)  # a view for the adapter: the shipment itself is not changed
        shipment.courier = call.courier
    return shipment


def _perform(call: CourierCall) -> Any:
    """The adapter's operation for the call, from what the call recorded."""
    adapter, request, key = adapter_for(call.courier), call.request, call.key
    shipment = _call_shipment(call)
    if call.kind == K.BOOK:  # the answer checked here: a broken one is the call's failure, recorded as such
        if call.outcome_unknown:  # the last attempt may have booked: ask the courier before booking again
            found = adapter.find_booking(shipment, key=key)
            if found is not None:
                return Booking.of(found)
        return Booking.of(adapter.assign_awb(shipment, lambda: call_pool_awb(call), key=key))
    if call.kind == K.CANCEL:
        return adapter.cancel(shipment, awb=request["awb"], key=key)
    if call.kind == K.SCHEDULE_PICKUP:
        location = Location.objects.get(merchant_id=call.merchant_id, pk=request["location"])
        return adapter.schedule_pickup(courier=call.courier, location=location, key=key, awbs=request["awbs"],
                                       pickup_date=date.fromisoformat(request["pickup_date"]))  # fmt: skip
    if call.kind == K.CANCEL_PICKUP:
        pickup = call.pickup or PickupRequest(merchant_id=call.merchant_id, courier=call.courier,
                                              token=request["token"])  # fmt: skip
        return adapter.cancel_pickup(pickup=pickup, key=key)
    day = request.get("reattempt_date")
    return adapter.ndr_action(shipment, action=request["action"], comment=request.get("comment", ""), key=key,
                              reattempt_date=date.fromisoformat(day) if day else None)  # fmt: skip


def describe(exc: Exception) -> str:
    text = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
    return text[:500]


def call_run(call: CourierCall) -> Any:
    """Make the call, with no transaction open: the adapter's answer, or ``CallFailed`` with the failure recorded
    on the call (failed) in a short transaction of its own. ``call`` is refreshed from the database."""
    call.refresh_from_db(from_queryset=CourierCall.objects.select_related("courier", "shipment__courier",
                                                                          "shipment__order", "pickup"))  # fmt: skip
    outside_transaction(f"{call.get_kind_display()} call {call.pk} to {call.courier.name}")
    CourierCall.objects.filter(pk=call.pk).update(attempts=F("attempts") + 1)
    call.attempts += 1
    token = current_call.set(call)
    try:
        return _perform(call)
    except Exception as exc:  # the courier's refusal, a timeout, a broken answer: recorded, retried by asking again
        logger.warning("%s call %s to %s failed: %s", call.kind, call.pk, call.courier.code, describe(exc))
        call.error = describe(exc)
        call.outcome_unknown = call.outcome_unknown or is_outcome_unknown(exc)
        call_fail(call)
        raise CallFailed(call, exc) from exc
    finally:
        current_call.reset(token)


def call_fail(call: CourierCall) -> None:
    """Record ``call.error``: the call is failed (unless another attempt recorded its success meanwhile)."""
    with transaction.atomic():
        locked = CourierCall.objects.select_for_update().get(pk=call.pk)
        if locked.status == C.PENDING:
            transition(COURIER_CALL_STATES, locked, C.FAILED, actor=call.actor, locked=True,
                       values={"error": call.error, "finished_at": timezone.now(),
                               "outcome_unknown": call.outcome_unknown})  # fmt: skip


def call_succeed(call: CourierCall, response: dict, **values) -> bool:
    """Record the courier's answer in the caller's (outcome) transaction; False when an earlier attempt of the
    same call recorded it already (nothing to do twice)."""
    locked = CourierCall.objects.select_for_update().get(pk=call.pk)
    if locked.status == C.SUCCEEDED:
        return False
    transition(COURIER_CALL_STATES, locked, C.SUCCEEDED, actor=call.actor, locked=True,
               values={"response": response, "error": "", "finished_at": timezone.now(), **values})  # fmt: skip
    return True


def call_tell(call: CourierCall) -> bool:
    """Make a call whose answer ShopOps only records (cancel, cancel pickup, NDR action): True once the courier is
    told; a failure is recorded on the call (failed, retried by asking again), it does not undo the decision."""
    try:
        call_run(call)
    except CallFailed:
        return False
    with transaction.atomic():
        call_succeed(call, {})
    return True


def call_failed_error(failed: CallFailed, what: str) -> DomainError:
    """``courier_call_failed`` for the API and the admin: ``what`` (e.g. "book shipment 7") was not done."""
    call = failed.call
    return COURIER_CALL_FAILED(f"{call.courier.name} did not {what}: {call.error}. Ask again to retry.",
                               {"call": call.pk, "kind": call.kind, "courier": call.courier.code,
                                "error": call.error})  # fmt: skip


def courier_call_retry(*, call: CourierCall, actor: str, now: datetime | None = None) -> CourierCall:
    """Ask a failed call again, or a pending one whose attempt began over ``CALL_RETRY_AFTER`` ago, with its key;
    the outcome is recorded as the first attempt's would have been. Refused: ``courier_call_done``,
    ``courier_call_in_progress``, ``courier_call_failed`` (failed again), a booking the shipment no longer wants."""
    from shipping.services.pickups import pickup_book_finish  # they make calls through this module
    from shipping.services.shipments import shipment_assign_awb

    if call.kind == K.BOOK:  # the booking's own checks first (a cancelled shipment books nothing); same call, same key
        if call.shipment.courier_id != call.courier_id:
            raise ValidationError("The shipment moved to another courier since; this booking is not asked again.")
        if call.status == C.SUCCEEDED:
            raise COURIER_CALL_DONE(f"The booking call to {call.courier.name} succeeded already.", {"call": call.pk})
        shipment_assign_awb(shipment=call.shipment, actor=actor)
        call.refresh_from_db()
        return call
    with transaction.atomic():
        call = call_reopen(call, actor=actor, now=now)
    if call.kind == K.SCHEDULE_PICKUP:
        pickup_book_finish(call, actor=actor)
    elif not call_tell(call):
        call.refresh_from_db()
        raise COURIER_CALL_FAILED(f"{call.courier.name} was not told again: {call.error}.",
                                  {"call": call.pk, "kind": call.kind, "courier": call.courier.code,
                                   "error": call.error})  # fmt: skip
    call.refresh_from_db()
    return call

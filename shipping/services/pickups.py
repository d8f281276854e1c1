"""Pickups: booking the courier's visit for shipments of one courier and one location, and calling it off."""

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from catalog.models import Location
from shipping.adapters import adapter_for
from shipping.calendar import pickup_day
from shipping.errors import PICKUP_CANCELLED, PICKUP_IN_PROGRESS, SHIPMENTS_NOT_READY
from shipping.models import PRE_PICKUP_STATUSES, Courier, PickupRequest, PickupStatus, Shipment
from shipping.models import ShipmentStatus as S
from shipping.services.shipments import SHIPPABLE_ORDER_STATUSES, locked_shipments, order_not_shippable, set_status
from shopops.models import Merchant


def next_pickup_date(courier: Courier, now: datetime) -> date:
    """Today before the courier's cut-off (merchant's time zone), else the next working day (not Sunday)."""
    day = now.date() if now.time() < courier.pickup_cutoff else now.date() + timedelta(days=1)
    while day.weekday() == 6:
        day += timedelta(days=1)
    return day


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
    location and date, if any."""
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
        pickup = (
            PickupRequest.objects.select_for_update()
            .filter(courier=courier, location=origin, pickup_date=day, status=PickupStatus.SCHEDULED)
            .first()
        )
        if pickup is None:
            token = adapter_for(courier).schedule_pickup(courier=courier, location=origin, pickup_date=day,
                                                         awbs=[s.awb for s in shipments])  # fmt: skip
            pickup = PickupRequest.objects.create(merchant=merchant, courier=courier, location=origin,
                                                  pickup_date=day, token=token, created_by=actor)  # fmt: skip
        for shipment in shipments:
            shipment.pickup, shipment.pickup_date = pickup, day
            set_status(
                shipment,
                S.PICKUP_SCHEDULED,
                actor,
                message=f"Pickup {pickup.token} on {day}",
                data={"pickup": pickup.pk, "token": pickup.token},
                fields=("pickup", "pickup_date"),
            )
    return pickup


def pickup_cancel(*, pickup: PickupRequest, actor: str) -> PickupRequest:
    """Call the courier's visit off; its shipments go back to waiting for a pickup (``pickup_in_progress`` once one
    is picked up)."""
    with transaction.atomic():
        locked = PickupRequest.objects.select_for_update().select_related("courier").get(pk=pickup.pk)
        if locked.status != PickupStatus.SCHEDULED:
            raise PICKUP_CANCELLED(f"Pickup {locked.token} is already cancelled.", {"status": locked.status})
        shipments = locked_shipments(locked.merchant, list(locked.shipments.values_list("pk", flat=True)))
        collected = [s.pk for s in shipments if s.status not in PRE_PICKUP_STATUSES]
        if collected:
            raise PICKUP_IN_PROGRESS("Some shipments of this pickup are already picked up.",
                                     {"shipments": collected})  # fmt: skip
        adapter_for(locked.courier).cancel_pickup(pickup=locked)
        for shipment in shipments:
            shipment.pickup, shipment.pickup_date = None, None
            if shipment.status == S.PICKUP_SCHEDULED:
                set_status(shipment, S.AWB_ASSIGNED, actor, message=f"Pickup {locked.token} cancelled",
                           fields=("pickup", "pickup_date"))  # fmt: skip
            else:
                shipment.save(update_fields=["pickup", "pickup_date", "updated_at"])
        locked.status, locked.cancelled_at = PickupStatus.CANCELLED, timezone.now()
        locked.save(update_fields=["status", "cancelled_at"])
    return locked

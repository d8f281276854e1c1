"""The simulated courier: parcels that move along by themselves, for demos and tests."""

import hashlib
from datetime import datetime, time, timedelta

from django.utils import timezone

from shipping.adapters.base import COMMON_CODES, Booking, CourierAdapter, TrackingUpdate
from shipping.models import NDRStatus, Shipment, ShipmentStatus

S = ShipmentStatus

#: The simulated journey, in hours after the previous step.
SIM_PICKUP_HOUR = 15
SIM_HOURS = {S.IN_TRANSIT: 6, S.OUT_FOR_DELIVERY: 30, S.DELIVERED: 4, S.NDR: 6, S.RTO_IN_TRANSIT: 12,
             S.RTO_DELIVERED: 48}  # fmt: skip
SIM_CITIES = ("Origin hub", "Sort centre", "Destination hub")
SIM_NDR_REASONS = ("Customer not available", "Address incomplete", "Customer refused delivery")
#: An NDR left without the merchant's decision this long goes back to the merchant (RTO).
SIM_NDR_TIMEOUT = timedelta(hours=72)


def simulated_failures(awb: str) -> int:
    """How many delivery attempts of this parcel fail: 0 for most, 1 for one in 8, every one for one in 16."""
    bucket = int(hashlib.sha256(awb.encode()).hexdigest()[:8], 16) % 16
    return 99 if bucket == 0 else 1 if bucket in (1, 2) else 0


def simulated_routing_code(postcode: str) -> str:
    """The simulated courier's sort code for a destination: its hub (the pincode's first three digits) and one of
    24 sort lanes, the same for the same pincode ("SIM/560/L07")."""
    postcode = str(postcode).strip()
    lane = int(hashlib.sha256(postcode.encode()).hexdigest()[:8], 16) % 24 + 1
    return f"SIM/{postcode[:3] or '000'}/L{lane:02d}"


class SimulatedAdapter(CourierAdapter):
    """A courier that moves parcels along by itself, for demos and tests.

    The next events follow from the shipment's status, the time of its last
    event and its open NDR: after pickup the parcel is in transit, then out
    for delivery, then delivered, unless this AWB's attempts fail
    (``simulated_failures``); a failed attempt waits for the merchant's
    reattempt (out for delivery again on the reattempt date) or RTO.
    """

    name = "simulated"
    status_codes = COMMON_CODES
    polls = True

    def uses_pool(self, courier) -> bool:
        return courier.awb_pools.filter(is_active=True).exists()

    def assign_awb(self, shipment: Shipment, allocate_from_pool, *, key: str) -> Booking:
        if self.uses_pool(shipment.courier):
            awb = allocate_from_pool()
        else:
            awb = f"SIM{shipment.merchant_id:03d}{shipment.pk:09d}"
        postcode = (shipment.order.shipping_address or {}).get("postcode", "")
        return Booking(awb=awb, routing_code=simulated_routing_code(postcode))

    def fetch_tracking(self, shipments: list[Shipment], *, now: datetime) -> list[TrackingUpdate]:
        updates = []
        for shipment in shipments:
            updates.extend(self.journey(shipment, now=now))
        return updates

    def journey(self, shipment: Shipment, *, now: datetime) -> list[TrackingUpdate]:
        """The events of this shipment that are due by ``now``, from where it stands."""
        status, at = shipment.status, shipment.last_event_at
        ndr = next((n for n in shipment.ndrs.all() if n.status in (NDRStatus.OPEN, NDRStatus.REATTEMPT)), None)
        attempts = sum(n.attempts for n in shipment.ndrs.all())
        events: list[TrackingUpdate] = []
        while True:
            step = self._next(shipment, status, at, ndr, attempts)
            if step is None or step[1] > now:
                return events
            status, at, description = step
            if status == S.NDR:
                attempts += 1
                ndr = None
            if status == S.OUT_FOR_DELIVERY:
                ndr = None
            seq = len(shipment.tracking_events.all()) + len(events) + 1
            events.append(TrackingUpdate(
                awb=shipment.awb, code=status, occurred_at=at, description=description,
                location=self._place(shipment, status), event_id=f"sim-{shipment.awb}-{seq}-{status}",
            ))  # fmt: skip

    def _next(self, shipment, status, at, ndr, attempts):
        if status in (S.AWB_ASSIGNED, S.PICKUP_SCHEDULED):
            day = shipment.pickup_date or (shipment.awb_assigned_at or shipment.created_at).date()
            pickup_at = datetime.combine(day, time(SIM_PICKUP_HOUR), tzinfo=timezone.get_current_timezone())
            return S.PICKED_UP, max(pickup_at, at or pickup_at), "Shipment picked up"
        if at is None:
            return None
        if status == S.PICKED_UP:
            return S.IN_TRANSIT, at + timedelta(hours=SIM_HOURS[S.IN_TRANSIT]), "In transit to the destination hub"
        if status == S.IN_TRANSIT:
            return S.OUT_FOR_DELIVERY, at + timedelta(hours=SIM_HOURS[S.OUT_FOR_DELIVERY]), "Out for delivery"
        if status == S.OUT_FOR_DELIVERY:
            if attempts < simulated_failures(shipment.awb):
                reason = SIM_NDR_REASONS[attempts % len(SIM_NDR_REASONS)]
                return S.NDR, at + timedelta(hours=SIM_HOURS[S.NDR]), reason
            return S.DELIVERED, at + timedelta(hours=SIM_HOURS[S.DELIVERED]), "Delivered"
        if status == S.NDR:
            if ndr is not None and ndr.status == NDRStatus.REATTEMPT:
                day = ndr.reattempt_date or (ndr.action_at + timedelta(days=1)).date()
                out_at = datetime.combine(day, time(9), tzinfo=timezone.get_current_timezone())
                return S.OUT_FOR_DELIVERY, max(out_at, at, ndr.action_at), "Out for delivery (reattempt)"
            if ndr is not None and ndr.status == NDRStatus.OPEN:
                return S.RTO_INITIATED, at + SIM_NDR_TIMEOUT, "No instructions: returning to origin"
            return None
        if status == S.RTO_INITIATED:  # from when the RTO began: the merchant may have asked long after the NDR
            start = max(at, shipment.rto_initiated_at) if shipment.rto_initiated_at else at
            return S.RTO_IN_TRANSIT, start + timedelta(hours=SIM_HOURS[S.RTO_IN_TRANSIT]), "Returning to origin"
        if status == S.RTO_IN_TRANSIT:
            return S.RTO_DELIVERED, at + timedelta(hours=SIM_HOURS[S.RTO_DELIVERED]), "Delivered back to the merchant"
        return None

    def _place(self, shipment: Shipment, status: str) -> str:
        origin = shipment.order.pickup_location.city
        destination = shipment.order.shipping_address.get("city", "")
        if status in (S.PICKED_UP, S.RTO_DELIVERED):
            return origin
        if status in (S.IN_TRANSIT, S.RTO_INITIATED, S.RTO_IN_TRANSIT):
            return f"{SIM_CITIES[1]}, {origin}"
        return destination

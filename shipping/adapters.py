"""Courier adapters: how ShopOps books, cancels and tracks parcels with a courier.

A courier integration is a subclass of ``CourierAdapter`` registered in
``ADAPTERS`` under the name stored on ``Courier.adapter``. The services call
the adapter and keep the state machine, the locks and the records themselves,
so an adapter only speaks to the courier.

The services call an adapter with no database transaction open (a call to a
courier over HTTP may take seconds), after recording the intent as a
``CourierCall``, and record its answer afterwards. Every operation that changes
something at the courier gets ``key``: the call's idempotency key, the same on
every retry of the call, so a courier told the same key twice does the
operation once (and answers the same AWB or pickup token).

A booking (``assign_awb``) answers a ``Booking``: the AWB and, when the
courier's booking gives one, its routing (sort) code, which ShopOps stores on
the shipment and prints on the label in place of its own zone route. A bare
AWB string is taken as a booking without a routing code.

Two adapters ship with ShopOps:

* ``offline``: AWBs from the merchant's AWB pools, a generated pickup token,
  tracking entered by hand or uploaded as CSV (nothing to poll), no routing
  code;
* ``simulated``: AWBs from a pool when the courier has one (otherwise
  generated), a routing code derived from the destination pincode, and a
  realistic journey computed from the shipment's own history, so polling
  advances parcels for demos and tests: most are delivered, some fail a first
  attempt (NDR) and wait for the merchant's decision, a few fail every attempt.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.utils import timezone

from shipping.models import NDRStatus, Shipment, ShipmentStatus

S = ShipmentStatus


@dataclass(frozen=True)
class TrackingUpdate:
    """One courier event, as an adapter or a webhook reports it."""

    awb: str
    code: str
    occurred_at: datetime
    description: str = ""
    location: str = ""
    event_id: str = ""
    raw: dict = field(default_factory=dict)


#: The longest routing code a shipment stores (``Shipment.routing_code``).
ROUTING_CODE_MAX_LENGTH = 40


@dataclass(frozen=True)
class Booking:
    """A courier's answer to a booking: the parcel's AWB and, when the courier gives one, its routing (sort) code:
    the hub or sort lane the courier's staff route it by (e.g. "BLR/HSR/A12")."""

    awb: str
    routing_code: str = ""

    @classmethod
    def of(cls, answer: "Booking | str") -> "Booking":
        """An adapter's answer as a Booking, checked: a bare string is the AWB alone; surrounding blanks are dropped.
        ValueError for an answer without an AWB or with a routing code longer than ROUTING_CODE_MAX_LENGTH."""
        booking = answer if isinstance(answer, Booking) else cls(awb=answer)
        if not isinstance(booking.awb, str) or not isinstance(booking.routing_code, str):
            raise ValueError(f"A booking's AWB and routing code are strings, not {answer!r}.")
        awb, routing_code = booking.awb.strip(), booking.routing_code.strip()
        if not awb:
            raise ValueError("The courier's booking has no AWB.")
        if len(routing_code) > ROUTING_CODE_MAX_LENGTH:
            raise ValueError(f"The routing code {routing_code!r} is longer than {ROUTING_CODE_MAX_LENGTH} characters.")
        return cls(awb=awb, routing_code=routing_code)


class CourierAdapter:
    """The operations ShopOps needs from a courier. ``awb_from_pool`` is the default AWB source."""

    name = ""
    #: Courier status code -> ShopOps shipment status; a courier's own ``status_codes`` extend it.
    status_codes: dict[str, str] = {}
    #: Whether ``fetch_tracking`` has anything to say (the beat task only polls these couriers).
    polls = False
    #: AWBs per ``fetch_tracking`` call.
    batch_size = 50

    def uses_pool(self, courier) -> bool:
        """Whether this courier's AWBs come from the merchant's AWB pools: ShopOps then takes the number when it
        records the booking (``awb_pool_exhausted`` is decided before any call) and ``allocate_from_pool`` hands
        it out."""
        return True

    def assign_awb(self, shipment: Shipment, allocate_from_pool, *, key: str) -> Booking | str:
        """Book the parcel: its AWB and the courier's routing code, if any (a bare string: the AWB alone; the same
        answer for the same ``key``). ``allocate_from_pool()`` hands out the pool number taken for this ``key``
        (the same number on a retry of the call)."""
        return Booking(awb=allocate_from_pool())

    def schedule_pickup(self, *, courier, location, pickup_date, awbs: list[str], key: str) -> str:
        """Book the courier's visit; returns the courier's pickup token (the same token for the same ``key``)."""
        return f"PU-{pickup_date:%Y%m%d}-{hashlib.sha256(key.encode()).hexdigest()[:8].upper()}"

    def cancel_pickup(self, *, pickup, key: str) -> None:
        """Tell the courier the visit is off."""

    def cancel(self, shipment: Shipment, *, awb: str, key: str) -> None:
        """Tell the courier the booking of ``awb`` is off (before pickup)."""

    def ndr_action(self, shipment: Shipment, *, action: str, reattempt_date=None, comment: str = "",
                   key: str) -> None:  # fmt: skip
        """Pass the merchant's decision on a failed delivery to the courier."""

    def fetch_tracking(self, shipments: list[Shipment], *, now: datetime) -> list[TrackingUpdate]:
        """New events for these shipments (already-seen events may be repeated: ingestion deduplicates)."""
        return []


#: Status names every adapter understands, with a few common courier spellings.
COMMON_CODES = {status: status for status in S.values} | {
    "manifested": S.AWB_ASSIGNED,
    "pickup_generated": S.PICKUP_SCHEDULED,
    "shipped": S.IN_TRANSIT,
    "ofd": S.OUT_FOR_DELIVERY,
    "dl": S.DELIVERED,
    "undelivered": S.NDR,
    "rto": S.RTO_INITIATED,
    "rto_ofd": S.RTO_IN_TRANSIT,
    "rto_dl": S.RTO_DELIVERED,
}


class OfflineAdapter(CourierAdapter):
    name = "offline"
    status_codes = COMMON_CODES


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


ADAPTERS: dict[str, type[CourierAdapter]] = {OfflineAdapter.name: OfflineAdapter,
                                              SimulatedAdapter.name: SimulatedAdapter}  # fmt: skip


def adapter_for(courier) -> CourierAdapter:
    return ADAPTERS.get(courier.adapter, OfflineAdapter)()


def status_for(courier, code: str) -> str | None:
    """The ShopOps status a courier code means (None: informational, e.g. "bagged")."""
    codes = adapter_for(courier).status_codes
    own = {str(k).strip().lower(): v for k, v in (courier.status_codes or {}).items()}
    key = code.strip().lower()
    return own.get(key) or codes.get(key)

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

Adapters that talk to a courier service over HTTP (``remote``: Shiprocket,
Delhivery, EasyPost) reach it through the courier's ``CourierAccount`` and
``shipping.adapters.http``; they answer a few more questions: whether a
booking whose answer was lost exists at the service (``find_booking``, asked
before any second booking), the service's own label (``carrier_label``), live
prices (``live_quotes``), a harmless call to check the credentials
(``check_connection``), and the service's webhooks (``verify_webhook``,
``webhook_delivery_id``, ``parse_webhook``).

Two adapters need no service and ship with ShopOps for demos and tests:

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
from datetime import date, datetime
from decimal import Decimal

from shipping.models import CourierAccount, Shipment, ShipmentStatus

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
    #: The service's own ids for the booking (its order and shipment ids, its label's address), kept on the
    #: shipment (``Shipment.carrier_data``) for the calls that follow.
    carrier_data: dict = field(default_factory=dict)

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
        if not isinstance(booking.carrier_data, dict):
            raise ValueError(f"A booking's carrier data is an object, not {booking.carrier_data!r}.")
        return cls(awb=awb, routing_code=routing_code, carrier_data=booking.carrier_data)


@dataclass(frozen=True)
class LiveQuote:
    """A courier service's own price for a parcel, asked at quote time; ``service_code`` is the courier's
    ``Courier.service_code`` at that service. Amounts include the service's tax."""

    service_code: str
    name: str
    total: Decimal
    freight: Decimal = Decimal("0")
    cod_charge: Decimal = Decimal("0")
    estimated_days: int | None = None
    currency: str = "INR"


@dataclass(frozen=True)
class Parcel:
    """What a live quote is asked for."""

    pickup_postcode: str
    delivery_postcode: str
    weight_grams: int
    cod: bool
    declared_value: Decimal
    length_cm: int = 0
    breadth_cm: int = 0
    height_cm: int = 0
    country: str = "IN"
    pickup_date: date | None = None


def booking_reference(shipment: Shipment) -> str:
    """Our reference for a shipment at a courier service (its order id there): the order number and the shipment
    id, unique per shipment, so a booking whose answer was lost can be looked up by it."""
    return f"{shipment.order.number}-{shipment.pk}"


class WebhookRefused(Exception):
    """A webhook request that does not prove it comes from the service (401, nothing stored)."""


class CourierAdapter:
    """The operations ShopOps needs from a courier. ``awb_from_pool`` is the default AWB source."""

    name = ""
    #: Courier status code -> ShopOps shipment status; a courier's own ``status_codes`` extend it.
    status_codes: dict[str, str] = {}
    #: Whether ``fetch_tracking`` has anything to say (the beat task only polls these couriers).
    polls = False
    #: AWBs per ``fetch_tracking`` call.
    batch_size = 50
    #: Whether the adapter talks to a service through the courier's ``CourierAccount``.
    remote = False
    #: Whether the service makes a label of its own for each booking (fetched as a document after booking).
    carrier_labels = False

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

    def find_booking(self, shipment: Shipment, *, key: str) -> Booking | None:
        """The booking made for ``key`` at the service, if one was made (asked before booking again after an
        attempt whose answer was lost: a timeout); None when there is none, so booking again is safe."""
        return None

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

    def carrier_label(self, shipment: Shipment) -> bytes | None:
        """The service's own label for the booked shipment, as PDF bytes; None when the courier has none."""
        return None

    def live_quotes(self, courier, parcel: Parcel) -> list[LiveQuote]:
        """The service's prices for ``parcel``, one per courier it offers; [] when it has no price list to ask."""
        return []

    def check_connection(self, account: CourierAccount) -> str:
        """Make a harmless call with the account's credentials; what the service answered, in a sentence.
        Raises the service's refusal (``CourierError``) when the credentials or the service fail."""
        raise NotImplementedError

    def verify_webhook(self, account: CourierAccount, headers, body: bytes) -> None:
        """Check that the request comes from the service (its shared token or signature); ``WebhookRefused``."""
        raise WebhookRefused("This courier service sends no webhooks.")

    def webhook_delivery_id(self, payload: dict, body: bytes) -> str:
        """The service's id of the delivery (deduplication), or a digest of the body when it gives none."""
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def parse_webhook(self, account: CourierAccount, payload: dict) -> list[TrackingUpdate]:
        """The tracking events in a verified webhook's payload."""
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

"""Shipments, their state machine and timeline, AWB pools, pickups and manifests."""

import secrets

from django.db import models
from django.db.models import F, Q

from catalog.models import Location
from shipping.models.couriers import Courier
from shipping.zones import Zone
from shopops.models import Merchant
from shopops.transitions import declare
from shopops.validation import money_field


class ShipmentStatus(models.TextChoices):
    NEW = "new", "New"
    AWB_ASSIGNED = "awb_assigned", "AWB assigned"
    PICKUP_SCHEDULED = "pickup_scheduled", "Pickup scheduled"
    PICKED_UP = "picked_up", "Picked up"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    NDR = "ndr", "Delivery failed (NDR)"
    RTO_INITIATED = "rto_initiated", "RTO initiated"
    RTO_IN_TRANSIT = "rto_in_transit", "RTO in transit"
    RTO_DELIVERED = "rto_delivered", "RTO delivered"
    CANCELLED = "cancelled", "Cancelled"
    LOST = "lost", "Lost"


S = ShipmentStatus
#: The shipment state machine (DESIGN.md section 6): status -> statuses it may move to directly.
SHIPMENT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.NEW: (S.AWB_ASSIGNED, S.CANCELLED),
    S.AWB_ASSIGNED: (S.PICKUP_SCHEDULED, S.PICKED_UP, S.CANCELLED),
    S.PICKUP_SCHEDULED: (S.PICKED_UP, S.AWB_ASSIGNED, S.CANCELLED),
    S.PICKED_UP: (S.IN_TRANSIT, S.LOST),
    S.IN_TRANSIT: (S.OUT_FOR_DELIVERY, S.RTO_INITIATED, S.LOST),
    S.OUT_FOR_DELIVERY: (S.DELIVERED, S.NDR, S.LOST),
    S.NDR: (S.OUT_FOR_DELIVERY, S.RTO_INITIATED, S.LOST),
    S.RTO_INITIATED: (S.RTO_IN_TRANSIT, S.LOST),
    S.RTO_IN_TRANSIT: (S.RTO_DELIVERED, S.LOST),
    S.DELIVERED: (),
    S.RTO_DELIVERED: (),
    S.CANCELLED: (),
    S.LOST: (),
}
#: Before pickup: the courier may still be changed and the shipment cancelled.
PRE_PICKUP_STATUSES = (S.NEW, S.AWB_ASSIGNED, S.PICKUP_SCHEDULED)
#: The parcel has left the merchant: the order is shipped.
PICKED_UP_STATUSES = (S.PICKED_UP, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.NDR, S.RTO_INITIATED,
                      S.RTO_IN_TRANSIT, S.RTO_DELIVERED, S.LOST)  # fmt: skip
RTO_STATUSES = (S.RTO_INITIATED, S.RTO_IN_TRANSIT, S.RTO_DELIVERED)
FINAL_STATUSES = (S.DELIVERED, S.RTO_DELIVERED, S.CANCELLED, S.LOST)


def _reachable() -> dict[str, frozenset[str]]:
    """For each status, every status a courier event may move it to: the transitions' closure, without the
    merchant-side moves (back to awb_assigned when a pickup is cancelled, to cancelled)."""
    edges = {status: {t for t in targets if t not in (S.AWB_ASSIGNED, S.CANCELLED, S.NEW)}
             for status, targets in SHIPMENT_TRANSITIONS.items()}  # fmt: skip
    closure = {}
    for start in edges:
        seen, todo = set(), list(edges[start])
        while todo:
            status = todo.pop()
            if status not in seen:
                seen.add(status)
                todo.extend(edges[status])
        closure[start] = frozenset(seen)
    return closure


#: The moves a courier's event may make (its scans may skip steps: the transitions' closure). A parcel is lost only
#: once the courier has it: before pickup, "lost" is not a move.
COURIER_MOVES = {status: moves - {S.LOST} if status in PRE_PICKUP_STATUSES else moves
                 for status, moves in _reachable().items()}  # fmt: skip


class AWBPoolKind(models.TextChoices):
    RANGE = "range", "Number range"
    LIST = "list", "Uploaded list"


class AWBPool(models.Model):
    """AWB numbers a courier has allotted to the merchant: a numeric range, or a list of uploaded numbers.

    Numbers are handed out atomically and never reused: a cancelled shipment's AWB stays spent.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="awb_pools", verbose_name="merchant")
    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="awb_pools", verbose_name="courier")
    name = models.CharField("name", max_length=80)
    kind = models.CharField("kind", max_length=5, choices=AWBPoolKind.choices, default=AWBPoolKind.RANGE)
    prefix = models.CharField("prefix", max_length=10, blank=True, help_text="Range pools: text before the number.")
    width = models.PositiveSmallIntegerField(
        "width", default=0, help_text="Range pools: pad numbers with zeros to this width."
    )
    range_start = models.BigIntegerField("range start", null=True, blank=True)
    range_end = models.BigIntegerField("range end", null=True, blank=True, help_text="Inclusive.")
    next_number = models.BigIntegerField(
        "next number", null=True, blank=True, help_text="Range pools: the next number to hand out."
    )
    low_watermark = models.PositiveIntegerField(
        "low watermark", default=100, help_text="Warn when fewer numbers than this remain."
    )
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "AWB pool"
        verbose_name_plural = "AWB pools"
        ordering = ["courier", "id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="awbpool_unique_name"),
            models.CheckConstraint(condition=Q(kind__in=AWBPoolKind.values), name="awbpool_kind_valid"),
            models.CheckConstraint(
                condition=Q(kind="list")
                | Q(
                    range_start__gte=0,
                    range_end__gte=F("range_start"),
                    next_number__gte=F("range_start"),
                    next_number__lte=F("range_end") + 1,
                ),
                name="awbpool_range_valid",
            ),  # fmt: skip
        ]

    def __str__(self) -> str:
        return self.name


class AWBNumber(models.Model):
    """One number of a list pool; ``used_at`` is set when it is handed out."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    pool = models.ForeignKey(AWBPool, on_delete=models.CASCADE, related_name="numbers", verbose_name="AWB pool")
    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="+", verbose_name="courier")
    awb = models.CharField("AWB", max_length=40)
    used_at = models.DateTimeField("used", null=True, blank=True)

    class Meta:
        verbose_name = "AWB number"
        verbose_name_plural = "AWB numbers"
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["courier", "awb"], name="awbnumber_unique_per_courier")]
        indexes = [
            models.Index(fields=["pool", "id"], condition=Q(used_at__isnull=True), name="awbnumber_free"),
        ]

    def __str__(self) -> str:
        return self.awb


class PickupStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CANCELLED = "cancelled", "Cancelled"


class PickupRequest(models.Model):
    """A courier's visit to one pickup location on one date, collecting the shipments booked on it."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="pickups", verbose_name="merchant")
    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="pickups", verbose_name="courier")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="pickups", verbose_name="location")
    pickup_date = models.DateField("pickup date")
    token = models.CharField("pickup token", max_length=40, help_text="The courier's pickup reference.")
    status = models.CharField("status", max_length=10, choices=PickupStatus.choices, default=PickupStatus.SCHEDULED)
    created_by = models.CharField("created by", max_length=100)
    created_at = models.DateTimeField("created", auto_now_add=True)
    cancelled_at = models.DateTimeField("cancelled", null=True, blank=True)

    class Meta:
        ordering = ["-pickup_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "token"], name="pickup_unique_token"),
            models.UniqueConstraint(
                fields=["courier", "location", "pickup_date"],
                condition=Q(status="scheduled"),
                name="pickup_one_scheduled_per_day",
            ),  # fmt: skip
            models.CheckConstraint(condition=Q(status__in=PickupStatus.values), name="pickup_status_valid"),
        ]
        indexes = [models.Index(fields=["merchant", "pickup_date", "id"], name="pickup_merchant_date")]

    def __str__(self) -> str:
        return self.token


class Manifest(models.Model):
    """The list of shipments a courier's agent signs for at pickup."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="manifests", verbose_name="merchant")
    number = models.CharField("number", max_length=32)
    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="manifests", verbose_name="courier")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="manifests", verbose_name="location")
    pickup = models.ForeignKey(PickupRequest, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="manifests", verbose_name="pickup")  # fmt: skip
    created_by = models.CharField("created by", max_length=100)
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["merchant", "number"], name="manifest_unique_number")]

    def __str__(self) -> str:
        return self.number


def new_tracking_token() -> str:
    """128 random bits, URL-safe: the key of a shipment's public tracking link."""
    return secrets.token_urlsafe(16)


class Shipment(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="shipments", verbose_name="merchant")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="shipments", verbose_name="order")
    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="shipments", verbose_name="courier")
    awb = models.CharField("AWB", max_length=40, blank=True)
    routing_code = models.CharField(
        "routing code", max_length=40, blank=True,
        help_text="The courier's routing (sort) code for the parcel, when its booking gives one: printed on the label "
                  "in place of the zone route.",
    )  # fmt: skip
    status = models.CharField("status", max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.NEW)
    zone = models.CharField("zone", max_length=20, choices=Zone.choices)
    applied_weight_grams = models.PositiveIntegerField(
        "applied weight (g)", help_text="The chargeable weight (actual or volumetric)."
    )
    freight_charge = money_field(default=0, verbose_name="freight charge")
    cod_charge = money_field(default=0, verbose_name="COD charge")
    fuel_surcharge = money_field(default=0, verbose_name="fuel surcharge")
    tax = money_field(default=0, verbose_name="tax", help_text="GST on the courier's charges.")
    total_charge = money_field(default=0, verbose_name="total charge")
    currency = models.CharField("currency", max_length=3, default="INR")
    cod_amount = money_field(
        default=0, help_text="Cash to collect on delivery (0 for prepaid).", verbose_name="COD amount"
    )
    pickup = models.ForeignKey(PickupRequest, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="shipments", verbose_name="pickup")  # fmt: skip
    pickup_date = models.DateField("pickup date", null=True, blank=True)
    manifest = models.ForeignKey(
        Manifest, on_delete=models.SET_NULL, null=True, blank=True, related_name="shipments", verbose_name="manifest"
    )
    expected_delivery_date = models.DateField("expected delivery date", null=True, blank=True)
    awb_assigned_at = models.DateTimeField("AWB assigned", null=True, blank=True)
    shipped_at = models.DateTimeField("shipped", null=True, blank=True, help_text="Picked up by the courier.")
    delivered_at = models.DateTimeField("delivered", null=True, blank=True)
    rto_initiated_at = models.DateTimeField("RTO initiated", null=True, blank=True)
    cancelled_at = models.DateTimeField("cancelled", null=True, blank=True)
    cancel_reason = models.CharField("cancellation reason", max_length=255, blank=True)
    last_event_at = models.DateTimeField(
        "last event", null=True, blank=True, help_text="When the latest applied event happened."
    )
    last_polled_at = models.DateTimeField("last polled", null=True, blank=True)
    carrier_data = models.JSONField(
        "carrier data", default=dict, blank=True,
        help_text="The courier service's own ids for this booking (its order and shipment ids, its label's "
                  "address).")  # fmt: skip
    tracking_token = models.CharField(
        "tracking token", max_length=32, unique=True, default=new_tracking_token, editable=False,
        help_text="The unguessable key in the customer's tracking link (/track/<awb>/<token>/).",
    )  # fmt: skip
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["courier", "awb"], condition=~Q(awb=""), name="shipment_unique_awb"),
            models.UniqueConstraint(fields=["order"], condition=~Q(status="cancelled"), name="shipment_one_per_order"),
            models.CheckConstraint(condition=Q(status__in=ShipmentStatus.values), name="shipment_status_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["new", "cancelled"]) | ~Q(awb=""), name="shipment_awb_after_new"
            ),  # fmt: skip
        ]
        indexes = [
            models.Index(fields=["merchant", "created_at", "id"], name="shipment_merchant_created"),
            models.Index(fields=["merchant", "status", "created_at"], name="shipment_merchant_status"),
            models.Index(fields=["merchant", "shipped_at", "id"], name="shipment_merchant_shipped"),
            models.Index(fields=["merchant", "delivered_at", "id"], name="shipment_merchant_delivered"),
            models.Index(fields=["merchant", "pickup_date", "id"], name="shipment_merchant_pickup"),
            models.Index(fields=["merchant", "expected_delivery_date", "id"], name="shipment_merchant_expected"),
            models.Index(fields=["merchant", "updated_at", "id"], name="shipment_merchant_updated"),
            models.Index(fields=["merchant", "awb"], name="shipment_merchant_awb"),
            models.Index(fields=["courier", "status", "last_polled_at"], name="shipment_poll_queue"),
            models.Index(fields=["awb"], name="shipment_awb"),
        ]

    def __str__(self) -> str:
        return self.awb or f"shipment {self.pk}"


class ShipmentEventKind(models.TextChoices):
    CREATED = "created", "Created"
    AWB_ASSIGNED = "awb_assigned", "AWB assigned"
    COURIER_CHANGED = "courier_changed", "Courier changed"
    STATUS_CHANGED = "status_changed", "Status changed"
    MANIFESTED = "manifested", "Manifested"
    NDR_ACTION = "ndr_action", "NDR action"
    COURIER_CALL_FAILED = "courier_call_failed", "Courier call failed"
    EWAY_BILL_REQUIRED = "eway_bill_required", "E-way bill required"


class ShipmentEvent(models.Model):
    """The shipment's own timeline: creation, AWB, courier changes, pickups, status changes, NDR actions, calls to
    the courier that failed."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events", verbose_name="shipment")
    kind = models.CharField("kind", max_length=30, choices=ShipmentEventKind.choices)
    from_status = models.CharField("from status", max_length=20, blank=True)
    to_status = models.CharField("to status", max_length=20, blank=True)
    actor = models.CharField("actor", max_length=100)
    message = models.CharField("message", max_length=500, blank=True)
    data = models.JSONField("data", default=dict, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["shipment", "id"], name="shipmentevent_shipment")]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status}"


def _shipment_stamps(shipment: Shipment, to_status: str, at) -> list[str]:
    """shipped_at on the first picked-up status, rto_initiated_at on the first RTO status, delivered_at and
    cancelled_at on those moves; each set once."""
    names = []
    if to_status in PICKED_UP_STATUSES:
        names.append("shipped_at")
    if to_status in RTO_STATUSES:
        names.append("rto_initiated_at")
    names.append({S.DELIVERED: "delivered_at", S.CANCELLED: "cancelled_at"}.get(to_status, ""))
    stamped = [name for name in names if name and getattr(shipment, name) is None]
    for name in stamped:
        setattr(shipment, name, at)
    return stamped


def _record_shipment_move(shipment: Shipment, *, from_status: str, to_status: str, actor: str, message: str = "",
                          data: dict | None = None) -> None:  # fmt: skip
    """The event of a move and its webhook: the booking (new -> awb_assigned) is ``awb_assigned``, a courier change
    (back to new) is ``courier_changed`` (no webhook: the booking that follows sends one), any other move
    ``status_changed``."""
    from shipping import outbox  # the outbox reads the models

    if to_status == S.NEW:
        kind, webhook = ShipmentEventKind.COURIER_CHANGED, ""
    elif from_status == S.NEW and to_status == S.AWB_ASSIGNED:
        kind, webhook = ShipmentEventKind.AWB_ASSIGNED, "shipment.awb_assigned"
    else:
        kind, webhook = ShipmentEventKind.STATUS_CHANGED, "shipment.status_changed"
    ShipmentEvent.objects.create(merchant_id=shipment.merchant_id, shipment=shipment, kind=kind,
                                 from_status=from_status, to_status=to_status, actor=actor, message=message[:500],
                                 data=data or {})  # fmt: skip
    if webhook:
        outbox.shipment_emit(shipment, webhook, previous_status=from_status)


#: The shipment's state table: the merchant's moves (SHIPMENT_TRANSITIONS; before pickup a courier change starts
#: the booking again, back to new) and the courier's (COURIER_MOVES). Each service checks its own rule first.
SHIPMENT_STATES = declare(
    Shipment,
    {status: {*moves, *COURIER_MOVES[status], *((S.NEW,) if status in PRE_PICKUP_STATUSES else ())}
     for status, moves in SHIPMENT_TRANSITIONS.items()},
    stamper=_shipment_stamps,
    record=_record_shipment_move,
    noun=lambda shipment: f"Shipment {shipment}",
)  # fmt: skip
#: A pickup is booked, then perhaps called off.
PICKUP_STATES = declare(
    PickupRequest,
    {PickupStatus.SCHEDULED: {PickupStatus.CANCELLED}, PickupStatus.CANCELLED: set()},
    stamp_fields={PickupStatus.CANCELLED: "cancelled_at"},
    noun=lambda pickup: f"Pickup {pickup.token}",
)


class CourierCallKind(models.TextChoices):
    BOOK = "book", "Book (AWB)"
    CANCEL = "cancel", "Cancel booking"
    SCHEDULE_PICKUP = "schedule_pickup", "Schedule pickup"
    CANCEL_PICKUP = "cancel_pickup", "Cancel pickup"
    NDR_ACTION = "ndr_action", "NDR action"


class CourierCallStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


def new_call_key() -> str:
    """The idempotency key a courier is given with a call: the same key on every retry of the call."""
    return secrets.token_urlsafe(24)


class CourierCall(models.Model):
    """One operation asked of a courier: recorded (pending) before the call, its outcome after.

    The call itself runs with no database transaction open; a call that failed or whose answer was never recorded
    (the process died) stays failed or pending, shown to the merchant, and is retried with the same ``key``, which
    the courier is told so that it does the operation once."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="calls", verbose_name="courier")
    kind = models.CharField("kind", max_length=20, choices=CourierCallKind.choices)
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="courier_calls", verbose_name="shipment")  # fmt: skip
    pickup = models.ForeignKey(PickupRequest, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="courier_calls", verbose_name="pickup")  # fmt: skip
    key = models.CharField(
        "idempotency key",
        max_length=40,
        unique=True,
        default=new_call_key,
        editable=False,
        help_text="Sent with every attempt of the call, so the courier does the operation once.",
    )
    status = models.CharField(
        "status", max_length=10, choices=CourierCallStatus.choices, default=CourierCallStatus.PENDING
    )
    request = models.JSONField(
        "request", default=dict, blank=True, help_text="What the courier is asked (enough to ask again)."
    )
    response = models.JSONField("response", default=dict, blank=True, help_text="The courier's answer.")
    error = models.CharField("error", max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField("attempts", default=0)
    outcome_unknown = models.BooleanField(
        "outcome unknown", default=False,
        help_text="The last attempt got no answer (a timeout): the courier may have done it. Asked again, the courier "
                  "is first asked whether it did.")  # fmt: skip
    actor = models.CharField("actor", max_length=100, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    started_at = models.DateTimeField(
        "started", null=True, blank=True, help_text="When the latest attempt was asked for."
    )
    finished_at = models.DateTimeField("finished", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CourierCallStatus.values), name="couriercall_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=CourierCallKind.values), name="couriercall_kind_valid"),
        ]
        indexes = [
            models.Index(fields=["merchant", "status", "created_at"], name="couriercall_merchant_status"),
            models.Index(fields=["shipment", "kind", "status"], name="couriercall_shipment"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with {self.courier_id} ({self.status})"


def _record_call(call: CourierCall, *, from_status: str, to_status: str, actor: str, message: str = "",
                 data: dict | None = None) -> None:  # fmt: skip
    """A failed call shows on its shipment's timeline."""
    if to_status == CourierCallStatus.FAILED and call.shipment_id is not None:
        ShipmentEvent.objects.create(merchant_id=call.merchant_id, shipment_id=call.shipment_id,
                                     kind=ShipmentEventKind.COURIER_CALL_FAILED, actor=actor or call.actor,
                                     message=f"{call.get_kind_display()}: {call.error}"[:500],
                                     data={"call": call.pk, "kind": call.kind, "attempts": call.attempts})  # fmt: skip


#: A call is pending until its outcome is recorded; a failed call is asked again (pending again, same key).
COURIER_CALL_STATES = declare(
    CourierCall,
    {CourierCallStatus.PENDING: {CourierCallStatus.SUCCEEDED, CourierCallStatus.FAILED},
     CourierCallStatus.FAILED: {CourierCallStatus.PENDING, CourierCallStatus.SUCCEEDED},
     CourierCallStatus.SUCCEEDED: set()},
    record=_record_call,
    noun=lambda call: f"Courier call {call.pk}",
)  # fmt: skip

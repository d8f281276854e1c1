"""Shipments, their state machine and timeline, AWB pools, pickups and manifests."""

import secrets

from django.db import models
from django.db.models import F, Q

from catalog.models import Location
from shipping.models.couriers import Courier
from shipping.zones import Zone
from shopops.models import Merchant
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


class AWBPoolKind(models.TextChoices):
    RANGE = "range", "Number range"
    LIST = "list", "Uploaded list"


class AWBPool(models.Model):
    """AWB numbers a courier has allotted to the merchant: a numeric range, or a list of uploaded numbers.

    Numbers are handed out atomically and never reused: a cancelled shipment's AWB stays spent.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="awb_pools")
    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="awb_pools")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=5, choices=AWBPoolKind.choices, default=AWBPoolKind.RANGE)
    prefix = models.CharField(max_length=10, blank=True, help_text="Range pools: text before the number.")
    width = models.PositiveSmallIntegerField(default=0, help_text="Range pools: pad numbers with zeros to this width.")
    range_start = models.BigIntegerField(null=True, blank=True)
    range_end = models.BigIntegerField(null=True, blank=True, help_text="Inclusive.")
    next_number = models.BigIntegerField(null=True, blank=True, help_text="Range pools: the next number to hand out.")
    low_watermark = models.PositiveIntegerField(default=100, help_text="Warn when fewer numbers than this remain.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    pool = models.ForeignKey(AWBPool, on_delete=models.CASCADE, related_name="numbers")
    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="+")
    awb = models.CharField("AWB", max_length=40)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="pickups")
    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="pickups")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="pickups")
    pickup_date = models.DateField()
    token = models.CharField(max_length=40, help_text="The courier's pickup reference.")
    status = models.CharField(max_length=10, choices=PickupStatus.choices, default=PickupStatus.SCHEDULED)
    created_by = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

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

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="manifests")
    number = models.CharField(max_length=32)
    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="manifests")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="manifests")
    pickup = models.ForeignKey(PickupRequest, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="manifests")  # fmt: skip
    created_by = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["merchant", "number"], name="manifest_unique_number")]

    def __str__(self) -> str:
        return self.number


def new_tracking_token() -> str:
    """128 random bits, URL-safe: the key of a shipment's public tracking link."""
    return secrets.token_urlsafe(16)


class Shipment(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="shipments")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="shipments")
    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="shipments")
    awb = models.CharField("AWB", max_length=40, blank=True)
    status = models.CharField(max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.NEW)
    zone = models.CharField(max_length=20, choices=Zone.choices)
    applied_weight_grams = models.PositiveIntegerField(help_text="The chargeable weight (actual or volumetric).")
    freight_charge = money_field(default=0)
    cod_charge = money_field(default=0)
    fuel_surcharge = money_field(default=0)
    tax = money_field(default=0)
    total_charge = money_field(default=0)
    currency = models.CharField(max_length=3, default="INR")
    cod_amount = money_field(default=0, help_text="Cash to collect on delivery (0 for prepaid).")
    pickup = models.ForeignKey(PickupRequest, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="shipments")  # fmt: skip
    pickup_date = models.DateField(null=True, blank=True)
    manifest = models.ForeignKey(Manifest, on_delete=models.SET_NULL, null=True, blank=True, related_name="shipments")
    expected_delivery_date = models.DateField(null=True, blank=True)
    awb_assigned_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True, help_text="Picked up by the courier.")
    delivered_at = models.DateTimeField(null=True, blank=True)
    rto_initiated_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True, help_text="When the latest applied event happened.")
    last_polled_at = models.DateTimeField(null=True, blank=True)
    tracking_token = models.CharField(
        max_length=32, unique=True, default=new_tracking_token, editable=False,
        help_text="The unguessable key in the customer's tracking link (/track/<awb>/<token>/).",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

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


class ShipmentEvent(models.Model):
    """The shipment's own timeline: creation, AWB, courier changes, pickups, status changes, NDR actions."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.CharField(max_length=100)
    message = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["shipment", "id"], name="shipmentevent_shipment")]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status}"

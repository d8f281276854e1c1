"""Shipping: couriers, their rate cards per zone, and the pincodes they serve."""

import datetime
import secrets
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from catalog.models import Location
from shipping.zones import Zone
from shopops.models import Merchant
from shopops.storage import PrivateStorage
from shopops.validation import money_field


class CourierMode(models.TextChoices):
    SURFACE = "surface", "Surface"
    AIR = "air", "Air"
    EXPRESS = "express", "Express"


class Adapter(models.TextChoices):
    OFFLINE = "offline", "Offline (AWB pools, manual or CSV tracking)"
    SIMULATED = "simulated", "Simulated (demo and test events)"


class Courier(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="couriers")
    code = models.SlugField(max_length=40, help_text="Short unique code, e.g. delhivery-surface.")
    name = models.CharField(max_length=120)
    mode = models.CharField(max_length=10, choices=CourierMode.choices, default=CourierMode.SURFACE)
    supports_cod = models.BooleanField(default=True)
    supports_reverse = models.BooleanField(default=False)
    max_weight_grams = models.PositiveIntegerField(default=30_000)
    pickup_cutoff = models.TimeField(
        default=datetime.time(14, 0),
        help_text="Shipments booked after this time (merchant's time zone) are picked up the next day.",
    )
    volumetric_divisor = models.PositiveIntegerField(
        default=5000, validators=[MinValueValidator(1000), MaxValueValidator(10000)],
        help_text="Volumetric kg = length x breadth x height (cm) / divisor.",
    )  # fmt: skip
    is_active = models.BooleanField(default=True)
    adapter = models.CharField(
        max_length=20, choices=Adapter.choices, default=Adapter.OFFLINE, help_text="How ShopOps talks to the courier."
    )
    webhook_secret = models.CharField(
        max_length=100, blank=True, help_text="Signs the courier's tracking webhooks (HMAC-SHA256); blank: none."
    )
    status_codes = models.JSONField(default=dict, blank=True,
                                    help_text="The courier's status codes mapped to ShopOps statuses, on top of the "
                                              "adapter's own map, e.g. {\"DL\": \"delivered\"}.")  # fmt: skip
    tracking_url_template = models.CharField(
        max_length=300, blank=True, help_text="The courier's tracking page, with {awb}; blank: ShopOps's."
    )
    poll_limit_per_minute = models.PositiveIntegerField(
        default=60, help_text="At most this many AWBs polled per minute."
    )
    on_time_rate = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True, editable=False)
    rto_rate = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True, editable=False)
    avg_transit_days = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True, editable=False)
    performance_shipments = models.PositiveIntegerField(
        default=0, editable=False, help_text="Shipments the performance is computed from."
    )
    performance_updated_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "code"], name="courier_unique_code"),
            models.CheckConstraint(condition=Q(mode__in=CourierMode.values), name="courier_mode_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class RateCard(models.Model):
    """A courier's prices to one zone: a first weight slab, then each additional slab."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="rate_cards")
    zone = models.CharField(max_length=20, choices=Zone.choices)
    first_slab_grams = models.PositiveIntegerField(default=500)
    first_slab_price = money_field()
    additional_slab_grams = models.PositiveIntegerField(default=500)
    additional_slab_price = money_field()
    cod_fixed = money_field(default=0, help_text="The least COD charge.")
    cod_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0, help_text="% of the order value.")
    fuel_surcharge_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0,
                                                 help_text="% of the freight.")  # fmt: skip
    rto_charge = money_field(default=0, help_text="Charged when the parcel returns to origin.")
    estimated_days = models.PositiveSmallIntegerField(default=4)

    class Meta:
        ordering = ["courier", "zone"]
        constraints = [
            models.UniqueConstraint(fields=["courier", "zone"], name="ratecard_unique_zone"),
            models.CheckConstraint(condition=Q(zone__in=Zone.values), name="ratecard_zone_valid"),
            models.CheckConstraint(
                condition=Q(first_slab_grams__gt=0, additional_slab_grams__gt=0), name="ratecard_slabs_positive"
            ),  # fmt: skip
            models.CheckConstraint(
                condition=Q(first_slab_price__gte=0, additional_slab_price__gte=0, cod_fixed__gte=0),
                name="ratecard_prices_not_negative",
            ),  # fmt: skip
        ]

    def __str__(self) -> str:
        return f"{self.courier_id}:{self.zone}"


class ServiceablePincode(models.Model):
    """A pincode (or, abroad, a postcode) a courier serves, and how (imported from the courier's CSV)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="pincodes")
    pincode = models.CharField(max_length=10)
    pickup = models.BooleanField(default=True)
    delivery = models.BooleanField(default=True)
    cod = models.BooleanField(default=True)
    reverse = models.BooleanField(default=False)
    oda = models.BooleanField("out of delivery area", default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["courier", "pincode"], name="serviceable_unique_pincode")]
        indexes = [models.Index(fields=["merchant", "pincode"], name="serviceable_merchant_pincode")]

    def __str__(self) -> str:
        return f"{self.courier_id}:{self.pincode}"


class BlockedPincode(models.Model):
    """A pincode the merchant does not ship to, whatever the courier (fraud, too many returns)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="blocked_pincodes")
    pincode = models.CharField(max_length=6)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pincode"]
        constraints = [models.UniqueConstraint(fields=["merchant", "pincode"], name="blockedpincode_unique")]

    def __str__(self) -> str:
        return self.pincode


class ShippingPreference(models.Model):
    """How a merchant ranks couriers: the weights of price, speed and performance, and the default order."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="shipping_preference")
    weight_price = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("0.50"),
                                       validators=[MinValueValidator(0), MaxValueValidator(1)])  # fmt: skip
    weight_speed = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("0.30"),
                                       validators=[MinValueValidator(0), MaxValueValidator(1)])  # fmt: skip
    weight_performance = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("0.20"),
                                             validators=[MinValueValidator(0), MaxValueValidator(1)])  # fmt: skip
    default_sort = models.CharField(max_length=12, default="recommended",
                                    choices=[(s, s.capitalize()) for s in ("recommended", "cheapest", "fastest",
                                                                            "rating")])  # fmt: skip

    def __str__(self) -> str:
        return f"shipping preference of {self.merchant_id}"


class PostcodeZone(models.Model):
    """A zone rule for a country other than India: postcodes starting with ``origin_prefix`` to postcodes
    starting with ``destination_prefix`` are in ``zone``. The longest matching prefixes win; an empty
    prefix matches every postcode."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="postcode_zones")
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2; India uses the pincode directory.")
    origin_prefix = models.CharField(max_length=10, blank=True)
    destination_prefix = models.CharField(max_length=10, blank=True)
    zone = models.CharField(max_length=20, choices=Zone.choices)

    class Meta:
        ordering = ["country", "origin_prefix", "destination_prefix"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "country", "origin_prefix", "destination_prefix"], name="postcodezone_unique_rule"
            ),  # fmt: skip
            models.CheckConstraint(condition=Q(zone__in=Zone.values), name="postcodezone_zone_valid"),
            models.CheckConstraint(
                condition=Q(country__regex=r"^[A-Z]{2}$") & ~Q(country="IN"), name="postcodezone_country_not_india"
            ),  # fmt: skip
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.origin_prefix or '*'} -> {self.destination_prefix or '*'}: {self.zone}"


# -- shipments ------------------------------------------------------------------------


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


class TrackingEvent(models.Model):
    """A courier's scan of a parcel, from its webhook or from polling. Events for an unknown AWB are kept
    as orphans (no shipment) so nothing the courier sent is lost."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="+")
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="tracking_events")  # fmt: skip
    awb = models.CharField("AWB", max_length=40)
    event_key = models.CharField(max_length=100, help_text="The courier's event id, or a digest of the event.")
    status = models.CharField(
        max_length=20,
        choices=ShipmentStatus.choices,
        blank=True,
        help_text="The ShopOps status the courier code maps to (blank: informational).",
    )
    code = models.CharField(max_length=40, help_text="The courier's status code.")
    description = models.CharField(max_length=500, blank=True)
    location = models.CharField(max_length=120, blank=True, help_text="City-level place of the scan.")
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=[("webhook", "Webhook"), ("poll", "Polling"),
                                                      ("manual", "Manual"), ("csv", "CSV upload")])  # fmt: skip
    applied = models.BooleanField(default=False, help_text="Whether it moved the shipment's status.")
    raw = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [models.UniqueConstraint(fields=["courier", "event_key"], name="trackingevent_unique_key")]
        indexes = [
            models.Index(fields=["shipment", "occurred_at"], name="trackingevent_shipment"),
            models.Index(fields=["courier", "awb"], name="trackingevent_awb"),
        ]

    def __str__(self) -> str:
        return f"{self.awb} {self.code} {self.occurred_at:%Y-%m-%d %H:%M}"


class NDRStatus(models.TextChoices):
    OPEN = "open", "Open: waiting for an action"
    REATTEMPT = "reattempt", "Reattempt requested"
    DELIVERED = "delivered", "Resolved: delivered"
    RTO = "rto", "Resolved: returned to origin"


class NDRAction(models.TextChoices):
    REATTEMPT = "reattempt", "Reattempt delivery"
    RTO = "rto", "Return to origin"


class NDR(models.Model):
    """A failed delivery (non-delivery report): the attempts, the reason, and the merchant's decision."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="ndrs")
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="ndrs")
    status = models.CharField(max_length=10, choices=NDRStatus.choices, default=NDRStatus.OPEN)
    reason = models.CharField(max_length=255)
    attempts = models.PositiveSmallIntegerField(default=1)
    first_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField()
    action = models.CharField(max_length=10, choices=NDRAction.choices, blank=True)
    action_comment = models.CharField(max_length=500, blank=True)
    reattempt_date = models.DateField(null=True, blank=True)
    action_by = models.CharField(max_length=100, blank=True)
    action_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "NDR"
        verbose_name_plural = "NDR queue"
        ordering = ["-last_attempt_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment"], condition=Q(status__in=["open", "reattempt"]), name="ndr_one_open_per_shipment"
            ),  # fmt: skip
            models.CheckConstraint(condition=Q(status__in=NDRStatus.values), name="ndr_status_valid"),
        ]
        indexes = [models.Index(fields=["merchant", "status", "first_attempt_at"], name="ndr_merchant_status")]

    def __str__(self) -> str:
        return f"NDR {self.pk} ({self.status})"


class NotificationEvent(models.TextChoices):
    SHIPPED = "shipped", "Shipped"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    NDR = "ndr", "Delivery attempt failed"
    RTO = "rto", "Returning to the merchant"


#: Which shipment status tells the customer what.
NOTIFY_ON_STATUS = {
    S.PICKED_UP: NotificationEvent.SHIPPED,
    S.OUT_FOR_DELIVERY: NotificationEvent.OUT_FOR_DELIVERY,
    S.DELIVERED: NotificationEvent.DELIVERED,
    S.NDR: NotificationEvent.NDR,
    S.RTO_INITIATED: NotificationEvent.RTO,
}


class NotificationSetting(models.Model):
    """Which customer notifications a merchant sends, by email and by SMS (all on until changed)."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="notification_setting")
    email_enabled = models.BooleanField(default=True)
    sms_enabled = models.BooleanField(default=True)
    on_shipped = models.BooleanField(default=True)
    on_out_for_delivery = models.BooleanField(default=True)
    on_delivered = models.BooleanField(default=True)
    on_ndr = models.BooleanField(default=True)
    on_rto = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"notification settings of {self.merchant_id}"

    def wants(self, event: str) -> bool:
        return getattr(self, f"on_{event}")


class Notification(models.Model):
    """One message to a customer about one tracking event, on one channel: sent at most once."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="notifications")
    tracking_event = models.ForeignKey(TrackingEvent, on_delete=models.CASCADE, null=True, blank=True,
                                       related_name="+")  # fmt: skip
    event = models.CharField(max_length=20, choices=NotificationEvent.choices)
    channel = models.CharField(max_length=5, choices=[("email", "Email"), ("sms", "SMS")])
    recipient = models.CharField(max_length=254)
    status = models.CharField(max_length=7, choices=[("queued", "Queued"), ("sent", "Sent"), ("failed", "Failed")],
                              default="queued")  # fmt: skip
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["tracking_event", "channel"], name="notification_once_per_event"),
        ]
        indexes = [models.Index(fields=["shipment", "id"], name="notification_shipment")]

    def __str__(self) -> str:
        return f"{self.event} {self.channel} to {self.recipient}"


# -- documents ------------------------------------------------------------------------


class DocumentKind(models.TextChoices):
    LABEL = "label", "Shipping labels"
    INVOICE = "invoice", "Tax invoices"
    MANIFEST = "manifest", "Manifest"
    PACKING_SLIP = "packing_slip", "Packing slips"


class DocumentFormat(models.TextChoices):
    LABEL_4X6 = "4x6", "4 x 6 in label (100 x 150 mm)"
    A4_4UP = "a4-4up", "A4, 4 labels a sheet"
    A4 = "a4", "A4"
    A5 = "a5", "A5"


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RENDERING = "rendering", "Rendering"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Document(models.Model):
    """A PDF rendered by a worker: labels, invoices, a manifest or packing slips for the shipments or orders it
    covers. ``checksum`` digests the data it was rendered from: the same request on unchanged data returns the
    same document."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=12, choices=DocumentKind.choices)
    format = models.CharField(max_length=6, choices=DocumentFormat.choices)
    status = models.CharField(max_length=9, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED)
    shipments = models.ManyToManyField(Shipment, blank=True, related_name="documents")
    orders = models.ManyToManyField("orders.Order", blank=True, related_name="documents")
    manifest = models.ForeignKey(Manifest, on_delete=models.SET_NULL, null=True, blank=True, related_name="documents")
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the request and the data rendered.")
    file = models.FileField(upload_to="documents/%Y/%m/", storage=PrivateStorage(), blank=True)
    file_checksum = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the PDF bytes.")
    page_count = models.PositiveIntegerField(default=0)
    not_created = models.JSONField(default=list, blank=True, help_text="[{id, reason}] left out of the PDF.")
    error = models.CharField(max_length=500, blank=True)
    requested_by = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=DocumentKind.values), name="document_kind_valid"),
            models.CheckConstraint(condition=Q(format__in=DocumentFormat.values), name="document_format_valid"),
            models.CheckConstraint(condition=Q(status__in=DocumentStatus.values), name="document_status_valid"),
        ]
        indexes = [
            models.Index(fields=["merchant", "created_at", "id"], name="document_merchant_created"),
            models.Index(fields=["merchant", "kind", "checksum"], name="document_merchant_checksum"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk}"


class Invoice(models.Model):
    """An order's tax invoice number, taken once from the merchant's gap-free sequence and kept for reprints."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="invoices")
    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="invoice")
    number = models.CharField(max_length=32)
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["merchant", "number"], name="invoice_unique_number")]

    def __str__(self) -> str:
        return self.number


# -- shipping in one call, and in batches ---------------------------------------------------------------------------


class ShipBatchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ShipBatch(models.Model):
    """ "Ship selected orders" as one resumable job: each order confirmed, packed, booked with a courier and given an
    AWB; then one pickup per courier and location, one label PDF, one invoice PDF and one manifest per courier.

    ``results`` holds each order's outcome by id ({steps, shipment, awb, courier, error}); a re-run skips what is
    already done."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="ship_batches")
    status = models.CharField(max_length=8, choices=ShipBatchStatus.choices, default=ShipBatchStatus.QUEUED)
    order_ids = models.JSONField(help_text="The orders, in the order given.")
    options = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    shipped = models.PositiveIntegerField(default=0, help_text="Orders with an AWB.")
    failed = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=dict, blank=True)
    pickups = models.ManyToManyField(PickupRequest, blank=True, related_name="+")
    manifests = models.ManyToManyField(Manifest, blank=True, related_name="+")
    label_document = models.ForeignKey(Document, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    invoice_document = models.ForeignKey(Document, on_delete=models.SET_NULL, null=True, blank=True,
                                         related_name="+")  # fmt: skip
    manifest_documents = models.ManyToManyField(Document, blank=True, related_name="+")
    error = models.CharField(max_length=500, blank=True)
    created_by = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True,
                                        help_text="Last sign of life of the worker running it.")  # fmt: skip
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "ship batch"
        verbose_name_plural = "ship batches"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ShipBatchStatus.values), name="shipbatch_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Ship batch {self.pk}"

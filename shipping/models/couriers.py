"""Couriers, their rate cards per zone, the pincodes they serve, and how the merchant ranks them."""

import datetime
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from shipping.choices import CourierSort
from shipping.zones import Zone
from shopops.models import Merchant
from shopops.validation import money_field


class CourierMode(models.TextChoices):
    SURFACE = "surface", "Surface"
    AIR = "air", "Air"
    EXPRESS = "express", "Express"


class Adapter(models.TextChoices):
    OFFLINE = "offline", "Offline (AWB pools, manual or CSV tracking)"
    SIMULATED = "simulated", "Simulated (demo and test events)"
    SHIPROCKET = "shiprocket", "Shiprocket (through a courier account)"
    DELHIVERY = "delhivery", "Delhivery (through a courier account)"
    EASYPOST = "easypost", "EasyPost (through a courier account)"


class Courier(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="couriers", verbose_name="merchant")
    code = models.SlugField("code", max_length=40, help_text="Short unique code, e.g. delhivery-surface.")
    name = models.CharField("name", max_length=120)
    mode = models.CharField("mode", max_length=10, choices=CourierMode.choices, default=CourierMode.SURFACE)
    supports_cod = models.BooleanField("supports COD", default=True)
    supports_reverse = models.BooleanField(
        "supports reverse pickup", default=False, help_text="Picks up returns from customers."
    )
    max_weight_grams = models.PositiveIntegerField("maximum weight (g)", default=30_000)
    pickup_cutoff = models.TimeField(
        "pickup cutoff",
        default=datetime.time(14, 0),
        help_text="Shipments booked after this time (merchant's time zone) are picked up the next day.",
    )
    volumetric_divisor = models.PositiveIntegerField(
        "volumetric divisor", default=5000, validators=[MinValueValidator(1000), MaxValueValidator(10000)],
        help_text="Volumetric kg = length x breadth x height (cm) / divisor.",
    )  # fmt: skip
    is_active = models.BooleanField("active", default=True)
    adapter = models.CharField(
        "adapter",
        max_length=20,
        choices=Adapter.choices,
        default=Adapter.OFFLINE,
        help_text="How ShopOps talks to the courier.",
    )
    account = models.ForeignKey(
        "shipping.CourierAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="couriers",
        verbose_name="courier account",
        help_text="The courier account ShopOps books through (Shiprocket, Delhivery and EasyPost couriers).",
    )  # fmt: skip
    service_code = models.CharField(
        "service code", max_length=60, blank=True,
        help_text="The service's own id for this courier: Shiprocket's courier company id, EasyPost's "
                  "\"carrier:service\" (e.g. \"USPS:Priority\"), Delhivery's mode (Surface or Express). Blank: the "
                  "service's choice (Shiprocket's recommended courier, EasyPost's lowest rate).",
    )  # fmt: skip
    webhook_secret = models.CharField(
        "webhook secret",
        max_length=100,
        blank=True,
        help_text="Signs the courier's tracking webhooks (HMAC-SHA256); blank: none.",
    )
    status_codes = models.JSONField("status codes", default=dict, blank=True,
                                    help_text="The courier's status codes mapped to ShopOps statuses, on top of the "
                                              "adapter's own map, e.g. {\"DL\": \"delivered\"}.")  # fmt: skip
    tracking_url_template = models.CharField(
        "tracking URL template",
        max_length=300,
        blank=True,
        help_text="The courier's tracking page, with {awb}; blank: ShopOps's.",
    )
    poll_limit_per_minute = models.PositiveIntegerField(
        "poll limit per minute", default=60, help_text="At most this many AWBs polled per minute."
    )
    on_time_rate = models.DecimalField(
        "on-time rate",
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        editable=False,
        help_text="Share of recent deliveries made by their expected date.",
    )
    rto_rate = models.DecimalField(
        "RTO rate",
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        editable=False,
        help_text="Share of recent shipments returned to origin.",
    )
    avg_transit_days = models.DecimalField(
        "average transit days",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        editable=False,
        help_text="From pickup to delivery, over recent deliveries.",
    )
    performance_shipments = models.PositiveIntegerField(
        "performance shipments", default=0, editable=False, help_text="Shipments the performance is computed from."
    )
    performance_updated_at = models.DateTimeField("performance updated", null=True, blank=True, editable=False)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

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

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="rate_cards", verbose_name="courier")
    zone = models.CharField("zone", max_length=20, choices=Zone.choices)
    first_slab_grams = models.PositiveIntegerField(
        "first slab (g)", default=500, help_text="The weight the first slab price covers."
    )
    first_slab_price = money_field(verbose_name="first slab price")
    additional_slab_grams = models.PositiveIntegerField(
        "additional slab (g)", default=500, help_text="Each further step of weight, charged the additional slab price."
    )
    additional_slab_price = money_field(verbose_name="additional slab price")
    cod_fixed = money_field(default=0, help_text="The least COD charge.", verbose_name="COD fixed charge")
    cod_percent = models.DecimalField(
        "COD percent", max_digits=5, decimal_places=2, default=0, help_text="% of the order value."
    )
    fuel_surcharge_percent = models.DecimalField("fuel surcharge percent", max_digits=5, decimal_places=2, default=0,
                                                 help_text="% of the freight.")  # fmt: skip
    rto_charge = money_field(
        default=0, help_text="Charged when the parcel returns to origin.", verbose_name="RTO charge"
    )
    estimated_days = models.PositiveSmallIntegerField(
        "estimated days", default=4, help_text="Transit days to the zone."
    )

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
        return f"{self.get_zone_display()} (courier {self.courier_id})"


class ServiceablePincode(models.Model):
    """A pincode (or, abroad, a postcode) a courier serves, and how (imported from the courier's CSV)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="pincodes", verbose_name="courier")
    pincode = models.CharField("pincode", max_length=10)
    pickup = models.BooleanField("pickup", default=True, help_text="The courier picks up parcels here.")
    delivery = models.BooleanField("delivery", default=True, help_text="The courier delivers here.")
    cod = models.BooleanField("COD", default=True, help_text="The courier collects cash on delivery here.")
    reverse = models.BooleanField("reverse pickup", default=False, help_text="The courier picks up returns here.")
    oda = models.BooleanField("out of delivery area", default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["courier", "pincode"], name="serviceable_unique_pincode")]
        indexes = [models.Index(fields=["merchant", "pincode"], name="serviceable_merchant_pincode")]

    def __str__(self) -> str:
        return f"{self.pincode} (courier {self.courier_id})"


class BlockedPincode(models.Model):
    """A pincode the merchant does not ship to, whatever the courier (fraud, too many returns)."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="blocked_pincodes", verbose_name="merchant"
    )
    pincode = models.CharField("pincode", max_length=6)
    reason = models.CharField("reason", max_length=200, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["pincode"]
        constraints = [models.UniqueConstraint(fields=["merchant", "pincode"], name="blockedpincode_unique")]

    def __str__(self) -> str:
        return self.pincode


class ShippingPreference(models.Model):
    """How a merchant ranks couriers: the weights of price, speed and performance, and the default order."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="shipping_preference", verbose_name="merchant"
    )
    weight_price = models.DecimalField("price weight", max_digits=4, decimal_places=2, default=Decimal("0.50"),
                                       validators=[MinValueValidator(0), MaxValueValidator(1)],
                                       help_text="How much the price counts in the recommended ranking (0 to "
                                                 "1).")  # fmt: skip
    weight_speed = models.DecimalField("speed weight", max_digits=4, decimal_places=2, default=Decimal("0.30"),
                                       validators=[MinValueValidator(0), MaxValueValidator(1)],
                                       help_text="How much the delivery time counts in the recommended ranking (0 "
                                                 "to 1).")  # fmt: skip
    weight_performance = models.DecimalField("performance weight", max_digits=4, decimal_places=2,
                                             default=Decimal("0.20"),
                                             validators=[MinValueValidator(0), MaxValueValidator(1)],
                                             help_text="How much the courier's performance counts in the recommended "
                                                       "ranking (0 to 1).")  # fmt: skip
    default_sort = models.CharField(
        "default sort", max_length=12, default=CourierSort.RECOMMENDED, choices=CourierSort.choices
    )

    def __str__(self) -> str:
        return f"shipping preference of {self.merchant_id}"


class PostcodeZone(models.Model):
    """A zone rule for a country other than India: postcodes starting with ``origin_prefix`` to postcodes
    starting with ``destination_prefix`` are in ``zone``. The longest matching prefixes win; an empty
    prefix matches every postcode."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="postcode_zones", verbose_name="merchant"
    )
    country = models.CharField(
        "country", max_length=2, help_text="ISO 3166-1 alpha-2; India uses the pincode directory."
    )
    origin_prefix = models.CharField(
        "origin prefix", max_length=10, blank=True, help_text="The start of the pickup postcode; blank: any."
    )
    destination_prefix = models.CharField(
        "destination prefix", max_length=10, blank=True, help_text="The start of the delivery postcode; blank: any."
    )
    zone = models.CharField("zone", max_length=20, choices=Zone.choices)

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

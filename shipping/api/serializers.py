"""Input and output shapes of the shipping API: couriers with rate cards, serviceability imports, quotes."""

from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from shipping.choices import CourierSort
from shipping.models import Adapter, Courier, CourierAccount, CourierMode, RateCard, ShipmentStatus
from shipping.selectors import courier_rates, courier_rating
from shipping.services.couriers import PINCODE, POSTCODE
from shipping.zones import Zone, normalize_postcode
from shopops.api.serializers import LocalTimeField, StrictInputMixin
from shopops.validation import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS

MAX_WEIGHT_GRAMS = 1_000_000
MAX_DIMENSION_CM = 500


def money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


def percent(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100, **kwargs)


# -- couriers and rate cards ---------------------------------------------------------------


class RateCardOutput(serializers.ModelSerializer):
    class Meta:
        model = RateCard
        fields = [
            "zone", "first_slab_grams", "first_slab_price", "additional_slab_grams", "additional_slab_price",
            "cod_fixed", "cod_percent", "fuel_surcharge_percent", "rto_charge", "estimated_days",
        ]  # fmt: skip


class RateCardInput(StrictInputMixin, serializers.Serializer):
    zone = serializers.ChoiceField(choices=Zone.choices)
    first_slab_grams = serializers.IntegerField(min_value=1, max_value=MAX_WEIGHT_GRAMS, default=500)
    first_slab_price = money(min_value=Decimal("0.01"), help_text="Price of the first slab; more than zero.")
    additional_slab_grams = serializers.IntegerField(min_value=1, max_value=MAX_WEIGHT_GRAMS, default=500)
    additional_slab_price = money(min_value=Decimal("0.00"), help_text="Price of each further slab.")
    cod_fixed = money(min_value=Decimal("0.00"), default=Decimal("0.00"), help_text="The least COD charge.")
    cod_percent = percent(default=Decimal("0.00"), help_text="% of the declared value.")
    fuel_surcharge_percent = percent(default=Decimal("0.00"), help_text="% of the freight.")
    rto_charge = money(min_value=Decimal("0.00"), default=Decimal("0.00"))
    estimated_days = serializers.IntegerField(min_value=0, max_value=60, default=4)


class CourierPerformanceOutput(serializers.Serializer):
    on_time_rate = serializers.DecimalField(max_digits=5, decimal_places=4)
    rto_rate = serializers.DecimalField(max_digits=5, decimal_places=4)
    avg_transit_days = serializers.DecimalField(
        max_digits=5, decimal_places=1, allow_null=True,
        help_text="Measured pickup-to-delivery days; until measured, the average of the rate cards' estimates.",
    )  # fmt: skip
    rating = serializers.DecimalField(max_digits=3, decimal_places=2, help_text="0 to 5.")
    shipments = serializers.IntegerField(
        help_text="Finished shipments (last 90 days) the figures are computed from; 0: the neutral prior."
    )


class CourierOutput(serializers.ModelSerializer):
    rate_cards = RateCardOutput(many=True, read_only=True)
    performance = serializers.SerializerMethodField(
        help_text="Computed from the courier's finished shipments; a neutral prior until there are any."
    )
    serviceable_pincodes = serializers.IntegerField(read_only=True, help_text="How many pincodes it serves.")
    has_webhook_secret = serializers.SerializerMethodField(
        help_text="Whether webhooks must be signed; the secret itself is never shown."
    )
    pickup_cutoff = LocalTimeField(
        read_only=True,
        help_text="`HH:MM:SS` in the merchant's time zone (no offset): shipments booked after it are picked up "
        "the next day.",
    )

    class Meta:
        model = Courier
        fields = [
            "id", "code", "name", "mode", "supports_cod", "supports_reverse", "max_weight_grams",
            "volumetric_divisor", "pickup_cutoff", "is_active", "adapter", "has_webhook_secret", "status_codes",
            "tracking_url_template", "poll_limit_per_minute", "account", "service_code", "rate_cards", "performance",
            "serviceable_pincodes", "created_at", "updated_at",
        ]  # fmt: skip

    def get_has_webhook_secret(self, courier: Courier) -> bool:
        return bool(courier.webhook_secret)

    @extend_schema_field(CourierPerformanceOutput)
    def get_performance(self, courier: Courier) -> dict:
        on_time_rate, rto_rate = courier_rates(courier.on_time_rate, courier.rto_rate, courier.performance_shipments)
        if courier.performance_shipments > 0 and courier.avg_transit_days is not None:
            average = courier.avg_transit_days
        else:
            days = [card.estimated_days for card in courier.rate_cards.all()]
            average = (Decimal(sum(days)) / len(days)).quantize(Decimal("0.1")) if days else None
        return CourierPerformanceOutput({
            "on_time_rate": on_time_rate, "rto_rate": rto_rate, "avg_transit_days": average,
            "rating": courier_rating(on_time_rate, rto_rate), "shipments": courier.performance_shipments,
        }).data  # fmt: skip


MAX_STATUS_CODES = 200


class CourierInput(StrictInputMixin, serializers.ModelSerializer):
    tolerated_fields = frozenset({"id", "performance", "serviceable_pincodes", "has_webhook_secret", "created_at",
                                  "updated_at"})  # fmt: skip

    rate_cards = RateCardInput(many=True, required=False, help_text="Rate cards to create or replace, by zone.")
    max_weight_grams = serializers.IntegerField(min_value=1, max_value=MAX_WEIGHT_GRAMS, required=False)
    volumetric_divisor = serializers.IntegerField(min_value=1000, max_value=10000, required=False)
    pickup_cutoff = LocalTimeField(
        required=False,
        help_text="`HH:MM:SS` or `HH:MM` in the merchant's time zone, no offset: bookings after it go next day.",
    )
    adapter = serializers.ChoiceField(choices=Adapter.choices, required=False,
                                      help_text="offline: AWB pools, tracking by hand, CSV or webhook; simulated: "
                                                "demo events; shiprocket, delhivery, easypost: booked and tracked "
                                                "through the service (needs `account`).")  # fmt: skip
    webhook_secret = serializers.CharField(
        max_length=100, required=False, allow_blank=True, write_only=True, trim_whitespace=False,
        help_text="Signs the courier's webhooks (HMAC-SHA256); blank: unsigned webhooks are refused. Write-only.",
    )  # fmt: skip
    status_codes = serializers.DictField(
        child=serializers.ChoiceField(choices=ShipmentStatus.choices, allow_blank=True), required=False,
        help_text="The courier's status codes mapped to ShopOps shipment statuses, on top of the adapter's own, "
                  'e.g. {"DL": "delivered", "UD": "ndr", "BAGGED": ""} ("": a known scan that moves nothing; a '
                  "code in no map is kept on its event and flagged unknown); replaces the whole map.",
    )  # fmt: skip
    tracking_url_template = serializers.CharField(
        max_length=300, required=False, allow_blank=True,
        help_text="The courier's tracking page with {awb}, e.g. https://courier.example/track/{awb}; blank: "
                  "ShopOps's public page.",
    )  # fmt: skip
    poll_limit_per_minute = serializers.IntegerField(min_value=1, max_value=10_000, required=False,
                                                     help_text="At most this many AWBs polled a minute.")  # fmt: skip
    account = serializers.IntegerField(
        required=False, allow_null=True,
        help_text="Shiprocket, Delhivery and EasyPost couriers: the id of the merchant's courier account of that "
                  "service (`/courier-accounts/`) the courier is booked through; null for the others.",
    )  # fmt: skip
    service_code = serializers.CharField(
        max_length=60, required=False, allow_blank=True,
        help_text="The service's id of this courier: Shiprocket's courier_company_id, Delhivery's shipping mode "
                  '("Surface" or "Express"), EasyPost\'s "carrier:service" (e.g. "USPS:Priority").',
    )  # fmt: skip

    class Meta:
        model = Courier
        fields = [
            "code", "name", "mode", "supports_cod", "supports_reverse", "max_weight_grams", "volumetric_divisor",
            "pickup_cutoff", "is_active", "adapter", "webhook_secret", "status_codes", "tracking_url_template",
            "poll_limit_per_minute", "account", "service_code", "rate_cards",
        ]  # fmt: skip
        # Uniqueness per merchant is the service's (a 409 duplicate_courier).
        extra_kwargs = {"code": {"validators": []}}

    def validate_rate_cards(self, cards):
        zones = [card["zone"] for card in cards]
        duplicates = sorted({zone for zone in zones if zones.count(zone) > 1})
        if duplicates:
            raise serializers.ValidationError(f"One rate card per zone; repeated: {', '.join(duplicates)}.")
        return cards

    def validate_account(self, account_id: int | None):
        """The merchant's own account, or a 400 that says the same whether the id is another merchant's or none."""
        if account_id is None:
            return None
        account = CourierAccount.objects.filter(pk=account_id, merchant=self.context["view"].merchant).first()
        if account is None:
            raise serializers.ValidationError(f"You have no courier account with id {account_id}.")
        return account

    def validate_status_codes(self, codes: dict) -> dict:
        if len(codes) > MAX_STATUS_CODES:
            raise serializers.ValidationError(f"At most {MAX_STATUS_CODES} codes.")
        bad = sorted(code for code in codes if not 1 <= len(str(code).strip()) <= 40)
        if bad:
            raise serializers.ValidationError("A code is 1 to 40 characters.")
        return {str(code).strip(): status for code, status in codes.items()}

    def validate_tracking_url_template(self, template: str) -> str:
        template = template.strip()
        if not template:
            return template
        if "{awb}" not in template:
            raise serializers.ValidationError("The template must contain {awb}.")
        try:
            URLValidator(schemes=["http", "https"])(template.replace("{awb}", "AWB123"))
        except DjangoValidationError as exc:
            raise serializers.ValidationError("An http(s) URL with {awb}.") from exc
        return template


class ServiceabilityImportInput(StrictInputMixin, serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV (UTF-8): pincode, pickup, delivery, cod, reverse, oda (Y/N); the first line names the columns."
    )
    replace = serializers.BooleanField(
        default=True, help_text="Replace the courier's pincodes (default); false adds or updates rows."
    )
    country = serializers.RegexField(r"^[A-Z]{2}$", default="IN",
                                     help_text="IN: 6-digit pincodes; another country: its postcodes.")  # fmt: skip


class ServiceabilityRowError(serializers.Serializer):
    row = serializers.IntegerField(help_text="Line number in the file (the header is line 1).")
    pincode = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class ServiceabilityImportOutput(serializers.Serializer):
    rows = serializers.IntegerField()
    imported = serializers.IntegerField()
    errors = ServiceabilityRowError(many=True)


# -- rate shopping ---------------------------------------------------------------------------


class OptionalBooleanField(serializers.BooleanField):
    """A query-string boolean that is absent (None) when not given, rather than false."""

    default_empty_html = empty


def _pincode(help_text: str) -> serializers.CharField:
    return serializers.CharField(required=False, max_length=20, help_text=help_text)


class ServiceabilityQuery(StrictInputMixin, serializers.Serializer):
    """The query string of GET /serviceability/."""

    tolerated_fields = frozenset({"format"})

    order = serializers.IntegerField(
        required=False, min_value=1,
        help_text="An order id: pickup, delivery, weight, dimensions, COD and value come from the order "
                  "(the other parameters, when given, override them).",
    )  # fmt: skip
    country = serializers.RegexField(r"^[A-Z]{2}$", required=False,
                                     help_text="ISO 3166-1 alpha-2 of both ends. India (the default) uses the pincode "
                                     "directory; another country the merchant's postcode zone rules.")  # fmt: skip
    pickup_postcode = _pincode("Pickup pincode (6 digits in India). Required without `order`.")
    delivery_postcode = _pincode("Delivery pincode (6 digits in India). Required without `order`.")
    weight_grams = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_WEIGHT_GRAMS,
        help_text=f"Dead weight in grams, 1 to {MAX_WEIGHT_GRAMS:,}. Required without `order`.",
    )  # fmt: skip
    cod = OptionalBooleanField(required=False, allow_null=True, default=None, help_text="Cash on delivery.")
    declared_value = money(required=False, min_value=Decimal("0"), help_text="Order value (for COD and insurance).")
    length_cm = serializers.DecimalField(max_digits=6, decimal_places=1, min_value=0, max_value=MAX_DIMENSION_CM,
                                         required=False, help_text=f"0 to {MAX_DIMENSION_CM} cm.")  # fmt: skip
    breadth_cm = serializers.DecimalField(max_digits=6, decimal_places=1, min_value=0, max_value=MAX_DIMENSION_CM,
                                          required=False, help_text=f"0 to {MAX_DIMENSION_CM} cm.")  # fmt: skip
    height_cm = serializers.DecimalField(max_digits=6, decimal_places=1, min_value=0, max_value=MAX_DIMENSION_CM,
                                         required=False, help_text=f"0 to {MAX_DIMENSION_CM} cm.")  # fmt: skip
    mode = serializers.ChoiceField(choices=CourierMode.choices, required=False, help_text="Only couriers of a mode.")
    sort = serializers.ChoiceField(
        choices=CourierSort.values,
        required=False,
        help_text="Order of `couriers`; `recommended` weighs price, speed and rating with the merchant's weights. "
        "Default: the merchant's default order (recommended).",
    )

    def validate(self, attrs):
        abroad = (attrs.get("country") or "IN") != "IN"
        errors = {}
        for name in ("pickup_postcode", "delivery_postcode"):
            if name in attrs:
                try:
                    attrs[name] = _well_formed(attrs[name], abroad)
                except serializers.ValidationError as exc:
                    errors[name] = exc.detail
        if errors:
            raise serializers.ValidationError(errors)
        if attrs.get("order") is None:
            missing = [name for name in ("pickup_postcode", "delivery_postcode", "weight_grams") if name not in attrs]
            if missing:
                raise serializers.ValidationError({name: ["Required unless `order` is given."] for name in missing})
        return attrs


def _well_formed(value: str, abroad: bool = False) -> str:
    if abroad:
        value = normalize_postcode(value)
        if not POSTCODE.match(value):
            raise serializers.ValidationError("A postcode is 2 to 10 letters, digits, spaces or dashes.")
        return value
    value = value.strip()
    if not PINCODE.match(value):
        raise serializers.ValidationError("A pincode is 6 digits, not starting with 0.")
    return value


class CourierQuoteOutput(serializers.Serializer):
    courier_id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    zone = serializers.ChoiceField(choices=Zone.choices)
    chargeable_weight_grams = serializers.IntegerField(help_text="Greater of dead and volumetric, in whole slabs.")
    freight_charge = money()
    cod_charge = money()
    fuel_surcharge = money()
    tax = money(help_text="GST (18%) on freight, COD and fuel.")
    total_charge = money(help_text="Freight + COD + fuel + GST.")
    estimated_delivery_days = serializers.IntegerField()
    etd = serializers.DateField(help_text="Estimated delivery date, from today.")
    rating = serializers.DecimalField(max_digits=3, decimal_places=2, help_text="0 to 5.")
    score = serializers.DecimalField(max_digits=5, decimal_places=4, help_text="0 to 1; the recommended order.")
    live_quote = serializers.BooleanField(
        source="live",
        help_text="Priced by the courier service itself just now (cached a few minutes; Shiprocket, Delhivery, "
        "EasyPost couriers), not by the rate card: the charges are the service's tax-inclusive total.",
    )


class BlockedCourierOutput(serializers.Serializer):
    courier_id = serializers.IntegerField()
    reason = serializers.CharField(help_text="Why the courier cannot take the parcel.")


class QuoteOutput(serializers.Serializer):
    zone = serializers.ChoiceField(choices=Zone.choices)
    recommended_courier_id = serializers.IntegerField(allow_null=True)
    couriers = CourierQuoteOutput(many=True)
    blocked = BlockedCourierOutput(many=True)

"""Input and output shapes of shipments, AWB pools, pickups, manifests, the NDR queue and notification settings."""

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from shipping.api.serializers import money
from shipping.models import (
    NDR,
    AWBPool,
    AWBPoolKind,
    Manifest,
    NDRAction,
    NotificationSetting,
    PickupRequest,
    Shipment,
)
from shipping.notifications import tracking_url
from shipping.selectors import awb_pool_remaining_of, manifest_document_of, shipment_label_of
from shopops.api.serializers import StrictInputMixin

#: Shipments one pickup or manifest request may name.
MAX_SHIPMENT_IDS = 500
#: Numbers one list pool may hold (JSON or file).
MAX_POOL_NUMBERS = 100_000
MAX_ID = 2**63 - 1


def _id(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def _download_url(document, context: dict) -> str:
    """A finished document's download link, absolute when there is a request (as ``DocumentOutput`` gives it)."""
    url = reverse("document-download", kwargs={"pk": document.pk})
    request = context.get("request")
    return request.build_absolute_uri(url) if request else url


# -- shipments --------------------------------------------------------------------------------------------------


class ShipmentChargesOutput(serializers.Serializer):
    freight = money()
    cod = money()
    fuel_surcharge = money()
    tax = money(help_text="GST on freight, COD and fuel.")
    total = money()
    currency = serializers.CharField()


class ShipmentPickupOutput(serializers.Serializer):
    id = serializers.IntegerField()
    token = serializers.CharField(help_text="The courier's pickup reference.")
    pickup_date = serializers.DateField()


class ShipmentManifestOutput(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()


class ShipmentLabelOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The label document's id (GET /documents/{id}/).")
    format = serializers.CharField(help_text="4x6 or a4-4up.")
    page_count = serializers.IntegerField(help_text="Pages of the whole document (it may hold other shipments).")
    download_url = serializers.URLField(help_text="The PDF.")


class ShipmentOutput(serializers.ModelSerializer):
    """A shipment read through ``shipping.selectors.shipment_queryset`` (courier, pickup and manifest joined, label
    documents prefetched)."""

    order_number = serializers.CharField(read_only=True)
    courier = serializers.CharField(source="courier.code", help_text="The courier's code.")
    courier_name = serializers.CharField(source="courier.name")
    routing_code = serializers.CharField(
        read_only=True,
        help_text="The courier's routing (sort) code, when its booking gave one (blank otherwise); the label prints "
                  "it in place of the zone route.",
    )  # fmt: skip
    charges = serializers.SerializerMethodField()
    pickup = serializers.SerializerMethodField()
    manifest = serializers.SerializerMethodField()
    label = serializers.SerializerMethodField(
        help_text="The latest finished label document printing the shipment's current AWB; null until one is made "
                  "(POST /documents/labels/).",
    )  # fmt: skip
    tracking_url = serializers.SerializerMethodField(help_text="The customer's tracking page; null without an AWB.")

    class Meta:
        model = Shipment
        fields = [
            "id", "order", "order_number", "courier", "courier_name", "awb", "routing_code", "status", "zone",
            "applied_weight_grams", "charges", "cod_amount", "pickup", "manifest", "label", "shipped_at",
            "delivered_at", "expected_delivery_date", "cancelled_at", "cancel_reason", "tracking_url", "created_at",
            "updated_at",
        ]  # fmt: skip

    @extend_schema_field(ShipmentChargesOutput)
    def get_charges(self, shipment: Shipment) -> dict:
        return ShipmentChargesOutput({
            "freight": shipment.freight_charge, "cod": shipment.cod_charge, "fuel_surcharge": shipment.fuel_surcharge,
            "tax": shipment.tax, "total": shipment.total_charge, "currency": shipment.currency,
        }).data  # fmt: skip

    @extend_schema_field(ShipmentPickupOutput(allow_null=True))
    def get_pickup(self, shipment: Shipment) -> dict | None:
        if shipment.pickup_id is None:
            return None
        return {"id": shipment.pickup_id, "token": shipment.pickup.token,
                "pickup_date": shipment.pickup.pickup_date.isoformat()}  # fmt: skip

    @extend_schema_field(ShipmentManifestOutput(allow_null=True))
    def get_manifest(self, shipment: Shipment) -> dict | None:
        if shipment.manifest_id is None:
            return None
        return {"id": shipment.manifest_id, "number": shipment.manifest.number}

    @extend_schema_field(ShipmentLabelOutput(allow_null=True))
    def get_label(self, shipment: Shipment) -> dict | None:
        document = shipment_label_of(shipment)
        if document is None:
            return None
        return {"id": document.pk, "format": document.format, "page_count": document.page_count,
                "download_url": _download_url(document, self.context)}  # fmt: skip

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_tracking_url(self, shipment: Shipment) -> str | None:
        return tracking_url(shipment, self.context.get("request")) if shipment.awb else None


class BookingWarningOutput(serializers.Serializer):
    code = serializers.CharField(help_text="eway_bill_required: the order's total is over EWAY_BILL_THRESHOLD "
                                           "(50,000 rupees by default) and it has no e-way bill number.")  # fmt: skip
    message = serializers.CharField()


class ShipmentBookingOutput(ShipmentOutput):
    """The shipment, as a booking answers it (create, assign-awb): with what the merchant should act on."""

    warnings = BookingWarningOutput(
        many=True, read_only=True,
        help_text="Not refusals: the booking is made. `eway_bill_required` until the order's e-way bill number is "
                  "set (PATCH /orders/{id}/ {eway_bill_number}).",
    )  # fmt: skip

    class Meta(ShipmentOutput.Meta):
        fields = [*ShipmentOutput.Meta.fields, "warnings"]


class ShipmentCreateInput(StrictInputMixin, serializers.Serializer):
    order = _id(help_text="The order's id: a confirmed or packed order of the merchant.")
    courier = serializers.SlugField(max_length=40, required=False,
                                    help_text="The courier's code; the recommended courier when omitted.")  # fmt: skip


class ShipmentAssignAWBInput(StrictInputMixin, serializers.Serializer):
    courier = serializers.SlugField(
        max_length=40, required=False,
        help_text="Another courier's code: reassign the shipment to it first (before pickup only; the old AWB "
                  "stays spent).",
    )  # fmt: skip


class ShipmentCancelInput(StrictInputMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class ShipmentEventOutput(serializers.Serializer):
    """One line of a shipment's timeline: a ShopOps event (``source`` shipment) or a courier scan (courier)."""

    source = serializers.ChoiceField(choices=["shipment", "courier"])
    id = serializers.IntegerField(help_text="The event's id within its source.")
    kind = serializers.CharField(help_text="created, awb_assigned, courier_changed, status_changed, manifested, "
                                           "ndr_action, eway_bill_required...; scan for a courier event.")  # fmt: skip
    occurred_at = serializers.DateTimeField()
    from_status = serializers.CharField(allow_blank=True)
    to_status = serializers.CharField(allow_blank=True, help_text="For a scan: the status its code means (blank: "
                                                                  "informational).")  # fmt: skip
    code = serializers.CharField(allow_blank=True, help_text="The courier's status code (scans).")
    description = serializers.CharField(allow_blank=True)
    location = serializers.CharField(allow_blank=True)
    actor = serializers.CharField()
    via = serializers.CharField(allow_null=True, help_text="How a scan arrived: webhook, poll, manual or csv.")
    applied = serializers.BooleanField(allow_null=True, help_text="Whether a scan moved the shipment's status.")


# -- AWB pools --------------------------------------------------------------------------------------------------


class AWBPoolOutput(serializers.ModelSerializer):
    courier = serializers.CharField(source="courier.code", help_text="The courier's code.")
    remaining = serializers.SerializerMethodField(help_text="Numbers not yet handed out.")
    low = serializers.SerializerMethodField(help_text="Fewer numbers remain than the low watermark.")

    class Meta:
        model = AWBPool
        fields = ["id", "courier", "name", "kind", "prefix", "width", "range_start", "range_end", "next_number",
                  "remaining", "low_watermark", "low", "is_active", "created_at"]  # fmt: skip

    def get_remaining(self, pool: AWBPool) -> int:
        return awb_pool_remaining_of(pool)

    def get_low(self, pool: AWBPool) -> bool:
        return awb_pool_remaining_of(pool) < pool.low_watermark


class AWBPoolInput(StrictInputMixin, serializers.Serializer):
    """A range pool (range_start..range_end, written as prefix + number padded to width) or a list pool
    (``numbers``, or in a multipart request a ``file`` with one AWB per line)."""

    kind = serializers.ChoiceField(choices=AWBPoolKind.choices)
    courier = serializers.SlugField(max_length=40, help_text="The courier's code.")
    name = serializers.CharField(max_length=80)
    low_watermark = serializers.IntegerField(min_value=0, max_value=10_000_000, default=100)
    range_start = serializers.IntegerField(min_value=0, max_value=10**18, required=False, help_text="Range pools.")
    range_end = serializers.IntegerField(min_value=0, max_value=10**18, required=False,
                                         help_text="Range pools; inclusive.")  # fmt: skip
    prefix = serializers.CharField(max_length=10, required=False, allow_blank=True, default="",
                                   help_text="Range pools: text before the number.")  # fmt: skip
    width = serializers.IntegerField(min_value=0, max_value=30, default=0,
                                     help_text="Range pools: pad numbers with zeros to this width.")  # fmt: skip
    numbers = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=MAX_POOL_NUMBERS,
        help_text=f"List pools: the AWBs (4 to 40 letters, digits or dashes), at most {MAX_POOL_NUMBERS:,}.",
    )  # fmt: skip
    file = serializers.FileField(
        required=False,
        help_text="List pools, multipart only: a text or CSV file with one AWB per line (a header `awb` is skipped).",
    )

    def validate(self, attrs):
        errors = {}
        if attrs["kind"] == AWBPoolKind.RANGE:
            for name in ("range_start", "range_end"):
                if name not in attrs:
                    errors[name] = ["Required for a range pool."]
            for name in ("numbers", "file"):
                if name in attrs:
                    errors[name] = ["Only for a list pool."]
        else:
            given = [name for name in ("numbers", "file") if name in attrs]
            if len(given) != 1:
                errors["numbers"] = ["Give the numbers, or upload them as `file`."]
            for name in ("range_start", "range_end"):
                if name in attrs:
                    errors[name] = ["Only for a range pool."]
            if "file" in attrs:
                attrs["numbers"] = _numbers_from_file(attrs.pop("file"))
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def _numbers_from_file(upload) -> list[str]:
    from django.conf import settings

    from shopops.api.exceptions import PayloadTooLarge

    if upload.size > settings.API_MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(settings.API_MAX_UPLOAD_BYTES)
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise serializers.ValidationError({"file": ["The file is not UTF-8 text."]}) from exc
    numbers = []
    for index, line in enumerate(text.splitlines()):
        cell = line.split(",")[0].strip().strip('"').strip()
        if index == 0 and cell.lower() in ("awb", "awbs", "awb_number", "number"):
            continue
        if cell:
            numbers.append(cell)
    if len(numbers) > MAX_POOL_NUMBERS:
        raise serializers.ValidationError({"file": [f"At most {MAX_POOL_NUMBERS:,} numbers."]})
    if not numbers:
        raise serializers.ValidationError({"file": ["The file holds no AWB."]})
    return numbers


class AWBPoolUpdateInput(StrictInputMixin, serializers.Serializer):
    is_active = serializers.BooleanField(required=False, help_text="An inactive pool hands out no numbers.")
    low_watermark = serializers.IntegerField(min_value=0, max_value=10_000_000, required=False)


# -- pickups and manifests --------------------------------------------------------------------------------------


def _shipment_ids_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=_id(), min_length=1, max_length=MAX_SHIPMENT_IDS, **kwargs)


class PickupOutput(serializers.ModelSerializer):
    pickup_token = serializers.CharField(source="token", help_text="The courier's pickup reference.")
    courier = serializers.CharField(source="courier.code", help_text="The courier's code.")
    location_nickname = serializers.CharField(source="location.nickname")
    shipment_ids = serializers.SerializerMethodField(help_text="The shipments booked on it (none once cancelled).")

    class Meta:
        model = PickupRequest
        fields = ["id", "pickup_token", "courier", "location", "location_nickname", "pickup_date", "status",
                  "shipment_ids", "created_at", "cancelled_at"]  # fmt: skip

    def get_shipment_ids(self, pickup: PickupRequest) -> list[int]:
        return [shipment.pk for shipment in pickup.shipments.all()]


class PickupCreateInput(StrictInputMixin, serializers.Serializer):
    location = serializers.CharField(max_length=100, required=False,
                                     help_text="Location id or nickname; the shipments' pickup location (must match "
                                               "it when given).")  # fmt: skip
    shipment_ids = _shipment_ids_field(help_text=f"Shipments with an AWB and no pickup yet, of one courier and one "
                                                 f"location; at most {MAX_SHIPMENT_IDS}.")  # fmt: skip
    pickup_date = serializers.DateField(required=False, help_text="Default: today before the courier's cut-off, "
                                                                  "else the next working day.")  # fmt: skip


class ManifestOutput(serializers.ModelSerializer):
    """A manifest read through ``shipping.selectors.manifest_queryset`` (shipment ids and documents prefetched)."""

    courier = serializers.CharField(source="courier.code", help_text="The courier's code.")
    location_nickname = serializers.CharField(source="location.nickname")
    shipment_ids = serializers.SerializerMethodField()
    document_url = serializers.SerializerMethodField(
        help_text="The latest finished PDF of the manifest; null until one is made (POST /documents/manifests/)."
    )

    class Meta:
        model = Manifest
        fields = ["id", "number", "courier", "location", "location_nickname", "pickup", "shipment_ids",
                  "document_url", "created_by", "created_at"]  # fmt: skip

    def get_shipment_ids(self, manifest: Manifest) -> list[int]:
        return [shipment.pk for shipment in manifest.shipments.all()]

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_document_url(self, manifest: Manifest) -> str | None:
        document = manifest_document_of(manifest)
        return _download_url(document, self.context) if document else None


class ManifestCreateInput(StrictInputMixin, serializers.Serializer):
    shipment_ids = _shipment_ids_field(required=False, help_text="The shipments to hand over (one courier, one "
                                                                 "location); or give `pickup`.")  # fmt: skip
    pickup = _id(required=False, help_text="A pickup's id: its shipments.")

    def validate(self, attrs):
        if ("shipment_ids" in attrs) == ("pickup" in attrs):
            raise serializers.ValidationError({"shipment_ids": ["Give shipment_ids or pickup (one of them)."]})
        return attrs


# -- NDR ----------------------------------------------------------------------------------------------------------


class NDROutput(serializers.ModelSerializer):
    """An NDR read through ``shipping.selectors.ndr_queryset`` (its shipment's AWB, order and courier)."""

    awb = serializers.CharField(source="shipment_awb")
    order = serializers.IntegerField(source="order_id")
    order_number = serializers.CharField()
    courier = serializers.CharField(source="courier_code", help_text="The courier's code.")
    age_days = serializers.SerializerMethodField(help_text="Whole days since the first failed attempt.")

    class Meta:
        model = NDR
        fields = ["id", "shipment", "awb", "order", "order_number", "courier", "status", "reason", "attempts",
                  "first_attempt_at", "last_attempt_at", "age_days", "action", "action_comment", "reattempt_date",
                  "action_by", "action_at", "resolved_at"]  # fmt: skip

    def get_age_days(self, ndr: NDR) -> int:
        now = self.context.get("now") or timezone.now()
        return max(0, (now - ndr.first_attempt_at).days)


class NDRActionInput(StrictInputMixin, serializers.Serializer):
    action = serializers.ChoiceField(choices=NDRAction.choices)
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    reattempt_date = serializers.DateField(required=False, help_text="Reattempt only; default tomorrow.")

    def validate(self, attrs):
        if attrs["action"] == NDRAction.RTO and attrs.get("reattempt_date"):
            raise serializers.ValidationError({"reattempt_date": ["Only with action reattempt."]})
        return attrs


# -- notification settings ---------------------------------------------------------------------------------------

NOTIFICATION_FIELDS = ["email_enabled", "sms_enabled", "on_shipped", "on_out_for_delivery", "on_delivered", "on_ndr",
                       "on_rto"]  # fmt: skip


class NotificationSettingOutput(serializers.ModelSerializer):
    class Meta:
        model = NotificationSetting
        fields = NOTIFICATION_FIELDS


class NotificationSettingInput(StrictInputMixin, serializers.Serializer):
    email_enabled = serializers.BooleanField(required=False, help_text="Send emails at all.")
    sms_enabled = serializers.BooleanField(required=False, help_text="Send SMS at all.")
    on_shipped = serializers.BooleanField(required=False)
    on_out_for_delivery = serializers.BooleanField(required=False)
    on_delivered = serializers.BooleanField(required=False)
    on_ndr = serializers.BooleanField(required=False)
    on_rto = serializers.BooleanField(required=False)

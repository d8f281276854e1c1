"""The merchant dashboard for shipping: couriers with their rate cards, serviceability imports, blocked pincodes
and a rate calculator; shipments with their tracking and NDRs, AWB pools, pickups, manifests, tracking events and
customer notifications, and an order action creating shipments with the recommended courier.

Every admin derives from ``MerchantScopedAdmin`` and writes only through ``shipping.services``; a refusal is a form
error or a message, never a 500.
"""

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from catalog.models import Location
from orders.admin import (
    DateRangeFilter,
    OrderAdmin,
    ShipDateFilter,
    actor_of,
    rendered_in_time_zone,
)
from orders.models import Order
from shipping.adapters import adapter_for
from shipping.models import (
    FINAL_STATUSES,
    NDR,
    AWBNumber,
    AWBPool,
    AWBPoolKind,
    BlockedPincode,
    Courier,
    CourierMode,
    Document,
    DocumentKind,
    DocumentStatus,
    Manifest,
    NDRAction,
    NDRStatus,
    Notification,
    NotificationSetting,
    PickupRequest,
    PostcodeZone,
    RateCard,
    ServiceablePincode,
    ShipBatch,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
    ShippingPreference,
    TrackingEvent,
)
from shipping.selectors import SORTS, quote, weights_for
from shipping.services.awb import awb_pool_create_list, awb_pool_create_range, awb_pool_set_active
from shipping.services.batches import SHIP_BATCH_MAX, ship_batch_create, ship_batch_resume
from shipping.services.couriers import (
    COURIER_FIELDS,
    COURIER_INTEGRATION_FIELDS,
    PINCODE,
    RATE_FIELDS,
    courier_create,
    courier_update,
    pincode_block,
    pincode_unblock,
    rate_card_set,
    serviceability_import,
    shipping_preference_set,
    zone_rule_set,
)
from shipping.services.documents import DOCUMENT_MAX_ITEMS, document_request
from shipping.services.manifests import MANIFESTABLE_STATUSES, manifest_create
from shipping.services.ndr import ndr_action
from shipping.services.notifications import notification_setting_set
from shipping.services.pickups import pickup_cancel, pickup_schedule
from shipping.services.ship import SHIP_SORTS, ShipOptions
from shipping.services.shipments import shipment_assign_awb, shipment_cancel, shipment_create
from shipping.services.tracking import tracking_import, tracking_record, tracking_refresh
from shipping.zones import UnknownPincode, place
from shopops.admin import (
    ActionReport,
    MerchantRelatedFilter,
    MerchantScopedAdmin,
    ParentRightsInline,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceAdmin,
    ServiceRefusal,
    action_form_page,
    adopt,
    refusal_reason,
    run_per_object,
    service_refusals,
)
from shopops.api.exceptions import ApiError
from shopops.errors import DomainError
from shopops.models import ADMIN_ROLES

# -- couriers and their rate cards ----------------------------------------------------------


class RateCardForm(forms.ModelForm):
    class Meta:
        model = RateCard
        fields = ["zone", *RATE_FIELDS]

    def clean_first_slab_price(self):
        price = self.cleaned_data["first_slab_price"]
        if price is not None and price <= 0:
            raise ValidationError("The first slab must cost more than zero.")
        return price


class CourierForm(forms.ModelForm):
    def clean_status_codes(self):
        codes = self.cleaned_data.get("status_codes") or {}
        if not isinstance(codes, dict):
            raise ValidationError('An object of the courier\'s codes and ShopOps statuses, e.g. {"DL": "delivered"}.')
        wrong = sorted(str(v) for v in codes.values() if v not in ShipmentStatus.values)
        if wrong:
            raise ValidationError(f"Unknown statuses: {', '.join(wrong)}; one of {', '.join(ShipmentStatus.values)}.")
        return codes


class RateCardInline(ParentRightsInline, admin.TabularInline):
    """A courier's prices per zone, saved through rate_card_set (one card per zone)."""

    model = RateCard
    form = RateCardForm
    fields = ["zone", *RATE_FIELDS]
    extra = 1
    can_delete = False  # a zone without a card blocks the courier there; change its prices instead

    def has_add_permission(self, request, obj=None) -> bool:
        return self._parent_may_change(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._parent_may_change(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


#: The courier's computed performance, shown read-only (courier_performance_refresh writes it).
PERFORMANCE = ("on_time_rate", "rto_rate", "avg_transit_days", "performance_shipments", "performance_updated_at")
#: What the courier form may write, through courier_create / courier_update.
COURIER_FORM_FIELDS = (*COURIER_FIELDS, *COURIER_INTEGRATION_FIELDS)


def serviceable_count_expression() -> Coalesce:
    pincodes = (
        ServiceablePincode.objects.filter(courier=OuterRef("pk")).order_by().values("courier")
        .annotate(n=Count("id")).values("n")
    )  # fmt: skip
    return Coalesce(Subquery(pincodes), 0)


@admin.register(Courier)
class CourierAdmin(ServiceAdmin):
    list_display = ["name", "code", "mode", "adapter", "supports_cod", "supports_reverse", "max_weight_grams",
                    "is_active", "zones", "serviceable", "import_link"]  # fmt: skip
    search_fields = ["name", "code"]
    list_filter = ["mode", "adapter", "is_active", "supports_cod"]
    form = CourierForm
    fieldsets = [
        (None, {"fields": ["merchant", *COURIER_FIELDS]}),
        ("Integration", {"fields": list(COURIER_INTEGRATION_FIELDS)}),
        ("Performance (computed from the courier's shipments of the last 90 days)", {"fields": list(PERFORMANCE)}),
        ("Dates", {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = [*PERFORMANCE, "created_at", "updated_at"]
    inlines = [RateCardInline]
    actions = ["deactivate_selected"]
    conflict_fields = {"duplicate_courier": "code"}

    def get_base_queryset(self, request) -> QuerySet:
        return (
            super()
            .get_base_queryset(request)
            .annotate(
                serviceable_count=serviceable_count_expression(),
                zone_count=Count("rate_cards", distinct=True),
            )
        )

    @admin.display(description="zones priced", ordering="zone_count")
    def zones(self, courier) -> str:
        return f"{courier.zone_count}/5"

    @admin.display(description="pincodes", ordering="serviceable_count")
    def serviceable(self, courier) -> str:
        url = reverse("admin:shipping_serviceablepincode_changelist")
        return format_html(
            '<a href="{}?courier__id__exact={}">{}</a>', url, courier.pk, f"{courier.serviceable_count:,}"
        )

    @admin.display(description="serviceability")
    def import_link(self, courier) -> str:
        return format_html('<a href="{}">Import CSV</a>', reverse("admin:shipping_courier_serviceability",
                                                                   args=[courier.pk]))  # fmt: skip

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # couriers are deactivated, never deleted: shipments refer to them

    def save_model(self, request, obj, form, change):
        with self.refusals():
            if change:
                data = {name: form.cleaned_data[name] for name in form.changed_data if name in COURIER_FORM_FIELDS}
                saved = courier_update(courier=Courier.objects.get(pk=obj.pk), data=data)
            else:
                data = {name: form.cleaned_data[name] for name in COURIER_FORM_FIELDS if name in form.cleaned_data}
                saved = courier_create(merchant=form.cleaned_data["merchant"], data=data)
        adopt(obj, saved)

    def save_formset(self, request, form, formset, change):
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        courier = form.instance
        for card_form in formset.forms:
            if not card_form.has_changed() or not card_form.cleaned_data:
                continue
            data = card_form.cleaned_data
            with self.refusals(label=f"Rate card {data.get('zone', '')}"):
                card = rate_card_set(courier=courier, zone=data["zone"],
                                     data={name: data[name] for name in RATE_FIELDS if name in data})  # fmt: skip
            if card_form.instance.pk:
                formset.changed_objects.append((card, card_form.changed_data))
            else:
                formset.new_objects.append(card)

    @admin.action(description="Deactivate selected couriers", permissions=["change"])
    def deactivate_selected(self, request, queryset):
        done = 0
        for courier in queryset:
            if self.has_change_permission(request, courier) and courier.is_active:
                courier_update(courier=courier, data={"is_active": False})
                done += 1
        self.message_user(request, f"Deactivated {done} courier(s).", messages.SUCCESS)

    # -- extra pages: serviceability import and rate calculator -----------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("rate-calculator/", view(self.rate_calculator_view), name="shipping_courier_rate_calculator"),
            path(
                "<int:object_id>/serviceability/",
                view(self.serviceability_view),
                name="shipping_courier_serviceability",
            ),  # fmt: skip
            *super().get_urls(),
        ]

    def _page(self, request, template: str, title: str, **context) -> TemplateResponse:
        request.current_app = self.admin_site.name
        return TemplateResponse(request, f"admin/shipping/courier/{template}", {
            **self.admin_site.each_context(request), "title": title, "subtitle": None, "opts": self.opts,
            "has_view_permission": self.has_view_permission(request), **context,
        })  # fmt: skip

    def serviceability_view(self, request, object_id: int):
        courier = self.get_queryset(request).filter(pk=object_id).first()
        if courier is None:
            raise Http404("No such courier.")
        if not self.has_change_permission(request, courier):
            raise PermissionDenied
        form = ServiceabilityUploadForm(request.POST or None, request.FILES or None)
        result = None
        if form.is_bound and form.is_valid():
            try:
                result = serviceability_import(courier=courier, fileobj=form.cleaned_data["file"].file,
                                               replace=form.cleaned_data["replace"],
                                               country=form.cleaned_data["country"] or "IN")  # fmt: skip
            except ValidationError as exc:
                form.add_error("file", exc.message_dict.get("file", exc.messages))
            else:
                if result.errors:
                    self.message_user(request, f"The file has {len(result.errors)} bad row(s) shown below; nothing "
                                      "was imported.", messages.ERROR)  # fmt: skip
                else:
                    self.message_user(request, f"Imported {result.imported:,} pincodes of {result.rows:,} rows for "
                                      f"{courier}.", messages.SUCCESS)  # fmt: skip
        total = ServiceablePincode.objects.filter(courier=courier).count()
        return self._page(request, "serviceability.html", f"Serviceable pincodes of {courier}", courier=courier,
                          form=form, result=result, total=total, media=self.media + form.media)  # fmt: skip

    def rate_calculator_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        merchant = self.writable_merchants(request).order_by("pk").first()
        if merchant is None:
            raise PermissionDenied
        form = RateCalculatorForm(request.GET if "weight_grams" in request.GET else None,
                                  initial=self._calculator_initial(merchant))  # fmt: skip
        result, names = None, {}
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            result = quote(
                merchant=merchant, pickup_postcode=data["pickup_postcode"], delivery_postcode=data["delivery_postcode"],
                weight_grams=data["weight_grams"], cod=data["cod"], declared_value=data["declared_value"] or Decimal(0),
                length_cm=data["length_cm"] or Decimal(0), breadth_cm=data["breadth_cm"] or Decimal(0),
                height_cm=data["height_cm"] or Decimal(0), mode=data["mode"] or None, sort=data["sort"],
                weights=weights_for(merchant)[0],
            )  # fmt: skip
            names = dict(Courier.objects.filter(merchant=merchant).values_list("pk", "name"))
        blocked = [
            {"name": names.get(b["courier_id"], b["courier_id"]), **b} for b in (result.blocked if result else [])
        ]
        return self._page(request, "rate_calculator.html", "Rate calculator", form=form, result=result,
                          blocked=blocked, merchant=merchant, media=self.media + form.media)  # fmt: skip

    def _calculator_initial(self, merchant) -> dict:
        location = Location.objects.filter(merchant=merchant, is_default=True).only("postcode").first()
        return {"pickup_postcode": location.postcode if location else "", "weight_grams": 500, "sort": "recommended"}

    def changelist_view(self, request, extra_context=None):
        extra_context = {"rate_calculator_url": reverse("admin:shipping_courier_rate_calculator"),
                         **(extra_context or {})}  # fmt: skip
        return super().changelist_view(request, extra_context)


class ServiceabilityUploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV (UTF-8): pincode, pickup, delivery, cod, reverse, oda (Y/N); the first line "
        "names the columns. All or nothing: a file with a bad row imports nothing."
    )
    replace = forms.BooleanField(
        required=False, initial=True, help_text="Replace the courier's pincodes; unticked, rows are added or updated."
    )
    country = forms.RegexField(r"^[A-Z]{2}$", initial="IN", max_length=2, required=False,
                               help_text="IN (default): 6-digit pincodes. Another country: its postcodes.")  # fmt: skip

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.API_MAX_UPLOAD_BYTES:
            raise ValidationError(f"The file is larger than the limit of {settings.API_MAX_UPLOAD_BYTES:,} bytes.")
        return upload


def _pincode_field(label: str) -> forms.CharField:
    return forms.CharField(label=label, max_length=6, min_length=6, help_text="6 digits.")


class RateCalculatorForm(forms.Form):
    pickup_postcode = _pincode_field("Pickup pincode")
    delivery_postcode = _pincode_field("Delivery pincode")
    weight_grams = forms.IntegerField(label="Weight (g)", min_value=1, max_value=1_000_000)
    length_cm = forms.DecimalField(label="Length (cm)", min_value=0, max_value=500, decimal_places=1, required=False)
    breadth_cm = forms.DecimalField(label="Breadth (cm)", min_value=0, max_value=500, decimal_places=1, required=False)
    height_cm = forms.DecimalField(label="Height (cm)", min_value=0, max_value=500, decimal_places=1, required=False)
    cod = forms.BooleanField(label="Cash on delivery", required=False)
    declared_value = forms.DecimalField(label="Declared value (INR)", min_value=0, max_digits=12, decimal_places=2,
                                        required=False)  # fmt: skip
    mode = forms.ChoiceField(choices=[("", "Any"), *CourierMode.choices], required=False)
    sort = forms.ChoiceField(choices=[(s, s.capitalize()) for s in SORTS], initial="recommended")

    def _clean_pincode(self, name: str) -> str:
        value = self.cleaned_data[name].strip()
        if not PINCODE.match(value):
            raise ValidationError("A pincode is 6 digits, not starting with 0.")
        try:
            place(value)
        except UnknownPincode as exc:
            raise ValidationError(f"{value} is not a known Indian pincode.") from exc
        return value

    def clean_pickup_postcode(self):
        return self._clean_pincode("pickup_postcode")

    def clean_delivery_postcode(self):
        return self._clean_pincode("delivery_postcode")


# -- pincodes ------------------------------------------------------------------------------------


@admin.register(ServiceablePincode)
class ServiceablePincodeAdmin(ReadOnlyAdmin):
    """Read-only: pincodes change through each courier's serviceability import."""

    list_display = ["pincode", "courier", "pickup", "delivery", "cod", "reverse", "oda"]
    search_fields = ["=pincode"]
    list_filter = [("courier", MerchantRelatedFilter), "pickup", "delivery", "cod", "oda"]
    list_select_related = ["courier"]
    show_full_result_count = False
    ordering = ["courier", "pincode"]


@admin.register(BlockedPincode)
class BlockedPincodeAdmin(ServiceAdmin):
    list_display = ["pincode", "reason", "created_at"]
    search_fields = ["=pincode", "reason"]
    fields = ["merchant", "pincode", "reason"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "pincode"] if obj is not None else []

    def delete_model(self, request, obj):
        pincode_unblock(merchant=obj.merchant, pincode=obj.pincode)

    def save_model(self, request, obj, form, change):
        with self.refusals():
            merchant = obj.merchant if change else form.cleaned_data["merchant"]
            saved = pincode_block(merchant=merchant, pincode=obj.pincode if change else form.cleaned_data["pincode"],
                                  reason=form.cleaned_data.get("reason", ""))  # fmt: skip
        adopt(obj, saved)


@admin.register(ShippingPreference)
class ShippingPreferenceAdmin(MerchantScopedAdmin):
    """How the merchant ranks couriers: the weights of price, speed and performance, and the default order."""

    list_display = ["merchant", "weight_price", "weight_speed", "weight_performance", "default_sort"]
    fields = ["merchant", "weight_price", "weight_speed", "weight_performance", "default_sort"]

    def save_model(self, request, obj, form, change):
        shipping_preference_set(merchant=obj.merchant, data={
            name: form.cleaned_data[name] for name in ("weight_price", "weight_speed", "weight_performance",
                                                       "default_sort")})  # fmt: skip


@admin.register(PostcodeZone)
class PostcodeZoneAdmin(ServiceAdmin):
    """Zone rules for countries other than India: the longest matching postcode prefixes decide the zone."""

    list_display = ["country", "origin_prefix", "destination_prefix", "zone"]
    list_filter = ["country", "zone"]
    search_fields = ["origin_prefix", "destination_prefix"]
    fields = ["merchant", "country", "origin_prefix", "destination_prefix", "zone"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        with self.refusals():
            saved = zone_rule_set(merchant=obj.merchant if change else data["merchant"], country=data["country"],
                                  origin_prefix=data["origin_prefix"], destination_prefix=data["destination_prefix"],
                                  zone=data["zone"])  # fmt: skip
        if change and saved.pk != obj.pk:
            PostcodeZone.objects.filter(pk=obj.pk).delete()  # the rule moved to other prefixes
        adopt(obj, saved)


# -- shipments ----------------------------------------------------------------------------------------------------

STATUS_LABELS = dict(ShipmentStatus.choices)
#: Shipment statuses tracking is refreshed for (booked with the courier and not yet final).
LIVE_STATUSES = [s for s in ShipmentStatus.values if s not in (*FINAL_STATUSES, ShipmentStatus.NEW)]


def status_phrase(status: str) -> str:
    """A status label inside a sentence: "AWB assigned", "picked up", "delivery failed (NDR)"."""
    label = str(STATUS_LABELS.get(status, status))
    first = label.split()[0]
    return label if first.isupper() else label[0].lower() + label[1:]


def shipment_refusal(exc: Exception) -> str:
    """A shipping service's refusal as a short phrase for an action's message."""
    if isinstance(exc, (DomainError, ApiError)):
        details = exc.details or {}
        if exc.code == "transition_not_allowed":
            return f"is {status_phrase(details['status'])}"
        if exc.code == "order_not_shippable":
            return f"is {details['status']}"
        if exc.code == "shipment_exists":
            return f"already has shipment {details['shipment']} ({status_phrase(details['status'])})"
        if exc.code == "awb_already_assigned":
            return f"already has AWB {details['awb']}"
    return refusal_reason(exc)


class PickupDateFilter(DateRangeFilter):
    """The pickup day (a date, not a timestamp: no time zone to read it in)."""

    title = "pickup date"
    field_name = "pickup_date"
    parameter_name = "pickup_date"

    def condition(self, tz) -> Q:
        first, last = self.days(tz)
        query = Q()
        if first is not None:
            query &= Q(pickup_date__gte=first)
        if last is not None:
            query &= Q(pickup_date__lte=last)
        return query


class DeliveredDateFilter(DateRangeFilter):
    title = "delivered date"
    field_name = "delivered_at"
    parameter_name = "delivered_date"


class OpenNDRFilter(admin.SimpleListFilter):
    title = "open NDR"
    parameter_name = "open_ndr"

    def lookups(self, request, model_admin):
        return [("yes", "With an open NDR"), ("no", "Without")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(has_open_ndr=True)
        if self.value() == "no":
            return queryset.filter(has_open_ndr=False)
        return queryset


def open_ndr_exists() -> Exists:
    return Exists(NDR.objects.filter(shipment=OuterRef("pk"), status__in=[NDRStatus.OPEN, NDRStatus.REATTEMPT]))


class TrackingEventInline(ReadOnlyInline):
    model = TrackingEvent
    verbose_name = "courier scan"
    verbose_name_plural = "tracking timeline (courier scans)"
    fields = ["occurred_at", "status", "code", "description", "location", "source", "applied"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("occurred_at", "id")


class ShipmentEventInline(ReadOnlyInline):
    model = ShipmentEvent
    verbose_name = "event"
    verbose_name_plural = "shipment timeline"
    fields = ["created_at", "kind", "from_status", "to_status", "actor", "message"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("id")


class NDRInline(ReadOnlyInline):
    model = NDR
    verbose_name_plural = "NDRs (failed deliveries)"
    fields = ["status", "reason", "attempts", "first_attempt_at", "last_attempt_at", "action", "reattempt_date",
              "action_comment", "action_by", "resolved_at"]  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("id")


class NotificationInline(ReadOnlyInline):
    model = Notification
    verbose_name_plural = "customer notifications"
    fields = ["created_at", "event", "channel", "recipient", "status", "sent_at", "error"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("id")


class ShipmentCancelForm(forms.Form):
    reason = forms.CharField(max_length=255, help_text="Recorded on each shipment and in its timeline.")


class ReassignForm(forms.Form):
    courier = forms.ModelChoiceField(queryset=Courier.objects.none(),
                                     help_text="The shipments move to this courier and get its AWBs; their old AWBs "
                                               "stay spent.")  # fmt: skip

    def __init__(self, *args, couriers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["courier"].queryset = couriers


class PickupForm(forms.Form):
    pickup_date = forms.DateField(required=False, help_text="YYYY-MM-DD. Blank: today before the courier's cut-off, "
                                                            "else the next working day.")  # fmt: skip


class TrackingEventForm(forms.Form):
    code = forms.CharField(max_length=40, help_text="A ShopOps status (picked_up, in_transit, out_for_delivery, "
                                                    "delivered, ndr, rto_initiated, rto_in_transit, rto_delivered, "
                                                    "lost) or one of the courier's status codes.")  # fmt: skip
    occurred_at = forms.DateTimeField(required=False, help_text="YYYY-MM-DD HH:MM (your time zone). Blank: now.")
    description = forms.CharField(max_length=500, required=False)
    location = forms.CharField(max_length=120, required=False, help_text="City of the scan.")


class TrackingUploadForm(forms.Form):
    courier = forms.ModelChoiceField(queryset=Courier.objects.none())
    file = forms.FileField(help_text="CSV (UTF-8): awb, status, occurred_at (ISO 8601 with its offset) and, "
                                     "optionally, description, location, event_id. A file with a bad row applies "
                                     "nothing.")  # fmt: skip

    def __init__(self, *args, couriers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["courier"].queryset = couriers

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.API_MAX_UPLOAD_BYTES:
            raise ValidationError(f"The file is larger than the limit of {settings.API_MAX_UPLOAD_BYTES:,} bytes.")
        return upload


def group_label(shipment: Shipment) -> str:
    return f"{shipment.courier.name} from {shipment.order.pickup_location.nickname}"


@admin.register(Shipment)
class ShipmentAdmin(MerchantScopedAdmin):
    """Shipments are created from orders (the order action, the API) and move only through the actions and the
    couriers' tracking; the change page shows them with their timelines."""

    list_display = ["id", "order_link", "courier", "awb", "status", "zone", "total_charge", "pickup_date",
                    "shipped_at", "delivered_at", "expected_delivery_date", "open_ndr"]  # fmt: skip
    list_select_related = ["order", "courier"]
    list_filter = [
        "status",
        ("courier", MerchantRelatedFilter),
        PickupDateFilter,
        ShipDateFilter,
        DeliveredDateFilter,
        OpenNDRFilter,
    ]
    search_fields = ["awb", "order__number", "order__customer__name", "order__customer__phone"]
    search_help_text = "AWB, order number, customer name or phone."
    show_full_result_count = False
    inlines = [TrackingEventInline, ShipmentEventInline, NDRInline, NotificationInline]
    actions = ["assign_awb_selected", "reassign_selected", "schedule_pickup_selected", "manifest_selected",
               "refresh_tracking_selected", "record_event_selected", "cancel_selected"]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["order_link", "courier", "awb", "status", "zone", "tracking_link"]}),
        ("Charges", {"fields": ["applied_weight_grams", "freight_charge", "cod_charge", "fuel_surcharge", "tax",
                                "total_charge", "currency", "cod_amount"]}),
        ("Pickup", {"fields": ["pickup", "pickup_date", "manifest"]}),
        ("Dates", {"fields": ["expected_delivery_date", "created_at", "awb_assigned_at", "shipped_at",
                              "delivered_at", "rto_initiated_at", "cancelled_at", "cancel_reason", "last_event_at",
                              "last_polled_at"]}),
    ]  # fmt: skip
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    def get_base_queryset(self, request) -> QuerySet:
        return super().get_base_queryset(request).annotate(has_open_ndr=open_ndr_exists())

    def get_object(self, request, object_id, from_field=None):
        queryset = self.get_queryset(request).select_related("order", "courier", "pickup", "manifest")
        try:
            return queryset.get(pk=int(object_id))
        except (Shipment.DoesNotExist, ValueError):
            return None

    def has_add_permission(self, request) -> bool:
        return False  # created from orders: the order action "Create shipments", or the API

    def has_change_permission(self, request, obj=None) -> bool:
        # Without an object: may the user run the actions. With one: the change page is view-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # cancelled, never deleted

    @admin.display(description="order", ordering="order__number")
    def order_link(self, shipment: Shipment):
        url = reverse("admin:orders_order_change", args=[shipment.order_id])
        return format_html('<a href="{}">{}</a>', url, shipment.order.number)

    @admin.display(description="open NDR", boolean=True, ordering="has_open_ndr")
    def open_ndr(self, shipment: Shipment) -> bool:
        return shipment.has_open_ndr

    @admin.display(description="tracking page")
    def tracking_link(self, shipment: Shipment):
        if not shipment.awb:
            return "-"
        url = reverse("track", args=[shipment.awb, shipment.tracking_token])
        return format_html('<a href="{}">{}</a>', url, url)

    # -- views in the merchant's time zone ----------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        extra_context = {"tracking_import_url": reverse("admin:shipping_shipment_tracking_import"),
                         **(extra_context or {})}  # fmt: skip
        return rendered_in_time_zone(
            request, lambda: super(ShipmentAdmin, self).changelist_view(request, extra_context)
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(ShipmentAdmin, self).changeform_view(request, object_id, form_url, extra_context)
        )

    # -- actions --------------------------------------------------------------------------------

    def _selected(self, queryset) -> list[Shipment]:
        return list(queryset.select_related("courier", "order__pickup_location", "merchant").order_by("pk"))

    def _run(self, request, queryset, verb: str, apply: Callable[[Shipment], object]) -> None:
        run_per_object(self, request, self._selected(queryset), ActionReport(verb, "shipment"), apply,
                       shipment_refusal)  # fmt: skip

    def _form_page(self, request, queryset, form, action: str, title: str):
        rows = queryset.select_related("order", "courier").order_by("pk")[:100]
        return action_form_page(self, request, form=form, title=title, action=action, rows_name="shipments",
                                rows=rows, count=queryset.count())  # fmt: skip

    def _couriers(self, request) -> QuerySet:
        return Courier.objects.filter(merchant__in=self.writable_merchants(request), is_active=True).order_by("name")

    def _writable(self, request, shipment: Shipment, report: ActionReport) -> bool:
        if MerchantScopedAdmin.has_change_permission(self, request, shipment):
            return True
        report.refused.append(f"{shipment} (your role only reads it)")
        return False

    @admin.action(description="Assign AWBs (current courier)", permissions=["change"])
    def assign_awb_selected(self, request, queryset):
        self._run(request, queryset, "Assigned AWBs to",
                  lambda shipment: shipment_assign_awb(shipment=shipment, actor=actor_of(request)))  # fmt: skip

    @admin.action(description="Reassign to another courier (new AWBs)…", permissions=["change"])
    def reassign_selected(self, request, queryset):
        form = ReassignForm(request.POST if "apply" in request.POST else None, prefix="reassign",
                            couriers=self._couriers(request))  # fmt: skip
        if form.is_bound and form.is_valid():
            courier = form.cleaned_data["courier"]
            self._run(request, queryset, f"Reassigned to {courier.name}",
                      lambda shipment: shipment_assign_awb(shipment=shipment, courier=courier,
                                                           actor=actor_of(request)))  # fmt: skip
            return None
        return self._form_page(request, queryset, form, "reassign_selected", "Reassign shipments")

    @admin.action(description="Cancel selected shipments…", permissions=["change"])
    def cancel_selected(self, request, queryset):
        form = ShipmentCancelForm(request.POST if "apply" in request.POST else None, prefix="cancel")
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._run(request, queryset, "Cancelled",
                      lambda shipment: shipment_cancel(shipment=shipment, reason=reason,
                                                       actor=actor_of(request)))  # fmt: skip
            return None
        return self._form_page(request, queryset, form, "cancel_selected", "Cancel shipments")

    @admin.action(description="Schedule pickups…", permissions=["change"])
    def schedule_pickup_selected(self, request, queryset):
        """One pickup per courier and location among the selected shipments waiting for one."""
        form = PickupForm(request.POST if "apply" in request.POST else None, prefix="pickup")
        if not (form.is_bound and form.is_valid()):
            return self._form_page(request, queryset, form, "schedule_pickup_selected", "Schedule pickups")
        day = form.cleaned_data["pickup_date"]
        report, booked = ActionReport("Scheduled the pickup of", "shipment"), []
        for group in self._groups(request, queryset, report, (ShipmentStatus.AWB_ASSIGNED,)):
            try:
                pickup = pickup_schedule(merchant=group[0].merchant, shipment_ids=[s.pk for s in group],
                                         actor=actor_of(request), pickup_date=day)  # fmt: skip
            except (DomainError, ApiError, ValidationError) as exc:
                report.refused.append(f"{group_label(group[0])} ({shipment_refusal(exc)})")
            else:
                report.done += len(group)
                booked.append(f"{pickup.token} ({group_label(group[0])} on {pickup.pickup_date}: "
                              f"{len(group)} shipment{'' if len(group) == 1 else 's'})")  # fmt: skip
        report.send(self, request)
        if booked:
            self.message_user(request, f"Pickups: {'; '.join(booked)}.", messages.INFO)
        return None

    @admin.action(description="Create manifests", permissions=["change"])
    def manifest_selected(self, request, queryset):
        """One manifest per courier and location among the selected shipments not yet picked up or listed."""
        report, made = ActionReport("Listed", "shipment"), []
        for group in self._groups(request, queryset, report, MANIFESTABLE_STATUSES, unlisted=True):
            try:
                manifest = manifest_create(merchant=group[0].merchant, shipment_ids=[s.pk for s in group],
                                           actor=actor_of(request))  # fmt: skip
            except (DomainError, ApiError, ValidationError) as exc:
                report.refused.append(f"{group_label(group[0])} ({shipment_refusal(exc)})")
            else:
                report.done += len(group)
                made.append(f"{manifest.number} ({group_label(group[0])}: {len(group)} "
                            f"shipment{'' if len(group) == 1 else 's'})")  # fmt: skip
        report.send(self, request)
        if made:
            self.message_user(request, f"Manifests: {'; '.join(made)}.", messages.INFO)

    def _groups(self, request, queryset, report: ActionReport, statuses, unlisted: bool = False
                ) -> list[list[Shipment]]:  # fmt: skip
        """The selected shipments in ``statuses`` by merchant, courier and pickup location; the others refused."""
        groups: dict[tuple, list[Shipment]] = {}
        for shipment in self._selected(queryset):
            if not self._writable(request, shipment, report):
                continue
            if shipment.status not in statuses:
                report.refused.append(f"{shipment} (is {status_phrase(shipment.status)})")
            elif unlisted and shipment.manifest_id:
                report.refused.append(f"{shipment} (already on a manifest)")
            else:
                key = (shipment.merchant_id, shipment.courier_id, shipment.order.pickup_location_id)
                groups.setdefault(key, []).append(shipment)
        return list(groups.values())

    @admin.action(description="Refresh tracking from the courier", permissions=["change"])
    def refresh_tracking_selected(self, request, queryset):
        report, polled = ActionReport("Refreshed the tracking of", "shipment"), []
        for shipment in self._selected(queryset):
            if not self._writable(request, shipment, report):
                continue
            if shipment.status not in LIVE_STATUSES:
                report.refused.append(f"{shipment} (is {status_phrase(shipment.status)})")
            elif not adapter_for(shipment.courier).polls:
                report.refused.append(f"{shipment} ({shipment.courier.name} is not polled: record its scans or "
                                      "upload its tracking CSV)")  # fmt: skip
            else:
                polled.append(shipment)
        result = tracking_refresh(shipments=polled) if polled else None
        report.done = len(polled)
        report.send(self, request)
        if result is not None:
            self.message_user(request, f"{result.accepted} new courier event{'' if result.accepted == 1 else 's'}, "
                              f"{result.applied} moving a shipment.", messages.INFO)  # fmt: skip

    @admin.action(description="Record a courier scan…", permissions=["change"])
    def record_event_selected(self, request, queryset):
        """For couriers without an integration: a scan read off the courier's portal or a call."""
        form = TrackingEventForm(request.POST if "apply" in request.POST else None, prefix="scan")
        if not (form.is_bound and form.is_valid()):
            return self._form_page(request, queryset, form, "record_event_selected", "Record a courier scan")
        data, unapplied = form.cleaned_data, []

        def record(shipment: Shipment):
            result = tracking_record(shipment=shipment, code=data["code"].strip(), actor=actor_of(request),
                                     occurred_at=data["occurred_at"], description=data["description"],
                                     location=data["location"])  # fmt: skip
            if not result.applied:
                unapplied.append(str(shipment))

        self._run(request, queryset, "Recorded the scan on", record)
        if unapplied:
            self.message_user(request, f"Kept in the timeline without moving the shipment (older than its latest "
                              f"event, or not a step forward): {', '.join(unapplied)}.", messages.WARNING)  # fmt: skip
        return None

    # -- the tracking CSV upload page ---------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("tracking-import/", view(self.tracking_import_view), name="shipping_shipment_tracking_import"),
                *super().get_urls()]  # fmt: skip

    def tracking_import_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = TrackingUploadForm(request.POST or None, request.FILES or None, couriers=self._couriers(request))
        result = None
        if form.is_bound and form.is_valid():
            courier = form.cleaned_data["courier"]
            try:
                result = tracking_import(courier=courier, fileobj=form.cleaned_data["file"].file,
                                         actor=actor_of(request))  # fmt: skip
            except ValidationError as exc:
                form.add_error("file", exc.message_dict.get("file", exc.messages))
            else:
                if result.errors:
                    self.message_user(request, f"The file has {len(result.errors)} bad row(s) shown below; nothing "
                                      "was applied.", messages.ERROR)  # fmt: skip
                else:
                    self.message_user(request, f"{courier.name}: {result.accepted} new events ({result.applied} "
                                      f"moving a shipment, {result.orphans} for unknown AWBs), {result.duplicates} "
                                      "already received.", messages.SUCCESS)  # fmt: skip
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/shipping/shipment/tracking_import.html", {
            **self.admin_site.each_context(request), "title": "Upload tracking (CSV)", "subtitle": None,
            "opts": self.opts, "form": form, "result": result, "media": self.media + form.media,
            "has_view_permission": self.has_view_permission(request),
        })  # fmt: skip


# -- the order desk's action: shipments with the recommended courier ----------------------------------------------


@admin.action(description="Create shipments (recommended courier)", permissions=["change"])
def create_shipments_selected(modeladmin, request, queryset):
    """Each selected confirmed or packed order gets a shipment with the merchant's recommended courier."""
    orders = list(queryset.order_by("pk"))
    run_per_object(modeladmin, request, orders, ActionReport("Created shipments for", "order"),
                   lambda order: shipment_create(order=order, actor=actor_of(request)), shipment_refusal)  # fmt: skip


# orders does not know shipping: the shipping app adds its action to the order desk.
OrderAdmin.actions = [*OrderAdmin.actions, create_shipments_selected]


# -- AWB pools ------------------------------------------------------------------------------------------------------


def remaining_expression() -> Case:
    free = (AWBNumber.objects.filter(pool=OuterRef("pk"), used_at__isnull=True).order_by().values("pool")
            .annotate(n=Count("id")).values("n"))  # fmt: skip
    return Case(
        When(kind=AWBPoolKind.RANGE, then=F("range_end") - F("next_number") + 1),
        default=Coalesce(Subquery(free), 0),
        output_field=IntegerField(),
    )


class RangePoolForm(forms.Form):
    courier = forms.ModelChoiceField(queryset=Courier.objects.none())
    name = forms.CharField(max_length=80, help_text="Unique among your pools, e.g. 'Blue Dart 2026'.")
    prefix = forms.CharField(max_length=10, required=False, help_text="Text before the number, e.g. BD.")
    width = forms.IntegerField(min_value=0, max_value=30, initial=0, help_text="Pad numbers with zeros to this "
                                                                               "width (0: no padding).")  # fmt: skip
    range_start = forms.IntegerField(label="First number", min_value=0)
    range_end = forms.IntegerField(label="Last number", min_value=0, help_text="Inclusive.")
    low_watermark = forms.IntegerField(min_value=0, initial=100, help_text="Warn when fewer numbers remain.")

    def __init__(self, *args, couriers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["courier"].queryset = couriers


class ListPoolForm(forms.Form):
    courier = forms.ModelChoiceField(queryset=Courier.objects.none())
    name = forms.CharField(max_length=80, help_text="Unique among your pools.")
    file = forms.FileField(required=False, help_text="A text file with one AWB per line.")
    numbers = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False,
                              help_text="Or paste the AWBs here, one per line.")  # fmt: skip
    low_watermark = forms.IntegerField(min_value=0, initial=100, help_text="Warn when fewer numbers remain.")

    def __init__(self, *args, couriers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["courier"].queryset = couriers

    def clean(self):
        cleaned = super().clean()
        upload, text = cleaned.get("file"), cleaned.get("numbers") or ""
        if upload is not None:
            if upload.size > settings.API_MAX_UPLOAD_BYTES:
                self.add_error("file", f"The file is larger than the limit of {settings.API_MAX_UPLOAD_BYTES:,} "
                                       "bytes.")  # fmt: skip
                return cleaned
            try:
                text += "\n" + upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("file", "The file is not UTF-8 text.")
                return cleaned
        cleaned["awbs"] = [line.strip() for line in text.splitlines() if line.strip()]
        if not cleaned["awbs"] and not self.errors:
            self.add_error("numbers", "Upload a file or paste the numbers.")
        return cleaned


@admin.register(AWBPool)
class AWBPoolAdmin(MerchantScopedAdmin):
    """AWB numbers a courier allotted: added as a range or a list, switched on and off, never edited by hand."""

    list_display = ["name", "courier", "kind", "numbers", "remaining", "low_watermark", "low", "is_active",
                    "created_at"]  # fmt: skip
    list_select_related = ["courier"]
    list_filter = [("courier", MerchantRelatedFilter), "kind", "is_active"]
    search_fields = ["name"]
    actions = ["activate_selected", "deactivate_selected"]
    fields = ["name", "courier", "kind", "prefix", "width", "range_start", "range_end", "next_number", "remaining",
              "low_watermark", "is_active", "created_at"]  # fmt: skip
    readonly_fields = fields

    def get_base_queryset(self, request) -> QuerySet:
        return super().get_base_queryset(request).annotate(remaining_count=remaining_expression())

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # spent numbers are remembered: deactivate a pool instead

    @admin.display(description="numbers")
    def numbers(self, pool: AWBPool) -> str:
        if pool.kind == AWBPoolKind.RANGE:
            return f"{pool.prefix}{pool.range_start:0{pool.width}d} … {pool.prefix}{pool.range_end:0{pool.width}d}"
        return "uploaded list"

    @admin.display(description="remaining", ordering="remaining_count")
    def remaining(self, pool: AWBPool) -> str:
        return f"{pool.remaining_count:,}"

    @admin.display(description="low")
    def low(self, pool: AWBPool):
        if pool.remaining_count < pool.low_watermark:
            return format_html('<strong class="awb-pool-low" style="color: #ba2121;">Low: {} left</strong>',
                               f"{pool.remaining_count:,}")  # fmt: skip
        return "-"

    def _pools(self, request, queryset, is_active: bool, verb: str) -> None:
        report = ActionReport(verb, "pool")
        run_per_object(self, request, list(queryset.order_by("pk")), report,
                       lambda pool: awb_pool_set_active(pool=pool, is_active=is_active), refusal_reason)  # fmt: skip

    @admin.action(description="Activate selected pools", permissions=["change"])
    def activate_selected(self, request, queryset):
        self._pools(request, queryset, True, "Activated")

    @admin.action(description="Deactivate selected pools", permissions=["change"])
    def deactivate_selected(self, request, queryset):
        self._pools(request, queryset, False, "Deactivated")

    # -- the add page: a range, or a list -----------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        kind = AWBPoolKind.LIST if request.GET.get("kind") == AWBPoolKind.LIST else AWBPoolKind.RANGE
        couriers = Courier.objects.filter(merchant__in=self.writable_merchants(request)).order_by("name")
        form_class = ListPoolForm if kind == AWBPoolKind.LIST else RangePoolForm
        form = form_class(request.POST or None, request.FILES or None, couriers=couriers)
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                with service_refusals({"duplicate_awb_pool": "name", "awb_pool_overlap": "range_start"}):
                    if kind == AWBPoolKind.RANGE:
                        pool = awb_pool_create_range(courier=data["courier"], name=data["name"],
                                                     start=data["range_start"], end=data["range_end"],
                                                     prefix=data["prefix"], width=data["width"],
                                                     low_watermark=data["low_watermark"])  # fmt: skip
                    else:
                        pool = awb_pool_create_list(courier=data["courier"], name=data["name"], numbers=data["awbs"],
                                                    low_watermark=data["low_watermark"])  # fmt: skip
            except ServiceRefusal as refusal:
                for field, field_messages in refusal.errors.items():
                    form.add_error(field if field in form.fields else None, field_messages)
            else:
                self.message_user(request, f"Added pool {pool.name} of {data['courier'].name}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:shipping_awbpool_changelist"))
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/shipping/awbpool/add.html", {
            **self.admin_site.each_context(request), "subtitle": None, "opts": self.opts, "form": form, "kind": kind,
            "title": "Add a range of AWB numbers" if kind == AWBPoolKind.RANGE else "Upload a list of AWB numbers",
            "media": self.media + form.media, "has_view_permission": self.has_view_permission(request),
        })  # fmt: skip


# -- pickups and manifests ----------------------------------------------------------------------------------------


class PoolShipmentInline(ReadOnlyInline):
    """The shipments of a pickup or a manifest."""

    model = Shipment
    fields = ["awb", "order_number", "status", "zone", "total_charge", "expected_delivery_date"]
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order").order_by("id")

    @admin.display(description="order")
    def order_number(self, shipment: Shipment) -> str:
        return shipment.order.number


class PickupShipmentInline(PoolShipmentInline):
    fk_name = "pickup"


class ManifestShipmentInline(PoolShipmentInline):
    fk_name = "manifest"


@admin.register(PickupRequest)
class PickupRequestAdmin(MerchantScopedAdmin):
    """Courier visits, booked by the shipments' "Schedule pickups" action; cancelled here."""

    list_display = ["token", "courier", "location", "pickup_date", "status", "shipment_count", "created_at"]
    list_select_related = ["courier", "location"]
    list_filter = ["status", ("courier", MerchantRelatedFilter), "pickup_date"]
    search_fields = ["token"]
    inlines = [PickupShipmentInline]
    actions = ["cancel_selected"]
    fields = ["token", "courier", "location", "pickup_date", "status", "created_by", "created_at", "cancelled_at"]
    readonly_fields = fields

    def get_base_queryset(self, request) -> QuerySet:
        return super().get_base_queryset(request).annotate(shipments_count=Count("shipments"))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="shipments", ordering="shipments_count")
    def shipment_count(self, pickup: PickupRequest) -> int:
        return pickup.shipments_count

    @admin.action(description="Cancel selected pickups", permissions=["change"])
    def cancel_selected(self, request, queryset):
        pickups, actor = list(queryset.order_by("pk")), actor_of(request)
        run_per_object(self, request, pickups, ActionReport("Cancelled", "pickup"),
                       lambda pickup: pickup_cancel(pickup=pickup, actor=actor), refusal_reason)  # fmt: skip


@admin.register(Manifest)
class ManifestAdmin(ReadOnlyAdmin):
    """Hand-over lists, made by the shipments' "Create manifests" action."""

    list_display = ["number", "courier", "location", "pickup", "shipment_count", "created_by", "created_at"]
    list_select_related = ["courier", "location", "pickup"]
    list_filter = [("courier", MerchantRelatedFilter)]
    search_fields = ["number"]
    inlines = [ManifestShipmentInline]
    fields = ["number", "courier", "location", "pickup", "created_by", "created_at"]
    readonly_fields = fields

    def get_base_queryset(self, request) -> QuerySet:
        return super().get_base_queryset(request).annotate(shipments_count=Count("shipments"))

    @admin.display(description="shipments", ordering="shipments_count")
    def shipment_count(self, manifest: Manifest) -> int:
        return manifest.shipments_count


# -- the NDR queue ----------------------------------------------------------------------------------------------------


class NDRAgeFilter(admin.SimpleListFilter):
    """Days since the first failed attempt."""

    title = "age"
    parameter_name = "age"
    #: value: (label, at least this many days, fewer than this many days)
    buckets = {"0-1": ("0–1 days", 0, 2), "2-3": ("2–3 days", 2, 4), "4-7": ("4–7 days", 4, 8),
               "older": ("Older", 8, None)}  # fmt: skip

    def lookups(self, request, model_admin):
        return [(value, label) for value, (label, _, _) in self.buckets.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.buckets:
            return queryset
        _, least, below = self.buckets[self.value()]
        now = timezone.now()
        queryset = queryset.filter(first_attempt_at__lte=now - timedelta(days=least))
        return queryset if below is None else queryset.filter(first_attempt_at__gt=now - timedelta(days=below))


class ReattemptForm(forms.Form):
    reattempt_date = forms.DateField(required=False, help_text="YYYY-MM-DD. Blank: tomorrow.")
    comment = forms.CharField(max_length=500, required=False,
                              help_text="For the courier, e.g. a landmark or a better time to call.")  # fmt: skip


class RTOForm(forms.Form):
    comment = forms.CharField(max_length=500, required=False, help_text="Why the parcel comes back.")


@admin.register(NDR)
class NDRAdmin(MerchantScopedAdmin):
    """Failed deliveries waiting for the merchant: reattempt, or return to origin (ndr_action)."""

    list_display = ["awb", "order", "courier", "reason", "attempts", "age", "status", "action", "reattempt_date",
                    "last_attempt_at"]  # fmt: skip
    list_select_related = ["shipment__order", "shipment__courier"]
    list_filter = ["status", "reason", ("shipment__courier", MerchantRelatedFilter), NDRAgeFilter]
    search_fields = ["shipment__awb", "shipment__order__number"]
    search_help_text = "AWB or order number."
    actions = ["reattempt_selected", "rto_selected"]
    fields = ["shipment", "status", "reason", "attempts", "first_attempt_at", "last_attempt_at", "action",
              "action_comment", "reattempt_date", "action_by", "action_at", "resolved_at"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # opened by the courier's failed-delivery events

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="AWB", ordering="shipment__awb")
    def awb(self, ndr: NDR):
        url = reverse("admin:shipping_shipment_change", args=[ndr.shipment_id])
        return format_html('<a href="{}">{}</a>', url, ndr.shipment.awb)

    @admin.display(description="order", ordering="shipment__order__number")
    def order(self, ndr: NDR) -> str:
        return ndr.shipment.order.number

    @admin.display(description="courier")
    def courier(self, ndr: NDR) -> str:
        return ndr.shipment.courier.name

    @admin.display(description="age (days)", ordering="first_attempt_at")
    def age(self, ndr: NDR) -> int:
        return (timezone.now() - ndr.first_attempt_at).days

    def _act(self, request, queryset, verb: str, action: str, comment: str, reattempt_date: date | None = None):
        ndrs = list(queryset.select_related("shipment").order_by("pk"))
        run_per_object(self, request, ndrs, ActionReport(verb, "NDR"),
                       lambda ndr: ndr_action(ndr=ndr, action=action, actor=actor_of(request), comment=comment,
                                              reattempt_date=reattempt_date), ndr_refusal)  # fmt: skip

    def _form_page(self, request, queryset, form, action: str, title: str):
        rows = queryset.select_related("shipment__order", "shipment__courier").order_by("pk")[:100]
        return action_form_page(self, request, form=form, title=title, action=action, rows_name="ndrs", rows=rows,
                                count=queryset.count())  # fmt: skip

    @admin.action(description="Reattempt delivery…", permissions=["change"])
    def reattempt_selected(self, request, queryset):
        form = ReattemptForm(request.POST if "apply" in request.POST else None, prefix="reattempt")
        if form.is_bound and form.is_valid():
            self._act(request, queryset, "Requested a reattempt for", NDRAction.REATTEMPT,
                      form.cleaned_data["comment"], form.cleaned_data["reattempt_date"])  # fmt: skip
            return None
        return self._form_page(request, queryset, form, "reattempt_selected", "Reattempt delivery")

    @admin.action(description="Return to origin…", permissions=["change"])
    def rto_selected(self, request, queryset):
        form = RTOForm(request.POST if "apply" in request.POST else None, prefix="rto")
        if form.is_bound and form.is_valid():
            self._act(request, queryset, "Returned to origin", NDRAction.RTO, form.cleaned_data["comment"])
            return None
        return self._form_page(request, queryset, form, "rto_selected", "Return to origin")

    def changelist_view(self, request, extra_context=None):
        return rendered_in_time_zone(request, lambda: super(NDRAdmin, self).changelist_view(request, extra_context))


def ndr_refusal(exc: Exception) -> str:
    if isinstance(exc, ApiError) and exc.code == "ndr_resolved":
        return f"is resolved ({exc.details['status']})"
    if isinstance(exc, ApiError) and exc.code == "ndr_action_taken":
        return f"a reattempt on {exc.details['reattempt_date']} is already requested"
    return shipment_refusal(exc)


# -- tracking events and notifications ------------------------------------------------------------------------------


class OrphanFilter(admin.SimpleListFilter):
    title = "shipment"
    parameter_name = "orphan"

    def lookups(self, request, model_admin):
        return [("yes", "Orphans (unknown AWB)"), ("no", "Of a shipment")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(shipment__isnull=self.value() == "yes")
        return queryset


@admin.register(TrackingEvent)
class TrackingEventAdmin(ReadOnlyAdmin):
    """Every courier scan received (webhook, polling, by hand, CSV), including orphans for unknown AWBs."""

    list_display = ["occurred_at", "awb", "courier", "shipment_link", "status", "code", "description", "location",
                    "source", "applied", "received_at"]  # fmt: skip
    list_select_related = ["courier"]
    list_filter = ["source", "applied", "status", ("courier", MerchantRelatedFilter), OrphanFilter]
    search_fields = ["=awb", "code"]
    show_full_result_count = False
    fields = ["awb", "courier", "shipment", "event_key", "status", "code", "description", "location", "occurred_at",
              "source", "applied", "raw", "received_at"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="shipment", ordering="shipment_id")
    def shipment_link(self, event: TrackingEvent):
        if event.shipment_id is None:
            return "orphan"
        return format_html('<a href="{}">{}</a>', reverse("admin:shipping_shipment_change", args=[event.shipment_id]),
                           event.shipment_id)  # fmt: skip

    def changelist_view(self, request, extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(TrackingEventAdmin, self).changelist_view(request, extra_context)
        )


@admin.register(NotificationSetting)
class NotificationSettingAdmin(MerchantScopedAdmin):
    """Which customer notifications the merchant sends (notification_setting_set); all on until changed."""

    write_roles = ADMIN_ROLES
    list_display = ["merchant", "email_enabled", "sms_enabled", "on_shipped", "on_out_for_delivery", "on_delivered",
                    "on_ndr", "on_rto"]  # fmt: skip
    list_select_related = ["merchant"]
    fields = ["merchant", "email_enabled", "sms_enabled", "on_shipped", "on_out_for_delivery", "on_delivered",
              "on_ndr", "on_rto"]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return ["merchant"] if obj is not None else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        merchant = obj.merchant if change else form.cleaned_data["merchant"]
        saved = notification_setting_set(merchant=merchant, data={
            name: form.cleaned_data[name] for name in self.fields if name != "merchant"})  # fmt: skip
        adopt(obj, saved)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """The log of customer messages (email and SMS): each sent at most once."""

    list_display = ["created_at", "shipment", "event", "channel", "recipient", "status", "sent_at", "error"]
    list_select_related = ["shipment"]
    list_filter = ["event", "channel", "status"]
    search_fields = ["recipient", "=shipment__awb"]
    show_full_result_count = False
    fields = ["shipment", "tracking_event", "event", "channel", "recipient", "status", "error", "created_at",
              "sent_at"]  # fmt: skip
    readonly_fields = fields

    def changelist_view(self, request, extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(NotificationAdmin, self).changelist_view(request, extra_context)
        )


# -- documents ------------------------------------------------------------------------------------------------------


def _document_link(document: Document):
    if document.status == DocumentStatus.DONE:
        url = reverse("admin:shipping_document_download", args=[document.pk])
        label = (
            f"{document.get_kind_display()} PDF ({document.page_count} page{'' if document.page_count == 1 else 's'})"
        )
    else:
        url = reverse("admin:shipping_document_change", args=[document.pk])
        label = f"{document.get_kind_display()}: {document.get_status_display().lower()}"
        if document.error:
            label += f" ({document.error})"
    return format_html('<a href="{}">{}</a>', url, label)


def request_documents(model_admin, request, objects: list, kind: str, format: str | None = None) -> None:
    """One document per merchant among ``objects`` (shipments, orders or a manifest), with a link to each."""
    by_merchant: dict[int, list] = {}
    for obj in objects:
        by_merchant.setdefault(obj.merchant_id, []).append(obj)
    for items in by_merchant.values():
        if not all(MerchantScopedAdmin.has_change_permission(model_admin, request, obj) for obj in items):
            model_admin.message_user(request, "Your role only reads these; nothing was printed.", messages.ERROR)
            continue
        try:
            document = document_request(merchant=items[0].merchant, kind=kind, ids=[obj.pk for obj in items],
                                        format=format, actor=actor_of(request))  # fmt: skip
        except (DomainError, ApiError, ValidationError) as exc:
            model_admin.message_user(request, f"Nothing printed: {shipment_refusal(exc)}.", messages.ERROR)
            continue
        document.refresh_from_db()
        left_out = "; ".join(f"{item['id']}: {item['reason']}" for item in document.not_created[:20])
        message = format_html("{} for {} item{}: {}{}", document.get_kind_display(), len(items),
                              "" if len(items) == 1 else "s", _document_link(document),
                              f". Left out: {left_out}" if left_out else "")  # fmt: skip
        level = (
            messages.WARNING if document.not_created or document.status == DocumentStatus.FAILED else messages.SUCCESS
        )
        model_admin.message_user(request, message, level)


def _print_action(kind: str, description: str, format: str | None = None, through: str | None = None):
    def action(model_admin, request, queryset):
        objects = list(queryset.select_related("merchant").order_by("pk"))
        if through == "shipments":  # labels of orders: their live shipments
            objects = list(Shipment.objects.filter(order__in=objects).exclude(status=ShipmentStatus.CANCELLED)
                           .select_related("merchant").order_by("order_id"))  # fmt: skip
            if not objects:
                model_admin.message_user(request, "None of the selected orders has a shipment.", messages.ERROR)
                return
        if len(objects) > DOCUMENT_MAX_ITEMS:
            model_admin.message_user(request, f"Select at most {DOCUMENT_MAX_ITEMS} at a time.", messages.ERROR)
            return
        request_documents(model_admin, request, objects, kind, format)

    action.__name__ = f"print_{kind}_{(format or 'default').replace('-', '_')}_{through or 'direct'}"
    return admin.action(description=description, permissions=["change"])(action)


ShipmentAdmin.actions = [
    *ShipmentAdmin.actions,
    _print_action(DocumentKind.LABEL, "Print labels (4x6 in)", "4x6"),
    _print_action(DocumentKind.LABEL, "Print labels (A4, 4 a sheet)", "a4-4up"),
]
OrderAdmin.actions = [
    *OrderAdmin.actions,
    _print_action(DocumentKind.INVOICE, "Print tax invoices"),
    _print_action(DocumentKind.PACKING_SLIP, "Print packing slips (A4)", "a4"),
    _print_action(DocumentKind.PACKING_SLIP, "Print packing slips (A5)", "a5"),
    _print_action(DocumentKind.LABEL, "Print shipping labels (4x6 in)", "4x6", through="shipments"),
]


@admin.action(description="Print manifests", permissions=["print"])
def print_manifests_selected(modeladmin, request, queryset):
    for manifest in queryset.select_related("merchant").order_by("pk"):
        request_documents(modeladmin, request, [manifest], DocumentKind.MANIFEST)


def _may_print(model_admin, request) -> bool:
    return MerchantScopedAdmin.has_change_permission(model_admin, request)


ManifestAdmin.actions = [*ManifestAdmin.actions, print_manifests_selected]
ManifestAdmin.has_print_permission = _may_print


class _DocumentInline(ReadOnlyInline):
    """The documents printed for the shipment or order."""

    fields = ["document_link", "status", "created"]
    readonly_fields = fields
    extra = 0
    verbose_name = "document"
    verbose_name_plural = "documents"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("document").order_by("-document_id")

    @admin.display(description="document")
    def document_link(self, row):
        return _document_link(row.document)

    @admin.display(description="status")
    def status(self, row) -> str:
        return row.document.get_status_display()

    @admin.display(description="created")
    def created(self, row):
        return row.document.created_at


class ShipmentDocumentInline(_DocumentInline):
    model = Document.shipments.through


class OrderDocumentInline(_DocumentInline):
    model = Document.orders.through


ShipmentAdmin.inlines = [*ShipmentAdmin.inlines, ShipmentDocumentInline]
OrderAdmin.inlines = [*OrderAdmin.inlines, OrderDocumentInline]


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    """PDFs made by the print actions and the API; the file is served only here, to the merchant's users."""

    list_display = ["id", "kind", "format", "status", "page_count", "requested_by", "created_at", "finished_at",
                    "download"]  # fmt: skip
    list_filter = ["kind", "status"]
    fields = ["kind", "format", "status", "page_count", "not_created", "error", "manifest", "requested_by",
              "created_at", "started_at", "finished_at", "download"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="PDF")
    def download(self, document: Document):
        return _document_link(document) if document.status == DocumentStatus.DONE else "-"

    def get_urls(self):
        view = self.admin_site.admin_view(self.download_view)
        return [path("<int:object_id>/download/", view, name="shipping_document_download"), *super().get_urls()]

    def download_view(self, request, object_id: int):
        document = self.get_queryset(request).filter(pk=object_id).first()
        if document is None or not self.has_view_permission(request, document):
            raise Http404
        if document.status != DocumentStatus.DONE:
            return HttpResponseRedirect(reverse("admin:shipping_document_change", args=[document.pk]))
        return FileResponse(document.file.open("rb"), content_type="application/pdf",
                            filename=f"{document.kind}-{document.pk}.pdf")  # fmt: skip


# -- ship batches ---------------------------------------------------------------------------------------------------


class ShipBatchForm(forms.Form):
    """The options of "Ship selected orders…"."""

    sort = forms.ChoiceField(
        choices=[("", "The merchant's default order"), *((s, s.capitalize()) for s in SHIP_SORTS)], required=False,
        help_text="How each order's courier is picked among those that can carry it.")  # fmt: skip
    request_pickup = forms.BooleanField(label="Request pickups", required=False, initial=True,
                                        help_text="One pickup per courier and pickup location.")  # fmt: skip
    pickup_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text="Default: today before the courier's cut-off, else the next working "
                                            "day.")  # fmt: skip
    print_label = forms.BooleanField(label="Print labels", required=False, initial=True,
                                     help_text="One PDF with every label.")  # fmt: skip
    label_format = forms.ChoiceField(choices=[("4x6", "4x6 in"), ("a4-4up", "A4, 4 a sheet")], initial="4x6")
    print_invoice = forms.BooleanField(label="Print invoices", required=False, initial=True,
                                       help_text="One PDF with every tax invoice.")  # fmt: skip
    generate_manifest = forms.BooleanField(label="Generate manifests", required=False, initial=False,
                                           help_text="One manifest (and its PDF) per courier and pickup "
                                                     "location.")  # fmt: skip

    def options(self) -> ShipOptions:
        return ShipOptions(**{**self.cleaned_data, "sort": self.cleaned_data["sort"] or None})


def _batch_link(batch: ShipBatch):
    return format_html('<a href="{}">{}</a>', reverse("admin:shipping_shipbatch_change", args=[batch.pk]), batch)


@admin.action(description="Ship selected orders…", permissions=["change"])
def ship_selected(modeladmin, request, queryset):
    """Confirm, pack, book the courier and the AWB of each selected order, then one pickup per courier and location,
    one label PDF, one invoice PDF and the manifests: one ShipBatch job per merchant, followed on its page."""
    count = queryset.count()
    if count > SHIP_BATCH_MAX:
        modeladmin.message_user(request, f"Select at most {SHIP_BATCH_MAX} orders a batch, not {count}.",
                                messages.ERROR)  # fmt: skip
        return None
    form = ShipBatchForm(request.POST if "apply" in request.POST else None, prefix="ship")
    if not (form.is_bound and form.is_valid()):
        return action_form_page(modeladmin, request, form=form, title="Ship selected orders", action="ship_selected",
                                rows_name="orders", rows=queryset.order_by("pk")[:100], count=count)  # fmt: skip
    writable = set(modeladmin.writable_merchants(request).values_list("pk", flat=True))
    by_merchant: dict[int, list] = {}
    for order in queryset.select_related("merchant").order_by("pk"):
        by_merchant.setdefault(order.merchant_id, []).append(order)
    batches = []
    for orders in by_merchant.values():
        merchant = orders[0].merchant
        if merchant.pk not in writable:
            modeladmin.message_user(request, f"{merchant}: your role only reads its orders; nothing was shipped.",
                                    messages.ERROR)  # fmt: skip
            continue
        try:
            batch = ship_batch_create(merchant=merchant, order_ids=[o.pk for o in orders], actor=actor_of(request),
                                      options=form.options())  # fmt: skip
        except (DomainError, ApiError, ValidationError) as exc:
            modeladmin.message_user(request, f"{merchant}: nothing shipped ({refusal_reason(exc)}).", messages.ERROR)
            continue
        batches.append(batch)
        batch.refresh_from_db()  # without a broker the job has already run
        modeladmin.message_user(request, format_html(
            "{} for {} order{}: {}. Its page shows each order's outcome, the pickups and the PDFs.",
            _batch_link(batch), batch.total, "" if batch.total == 1 else "s", batch.get_status_display().lower()),
            messages.SUCCESS)  # fmt: skip
    if len(batches) == 1:
        return HttpResponseRedirect(reverse("admin:shipping_shipbatch_change", args=[batches[0].pk]))
    return None


OrderAdmin.actions = [*OrderAdmin.actions, ship_selected]


@admin.register(ShipBatch)
class ShipBatchAdmin(ReadOnlyAdmin):
    """The "Ship selected orders" jobs: progress, each order's outcome, and what the batch booked and printed."""

    list_display = ["id", "status", "progress", "shipped", "failed", "created_by", "created_at", "finished_at"]
    list_filter = ["status"]
    actions = ["run_again_selected"]
    fields = ["status", "progress", "shipped", "failed", "error", "options_display", "results_table", "pickup_links",
              "manifest_links", "document_links", "created_by", "created_at", "started_at", "finished_at"]  # fmt: skip
    readonly_fields = fields

    def get_object(self, request, object_id, from_field=None):
        queryset = self.get_queryset(request).select_related("label_document", "invoice_document").prefetch_related(
            "pickups__courier", "pickups__location", "manifests", "manifest_documents")  # fmt: skip
        try:
            return queryset.get(pk=int(object_id))
        except (ShipBatch.DoesNotExist, ValueError):
            return None

    def has_rerun_permission(self, request) -> bool:
        return MerchantScopedAdmin.has_change_permission(self, request)

    @admin.display(description="progress")
    def progress(self, batch: ShipBatch) -> str:
        return f"{batch.processed}/{batch.total}"

    @admin.display(description="options")
    def options_display(self, batch: ShipBatch) -> str:
        options = ShipOptions.from_json(batch.options)
        parts = [f"courier: {options.courier}", f"sort: {options.sort or 'the merchant default'}",
                 f"pickup: {'on ' + str(options.pickup_date) if options.pickup_date else 'next'}"
                 if options.request_pickup else "no pickup",
                 f"labels ({options.label_format})" if options.print_label else "no labels",
                 "invoices" if options.print_invoice else "no invoices",
                 "manifests" if options.generate_manifest else "no manifests"]  # fmt: skip
        return "; ".join(parts)

    @admin.display(description="orders")
    def results_table(self, batch: ShipBatch):
        """One row per order in the batch's order: number (linked), outcome, AWB, courier and the refusal."""
        numbers = dict(Order.objects.filter(merchant_id=batch.merchant_id, pk__in=batch.order_ids)
                       .values_list("pk", "number"))  # fmt: skip

        def row(order_id: int) -> tuple:
            outcome = batch.results.get(str(order_id))
            if outcome is None:
                state, error = "waiting", ""
            elif outcome["steps"]["awb_assigned"]:
                state, error = "shipped", ""
            else:
                state, error = "refused", f"{outcome['error']['step']}: {outcome['error']['message']}"
            url = reverse("admin:orders_order_change", args=[order_id])
            return (url, numbers.get(order_id, order_id), state, (outcome or {}).get("awb") or "-",
                    (outcome or {}).get("courier") or "-", error)  # fmt: skip

        body = format_html_join("", "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                                "</tr>", (row(order_id) for order_id in batch.order_ids))  # fmt: skip
        return format_html('<table class="ship-batch-results"><thead><tr><th>Order</th><th>Outcome</th><th>AWB</th>'
                           "<th>Courier</th><th>Refused at / why</th></tr></thead><tbody>{}</tbody></table>",
                           body)  # fmt: skip

    @admin.display(description="pickups")
    def pickup_links(self, batch: ShipBatch):
        pickups = sorted(batch.pickups.all(), key=lambda p: p.pk)
        return format_html_join(", ", '<a href="{}">{}</a> ({} from {} on {})', (
            (reverse("admin:shipping_pickuprequest_change", args=[p.pk]), p.token, p.courier.name,
             p.location.nickname, p.pickup_date) for p in pickups)) or "-"  # fmt: skip

    @admin.display(description="manifests")
    def manifest_links(self, batch: ShipBatch):
        manifests = sorted(batch.manifests.all(), key=lambda m: m.pk)
        return format_html_join(", ", '<a href="{}">{}</a>', (
            (reverse("admin:shipping_manifest_change", args=[m.pk]), m.number) for m in manifests)) or "-"  # fmt: skip

    @admin.display(description="PDFs")
    def document_links(self, batch: ShipBatch):
        documents = [d for d in (batch.label_document, batch.invoice_document) if d is not None]
        documents += sorted(batch.manifest_documents.all(), key=lambda d: d.pk)
        return format_html_join(", ", "{}", ((_document_link(d),) for d in documents)) or "-"

    @admin.action(description="Run again (resume where it stopped)", permissions=["rerun"])
    def run_again_selected(self, request, queryset):
        """Queue batches that are not done again: each resumes, skipping the orders and steps already done."""
        batches = list(queryset.order_by("pk"))
        run_per_object(self, request, batches, ActionReport("Queued again", "ship job"),
                       lambda batch: ship_batch_resume(batch=batch), refusal_reason)  # fmt: skip

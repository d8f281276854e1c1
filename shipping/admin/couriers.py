"""Couriers with their rate cards, the serviceability import and the rate calculator; serviceable and blocked
pincodes, the merchant's courier ranking and the zone rules of other countries."""

from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from catalog.models import Location
from shipping.choices import CourierSort
from shipping.errors import DUPLICATE_COURIER
from shipping.live_quotes import LiveQuotes
from shipping.models import (
    BlockedPincode,
    Courier,
    CourierMode,
    PostcodeZone,
    RateCard,
    ServiceablePincode,
    ShipmentStatus,
    ShippingPreference,
)
from shipping.selectors import quote, weights_for
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
from shipping.zones import UnknownPincode, place
from shopops.admin import (
    MerchantRelatedFilter,
    MerchantScopedAdmin,
    ParentRightsInline,
    ReadOnlyAdmin,
    ServiceAdmin,
    adopt,
)


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
        wrong = sorted(str(v) for v in codes.values() if v not in ShipmentStatus.values and v != "")
        if wrong:
            raise ValidationError(
                f"Unknown statuses: {', '.join(wrong)}; one of {', '.join(ShipmentStatus.values)}, "
                'or "" for a known scan that moves nothing.'
            )
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
    conflict_fields = {DUPLICATE_COURIER.code: "code"}

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
                weights=weights_for(merchant)[0], live=LiveQuotes.FETCH,
            )  # fmt: skip
            names = dict(Courier.objects.filter(merchant=merchant).values_list("pk", "name"))
        blocked = [
            {"name": names.get(b["courier_id"], b["courier_id"]), **b} for b in (result.blocked if result else [])
        ]
        return self._page(request, "rate_calculator.html", "Rate calculator", form=form, result=result,
                          blocked=blocked, merchant=merchant, media=self.media + form.media)  # fmt: skip

    def _calculator_initial(self, merchant) -> dict:
        location = Location.objects.filter(merchant=merchant, is_default=True).only("postcode").first()
        return {
            "pickup_postcode": location.postcode if location else "",
            "weight_grams": 500,
            "sort": CourierSort.RECOMMENDED,
        }

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
    sort = forms.ChoiceField(choices=CourierSort.choices, initial=CourierSort.RECOMMENDED)

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

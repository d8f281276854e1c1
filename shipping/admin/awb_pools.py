"""AWB pools: ranges and uploaded lists of a courier's numbers, switched on and off, with what remains."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, F, IntegerField, OuterRef, QuerySet, Subquery, When
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from shipping.errors import AWB_POOL_OVERLAP, DUPLICATE_AWB_POOL
from shipping.models import AWBNumber, AWBPool, AWBPoolKind, Courier
from shipping.services.awb import awb_pool_create_list, awb_pool_create_range, awb_pool_set_active
from shopops.admin import (
    ActionReport,
    MerchantRelatedFilter,
    MerchantScopedAdmin,
    ServiceRefusal,
    refusal_reason,
    run_per_object,
    service_refusals,
)


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
                with service_refusals({DUPLICATE_AWB_POOL.code: "name", AWB_POOL_OVERLAP.code: "range_start"}):
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

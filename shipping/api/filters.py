"""Filters of the shipping API: shipments, AWB pools, pickups, manifests and the NDR queue."""

from datetime import datetime, timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from shipping.models import (
    NDR,
    AWBPool,
    AWBPoolKind,
    Manifest,
    NDRStatus,
    PickupRequest,
    PickupStatus,
    Shipment,
    ShipmentStatus,
)
from shopops.api.filters import CharInFilter, DateBoundFilter, DateOrDateTimeField, StrictBooleanFilter
from shopops.validation import as_id

#: An NDR waiting for the merchant (open) or for the courier's next attempt (reattempt).
LIVE_NDR_STATUSES = (NDRStatus.OPEN, NDRStatus.REATTEMPT)


@extend_schema_field(OpenApiTypes.STR)
class DayBoundFilter(django_filters.Filter):
    """``<field>_after`` / ``<field>_before`` bounds, inclusive, on a date column (a pickup date).

    Takes ``YYYY-MM-DD``, or a timestamp, which counts as its calendar day in the merchant's time zone.
    """

    field_class = DateOrDateTimeField

    def __init__(self, *args, bound: str, **kwargs):
        if bound not in ("after", "before"):
            raise ValueError(bound)
        self.bound = bound
        kwargs.setdefault("help_text", "YYYY-MM-DD, inclusive (a timestamp counts as its day in the merchant's "
                                       "time zone).")  # fmt: skip
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value is None:
            return qs
        if isinstance(value, datetime):
            value = value.astimezone(self.parent.request.api_client.merchant.tzinfo).date()
        return qs.filter(**{f"{self.field_name}__{'gte' if self.bound == 'after' else 'lte'}": value})


@extend_schema_field(OpenApiTypes.INT)
class DaysFilter(django_filters.NumberFilter):
    """A whole number of days, 0 to 36500."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=0, max_value=36_500, **kwargs)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """An object id (a positive integer)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=2**63 - 1, **kwargs)


def _known(values: list[str], choices: list[str], name: str) -> None:
    unknown = [v for v in values if v not in choices]
    if unknown:
        raise ValidationError({name: [f"Unknown {name} {', '.join(unknown)}; one of {', '.join(choices)}."]})


class ShipmentFilter(django_filters.FilterSet):
    status = CharInFilter(field_name="status", help_text="One status or a comma list, e.g. in_transit,ndr.")
    courier = django_filters.CharFilter(field_name="courier__code", help_text="The courier's code.")
    awb = django_filters.CharFilter(field_name="awb")
    order = IdFilter(field_name="order_id", help_text="The order's id.")
    pickup_date_after = DayBoundFilter(field_name="pickup_date", bound="after")
    pickup_date_before = DayBoundFilter(field_name="pickup_date", bound="before")
    ship_date_after = DateBoundFilter(field_name="shipped_at", bound="after")
    ship_date_before = DateBoundFilter(field_name="shipped_at", bound="before")
    delivered_date_after = DateBoundFilter(field_name="delivered_at", bound="after")
    delivered_date_before = DateBoundFilter(field_name="delivered_at", bound="before")
    ndr = StrictBooleanFilter(
        method="filter_ndr",
        help_text="true: shipments with an unresolved NDR (open, or a reattempt pending); false: without one.",
    )

    class Meta:
        model = Shipment
        fields = []

    def filter_ndr(self, queryset, name, value):
        live = Exists(NDR.objects.filter(shipment=OuterRef("pk"), status__in=LIVE_NDR_STATUSES))
        return queryset.filter(live if value else ~live)

    def filter_queryset(self, queryset):
        _known(self.form.cleaned_data.get("status") or [], ShipmentStatus.values, "status")
        return super().filter_queryset(queryset)


class AWBPoolFilter(django_filters.FilterSet):
    courier = django_filters.CharFilter(field_name="courier__code", help_text="The courier's code.")
    kind = django_filters.ChoiceFilter(choices=AWBPoolKind.choices)
    is_active = StrictBooleanFilter()

    class Meta:
        model = AWBPool
        fields = []


class PickupFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PickupStatus.choices)
    courier = django_filters.CharFilter(field_name="courier__code", help_text="The courier's code.")
    location = django_filters.CharFilter(method="filter_location", help_text="Location id or nickname.")
    pickup_date_after = DayBoundFilter(field_name="pickup_date", bound="after")
    pickup_date_before = DayBoundFilter(field_name="pickup_date", bound="before")

    class Meta:
        model = PickupRequest
        fields = []

    def filter_location(self, queryset, name, value):
        if as_id(value) is not None:
            return queryset.filter(location_id=as_id(value))
        return queryset.filter(location__nickname=value)


class ManifestFilter(django_filters.FilterSet):
    courier = django_filters.CharFilter(field_name="courier__code", help_text="The courier's code.")
    pickup = IdFilter(field_name="pickup_id", help_text="The pickup's id.")
    created_after = DateBoundFilter(field_name="created_at", bound="after")
    created_before = DateBoundFilter(field_name="created_at", bound="before")

    class Meta:
        model = Manifest
        fields = []


class NDRFilter(django_filters.FilterSet):
    status = CharInFilter(field_name="status", help_text="One status or a comma list, e.g. open,reattempt.")
    reason = django_filters.CharFilter(field_name="reason", lookup_expr="icontains", help_text="Part of the reason.")
    courier = django_filters.CharFilter(field_name="shipment__courier__code", help_text="The courier's code.")
    awb = django_filters.CharFilter(field_name="shipment__awb")
    age_min_days = DaysFilter(method="filter_age", help_text="At least this many whole days since the first "
                                                             "failed attempt.")  # fmt: skip
    age_max_days = DaysFilter(method="filter_age", help_text="At most this many whole days since the first "
                                                             "failed attempt.")  # fmt: skip

    class Meta:
        model = NDR
        fields = []

    def filter_age(self, queryset, name, value):
        # age_days = whole days since first_attempt_at: age >= n  <=>  first <= now - n days;
        # age <= n  <=>  first > now - (n + 1) days.
        days = int(value)
        now = timezone.now()
        if name == "age_min_days":
            return queryset.filter(first_attempt_at__lte=now - timedelta(days=days))
        return queryset.filter(first_attempt_at__gt=now - timedelta(days=days + 1))

    def filter_queryset(self, queryset):
        _known(self.form.cleaned_data.get("status") or [], NDRStatus.values, "status")
        return super().filter_queryset(queryset)

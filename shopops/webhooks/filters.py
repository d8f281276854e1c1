"""Filters of the delivery log."""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from shopops.api.filters import CharInFilter, DateBoundFilter
from shopops.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEventType


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=2**63 - 1, **kwargs)


def _known(values: list[str], choices: list[str], name: str) -> None:
    unknown = [v for v in values if v not in choices]
    if unknown:
        raise ValidationError({name: [f"Unknown {name} {', '.join(unknown)}; one of {', '.join(choices)}."]})


class WebhookDeliveryFilter(django_filters.FilterSet):
    endpoint = IdFilter(field_name="endpoint_id", help_text="The endpoint's id: its delivery log.")
    status = CharInFilter(field_name="status", help_text="One status or a comma list, e.g. pending,failed.")
    event_type = CharInFilter(field_name="event_type", help_text="One event type or a comma list.")
    event_id = django_filters.CharFilter(field_name="event_id", help_text="evt_...: every delivery of one event.")
    object_key = django_filters.CharFilter(field_name="object_key", help_text="e.g. shipment:42.")
    created_after = DateBoundFilter(field_name="created_at", bound="after")
    created_before = DateBoundFilter(field_name="created_at", bound="before")

    class Meta:
        model = WebhookDelivery
        fields = []

    def filter_queryset(self, queryset):
        _known(self.form.cleaned_data.get("status") or [], DeliveryStatus.values, "status")
        _known(self.form.cleaned_data.get("event_type") or [], WebhookEventType.values, "event_type")
        return super().filter_queryset(queryset)

"""Filters shared by every app's FilterSets: date bounds in the merchant's time zone, comma lists."""

from datetime import datetime, time, timedelta

import django_filters
from django import forms
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field


class DateOrDateTimeField(forms.CharField):
    """Accepts ``YYYY-MM-DD`` or an ISO 8601 timestamp with offset."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            parsed = parse_datetime(value) if "T" in value or " " in value.strip() else parse_date(value)
        except ValueError:
            parsed = None
        if parsed is None:
            raise forms.ValidationError("Use YYYY-MM-DD or an ISO 8601 timestamp such as 2026-11-28T09:30:00+05:30.")
        if isinstance(parsed, datetime) and parsed.tzinfo is None:
            raise forms.ValidationError("A timestamp needs a UTC offset, e.g. +05:30 or Z.")
        if not 1900 <= parsed.year <= 9000:  # far dates would overflow once moved to a time zone or a day on
            raise forms.ValidationError("Use a date between the years 1900 and 9000.")
        return parsed


@extend_schema_field(OpenApiTypes.STR)
class DateBoundFilter(django_filters.Filter):
    """``<field>_after`` / ``<field>_before`` bounds, inclusive.

    A calendar day is read in the merchant's time zone: ``after=2026-11-01``
    starts at that day's midnight there, ``before=2026-11-30`` ends at the
    end of that day there. A full timestamp is used as given.
    """

    field_class = DateOrDateTimeField

    def __init__(self, *args, bound: str, **kwargs):
        if bound not in ("after", "before"):
            raise ValueError(bound)
        self.bound = bound
        kwargs.setdefault("help_text", "YYYY-MM-DD (a calendar day in the merchant's time zone) or ISO timestamp.")
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value is None:
            return qs
        if isinstance(value, datetime):
            lookup = "gte" if self.bound == "after" else "lte"
            return qs.filter(**{f"{self.field_name}__{lookup}": value})
        tz = self.parent.request.api_client.merchant.tzinfo
        if self.bound == "after":
            return qs.filter(**{f"{self.field_name}__gte": datetime.combine(value, time.min, tzinfo=tz)})
        next_day = datetime.combine(value + timedelta(days=1), time.min, tzinfo=tz)
        return qs.filter(**{f"{self.field_name}__lt": next_day})


class CharInFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    """A comma-separated list of values: ``status=new,confirmed``."""


class StrictBooleanField(forms.Field):
    """``true``/``false`` (or 1/0); anything else is a 400 rather than "no filter"."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("Use true or false.", code="invalid")


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField

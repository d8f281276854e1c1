"""Helpers for the business apps' webhook payloads: values written as the API writes them."""

from datetime import datetime
from decimal import Decimal

from rest_framework import serializers

_datetime = serializers.DateTimeField()


def iso(value: datetime | None) -> str | None:
    """A timestamp as in the API's JSON (ISO 8601 with the offset), or None."""
    return None if value is None else _datetime.to_representation(value)


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"

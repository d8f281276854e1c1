from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


@extend_schema_field({"type": "string", "pattern": LOCAL_TIME_PATTERN, "example": "14:00:00"})
class LocalTimeField(serializers.TimeField):
    """A wall-clock time in the merchant's time zone: ``HH:MM:SS`` out, ``HH:MM:SS`` or ``HH:MM`` in.

    It carries no UTC offset (the offset of a daily cutoff changes with the date where clocks move), so an
    input with one is refused rather than read as local time.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%H:%M:%S")
        kwargs.setdefault("input_formats", ["%H:%M:%S", "%H:%M"])
        super().__init__(**kwargs)


class StrictInputMixin:
    # Refuses keys the serializer does not declare, so a misspelt field is a 400, not silently dropped.
    # ``tolerated_fields`` are output-only names (``id``, timestamps) that a client may send back from a
    # GET; they are ignored. (A comment, not a docstring: the OpenAPI schema would show it as the
    # description of every input that has none of its own.)

    tolerated_fields: frozenset[str] = frozenset({"id", "created_at", "updated_at"})

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields) - self.tolerated_fields)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


def validated_input(serializer_class, view, data, **kwargs):
    """``data`` validated by ``serializer_class`` in the view's context (a 400 naming the fields otherwise)."""
    serializer = serializer_class(data=data, context=view.get_serializer_context(), **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data

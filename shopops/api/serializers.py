from rest_framework import serializers


class StrictInputMixin:
    """Refuses keys the serializer does not declare, so a misspelt field is a 400, not silently dropped.

    ``tolerated_fields`` are output-only names (``id``, timestamps) that a client
    may send back from a GET; they are ignored.
    """

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

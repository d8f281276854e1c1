from rest_framework import serializers


class StrictInputMixin:
    """Refuses keys the serializer does not declare, so a misspelt field is a 400, not silently dropped."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)

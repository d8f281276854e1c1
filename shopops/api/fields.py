"""Serializer fields built from the apps' field rules (``shopops/fields.py``), so a limit is declared once."""

from rest_framework import serializers

from shopops import fields as rules


def api_field(rule: rules.Rule, **kwargs) -> serializers.Field:
    """The DRF field that applies ``rule``; ``kwargs`` add what only the API has (required, default, help_text)."""
    if isinstance(rule, rules.Pattern):
        return serializers.RegexField(rule.regex, **_text(rule), **kwargs)
    if isinstance(rule, rules.Email):
        return serializers.EmailField(**_text(rule), **kwargs)
    if isinstance(rule, rules.Text):
        return serializers.CharField(**_text(rule), **kwargs)
    if isinstance(rule, rules.Choice):
        return serializers.ChoiceField(choices=list(rule.choices), **kwargs)
    if isinstance(rule, rules.Integer):
        return serializers.IntegerField(**_bounds(rule), **kwargs)
    if isinstance(rule, rules.Decimal):
        return serializers.DecimalField(max_digits=rule.max_digits, decimal_places=rule.decimal_places,
                                        **_bounds(rule), **kwargs)  # fmt: skip
    if isinstance(rule, rules.DateTime):
        return serializers.DateTimeField(**kwargs)
    raise TypeError(f"no API field for {rule!r}")


def _text(rule: rules.Text) -> dict:
    return {
        **({"max_length": rule.max_length} if rule.max_length is not None else {}),
        **({"allow_blank": True} if rule.allow_blank else {}),
        **({"validators": list(rule.validators)} if rule.validators else {}),
    }


def _bounds(rule) -> dict:
    return {name: getattr(rule, name) for name in ("min_value", "max_value") if getattr(rule, name) is not None}

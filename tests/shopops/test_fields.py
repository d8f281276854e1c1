"""The field rules (shopops/fields.py) answer as the API's serializer fields do, value for value, message for message:
the file import converts its cells through the rules, the API through the serializers built from them."""

import pytest
from django.core.exceptions import ValidationError
from rest_framework import serializers

from catalog.api.serializers import ProductInput
from catalog.validation import PRODUCT
from orders import validation
from orders.api.serializers import AddressInput, CustomerInput, OrderInput, OrderLineInput, OrderUpdateInput
from shopops.fields import Text

SAMPLES = [
    "",
    " ",
    "abc",
    "0",
    "1",
    "-1",
    "1.0",
    "1.5",
    "1.005",
    "12.345",
    "0.001",
    "100",
    "100.01",
    "100000",
    "100001",
    "1000000",
    "1000001",
    "99999999999.99",
    "999999999999.99",
    "1e3",
    "1E-9",
    "NaN",
    "inf",
    "-Infinity",
    "1_000",
    "\uff11\uff12",
    " 42 ",
    "2026-11-28T10:15:00+05:30",
    "2026-11-28 10:15",
    "2026-11-28",
    "2026-13-01T00:00:00",
    "2026-10-25T02:30:00",
    "cod",
    "prepaid",
    "COD",
    "paid",
    "IN",
    "in",
    "ind",
    "INR",
    "inr",
    "a@b.in",
    "A@B.IN",
    "not-an-email",
    "6109",
    "61",
    "610912345",
    "5600",
    "+919812345678",
    "x" * 101,
    "x" * 2001,
    "a\x00b",
    "a\ud800b",
    "5901234123457",
    "5901234123458",
    "active",
    "archived",
    "9" * 1001,
]


def api_answer(field, raw):
    try:
        return True, field.run_validation(raw)
    except serializers.ValidationError as exc:
        detail = exc.detail if isinstance(exc.detail, list) else [exc.detail]
        return False, " ".join(str(m) for m in detail)


def rule_answer(rule, raw):
    try:
        return True, rule.convert(raw)
    except ValidationError as exc:
        return False, " ".join(exc.messages)


PAIRS = [
    *[(f"address.{n}", validation.ADDRESS[n], AddressInput().fields[n]) for n in validation.ADDRESS],
    *[(f"customer.{n}", validation.CUSTOMER[n], CustomerInput().fields[n]) for n in validation.CUSTOMER],
    *[(f"line.{n}", validation.LINE[n], OrderLineInput().fields[n]) for n in validation.LINE],
    *[(f"order.{n}", validation.ORDER[n], OrderInput().fields[n]) for n in validation.ORDER],
    *[(f"update.{n}", validation.ORDER[n], OrderUpdateInput().fields[n]) for n in OrderUpdateInput().fields
      if n in validation.ORDER],
    *[(f"product.{n}", PRODUCT[n], ProductInput().fields[n]) for n in PRODUCT],
]  # fmt: skip


@pytest.mark.parametrize(("name", "rule", "field"), PAIRS, ids=[p[0] for p in PAIRS])
def test_a_rule_converts_and_refuses_as_the_api_field_does(settings, name, rule, field):
    settings.TIME_ZONE = "Asia/Kolkata"
    for raw in SAMPLES:
        if field.allow_null and not raw.strip():
            continue  # null is the API's own (the import skips blank cells)
        assert rule_answer(rule, raw) == api_answer(field, raw), (name, raw)


@pytest.mark.parametrize("raw", ["2026-10-25T02:30:00", "2026-03-29T02:30:00", "2026-10-25T02:30:00+01:00"])
def test_a_local_time_around_a_clock_change_reads_as_the_api_reads_it(settings, raw):
    settings.TIME_ZONE = "Europe/Paris"  # clocks go back on 25 October 2026 and forward on 29 March

    assert rule_answer(validation.ORDER["ordered_at"], raw) == api_answer(OrderInput().fields["ordered_at"], raw)


def test_a_model_validator_runs_before_the_length_rule():
    rule = Text(max_length=3, validators=(lambda value: _refuse("Not a code."),))

    assert rule_answer(rule, "abcd") == (False, "Not a code. Ensure this field has no more than 3 characters.")


def _refuse(message):
    raise ValidationError(message)

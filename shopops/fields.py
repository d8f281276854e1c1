"""Field rules free of any framework: a value's type, limits and choices, declared once per field.

An app declares its fields' rules in its ``validation.py`` (``orders/validation.py``, ``catalog/validation.py``).
The API builds its serializer fields from them (``shopops.api.fields.api_field``), and code without DRF (file
imports) converts text through ``Rule.convert``, which answers with the API's own messages, word for word:
``tests/shopops/test_fields.py`` holds the two to the same answers.
"""

import datetime
import decimal
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from shopops.validation import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS

MAX_STRING_LENGTH = 1000  # longer numbers are refused before parsing, as the API does
_SURROGATES = re.compile("[\ud800-\udfff]")
_INTEGRAL = re.compile(r"\.0*\s*$")  # "1.0" is the integer 1, "1.2" is not
_ISO_8601 = "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]"


class Rule:
    """A field's rule. ``convert`` turns input text into the value, or raises ValidationError (its messages)."""

    def convert(self, raw: str) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Text(Rule):
    max_length: int | None = None
    allow_blank: bool = False
    #: the model field's own validators (``validate_gtin``), run first as the API runs them
    validators: tuple = ()

    def convert(self, raw: str) -> str:
        value = str(raw).strip()
        if value == "":
            if not self.allow_blank:
                raise ValidationError(["This field may not be blank."])
            return ""
        messages = self._problems(value)
        if messages:
            raise ValidationError(messages)
        return value

    def _problems(self, value: str) -> list[str]:
        messages = []
        for validator in self.validators:
            try:
                validator(value)
            except ValidationError as exc:
                messages.extend(exc.messages)
        if self.max_length is not None and len(value) > self.max_length:
            messages.append(f"Ensure this field has no more than {self.max_length} characters.")
        if "\x00" in value:
            messages.append("Null characters are not allowed.")
        if match := _SURROGATES.search(value):
            messages.append(f"Surrogate characters are not allowed: U+{ord(match.group()):X}.")
        return messages


@dataclass(frozen=True)
class Pattern(Text):
    regex: str = ""

    def _problems(self, value: str) -> list[str]:
        messages = super()._problems(value)
        if not re.search(self.regex, value):
            messages.append("This value does not match the required pattern.")
        return messages


_email = EmailValidator()


@dataclass(frozen=True)
class Email(Text):
    def _problems(self, value: str) -> list[str]:
        messages = super()._problems(value)
        try:
            _email(value)
        except ValidationError:
            messages.append("Enter a valid email address.")
        return messages


@dataclass(frozen=True)
class Choice(Rule):
    choices: tuple[tuple[str, str], ...] = ()

    def convert(self, raw: str) -> str:
        for value, _ in self.choices:
            if str(raw) == str(value):
                return value
        raise ValidationError([f'"{raw}" is not a valid choice.'])


def _bounds(value, min_value, max_value) -> list[str]:
    messages = []
    if max_value is not None and value > max_value:
        messages.append(f"Ensure this value is less than or equal to {max_value}.")
    if min_value is not None and value < min_value:
        messages.append(f"Ensure this value is greater than or equal to {min_value}.")
    return messages


@dataclass(frozen=True)
class Integer(Rule):
    min_value: int | None = None
    max_value: int | None = None

    def convert(self, raw: str) -> int:
        if isinstance(raw, str) and len(raw) > MAX_STRING_LENGTH:
            raise ValidationError(["String value too large."])
        try:
            value = int(_INTEGRAL.sub("", str(raw)))
        except (ValueError, TypeError):
            raise ValidationError(["A valid integer is required."]) from None
        if messages := _bounds(value, self.min_value, self.max_value):
            raise ValidationError(messages)
        return value


@dataclass(frozen=True)
class Decimal(Rule):
    max_digits: int = 14
    decimal_places: int = 2
    min_value: decimal.Decimal | int | None = None
    max_value: decimal.Decimal | int | None = None

    def convert(self, raw: str) -> decimal.Decimal:
        text = str(raw).strip()
        if len(text) > MAX_STRING_LENGTH:
            raise ValidationError(["String value too large."])
        try:
            value = decimal.Decimal(text)
        except decimal.DecimalException:
            raise ValidationError(["A valid number is required."]) from None
        if value.is_nan() or value in (decimal.Decimal("Inf"), decimal.Decimal("-Inf")):
            raise ValidationError(["A valid number is required."])
        self._check_precision(value)
        context = decimal.getcontext().copy()
        context.prec = self.max_digits
        value = value.quantize(decimal.Decimal(".1") ** self.decimal_places, context=context)
        if messages := _bounds(value, self.min_value, self.max_value):
            raise ValidationError(messages)
        return value

    def _check_precision(self, value: decimal.Decimal) -> None:
        _, digits, exponent = value.as_tuple()
        if exponent >= 0:
            total = whole = len(digits) + exponent
            places = 0
        elif len(digits) > abs(exponent):
            total, places = len(digits), abs(exponent)
            whole = total - places
        else:
            total = places = abs(exponent)
            whole = 0
        if total > self.max_digits:
            raise ValidationError([f"Ensure that there are no more than {self.max_digits} digits in total."])
        if places > self.decimal_places:
            raise ValidationError([f"Ensure that there are no more than {self.decimal_places} decimal places."])
        if whole > self.max_digits - self.decimal_places:
            raise ValidationError([f"Ensure that there are no more than {self.max_digits - self.decimal_places} "
                                   "digits before the decimal point."])  # fmt: skip


def Money(**bounds) -> Decimal:
    """The project-wide money field (see ``shopops.validation.money_field``)."""
    return Decimal(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **bounds)


@dataclass(frozen=True)
class DateTime(Rule):
    """ISO 8601; a time without an offset is read in the current time zone."""

    def convert(self, raw: str) -> datetime.datetime:
        try:
            parsed = parse_datetime(raw)
        except (ValueError, TypeError):
            parsed = None
        if parsed is None:
            raise ValidationError([f"Datetime has wrong format. Use one of these formats instead: {_ISO_8601}."])
        if not settings.USE_TZ:
            return timezone.make_naive(parsed, datetime.UTC) if timezone.is_aware(parsed) else parsed
        zone = timezone.get_current_timezone()
        if timezone.is_aware(parsed):
            try:
                return parsed.astimezone(zone)
            except OverflowError:
                raise ValidationError(["Datetime value out of range."]) from None
        aware = timezone.make_aware(parsed, zone)
        if not _unambiguous(aware):
            raise ValidationError([f'Invalid datetime for the timezone "{zone}".'])
        return aware


def _unambiguous(value: datetime.datetime) -> bool:
    """Not in an hour that the clocks repeat (where the offset depends on ``fold``), as the API checks."""
    exists = value.astimezone(datetime.UTC) == value
    return not (exists and value.replace(fold=not value.fold).utcoffset() != value.utcoffset())

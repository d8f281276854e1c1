"""Keyset (cursor) pages over any ordering, with ``id`` as the tie-breaker: the API's lists and the admin's.

The cursor holds the ordering values of the last (or first) row of a page, so the next page is a range condition
on an index, not an OFFSET: page 10,000 costs what page 1 costs, and rows added meanwhile neither repeat nor skip
rows. Nullable ordering fields sort nulls last (in either direction), and a cursor may sit on a null.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import F, Model, Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime


class InvalidCursor(ValueError):
    """The cursor is not one of ours, or belongs to another ordering."""


def _encode_value(value):
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"dec": str(value)}
    return value


def _decode_value(value):
    if isinstance(value, dict):
        if "dt" in value:
            return parse_datetime(value["dt"])
        if "d" in value:
            return parse_date(value["d"])
        if "dec" in value:
            return Decimal(value["dec"])
    return value


def deterministic(ordering: list[str]) -> list[str]:
    """``ordering`` (field names, ``-`` for descending) ending with ``id``: ``pk`` is spelled ``id``, a field named
    again is dropped, and ``id`` is added, in the first field's direction, unless the ordering has it."""
    spelled = ["-id" if o == "-pk" else "id" if o == "pk" else o for o in ordering]
    ordering, seen = [], set()
    for spec in spelled:  # a field named twice (the admin's ordering, then the queryset's) counts once
        if spec.lstrip("-") not in seen:
            seen.add(spec.lstrip("-"))
            ordering.append(spec)
    if not any(o.lstrip("-") == "id" for o in ordering):
        ordering.append("-id" if ordering and ordering[0].startswith("-") else "id")
    return ordering


@dataclass
class Page:
    rows: list
    has_next: bool
    has_previous: bool


class Keyset:
    """Pages of ``model`` rows in the ``fields`` ordering (names, ``-`` for descending, ending with ``id``)."""

    def __init__(self, model: type[Model], fields: list[str]):
        self.model, self.fields = model, fields

    def page(self, queryset: QuerySet, size: int, cursor: dict | None) -> Page:
        """The ``size`` rows after (or, for a reversed cursor, before) the cursor's position."""
        reverse = cursor is not None and cursor["r"]
        ordered = queryset.order_by(*self.order_expressions(reverse))
        page, null_tail = ordered, None
        if cursor is not None:
            condition, null_tail = self._after(cursor["p"], reverse)
            page = ordered.filter(condition)
        rows = list(page[: size + 1])
        if null_tail and len(rows) <= size:
            # The dated rows ran out on this page: continue with the undated ones, which sort last.
            rows += list(ordered.filter(**{f"{null_tail}__isnull": True})[: size + 1 - len(rows)])
        has_more = len(rows) > size
        rows = rows[:size]
        if reverse:
            rows.reverse()
        return Page(rows, has_next=has_more if not reverse else True,
                    has_previous=(cursor is not None) if not reverse else has_more)  # fmt: skip

    def cursor(self, row, *, reverse: bool = False) -> str:
        """The cursor of the rows after ``row`` (or, reversed, before it)."""
        return self.encode_cursor(self.fields, self.position(row), reverse=reverse)

    def decode(self, raw: str) -> dict:
        """``{"p": position, "r": reverse}`` from a cursor of this ordering; ``InvalidCursor`` otherwise."""
        try:
            data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            position = [_decode_value(v) for v in data["p"]]
            ok = isinstance(data.get("r"), bool) and data.get("o") == self.fields and len(position) == len(self.fields)
        except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
            ok = False
        if not ok:
            raise InvalidCursor("The cursor is invalid or belongs to another ordering.")
        return {"p": position, "r": data["r"]}

    @staticmethod
    def encode_cursor(fields: list[str], position: list, reverse: bool = False) -> str:
        """The opaque cursor for the rows after (or, reversed, before) ``position`` in the ``fields`` ordering."""
        token = json.dumps({"p": [_encode_value(v) for v in position], "r": reverse, "o": fields},
                           separators=(",", ":"))  # fmt: skip
        return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")

    def position(self, row) -> list:
        values = []
        for spec in self.fields:
            if isinstance(row, dict):  # a .values() row
                values.append(row[spec.lstrip("-")])
                continue
            value = row
            *path, last = spec.lstrip("-").split("__")
            for part in path:
                value = getattr(value, part) if value is not None else None
            if value is not None:
                value = getattr(value, value._meta.get_field(last).attname)
            values.append(value)
        return values

    def _nullable(self, name: str) -> bool:
        model = self.model
        field = None
        for part in name.split("__"):
            field = model._meta.get_field(part)
            model = field.related_model or model
        return bool(field and field.null)

    def order_expressions(self, reverse: bool) -> list:
        expressions = []
        for spec in self.fields:
            name, descending = spec.lstrip("-"), spec.startswith("-")
            if reverse:
                descending = not descending
            nulls_last = self._nullable(name) and not reverse
            nulls_first = self._nullable(name) and reverse
            expr = F(name).desc if descending else F(name).asc
            expressions.append(
                expr(nulls_last=True) if nulls_last else expr(nulls_first=True) if nulls_first else expr()
            )
        return expressions

    def _after(self, position: list, reverse: bool) -> tuple[Q, str | None]:
        """Rows strictly after ``position`` in the (possibly reversed) ordering, and a field whose nulls follow.

        For (a, b, id) this is a > va OR (a = va AND (b > vb OR (b = vb AND id > vid))), plus a leading
        ``a >= va`` bound so the database range-scans the index instead of reading from the start. When ``a``
        is nullable and its nulls sort after ``va``, they cannot share that bound: the condition covers the
        non-null rows and the field is returned, for ``page`` to continue into its nulls.
        """
        condition = Q(pk__in=[])
        null_tail = None
        fields = list(zip(self.fields, position, strict=True))
        for index, (spec, value) in reversed(list(enumerate(fields))):
            name, descending = spec.lstrip("-"), spec.startswith("-")
            if reverse:
                descending = not descending
            nulls_after = self._nullable(name) and not reverse  # nulls come last forward, first in reverse
            if value is None:
                # Only nulls share the position; non-nulls come after it when nulls sort first.
                same = Q(**{f"{name}__isnull": True})
                later = Q(**{f"{name}__isnull": False}) if not nulls_after else Q(pk__in=[])
            else:
                same = Q(**{name: value})
                later = Q(**{f"{name}__{'lt' if descending else 'gt'}": value})
                if nulls_after and index == 0:
                    null_tail = name
                elif nulls_after:
                    later |= Q(**{f"{name}__isnull": True})
            condition = later | (same & condition)
        (lead_spec, lead_value), lead_desc = fields[0], fields[0][0].startswith("-") != reverse
        if lead_value is not None:
            condition &= Q(**{f"{lead_spec.lstrip('-')}__{'lte' if lead_desc else 'gte'}": lead_value})
        return condition, null_tail

"""Keyset (cursor) pagination over any ordering, with ``id`` as the tie-breaker.

The cursor holds the ordering values of the last (or first) row of the page,
so the next page is a range condition on an index, not an OFFSET: page 10,000
costs what page 1 costs. Nullable ordering fields sort nulls last (in either
direction), and the cursor handles a null position.
"""

import base64
import binascii
import json
from collections import OrderedDict
from datetime import date, datetime
from decimal import Decimal

from django.db.models import F, Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from shopops.api.exceptions import ApiError

MAX_PAGE_SIZE = 200


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


class KeysetPagination(BasePagination):
    page_size = 50
    max_page_size = MAX_PAGE_SIZE
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset: QuerySet, request, view=None):
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self._page_size(request)
        self.fields = self._ordering(queryset, view)
        self.model = queryset.model
        cursor = self._decode_cursor(request)
        reverse = cursor is not None and cursor["r"]

        ordered = queryset.order_by(*self._order_expressions(reverse))
        page, null_tail = ordered, None
        if cursor is not None:
            condition, null_tail = self._after(cursor["p"], reverse)
            page = ordered.filter(condition)
        rows = list(page[: self.page_size + 1])
        if null_tail and len(rows) <= self.page_size:
            # The dated rows ran out on this page: continue with the undated ones, which sort last.
            rows += list(ordered.filter(**{f"{null_tail}__isnull": True})[: self.page_size + 1 - len(rows)])
        has_more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if reverse:
            rows.reverse()
        self.has_next = has_more if not reverse else True
        self.has_previous = (cursor is not None) if not reverse else has_more
        self.rows = rows
        return rows

    def get_paginated_response(self, data):
        return Response(
            OrderedDict(
                [("next", self._link(forward=True)), ("previous", self._link(forward=False)), ("results", data)]
            )
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                # The examples (see OpenApiExample on list views) show one page: no link either way.
                "next": {"type": "string", "nullable": True, "format": "uri", "example": None},
                "previous": {"type": "string", "nullable": True, "format": "uri", "example": None},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque cursor from a `next` or `previous` link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page (default {self.page_size}, at most {self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]

    # -- internals -------------------------------------------------------------

    def _page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ApiError(
                400,
                "invalid",
                f"page_size must be an integer from 1 to {self.max_page_size}.",
                {"page_size": [f"Must be an integer from 1 to {self.max_page_size}."]},
            )
        return size

    def _ordering(self, queryset: QuerySet, view) -> list[str]:
        ordering = [o for o in queryset.query.order_by if isinstance(o, str)]
        if not ordering:
            ordering = list(getattr(view, "ordering", None) or ["-id"])
            if isinstance(ordering, str):
                ordering = [ordering]
        names = [o.lstrip("-") for o in ordering]
        if "id" not in names and "pk" not in names:
            ordering.append("-id" if ordering[0].startswith("-") else "id")
        return ["-id" if o == "-pk" else "id" if o == "pk" else o for o in ordering]

    def _nullable(self, name: str) -> bool:
        model = self.model
        field = None
        for part in name.split("__"):
            field = model._meta.get_field(part)
            model = field.related_model or model
        return bool(field and field.null)

    def _order_expressions(self, reverse: bool):
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
        non-null rows and the field is returned, for ``paginate_queryset`` to continue into its nulls.
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

    def _position(self, row) -> list:
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

    def _link(self, forward: bool) -> str | None:
        if forward and (not self.has_next or not self.rows):
            return None
        if not forward and (not self.has_previous or not self.rows):
            return None
        row = self.rows[-1] if forward else self.rows[0]
        cursor = self.encode_cursor(self.fields, self._position(row), reverse=not forward)
        return replace_query_param(self.base_url, self.cursor_query_param, cursor)

    @staticmethod
    def encode_cursor(fields: list[str], position: list, reverse: bool = False) -> str:
        """The opaque cursor for the rows after (or, reversed, before) ``position`` in the ``fields`` ordering."""
        token = json.dumps({"p": [_encode_value(v) for v in position], "r": reverse, "o": fields},
                           separators=(",", ":"))  # fmt: skip
        return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")

    def _decode_cursor(self, request):
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            position = [_decode_value(v) for v in data["p"]]
            ok = isinstance(data.get("r"), bool) and data.get("o") == self.fields and len(position) == len(self.fields)
        except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
            ok = False
        if not ok:
            raise ApiError(400, "invalid_cursor", "The cursor is invalid or belongs to another ordering.")
        return {"p": position, "r": data["r"]}

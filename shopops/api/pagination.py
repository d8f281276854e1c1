"""The API's lists page by keyset (``shopops.keyset``): ``next`` and ``previous`` links carry an opaque cursor, and
page 10,000 costs what page 1 costs."""

from collections import OrderedDict

from django.db.models import QuerySet
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from shopops.api.exceptions import ApiError
from shopops.keyset import InvalidCursor, Keyset, deterministic

MAX_PAGE_SIZE = 200


class KeysetPagination(BasePagination):
    page_size = 50
    max_page_size = MAX_PAGE_SIZE
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset: QuerySet, request, view=None):
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self._page_size(request)
        self.keyset = Keyset(queryset.model, self._ordering(queryset, view))
        page = self.keyset.page(queryset, self.page_size, self._decode_cursor(request))
        self.has_next, self.has_previous, self.rows = page.has_next, page.has_previous, page.rows
        return page.rows

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
        return deterministic(ordering)

    def _link(self, forward: bool) -> str | None:
        if forward and (not self.has_next or not self.rows):
            return None
        if not forward and (not self.has_previous or not self.rows):
            return None
        cursor = self.keyset.cursor(self.rows[-1] if forward else self.rows[0], reverse=not forward)
        return replace_query_param(self.base_url, self.cursor_query_param, cursor)

    def _decode_cursor(self, request):
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return None
        try:
            return self.keyset.decode(raw)
        except InvalidCursor as exc:
            raise ApiError(400, "invalid_cursor", str(exc)) from exc

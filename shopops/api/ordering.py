"""``?ordering=`` from a whitelist, with public names mapped to columns (``pack_date`` -> ``packed_at``)."""

from rest_framework.filters import OrderingFilter

from shopops.api.exceptions import ApiError


class WhitelistOrderingFilter(OrderingFilter):
    """Orders by the view's ``ordering_fields`` (a list of fields, or a {public name: field} dict).

    An unknown name is a 400, not silently ignored. Without ``?ordering`` the
    view's ``ordering`` applies. Nullable fields sort nulls last (see KeysetPagination).
    """

    @staticmethod
    def allowed(view) -> dict[str, str]:
        fields = getattr(view, "ordering_fields", None) or {}
        return dict(fields) if isinstance(fields, dict) else {name: name for name in fields}

    def get_ordering(self, request, queryset, view):
        param = request.query_params.get(self.ordering_param)
        if not param:
            return self.get_default_ordering(view)
        allowed = self.allowed(view)
        ordering, unknown = [], []
        for term in (t.strip() for t in param.split(",") if t.strip()):
            name = term.lstrip("-")
            if name not in allowed:
                unknown.append(term)
            else:
                ordering.append(("-" if term.startswith("-") else "") + allowed[name])
        if unknown or not ordering:
            choices = ", ".join(sorted(allowed)) or "none"
            raise ApiError(400, "invalid", f"Unknown ordering {', '.join(unknown) or param!r}; use one of: {choices} "
                           "(prefix - for descending).", {"ordering": [f"Choose from: {choices}."]})  # fmt: skip
        return ordering

    def get_schema_operation_parameters(self, view):
        allowed = sorted(self.allowed(view))
        if not allowed:
            return []
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": f"Sort by one of: {', '.join(allowed)}; prefix `-` for descending.",
                "schema": {"type": "string", "enum": allowed + [f"-{name}" for name in allowed]},
            }
        ]

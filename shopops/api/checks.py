"""The start-up check (``manage.py check``, and every command that runs the checks): each DRF view routed under
``/api/`` declares the scopes of each of its actions, or is explicitly PUBLIC.

A merchant-bound view (``MerchantContextMixin``) must check scopes with ``HasMerchantScope`` and declare, for every
method it is routed for (OPTIONS included), ``scope_object``, an ``action_scopes`` entry or ``scope_object =
PUBLIC``. Any other DRF view under ``/api/`` must be PUBLIC (it authenticates by its own means), or be one of the
third-party pages in ``PUBLIC_VIEWS``.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from django.core import checks
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from shopops.api.base import MerchantContextMixin
from shopops.api.permissions import HasMerchantScope
from shopops.api.scopes import action_of, declared_scopes, is_public

#: Third-party DRF views that are public by design: the OpenAPI schema and its viewers.
PUBLIC_VIEWS = {
    "drf_spectacular.views.SpectacularAPIView",
    "drf_spectacular.views.SpectacularSwaggerView",
    "drf_spectacular.views.SpectacularRedocView",
}


@dataclass(frozen=True)
class Endpoint:
    """One method of one DRF view routed under /api/."""

    route: str
    method: str
    view: APIView  # an instance, as the router builds it (with its action, if a viewset)

    @property
    def action(self) -> str:
        return action_of(self.view, self.method)

    def __str__(self) -> str:
        return f"{self.method} /{self.route}"


def _walk(patterns, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern).removeprefix("^").removesuffix("$").removesuffix("\\Z")
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        else:
            yield route, pattern


def api_endpoints(urlconf=None) -> Iterator[Endpoint]:
    """Every method of every DRF view routed under /api/ in ``urlconf`` (default: ROOT_URLCONF)."""
    for route, pattern in _walk(get_resolver(urlconf).url_patterns):
        view_class = getattr(pattern.callback, "cls", None)
        if not route.startswith("api/") or view_class is None or not issubclass(view_class, APIView):
            continue
        initkwargs = getattr(pattern.callback, "initkwargs", {})
        actions = getattr(pattern.callback, "actions", None)
        if actions:  # a viewset: the router's method -> action map; OPTIONS is its "metadata"
            methods = {**{m: a for m, a in actions.items() if m != "head"}, "options": "metadata"}
        else:
            methods = {m: None for m in view_class.http_method_names if m != "head" and hasattr(view_class, m)}
        for method, action in methods.items():
            view = view_class(**initkwargs)
            if actions:
                view.action = action
            yield Endpoint(route=route, method=method.upper(), view=view)


def scope_errors(urlconf=None) -> list[checks.CheckMessage]:
    """The start-up check's findings on ``urlconf``: one error per view that could be an open door."""
    errors, seen = [], set()
    for endpoint in api_endpoints(urlconf):
        view_class = type(endpoint.view)
        name = f"{view_class.__module__}.{view_class.__qualname__}"
        if not issubclass(view_class, MerchantContextMixin):
            if not is_public(endpoint.view) and name not in PUBLIC_VIEWS and (name, "bound") not in seen:
                seen.add((name, "bound"))
                errors.append(checks.Error(
                    f"{name} (/{endpoint.route}) is not a merchant-bound API view and is not marked PUBLIC.",
                    hint="Derive it from shopops.api.base, or set scope_object = PUBLIC if anyone may call it.",
                    obj=view_class, id="shopops.E101",
                ))  # fmt: skip
            continue
        if not any(issubclass(p, HasMerchantScope) for p in view_class.permission_classes):
            if (name, "permission") not in seen:
                seen.add((name, "permission"))
                errors.append(checks.Error(
                    f"{name} (/{endpoint.route}) does not check scopes: its permission_classes leave out "
                    "HasMerchantScope.", obj=view_class, id="shopops.E102",
                ))  # fmt: skip
            continue
        if declared_scopes(endpoint.view, endpoint.action, endpoint.method) is None:
            errors.append(checks.Error(
                f"{endpoint} ({name}, action {endpoint.action!r}) declares no scope.",
                hint="Set scope_object, an action_scopes entry for the action, or scope_object = PUBLIC.",
                obj=view_class, id="shopops.E103",
            ))  # fmt: skip
    return errors


def check_api_scopes(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return scope_errors()

"""How an API view declares the OAuth scopes its requests need: as data on the class, nothing computed.

- ``scope_object``: the scope family of the view. ``"orders"`` needs ``orders:read`` to read (GET, HEAD,
  OPTIONS) and ``orders:write`` for anything else; a tuple of families needs each of them (``("orders",
  "shipping")``: ``orders:write`` and ``shipping:write`` to ship an order). ``PUBLIC`` marks the few views that
  need no scope at all.
- ``action_scopes``: ``{action: [scopes]}`` for the actions whose scopes are not the family's default. An action
  is a viewset's action (``"bulk"``, ``"retrieve"``, ``"metadata"`` for OPTIONS) or, on a plain view, the
  handler's method (``"post"``).
- ``body_scopes``: ``{action: ByField(field, {value: [scopes]})}`` when a field of the request body picks the
  scopes (an import's ``kind``).
- ``object_scopes``: ``{action: ByField(field, {value: [scopes]})}`` when a field of the object the URL names
  picks them (a document's ``kind``); checked once the view has fetched the object, so no query decides a scope.

A missing or unknown value falls back to the action's default (``action_scopes``, else ``scope_object``), which
is also what the OpenAPI schema shows. The class is checked when it is created (``validate_declaration``) and
every view routed under ``/api/`` when the project starts (``shopops.api.checks``): a view that declares no scope
is a configuration error, never an open door.
"""

from collections.abc import Mapping
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

#: Where a view may declare scopes by action.
ACTION_SCOPE_ATTRIBUTES = ("action_scopes", "body_scopes", "object_scopes")


class _Public:
    """The type of ``PUBLIC``."""

    def __repr__(self) -> str:
        return "PUBLIC"


#: ``scope_object = PUBLIC``: the view needs no scope. A merchant-bound view still needs a caller of the
#: merchant (``/me/``: who the token is); another view authenticates by its own means (the couriers' signed
#: webhook).
PUBLIC = _Public()


class ByField(NamedTuple):
    """Scopes picked by the value of one field: ``scopes[value]``, the action's default for any other value."""

    field: str
    scopes: Mapping[str, list[str]]

    def pick(self, value: Any) -> list[str] | None:
        return list(self.scopes[value]) if isinstance(value, str) and value in self.scopes else None


def action_of(view, method: str) -> str:
    """The name scopes are declared under: the viewset's action, else the method of a plain view."""
    method = method.lower()
    return getattr(view, "action", None) or ("get" if method == "head" else method)


def is_public(view) -> bool:
    return getattr(view, "scope_object", None) is PUBLIC


def declared_scopes(view, action: str, method: str) -> list[str] | None:
    """The scopes an action needs by default: ``[]`` for a PUBLIC view, ``None`` when the view declares none."""
    scope_object = getattr(view, "scope_object", None)
    if scope_object is PUBLIC:
        return []
    action_scopes = getattr(view, "action_scopes", None) or {}
    if action in action_scopes:
        return list(action_scopes[action])
    if not scope_object:
        return None
    access = "read" if method.upper() in SAFE_METHODS else "write"
    families = (scope_object,) if isinstance(scope_object, str) else scope_object
    return [f"{family}:{access}" for family in families]


def is_write(scopes: list[str], method: str) -> bool:
    """Whether a request writes: it needs a write scope (a POST that needs only read scopes is a lookup)."""
    if not scopes:
        return method.upper() not in SAFE_METHODS
    return any(scope.endswith(":write") for scope in scopes)


# -- checked at class creation -------------------------------------------------------------------------------------


def validate_declaration(cls) -> None:
    """Refuse a malformed declaration when the class is created: unknown scopes or families, an action the class
    does not have, a PUBLIC view with scopes, scopes computed by a ``required_scopes`` attribute or property."""
    name = cls.__qualname__
    if hasattr(cls, "required_scopes"):
        raise ImproperlyConfigured(
            f"{name} defines required_scopes; declare scopes as data: scope_object and action_scopes "
            "(see shopops.api.scopes)."
        )
    known = set(settings.API_SCOPES)
    scope_object = getattr(cls, "scope_object", None)
    if scope_object is PUBLIC:
        declared = [attribute for attribute in ACTION_SCOPE_ATTRIBUTES if getattr(cls, attribute, None)]
        if declared:
            raise ImproperlyConfigured(f"{name} is PUBLIC and also declares {', '.join(declared)}.")
        return
    if scope_object is not None:
        families = (scope_object,) if isinstance(scope_object, str) else scope_object
        if not isinstance(families, tuple) or not families:
            raise ImproperlyConfigured(f"{name}.scope_object must be a family, a tuple of families or PUBLIC.")
        for family in families:
            if not {f"{family}:read", f"{family}:write"} <= known:
                raise ImproperlyConfigured(f"{name}.scope_object names an unknown scope family {family!r}.")
    for attribute in ACTION_SCOPE_ATTRIBUTES:
        declared = getattr(cls, attribute, None)
        if declared is None:
            continue
        if not isinstance(declared, dict):
            raise ImproperlyConfigured(f"{name}.{attribute} must be a dict: action -> scopes.")
        for action, scopes in declared.items():
            if action != "metadata" and not callable(getattr(cls, action, None)):
                raise ImproperlyConfigured(f"{name}.{attribute} names {action!r}, which is not an action of the view.")
            if attribute == "action_scopes":
                _validate_scopes(f"{name}.{attribute}[{action!r}]", scopes, known)
            elif isinstance(scopes, ByField):
                for value, picked in scopes.scopes.items():
                    _validate_scopes(f"{name}.{attribute}[{action!r}] for {value!r}", picked, known)
            else:
                raise ImproperlyConfigured(f"{name}.{attribute}[{action!r}] must be a ByField.")


def _validate_scopes(where: str, scopes, known: set[str]) -> None:
    if not isinstance(scopes, list | tuple) or not scopes:
        raise ImproperlyConfigured(f"{where} must be a non-empty list of scopes.")
    unknown = [scope for scope in scopes if scope not in known]
    if unknown:
        raise ImproperlyConfigured(f"{where} names unknown scopes: {', '.join(map(str, unknown))}.")

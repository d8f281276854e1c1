"""Scope and role checks, from the scopes each view declares (see shopops.api.scopes)."""

from django.core.exceptions import ImproperlyConfigured
from rest_framework import permissions

from shopops.api.context import ApiClient, resolve_api_client
from shopops.api.exceptions import ApiError
from shopops.api.scopes import action_of, declared_scopes, is_write
from shopops.models import WRITE_ROLES


def required_scopes(view, request) -> list[str]:
    """Scopes a request needs before the view runs: the action's declared scopes, or those its body's field picks.

    Without a body (the OpenAPI schema, the tenancy harness) this is the action's default. A view that declares no
    scope for the action is a configuration error (the start-up check reports it first), never an open door.
    """
    action = action_of(view, request.method)
    needed = declared_scopes(view, action, request.method)
    if needed is None:
        raise ImproperlyConfigured(
            f"{type(view).__qualname__} declares no scope for {action!r}: set scope_object, action_scopes or PUBLIC."
        )
    by_body = (getattr(view, "body_scopes", None) or {}).get(action)
    data = getattr(request, "data", None) if by_body is not None else None
    picked = by_body.pick(data.get(by_body.field)) if isinstance(data, dict) else None
    return picked or needed


def check_scopes(client: ApiClient, needed: list[str], needs: str = "This request needs") -> None:
    """403 ``missing_scope`` naming the scopes needed and those missing, unless ``client`` holds them all."""
    missing = [scope for scope in needed if scope not in client.scopes]
    if missing:
        raise ApiError(
            403,
            "missing_scope",
            f"{needs} the scope{'s' if len(missing) > 1 else ''} {' '.join(missing)}.",
            {"required_scopes": needed, "missing_scopes": missing},
        )


def check_role(client: ApiClient, roles, refusal: str) -> None:
    """403 ``role_forbidden`` when ``client`` acts for a user whose role is not in ``roles`` (``refusal``: why)."""
    if client.role is not None and client.role not in roles:
        raise ApiError(403, "role_forbidden", f"The {client.role} role {refusal}", {"role": client.role})


class HasMerchantScope(permissions.BasePermission):
    """Authenticated, resolved to a merchant, holding the view's scopes, in a role that may write.

    A request needing a write scope needs a role that writes; one needing only read scopes (a lookup by POST) is
    open to every role. An action whose scopes follow the object (``object_scopes``) is checked on the object the
    view fetches; when there is none, on the action's default scopes (then 404).
    """

    def has_permission(self, request, view) -> bool:
        if request.auth is None and not (request.user and request.user.is_authenticated):
            return False
        client = resolve_api_client(request)
        request.api_client = client
        needed = required_scopes(view, request)
        if not self.follows_object(request, view):
            check_scopes(client, needed)
        if is_write(needed, request.method):
            check_role(client, WRITE_ROLES, "can only read.")
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        if self.follows_object(request, view):
            by_object = view.object_scopes[action_of(view, request.method)]
            picked = by_object.pick(getattr(obj, by_object.field, None))
            check_scopes(request.api_client, picked or required_scopes(view, request))
        return True

    def has_no_object(self, request, view) -> None:
        """The object an object-scoped action names is not found: the action's default scopes, before the 404."""
        if self.follows_object(request, view):
            check_scopes(request.api_client, required_scopes(view, request))

    @staticmethod
    def follows_object(request, view) -> bool:
        return action_of(view, request.method) in (getattr(view, "object_scopes", None) or {})

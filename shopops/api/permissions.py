"""Scope and role checks, derived from each view's ``scope_object``."""

from rest_framework import permissions

from shopops.api.context import resolve_api_client
from shopops.api.exceptions import ApiError
from shopops.models import WRITE_ROLES


def required_scopes(view, request) -> list[str]:
    """Scopes the request needs: an action's ``required_scopes``, else ``<scope_object>:read|write``."""
    explicit = getattr(view, "required_scopes", None)
    if explicit:
        return list(explicit)
    scope_object = getattr(view, "scope_object", None)
    if not scope_object:
        return []
    access = "read" if request.method in permissions.SAFE_METHODS else "write"
    return [f"{scope_object}:{access}"]


class HasMerchantScope(permissions.BasePermission):
    """Authenticated, resolved to a merchant, holding the view's scopes, in a role that may write."""

    def has_permission(self, request, view) -> bool:
        if request.auth is None and not (request.user and request.user.is_authenticated):
            return False
        client = resolve_api_client(request)
        request.api_client = client
        needed = required_scopes(view, request)
        missing = [scope for scope in needed if scope not in client.scopes]
        if missing:
            raise ApiError(
                403,
                "missing_scope",
                f"This request needs the scope{'s' if len(missing) > 1 else ''} {' '.join(missing)}.",
                {"required_scopes": needed, "missing_scopes": missing},
            )
        if (
            request.method not in permissions.SAFE_METHODS
            and client.role is not None
            and client.role not in WRITE_ROLES
        ):
            raise ApiError(403, "role_forbidden", f"The {client.role} role can only read.", {"role": client.role})
        return True

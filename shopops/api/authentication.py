from django.contrib.auth.models import AnonymousUser
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import exceptions


class PartnerTokenAuthentication(OAuth2Authentication):
    """Bearer tokens from /o/token/, in the Authorization header only. A client-credentials token has no user:
    ``request.user`` is then anonymous and ``request.auth`` carries the token.

    RFC 6750 also allows ``access_token`` in a form body or the query string; ShopOps refuses both (they end up
    in logs, proxies and browser history), so such a request is simply not authenticated (401)."""

    def authenticate(self, request):
        if not request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("bearer "):
            return None
        result = super().authenticate(request)
        if result is None:
            raise exceptions.AuthenticationFailed("The access token is invalid, expired or revoked.")
        user, token = result
        return (user or AnonymousUser(), token)

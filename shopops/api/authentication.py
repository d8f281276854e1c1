from django.contrib.auth.models import AnonymousUser
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import exceptions


class PartnerTokenAuthentication(OAuth2Authentication):
    """Bearer tokens from /o/token/. A client-credentials token has no user:
    ``request.user`` is then anonymous and ``request.auth`` carries the token."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            if request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("bearer "):
                raise exceptions.AuthenticationFailed("The access token is invalid, expired or revoked.")
            return None
        user, token = result
        return (user or AnonymousUser(), token)

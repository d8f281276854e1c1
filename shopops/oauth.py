"""django-oauth-toolkit hooks: per-application scopes, merchant membership for user tokens."""

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes
from oauthlib.oauth2.rfc6749 import errors

from shopops.models import Membership


class PartnerApplicationScopes(BaseScopes):
    """All ShopOps scopes exist; an application may hold only its ``allowed_scopes``."""

    def get_all_scopes(self):
        return settings.API_SCOPES

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        if application is None:
            return list(settings.API_SCOPES)
        return application.scope_list()

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return self.get_available_scopes(application, request)


class PartnerOAuth2Validator(OAuth2Validator):
    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        """An authorization code is only exchanged if its user belongs to the application's merchant."""
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        return Membership.objects.filter(merchant_id=request.client.merchant_id, user=request.user).exists()

    def validate_user(self, username, password, client, request, *args, **kwargs):
        """The password grant is never allowed: refuse before any password is checked."""
        raise errors.UnauthorizedClientError(request=request)

    def validate_bearer_token(self, token, scopes, request):
        """A token issued to a user stops working when the user is deactivated."""
        if not super().validate_bearer_token(token, scopes, request):
            return False
        user = request.access_token.user
        return user is None or user.is_active

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        """Refresh only for an active user who is still a member of the application's merchant."""
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        user = request.user
        return user is None or (
            user.is_active and Membership.objects.filter(merchant_id=client.merchant_id, user=user).exists()
        )

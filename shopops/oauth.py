"""django-oauth-toolkit hooks: per-application scopes, merchant membership for user tokens."""

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes

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

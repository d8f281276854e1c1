from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from shopops.api.base import MerchantAPIView
from shopops.api.scopes import PUBLIC


class MerchantOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    time_zone = serializers.CharField()
    default_currency = serializers.CharField()
    tax_id = serializers.CharField()
    lut_reference = serializers.CharField(help_text="The LUT exports go under without IGST ('' if none).")
    country = serializers.CharField()
    mask_phone_on_label = serializers.BooleanField(
        help_text="Shipping labels show only the last 4 digits of the customer's phone (a setting of the merchant's "
                  "page in the admin; off by default)."
    )  # fmt: skip


class MeOutput(serializers.Serializer):
    merchant = MerchantOutput()
    client = serializers.CharField(help_text="`app:<client_id>` for a partner token, `user:<id>` for a session.")
    application = serializers.CharField(allow_null=True, help_text="The partner application's name.")
    user = serializers.CharField(allow_null=True, help_text="The user behind the token or session, if any.")
    role = serializers.CharField(allow_null=True)
    scopes = serializers.ListField(child=serializers.CharField())


class MeView(MerchantAPIView):
    """Who the caller is: merchant, client, role and granted scopes. Useful to check a token."""

    scope_object = PUBLIC  # any token or session of the merchant may ask who it is, whatever its scopes

    @extend_schema(responses=MeOutput, operation_id="me_retrieve")
    def get(self, request):
        client = self.api_client
        data = {
            "merchant": client.merchant,
            "client": client.client_key,
            "application": client.application.name if client.application else None,
            "user": client.user.get_username() if client.user else None,
            "role": client.role,
            "scopes": sorted(client.scopes),
        }
        return Response(MeOutput(data).data)

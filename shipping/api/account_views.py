"""Courier accounts: a merchant's connections to courier services (Shiprocket, Delhivery, EasyPost), their
"test connection", their HTTP log, and the services' webhooks."""

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from shipping.adapters import WebhookRefused
from shipping.api.tracking_views import CourierWebhookThrottle
from shipping.models import AccountEnvironment, AccountService, CourierAccount, CourierHttpLog
from shipping.services.accounts import (
    CREDENTIAL_FIELDS,
    OPTION_FIELDS,
    WebhookNotFound,
    courier_account_check,
    courier_account_create,
    courier_account_update,
    courier_webhook_receive,
)
from shopops.api.base import MerchantScopedGenericViewSet
from shopops.api.exceptions import ApiError
from shopops.api.schema import ApiErrorOutput
from shopops.api.scopes import PUBLIC
from shopops.api.serializers import StrictInputMixin, validated_input
from shopops.validation import UnstorableInput

CREDENTIALS_HELP = "; ".join(
    f"{service}: {', '.join(name + ('*' if required else '') for name, required in fields.items())}"
    for service, fields in CREDENTIAL_FIELDS.items()
)
OPTIONS_HELP = "; ".join(f"{service}: {', '.join(names)}" for service, names in OPTION_FIELDS.items())


class CourierAccountOutput(serializers.ModelSerializer):
    credentials_set = serializers.SerializerMethodField(
        help_text="The names of the credentials stored (never their values: they are not shown again)."
    )
    status = serializers.CharField(source="health", help_text="unverified, connected, failing or rejected.")
    status_message = serializers.CharField(source="health_message", help_text="The service's latest answer.")
    circuit_open = serializers.SerializerMethodField(help_text="Calls are paused after failures in a row.")
    webhook_url = serializers.SerializerMethodField(help_text="Give this address to the service for its webhooks.")

    class Meta:
        model = CourierAccount
        fields = ["id", "name", "service", "environment", "is_active", "options", "credentials_set", "status",
                  "status_message", "failing_since", "last_checked_at", "circuit_open", "circuit_open_until",
                  "webhook_url", "created_at", "updated_at"]  # fmt: skip

    def get_credentials_set(self, account) -> list[str]:
        return sorted(account.credentials)

    def get_circuit_open(self, account) -> bool:
        return account.circuit_open_until is not None and account.circuit_open_until > timezone.now()

    def get_webhook_url(self, account) -> str:
        path = reverse("courier-account-webhook", args=[account.webhook_id])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class CourierAccountInput(StrictInputMixin, serializers.Serializer):
    name = serializers.CharField(max_length=80)
    service = serializers.ChoiceField(choices=AccountService.choices)
    environment = serializers.ChoiceField(choices=AccountEnvironment.choices, default=AccountEnvironment.LIVE,
                                          help_text="sandbox: the service's test host or test keys.")  # fmt: skip
    is_active = serializers.BooleanField(default=True)
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=2000), write_only=True,
        help_text=f"Write-only, stored encrypted, never shown again (* required). {CREDENTIALS_HELP}. On update a "
                  "credential left out or blank keeps the stored one.",
    )  # fmt: skip
    options = serializers.DictField(required=False, default=dict, help_text=f"Not secret. {OPTIONS_HELP}.")


class CourierAccountUpdateInput(StrictInputMixin, serializers.Serializer):
    name = serializers.CharField(max_length=80, required=False)
    environment = serializers.ChoiceField(choices=AccountEnvironment.choices, required=False)
    is_active = serializers.BooleanField(required=False)
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=2000), required=False,
        write_only=True, help_text="Only the credentials to replace; new ones are checked afresh.",
    )  # fmt: skip
    options = serializers.DictField(required=False, help_text="Merged into the stored options; null removes one.")


class CourierHttpLogOutput(serializers.ModelSerializer):
    class Meta:
        model = CourierHttpLog
        fields = ["id", "created_at", "operation", "reference", "method", "url", "attempt", "status_code",
                  "duration_ms", "error", "call", "request_body", "response_body"]  # fmt: skip


ERRORS = {400: ApiErrorOutput, 404: ApiErrorOutput, 409: ApiErrorOutput}


@extend_schema_view(
    list=extend_schema(summary="List courier accounts (scope shipping:write)"),
    retrieve=extend_schema(summary="A courier account (scope shipping:write)"),
    create=extend_schema(
        summary="Connect a courier account (scope shipping:write)",
        request=CourierAccountInput,
        responses={201: CourierAccountOutput, **ERRORS},
    ),  # fmt: skip
    partial_update=extend_schema(
        summary="Change a courier account (scope shipping:write)",
        request=CourierAccountUpdateInput,
        responses={200: CourierAccountOutput, **ERRORS},
    ),  # fmt: skip
)
class CourierAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """A merchant's accounts with courier services. Credentials are write-only: an answer names the ones stored,
    never their values. Accounts are not deleted (couriers and shipments refer to them): deactivate them."""

    scope_object = "shipping"
    action_scopes = {"list": ["shipping:write"], "retrieve": ["shipping:write"], "log": ["shipping:write"]}
    serializer_class = CourierAccountOutput
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_base_queryset(self):
        return CourierAccount.objects.all()

    def _out(self, account, code=status.HTTP_200_OK) -> Response:
        return Response(CourierAccountOutput(account, context=self.get_serializer_context()).data, status=code)

    def create(self, request):
        data = dict(validated_input(CourierAccountInput, self, request.data))
        account = courier_account_create(merchant=self.merchant, service=data.pop("service"), data=data)
        return self._out(account, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        data = validated_input(CourierAccountUpdateInput, self, request.data)
        return self._out(courier_account_update(account=self.get_object(), data=data))

    @extend_schema(summary="Test the connection: a harmless call with the stored credentials (scope shipping:write)",
                   description="The answer is the account with `status` connected, rejected (the service refused "
                               "the credentials) or failing (the service did not answer), and the service's words "
                               "in `status_message`.", request=None,
                   responses={200: CourierAccountOutput, 404: ApiErrorOutput})  # fmt: skip
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        return self._out(courier_account_check(account=self.get_object()))

    @extend_schema(summary="The account's HTTP log, newest first (bodies redacted; scope shipping:write)",
                   responses=CourierHttpLogOutput(many=True))  # fmt: skip
    @action(detail=True, methods=["get"])
    def log(self, request, pk=None):
        account = self.get_object()
        page = self.paginate_queryset(CourierHttpLog.objects.filter(account=account).order_by("-id"))
        return self.get_paginated_response(CourierHttpLogOutput(page, many=True).data)


# -- the services' webhooks ------------------------------------------------------------------------------------


class RawParser(BaseParser):
    """Leaves the body alone: the webhook is verified on its raw bytes."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return None


class CourierAccountWebhookThrottle(CourierWebhookThrottle):
    """The couriers' webhook budget, per account address and sender."""

    def get_cache_key(self, request, view):
        ident = f"{view.kwargs.get('webhook_id')}:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AccountWebhookSchema(AutoSchema):
    def get_operation_id(self):
        return "courier_account_webhook"


@extend_schema(
    summary="Receive a courier service's webhook (Shiprocket tracking, EasyPost events, Delhivery scan push)",
    description="The address is the account's `webhook_url`. The request is verified the way the service "
                "documents (Shiprocket: the `x-api-key` token; EasyPost: `X-Hmac-Signature`; Delhivery: the shared "
                "token header), stored as received and answered at once; a worker applies its events. A delivery "
                "the service repeats is stored once.",
    request={"application/json": OpenApiTypes.OBJECT},
    responses={
        200: OpenApiResponse(description="Stored (or stored already)."),
        400: OpenApiResponse(ApiErrorOutput, description="`parse_error`: not a JSON object."),
        401: OpenApiResponse(ApiErrorOutput, description="`invalid_signature`: the token or signature is wrong; "
                                                          "nothing is stored."),
        404: OpenApiResponse(ApiErrorOutput, description="No active account has this address."),
    },
    auth=[],
)  # fmt: skip
class CourierAccountWebhookView(APIView):
    """Proved by the service's token or signature, not OAuth: bound to the account whose address it is."""

    scope_object = PUBLIC
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [CourierAccountWebhookThrottle]
    parser_classes = [RawParser]
    schema = AccountWebhookSchema()

    def post(self, request, webhook_id: str):
        try:
            delivery, new = courier_webhook_receive(webhook_id=webhook_id, headers=request.headers, body=request.body)
        except WebhookNotFound:
            raise NotFound("No courier account has this webhook address.") from None
        except WebhookRefused as exc:
            raise ApiError(401, "invalid_signature", str(exc)) from None
        except UnstorableInput as exc:
            raise ApiError(400, "parse_error", f"The body holds {exc}; it cannot be stored.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "parse_error", f"The body is not a JSON object: {exc}") from None
        return Response({"received": True, "duplicate": not new}, status=status.HTTP_200_OK)

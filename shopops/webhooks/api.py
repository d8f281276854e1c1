"""The webhooks API: endpoints (``/webhook-endpoints/``) and the delivery log (``/webhook-deliveries/``).

Scopes ``webhooks:read`` / ``webhooks:write``. Subscribing to events also needs the read scope of their data
(``orders:read`` for order and import events, ``shipping:read`` for shipment and document events): a token
cannot have pushed to it what it could not read. Changing endpoints takes an owner or manager when acting
with a user's session or token. Both depend on what the request asks (its events, its endpoint), so the views
check them once the input is valid and the endpoint found, with the permission's own checks.
"""

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from shopops.api.base import MerchantScopedGenericViewSet, MerchantScopedReadOnlyViewSet
from shopops.api.permissions import check_role, check_scopes
from shopops.api.schema import ApiErrorOutput
from shopops.api.serializers import validated_input
from shopops.models import ADMIN_ROLES
from shopops.webhooks import serializers as s
from shopops.webhooks import services
from shopops.webhooks.filters import WebhookDeliveryFilter
from shopops.webhooks.models import ALL_EVENTS, SUBSCRIBABLE_EVENTS, WebhookAttempt, WebhookDelivery, WebhookEndpoint

#: The read scope an event's data needs, by the event type's first word.
EVENT_SCOPES = {"order": "orders:read", "import": "orders:read", "shipment": "shipping:read",
                "document": "shipping:read"}  # fmt: skip


def event_scopes(events: list[str]) -> list[str]:
    families = {event.split(".")[0] for event in (SUBSCRIBABLE_EVENTS if ALL_EVENTS in events else events)}
    return sorted({EVENT_SCOPES[family] for family in families})


def _errors(**codes: str) -> dict:
    return {int(code[1:]): OpenApiResponse(ApiErrorOutput, description=text) for code, text in codes.items()}


@extend_schema_view(
    create=extend_schema(
        request=s.WebhookEndpointInput,
        responses={
            201: s.WebhookEndpointSecretOutput,
            **_errors(
                e400="`invalid`: an unknown event, a URL that is not https or names a private, loopback "
                "or link-local address (or resolves to one), or cannot be resolved.",
                e403="`missing_scope`: the events need orders:read or shipping:read; `role_forbidden`.",
            ),
        },
        description="The answer carries the endpoint's `secret`, shown this once.",
    ),  # fmt: skip
    partial_update=extend_schema(request=s.WebhookEndpointInput, responses=s.WebhookEndpointOutput),
    destroy=extend_schema(responses={204: None}, description="Removes the endpoint with its delivery log."),
)
class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """Partners' URLs that receive the merchant's events, signed with each endpoint's secret."""

    scope_object = "webhooks"
    serializer_class = s.WebhookEndpointOutput
    ordering_fields = ["created_at", "url"]
    ordering = ["-created_at", "-id"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_base_queryset(self):
        return WebhookEndpoint.objects.all()

    def _check_rights(self, events: list[str] | None = None) -> None:
        check_role(self.api_client, ADMIN_ROLES, "cannot manage webhook endpoints; an owner or manager can.")
        check_scopes(self.api_client, event_scopes(events or []), needs="These events need")

    def create(self, request):
        data = validated_input(s.WebhookEndpointInput, self, request.data)
        self._check_rights(data["events"])
        created = services.endpoint_create(merchant=self.merchant, actor=self.actor, **data)
        return Response(s.WebhookEndpointSecretOutput(created.endpoint).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        endpoint = self.get_object()
        data = validated_input(s.WebhookEndpointInput, self, request.data, partial=True)
        self._check_rights(data.get("events"))
        return Response(s.WebhookEndpointOutput(services.endpoint_update(endpoint=endpoint, data=data)).data)

    def destroy(self, request, pk=None):
        endpoint = self.get_object()
        self._check_rights()
        services.endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Rotate the endpoint's secret", request=s.WebhookSecretRotateInput,
                   responses={200: s.WebhookEndpointSecretOutput, **_errors(e403="`role_forbidden`.")})  # fmt: skip
    @action(detail=True, methods=["post"], url_path="rotate-secret", url_name="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new secret, shown this once. By default the old one keeps signing (a second v1) for 24 hours."""
        endpoint = self.get_object()
        data = validated_input(s.WebhookSecretRotateInput, self, request.data or {})
        self._check_rights()
        rotated = services.endpoint_rotate_secret(endpoint=endpoint, keep_previous=data["keep_previous"])
        return Response(s.WebhookEndpointSecretOutput(rotated.endpoint).data)

    @extend_schema(summary="Send a test event", request=None,
                   responses={202: s.WebhookDeliveryOutput, **_errors(e409="`endpoint_disabled`.")})  # fmt: skip
    @action(detail=True, methods=["post"], url_path="ping", url_name="ping")
    def ping(self, request, pk=None):
        """Queue a `webhook.ping` event to this endpoint alone; its delivery shows in the log."""
        delivery = services.endpoint_ping(endpoint=self.get_object())
        return Response(s.WebhookDeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryViewSet(MerchantScopedReadOnlyViewSet):
    """The delivery log: one row per event and endpoint, with each attempt (request, status, duration)."""

    scope_object = "webhooks"
    serializer_class = s.WebhookDeliveryOutput
    filterset_class = WebhookDeliveryFilter
    ordering_fields = ["created_at", "next_attempt_at"]
    ordering = ["-created_at", "-id"]
    http_method_names = ["get", "post", "head", "options"]

    def get_base_queryset(self):
        if getattr(self, "action", None) == "retrieve":
            return WebhookDelivery.objects.prefetch_related(
                Prefetch("attempts", queryset=WebhookAttempt.objects.order_by("number"))
            )
        return WebhookDelivery.objects.all()

    def get_serializer_class(self):
        return s.WebhookDeliveryDetailOutput if self.action == "retrieve" else s.WebhookDeliveryOutput

    @extend_schema(
        summary="Send a delivery's event again",
        request=None,
        responses={201: s.WebhookDeliveryOutput,
                   **_errors(e409="`delivery_in_progress` (still pending: it is sent without being asked), "
                                  "`endpoint_disabled`.")},
    )  # fmt: skip
    @action(detail=True, methods=["post"], url_path="resend", url_name="resend")
    def resend(self, request, pk=None):
        """A new delivery of the same event (same `id`) to the same endpoint, with its own attempts."""
        copy = services.delivery_resend(delivery=self.get_object())
        return Response(s.WebhookDeliveryOutput(copy).data, status=status.HTTP_201_CREATED)

"""Input and output of the webhooks API."""

import json

from rest_framework import serializers

from shopops.api.serializers import StrictInputMixin
from shopops.webhooks.models import (
    ALL_EVENTS,
    SUBSCRIBABLE_EVENTS,
    UNFINISHED,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from shopops.webhooks.services import event_body


class WebhookEndpointOutput(serializers.ModelSerializer):
    has_secret = serializers.SerializerMethodField(help_text="Always true: the secret is shown only on creation "
                                                             "and rotation.")  # fmt: skip
    secret_rotating_until = serializers.SerializerMethodField(
        help_text="While set, requests carry a second v1 signature made with the previous secret."
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "is_enabled", "failing_since", "has_secret",
                  "secret_rotating_until", "created_at", "updated_at"]  # fmt: skip

    def get_has_secret(self, endpoint: WebhookEndpoint) -> bool:
        return bool(endpoint.secret)

    def get_secret_rotating_until(self, endpoint: WebhookEndpoint) -> str | None:
        until = endpoint.previous_secret_expires_at
        return serializers.DateTimeField().to_representation(until) if until and endpoint.previous_secret else None


class WebhookEndpointSecretOutput(WebhookEndpointOutput):
    secret = serializers.CharField(help_text="whsec_...: shown this once; keep it to verify ShopOps-Signature.")

    class Meta(WebhookEndpointOutput.Meta):
        fields = [*WebhookEndpointOutput.Meta.fields, "secret"]


EVENT_CHOICES = [*SUBSCRIBABLE_EVENTS, ALL_EVENTS]


class WebhookEndpointInput(StrictInputMixin, serializers.Serializer):
    url = serializers.CharField(max_length=2000, help_text="https:// URL on a public address.")
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES), min_length=1, max_length=20,
                                   help_text='Event types, or ["*"] for all.')  # fmt: skip
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    is_enabled = serializers.BooleanField(required=False, default=True)


class WebhookSecretRotateInput(StrictInputMixin, serializers.Serializer):
    keep_previous = serializers.BooleanField(
        default=True, help_text="Sign with the old secret too for 24 hours (a second v1), so receivers can switch."
    )


class WebhookDeliveryOutput(serializers.ModelSerializer):
    next_attempt_at = serializers.SerializerMethodField(help_text="When a pending delivery is tried next.")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "endpoint", "event_id", "event_type", "object_key", "status", "attempt_count",
                  "next_attempt_at", "last_response_status", "last_error", "delivered_at", "failed_at",
                  "resent_from", "created_at"]  # fmt: skip

    def get_next_attempt_at(self, delivery: WebhookDelivery) -> str | None:
        if delivery.status not in UNFINISHED:
            return None
        return serializers.DateTimeField().to_representation(delivery.next_attempt_at)


class WebhookAttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "url", "started_at", "duration_ms", "response_status", "response_body", "error",
                  "request_headers"]  # fmt: skip


class WebhookDeliveryDetailOutput(WebhookDeliveryOutput):
    body = serializers.SerializerMethodField(help_text="The JSON posted: {id, type, created_at, data}.")
    attempts = WebhookAttemptOutput(many=True, help_text="Each POST, oldest first.")

    class Meta(WebhookDeliveryOutput.Meta):
        fields = [*WebhookDeliveryOutput.Meta.fields, "body", "attempts"]

    def get_body(self, delivery: WebhookDelivery) -> dict:
        return json.loads(event_body(delivery))

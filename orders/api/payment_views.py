"""Payments in the API: the payments the gateways' events recorded (scope payments:read), and the gateways'
webhooks (one unguessable address per gateway connection, proved by the gateway's signature, not OAuth)."""

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers

from orders.api import serializers as s
from orders.api.channel_views import ChannelWebhookThrottle, SignedWebhookView
from orders.filters import PaymentFilter
from orders.models import Payment, PaymentEvent
from orders.payments.base import SignatureRefused
from orders.services.payments import WEBHOOK_MAX_BYTES, payment_webhook_receive
from shopops.api.base import MerchantScopedReadOnlyViewSet
from shopops.api.schema import ApiErrorOutput


@extend_schema_view(
    list=extend_schema(summary="List payments, newest first (scope payments:read)"),
    retrieve=extend_schema(summary="A payment with the gateway events that made it (scope payments:read)"),
)
class PaymentViewSet(MerchantScopedReadOnlyViewSet):
    """Payments at the merchant's gateways, as their webhooks told them; ``matched=false`` lists those waiting to be
    matched to an order."""

    scope_object = "payments"
    serializer_class = s.PaymentOutput
    filterset_class = PaymentFilter
    ordering_fields = ["created_at", "last_event_at", "amount"]
    ordering = ["-created_at", "-id"]

    def get_base_queryset(self):
        payments = Payment.objects.select_related("order")
        if getattr(self, "action", None) == "retrieve":
            payments = payments.prefetch_related(Prefetch("events", queryset=PaymentEvent.objects.order_by("id")))
        return payments

    def get_serializer_class(self):
        return s.PaymentDetailOutput if self.action == "retrieve" else s.PaymentOutput


class PaymentWebhookThrottle(ChannelWebhookThrottle):
    """The gateways' own budget per webhook address and sender (``payment_webhook``, default 6000/min)."""

    scope = "payment_webhook"


@extend_schema(
    summary="Receive a payment gateway's webhook (Razorpay, Stripe)",
    description="The address is the gateway connection's webhook address. Razorpay: payment.authorized, "
                "payment.captured, payment.failed, order.paid, refund.created, refund.processed, refund.failed, "
                "signed in `X-Razorpay-Signature` (hex HMAC-SHA256 of the raw body), deduplicated by "
                "`X-Razorpay-Event-Id`. Stripe: payment_intent.succeeded, payment_intent.amount_capturable_updated, "
                "payment_intent.payment_failed, charge.refunded, checkout.session.completed, signed in "
                "`Stripe-Signature` (`t=...,v1=...`, at most 300 s old), deduplicated by the event id. The previous "
                "webhook secret is also accepted while it is being changed. A verified event is stored once and "
                "applied to its payment at once; another event type gets a 200 with `ignored` and is not stored.",
    request={"application/json": OpenApiTypes.OBJECT},
    responses={
        200: inline_serializer("PaymentWebhookReceived", {
            "received": serializers.BooleanField(), "duplicate": serializers.BooleanField(),
            "ignored": serializers.CharField(required=False, help_text="Why nothing was stored.")}),
        400: OpenApiResponse(ApiErrorOutput, description="`parse_error`: not a JSON object."),
        401: OpenApiResponse(ApiErrorOutput, description="`invalid_signature`: nothing is stored."),
        404: OpenApiResponse(ApiErrorOutput, description="No active gateway connection has this address."),
        413: OpenApiResponse(ApiErrorOutput, description="`payload_too_large`."),
    },
    auth=[],
)  # fmt: skip
class PaymentWebhookView(SignedWebhookView):
    throttle_classes = [PaymentWebhookThrottle]
    max_bytes = WEBHOOK_MAX_BYTES
    not_found_message = "No payment gateway has this webhook address."
    refusals = (SignatureRefused,)

    def receive(self, *, webhook_id: str, headers, body: bytes):
        return payment_webhook_receive(webhook_id=webhook_id, headers=headers, body=body)

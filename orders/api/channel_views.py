"""Channel connections in the API: SKU mappings, and the stores' order webhooks (one unguessable address per
channel, proved by the store's signature, not OAuth)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from orders.api import serializers as s
from orders.filters import SkuMappingFilter
from orders.models import SkuMapping
from orders.services import sku_mappings
from orders.services.channel_webhooks import (
    WEBHOOK_MAX_BYTES,
    WebhookNotFound,
    WebhookRefused,
    WebhookTooLarge,
    channel_webhook_receive,
)
from shopops.api.base import MerchantScopedGenericViewSet
from shopops.api.exceptions import ApiError, PayloadTooLarge
from shopops.api.schema import ApiErrorOutput
from shopops.api.scopes import PUBLIC
from shopops.api.serializers import validated_input
from shopops.validation import UnstorableInput

ERRORS = {400: ApiErrorOutput, 404: ApiErrorOutput}
BULK_RESULTS = inline_serializer("SkuMappingBulkOutput", {"results": serializers.ListField(child=serializers.DictField(
    help_text='{"index", "id", "created", "orders_mapped"} or {"index", "errors"}'))})  # fmt: skip


@extend_schema_view(
    list=extend_schema(summary="List SKU mappings (scope orders:read)"),
    retrieve=extend_schema(summary="A SKU mapping (scope orders:read)"),
    create=extend_schema(
        summary="Map a channel's SKU to a catalog SKU (scope orders:write)",
        description="Upserts by (channel, channel_sku), and maps the lines of the channel's new "
        "orders that wait for this SKU.",
        request=s.SkuMappingInput,
        responses={201: s.SkuMappingOutput, 200: s.SkuMappingOutput, **ERRORS},
    ),  # fmt: skip
    destroy=extend_schema(summary="Forget a SKU mapping (scope orders:write)", responses={204: None, **ERRORS}),
)
class SkuMappingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """A channel's SKUs for the merchant's products."""

    scope_object = "orders"
    serializer_class = s.SkuMappingOutput
    filterset_class = SkuMappingFilter
    ordering_fields = ["channel_sku", "created_at"]
    ordering = ["channel_sku", "id"]
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_base_queryset(self):
        return SkuMapping.objects.select_related("product")

    def create(self, request):
        data = validated_input(s.SkuMappingInput, self, request.data)
        result = sku_mappings.sku_mapping_set(merchant=self.merchant, actor=self.actor, **data)
        return Response(s.SkuMappingOutput(result.mapping).data,
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)  # fmt: skip

    @extend_schema(summary="Map up to 100 channel SKUs (scope orders:write)", request=s.SkuMappingBulkInput,
                   responses={200: BULK_RESULTS, 400: ApiErrorOutput})  # fmt: skip
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        data = validated_input(s.SkuMappingBulkInput, self, request.data)
        results = sku_mappings.sku_mapping_bulk(merchant=self.merchant, items=data["mappings"], actor=self.actor)
        return Response({"results": results})

    def destroy(self, request, pk=None):
        sku_mappings.sku_mapping_delete(mapping=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class RawParser(BaseParser):
    """Leaves the body alone: the webhook is verified on its raw bytes (a WooCommerce ping is a form body)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return None


class ChannelWebhookThrottle(SimpleRateThrottle):
    """Stores push in bursts (a sale, a bulk edit): their own budget per channel address and sender, apart from the
    partners' API budget (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["channel_webhook"], default 6000/min)."""

    scope = "channel_webhook"
    default_rate = "6000/min"

    def get_rate(self):
        return self.THROTTLE_RATES.get(self.scope) or self.default_rate

    def get_cache_key(self, request, view):
        ident = f"{view.kwargs.get('webhook_id')}:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SignedWebhookView(APIView):
    """A sender's webhook at an unguessable address, proved by the sender's signature instead of OAuth: the body is
    read raw, a body over ``max_bytes`` is refused before it is read, and the service's refusals become 401, 404,
    413 or 400. A subclass names its service (``receive``), its largest body and what an unknown address says."""

    scope_object = PUBLIC
    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [RawParser]
    max_bytes = WEBHOOK_MAX_BYTES
    not_found_message = "No channel has this webhook address."
    #: The exceptions meaning "not signed by the sender" (401, nothing stored).
    refusals: tuple[type[Exception], ...] = (WebhookRefused,)

    def receive(self, *, webhook_id: str, headers, body: bytes):
        raise NotImplementedError

    def post(self, request, webhook_id: str):
        length = request.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            raise PayloadTooLarge(self.max_bytes)
        try:
            received = self.receive(webhook_id=webhook_id, headers=request.headers, body=request.body)
        except WebhookNotFound:
            raise NotFound(self.not_found_message) from None
        except self.refusals as exc:
            raise ApiError(401, "invalid_signature", str(exc)) from None
        except WebhookTooLarge:
            raise PayloadTooLarge(self.max_bytes) from None
        except UnstorableInput as exc:
            raise ApiError(400, "parse_error", f"The body holds {exc}; it cannot be stored.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "parse_error", f"The body is not a JSON object: {exc}") from None
        body = {"received": received.stored, "duplicate": received.stored and not received.new}
        if received.ignored:
            body["ignored"] = received.ignored
        return Response(body, status=status.HTTP_200_OK)


@extend_schema(
    summary="Receive a store's order webhook (Shopify, WooCommerce)",
    description="The address is the channel's `webhook_url`. Shopify: topics orders/create, orders/updated, "
                "orders/cancelled, signed in `X-Shopify-Hmac-Sha256` (the previous secret is accepted during a "
                "rotation), deduplicated by `X-Shopify-Webhook-Id`. WooCommerce: order.created and order.updated, "
                "signed in `X-WC-Webhook-Signature`; its unsigned `webhook_id=<n>` ping gets a 200 and stores "
                "nothing. A verified order is stored as received and answered at once; a worker takes it in. "
                "Another topic gets a 200 with `ignored` and is not stored.",
    request={"application/json": OpenApiTypes.OBJECT},
    responses={
        200: inline_serializer("ChannelWebhookReceived", {
            "received": serializers.BooleanField(), "duplicate": serializers.BooleanField(),
            "ignored": serializers.CharField(required=False, help_text="Why nothing was stored.")}),
        400: OpenApiResponse(ApiErrorOutput, description="`parse_error`: not a JSON object."),
        401: OpenApiResponse(ApiErrorOutput, description="`invalid_signature`: nothing is stored."),
        404: OpenApiResponse(ApiErrorOutput, description="No active Shopify or WooCommerce channel has this address."),
        413: OpenApiResponse(ApiErrorOutput, description="`payload_too_large`."),
    },
    auth=[],
)  # fmt: skip
class ChannelWebhookView(SignedWebhookView):
    throttle_classes = [ChannelWebhookThrottle]

    def receive(self, *, webhook_id: str, headers, body: bytes):
        return channel_webhook_receive(webhook_id=webhook_id, headers=headers, body=body)

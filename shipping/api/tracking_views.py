"""Tracking for partners and couriers: a parcel's status and scans by AWB, one or up to 50 at a time, and the
couriers' signed webhook that delivers the scans."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from shipping import notifications, webhooks
from shipping.api import examples as ex
from shipping.services.tracking import tracking_ingest
from shipping.tracking import tracked_shipments
from shopops.api.base import MerchantAPIView
from shopops.api.exceptions import ApiError
from shopops.api.parsers import JSONParser
from shopops.api.schema import ApiErrorOutput
from shopops.api.scopes import PUBLIC
from shopops.validation import UnstorableInput

MAX_BATCH = 50


class TrackingEventOutput(serializers.Serializer):
    status = serializers.CharField(help_text="The ShopOps status the courier's code means; empty: informational.")
    code = serializers.CharField(help_text="The courier's own status code.")
    description = serializers.CharField()
    location = serializers.CharField(help_text="City-level place of the scan.")
    occurred_at = serializers.DateTimeField()


class TrackingOutput(serializers.Serializer):
    awb = serializers.CharField()
    status = serializers.CharField(help_text="The shipment's status.")
    courier = serializers.CharField(source="courier.code", help_text="The courier's code.")
    courier_name = serializers.CharField(source="courier.name")
    expected_delivery_date = serializers.DateField(allow_null=True)
    tracking_url = serializers.SerializerMethodField(help_text="The courier's tracking page, else ShopOps's.")
    events = TrackingEventOutput(source="tracking_events", many=True, help_text="The courier's scans, oldest first.")

    def get_tracking_url(self, shipment) -> str:
        return notifications.tracking_url(shipment, self.context.get("request"))


class TrackingErrorOutput(serializers.Serializer):
    code = serializers.CharField(help_text="`not_found`: no shipment of yours has this AWB.")
    message = serializers.CharField()


class TrackingNotFoundOutput(serializers.Serializer):
    awb = serializers.CharField()
    error = TrackingErrorOutput()


class TrackingBatchInput(serializers.Serializer):
    awbs = serializers.ListField(child=serializers.CharField(max_length=40), min_length=1, max_length=MAX_BATCH,
                                 help_text=f"1 to {MAX_BATCH} AWBs.")  # fmt: skip


class TrackingBatchOutput(serializers.Serializer):
    results = serializers.ListField(
        child=PolymorphicProxySerializer(component_name="TrackingBatchResult",
                                         serializers=[TrackingOutput, TrackingNotFoundOutput],
                                         resource_type_field_name=None),
        help_text="One per requested AWB, in the request's order.",
    )  # fmt: skip


def _not_found(awb: str) -> dict:
    return {"awb": awb, "error": {"code": "not_found", "message": f"No shipment of yours has AWB {awb}."}}


class TrackingView(MerchantAPIView):
    """A parcel's status and courier scans, by AWB (another merchant's AWB is not found)."""

    scope_object = "shipping"

    @extend_schema(operation_id="tracking_retrieve", summary="Track a parcel by AWB",
                   responses={200: TrackingOutput}, examples=ex.TRACKING_DETAIL)  # fmt: skip
    def get(self, request, awb: str):
        shipment = tracked_shipments(merchant=self.merchant, awbs=[awb]).get(awb)
        if shipment is None:
            raise NotFound()
        return Response(TrackingOutput(shipment).data)


class TrackingBatchView(MerchantAPIView):
    """Up to 50 parcels at once: one result per AWB, in the request's order, an unknown one as `not_found`.
    A read: it needs `shipping:read` and changes nothing."""

    scope_object = "shipping"
    #: A POST that only reads: the read scope, so every role (viewers too) may call it.
    action_scopes = {"post": ["shipping:read"]}

    @extend_schema(operation_id="tracking_batch", summary="Track up to 50 parcels", request=TrackingBatchInput,
                   responses={200: TrackingBatchOutput}, examples=ex.TRACKING_BATCH)  # fmt: skip
    def post(self, request):
        serializer = TrackingBatchInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        awbs = [awb.strip() for awb in serializer.validated_data["awbs"]]
        found = tracked_shipments(merchant=self.merchant, awbs=awbs)
        results = [TrackingOutput(found[awb]).data if awb in found else _not_found(awb) for awb in awbs]
        return Response({"results": results})


# -- the couriers' webhook ------------------------------------------------------------------------------------------


class CourierWebhookThrottle(SimpleRateThrottle):
    """Couriers push in bursts: their own budget per sending address, apart from the partners' API budget, and
    high (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["courier_webhook"], default 6000/min). It still bounds what an
    unsigned flood from one address costs (each request is a query and an HMAC per candidate courier)."""

    scope = "courier_webhook"
    default_rate = "6000/min"

    def get_rate(self):
        return self.THROTTLE_RATES.get(self.scope) or self.default_rate

    def get_cache_key(self, request, view):
        ident = f"{view.kwargs.get('code')}:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class WebhookInput(serializers.Serializer):
    class Event(serializers.Serializer):
        event_id = serializers.CharField(required=False, help_text="The courier's id of the event: a repeat is a "
                                                                   "duplicate and changes nothing.")  # fmt: skip
        awb = serializers.CharField(max_length=40)
        status = serializers.CharField(max_length=40, help_text="The courier's status code.")
        description = serializers.CharField(required=False)
        location = serializers.CharField(required=False, help_text="City-level place of the scan.")
        occurred_at = serializers.DateTimeField(help_text="ISO 8601 with its offset.")

    events = Event(many=True, help_text=f"At most {webhooks.MAX_EVENTS}. A single event object is accepted too.")


class WebhookOutput(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored (orphans included).")
    duplicates = serializers.IntegerField(help_text="Events already received: nothing changed.")
    orphans = serializers.IntegerField(help_text="Events for an AWB none of the courier's shipments has, kept.")
    applied = serializers.IntegerField(help_text="Events that moved a shipment's status.")
    refused = serializers.IntegerField(help_text="Events dated before their shipment's order was placed: not stored.")


SIGNATURE_HEADERS = [
    OpenApiParameter(webhooks.TIMESTAMP_HEADER, OpenApiTypes.INT, OpenApiParameter.HEADER, required=True,
                     description=f"Unix seconds when the request was signed; at most {webhooks.TOLERANCE} s away "
                                 "from the server's clock, either way."),
    OpenApiParameter(webhooks.SIGNATURE_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     description="`sha256=` and the hex HMAC-SHA256, keyed with the courier's webhook secret, of "
                                 "`{timestamp}.{raw body}`."),
]  # fmt: skip


class WebhookSchema(AutoSchema):
    """The plain schema (not the partner API's: no OAuth scopes, no Idempotency-Key, its own answers)."""

    def get_operation_id(self):
        return "courier_webhook"


@extend_schema(
    summary="Receive a courier's tracking events",
    description=(
        "Each event is stored once (a repeated `event_id`, or without one the same content, is a duplicate), "
        "kept as an orphan when no shipment of the courier has its AWB, and moves the shipment forward when it "
        "is the newest and the move is allowed. A malformed event refuses the whole request (nothing is "
        "stored), its index and field named in `details` (`events.<index>.<field>`)."
    ),
    parameters=SIGNATURE_HEADERS,
    request=WebhookInput,
    responses={
        202: WebhookOutput,
        400: OpenApiResponse(ApiErrorOutput, description="`parse_error`: the body is not JSON; `invalid`: bad "
                             "events, each named in `details` as `events.<index>.<field>`."),
        401: OpenApiResponse(ApiErrorOutput, description="`invalid_signature` (missing headers, or no courier "
                             "with this code whose secret matches) or `signature_expired` (signed more than "
                             f"{webhooks.TOLERANCE} s away). Nothing is stored."),
        404: OpenApiResponse(ApiErrorOutput, description="`not_found`: the courier code is not a slug (letters, "
                             "digits, `-` and `_`), so no such URL."),
        413: OpenApiResponse(ApiErrorOutput, description=f"More than {webhooks.MAX_EVENTS} events, or a body "
                             "over the size limit."),
        429: OpenApiResponse(ApiErrorOutput, description="Throttled; see the `Retry-After` header."),
    },
    auth=[],
)  # fmt: skip
class CourierWebhookView(APIView):
    """Signed by the courier (HMAC), not OAuth: it is bound to the courier whose secret verifies the signature,
    and through it to that courier's merchant."""

    scope_object = PUBLIC
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [CourierWebhookThrottle]
    parser_classes = [JSONParser]  # the body is read raw (it is signed); JSON only
    schema = WebhookSchema()

    def post(self, request, code: str):
        body = request.body
        try:
            courier = webhooks.signing_courier(
                code=code,
                timestamp=request.headers.get(webhooks.TIMESTAMP_HEADER),
                signature=request.headers.get(webhooks.SIGNATURE_HEADER),
                body=body,
            )
        except webhooks.SignatureRefused as exc:
            raise ApiError(401, exc.code, exc.message) from None
        try:
            updates = webhooks.parse_events(body)
        except UnstorableInput as exc:
            raise ApiError(400, "parse_error", f"The body holds {exc}; it cannot be stored.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "parse_error", f"The body is not JSON: {exc}.") from None
        except webhooks.PayloadRefused as exc:
            raise serializers.ValidationError(exc.errors) from None
        except webhooks.TooManyEvents as exc:
            raise ApiError(413, "payload_too_large", f"{exc.count} events; send at most {webhooks.MAX_EVENTS} per "
                           "request.", {"max_events": webhooks.MAX_EVENTS}) from None  # fmt: skip
        result = tracking_ingest(courier=courier, updates=updates, source="webhook")
        return Response(WebhookOutput(result).data, status=status.HTTP_202_ACCEPTED)

"""The shipping API: couriers and their rate cards, serviceability imports, and rate shopping."""

from django.conf import settings
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from orders.models import Order, PaymentMethod
from shipping.api import examples as ex
from shipping.api import serializers as s
from shipping.live_quotes import LiveQuotes
from shipping.models import Courier, ServiceablePincode
from shipping.selectors import quote, weights_for
from shipping.services.couriers import courier_create, courier_update, serviceability_import
from shipping.zones import UnknownPincode, place
from shopops.api.base import MerchantAPIView, MerchantScopedGenericViewSet
from shopops.api.exceptions import ApiError
from shopops.api.parsers import FormParser, MultiPartParser
from shopops.api.serializers import validated_input


def courier_queryset():
    """Couriers with their rate cards (one query) and their serviceable pincode count (a subquery)."""
    pincodes = (
        ServiceablePincode.objects.filter(courier=OuterRef("pk")).order_by().values("courier")
        .annotate(n=Count("id")).values("n")
    )  # fmt: skip
    return Courier.objects.prefetch_related("rate_cards").annotate(serviceable_pincodes=Coalesce(Subquery(pincodes), 0))


@extend_schema_view(
    create=extend_schema(request=s.CourierInput, responses={201: s.CourierOutput}),
    partial_update=extend_schema(request=s.CourierInput, responses=s.CourierOutput),
    destroy=extend_schema(summary="Deactivate a courier", responses={204: None}),
)
class CourierViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """Couriers, their rate cards per zone and their serviceable pincodes. DELETE deactivates (shipments keep
    referring to the courier)."""

    scope_object = "shipping"
    serializer_class = s.CourierOutput
    ordering_fields = ["name", "code", "created_at", "updated_at"]
    ordering = ["name"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_base_queryset(self):
        return courier_queryset()

    def _output(self, courier: Courier, **kwargs) -> Response:
        return Response(s.CourierOutput(self.get_queryset().get(pk=courier.pk)).data, **kwargs)

    def create(self, request):
        data = dict(validated_input(s.CourierInput, self, request.data))
        rate_cards = data.pop("rate_cards", [])
        courier = courier_create(merchant=self.merchant, data=data, rate_cards=rate_cards)
        return self._output(courier, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        courier = self.get_object()
        data = dict(validated_input(s.CourierInput, self, request.data, instance=courier, partial=True))
        rate_cards = data.pop("rate_cards", None)
        courier = courier_update(courier=courier, data=data, rate_cards=rate_cards)
        return self._output(courier)

    def destroy(self, request, pk=None):
        courier_update(courier=self.get_object(), data={"is_active": False})
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request={"multipart/form-data": s.ServiceabilityImportInput},
        responses={200: s.ServiceabilityImportOutput,
                   400: OpenApiResponse(description="`invalid_file`: bad rows (nothing imported), named in "
                                                    "`details.errors`; or an unreadable file.")},
    )  # fmt: skip
    @action(detail=True, methods=["post"], url_path="serviceability/import", url_name="serviceability-import",
            parser_classes=[MultiPartParser, FormParser])  # fmt: skip
    def serviceability_import(self, request, pk=None):
        """Load the courier's serviceable pincodes from CSV. All or nothing: a file with a bad row imports nothing."""
        courier = self.get_object()
        data = validated_input(s.ServiceabilityImportInput, self, request.data)
        upload = data["file"]
        if upload.size > settings.API_MAX_UPLOAD_BYTES:
            raise ApiError(413, "payload_too_large", "The file is too large.",
                           {"max_bytes": settings.API_MAX_UPLOAD_BYTES})  # fmt: skip
        result = serviceability_import(courier=courier, fileobj=upload.file, replace=data["replace"],
                                       country=data["country"])  # fmt: skip
        body = s.ServiceabilityImportOutput(result).data
        if result.errors:
            raise ApiError(400, "invalid_file", f"The file has bad rows ({len(result.errors)} shown); nothing "
                           "was imported.", dict(body))  # fmt: skip
        return Response(body)


class ServiceabilityView(MerchantAPIView):
    """Rate shopping: every courier of the merchant quoted for a parcel, or blocked with its reason."""

    scope_object = "shipping"

    @extend_schema(
        operation_id="serviceability_retrieve",
        summary="Quote couriers for a parcel",
        parameters=[s.ServiceabilityQuery],
        examples=ex.SERVICEABILITY,
        responses={200: s.QuoteOutput,
                   400: OpenApiResponse(description="A malformed or unknown pincode, a weight out of range, absurd "
                                                    "dimensions: field errors in `details`."),
                   404: OpenApiResponse(description="`order` is not an order of the merchant.")},
    )  # fmt: skip
    def get(self, request):
        params = dict(validated_input(s.ServiceabilityQuery, self, request.query_params))
        order_id = params.pop("order", None)
        if order_id is not None:
            params = {**self._from_order(order_id), **{k: v for k, v in params.items() if v is not None}}
        if "weight_grams" not in params:
            raise serializers.ValidationError({"weight_grams": ["The order has no weight; give weight_grams."]})
        params["country"] = params.get("country") or "IN"
        errors = {}
        for name in ("pickup_postcode", "delivery_postcode"):
            try:
                if params["country"] == "IN":
                    place(params[name])
            except UnknownPincode as exc:
                errors[name] = [f"{exc.pincode} is not a known Indian pincode."]
        if errors:
            raise serializers.ValidationError(errors)
        params["cod"] = bool(params.get("cod"))
        weights, default_sort = weights_for(self.merchant)
        params["sort"] = params.get("sort") or default_sort
        try:
            result = quote(merchant=self.merchant, weights=weights, live=LiveQuotes.FETCH, **params)
        except UnknownPincode as exc:  # abroad: no zone rule covers the pair
            raise serializers.ValidationError({"delivery_postcode": [str(exc)]}) from exc
        return Response(s.QuoteOutput(result).data)

    def _from_order(self, order_id: int) -> dict:
        order = self.scoped(Order.objects).filter(pk=order_id).select_related("pickup_location").first()
        if order is None:
            raise NotFound()
        pickup = (order.pickup_location.postcode or "").strip()
        delivery = str((order.shipping_address or {}).get("postcode") or "").strip()
        problems = {}
        if not pickup:
            problems["order"] = ["The order's pickup location has no postcode."]
        if not delivery:
            problems.setdefault("order", []).append("The order's shipping address has no postcode.")
        if problems:
            raise serializers.ValidationError(problems)
        values = {
            "pickup_postcode": pickup, "delivery_postcode": delivery, "cod": order.payment_method == PaymentMethod.COD,
            "declared_value": order.total, "length_cm": order.length_cm, "breadth_cm": order.breadth_cm,
            "height_cm": order.height_cm, "country": (order.shipping_address or {}).get("country") or "IN",
        }  # fmt: skip
        if order.weight_grams:
            values["weight_grams"] = order.weight_grams
        return values

"""Ship in one call: ``POST /ship/`` takes an order (or an existing order's id) to a label PDF, and
``POST /ship/batch/`` does the same for up to 500 orders as a job.

Both need the scopes orders:write and shipping:write (reading a batch: orders:read and shipping:read).
"""

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from orders.api.serializers import OrderInput
from orders.models import Order
from shipping import selectors
from shipping.api import examples as ex
from shipping.api.document_views import DocumentOutput
from shipping.api.shipment_serializers import BookingWarningOutput, ShipmentOutput
from shipping.choices import RECOMMENDED_COURIER, CourierSort, LabelFormat
from shipping.eway import booking_warnings
from shipping.models import ShipBatch
from shipping.services.batches import SHIP_BATCH_MAX, ship_batch_create
from shipping.services.ship import ShipOptions, ShipRefused, ShipResult, ship_order
from shopops.api.base import MerchantAPIView, MerchantScopedGenericViewSet
from shopops.api.exceptions import ApiError, status_for
from shopops.api.schema import ApiErrorOutput
from shopops.api.serializers import StrictInputMixin, validated_input
from shopops.errors import DomainError

MAX_ID = 2**63 - 1  # the largest id a 64-bit key holds


class ShipOptionsInput(StrictInputMixin, serializers.Serializer):
    courier = serializers.CharField(default=RECOMMENDED_COURIER,
                                    help_text=f'A courier code, or "{RECOMMENDED_COURIER}".')  # fmt: skip
    sort = serializers.ChoiceField(choices=CourierSort.values, required=False,
                                   help_text="How to pick the courier when none is named; default: the merchant's "
                                             "own order (recommended unless changed).")  # fmt: skip
    request_pickup = serializers.BooleanField(default=True)
    pickup_date = serializers.DateField(required=False, allow_null=True,
                                        help_text="Default: today before the courier's cut-off, else the next "
                                                  "working day.")  # fmt: skip
    print_label = serializers.BooleanField(default=True)
    label_format = serializers.ChoiceField(choices=LabelFormat.values, default=LabelFormat.LABEL_4X6)
    print_invoice = serializers.BooleanField(default=True)
    generate_manifest = serializers.BooleanField(default=False)


def _options(validated: dict | None) -> ShipOptions:
    """The options given, the defaults for those left out (``options`` itself may be left out)."""
    return ShipOptions(**(validated or ShipOptionsInput().run_validation({})))


class ShipNewOrderInput(OrderInput):
    """An order as in ``POST /orders/``, plus the options."""

    options = ShipOptionsInput(required=False)


class ShipExistingOrderInput(StrictInputMixin, serializers.Serializer):
    order_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="An order of the merchant (new, confirmed or packed)."
    )
    options = ShipOptionsInput(required=False)


class ShipOrderOutput(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.CharField()


class ShipPickupOutput(serializers.Serializer):
    id = serializers.IntegerField()
    pickup_token = serializers.CharField(source="token")
    pickup_date = serializers.DateField()


class ShipDocumentsOutput(serializers.Serializer):
    label = DocumentOutput(allow_null=True)
    invoice = DocumentOutput(allow_null=True)
    manifest = DocumentOutput(allow_null=True)


class ShipStepsOutput(serializers.Serializer):
    order_created = serializers.BooleanField()
    confirmed = serializers.BooleanField()
    awb_assigned = serializers.BooleanField()
    pickup_scheduled = serializers.BooleanField()
    label_generated = serializers.BooleanField()
    invoice_generated = serializers.BooleanField()
    manifest_generated = serializers.BooleanField()


class ShipErrorOutput(serializers.Serializer):
    step = serializers.CharField(help_text="The step that failed.")
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ShipOutput(serializers.Serializer):
    order = ShipOrderOutput()
    shipment = ShipmentOutput()
    awb = serializers.CharField()
    courier = serializers.CharField(help_text="The courier's code.")
    charges = serializers.DictField(help_text="freight, cod, fuel_surcharge, tax, total, currency.")
    pickup = ShipPickupOutput(allow_null=True)
    documents = ShipDocumentsOutput()
    steps = ShipStepsOutput()
    error = ShipErrorOutput(allow_null=True, help_text="The first later step (pickup, documents) that failed.")
    warnings = BookingWarningOutput(
        many=True,
        help_text="Not refusals: the order is booked. `eway_bill_required` until the order's e-way bill number is set "
                  "(its total is over EWAY_BILL_THRESHOLD).",
    )  # fmt: skip


def ship_output(result: ShipResult, context: dict) -> dict:
    shipment = selectors.shipment_queryset().get(pk=result.shipment.pk)
    shipment_data = ShipmentOutput(shipment, context=context).data
    order = Order.objects.only("id", "number", "status", "total", "currency", "eway_bill_number").get(
        pk=result.order.pk)  # fmt: skip
    return {
        "order": ShipOrderOutput(order).data,
        "shipment": shipment_data,
        "awb": shipment.awb,
        "courier": shipment.courier.code,
        "charges": shipment_data["charges"],
        "pickup": ShipPickupOutput(result.pickup).data if result.pickup else None,
        "documents": {name: DocumentOutput(doc, context=context).data if doc else None
                      for name, doc in result.documents.items()},
        "steps": result.steps,
        "error": result.error,
        "warnings": booking_warnings(order),
    }  # fmt: skip


SHIP_INPUT = PolymorphicProxySerializer(component_name="ShipInput", serializers=[ShipNewOrderInput,
                                                                                   ShipExistingOrderInput],
                                        resource_type_field_name=None)  # fmt: skip


class ShipView(MerchantAPIView):
    """Order to label in one call."""

    scope_object = ("orders", "shipping")

    @extend_schema(
        operation_id="ship_create",
        summary="Ship an order in one call",
        description=(
            "Creates the order (a body as in POST /orders/) or takes an existing one (`order_id`), confirms and "
            "packs it, books the courier (`options.courier`, or the first by `options.sort`), assigns the AWB, "
            "books the pickup and renders the label and the invoice (and the manifest if asked).\n\n"
            "The booking (order, confirmation, courier, AWB) is all or nothing: if a step of it is refused, "
            "nothing is kept (no order, no AWB spent) and the answer is that step's error, with `details.step` and "
            "`details.steps`. A later step that fails (pickup, a document) is reported in `error` of a 201: the "
            "AWB and the steps before stay."
        ),
        request=SHIP_INPUT,
        examples=ex.SHIP,
        responses={
            201: ShipOutput,
            400: OpenApiResponse(ApiErrorOutput, description="Invalid order or options; `details.step` names the "
                                                             "step (e.g. `order_created`)."),
            404: OpenApiResponse(ApiErrorOutput, description="`order_id` is not an order of the merchant."),
            409: OpenApiResponse(ApiErrorOutput, description="A refused booking step: `insufficient_stock` "
                                                             "(confirmed), `not_serviceable`, `courier_not_available`, "
                                                             "`awb_pool_exhausted` (awb_assigned), a duplicate "
                                                             "channel order id (order_created)..."),
        },
    )  # fmt: skip
    def post(self, request):
        existing = isinstance(request.data, dict) and "order_id" in request.data
        serializer_class = ShipExistingOrderInput if existing else ShipNewOrderInput
        data = dict(validated_input(serializer_class, self, request.data))
        options = _options(data.pop("options", None))
        order = None
        if existing:
            order = self.scoped(Order.objects).filter(pk=data["order_id"]).first()
            if order is None:
                raise ApiError(404, "not_found", f"No order {data['order_id']}.", {"step": "order_created"})
        try:
            result = ship_order(merchant=self.merchant, actor=self.actor, options=options,
                                order=order, order_data=None if existing else data)  # fmt: skip
        except ShipRefused as refused:
            raise _refusal(refused) from refused.cause
        return Response(ship_output(result, self.get_serializer_context()), status=status.HTTP_201_CREATED)


def _refusal(refused: ShipRefused) -> ApiError:
    error = refused.result.error
    if isinstance(refused.cause, DomainError):
        status_code = status_for(refused.cause)
    else:  # field errors, or the API's error an orders service raised
        status_code = refused.cause.status_code if isinstance(refused.cause, ApiError) else 400
    return ApiError(status_code, error["code"], error["message"],
                    {**error["details"], "step": refused.step, "steps": refused.result.steps})  # fmt: skip


# -- batches --------------------------------------------------------------------------------------------------------


class ShipBatchInput(StrictInputMixin, serializers.Serializer):
    order_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), allow_empty=False,
                                      max_length=SHIP_BATCH_MAX)  # fmt: skip
    options = ShipOptionsInput(required=False)


class ShipBatchOutput(serializers.ModelSerializer):
    options = serializers.DictField()
    results = serializers.DictField(help_text="By order id: {steps: {confirmed, awb_assigned}, shipment, awb, "
                                              "courier, error, warnings: [{code, message}]} (warnings of a booked "
                                              "order: `eway_bill_required`).")  # fmt: skip
    pickups = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    manifests = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    label_document = DocumentOutput(allow_null=True)
    invoice_document = DocumentOutput(allow_null=True)
    manifest_documents = DocumentOutput(many=True)

    class Meta:
        model = ShipBatch
        fields = ["id", "status", "order_ids", "options", "total", "processed", "shipped", "failed", "results",
                  "pickups", "manifests", "label_document", "invoice_document", "manifest_documents", "error",
                  "created_at", "started_at", "finished_at"]  # fmt: skip


BATCH_ERRORS = {
    400: OpenApiResponse(ApiErrorOutput, description="No ids, more than 500, an unknown courier."),
    404: OpenApiResponse(ApiErrorOutput, description="An id is not an order of the merchant: nothing is queued."),
}


class ShipBatchViewSet(mixins.RetrieveModelMixin, mixins.CreateModelMixin, MerchantScopedGenericViewSet):
    """ "Ship these orders" as one job: 202, then poll until `status` is `done`."""

    serializer_class = ShipBatchOutput
    scope_object = ("orders", "shipping")

    def get_base_queryset(self):
        return ShipBatch.objects.prefetch_related("pickups", "manifests", "manifest_documents__shipments",
                                                  "manifest_documents__orders").select_related(
            "label_document", "invoice_document")  # fmt: skip

    @extend_schema(summary="Ship up to 500 orders as a job", request=ShipBatchInput,
                   responses={202: ShipBatchOutput, **BATCH_ERRORS})  # fmt: skip
    def create(self, request):
        data = validated_input(ShipBatchInput, self, request.data)
        batch = ship_batch_create(merchant=self.merchant, order_ids=data["order_ids"], actor=self.actor,
                                  options=_options(data.get("options")))  # fmt: skip
        batch = self.get_queryset().get(pk=batch.pk)
        return Response(ShipBatchOutput(batch, context=self.get_serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)  # fmt: skip

    @extend_schema(summary="A ship batch: progress, each order's outcome, pickups, manifests and documents")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

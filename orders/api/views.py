from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.reverse import reverse

from catalog.services import location_resolve
from orders import selectors
from orders.api import examples as ex
from orders.api import serializers as s
from orders.filters import ChannelFilter, CustomerFilter, ImportFilter, OrderFilter, ReturnFilter
from orders.imports import jobs, parse
from orders.models import BulkImport, ImportKind, Order, ReturnStatus
from orders.services import channel_sync, channels, create, prepare, returns
from orders.services import orders as order_services
from shopops.api.base import MerchantScopedGenericViewSet, MerchantScopedReadOnlyViewSet
from shopops.api.exceptions import error_of
from shopops.api.parsers import FormParser, MultiPartParser
from shopops.api.schema import ApiErrorOutput
from shopops.api.scopes import ByField
from shopops.api.serializers import validated_input
from shopops.csvexport import stream_csv
from shopops.errors import DomainError


@extend_schema_view(
    create=extend_schema(request=s.ChannelInput, responses={201: s.ChannelOutput}),
    partial_update=extend_schema(request=s.ChannelInput, responses=s.ChannelOutput),
    destroy=extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(ApiErrorOutput, description="`channel_in_use`: it has orders; deactivate it instead."),
        }
    ),
)
class ChannelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """Sales channels. ``channel_id`` is assigned at creation and never changes."""

    scope_object = "orders"
    serializer_class = s.ChannelOutput
    filterset_class = ChannelFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_base_queryset(self):
        return selectors.channel_queryset()

    def create(self, request):
        channel = channels.channel_create(merchant=self.merchant, **validated_input(s.ChannelInput, self, request.data))
        return Response(s.ChannelOutput(channel, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)  # fmt: skip

    def partial_update(self, request, pk=None):
        data = validated_input(s.ChannelInput, self, request.data, partial=True)
        channel = channels.channel_update(channel=self.get_object(), data=data)
        return Response(s.ChannelOutput(channel, context=self.get_serializer_context()).data)

    def destroy(self, request, pk=None):
        channels.channel_delete(channel=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Pause taking the channel's orders in (its webhooks are still stored)", request=None,
                   responses=s.ChannelOutput)  # fmt: skip
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return Response(s.ChannelOutput(channels.channel_pause(channel=self.get_object()),
                                        context=self.get_serializer_context()).data)  # fmt: skip

    @extend_schema(summary="Resume taking the channel's orders in, starting with the webhooks stored meanwhile",
                   request=None, responses=s.ChannelOutput)  # fmt: skip
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return Response(s.ChannelOutput(channels.channel_resume(channel=self.get_object()),
                                        context=self.get_serializer_context()).data)  # fmt: skip

    @extend_schema(
        summary="Test the connection: ask the store who it is with the channel's credentials",
        description="The answer becomes the channel's `connection_status` (connected, or failing with "
        "`status_message` saying why: credentials rejected, store unreachable, an address ShopOps may not call).",
        request=None,
        responses={
            200: s.ChannelOutput,
            409: OpenApiResponse(ApiErrorOutput, description="`channel_not_configured`: no store URL or credentials."),
        },
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        return Response(s.ChannelOutput(channel_sync.channel_check(self.get_object()),
                                        context=self.get_serializer_context()).data)  # fmt: skip

    @extend_schema(summary="What ShopOps told the store (fulfilments, stock levels), newest first, with each push's "
                           "status and last error", responses=s.ChannelPushOutput(many=True))  # fmt: skip
    @action(detail=True, methods=["get"])
    def pushes(self, request, pk=None):
        channel = self.get_object()
        page = self.paginate_queryset(channel.pushes.order_by("-id"))
        return self.get_paginated_response(s.ChannelPushOutput(page, many=True).data)

    @extend_schema(summary="The channel's webhook deliveries, newest first: what each did, or why it failed",
                   responses=s.ChannelWebhookDeliveryOutput(many=True))  # fmt: skip
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        channel = self.get_object()
        page = self.paginate_queryset(channel.webhook_deliveries.order_by("-id"))
        return self.get_paginated_response(s.ChannelWebhookDeliveryOutput(page, many=True).data)


class CustomerViewSet(MerchantScopedReadOnlyViewSet):
    """Customers, matched by phone or email; counters kept by the order services."""

    scope_object = "orders"
    serializer_class = s.CustomerOutput
    filterset_class = CustomerFilter
    ordering_fields = ["name", "orders_count", "total_spent", "last_order_at"]
    ordering = ["-id"]

    def get_base_queryset(self):
        return selectors.customer_queryset()


ORDERING = {
    "order_date": "ordered_at",
    "pack_date": "packed_at",
    "ship_date": "shipped_at",
    "total": "total",
    "number": "number",
    "updated_at": "updated_at",
}


@extend_schema_view(
    list=extend_schema(summary="List orders", examples=ex.ORDER_LIST),
    retrieve=extend_schema(examples=ex.ORDER_DETAIL),
    create=extend_schema(request=s.OrderInput, responses={201: s.OrderOutput}, examples=ex.ORDER_CREATE),
    partial_update=extend_schema(request=s.OrderUpdateInput, responses=s.OrderOutput, examples=ex.ORDER_UPDATE),
)
class OrderViewSet(MerchantScopedGenericViewSet):
    """Orders and their lifecycle: new -> confirmed -> packed -> shipped -> delivered; cancel before shipping."""

    scope_object = "orders"
    serializer_class = s.OrderOutput
    filterset_class = OrderFilter
    ordering_fields = ORDERING
    ordering = ["-ordered_at", "-id"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_base_queryset(self):
        return selectors.order_queryset()

    def _out(self, order, code=status.HTTP_200_OK):
        rows = selectors.with_lines(list(selectors.order_rows(Order.objects.filter(pk=order.pk))))
        return Response(s.OrderOutput(rows[0]).data, status=code)

    def list(self, request):
        rows = self.paginate_queryset(selectors.order_rows(self.filter_queryset(self.get_queryset())))
        return self.get_paginated_response(s.OrderOutput(selectors.with_lines(rows), many=True).data)

    def retrieve(self, request, pk=None):
        rows = list(selectors.order_rows(self.get_queryset().filter(pk=pk))) if str(pk).isdigit() else []
        if not rows:
            raise NotFound()
        return Response(s.OrderOutput(selectors.with_lines(rows)[0]).data)

    def create(self, request):
        data = validated_input(s.OrderInput, self, request.data)
        order = create.order_create(merchant=self.merchant, data=data, actor=self.actor)
        return self._out(order, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        data = validated_input(s.OrderUpdateInput, self, request.data, partial=True)
        return self._out(order_services.order_update(order=self.get_object(), data=data, actor=self.actor))

    @extend_schema(request=None, responses=s.OrderOutput, examples=ex.ORDER_CONFIRM)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Reserve stock for every line at the pickup location (409 insufficient_stock names short lines)."""
        return self._out(order_services.order_confirm(order=self.get_object(), actor=self.actor))

    @extend_schema(request=None, responses=s.OrderOutput, examples=ex.ORDER_PACK)
    @action(detail=True, methods=["post"])
    def pack(self, request, pk=None):
        return self._out(order_services.order_pack(order=self.get_object(), actor=self.actor))

    @extend_schema(request=s.CancelInput, responses=s.OrderOutput, examples=ex.ORDER_CANCEL)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        reason = validated_input(s.CancelInput, self, request.data)["reason"]
        return self._out(order_services.order_cancel(order=self.get_object(), reason=reason, actor=self.actor))

    @extend_schema(request=s.ReturnCreateInput, responses={201: s.ReturnOutput})
    @action(detail=True, methods=["post"], url_path="return")
    def create_return(self, request, pk=None):
        data = validated_input(s.ReturnCreateInput, self, request.data)
        location = location_resolve(merchant=self.merchant, ref=data["location"]) if data.get("location") else None
        created = returns.return_create(order=self.get_object(), lines=data["lines"], reason=data["reason"],
                                         actor=self.actor, location=location)  # fmt: skip
        return Response(s.ReturnOutput(selectors.return_queryset().get(pk=created.pk)).data, status=201)

    @extend_schema(request=s.AddInventoryInput, responses=s.OrderOutput)
    @action(detail=True, methods=["post"], url_path="add-inventory")
    def add_inventory(self, request, pk=None):
        """Receive stock for the order's short lines, then retry its confirmation."""
        lines = validated_input(s.AddInventoryInput, self, request.data)["lines"]
        return self._out(order_services.order_add_inventory(order=self.get_object(), lines=lines, actor=self.actor))

    @extend_schema(request=s.MapLinesInput, responses=s.OrderOutput)
    @action(detail=True, methods=["post"], url_path="map-lines")
    def map_lines(self, request, pk=None):
        """Map lines whose SKU was unknown at creation to catalog products."""
        lines = validated_input(s.MapLinesInput, self, request.data)["lines"]
        return self._out(order_services.order_map_lines(order=self.get_object(), mappings=lines, actor=self.actor))

    @extend_schema(responses=s.OrderEventOutput(many=True), examples=ex.ORDER_EVENTS)
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def events(self, request, pk=None):
        """The order's timeline, oldest first: every event in one array (not paginated, no filters)."""
        order = self.get_object()
        return Response(s.OrderEventOutput(order.events.order_by("id"), many=True).data)

    @extend_schema(request=s.OrderBulkInput, responses=s.OrderBulkOutput)
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Create up to 100 orders; each succeeds or fails on its own."""
        items = validated_input(s.OrderBulkInput, self, request.data)["orders"]
        errors, valid = {}, {}
        for index, item in enumerate(items):
            try:
                valid[index] = validated_input(s.OrderInput, self, item)
            except DRFValidationError as exc:
                errors[index] = error_of(exc)
        catalog = prepare.Catalog.for_orders(self.merchant, list(valid.values()))
        prepared = {}
        for index, data in valid.items():
            try:
                prepared[index] = prepare.order_prepare(merchant=self.merchant, data=data, catalog=catalog)
            except ValidationError as exc:
                errors[index] = error_of(exc)
        written = create.order_create_many(merchant=self.merchant, items=list(prepared.values()), actor=self.actor)
        created = {}
        for index, result in zip(prepared, written, strict=True):
            if result.error is None:
                created[index] = result
            else:
                errors[index] = error_of(result.error)
        results = [
            {"index": index, "status": "created", "id": created[index].id, "number": created[index].number,
             "error": None} if index in created else
            {"index": index, "status": "failed", "id": None, "number": None, "error": errors[index]}
            for index in range(len(items))
        ]  # fmt: skip
        return Response(_bulk_summary(results, "created"))

    @extend_schema(request=s.BulkCancelInput, responses=s.OrderBulkOutput)
    @action(detail=False, methods=["post"], url_path="bulk-cancel")
    def bulk_cancel(self, request):
        """Cancel up to 100 orders; each is refused or cancelled on its own."""
        data = validated_input(s.BulkCancelInput, self, request.data)
        orders = {o.pk: o for o in self.get_queryset().filter(pk__in=data["order_ids"])}
        results = []
        for index, order_id in enumerate(data["order_ids"]):
            order = orders.get(order_id)
            if order is None:
                results.append({"index": index, "status": "failed", "id": order_id, "number": None,
                                "error": {"code": "not_found", "message": "Not found.", "details": {}}})  # fmt: skip
                continue
            try:
                order_services.order_cancel(order=order, reason=data["reason"], actor=self.actor)
                results.append({"index": index, "status": "cancelled", "id": order.pk, "number": order.number,
                                "error": None})  # fmt: skip
            except DomainError as exc:
                results.append({"index": index, "status": "failed", "id": order.pk, "number": order.number,
                                "error": error_of(exc)})  # fmt: skip
        return Response(_bulk_summary(results, "cancelled"))

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One row per line.")})
    @action(detail=False, methods=["get"])
    def export(self, request):
        """The filtered orders as CSV, one row per line, streamed (constant memory)."""
        queryset = self.filter_queryset(self.get_queryset())
        return stream_csv(selectors.order_export_rows(queryset), "orders.csv")


def _bulk_summary(results: list[dict], ok: str) -> dict:
    succeeded = sum(1 for r in results if r["status"] == ok)
    return {"succeeded": succeeded, "failed": len(results) - succeeded, "results": results}


class ReturnViewSet(MerchantScopedReadOnlyViewSet):
    """Returns: requested -> approved -> (pickup_scheduled -> in_transit ->) received (restocks) -> refunded
    -> closed; rejected -> closed."""

    scope_object = "orders"
    serializer_class = s.ReturnOutput
    filterset_class = ReturnFilter
    ordering_fields = ["created_at"]
    ordering = ["-id"]

    def get_base_queryset(self):
        return selectors.return_queryset()

    def _move(self, to_status: str) -> Response:
        moved = returns.return_transition(return_request=self.get_object(), to_status=to_status,
                                           actor=self.actor)  # fmt: skip
        return Response(s.ReturnOutput(selectors.return_queryset().get(pk=moved.pk)).data)

    @extend_schema(request=None, responses=s.ReturnOutput)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._move(ReturnStatus.APPROVED)

    @extend_schema(request=None, responses=s.ReturnOutput)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._move(ReturnStatus.REJECTED)

    @extend_schema(request=None, responses=s.ReturnOutput)
    @action(detail=True, methods=["post"], url_path="schedule-pickup")
    def schedule_pickup(self, request, pk=None):
        return self._move(ReturnStatus.PICKUP_SCHEDULED)

    @extend_schema(request=None, responses=s.ReturnOutput)
    @action(detail=True, methods=["post"], url_path="in-transit")
    def in_transit(self, request, pk=None):
        return self._move(ReturnStatus.IN_TRANSIT)

    @extend_schema(request=None, responses=s.ReturnOutput)
    @action(detail=True, methods=["post"])
    def receive(self, request, pk=None):
        """Goods are back: restock them at the return's location; the order becomes (partially_)returned."""
        return self._move(ReturnStatus.RECEIVED)

    @extend_schema(request=None, responses=s.ReturnOutput)
    @action(detail=True, methods=["post"])
    def refund(self, request, pk=None):
        return self._move(ReturnStatus.REFUNDED)

    @extend_schema(request=None, responses=s.ReturnOutput)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        return self._move(ReturnStatus.CLOSED)


# -- file imports ----------------------------------------------------------------------------


#: The scopes an import needs, by kind: importing writes that kind's resources.
IMPORT_SCOPES = {
    ImportKind.ORDERS: ["orders:write"],
    ImportKind.PRODUCTS: ["catalog:write"],
    ImportKind.INVENTORY: ["inventory:write"],
    ImportKind.SKU_MAPPINGS: ["orders:write"],
}
CSV_RESPONSE = {(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV (UTF-8), streamed.")}


@extend_schema_view(
    list=extend_schema(summary="List import jobs"),
    retrieve=extend_schema(summary="An import job: status, progress and counts"),
    create=extend_schema(
        summary="Import a file of orders, products or inventory",
        description="Stores the file and queues the job (queue `imports`); answers 202 with the job to poll at "
        "`GET /imports/{id}/`. The scope depends on `kind`: `orders:write` for orders, `catalog:write` for "
        "products, `inventory:write` for inventory (the scope shown here is that of orders). A file that is "
        "empty or not CSV/XLSX is a 400; larger than the upload limit, a 413. Each row's problems are in the "
        "job's error report (`errors_url`).",
        request={"multipart/form-data": s.ImportInput},
        responses={202: s.ImportOutput},
        examples=ex.IMPORT_CREATE,
    ),
)
class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """File imports (CSV or XLSX) of orders, products and inventory, processed by a worker."""

    scope_object = "orders"
    #: An upload needs the write scope of the kind it names; without a known kind (a 400 follows), orders:write.
    body_scopes = {"create": ByField("kind", IMPORT_SCOPES)}
    serializer_class = s.ImportOutput
    parser_classes = [MultiPartParser, FormParser]
    filterset_class = ImportFilter
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]
    http_method_names = ["get", "post", "head", "options"]

    def get_base_queryset(self):
        return BulkImport.objects.all()

    def create(self, request):
        data = validated_input(s.ImportInput, self, request.data)
        upload = data["file"]
        job = jobs.import_submit(merchant=self.merchant, kind=data["kind"], upload=upload, file_name=upload.name,
                                    dry_run=data["dry_run"], error_policy=data["error_policy"],
                                    preset=data["preset"], create_channels=data["create_channels"],
                                    actor=self.actor)  # fmt: skip
        job.refresh_from_db()  # without a broker it ran here and now, and the body shows the outcome
        location = reverse("import-detail", kwargs={"pk": job.pk}, request=request)
        body = s.ImportOutput(job, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})

    @extend_schema(
        summary="The error report of an import job",
        description="One row per problem, ordered by row: `row` (the line in the file, the header being line 1), "
        "`column`, `value`, `message`. Only the header when no row has an error.",
        responses=CSV_RESPONSE,
    )
    @action(detail=True, methods=["get"])
    def errors(self, request, pk=None):
        job = self.get_object()
        return stream_csv(selectors.import_error_rows(job), f"import-{job.pk}-errors.csv")

    @extend_schema(
        summary="A template file for an import kind",
        description="The columns an import of this kind reads, and an example row. 404 for an unknown kind.",
        parameters=[OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=ImportKind.values)],
        responses=CSV_RESPONSE,
    )
    @action(detail=False, methods=["get"], url_path=r"templates/(?P<kind>[^/.]+)")
    def templates(self, request, kind=None):
        if kind not in parse.TEMPLATES:
            raise NotFound()
        columns, examples = parse.TEMPLATES[kind]
        return stream_csv([columns, *examples], f"{kind}-import-template.csv")

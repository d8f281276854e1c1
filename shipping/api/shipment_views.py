"""The shipments API: shipments and their actions, AWB pools, pickups, manifests, the NDR queue and the customer
notification settings.

A reference in a request body to something the merchant does not have (an order, a courier code, a shipment, a
pickup, a location) is a 400 naming the field, as in the orders API; a URL naming another merchant's object is a
404.
"""

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.services import location_resolve
from orders.models import Order
from shipping import selectors
from shipping.api import examples as ex
from shipping.api import shipment_serializers as s
from shipping.api.filters import AWBPoolFilter, ManifestFilter, NDRFilter, PickupFilter, ShipmentFilter
from shipping.eway import booking_warnings
from shipping.models import AWBPoolKind, Courier, NotificationSetting, PickupRequest, Shipment
from shipping.services.awb import (
    awb_pool_create_list,
    awb_pool_create_range,
    awb_pool_set_active,
    awb_pool_set_low_watermark,
)
from shipping.services.manifests import manifest_create
from shipping.services.ndr import ndr_action
from shipping.services.notifications import notification_setting_set
from shipping.services.pickups import pickup_cancel, pickup_schedule
from shipping.services.shipments import shipment_assign_awb, shipment_cancel, shipment_create
from shopops.api.base import MerchantAPIView, MerchantScopedGenericViewSet
from shopops.api.parsers import FormParser, JSONParser, MultiPartParser
from shopops.api.schema import ApiErrorOutput
from shopops.api.serializers import validated_input


def _errors(**codes: str) -> dict:
    """OpenAPI responses naming the error codes an action may answer with, by status."""
    return {int(code[1:]): OpenApiResponse(ApiErrorOutput, description=text) for code, text in codes.items()}


def _courier(view, code: str, field: str = "courier") -> Courier:
    courier = view.scoped(Courier.objects).filter(code=code).first()
    if courier is None:
        raise serializers.ValidationError({field: [f"Unknown courier {code!r}."]})
    return courier


def _known_shipments(view, shipment_ids: list[int]) -> list[int]:
    """The ids, when every one is a shipment of the merchant; else a 400 naming the others."""
    found = set(view.scoped(Shipment.objects).filter(pk__in=set(shipment_ids)).values_list("pk", flat=True))
    unknown = [str(pk) for pk in dict.fromkeys(shipment_ids) if pk not in found]
    if unknown:
        raise serializers.ValidationError({"shipment_ids": [f"Unknown shipments: {', '.join(unknown)}."]})
    return shipment_ids


# -- shipments --------------------------------------------------------------------------------------------------

SHIPMENT_ORDERING = {
    "created_at": "created_at",
    "ship_date": "shipped_at",
    "delivered_date": "delivered_at",
    "pickup_date": "pickup_date",
    "expected_delivery_date": "expected_delivery_date",
    "updated_at": "updated_at",
}


@extend_schema_view(
    list=extend_schema(
        summary="List shipments",
        description="Dates that are not set yet (ship, delivered, pickup) sort last in either direction.",
    ),  # fmt: skip
    retrieve=extend_schema(summary="A shipment", examples=ex.SHIPMENT_DETAIL),
    create=extend_schema(
        summary="Create a shipment for an order",
        description="For a confirmed or packed order, with `courier` or the merchant's recommended courier; the "
        "charges come from the courier's rate card. Then assign an AWB (`/assign-awb/`). `warnings` names what the "
        "merchant should do before pickup (`eway_bill_required`: the order's total is over EWAY_BILL_THRESHOLD and it "
        "has no e-way bill number); they do not stop the booking.",
        request=s.ShipmentCreateInput,
        examples=ex.SHIPMENT_CREATE,
        responses={
            201: s.ShipmentBookingOutput,
            **_errors(
                e400="`invalid`: an unknown `order` or `courier`, or an order without a weight or "
                "postcode (field errors in `details`).",
                e409="`order_not_shippable` (the order is not confirmed or packed), `shipment_exists` "
                "(the order has a live shipment), `courier_not_available` (the courier cannot "
                "carry it, reason in `details`), `not_serviceable` (no courier can).",
            ),
        },
    ),  # fmt: skip
)
class ShipmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """Shipments: new -> awb_assigned -> pickup_scheduled -> picked_up -> in_transit -> out_for_delivery ->
    delivered; ndr -> out_for_delivery | rto_initiated -> rto_in_transit -> rto_delivered; cancelled before
    pickup; lost."""

    scope_object = "shipping"
    serializer_class = s.ShipmentOutput
    filterset_class = ShipmentFilter
    ordering_fields = SHIPMENT_ORDERING
    ordering = ["-created_at", "-id"]
    http_method_names = ["get", "post", "head", "options"]

    def get_base_queryset(self):
        return selectors.shipment_queryset()

    def _out(self, shipment: Shipment, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.shipment_queryset().get(pk=shipment.pk)
        return Response(s.ShipmentOutput(fresh, context=self.get_serializer_context()).data, status=code)

    def _booked(self, shipment: Shipment, code: int = status.HTTP_200_OK) -> Response:
        """The shipment with its booking's warnings (an e-way bill required)."""
        fresh = selectors.shipment_queryset().select_related("order").get(pk=shipment.pk)
        fresh.warnings = booking_warnings(fresh.order)
        return Response(s.ShipmentBookingOutput(fresh, context=self.get_serializer_context()).data, status=code)

    def create(self, request):
        data = validated_input(s.ShipmentCreateInput, self, request.data)
        order = self.scoped(Order.objects).filter(pk=data["order"]).first()
        if order is None:
            raise serializers.ValidationError({"order": [f"Unknown order {data['order']}."]})
        courier = _courier(self, data["courier"]) if "courier" in data else None
        shipment = shipment_create(order=order, courier=courier, actor=self.actor)
        return self._booked(shipment, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Assign an AWB (or reassign to another courier)",
        description="Books the shipment with its courier and takes the next AWB from the courier's active pools; "
        "`routing_code` is the courier's sort code when its booking gives one. With another `courier`, the shipment "
        "is first moved to it (before pickup only): re-quoted, taken off its pickup and manifest; the old AWB stays "
        "spent. An order whose total is over EWAY_BILL_THRESHOLD without an e-way bill number is booked all the same, "
        "with the warning `eway_bill_required` in `warnings` and on the shipment's and the order's timelines.",
        request=s.ShipmentAssignAWBInput,
        examples=ex.SHIPMENT_ASSIGN_AWB,
        responses={200: s.ShipmentBookingOutput,
                   **_errors(e400="`invalid`: an unknown `courier` code.",
                             e409="`shipment_cancelled`, `awb_already_assigned` (same courier, AWB already set), "
                                  "`awb_pool_exhausted` (no number left for the courier), `transition_not_allowed` "
                                  "(picked up already), `courier_not_available`.")},
    )  # fmt: skip
    @action(detail=True, methods=["post"], url_path="assign-awb")
    def assign_awb(self, request, pk=None):
        shipment = self.get_object()
        data = validated_input(s.ShipmentAssignAWBInput, self, request.data)
        courier = _courier(self, data["courier"]) if "courier" in data else None
        return self._booked(shipment_assign_awb(shipment=shipment, courier=courier, actor=self.actor))

    @extend_schema(
        summary="Cancel a shipment before pickup",
        description="The courier is told, the AWB stays spent, and the order may be shipped again.",
        request=s.ShipmentCancelInput,
        examples=ex.SHIPMENT_CANCEL,
        responses={200: s.ShipmentOutput,
                   **_errors(e409="`transition_not_allowed`: already picked up, delivered or cancelled.")},
    )  # fmt: skip
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        shipment = self.get_object()
        reason = validated_input(s.ShipmentCancelInput, self, request.data)["reason"]
        return self._out(shipment_cancel(shipment=shipment, reason=reason, actor=self.actor))

    @extend_schema(
        summary="A shipment's timeline",
        description="The shipment's own events (source `shipment`) and the courier's scans (source `courier`), "
        "merged by time, oldest first. A scan's time is when it happened at the courier; an event's, when ShopOps "
        "recorded it.",
        responses=s.ShipmentEventOutput(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def events(self, request, pk=None):
        shipment = self.get_object()
        return Response(s.ShipmentEventOutput(selectors.shipment_timeline(shipment), many=True).data)


# -- AWB pools --------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List AWB pools",
        description="With the numbers remaining in each and whether it is below its low watermark.",
    ),  # fmt: skip
    retrieve=extend_schema(summary="An AWB pool"),
    create=extend_schema(
        summary="Add an AWB pool",
        description="`kind` range: the numbers `range_start`..`range_end` (inclusive), written as `prefix` + the "
        "number zero-padded to `width`. `kind` list: the `numbers` given, or (multipart) a `file` of one AWB per "
        "line. All or nothing: a malformed number, one listed twice or one the courier already has is refused, "
        "named in `details`.",
        request={"application/json": s.AWBPoolInput, "multipart/form-data": s.AWBPoolInput},
        responses={
            201: s.AWBPoolOutput,
            **_errors(
                e400="`invalid`: an unknown `courier` code, a bad range or number (field errors in `details`).",
                e409="`awb_pool_overlap` (the range overlaps a pool of the courier), "
                "`duplicate_awb_pool` (the name is taken).",
                e413="`payload_too_large`: the file is over the upload limit.",
            ),
        },
    ),  # fmt: skip
    partial_update=extend_schema(
        summary="Activate or deactivate an AWB pool, or change its low watermark",
        request=s.AWBPoolUpdateInput,
        responses=s.AWBPoolOutput,
    ),
)
class AWBPoolViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """AWB numbers the couriers allotted to the merchant, handed out oldest pool first and never reused.
    Pools are never deleted: deactivate them."""

    scope_object = "shipping"
    serializer_class = s.AWBPoolOutput
    filterset_class = AWBPoolFilter
    ordering_fields = ["created_at", "name"]
    ordering = ["-id"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_base_queryset(self):
        return selectors.awb_pool_queryset()

    def _out(self, pool, code: int = status.HTTP_200_OK) -> Response:
        return Response(s.AWBPoolOutput(selectors.awb_pool_queryset().get(pk=pool.pk)).data, status=code)

    def create(self, request):
        data = validated_input(s.AWBPoolInput, self, request.data)
        courier = _courier(self, data["courier"])
        if data["kind"] == AWBPoolKind.RANGE:
            pool = awb_pool_create_range(courier=courier, name=data["name"], start=data["range_start"],
                                         end=data["range_end"], prefix=data["prefix"], width=data["width"],
                                         low_watermark=data["low_watermark"])  # fmt: skip
        else:
            pool = awb_pool_create_list(courier=courier, name=data["name"], numbers=data["numbers"],
                                        low_watermark=data["low_watermark"])  # fmt: skip
        return self._out(pool, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        pool = self.get_object()
        data = validated_input(s.AWBPoolUpdateInput, self, request.data)
        if "is_active" in data:
            pool = awb_pool_set_active(pool=pool, is_active=data["is_active"])
        if "low_watermark" in data:
            pool = awb_pool_set_low_watermark(pool=pool, low_watermark=data["low_watermark"])
        return self._out(pool)


# -- pickups ----------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List pickups"),
    retrieve=extend_schema(summary="A pickup"),
    create=extend_schema(
        summary="Schedule a pickup",
        description="Books the courier to collect these shipments (one courier, one location) on `pickup_date`. "
        "The shipments join the pickup already booked for that courier, location and date, if there is one; the "
        "answer is that pickup, with its `pickup_token`.",
        request=s.PickupCreateInput,
        responses={
            201: s.PickupOutput,
            **_errors(
                e400="`invalid`: unknown shipments or location, shipments of several couriers or "
                "locations, a location other than the shipments', a past date.",
                e409="`shipments_not_ready`: a shipment has no AWB or is already booked or picked "
                "up (statuses in `details`).",
            ),
        },
    ),  # fmt: skip
)
class PickupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """Courier pickups: one courier's visit to one location on one date."""

    scope_object = "shipping"
    serializer_class = s.PickupOutput
    filterset_class = PickupFilter
    ordering_fields = ["pickup_date", "created_at"]
    ordering = ["-pickup_date", "-id"]
    http_method_names = ["get", "post", "head", "options"]

    def get_base_queryset(self):
        return selectors.pickup_queryset()

    def _out(self, pickup, code: int = status.HTTP_200_OK) -> Response:
        return Response(s.PickupOutput(selectors.pickup_queryset().get(pk=pickup.pk)).data, status=code)

    def create(self, request):
        data = validated_input(s.PickupCreateInput, self, request.data)
        shipment_ids = _known_shipments(self, data["shipment_ids"])
        location = location_resolve(merchant=self.merchant, ref=data["location"]) if data.get("location") else None
        pickup = pickup_schedule(merchant=self.merchant, shipment_ids=shipment_ids, actor=self.actor,
                                 location=location, pickup_date=data.get("pickup_date"))  # fmt: skip
        return self._out(pickup, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Cancel a pickup",
        description="Its shipments go back to waiting for a pickup (status awb_assigned).",
        request=None,
        responses={200: s.PickupOutput,
                   **_errors(e409="`pickup_cancelled` (already cancelled), `pickup_in_progress` (a shipment is "
                                  "already picked up).")},
    )  # fmt: skip
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._out(pickup_cancel(pickup=self.get_object(), actor=self.actor))


# -- manifests --------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List manifests"),
    retrieve=extend_schema(summary="A manifest"),
    create=extend_schema(
        summary="Create a manifest",
        description="The hand-over list of `shipment_ids`, or of the shipments of `pickup` (one courier, one "
        "location; each shipment on one manifest only).",
        request=s.ManifestCreateInput,
        responses={
            201: s.ManifestOutput,
            **_errors(
                e400="`invalid`: unknown shipments or pickup, a pickup without shipments, shipments "
                "of several couriers or locations.",
                e409="`shipments_not_ready` (no AWB, or already picked up), `already_manifested`.",
            ),
        },
    ),  # fmt: skip
)
class ManifestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """Manifests: the list of shipments a courier's agent signs for at pickup."""

    scope_object = "shipping"
    serializer_class = s.ManifestOutput
    filterset_class = ManifestFilter
    ordering_fields = ["created_at"]
    ordering = ["-id"]
    http_method_names = ["get", "post", "head", "options"]

    def get_base_queryset(self):
        return selectors.manifest_queryset()

    def create(self, request):
        data = validated_input(s.ManifestCreateInput, self, request.data)
        pickup = None
        if "pickup" in data:
            pickup = self.scoped(PickupRequest.objects).filter(pk=data["pickup"]).first()
            if pickup is None:
                raise serializers.ValidationError({"pickup": [f"Unknown pickup {data['pickup']}."]})
        shipment_ids = _known_shipments(self, data["shipment_ids"]) if "shipment_ids" in data else None
        manifest = manifest_create(merchant=self.merchant, actor=self.actor, shipment_ids=shipment_ids,
                                   pickup=pickup)  # fmt: skip
        fresh = selectors.manifest_queryset().get(pk=manifest.pk)
        return Response(s.ManifestOutput(fresh, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)  # fmt: skip


# -- NDR ----------------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="The NDR queue", description="Failed deliveries, filterable by status, reason, courier and age."
    ),  # fmt: skip
    retrieve=extend_schema(summary="An NDR"),
)
class NDRViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """Non-delivery reports: open (waiting for the merchant), reattempt (requested), delivered or rto (resolved)."""

    scope_object = "shipping"
    serializer_class = s.NDROutput
    filterset_class = NDRFilter
    ordering_fields = ["first_attempt_at", "last_attempt_at", "attempts"]
    ordering = ["-last_attempt_at", "-id"]
    http_method_names = ["get", "post", "head", "options"]

    def get_base_queryset(self):
        return selectors.ndr_queryset()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(
        summary="Act on an NDR",
        description="`reattempt`: the courier tries again on `reattempt_date` (default tomorrow). `rto`: the parcel "
        "returns to the merchant now.",
        request=s.NDRActionInput,
        responses={200: s.NDROutput,
                   **_errors(e400="`invalid`: an unknown action, a past reattempt date, a date with rto.",
                             e409="`ndr_resolved` (delivered or returned), `ndr_action_taken` (a reattempt is "
                                  "already requested), `transition_not_allowed`.")},
    )  # fmt: skip
    @action(detail=True, methods=["post"], url_path="action", url_name="action")
    def take_action(self, request, pk=None):
        ndr = self.get_object()
        data = validated_input(s.NDRActionInput, self, request.data)
        ndr_action(ndr=ndr, action=data["action"], actor=self.actor, comment=data["comment"],
                   reattempt_date=data.get("reattempt_date"))  # fmt: skip
        fresh = selectors.ndr_queryset().get(pk=ndr.pk)
        return Response(s.NDROutput(fresh, context=self.get_serializer_context()).data)


# -- notification settings -----------------------------------------------------------------------------------------


class NotificationSettingView(MerchantAPIView):
    """Which tracking notifications customers get, by email and SMS (all on until changed)."""

    scope_object = "shipping"

    def _current(self) -> NotificationSetting:
        return self.scoped(NotificationSetting.objects).first() or NotificationSetting()

    @extend_schema(operation_id="notification_settings_retrieve", summary="The notification settings",
                   responses=s.NotificationSettingOutput)  # fmt: skip
    def get(self, request):
        return Response(s.NotificationSettingOutput(self._current()).data)

    @extend_schema(operation_id="notification_settings_partial_update", summary="Change notification settings",
                   request=s.NotificationSettingInput, responses=s.NotificationSettingOutput)  # fmt: skip
    def patch(self, request):
        serializer = s.NotificationSettingInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        setting = notification_setting_set(merchant=self.merchant, data=serializer.validated_data)
        return Response(s.NotificationSettingOutput(setting).data)

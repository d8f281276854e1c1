"""Pickups (the courier's visits) and manifests (the hand-over lists), with their shipments."""

from django.contrib import admin
from django.db.models import Count, QuerySet

from orders.admin.common import actor_of
from shipping.admin.documents import print_manifests_selected
from shipping.models import Manifest, PickupRequest, Shipment
from shipping.services.pickups import pickup_cancel
from shopops.admin import (
    ActionReport,
    MerchantRelatedFilter,
    MerchantScopedAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    actor_display,
    refusal_reason,
    run_per_object,
)


class PoolShipmentInline(ReadOnlyInline):
    """The shipments of a pickup or a manifest."""

    model = Shipment
    fields = ["awb", "order_number", "status", "zone", "total_charge", "expected_delivery_date"]
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order").order_by("id")

    @admin.display(description="order")
    def order_number(self, shipment: Shipment) -> str:
        return shipment.order.number


class PickupShipmentInline(PoolShipmentInline):
    fk_name = "pickup"


class ManifestShipmentInline(PoolShipmentInline):
    fk_name = "manifest"


@admin.register(PickupRequest)
class PickupRequestAdmin(MerchantScopedAdmin):
    """Courier visits, booked by the shipments' "Schedule pickups" action; cancelled here."""

    list_display = ["token", "courier", "location", "pickup_date", "status", "shipment_count", "created_at"]
    list_select_related = ["courier", "location"]
    list_filter = ["status", ("courier", MerchantRelatedFilter), "pickup_date"]
    search_fields = ["token"]
    inlines = [PickupShipmentInline]
    actions = ["cancel_selected"]
    fields = ["token", "courier", "location", "pickup_date", "status", "created_by_name", "created_at", "cancelled_at"]
    readonly_fields = fields
    created_by_name = actor_display("created_by", "created by")

    def get_base_queryset(self, request) -> QuerySet:
        return super().get_base_queryset(request).annotate(shipments_count=Count("shipments"))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="shipments", ordering="shipments_count")
    def shipment_count(self, pickup: PickupRequest) -> int:
        return pickup.shipments_count

    @admin.action(description="Cancel selected pickups", permissions=["change"])
    def cancel_selected(self, request, queryset):
        pickups, actor = list(queryset.order_by("pk")), actor_of(request)
        run_per_object(self, request, pickups, ActionReport("Cancelled", "pickup"),
                       lambda pickup: pickup_cancel(pickup=pickup, actor=actor), refusal_reason)  # fmt: skip


@admin.register(Manifest)
class ManifestAdmin(ReadOnlyAdmin):
    """Hand-over lists, made by the shipments' "Create manifests" action."""

    list_display = ["number", "courier", "location", "pickup", "shipment_count", "created_by_name", "created_at"]
    list_select_related = ["courier", "location", "pickup"]
    list_filter = [("courier", MerchantRelatedFilter)]
    search_fields = ["number"]
    inlines = [ManifestShipmentInline]
    actions = [print_manifests_selected]
    fields = ["number", "courier", "location", "pickup", "created_by_name", "created_at"]
    readonly_fields = fields
    created_by_name = actor_display("created_by", "created by")

    def get_base_queryset(self, request) -> QuerySet:
        return super().get_base_queryset(request).annotate(shipments_count=Count("shipments"))

    def has_print_permission(self, request) -> bool:
        """Printing is writing (a document job): the roles that may change the merchant's rows."""
        return MerchantScopedAdmin.has_change_permission(self, request)

    @admin.display(description="shipments", ordering="shipments_count")
    def shipment_count(self, manifest: Manifest) -> int:
        return manifest.shipments_count

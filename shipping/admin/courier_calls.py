"""Calls to couriers: what ShopOps asked of each courier (book, cancel, pickups, NDR actions) and the answer; a call
that failed, or whose answer never came, is asked again here with the same key."""

from django.contrib import admin
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html

from orders.admin.common import actor_of, rendered_in_time_zone
from shipping.admin.accounts import CourierHttpLogInline
from shipping.models import CourierCall, CourierCallKind, CourierCallStatus
from shipping.services.calls import CALL_RETRY_AFTER, courier_call_retry
from shopops.admin import (
    ActionReport,
    MerchantRelatedFilter,
    MerchantScopedAdmin,
    ReadOnlyInline,
    refusal_reason,
    run_per_object,
)

CALL_FIELDS = ["created_at", "kind", "courier", "status", "attempts", "error", "started_at", "finished_at"]


class CourierCallInline(ReadOnlyInline):
    """The shipment's calls to couriers."""

    model = CourierCall
    verbose_name_plural = "courier calls"
    fields = CALL_FIELDS
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("courier").order_by("id")


@admin.register(CourierCall)
class CourierCallAdmin(MerchantScopedAdmin):
    """Every call made to a courier, pending until its answer is recorded. "Retry" asks a failed call again, or a
    pending one whose attempt began over a few minutes ago (its answer was lost), with the same key."""

    list_display = ["id", "created_at", "kind", "courier", "shipment_link", "pickup", "state", "attempts", "error",
                    "finished_at"]  # fmt: skip
    list_select_related = ["courier", "shipment", "pickup"]
    list_filter = ["status", "kind", ("courier", MerchantRelatedFilter)]
    search_fields = ["=shipment__awb", "=key", "=pickup__token"]
    search_help_text = "AWB, pickup token or call key."
    show_full_result_count = False
    actions = ["retry_selected"]
    inlines = [CourierHttpLogInline]
    fields = ["kind", "courier", "shipment_link", "pickup", "state", "key", "attempts", "actor", "request",
              "response", "error", "created_at", "started_at", "finished_at"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # recorded by the services that call couriers

    def has_change_permission(self, request, obj=None) -> bool:
        # Without an object: may the user run "Retry". With one: the page is view-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="status", ordering="status")
    def state(self, call: CourierCall) -> str:
        """A booking whose answer was lost shows as "booking unknown" until the service is asked (Retry looks the
        booking up before booking again)."""
        if call.outcome_unknown and call.status != CourierCallStatus.SUCCEEDED:
            return "booking unknown" if call.kind == CourierCallKind.BOOK else "outcome unknown"
        return call.get_status_display()

    @admin.display(description="shipment", ordering="shipment_id")
    def shipment_link(self, call: CourierCall):
        if call.shipment_id is None:
            return "-"
        url = reverse("admin:shipping_shipment_change", args=[call.shipment_id])
        return format_html('<a href="{}">{}</a>', url, call.shipment)

    def changelist_view(self, request, extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(CourierCallAdmin, self).changelist_view(request, extra_context)
        )

    @admin.action(description=f"Retry (failed, or pending over {CALL_RETRY_AFTER.seconds // 60} minutes)",
                  permissions=["change"])  # fmt: skip
    def retry_selected(self, request, queryset: QuerySet):
        calls, actor = list(queryset.select_related("courier", "shipment").order_by("pk")), actor_of(request)
        run_per_object(self, request, calls, ActionReport("Asked again", "courier call"),
                       lambda call: courier_call_retry(call=call, actor=actor), refusal_reason)  # fmt: skip

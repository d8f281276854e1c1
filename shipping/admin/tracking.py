"""Every courier scan received, orphans for unknown AWBs included."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from orders.admin.common import rendered_in_time_zone
from shipping.models import TrackingEvent
from shopops.admin import MerchantRelatedFilter, ReadOnlyAdmin


class OrphanFilter(admin.SimpleListFilter):
    title = "shipment"
    parameter_name = "orphan"

    def lookups(self, request, model_admin):
        return [("yes", "Orphans (unknown AWB)"), ("no", "Of a shipment")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(shipment__isnull=self.value() == "yes")
        return queryset


@admin.register(TrackingEvent)
class TrackingEventAdmin(ReadOnlyAdmin):
    """Every courier scan received (webhook, polling, by hand, CSV), including orphans for unknown AWBs."""

    list_display = ["occurred_at", "awb", "courier", "shipment_link", "status", "code", "description", "location",
                    "source", "applied", "received_at"]  # fmt: skip
    list_select_related = ["courier"]
    list_filter = ["source", "applied", "unknown_code", "status", ("courier", MerchantRelatedFilter), OrphanFilter]
    search_fields = ["=awb", "code"]
    show_full_result_count = False
    fields = ["awb", "courier", "shipment", "event_key", "status", "code", "unknown_code", "description", "location",
              "occurred_at", "source", "applied", "raw", "received_at"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="shipment", ordering="shipment_id")
    def shipment_link(self, event: TrackingEvent):
        if event.shipment_id is None:
            return "orphan"
        return format_html('<a href="{}">{}</a>', reverse("admin:shipping_shipment_change", args=[event.shipment_id]),
                           event.shipment_id)  # fmt: skip

    def changelist_view(self, request, extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(TrackingEventAdmin, self).changelist_view(request, extra_context)
        )

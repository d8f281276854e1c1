"""Shipments: the list with its filters, the change page with its timelines, the actions (AWBs, reassignment,
pickups, manifests, tracking, cancellation), the tracking CSV upload, and the order action creating shipments."""

from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from orders.admin.common import (
    DateRangeFilter,
    MultiStatusFilter,
    ShipDateFilter,
    TimelineInline,
    actor_of,
    date_filter_ordering,
    rendered_in_time_zone,
    unquoted,
)
from shipping.adapters import adapter_for
from shipping.admin.common import shipment_refusal, status_phrase, warn_eway_bills
from shipping.admin.courier_calls import CourierCallInline
from shipping.admin.documents import ShipmentDocumentInline, print_action
from shipping.choices import LabelFormat
from shipping.models import (
    FINAL_STATUSES,
    NDR,
    Courier,
    DocumentKind,
    NDRStatus,
    Notification,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
    TrackingEvent,
)
from shipping.selectors import shipment_search
from shipping.services.manifests import MANIFESTABLE_STATUSES, manifest_create
from shipping.services.pickups import pickup_schedule
from shipping.services.shipments import shipment_assign_awb, shipment_cancel, shipment_create
from shipping.services.tracking import tracking_import, tracking_record, tracking_refresh
from shopops.admin import (
    ActionReport,
    MerchantRelatedFilter,
    MerchantScopedAdmin,
    ReadOnlyInline,
    action_form_page,
    json_block,
    member_roles,
    run_per_object,
)
from shopops.changelist import KeysetListMixin
from shopops.errors import DomainError

#: Shipment statuses tracking is refreshed for (booked with the courier and not yet final).
LIVE_STATUSES = [s for s in ShipmentStatus.values if s not in (*FINAL_STATUSES, ShipmentStatus.NEW)]


class PickupDateFilter(DateRangeFilter):
    """The pickup day (a date, not a timestamp: no time zone to read it in)."""

    title = "pickup date"
    field_name = "pickup_date"
    parameter_name = "pickup_date"

    def condition(self, tz) -> Q:
        first, last = self.days(tz)
        query = Q()
        if first is not None:
            query &= Q(pickup_date__gte=first)
        if last is not None:
            query &= Q(pickup_date__lte=last)
        return query


class DeliveredDateFilter(DateRangeFilter):
    title = "delivered date"
    field_name = "delivered_at"
    parameter_name = "delivered_date"


class ShipmentStatusFilter(MultiStatusFilter):
    choices_of = ShipmentStatus.choices


class OpenNDRFilter(admin.SimpleListFilter):
    title = "open NDR"
    parameter_name = "open_ndr"

    def lookups(self, request, model_admin):
        return [("yes", "With an open NDR"), ("no", "Without")]

    def queryset(self, request, queryset):
        # By the ids of the shipments with an open NDR (a small set, from the one-open-NDR-per-shipment index),
        # not by each shipment's EXISTS: the list may hold a million shipments.
        open_ndrs = NDR.objects.filter(status__in=OPEN_NDR_STATUSES).values("shipment_id")
        if self.value() == "yes":
            return queryset.filter(pk__in=open_ndrs)
        if self.value() == "no":
            return queryset.exclude(pk__in=open_ndrs)
        return queryset


OPEN_NDR_STATUSES = [NDRStatus.OPEN, NDRStatus.REATTEMPT]


def open_ndr_exists() -> Exists:
    return Exists(NDR.objects.filter(shipment=OuterRef("pk"), status__in=OPEN_NDR_STATUSES))


class TrackingEventInline(ReadOnlyInline):
    """The courier's scans as received, the raw event included (an unknown code is flagged, never dropped)."""

    model = TrackingEvent
    verbose_name = "courier scan"
    verbose_name_plural = "tracking timeline (courier scans)"
    fields = ["occurred_at", "status", "code", "unknown_code", "description", "location", "source", "applied",
              "raw_event"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="raw carrier event")
    def raw_event(self, event: TrackingEvent) -> str:
        return json_block(event.raw)

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("occurred_at", "id")


class ShipmentEventInline(TimelineInline):
    """The shipment's timeline in words."""

    model = ShipmentEvent
    verbose_name_plural = "shipment timeline"
    status_labels = dict(ShipmentStatus.choices)


class NDRInline(ReadOnlyInline):
    model = NDR
    verbose_name_plural = "NDRs (failed deliveries)"
    fields = ["status", "reason", "attempts", "first_attempt_at", "last_attempt_at", "action", "reattempt_date",
              "action_comment", "action_by", "resolved_at"]  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("id")


class NotificationInline(ReadOnlyInline):
    model = Notification
    verbose_name_plural = "customer notifications"
    fields = ["created_at", "event", "channel", "recipient", "status", "sent_at", "error"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("id")


class ShipmentCancelForm(forms.Form):
    reason = forms.CharField(max_length=255, help_text="Recorded on each shipment and in its timeline.")


class ReassignForm(forms.Form):
    courier = forms.ModelChoiceField(queryset=Courier.objects.none(),
                                     help_text="The shipments move to this courier and get its AWBs; their old AWBs "
                                               "stay spent.")  # fmt: skip

    def __init__(self, *args, couriers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["courier"].queryset = couriers


class PickupForm(forms.Form):
    pickup_date = forms.DateField(required=False, help_text="YYYY-MM-DD. Blank: today before the courier's cut-off, "
                                                            "else the next working day.")  # fmt: skip


class TrackingEventForm(forms.Form):
    code = forms.CharField(max_length=40, help_text="A ShopOps status (picked_up, in_transit, out_for_delivery, "
                                                    "delivered, ndr, rto_initiated, rto_in_transit, rto_delivered, "
                                                    "lost) or one of the courier's status codes.")  # fmt: skip
    occurred_at = forms.DateTimeField(required=False, help_text="YYYY-MM-DD HH:MM (your time zone). Blank: now.")
    description = forms.CharField(max_length=500, required=False)
    location = forms.CharField(max_length=120, required=False, help_text="City of the scan.")


class TrackingUploadForm(forms.Form):
    courier = forms.ModelChoiceField(queryset=Courier.objects.none())
    file = forms.FileField(help_text="CSV (UTF-8): awb, status, occurred_at (ISO 8601 with its offset) and, "
                                     "optionally, description, location, event_id. A file with a bad row applies "
                                     "nothing.")  # fmt: skip

    def __init__(self, *args, couriers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["courier"].queryset = couriers

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.API_MAX_UPLOAD_BYTES:
            raise ValidationError(f"The file is larger than the limit of {settings.API_MAX_UPLOAD_BYTES:,} bytes.")
        return upload


def group_label(shipment: Shipment) -> str:
    return f"{shipment.courier.name} from {shipment.order.pickup_location.nickname}"


@admin.register(Shipment)
class ShipmentAdmin(KeysetListMixin, MerchantScopedAdmin):
    """Shipments are created from orders (the order action, the API) and move only through the actions and the
    couriers' tracking; the change page shows them with their timelines."""

    list_display = ["id", "order_link", "courier", "awb", "routing_code", "status", "zone", "total_charge",
                    "pickup_date", "shipped_at", "delivered_at", "expected_delivery_date", "open_ndr"]  # fmt: skip
    list_select_related = ["order", "courier"]
    list_filter = [
        ShipmentStatusFilter,
        ("courier", MerchantRelatedFilter),
        PickupDateFilter,
        ShipDateFilter,
        DeliveredDateFilter,
        OpenNDRFilter,
    ]
    # Searched by shipping.selectors.shipment_search (each kind of term through its index), not by these LIKEs.
    search_fields = ["awb", "order__number", "order__customer__phone", "order__customer__email",
                     "order__customer__name"]  # fmt: skip
    search_help_text = (
        "An AWB or order number finds its shipment; otherwise a customer's phone or email, or part of a customer's "
        "name."
    )
    # Sortable only by the dates an index of (merchant, date, id) serves.
    sortable_by = ["pickup_date", "shipped_at", "delivered_at", "expected_delivery_date"]
    inlines = [TrackingEventInline, ShipmentEventInline, NDRInline, NotificationInline, CourierCallInline,
               ShipmentDocumentInline]  # fmt: skip
    actions = ["assign_awb_selected", "reassign_selected", "schedule_pickup_selected", "manifest_selected",
               "refresh_tracking_selected", "record_event_selected", "cancel_selected",
               print_action(DocumentKind.LABEL, "Print labels (4x6 in)", LabelFormat.LABEL_4X6),
               print_action(DocumentKind.LABEL, "Print labels (A4, 4 a sheet)", LabelFormat.A4_4UP),
               print_action(DocumentKind.CARRIER_LABEL, "Print the courier service's own labels (Shiprocket, "
                            "Delhivery, EasyPost)", LabelFormat.LABEL_4X6)]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["order_link", "courier", "awb", "routing_code", "status", "zone", "tracking_link"]}),
        ("Charges", {"fields": ["applied_weight_grams", "freight_charge", "cod_charge", "fuel_surcharge", "tax",
                                "total_charge", "currency", "cod_amount"]}),
        ("Pickup", {"fields": ["pickup", "pickup_date", "manifest"]}),
        ("Dates", {"fields": ["expected_delivery_date", "created_at", "awb_assigned_at", "shipped_at",
                              "delivered_at", "rto_initiated_at", "cancelled_at", "cancel_reason", "last_event_at",
                              "last_polled_at"]}),
        ("Courier service", {"fields": ["carrier_data_display"], "classes": ["collapse"],
                             "description": "The service's own ids for the booking (order, shipment, label)."}),
    ]  # fmt: skip
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    def get_base_queryset(self, request) -> QuerySet:
        return super().get_base_queryset(request).annotate(has_open_ndr=open_ndr_exists())

    def get_ordering(self, request):
        # Filtered by a date: newest first by that date (a column chosen by the merchant still wins).
        ordering = date_filter_ordering(request, [PickupDateFilter, ShipDateFilter, DeliveredDateFilter])
        return ordering or super().get_ordering(request)

    def get_search_results(self, request, queryset, search_term):
        merchant_ids = None if request.user.is_superuser else list(member_roles(request))
        return shipment_search(queryset, unquoted(search_term), merchant_ids), False

    @admin.display(description="service's ids")
    def carrier_data_display(self, shipment: Shipment) -> str:
        return json_block(shipment.carrier_data)

    def get_object(self, request, object_id, from_field=None):
        queryset = self.get_queryset(request).select_related("order", "courier", "pickup", "manifest")
        try:
            return queryset.get(pk=int(object_id))
        except (Shipment.DoesNotExist, ValueError):
            return None

    def has_add_permission(self, request) -> bool:
        return False  # created from orders: the order action "Create shipments", or the API

    def has_change_permission(self, request, obj=None) -> bool:
        # Without an object: may the user run the actions. With one: the change page is view-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # cancelled, never deleted

    @admin.display(description="order", ordering="order__number")
    def order_link(self, shipment: Shipment):
        url = reverse("admin:orders_order_change", args=[shipment.order_id])
        return format_html('<a href="{}">{}</a>', url, shipment.order.number)

    @admin.display(description="open NDR", boolean=True, ordering="has_open_ndr")
    def open_ndr(self, shipment: Shipment) -> bool:
        return shipment.has_open_ndr

    @admin.display(description="tracking page")
    def tracking_link(self, shipment: Shipment):
        if not shipment.awb:
            return "-"
        url = reverse("track", args=[shipment.awb, shipment.tracking_token])
        return format_html('<a href="{}">{}</a>', url, url)

    # -- views in the merchant's time zone ----------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        extra_context = {"tracking_import_url": reverse("admin:shipping_shipment_tracking_import"),
                         **(extra_context or {})}  # fmt: skip
        return rendered_in_time_zone(
            request, lambda: super(ShipmentAdmin, self).changelist_view(request, extra_context)
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(ShipmentAdmin, self).changeform_view(request, object_id, form_url, extra_context)
        )

    # -- actions --------------------------------------------------------------------------------

    def _selected(self, queryset) -> list[Shipment]:
        return list(queryset.select_related("courier", "order__pickup_location", "merchant").order_by("pk"))

    def _run(self, request, queryset, verb: str, apply: Callable[[Shipment], object]) -> None:
        run_per_object(self, request, self._selected(queryset), ActionReport(verb, "shipment"), apply,
                       shipment_refusal)  # fmt: skip

    def _form_page(self, request, queryset, form, action: str, title: str):
        rows = queryset.select_related("order", "courier").order_by("pk")[:100]
        return action_form_page(self, request, form=form, title=title, action=action, rows_name="shipments",
                                rows=rows, count=queryset.count())  # fmt: skip

    def _couriers(self, request) -> QuerySet:
        return Courier.objects.filter(merchant__in=self.writable_merchants(request), is_active=True).order_by("name")

    def _writable(self, request, shipment: Shipment, report: ActionReport) -> bool:
        if MerchantScopedAdmin.has_change_permission(self, request, shipment):
            return True
        report.refused.append(f"{shipment} (your role only reads it)")
        return False

    def _book(self, request, queryset, verb: str, courier: Courier | None = None) -> None:
        """Book each selected shipment (with ``courier``: reassigned first), then warn of those needing an e-way
        bill."""
        booked = []

        def book(shipment: Shipment) -> None:
            booked.append(shipment_assign_awb(shipment=shipment, courier=courier, actor=actor_of(request)).order)

        self._run(request, queryset, verb, book)
        warn_eway_bills(self, request, booked)

    @admin.action(description="Assign AWBs (current courier)", permissions=["change"])
    def assign_awb_selected(self, request, queryset):
        self._book(request, queryset, "Assigned AWBs to")

    @admin.action(description="Reassign to another courier (new AWBs)…", permissions=["change"])
    def reassign_selected(self, request, queryset):
        form = ReassignForm(request.POST if "apply" in request.POST else None, prefix="reassign",
                            couriers=self._couriers(request))  # fmt: skip
        if form.is_bound and form.is_valid():
            courier = form.cleaned_data["courier"]
            self._book(request, queryset, f"Reassigned to {courier.name}", courier)
            return None
        return self._form_page(request, queryset, form, "reassign_selected", "Reassign shipments")

    @admin.action(description="Cancel selected shipments…", permissions=["change"])
    def cancel_selected(self, request, queryset):
        form = ShipmentCancelForm(request.POST if "apply" in request.POST else None, prefix="cancel")
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._run(request, queryset, "Cancelled",
                      lambda shipment: shipment_cancel(shipment=shipment, reason=reason,
                                                       actor=actor_of(request)))  # fmt: skip
            return None
        return self._form_page(request, queryset, form, "cancel_selected", "Cancel shipments")

    @admin.action(description="Schedule pickups…", permissions=["change"])
    def schedule_pickup_selected(self, request, queryset):
        """One pickup per courier and location among the selected shipments waiting for one."""
        form = PickupForm(request.POST if "apply" in request.POST else None, prefix="pickup")
        if not (form.is_bound and form.is_valid()):
            return self._form_page(request, queryset, form, "schedule_pickup_selected", "Schedule pickups")
        day = form.cleaned_data["pickup_date"]
        report, booked = ActionReport("Scheduled the pickup of", "shipment"), []
        for group in self._groups(request, queryset, report, (ShipmentStatus.AWB_ASSIGNED,)):
            try:
                pickup = pickup_schedule(merchant=group[0].merchant, shipment_ids=[s.pk for s in group],
                                         actor=actor_of(request), pickup_date=day)  # fmt: skip
            except (DomainError, ValidationError) as exc:
                report.refused.append(f"{group_label(group[0])} ({shipment_refusal(exc)})")
            else:
                report.done += len(group)
                booked.append(f"{pickup.token} ({group_label(group[0])} on {pickup.pickup_date}: "
                              f"{len(group)} shipment{'' if len(group) == 1 else 's'})")  # fmt: skip
        report.send(self, request)
        if booked:
            self.message_user(request, f"Pickups: {'; '.join(booked)}.", messages.INFO)
        return None

    @admin.action(description="Create manifests", permissions=["change"])
    def manifest_selected(self, request, queryset):
        """One manifest per courier and location among the selected shipments not yet picked up or listed."""
        report, made = ActionReport("Listed", "shipment"), []
        for group in self._groups(request, queryset, report, MANIFESTABLE_STATUSES, unlisted=True):
            try:
                manifest = manifest_create(merchant=group[0].merchant, shipment_ids=[s.pk for s in group],
                                           actor=actor_of(request))  # fmt: skip
            except (DomainError, ValidationError) as exc:
                report.refused.append(f"{group_label(group[0])} ({shipment_refusal(exc)})")
            else:
                report.done += len(group)
                made.append(f"{manifest.number} ({group_label(group[0])}: {len(group)} "
                            f"shipment{'' if len(group) == 1 else 's'})")  # fmt: skip
        report.send(self, request)
        if made:
            self.message_user(request, f"Manifests: {'; '.join(made)}.", messages.INFO)

    def _groups(self, request, queryset, report: ActionReport, statuses, unlisted: bool = False
                ) -> list[list[Shipment]]:  # fmt: skip
        """The selected shipments in ``statuses`` by merchant, courier and pickup location; the others refused."""
        groups: dict[tuple, list[Shipment]] = {}
        for shipment in self._selected(queryset):
            if not self._writable(request, shipment, report):
                continue
            if shipment.status not in statuses:
                report.refused.append(f"{shipment} (is {status_phrase(shipment.status)})")
            elif unlisted and shipment.manifest_id:
                report.refused.append(f"{shipment} (already on a manifest)")
            else:
                key = (shipment.merchant_id, shipment.courier_id, shipment.order.pickup_location_id)
                groups.setdefault(key, []).append(shipment)
        return list(groups.values())

    @admin.action(description="Refresh tracking from the courier", permissions=["change"])
    def refresh_tracking_selected(self, request, queryset):
        report, polled = ActionReport("Refreshed the tracking of", "shipment"), []
        for shipment in self._selected(queryset):
            if not self._writable(request, shipment, report):
                continue
            if shipment.status not in LIVE_STATUSES:
                report.refused.append(f"{shipment} (is {status_phrase(shipment.status)})")
            elif not adapter_for(shipment.courier).polls:
                report.refused.append(f"{shipment} ({shipment.courier.name} is not polled: record its scans or "
                                      "upload its tracking CSV)")  # fmt: skip
            else:
                polled.append(shipment)
        result = tracking_refresh(shipments=polled) if polled else None
        report.done = len(polled)
        report.send(self, request)
        if result is not None:
            self.message_user(request, f"{result.accepted} new courier event{'' if result.accepted == 1 else 's'}, "
                              f"{result.applied} moving a shipment.", messages.INFO)  # fmt: skip

    @admin.action(description="Record a courier scan…", permissions=["change"])
    def record_event_selected(self, request, queryset):
        """For couriers without an integration: a scan read off the courier's portal or a call."""
        form = TrackingEventForm(request.POST if "apply" in request.POST else None, prefix="scan")
        if not (form.is_bound and form.is_valid()):
            return self._form_page(request, queryset, form, "record_event_selected", "Record a courier scan")
        data, unapplied = form.cleaned_data, []

        def record(shipment: Shipment):
            result = tracking_record(shipment=shipment, code=data["code"].strip(), actor=actor_of(request),
                                     occurred_at=data["occurred_at"], description=data["description"],
                                     location=data["location"])  # fmt: skip
            if not result.applied:
                unapplied.append(str(shipment))

        self._run(request, queryset, "Recorded the scan on", record)
        if unapplied:
            self.message_user(request, f"Kept in the timeline without moving the shipment (older than its latest "
                              f"event, or not a step forward): {', '.join(unapplied)}.", messages.WARNING)  # fmt: skip
        return None

    # -- the tracking CSV upload page ---------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("tracking-import/", view(self.tracking_import_view), name="shipping_shipment_tracking_import"),
                *super().get_urls()]  # fmt: skip

    def tracking_import_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = TrackingUploadForm(request.POST or None, request.FILES or None, couriers=self._couriers(request))
        result = None
        if form.is_bound and form.is_valid():
            courier = form.cleaned_data["courier"]
            try:
                result = tracking_import(courier=courier, fileobj=form.cleaned_data["file"].file,
                                         actor=actor_of(request))  # fmt: skip
            except ValidationError as exc:
                form.add_error("file", exc.message_dict.get("file", exc.messages))
            else:
                if result.errors:
                    self.message_user(request, f"The file has {len(result.errors)} bad row(s) shown below; nothing "
                                      "was applied.", messages.ERROR)  # fmt: skip
                else:
                    self.message_user(request, f"{courier.name}: {result.accepted} new events ({result.applied} "
                                      f"moving a shipment, {result.orphans} for unknown AWBs), {result.duplicates} "
                                      "already received.", messages.SUCCESS)  # fmt: skip
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/shipping/shipment/tracking_import.html", {
            **self.admin_site.each_context(request), "title": "Upload tracking (CSV)", "subtitle": None,
            "opts": self.opts, "form": form, "result": result, "media": self.media + form.media,
            "has_view_permission": self.has_view_permission(request),
        })  # fmt: skip


# -- the order desk's action: shipments with the recommended courier (shipping/admin/orders.py adds it) -------------


@admin.action(description="Create shipments (recommended courier)", permissions=["change"])
def create_shipments_selected(modeladmin, request, queryset):
    """Each selected confirmed or packed order gets a shipment with the merchant's recommended courier."""
    orders, created = list(queryset.order_by("pk")), []
    run_per_object(modeladmin, request, orders, ActionReport("Created shipments for", "order"),
                   lambda order: created.append(shipment_create(order=order, actor=actor_of(request)).order),
                   shipment_refusal)  # fmt: skip
    warn_eway_bills(modeladmin, request, created)

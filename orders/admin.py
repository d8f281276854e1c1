"""The merchant's order desk: orders, channels, customers and returns.

Every admin derives from ``MerchantScopedAdmin`` (rows, choices and filters limited to the user's merchants) and
writes only through ``orders.services``: the actions run the state machine one object at a time and report which
objects moved and which the service refused, and why.

Time zones. A date-range filter reads its calendar days in the time zone of each order's own merchant (a user of
merchants in several zones gets one condition per zone), so a day is the merchant's day whoever looks. Times are
shown, and the date hierarchy is drawn, in the merchants' time zone when all the user's merchants share one (the
usual case), else in the project's TIME_ZONE (superusers of a multi-zone installation).
"""

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import smart_split, unescape_string_literal

from orders import tasks
from orders.imports import TEMPLATES, import_create, import_file_problem
from orders.models import (
    EDITABLE_STATUSES,
    BulkImport,
    Channel,
    Customer,
    ErrorPolicy,
    ImportKind,
    ImportRowError,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Return,
    ReturnLine,
    ReturnStatus,
)
from orders.selectors import import_error_rows, order_export_rows
from orders.services import (
    channel_create,
    channel_update,
    order_cancel,
    order_confirm,
    order_pack,
    order_update,
    return_transition,
)
from shopops.admin import (
    ActionReport,
    ChangelistExportMixin,
    MerchantRelatedFilter,
    MerchantScopedAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceAdmin,
    action_form_page,
    adopt,
    member_roles,
    refusal_reason,
    run_per_object,
)
from shopops.api.exceptions import ApiError
from shopops.csvexport import stream_csv
from shopops.errors import DomainError
from shopops.models import Merchant


def actor_of(request) -> str:
    return f"user:{request.user.pk}"


# -- time zones ----------------------------------------------------------------------------------


def visible_time_zones(request) -> list[str]:
    """The distinct time zones of the merchants whose rows the user sees (one query, cached on the request)."""
    if not hasattr(request, "_orders_time_zones"):
        merchants = Merchant.objects.all()
        if not request.user.is_superuser:
            merchants = merchants.filter(pk__in=list(member_roles(request)))
        zones = merchants.order_by("time_zone").values_list("time_zone", flat=True).distinct()
        request._orders_time_zones = list(zones)
    return request._orders_time_zones


def display_time_zone(request):
    """The merchants' time zone if all the user's merchants share one, else the project's TIME_ZONE."""
    zones = visible_time_zones(request)
    return ZoneInfo(zones[0]) if len(zones) == 1 else timezone.get_default_timezone()


def rendered_in_time_zone(request, view: Callable[[], object]):
    """Run ``view`` and render its template response with the display time zone active.

    A TemplateResponse renders after the view returns, so it is rendered here, inside the override.
    """
    with timezone.override(display_time_zone(request)):
        response = view()
        if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
            response.render()
    return response


class DateRangeFilter(admin.ListFilter):
    """From/to calendar days (inclusive) on a timestamp, plus quick choices.

    Query string: ``<parameter_name>_after`` and ``<parameter_name>_before`` (YYYY-MM-DD, either may be left out),
    or ``<parameter_name>=today|last_7_days|this_month``. Days are read in the time zone of each order's merchant:
    with merchants in several zones the filter is one (merchant zone AND range) condition per zone.
    "Last 7 days" is today and the six days before it; "this month" is the whole calendar month.
    """

    field_name: str = ""
    parameter_name: str = ""
    template = "admin/orders/date_range_filter.html"
    presets = {"today": "Today", "last_7_days": "Last 7 days", "this_month": "This month"}

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.after_param = f"{self.parameter_name}_after"
        self.before_param = f"{self.parameter_name}_before"
        for name in self.expected_parameters():
            if name in params:
                value = params.pop(name)[-1].strip()
                if value:
                    self.used_parameters[name] = value
        self.preset = self.used_parameters.get(self.parameter_name)
        if self.preset is not None and self.preset not in self.presets:
            raise IncorrectLookupParameters(f"Unknown {self.title} choice {self.preset!r}.")
        self.after = self._date(self.after_param)
        self.before = self._date(self.before_param)
        # The other parameters of the changelist, carried through the from/to form (a new range starts on page 1).
        mine = {*self.expected_parameters(), PAGE_VAR, ERROR_FLAG}
        self.hidden_params = [(k, v) for k, values in request.GET.lists() if k not in mine for v in values]

    def _date(self, name: str) -> date | None:
        value = self.used_parameters.get(name)
        if value is None:
            return None
        try:
            parsed = parse_date(value)
        except ValueError:
            parsed = None
        if parsed is None:
            raise IncorrectLookupParameters(f"{self.title}: {value!r} is not a date (YYYY-MM-DD).")
        return parsed

    @property
    def after_value(self) -> str:
        return self.after.isoformat() if self.after else ""

    @property
    def before_value(self) -> str:
        return self.before.isoformat() if self.before else ""

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return [self.parameter_name, f"{self.parameter_name}_after", f"{self.parameter_name}_before"]

    def choices(self, changelist):
        yield {
            "selected": not self.used_parameters,
            "query_string": changelist.get_query_string(remove=self.expected_parameters()),
            "display": "Any date",
        }
        for value, label in self.presets.items():
            yield {
                "selected": self.preset == value,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: value}, remove=[self.after_param, self.before_param]
                ),
                "display": label,
            }

    def days(self, tz) -> tuple[date | None, date | None]:
        """The first and last calendar day selected, read in ``tz`` (quick choices depend on the zone's today)."""
        if self.preset is None:
            return self.after, self.before
        today = timezone.localdate(timezone=tz)
        if self.preset == "today":
            return today, today
        if self.preset == "last_7_days":
            return today - timedelta(days=6), today
        first = today.replace(day=1)
        return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)

    def condition(self, tz) -> Q:
        first, last = self.days(tz)
        query = Q()
        if first is not None:
            query &= Q(**{f"{self.field_name}__gte": datetime.combine(first, time.min, tzinfo=tz)})
        if last is not None:
            query &= Q(**{f"{self.field_name}__lt": datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)})
        return query

    def queryset(self, request, queryset):
        if not self.used_parameters:
            return queryset
        zones = visible_time_zones(request) or [timezone.get_default_timezone_name()]
        if len(zones) == 1:
            return queryset.filter(self.condition(ZoneInfo(zones[0])))
        per_zone = Q()
        for zone in zones:
            per_zone |= Q(merchant__time_zone=zone) & self.condition(ZoneInfo(zone))
        return queryset.filter(per_zone)


class OrderDateFilter(DateRangeFilter):
    title = "order date"
    field_name = "ordered_at"
    parameter_name = "order_date"


class PackDateFilter(DateRangeFilter):
    title = "pack date"
    field_name = "packed_at"
    parameter_name = "pack_date"


class ShipDateFilter(DateRangeFilter):
    title = "ship date"
    field_name = "shipped_at"
    parameter_name = "ship_date"


# -- services behind forms and actions ---------------------------------------------------------


def status_refusal(status_labels: dict[str, str]) -> Callable[[Exception], str]:
    """A refusal as a short phrase for an action's message: "is packed", "insufficient stock for TEE-RED-M"."""

    def reason(exc: Exception) -> str:
        if isinstance(exc, (DomainError, ApiError)):
            details = exc.details
            if exc.code == "transition_not_allowed":
                return f"is {status_labels.get(details['status'], details['status']).lower()}"
            if exc.code == "insufficient_stock":
                return "insufficient stock for " + ", ".join(str(line["sku"]) for line in details.get("lines", []))
            if exc.code == "unmapped_lines":
                return "unmapped SKUs: " + ", ".join(details.get("skus", []))
        return refusal_reason(exc)

    return reason


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["sku", "name", "product", "quantity", "unit_price", "discount", "tax_rate", "tax_amount", "hsn_code",
              "total", "returned_quantity"]  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product").order_by("id")


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    verbose_name = "event"
    verbose_name_plural = "timeline"
    fields = ["created_at", "kind", "from_status", "to_status", "actor", "message"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("id")


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=255, help_text="Recorded on each order and in its timeline, e.g. 'customer asked'."
    )


#: What the change form may edit, through order_update, while the order is in EDITABLE_STATUSES.
ORDER_FORM_FIELDS = ("notes", "weight_grams", "length_cm", "breadth_cm", "height_cm")
ORDER_STATUS_LABELS = dict(OrderStatus.choices)


@admin.register(Order)
class OrderAdmin(ChangelistExportMixin, ServiceAdmin):
    list_display = ["number", "ordered_at", "channel", "customer_name", "status", "payment_method", "total",
                    "packed_at", "shipped_at", "awb"]  # fmt: skip
    list_select_related = ["channel", "customer"]
    list_filter = [
        "status",
        ("channel", MerchantRelatedFilter),
        "payment_method",
        OrderDateFilter,
        PackDateFilter,
        ShipDateFilter,
    ]
    date_hierarchy = "ordered_at"
    # lines__sku is matched in get_search_results with EXISTS (exact SKU, any case): one row per order.
    search_fields = ["number", "channel_order_id", "customer__name", "customer__phone", "customer__email", "awb",
                     "lines__sku"]  # fmt: skip
    search_help_text = "Order number, channel order id, customer name, phone or email, AWB, or an exact SKU."
    show_full_result_count = False  # a second COUNT over every order of the merchant on each filtered page
    inlines = [OrderLineInline, OrderEventInline]
    actions = ["confirm_selected", "pack_selected", "cancel_selected", "export_selected"]
    fieldsets = [
        (None, {"fields": ["number", "status", "channel", "channel_order_id", "customer", "is_returning_customer",
                           "payment_method", "payment_status"]}),
        ("Addresses", {"fields": ["shipping_address_display", "billing_address_display"]}),
        ("Parcel", {"fields": ["pickup_location", "weight_grams", "length_cm", "breadth_cm", "height_cm"]}),
        ("Amounts", {"fields": ["subtotal", "discount_total", "shipping_charge", "tax_total", "total", "currency"]}),
        ("Shipping", {"fields": ["awb", "courier"]}),
        ("Dates", {"fields": ["ordered_at", "confirmed_at", "packed_at", "shipped_at", "delivered_at",
                              "cancelled_at", "cancel_reason", "created_at", "updated_at"]}),
        ("Notes", {"fields": ["notes"]}),
    ]  # fmt: skip

    def get_object(self, request, object_id, from_field=None):
        # ModelAdmin.get_object on a queryset joined to what the change page shows (one query, not four).
        field = self.opts.pk if from_field is None else self.opts.get_field(from_field)
        queryset = self.get_queryset(request).select_related("channel", "customer", "pickup_location")
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (Order.DoesNotExist, ValidationError, ValueError):
            return None

    def get_readonly_fields(self, request, obj=None):
        every = [name for _, options in self.fieldsets for name in options["fields"]]
        if obj is not None and obj.status in EDITABLE_STATUSES:
            return [name for name in every if name not in ORDER_FORM_FIELDS]
        return every

    def has_add_permission(self, request) -> bool:
        return False  # orders come from the API, channels and imports

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # orders are cancelled, never deleted

    @admin.display(description="customer", ordering="customer__name")
    def customer_name(self, obj: Order) -> str:
        return obj.customer.name

    @admin.display(description="shipping address")
    def shipping_address_display(self, obj: Order):
        return _address_html(obj.shipping_address)

    @admin.display(description="billing address")
    def billing_address_display(self, obj: Order):
        return _address_html(obj.billing_address)

    # -- search: SKUs through EXISTS, so an order with many matching lines is listed once ----------

    def get_search_results(self, request, queryset, search_term):
        fields = [name for name in self.get_search_fields(request) if name != "lines__sku"]
        terms = []
        for bit in smart_split(search_term):
            if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
                bit = unescape_string_literal(bit)
            matches = Q.create([(f"{name}__icontains", bit) for name in fields], connector=Q.OR)
            terms.append(matches | Exists(OrderLine.objects.filter(order=OuterRef("pk"), sku__iexact=bit)))
        return (queryset.filter(*terms) if terms else queryset), False

    # -- views in the merchant's time zone ----------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        return rendered_in_time_zone(request, lambda: super(OrderAdmin, self).changelist_view(request, extra_context))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(OrderAdmin, self).changeform_view(request, object_id, form_url, extra_context)
        )

    # -- saving through order_update --------------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in ORDER_FORM_FIELDS}
        if not data:
            return
        with self.refusals():
            saved = order_update(order=obj, data=data, actor=actor_of(request))
        adopt(obj, saved)

    # -- actions: the state machine, one order at a time -----------------------------------------

    def _run(self, request, queryset, verb: str, apply: Callable[[Order], object]) -> None:
        orders = list(queryset.order_by("pk"))  # primary-key order, as the services lock rows
        run_per_object(self, request, orders, ActionReport(verb, "order"), apply, status_refusal(ORDER_STATUS_LABELS))

    @admin.action(description="Confirm selected orders (reserve stock)", permissions=["change"])
    def confirm_selected(self, request, queryset):
        self._run(request, queryset, "Confirmed", lambda order: order_confirm(order=order, actor=actor_of(request)))

    @admin.action(description="Mark selected orders packed", permissions=["change"])
    def pack_selected(self, request, queryset):
        self._run(request, queryset, "Packed", lambda order: order_pack(order=order, actor=actor_of(request)))

    @admin.action(description="Cancel selected orders…", permissions=["change"])
    def cancel_selected(self, request, queryset):
        """An intermediate page asks for the reason (required), then order_cancel runs per order."""
        form = CancelForm(request.POST if "apply" in request.POST else None, prefix="cancel")
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._run(request, queryset, "Cancelled",
                      lambda order: order_cancel(order=order, reason=reason, actor=actor_of(request)))  # fmt: skip
            return None
        rows = queryset.order_by("pk")[:100]
        return action_form_page(self, request, form=form, title="Cancel orders", action="cancel_selected",
                                rows_name="orders", rows=rows, count=queryset.count())  # fmt: skip

    @admin.action(description="Export selected orders as CSV")
    def export_selected(self, request, queryset):
        return stream_csv(order_export_rows(queryset.order_by("pk")), f"orders-{timezone.localtime():%Y%m%d-%H%M}.csv")

    # -- CSV export of the filtered changelist ----------------------------------------------

    export_name = "orders"

    def export_rows(self, queryset):
        return order_export_rows(queryset)

    def export_queryset(self, request):
        with timezone.override(display_time_zone(request)):  # as the changelist read its date hierarchy
            return super().export_queryset(request)


def _address_html(address: dict | None):
    address = address or {}
    place = " ".join(part for part in (address.get("city"), address.get("state"), address.get("postcode")) if part)
    parts = [address.get("name"), address.get("phone"), address.get("line1"), address.get("line2"), place,
             address.get("country")]  # fmt: skip
    return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts if part)) or "-"


# -- channels --------------------------------------------------------------------------------------


@admin.register(Channel)
class ChannelAdmin(ServiceAdmin):
    list_display = ["name", "kind", "channel_id", "is_active", "is_default_api"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "channel_id"]
    conflict_fields = {"duplicate_channel": "name"}

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["merchant", "name", "kind", "is_active", "is_default_api"]
        return ["merchant", "channel_id", "name", "kind", "is_active", "is_default_api", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # channel_update does not move the default API channel: that is chosen when a channel is created.
        return ["merchant", "channel_id", "is_default_api", "created_at", "updated_at"]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        merchants = list(self.writable_merchants(request)[:2])
        if len(merchants) == 1:
            initial.setdefault("merchant", merchants[0].pk)
        return initial

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # orders keep their channel; deactivate it instead

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        with self.refusals():
            if change:
                changes = {name: data[name] for name in form.changed_data if name in ("name", "kind", "is_active")}
                saved = channel_update(channel=Channel.objects.get(pk=obj.pk), data=changes)
            else:
                saved = channel_create(merchant=data["merchant"], name=data["name"], kind=data["kind"],
                                       is_active=data["is_active"], is_default_api=data["is_default_api"])  # fmt: skip
        adopt(obj, saved)


# -- customers -------------------------------------------------------------------------------------


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    """Customers are matched and counted by the order services: read-only here."""

    list_display = ["name", "phone", "email", "orders_count", "total_spent", "first_order_at", "last_order_at"]
    search_fields = ["name", "phone", "email"]
    show_full_result_count = False
    fields = ["name", "phone", "email", "orders_count", "total_spent", "first_order_at", "last_order_at",
              "created_at", "updated_at"]  # fmt: skip
    readonly_fields = fields


# -- returns ---------------------------------------------------------------------------------------


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = ["sku", "name", "quantity"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line").order_by("id")

    @admin.display(description="SKU")
    def sku(self, obj: ReturnLine) -> str:
        return obj.order_line.sku

    @admin.display(description="name")
    def name(self, obj: ReturnLine) -> str:
        return obj.order_line.name


RETURN_STATUS_LABELS = dict(ReturnStatus.choices)


@admin.register(Return)
class ReturnAdmin(MerchantScopedAdmin):
    """Returns move only through the actions (return_transition); the change page only shows them."""

    list_display = ["number", "order", "status", "reason", "refund_amount", "created_at"]
    list_select_related = ["order"]
    list_filter = ["status"]
    search_fields = ["number", "order__number"]
    inlines = [ReturnLineInline]
    actions = ["approve_selected", "reject_selected", "receive_selected", "close_selected"]
    fields = ["number", "order", "status", "reason", "location", "refund_amount", "received_at", "created_at",
              "updated_at"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # requested through the API (POST /orders/{id}/return/)

    def has_change_permission(self, request, obj=None) -> bool:
        # Without an object: may the user run the actions. With one: the change page is view-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _run(self, request, queryset, verb: str, to_status: str) -> None:
        returns = list(queryset.order_by("pk"))
        run_per_object(self, request, returns, ActionReport(verb, "return"),
                       lambda ret: return_transition(return_request=ret, to_status=to_status,
                                                     actor=actor_of(request)),
                       status_refusal(RETURN_STATUS_LABELS))  # fmt: skip

    @admin.action(description="Approve selected returns", permissions=["change"])
    def approve_selected(self, request, queryset):
        self._run(request, queryset, "Approved", ReturnStatus.APPROVED)

    @admin.action(description="Reject selected returns", permissions=["change"])
    def reject_selected(self, request, queryset):
        self._run(request, queryset, "Rejected", ReturnStatus.REJECTED)

    @admin.action(description="Mark selected returns received (restocks)", permissions=["change"])
    def receive_selected(self, request, queryset):
        self._run(request, queryset, "Received", ReturnStatus.RECEIVED)

    @admin.action(description="Close selected returns", permissions=["change"])
    def close_selected(self, request, queryset):
        self._run(request, queryset, "Closed", ReturnStatus.CLOSED)


# -- file imports ----------------------------------------------------------------------------------


#: Row errors shown on a job's page; the error report has them all.
IMPORT_ERRORS_SHOWN = 200


class FirstRowsFormSet(BaseInlineFormSet):
    """The inline's first IMPORT_ERRORS_SHOWN rows (an inline queryset cannot be sliced before the formset
    filters it by the parent)."""

    def get_queryset(self):
        if not hasattr(self, "_first_rows"):
            self._first_rows = super().get_queryset()[:IMPORT_ERRORS_SHOWN]
        return self._first_rows


class ImportRowErrorInline(ReadOnlyInline):
    model = ImportRowError
    formset = FirstRowsFormSet
    verbose_name = "row error"
    verbose_name_plural = f"row errors (the first {IMPORT_ERRORS_SHOWN}; the error report has them all)"
    fields = ["row", "column", "value", "message"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("row", "id")


class ImportUploadForm(forms.Form):
    merchant = forms.ModelChoiceField(queryset=Merchant.objects.none())
    kind = forms.ChoiceField(choices=ImportKind.choices, help_text="What the file holds.")
    file = forms.FileField(help_text="CSV (UTF-8) or XLSX (the first sheet); the first line names the columns.")
    dry_run = forms.BooleanField(required=False, help_text="Check every row and write nothing.")
    error_policy = forms.ChoiceField(choices=ErrorPolicy.choices, initial=ErrorPolicy.REJECT_FILE,
                                     widget=forms.RadioSelect)  # fmt: skip

    def __init__(self, *args, merchants, **kwargs):
        super().__init__(*args, **kwargs)
        choices = list(merchants[:2])
        if len(choices) == 1:  # the usual case: the user's one merchant, not asked
            del self.fields["merchant"]
            self.merchant = choices[0]
        else:
            self.fields["merchant"].queryset = merchants
            self.merchant = None

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.API_MAX_UPLOAD_BYTES:
            raise ValidationError(f"The file is larger than the limit of {settings.API_MAX_UPLOAD_BYTES:,} bytes.")
        problem = import_file_problem(upload)
        if problem:
            raise ValidationError(problem)
        return upload


@admin.register(BulkImport)
class BulkImportAdmin(MerchantScopedAdmin):
    """File imports. "Upload file" (the add page) stores the file and queues the job; a job is never edited or
    deleted here. Its page shows progress and the first row errors; the error report (CSV) has them all."""

    list_display = ["id", "created_at", "kind", "status", "file_name", "progress", "created_count", "updated_count",
                    "skipped_count", "failed_count", "started_at", "finished_at", "error_report"]  # fmt: skip
    list_display_links = ["id", "file_name"]
    list_filter = ["kind", "status", "dry_run"]
    search_fields = ["file_name"]
    show_full_result_count = False
    inlines = [ImportRowErrorInline]
    fields = ["merchant", "kind", "status", "file_name", "dry_run", "error_policy", "progress", "created_count",
              "updated_count", "skipped_count", "failed_count", "error", "error_report", "created_by", "created_at",
              "started_at", "finished_at"]  # fmt: skip
    readonly_fields = fields

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        return [*shown[:2], "merchant", *shown[2:]] if request.user.is_superuser else shown

    def get_list_select_related(self, request):
        return ["merchant"] if request.user.is_superuser else False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a job is the record of what its worker did

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="progress")
    def progress(self, job: BulkImport) -> str:
        return f"{job.processed_rows:,}/{job.total_rows:,}"

    @admin.display(description="error report")
    def error_report(self, job: BulkImport):
        if not job.failed_count:
            return "-"
        url = reverse("admin:orders_bulkimport_errors", args=[job.pk])
        return format_html('<a href="{}">Download CSV ({} row{})</a>', url, job.failed_count,
                           "" if job.failed_count == 1 else "s")  # fmt: skip

    # -- URLs: the error report and the templates ------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/errors/", view(self.errors_view), name="orders_bulkimport_errors"),
            path("templates/<str:kind>/", view(self.template_view), name="orders_bulkimport_template"),
            *super().get_urls(),
        ]

    def errors_view(self, request, object_id: int):
        job = self.get_queryset(request).filter(pk=object_id).first()
        if job is None:
            raise Http404("No such import.")
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return stream_csv(import_error_rows(job), f"import-{job.pk}-errors.csv")

    def template_view(self, request, kind: str):
        if not self.has_view_permission(request):
            raise PermissionDenied
        if kind not in TEMPLATES:
            raise Http404("No such import kind.")
        columns, examples = TEMPLATES[kind]
        return stream_csv([columns, *examples], f"{kind}-import-template.csv")

    def template_links(self) -> list[tuple[str, str]]:
        return [(label, reverse("admin:orders_bulkimport_template", args=[kind])) for kind, label in ImportKind.choices]

    # -- the upload page (in place of the add form) ----------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None,
                                merchants=self.writable_merchants(request))  # fmt: skip
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            upload = data["file"]
            with transaction.atomic():
                job = import_create(merchant=form.merchant or data["merchant"], kind=data["kind"], upload=upload,
                                    file_name=upload.name, dry_run=data["dry_run"],
                                    error_policy=data["error_policy"], actor=actor_of(request))  # fmt: skip
                tasks.import_run.delay_on_commit(job.pk)
            job.refresh_from_db()  # without a broker the job has run by now
            self.message_user(request, f"Uploaded {job.file_name}: import {job.pk} is {job.get_status_display()}.",
                              messages.SUCCESS)  # fmt: skip
            return HttpResponseRedirect(reverse("admin:orders_bulkimport_change", args=[job.pk]))
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload a file to import",
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
            "template_links": self.template_links(),
            "has_view_permission": self.has_view_permission(request),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/orders/bulkimport/upload.html", context)

    # -- views in the merchant's time zone ------------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        extra_context = {"template_links": self.template_links(), **(extra_context or {})}
        return rendered_in_time_zone(
            request, lambda: super(BulkImportAdmin, self).changelist_view(request, extra_context)
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(BulkImportAdmin, self).changeform_view(request, object_id, form_url, extra_context)
        )

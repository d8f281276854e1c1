"""The orders page: the list with its filters and search, the change form (editable until the order ships), the
state machine's actions and the CSV export."""

from collections.abc import Callable
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from orders.admin.common import (
    MultiStatusFilter,
    OrderDateFilter,
    PackDateFilter,
    ShipDateFilter,
    TimelineInline,
    YesNoFilter,
    actor_of,
    date_filter_ordering,
    display_time_zone,
    rendered_in_time_zone,
    status_refusal,
    unquoted,
)
from orders.admin.extensions import order_admin_extensions
from orders.admin.payments import OrderPaymentInline
from orders.models import EDITABLE_STATUSES, Channel, Order, OrderEvent, OrderLine, OrderStatus
from orders.selectors import ORDER_TABS, customer_history, order_export_rows, order_search, order_tab_counts
from orders.services.orders import order_cancel, order_confirm, order_pack, order_update
from shopops.admin import (
    ActionReport,
    ChangelistExportMixin,
    MerchantRelatedFilter,
    ReadOnlyInline,
    ServiceAdmin,
    action_form_page,
    actor_names,
    adopt,
    member_roles,
    run_per_object,
)
from shopops.changelist import KeysetListMixin
from shopops.counting import COUNT_CAP
from shopops.csvexport import stream_csv
from shopops.money import format_money


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["sku", "name", "product", "quantity", "uqc", "unit_price", "discount", "tax_rate", "tax_amount",
              "hsn_code", "total", "returned_quantity"]  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product").order_by("id")


class OrderEventInline(TimelineInline):
    """The order's timeline in words; a channel's changes by the channel's name."""

    model = OrderEvent
    verbose_name_plural = "timeline"
    status_labels = dict(OrderStatus.choices)

    def names_for(self, obj, actors: list[str]) -> dict[str, str]:
        ids = [actor.removeprefix("channel:") for actor in actors if actor.startswith("channel:")]
        channels = Channel.objects.filter(merchant_id=obj.merchant_id, channel_id__in=ids) if ids else []
        return {**actor_names(actors), **{f"channel:{c.channel_id}": f"channel {c.name}" for c in channels}}


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=255, help_text="Recorded on each order and in its timeline, e.g. 'customer asked'."
    )


class OrderStatusFilter(MultiStatusFilter):
    choices_of = OrderStatus.choices


class HasAWBFilter(YesNoFilter):
    title = "AWB"
    parameter_name = "has_awb"
    condition = ~Q(awb="")
    yes_label = "Has an AWB"
    no_label = "No AWB yet"


#: What the change form may edit, through order_update, while the order is in EDITABLE_STATUSES.
ORDER_FORM_FIELDS = ("notes", "weight_grams", "length_cm", "breadth_cm", "height_cm", "eway_bill_number")
ORDER_STATUS_LABELS = dict(OrderStatus.choices)
#: Query-string parameters that do not choose a tab (page, ordering, search, errors, the merchant narrowed to).
TAB_NEUTRAL_PARAMS = ("p", "o", "q", "e", "cursor", "_changelist_filters", "merchant__id__exact")


@admin.register(Order)
class OrderAdmin(KeysetListMixin, ChangelistExportMixin, ServiceAdmin):
    list_display = ["number", "ordered_at", "channel", "customer_name", "status", "payment_method", "total_display",
                    "packed_at", "shipped_at", "awb"]  # fmt: skip
    list_select_related = ["channel", "customer"]
    list_filter = [
        OrderStatusFilter,
        HasAWBFilter,
        ("channel", MerchantRelatedFilter),
        "payment_method",
        "payment_status",
        OrderDateFilter,
        PackDateFilter,
        ShipDateFilter,
    ]
    # Every column a merchant can sort by is served by an index of (merchant, column, id); the others are not
    # sortable, so a sort never reads a million rows.
    sortable_by = ["number", "ordered_at", "total_display", "packed_at", "shipped_at"]
    # Searched by orders.selectors.order_search (each kind of term through its index), not by these LIKEs.
    search_fields = ["number", "channel_order_id", "awb", "lines__sku", "customer__phone", "customer__email",
                     "customer__name"]  # fmt: skip
    search_help_text = (
        "An order number, channel order id or AWB finds its order; otherwise an exact SKU, a customer's phone or "
        "email, or part of a customer's name."
    )
    inlines = [OrderLineInline, OrderEventInline, OrderPaymentInline]  # then other apps' (order_admin_extensions)
    #: The desk's own actions; ``actions`` adds those other apps register (order_admin_extensions).
    own_actions = ["confirm_selected", "pack_selected", "cancel_selected", "export_selected"]
    fieldsets = [
        (None, {"fields": ["number", "status", "channel", "channel_order_id", "customer", "customer_insight",
                           "payment_method", "payment_status"]}),
        ("Addresses", {"fields": ["shipping_address_display", "billing_address_display"]}),
        ("Parcel", {"fields": ["pickup_location", "weight_grams", "length_cm", "breadth_cm", "height_cm"]}),
        ("Amounts", {"fields": ["subtotal", "discount_total", "shipping_charge", "cod_charge", "total", "currency"]}),
        ("GST", {"fields": ["tax_total", "charges_tax_rate", "shipping_tax", "cod_tax", "lut_reference"]}),
        ("Shipping", {"fields": ["awb", "courier", "eway_bill_number"]}),
        ("Dates", {"fields": ["ordered_at", "confirmed_at", "packed_at", "shipped_at", "delivered_at",
                              "cancelled_at", "cancel_reason", "created_at", "updated_at"]}),
        ("Notes", {"fields": ["notes"]}),
    ]  # fmt: skip

    @property
    def actions(self) -> list:
        return [*self.own_actions, *order_admin_extensions.actions]

    def get_ordering(self, request):
        # Filtered by ship or pack date: newest first by that date (a column chosen by the merchant still wins).
        return date_filter_ordering(request, [ShipDateFilter, PackDateFilter]) or super().get_ordering(request)

    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), *order_admin_extensions.inlines]

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

    @admin.display(description="total", ordering="total")
    def total_display(self, obj: Order) -> str:
        return format_money(obj.total, obj.currency)

    @admin.display(description="customer's history")
    def customer_insight(self, obj: Order) -> str:
        """New or returning, with the customer's orders with this merchant (one query)."""
        history = customer_history(obj.customer)
        if history["orders"] <= 1:
            return "New customer: this is their first order."
        first = date_format(timezone.localtime(history["first_ordered_at"]), "DATE_FORMAT")
        return (
            f"Returning customer: {history['orders']} orders since {first}, {history['delivered']} delivered, "
            f"{history['rto']} returned to origin, {history['cancelled']} cancelled."
        )

    @admin.display(description="shipping address")
    def shipping_address_display(self, obj: Order):
        return _address_html(obj.shipping_address)

    @admin.display(description="billing address")
    def billing_address_display(self, obj: Order):
        return _address_html(obj.billing_address)

    # -- search: the whole term, by kind, each through an index (orders.selectors.order_search) ------

    def get_search_results(self, request, queryset, search_term):
        merchant_ids = None if request.user.is_superuser else list(member_roles(request))
        return order_search(queryset, unquoted(search_term), merchant_ids), False

    # -- views in the merchant's time zone ----------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "order_tabs": self.tabs(request)}
        return rendered_in_time_zone(request, lambda: super(OrderAdmin, self).changelist_view(request, extra_context))

    def tabs(self, request) -> list[dict]:
        """The working tabs with their counts (one query, capped and time-limited: orders.selectors.order_tab_counts)
        and links; the tab whose filter is the page's is current.
        The page's search and the merchant it is narrowed to carry over to every tab."""
        kept = {name: request.GET[name] for name in ("q", "merchant__id__exact") if request.GET.get(name)}
        filters = {name: value for name, value in request.GET.items() if name not in TAB_NEUTRAL_PARAMS}
        counts = order_tab_counts(self.get_queryset(request).filter(**{
            key: value for key, value in kept.items() if key == "merchant__id__exact"}))  # fmt: skip
        tabs = []
        for tab in ORDER_TABS:
            count = None if counts is None else counts[tab.key]
            tabs.append({"label": tab.label, "count": count, "count_text": _tab_count_text(count),
                         "current": filters == tab.params, "url": "?" + urlencode({**tab.params, **kept})})  # fmt: skip
        return tabs

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        order = self.get_object(request, object_id) if object_id else None
        if order is not None:
            extra_context = {**(extra_context or {}), "order_tools": self.tools(request, order)}
        return rendered_in_time_zone(
            request, lambda: super(OrderAdmin, self).changeform_view(request, object_id, form_url, extra_context)
        )

    def tools(self, request, order: Order) -> list[dict]:
        """The order page's buttons: the next steps of the order (for those who may change it), then what other
        apps add (ship, print, the AWB's shipment and tracking page). An action button runs the list's action on
        this order alone."""
        tools = []
        if self.has_change_permission(request, order):
            steps = {
                OrderStatus.NEW: [("Confirm", "confirm_selected")],
                OrderStatus.CONFIRMED: [("Pack", "pack_selected")],
            }
            tools += [{"label": label, "action": action} for label, action in steps.get(order.status, [])]
            if order.status in EDITABLE_STATUSES:
                tools.append({"label": "Cancel…", "action": "cancel_selected"})
        for extra in order_admin_extensions.tools:
            tools += [tool for tool in extra(request, order)
                      if "url" in tool or self.has_change_permission(request, order)]  # fmt: skip
        return tools

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


def _tab_count_text(count: int | None) -> str:
    if count is None:
        return ""  # not counted in time
    return f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"


def _address_html(address: dict | None):
    address = address or {}
    place = " ".join(part for part in (address.get("city"), address.get("state"), address.get("postcode")) if part)
    parts = [address.get("name"), address.get("phone"), address.get("line1"), address.get("line2"), place,
             address.get("country")]  # fmt: skip
    return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts if part)) or "-"

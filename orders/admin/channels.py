"""Sales channels and customers."""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from orders.admin.common import DateRangeFilter, unquoted
from orders.models import (
    Channel,
    ChannelHttpLog,
    ChannelPush,
    ChannelWebhookDelivery,
    ConnectionStatus,
    Customer,
    SkuMapping,
)
from orders.selectors import customer_search
from orders.services.channel_pushes import push_retry
from orders.services.channel_sync import channel_check
from orders.services.channel_webhooks import ORDER_TOPICS, channel_webhook_retry
from orders.services.channels import (
    CREDENTIAL_FIELDS,
    channel_create,
    channel_pause,
    channel_resume,
    channel_update,
)
from orders.services.sku_mappings import sku_mapping_set
from shopops.admin import MerchantRelatedFilter, MerchantScopedAdmin, ReadOnlyAdmin, ServiceAdmin, adopt, secret_field
from shopops.changelist import KeysetListMixin
from shopops.errors import DomainError

# -- channels --------------------------------------------------------------------------------------


#: Every credential of every store kind, as a password field of the form (its kind's are the ones kept).
ALL_CREDENTIALS = sorted({name for fields in CREDENTIAL_FIELDS.values() for name in fields})
CONNECTION_FORM_FIELDS = ["store_url", "marketplace_id", "pickup_location", "payment_mapping", "options"]


class ChannelForm(forms.ModelForm):
    """The channel, its connection, and one password field per credential: typed, never shown back; left blank on a
    change, the stored value stays."""

    class Meta:
        model = Channel
        fields = ["merchant", "name", "kind", "is_active", "is_default_api", *CONNECTION_FORM_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.instance.credentials if self.instance.pk else {}:
            field = self.fields.get(f"credential_{name}")
            if field is not None:
                field.help_text = f"{field.help_text[:-1]} (stored; leave blank to keep it)."

    def connection_data(self) -> dict:
        kind = self.cleaned_data.get("kind") or self.instance.kind
        data = {name: self.cleaned_data[name] for name in CONNECTION_FORM_FIELDS if name in self.cleaned_data}
        if "pickup_location" in data:
            data["pickup_location"] = data["pickup_location"].pk if data["pickup_location"] else None
        credentials = {
            name: self.cleaned_data.get(f"credential_{name}", "") for name in CREDENTIAL_FIELDS.get(kind, {})
        }
        if any(credentials.values()):
            data["credentials"] = {name: value for name, value in credentials.items() if value}
        return data


# The credential fields, declared on the form so the admin's fieldsets may name them.
for _name in ALL_CREDENTIALS:
    ChannelForm.base_fields[f"credential_{_name}"] = ChannelForm.declared_fields[f"credential_{_name}"] = (
        secret_field(_name, ", ".join(kind.title() for kind, names in CREDENTIAL_FIELDS.items() if _name in names)
                     + ".")
    )  # fmt: skip


@admin.register(Channel)
class ChannelAdmin(ServiceAdmin):
    """Where orders come from; a store's channel is also a connection: its credentials, its webhook address, how it
    fares (connected, failing since..., paused), and what its webhooks did."""

    form = ChannelForm
    list_display = ["name", "kind", "channel_id", "connection_badge", "last_synced_at", "is_active", "is_default_api",
                    "deliveries_link"]  # fmt: skip
    list_filter = ["kind", "connection_status", "is_active"]
    search_fields = ["name", "channel_id"]
    conflict_fields = {"duplicate_channel": "name"}
    actions = ["pause", "resume", "test_connection"]

    def get_fieldsets(self, request, obj=None):
        main = ["merchant", "name", "kind", "is_active", "is_default_api"] if obj is None else [
            "merchant", "channel_id", "name", "kind", "is_active", "is_default_api"]  # fmt: skip
        sections = [
            (None, {"fields": main}),
            ("Connection (Shopify, WooCommerce, Magento, Amazon)", {"fields": CONNECTION_FORM_FIELDS}),
            ("Credentials (stored encrypted; never shown again)",
             {"fields": ["stored_credentials", *[f"credential_{name}" for name in ALL_CREDENTIALS]]}),
        ]  # fmt: skip
        if obj is not None:
            sections += [
                ("Status", {"fields": ["connection_status", "status_message", "failing_since", "sync_cursor",
                                       "last_synced_at", "webhook_address"]}),
                ("Dates", {"fields": ["created_at", "updated_at"]}),
            ]  # fmt: skip
        return sections

    def get_readonly_fields(self, request, obj=None):
        shown = ["stored_credentials"]
        if obj is None:
            return shown
        # channel_update does not move the default API channel: that is chosen when a channel is created.
        return [*shown, "merchant", "channel_id", "is_default_api", "connection_status", "status_message",
                "failing_since", "sync_cursor", "last_synced_at", "webhook_address", "created_at",
                "updated_at"]  # fmt: skip

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        merchants = list(self.writable_merchants(request)[:2])
        if len(merchants) == 1:
            initial.setdefault("merchant", merchants[0].pk)
        return initial

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # orders keep their channel; deactivate it instead

    @admin.display(description="connection", ordering="connection_status")
    def connection_badge(self, channel) -> str:
        colour = {ConnectionStatus.CONNECTED: "#2e7d32", ConnectionStatus.FAILING: "#c62828",
                  ConnectionStatus.PAUSED: "#ef6c00"}.get(channel.connection_status, "#666")  # fmt: skip
        return format_html('<span style="color:{}" title="{}">{}</span>', colour, channel.status_message,
                           channel.get_connection_status_display())  # fmt: skip

    @admin.display(description="credentials stored")
    def stored_credentials(self, channel) -> str:
        return ", ".join(sorted(channel.credentials)) if channel.pk else "none yet"

    @admin.display(description="webhook address")
    def webhook_address(self, channel) -> str:
        if channel.kind not in ORDER_TOPICS:
            return "Shopify and WooCommerce channels receive order webhooks."
        address = reverse("channel-webhook", args=[channel.webhook_id])
        return format_html("<code>{}</code><br>Give this address to the store for its order webhooks, with the "
                           "channel's webhook secret.", address)  # fmt: skip

    @admin.display(description="webhooks")
    def deliveries_link(self, channel) -> str:
        if channel.kind not in ORDER_TOPICS:
            return "-"
        url = reverse("admin:orders_channelwebhookdelivery_changelist")
        return format_html('<a href="{}?channel__id__exact={}">deliveries</a>', url, channel.pk)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        with self.refusals():
            if change:
                changes = {name: data[name] for name in form.changed_data if name in ("name", "kind", "is_active")}
                saved = channel_update(
                    channel=Channel.objects.get(pk=obj.pk), data={**changes, **form.connection_data()}
                )
            else:
                saved = channel_create(merchant=data["merchant"], name=data["name"], kind=data["kind"],
                                       is_active=data["is_active"], is_default_api=data["is_default_api"],
                                       **form.connection_data())  # fmt: skip
        adopt(obj, saved)

    @admin.action(description="Pause taking orders in", permissions=["change"])
    def pause(self, request, queryset):
        for channel in queryset.order_by("pk"):
            channel_pause(channel=channel)
        self.message_user(request, f"Paused {queryset.count()} channel(s); their webhooks are stored meanwhile.")

    @admin.action(description="Resume taking orders in", permissions=["change"])
    def resume(self, request, queryset):
        for channel in queryset.order_by("pk"):
            channel_resume(channel=channel)
        self.message_user(request, f"Resumed {queryset.count()} channel(s).")

    @admin.action(description="Test connection", permissions=["change"])
    def test_connection(self, request, queryset):
        results = []
        for channel in queryset.order_by("pk"):
            try:
                checked = channel_check(channel)
            except DomainError as exc:
                results.append(f"{channel.name}: {exc.message}")
            else:
                results.append(f"{checked.name}: {checked.get_connection_status_display()}. {checked.status_message}")
        self.message_user(request, " ".join(results))


@admin.register(ChannelHttpLog)
class ChannelHttpLogAdmin(ReadOnlyAdmin):
    """Every HTTP exchange with a store (connection tests, pulls), for support: what was asked, what came back, how
    long it took. Bodies are stored redacted (credentials, tokens and secrets replaced); headers are not stored."""

    list_display = ["created_at", "channel", "operation", "method", "url", "status_code", "duration_ms", "attempt",
                    "error"]  # fmt: skip
    list_select_related = ["channel"]
    list_filter = ["channel__kind", "operation", "status_code"]
    search_fields = ["url"]
    search_help_text = "Part of the URL."
    show_full_result_count = False
    fields = ["created_at", "channel", "operation", "method", "url", "attempt", "status_code", "duration_ms", "error",
              "request_body", "response_body"]  # fmt: skip


@admin.register(ChannelWebhookDelivery)
class ChannelWebhookDeliveryAdmin(MerchantScopedAdmin):
    """Stores' order webhooks as received (the inbox), and what each did: the order created or updated, ignored,
    or why it failed; "Process again" after fixing the cause (a SKU, a location)."""

    list_display = ["received_at", "channel", "topic", "status", "order", "result", "attempts"]
    list_select_related = ["channel", "order"]
    list_filter = ["status", ("channel", MerchantRelatedFilter), "topic"]
    search_fields = ["=delivery_id", "=order__number"]
    show_full_result_count = False
    fields = ["received_at", "channel", "delivery_id", "topic", "status", "order", "result", "error", "attempts",
              "processed_at", "body"]  # fmt: skip
    readonly_fields = fields
    actions = ["process_again"]

    def has_add_permission(self, request) -> bool:
        return False  # stored by the webhook endpoint only

    def has_change_permission(self, request, obj=None) -> bool:
        # Without an object: may the user run "Process again". With one: the page is view-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Process again (failed ones)", permissions=["change"])
    def process_again(self, request, queryset):
        again = channel_webhook_retry(deliveries=queryset.filter(status=ChannelWebhookDelivery.Status.FAILED))
        self.message_user(request, f"Sent {again} failed delivery(ies) to be processed again.")


@admin.register(ChannelPush)
class ChannelPushAdmin(MerchantScopedAdmin):
    """What ShopOps told the stores (the outbox): fulfilments with their tracking, stock levels; pending ones with
    their next attempt, failed ones with the store's reason; "Send again" after fixing the cause."""

    list_display = ["created_at", "channel", "kind", "order", "summary", "status", "attempts", "next_attempt_at",
                    "last_error"]  # fmt: skip
    list_select_related = ["channel", "order"]
    list_filter = ["status", "kind", ("channel", MerchantRelatedFilter)]
    search_fields = ["=order__number", "key"]
    show_full_result_count = False
    fields = ["created_at", "channel", "kind", "order", "mapping", "data", "known", "status", "attempts",
              "next_attempt_at", "last_error", "sent_at"]  # fmt: skip
    readonly_fields = fields
    actions = ["send_again"]

    def has_add_permission(self, request) -> bool:
        return False  # written by the services with the change they report

    def has_change_permission(self, request, obj=None) -> bool:
        # Without an object: may the user run "Send again". With one: the page is view-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="what")
    def summary(self, push: ChannelPush) -> str:
        data = push.data or {}
        if push.kind == ChannelPush.Kind.STOCK:
            return f"{data.get('sku')}: {data.get('quantity')} available"
        return f"AWB {data.get('awb')} with {data.get('courier_name')}"

    @admin.action(description="Send again (failed ones)", permissions=["change"])
    def send_again(self, request, queryset):
        again = push_retry(pushes=queryset)
        self.message_user(request, f"Sent {again} failed push(es) again.")


@admin.register(SkuMapping)
class SkuMappingAdmin(ServiceAdmin):
    """A channel's SKUs for the merchant's products; saving one maps the lines waiting for it."""

    list_display = ["channel_sku", "channel", "product"]
    list_select_related = ["channel", "product"]
    list_filter = [("channel", MerchantRelatedFilter)]
    search_fields = ["channel_sku", "product__sku"]
    fields = ["merchant", "channel", "channel_sku", "product"]
    autocomplete_fields = ["product"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        with self.refusals():
            result = sku_mapping_set(merchant=data["merchant"], channel=data["channel"],
                                     channel_sku=data["channel_sku"], sku=data["product"].sku,
                                     actor=f"user:{request.user.pk}")  # fmt: skip
        adopt(obj, result.mapping)
        if result.orders_mapped:
            self.message_user(request, f"Mapped the waiting lines of {result.orders_mapped} order(s).")


# -- customers -------------------------------------------------------------------------------------


class LastOrderDateFilter(DateRangeFilter):
    title = "last order"
    field_name = "last_order_at"
    parameter_name = "last_order"


@admin.register(Customer)
class CustomerAdmin(KeysetListMixin, ReadOnlyAdmin):
    """Customers are matched and counted by the order services: read-only here.

    The list holds a million customers per merchant: keyset pages, most recent buyers first, through the
    (merchant, last_order_at, id) index and, on PostgreSQL, its descending nulls-last twins (migration 0022)."""

    list_display = ["name", "phone", "email", "orders_count", "total_spent", "first_order_at", "last_order_at"]
    list_filter = [LastOrderDateFilter]
    ordering = ["-last_order_at", "-id"]
    # Only the last order's time has an index of (merchant, column, id); sorting by another column would read every
    # customer of the merchant.
    sortable_by = ["last_order_at"]
    # Searched by orders.selectors.customer_search (each kind of term through its index), not by these LIKEs.
    search_fields = ["name", "phone", "email"]
    search_help_text = "An email or a phone number finds its customer exactly; otherwise part of a customer's name."
    fields = ["name", "phone", "email", "orders_count", "total_spent", "first_order_at", "last_order_at",
              "created_at", "updated_at"]  # fmt: skip
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        return customer_search(queryset, unquoted(search_term)), False

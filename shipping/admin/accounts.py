"""Courier accounts: connecting Shiprocket, Delhivery and EasyPost (credentials typed once, stored encrypted, never
shown again), their health and circuit, "Test connection", the HTTP log for support, and the services' webhooks as
received."""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from orders.admin.common import rendered_in_time_zone
from shipping.errors import DUPLICATE_COURIER_ACCOUNT
from shipping.models import AccountHealth, CourierAccount, CourierHttpLog, CourierWebhookDelivery
from shipping.services.accounts import (
    CREDENTIAL_FIELDS,
    OPTION_FIELDS,
    courier_account_check,
    courier_account_create,
    courier_account_update,
)
from shopops.admin import ReadOnlyAdmin, ReadOnlyInline, ServiceAdmin, adopt, secret_field

#: Every credential of every service, as a password field of the form (its service's are the ones kept).
ALL_CREDENTIALS = sorted({name for fields in CREDENTIAL_FIELDS.values() for name in fields})
ALL_OPTIONS = sorted({name for names in OPTION_FIELDS.values() for name in names})


def _services_with(name: str, table) -> str:
    return ", ".join(service.title() for service, names in table.items() if name in names)


def _credential_field(name: str) -> forms.CharField:
    return secret_field(name, f"{_services_with(name, CREDENTIAL_FIELDS)}.")


def _option_field(name: str) -> forms.CharField:
    return forms.CharField(label=name.replace("_", " "), required=False, max_length=200,
                           help_text=f"{_services_with(name, OPTION_FIELDS)}; not secret.")  # fmt: skip


class CourierAccountForm(forms.ModelForm):
    """The account's settings, with one password field per credential: typed, never shown back; left blank on a
    change, the stored value stays."""

    class Meta:
        model = CourierAccount
        fields = ["merchant", "name", "service", "environment", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.credentials if self.instance.pk else {}
        for name in stored:
            field = self.fields.get(f"credential_{name}")
            if field is not None:
                field.help_text = f"{field.help_text[:-1]} (stored; leave blank to keep it)."
        options = self.instance.options if self.instance.pk else {}
        for name, value in options.items():
            if f"option_{name}" in self.fields:
                self.fields[f"option_{name}"].initial = ", ".join(value) if isinstance(value, list) else value
        if self.instance.pk and "service" in self.fields:
            self.fields["service"].disabled = True

    def service_data(self) -> dict:
        service = self.cleaned_data.get("service") or self.instance.service
        credentials = {name: self.cleaned_data.get(f"credential_{name}", "") for name in CREDENTIAL_FIELDS[service]}
        options = {name: self.cleaned_data.get(f"option_{name}", "").strip() for name in OPTION_FIELDS[service]}
        if "carrier_accounts" in options:
            options["carrier_accounts"] = [a.strip() for a in options["carrier_accounts"].split(",") if a.strip()]
        data = {name: self.cleaned_data[name] for name in ("name", "environment", "is_active")
                if name in self.cleaned_data}  # fmt: skip
        return {**data, "credentials": {k: v for k, v in credentials.items() if v}, "options": options}


# The credential and option fields, declared on the form so the admin's fieldsets may name them.
for _name in ALL_CREDENTIALS:
    CourierAccountForm.base_fields[f"credential_{_name}"] = CourierAccountForm.declared_fields[
        f"credential_{_name}"
    ] = _credential_field(_name)
for _name in ALL_OPTIONS:
    CourierAccountForm.base_fields[f"option_{_name}"] = CourierAccountForm.declared_fields[f"option_{_name}"] = (
        _option_field(_name)
    )


@admin.register(CourierAccount)
class CourierAccountAdmin(ServiceAdmin):
    """A merchant's connections to courier services: their health (connected, failing since..., credentials
    rejected), whether calls are paused (circuit open), and the link to their HTTP log."""

    form = CourierAccountForm
    list_display = ["name", "service", "environment", "health_badge", "failing_since", "circuit", "last_checked_at",
                    "is_active", "log_link"]  # fmt: skip
    list_filter = ["service", "environment", "health", "is_active"]
    search_fields = ["name"]
    readonly_fields = ["health", "health_message", "failing_since", "last_checked_at", "circuit", "stored_credentials",
                       "webhook_address", "created_at", "updated_at"]  # fmt: skip
    actions = ["test_connection"]
    conflict_fields = {DUPLICATE_COURIER_ACCOUNT.code: "name"}

    def get_fieldsets(self, request, obj=None):
        form_fields = [f"credential_{name}" for name in ALL_CREDENTIALS]
        options = [f"option_{name}" for name in ALL_OPTIONS]
        return [
            (None, {"fields": ["merchant", "name", "service", "environment", "is_active"]}),
            ("Credentials (stored encrypted; never shown again)", {"fields": ["stored_credentials", *form_fields]}),
            ("Options", {"fields": options}),
            ("Health", {"fields": ["health", "health_message", "failing_since", "last_checked_at", "circuit"]}),
            ("Webhooks", {"fields": ["webhook_address"]}),
            ("Dates", {"fields": ["created_at", "updated_at"]}),
        ]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # couriers and their shipments refer to accounts: deactivate them

    @admin.display(description="health", ordering="health")
    def health_badge(self, account) -> str:
        colour = {AccountHealth.CONNECTED: "#2e7d32", AccountHealth.FAILING: "#c62828",
                  AccountHealth.REJECTED: "#c62828"}.get(account.health, "#666")  # fmt: skip
        return format_html('<span style="color:{}" title="{}">{}</span>', colour, account.health_message,
                           account.get_health_display())  # fmt: skip

    @admin.display(description="calls")
    def circuit(self, account) -> str:
        if account.circuit_open_until and account.circuit_open_until > timezone.now():
            return f"paused until {timezone.localtime(account.circuit_open_until):%H:%M:%S} (circuit open)"
        return "flowing"

    @admin.display(description="credentials stored")
    def stored_credentials(self, account) -> str:
        return ", ".join(sorted(account.credentials)) or "none"

    @admin.display(description="webhook address")
    def webhook_address(self, account) -> str:
        if not account.pk:
            return "shown once the account is saved"
        return format_html("<code>{}</code><br>Give this address to the service for its tracking webhooks.",
                           reverse("courier-account-webhook", args=[account.webhook_id]))  # fmt: skip

    @admin.display(description="HTTP log")
    def log_link(self, account) -> str:
        url = reverse("admin:shipping_courierhttplog_changelist")
        return format_html('<a href="{}?account__id__exact={}">calls</a>', url, account.pk)

    def save_model(self, request, obj, form, change):
        data = form.service_data()
        with self.refusals():
            if change:
                saved = courier_account_update(account=CourierAccount.objects.get(pk=obj.pk), data=data)
            else:
                saved = courier_account_create(merchant=form.cleaned_data["merchant"],
                                               service=form.cleaned_data["service"], data=data)  # fmt: skip
        adopt(obj, saved)

    @admin.action(description="Test connection", permissions=["change"])
    def test_connection(self, request, queryset):
        for account in queryset.order_by("pk"):
            if not self.has_change_permission(request, account):
                continue
            checked = courier_account_check(account=account)
            level = messages.SUCCESS if checked.health == AccountHealth.CONNECTED else messages.ERROR
            self.message_user(request, f"{checked.name}: {checked.get_health_display()}. {checked.health_message}",
                              level)  # fmt: skip


@admin.register(CourierHttpLog)
class CourierHttpLogAdmin(ReadOnlyAdmin):
    """Every HTTP exchange with a courier service, for support: what was asked, what came back, how long it took.
    Bodies are stored redacted (credentials, tokens and secrets replaced)."""

    list_display = ["created_at", "account", "operation", "method", "url", "status_code", "duration_ms", "attempt",
                    "reference", "error"]  # fmt: skip
    list_select_related = ["account"]
    list_filter = ["account__service", "operation", "method", "status_code"]
    search_fields = ["=reference", "url"]
    search_help_text = "Our reference (order number, AWB) exactly, or part of the URL."
    show_full_result_count = False
    fields = ["created_at", "account", "call", "operation", "reference", "method", "url", "attempt", "status_code",
              "duration_ms", "error", "request_body", "response_body"]  # fmt: skip
    readonly_fields = fields

    def changelist_view(self, request, extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(CourierHttpLogAdmin, self).changelist_view(request, extra_context)
        )


class CourierHttpLogInline(ReadOnlyInline):
    """The HTTP exchanges of one courier call."""

    model = CourierHttpLog
    fields = ["created_at", "method", "url", "attempt", "status_code", "duration_ms", "error"]
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = "HTTP exchanges"


@admin.register(CourierWebhookDelivery)
class CourierWebhookDeliveryAdmin(ReadOnlyAdmin):
    """The courier services' webhook requests as received (verified first), and what applying them did."""

    list_display = ["received_at", "account", "delivery_id", "status", "result", "error", "processed_at"]
    list_select_related = ["account"]
    list_filter = ["status", "account__service"]
    search_fields = ["=delivery_id"]
    fields = ["received_at", "account", "delivery_id", "status", "attempts", "result", "error", "processed_at",
              "body"]  # fmt: skip
    readonly_fields = fields

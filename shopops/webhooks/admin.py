"""The merchant dashboard's webhooks: endpoints (the secret shown once on creation and rotation) and the delivery
log with its attempts and a resend action. Registered by ``shopops.admin``."""

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html

from shopops.admin import (
    ActionReport,
    MerchantRelatedFilter,
    MerchantScopedAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceAdmin,
    adopt,
    refusal_reason,
    run_per_object,
)
from shopops.models import ADMIN_ROLES
from shopops.webhooks import services
from shopops.webhooks.models import (
    ALL_EVENTS,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)

EVENT_CHOICES = [(ALL_EVENTS, "All events (*)"),
                 *((value, f"{label} ({value})") for value, label in WebhookEventType.choices
                   if value != WebhookEventType.PING)]  # fmt: skip
ENDPOINT_FIELDS = ("url", "description", "events", "is_enabled")


def actor_of(request) -> str:
    return f"user:{request.user.pk}"


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple,
                                       help_text="What this endpoint receives.")  # fmt: skip

    class Meta:
        model = WebhookEndpoint
        fields = ["merchant", *ENDPOINT_FIELDS]


class FailingFilter(admin.SimpleListFilter):
    title = "delivery health"
    parameter_name = "failing"

    def lookups(self, request, model_admin):
        return [("yes", "Failing"), ("no", "Healthy")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(failing_since__isnull=self.value() == "no")
        return queryset


def _secret_message(endpoint: WebhookEndpoint, secret: str) -> str:
    return format_html("The signing secret of {} is <code>{}</code>. Copy it now: it is not shown again.",
                       endpoint.url, secret)  # fmt: skip


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ServiceAdmin):
    """Where the merchant's events are posted. Owners and managers manage them."""

    write_roles = ADMIN_ROLES
    form = WebhookEndpointForm
    list_display = ["url", "description", "event_list", "is_enabled", "health", "log_link", "created_at"]
    list_filter = ["is_enabled", FailingFilter]
    search_fields = ["url", "description"]
    actions = ["send_test_ping", "rotate_secrets", "enable_selected", "disable_selected"]

    def get_fields(self, request, obj=None):
        fields = ["merchant", *ENDPOINT_FIELDS]
        return fields if obj is None else [*fields, "secret_state", "health", "log_link", "created_by", "created_at",
                                           "updated_at"]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if obj is None else [*readonly, "secret_state", "health", "log_link", "created_by",
                                             "created_at", "updated_at"]  # fmt: skip

    @admin.display(description="events")
    def event_list(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.events)

    @admin.display(description="health", ordering="failing_since")
    def health(self, endpoint: WebhookEndpoint):
        if endpoint.failing_since is None:
            return "Healthy"
        return format_html('<strong style="color:#ba2121">Failing since {}</strong>',
                           endpoint.failing_since.strftime("%Y-%m-%d %H:%M %Z"))  # fmt: skip

    @admin.display(description="secret")
    def secret_state(self, endpoint: WebhookEndpoint) -> str:
        text = 'Set (shown only when created or rotated; use the "Rotate signing secrets" action for a new one)'
        if endpoint.previous_secret and endpoint.previous_secret_expires_at:
            text += f"; the previous secret also signs until {endpoint.previous_secret_expires_at:%Y-%m-%d %H:%M}"
        return text

    @admin.display(description="delivery log")
    def log_link(self, endpoint: WebhookEndpoint):
        url = reverse("admin:shopops_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">Deliveries</a>', url, endpoint.pk)

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in ENDPOINT_FIELDS if name in form.cleaned_data}
        with self.refusals():
            if change:
                changed = {name: data[name] for name in form.changed_data if name in data}
                saved = services.endpoint_update(endpoint=WebhookEndpoint.objects.get(pk=obj.pk), data=changed)
            else:
                created = services.endpoint_create(merchant=form.cleaned_data["merchant"], actor=actor_of(request),
                                                   **data)  # fmt: skip
                saved = created.endpoint
                self.message_user(request, _secret_message(saved, created.secret), messages.WARNING)
        adopt(obj, saved)

    def delete_model(self, request, obj):
        services.endpoint_delete(endpoint=obj)

    @admin.action(description="Send a test ping", permissions=["change"])
    def send_test_ping(self, request, queryset):
        run_per_object(self, request, list(queryset.order_by("pk")), ActionReport("Sent a ping to", "endpoint"),
                       lambda endpoint: services.endpoint_ping(endpoint=endpoint), refusal_reason)  # fmt: skip

    @admin.action(description="Rotate signing secrets (the old one signs for 24 more hours)", permissions=["change"])
    def rotate_secrets(self, request, queryset):
        for endpoint in queryset.order_by("pk"):
            if self.has_change_permission(request, endpoint):
                rotated = services.endpoint_rotate_secret(endpoint=endpoint)
                self.message_user(request, _secret_message(rotated.endpoint, rotated.secret), messages.WARNING)

    @admin.action(description="Enable selected endpoints", permissions=["change"])
    def enable_selected(self, request, queryset):
        run_per_object(self, request, list(queryset.order_by("pk")), ActionReport("Enabled", "endpoint"),
                       lambda e: services.endpoint_update(endpoint=e, data={"is_enabled": True}),
                       refusal_reason)  # fmt: skip

    @admin.action(description="Disable selected endpoints", permissions=["change"])
    def disable_selected(self, request, queryset):
        run_per_object(self, request, list(queryset.order_by("pk")), ActionReport("Disabled", "endpoint"),
                       lambda e: services.endpoint_update(endpoint=e, data={"is_enabled": False}),
                       refusal_reason)  # fmt: skip


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["number", "started_at", "duration_ms", "response_status", "error", "response_body", "request_headers"]
    readonly_fields = fields
    ordering = ["number"]
    verbose_name_plural = "attempts"


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """The delivery log: each event sent to each endpoint, its attempts, and a resend action."""

    list_display = ["id", "event_type", "endpoint", "object_key", "status", "attempt_count", "last_response_status",
                    "next_attempt", "created_at"]  # fmt: skip
    list_select_related = ["endpoint"]
    list_filter = ["status", "event_type", ("endpoint", MerchantRelatedFilter)]
    search_fields = ["event_id", "object_key"]
    actions = ["resend_selected"]
    inlines = [WebhookAttemptInline]
    fields = ["endpoint", "event_id", "event_type", "object_key", "status", "attempt_count", "next_attempt",
              "last_response_status", "last_error", "delivered_at", "failed_at", "resent_from", "created_at",
              "body"]  # fmt: skip
    readonly_fields = fields

    def get_base_queryset(self, request) -> QuerySet:
        return super().get_base_queryset(request).select_related("endpoint")

    def has_resend_permission(self, request) -> bool:
        return MerchantScopedAdmin.has_change_permission(self, request)

    @admin.display(description="next attempt", ordering="next_attempt_at")
    def next_attempt(self, delivery: WebhookDelivery):
        return delivery.next_attempt_at if delivery.status == DeliveryStatus.PENDING else "-"

    @admin.display(description="request body")
    def body(self, delivery: WebhookDelivery):
        pretty = json.dumps(json.loads(services.event_body(delivery)), indent=2)
        return format_html('<pre style="white-space:pre-wrap">{}</pre>', pretty)

    @admin.action(description="Resend selected deliveries", permissions=["resend"])
    def resend_selected(self, request, queryset):
        deliveries = list(queryset.order_by("pk"))
        run_per_object(self, request, deliveries, ActionReport("Queued again", "delivery"),
                       lambda delivery: services.delivery_resend(delivery=delivery), refusal_reason)  # fmt: skip

"""Payments at the gateways: the merchant's gateway accounts (credentials typed once, stored encrypted, never shown
again; the webhook address to paste into the gateway's dashboard), the payments their webhooks reported with the
unmatched ones matched to an order by hand, and the events as received. Payments and events are only read here:
the webhooks write them (orders.services.payments)."""

import re

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html

from orders.admin.common import YesNoFilter, actor_of, rendered_in_time_zone, unquoted
from orders.models import GatewayConnection, Order, Payment, PaymentEvent, PaymentGateway
from orders.services.payments import GATEWAY_CREDENTIALS, gateway_connection_save, gateway_module, payment_link
from shopops.admin import (
    ActionReport,
    MerchantRelatedFilter,
    MerchantScopedAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceAdmin,
    action_form_page,
    adopt,
    json_block,
    refusal_reason,
    run_per_object,
    secret_field,
)
from shopops.changelist import KeysetListMixin
from shopops.errors import DomainError
from shopops.money import format_money
from shopops.public_urls import public_url

GATEWAY_LABELS = dict(PaymentGateway.choices)
#: Every credential of every gateway, as a field of the form (its gateway's are the ones kept); all but key_id secret.
ALL_CREDENTIALS = sorted({name for fields in GATEWAY_CREDENTIALS.values() for name in fields})
#: The credentials not secret: typed, and shown back.
PLAIN_CREDENTIALS = {"key_id"}
WEBHOOK_CREDENTIALS = ["webhook_secret", "previous_webhook_secret"]
CREDENTIAL_HELP = {
    "key_id": "The API key's ID (rzp_live_... or rzp_test_...)",
    "key_secret": "The API key's secret",
    "secret_key": "The secret API key (sk_live_... or sk_test_...)",
    "webhook_secret": "The secret the gateway signs this address's webhooks with (Stripe: whsec_...)",
    "previous_webhook_secret": "While changing the webhook secret, the old one: webhooks signed with either are taken",
}


def _gateways_with(name: str) -> str:
    return ", ".join(str(GATEWAY_LABELS[gateway]) for gateway, names in GATEWAY_CREDENTIALS.items() if name in names)


def _credential_field(name: str) -> forms.CharField:
    help_text = f"{CREDENTIAL_HELP[name]}. {_gateways_with(name)}."
    if name in PLAIN_CREDENTIALS:
        return forms.CharField(label=name.replace("_", " ").replace(" id", " ID"), required=False, max_length=200,
                               help_text=f"{help_text[:-1]}; not secret.")  # fmt: skip
    return secret_field(name, help_text)


# -- gateway connections ----------------------------------------------------------------------------------------


class GatewayConnectionForm(forms.ModelForm):
    """The connection, with one field per credential: the secret ones typed, never shown back, and left blank on a
    change to keep the stored value; the key ID shown (it is not secret)."""

    class Meta:
        model = GatewayConnection
        fields = ["merchant", "name", "gateway", "is_live", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.credentials if self.instance.pk else {}
        for name in stored:
            field = self.fields.get(f"credential_{name}")
            if field is None:
                continue
            if name in PLAIN_CREDENTIALS:
                field.initial = stored[name]
            else:
                field.help_text = f"{field.help_text[:-1]} (stored; leave blank to keep it)."
        if self.instance.pk and "gateway" in self.fields:
            self.fields["gateway"].disabled = True  # its payments and webhooks are that gateway's

    def clean(self):
        cleaned = super().clean()
        gateway = cleaned.get("gateway") or self.instance.gateway
        for name in ALL_CREDENTIALS:
            if gateway in GATEWAY_CREDENTIALS and cleaned.get(f"credential_{name}") and (
                    name not in GATEWAY_CREDENTIALS[gateway]):  # fmt: skip
                self.add_error(f"credential_{name}", f"{GATEWAY_LABELS[gateway]} has no {name.replace('_', ' ')}; "
                                                     f"that is {_gateways_with(name)}'s.")  # fmt: skip
        return cleaned

    def connection_data(self) -> dict:
        gateway = self.cleaned_data.get("gateway") or self.instance.gateway
        data = {name: self.cleaned_data[name] for name in ("name", "gateway", "is_live", "is_active")
                if name in self.cleaned_data}  # fmt: skip
        credentials = {name: self.cleaned_data.get(f"credential_{name}", "") for name in GATEWAY_CREDENTIALS[gateway]}
        return {**data, "credentials": {name: value for name, value in credentials.items() if value}}


# The credential fields, declared on the form so the admin's fieldsets may name them.
for _name in ALL_CREDENTIALS:
    GatewayConnectionForm.base_fields[f"credential_{_name}"] = GatewayConnectionForm.declared_fields[
        f"credential_{_name}"
    ] = _credential_field(_name)


@admin.register(GatewayConnection)
class GatewayConnectionAdmin(ServiceAdmin):
    """A merchant's Razorpay and Stripe accounts: their credentials (stored encrypted, never shown again) and the
    webhook address each gateway sends its payment and refund events to."""

    form = GatewayConnectionForm
    list_display = ["name", "gateway", "is_live", "is_active", "stored_credentials", "events_link", "created_at"]
    list_filter = ["gateway", "is_live", "is_active"]
    search_fields = ["name"]
    readonly_fields = ["stored_credentials", "webhook_address", "created_at", "updated_at"]

    def get_fieldsets(self, request, obj=None):
        keys = [f"credential_{name}" for name in ALL_CREDENTIALS if name not in WEBHOOK_CREDENTIALS]
        sections = [
            (None, {"fields": ["merchant", "name", "gateway", "is_live", "is_active"]}),
            ("API keys (stored encrypted; secrets never shown again)", {"fields": ["stored_credentials", *keys]}),
            ("Webhooks", {"fields": ["webhook_address", *[f"credential_{name}" for name in WEBHOOK_CREDENTIALS]]}),
        ]
        if obj is not None:
            sections.append(("Dates", {"fields": ["created_at", "updated_at"]}))
        return sections

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # its payments refer to it: deactivate it instead

    @admin.display(description="credentials stored")
    def stored_credentials(self, connection) -> str:
        return ", ".join(sorted(connection.credentials)) if connection.pk and connection.credentials else "none yet"

    @admin.display(description="webhook address")
    def webhook_address(self, connection) -> str:
        if not connection.pk:
            return "Shown once the gateway is saved."
        events = ", ".join(sorted(gateway_module(connection.gateway).EVENTS))
        return format_html(
            "<code>{}</code><br>Paste this address into {}'s dashboard as the webhook URL, with the events {}; then "
            "set here the webhook secret it signs them with.",
            public_url(connection.webhook_path), connection.get_gateway_display(), events,
        )  # fmt: skip

    @admin.display(description="events")
    def events_link(self, connection) -> str:
        url = reverse("admin:orders_paymentevent_changelist")
        return format_html('<a href="{}?connection__id__exact={}">events</a>', url, connection.pk)

    def save_model(self, request, obj, form, change):
        merchant = obj.merchant if change else form.cleaned_data["merchant"]
        with self.refusals():
            saved = gateway_connection_save(merchant=merchant, data=form.connection_data(),
                                            connection=obj if change else None)  # fmt: skip
        adopt(obj, saved)


# -- payments ---------------------------------------------------------------------------------------------------


def payment_change_link(payment: Payment | None) -> str:
    if payment is None:
        return "–"
    return format_html('<a href="{}">{}</a>', reverse("admin:orders_payment_change", args=[payment.pk]),
                       payment.payment_id)  # fmt: skip


class PaymentColumns:
    """The columns a payment is shown with, in the list and on the order's page."""

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, payment: Payment) -> str:
        return format_money(payment.amount, payment.currency)

    @admin.display(description="refunded")
    def refunded_display(self, payment: Payment) -> str:
        return format_money(payment.amount_refunded, payment.currency)


class MatchedFilter(YesNoFilter):
    title = "matched to an order"
    parameter_name = "matched"
    yes_label = "Matched"
    no_label = "Unmatched"

    def queryset(self, request, queryset):
        # order IS NULL as such, for the index of unmatched payments
        if self.value() in ("yes", "no"):
            return queryset.filter(order__isnull=self.value() == "no")
        return queryset


class PaymentEventInline(ReadOnlyInline):
    model = PaymentEvent
    verbose_name_plural = "events"
    fields = ["event_id", "event_type", "outcome", "received_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("received_at", "id")  # newest last


class MatchForm(forms.Form):
    number = forms.CharField(label="order number", max_length=32,
                             help_text="The ShopOps order the payments pay for, e.g. SO-000123.")  # fmt: skip

    def clean_number(self) -> str:
        return unquoted(self.cleaned_data["number"])


def match_refusal(exc: Exception) -> str:
    """payment_link's refusal as a phrase after the payment's id: "is already matched to an order"."""
    reason = refusal_reason(exc)
    return re.sub(r"^Payment \S+ ", "", reason) if isinstance(exc, DomainError) else reason


@admin.register(Payment)
class PaymentAdmin(KeysetListMixin, PaymentColumns, MerchantScopedAdmin):
    """The payments the gateways reported, newest first; the unmatched ones (no order named, or one the merchant
    does not have) are matched to an order here. Otherwise read-only: the gateways' events move them."""

    list_display = ["payment_id", "order_link", "connection", "status", "method", "amount_display",
                    "refunded_display", "reference", "last_event_at"]  # fmt: skip
    list_select_related = ["order", "connection"]
    list_filter = ["status", "gateway", MatchedFilter]
    # The list is paged by (created, id), which an index of (merchant, created_at, id) serves; no column is.
    sortable_by = []
    # Searched exactly (get_search_results), not by these LIKEs.
    search_fields = ["payment_id", "gateway_order_id", "reference"]
    search_help_text = ("A gateway payment ID (pay_..., pi_...), a gateway order ID (order_..., cs_...) or the order "
                        "reference the payment carries, exactly.")  # fmt: skip
    fields = ["payment_id", "connection", "gateway", "order_link", "status", "method", "amount_display",
              "refunded_display", "gateway_order_id", "reference", "last_event_at", "created_at",
              "updated_at"]  # fmt: skip
    readonly_fields = fields
    inlines = [PaymentEventInline]
    actions = ["match_selected"]

    def get_base_queryset(self, request):
        return super().get_base_queryset(request).select_related("order", "connection")

    def has_add_permission(self, request) -> bool:
        return False  # reported by the gateways' webhooks

    def has_change_permission(self, request, obj=None) -> bool:
        # Without an object: may the user match payments to orders. With one: the page is view-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="order")
    def order_link(self, payment: Payment) -> str:
        if payment.order_id is None:
            return "Unmatched"
        url = reverse("admin:orders_order_change", args=[payment.order_id])
        return format_html('<a href="{}">{}</a>', url, payment.order.number)

    def get_search_results(self, request, queryset, search_term):
        term = unquoted(search_term)
        if not term:
            return queryset, False
        found = Q(payment_id=term) | Q(gateway_order_id=term) | Q(reference__in={term, term.upper()})
        return queryset.filter(found), False

    def changelist_view(self, request, extra_context=None):
        return rendered_in_time_zone(request, lambda: super(PaymentAdmin, self).changelist_view(request, extra_context))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(PaymentAdmin, self).changeform_view(request, object_id, form_url, extra_context)
        )

    @admin.action(description="Match to an order…", permissions=["change"])
    def match_selected(self, request, queryset):
        """An intermediate page asks for the order number; each payment is matched to the order of that number of
        its own merchant (payment_link)."""
        form = MatchForm(request.POST if "apply" in request.POST else None, prefix="match")
        if form.is_bound and form.is_valid():
            number = form.cleaned_data["number"]
            payments = list(queryset.order_by("pk"))
            orders = {}
            found = Order.objects.filter(merchant_id__in={payment.merchant_id for payment in payments},
                                         number__in={number, number.upper()})  # fmt: skip
            for order in sorted(found, key=lambda order: order.number != number):  # the number as typed first
                orders.setdefault(order.merchant_id, order)
            if orders:

                def link(payment: Payment) -> None:
                    if payment.merchant_id not in orders:
                        raise ValidationError(f"No order {number}")
                    payment_link(payment=payment, order=orders[payment.merchant_id], actor=actor_of(request))

                run_per_object(self, request, payments, ActionReport("Matched", "payment"), link, match_refusal)
                return None
            form.add_error("number", f"No order {number}.")
        rows = queryset.order_by("pk")[:100]
        return action_form_page(self, request, form=form, title="Match payments to an order", action="match_selected",
                                rows_name="payments", rows=rows, count=queryset.count())  # fmt: skip


class EventTypeFilter(admin.SimpleListFilter):
    """The event types ShopOps takes in, from each gateway (a fixed list: no query over the events)."""

    title = "event"
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        types = sorted({name for gateway in PaymentGateway.values for name in gateway_module(gateway).EVENTS})
        return [(name, name) for name in types]

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset


@admin.register(PaymentEvent)
class PaymentEventAdmin(KeysetListMixin, ReadOnlyAdmin):
    """Every event the gateways sent, as received (verified, stored once), and what it did to its payment."""

    list_display = ["received_at", "connection", "event_type", "event_id", "payment_column", "outcome"]
    list_select_related = ["connection", "payment"]
    list_filter = [("connection", MerchantRelatedFilter), EventTypeFilter]
    # The list is paged by (received, id): an index of (merchant, received_at, id) serves it.
    sortable_by = ["received_at"]
    search_fields = ["event_id"]
    search_help_text = "An event ID, exactly."
    fields = ["received_at", "connection", "event_id", "event_type", "payment_column", "outcome", "payload_display"]
    readonly_fields = fields

    def get_base_queryset(self, request):
        return super().get_base_queryset(request).select_related("connection", "payment")

    @admin.display(description="payment")
    def payment_column(self, event: PaymentEvent) -> str:
        return payment_change_link(event.payment)

    @admin.display(description="payload")
    def payload_display(self, event: PaymentEvent) -> str:
        return json_block(event.payload)

    def get_search_results(self, request, queryset, search_term):
        term = unquoted(search_term)
        return (queryset.filter(event_id=term) if term else queryset), False

    def changelist_view(self, request, extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(PaymentEventAdmin, self).changelist_view(request, extra_context)
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(PaymentEventAdmin, self).changeform_view(request, object_id, form_url, extra_context)
        )


# -- on the order's page ----------------------------------------------------------------------------------------


class OrderPaymentInline(PaymentColumns, ReadOnlyInline):
    """The order's payments at the gateways, oldest first."""

    model = Payment
    fk_name = "order"
    verbose_name_plural = "payments"
    fields = ["payment_column", "status", "method", "amount_display", "refunded_display", "last_event_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("created_at", "id")

    @admin.display(description="gateway payment ID")
    def payment_column(self, payment: Payment) -> str:
        return payment_change_link(payment)

"""Ship batches: the order action "Ship selected orders…" and the batch pages with each order's outcome."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from orders.admin.common import actor_of
from orders.models import Order, OrderStatus
from shipping.admin.common import warn_eway_bills
from shipping.admin.documents import document_link
from shipping.choices import RECOMMENDED_COURIER, CourierSort, LabelFormat
from shipping.models import Courier, ShipBatch, ShipBatchStatus, Shipment, ShipmentStatus
from shipping.selectors import quote_for_order
from shipping.services.batches import SHIP_BATCH_MAX, ship_batch_create, ship_batch_resume
from shipping.services.ship import ShipOptions
from shopops.admin import (
    ActionReport,
    MerchantScopedAdmin,
    ReadOnlyAdmin,
    action_form_page,
    actor_display,
    refusal_reason,
    run_per_object,
)
from shopops.errors import DomainError
from shopops.money import format_money


class ShipBatchForm(forms.Form):
    """The options of "Ship selected orders…". ``couriers``: the courier choices (code, label), after the
    recommended one."""

    courier = forms.ChoiceField(
        choices=[(RECOMMENDED_COURIER, "The recommended courier of each order")], required=False,
        initial=RECOMMENDED_COURIER, help_text="For one order, each courier that can carry it with its price and "
                                               "delivery estimate; for several, one courier for all or each "
                                               "order's recommended one.")  # fmt: skip
    sort = forms.ChoiceField(
        choices=[("", "The merchant's default order"), *CourierSort.choices], required=False,
        help_text="How each order's courier is picked among those that can carry it.")  # fmt: skip
    request_pickup = forms.BooleanField(label="Request pickups", required=False, initial=True,
                                        help_text="One pickup per courier and pickup location.")  # fmt: skip
    pickup_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text="Default: today before the courier's cut-off, else the next working "
                                            "day.")  # fmt: skip
    print_label = forms.BooleanField(label="Print labels", required=False, initial=True,
                                     help_text="One PDF with every label.")  # fmt: skip
    label_format = forms.ChoiceField(choices=LabelFormat.choices, initial=LabelFormat.LABEL_4X6)
    print_invoice = forms.BooleanField(label="Print invoices", required=False, initial=True,
                                       help_text="One PDF with every tax invoice.")  # fmt: skip
    generate_manifest = forms.BooleanField(label="Generate manifests", required=False, initial=False,
                                           help_text="One manifest (and its PDF) per courier and pickup "
                                                     "location.")  # fmt: skip

    def __init__(self, *args, couriers: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["courier"].choices = [*self.fields["courier"].choices, *couriers]

    def options(self) -> ShipOptions:
        data = self.cleaned_data
        return ShipOptions(**{**data, "sort": data["sort"] or None, "courier": data["courier"] or RECOMMENDED_COURIER})


#: Why an order cannot be shipped, in words, by its status.
NOT_SHIPPABLE = {
    OrderStatus.SHIPPED: "is already shipped",
    OrderStatus.DELIVERED: "is already delivered: only returns are possible",
    OrderStatus.CANCELLED: "is cancelled",
    OrderStatus.RTO: "is coming back to origin (RTO)",
    OrderStatus.RTO_DELIVERED: "came back to origin (RTO)",
    OrderStatus.PARTIALLY_RETURNED: "was delivered and partly returned: only returns are possible",
    OrderStatus.RETURNED: "was delivered and returned",
}


def unshippable(orders: list[Order]) -> dict[int, str]:
    """The orders that cannot be shipped and why (their status, or an AWB they already have), in order: one query."""
    reasons = {order.pk: f"{order.number} {NOT_SHIPPABLE[order.status]}" for order in orders
               if order.status in NOT_SHIPPABLE}  # fmt: skip
    booked = (Shipment.objects.filter(order__in=[o.pk for o in orders if o.pk not in reasons]).exclude(awb="")
              .exclude(status=ShipmentStatus.CANCELLED).values_list("order_id", "order__number", "awb"))  # fmt: skip
    for order_id, number, awb in booked:
        reasons[order_id] = f"{number} already has AWB {awb}"
    return dict(sorted(reasons.items()))


def courier_choices(orders: list[Order]) -> list[tuple[str, str]]:
    """The courier choices of the ship form: for one order, each courier that can carry it, cheapest first, with its
    price and estimate; for several, the merchant's active couriers."""
    if len(orders) == 1:
        try:
            quote = quote_for_order(orders[0], sort=CourierSort.CHEAPEST)
        except (DomainError, ValidationError):
            return []
        return [(q.code, f"{q.name}: {format_money(q.total_charge, orders[0].currency)}, {q.estimated_delivery_days} "
                         f"day{'' if q.estimated_delivery_days == 1 else 's'}"
                         f"{' (recommended)' if q.courier_id == quote.recommended_courier_id else ''}")
                for q in quote.couriers]  # fmt: skip
    merchant_ids = {order.merchant_id for order in orders}
    if len(merchant_ids) != 1:
        return []
    couriers = Courier.objects.filter(merchant_id=merchant_ids.pop(), is_active=True).order_by("name")
    return list(couriers.values_list("code", "name"))


def _batch_link(batch: ShipBatch):
    return format_html('<a href="{}">{}</a>', reverse("admin:shipping_shipbatch_change", args=[batch.pk]), batch)


@admin.action(description="Ship selected orders…", permissions=["change"])
def ship_selected(modeladmin, request, queryset):
    """Confirm, pack, book the courier and the AWB of each selected order, then one pickup per courier and location,
    one label PDF, one invoice PDF and the manifests: one ShipBatch job per merchant, followed on its page."""
    count = queryset.count()
    if count > SHIP_BATCH_MAX:
        modeladmin.message_user(request, f"Select at most {SHIP_BATCH_MAX} orders a batch, not {count}.",
                                messages.ERROR)  # fmt: skip
        return None
    selected = list(queryset.select_related("merchant").order_by("pk"))
    refused = unshippable(selected)
    if refused:
        level = messages.ERROR if len(refused) == len(selected) else messages.WARNING
        left = "; nothing to ship" if level == messages.ERROR else "; the others can be shipped"
        modeladmin.message_user(request, f"Not shipped: {'; '.join(refused.values())}{left}.", level)
        if level == messages.ERROR:
            return None
        queryset = queryset.exclude(pk__in=list(refused))
        selected = [order for order in selected if order.pk not in refused]
        count = len(selected)
    form = ShipBatchForm(request.POST if "apply" in request.POST else None, prefix="ship",
                         couriers=courier_choices(selected))  # fmt: skip
    if not (form.is_bound and form.is_valid()):
        return action_form_page(modeladmin, request, form=form, title="Ship selected orders", action="ship_selected",
                                rows_name="orders", rows=selected[:100], count=count)  # fmt: skip
    writable = set(modeladmin.writable_merchants(request).values_list("pk", flat=True))
    by_merchant: dict[int, list] = {}
    for order in selected:
        by_merchant.setdefault(order.merchant_id, []).append(order)
    batches = []
    for orders in by_merchant.values():
        merchant = orders[0].merchant
        if merchant.pk not in writable:
            modeladmin.message_user(request, f"{merchant}: your role only reads its orders; nothing was shipped.",
                                    messages.ERROR)  # fmt: skip
            continue
        try:
            batch = ship_batch_create(merchant=merchant, order_ids=[o.pk for o in orders], actor=actor_of(request),
                                      options=form.options())  # fmt: skip
        except (DomainError, ValidationError) as exc:
            modeladmin.message_user(request, f"{merchant}: nothing shipped ({refusal_reason(exc)}).", messages.ERROR)
            continue
        batches.append(batch)
        batch.refresh_from_db()  # without a broker the job has already run
        modeladmin.message_user(request, format_html(
            "{} for {} order{}: {}. Its page shows each order's outcome, the pickups and the PDFs.",
            _batch_link(batch), batch.total, "" if batch.total == 1 else "s", batch_outcome(batch)),
            batch_level(batch))  # fmt: skip
        booked = [int(order_id) for order_id, outcome in batch.results.items() if outcome["steps"]["awb_assigned"]]
        warn_eway_bills(modeladmin, request, Order.objects.filter(pk__in=booked).order_by("pk"))
    if len(batches) == 1:
        return HttpResponseRedirect(reverse("admin:shipping_shipbatch_change", args=[batches[0].pk]))
    return None


def batch_outcome(batch: ShipBatch) -> str:
    """The batch's state in words: "done", "done, 2 of 5 orders refused", "failed", "queued"."""
    text = batch.get_status_display().lower()
    if batch.status == ShipBatchStatus.DONE and batch.failed:
        text += f", {batch.failed} of {batch.total} order{'' if batch.total == 1 else 's'} refused"
    return text


def batch_level(batch: ShipBatch) -> int:
    """A batch that failed is an error, one with refused orders a warning, never a success."""
    if batch.status == ShipBatchStatus.FAILED or (batch.total and batch.failed == batch.total):
        return messages.ERROR
    if batch.failed:
        return messages.WARNING
    return messages.SUCCESS if batch.status == ShipBatchStatus.DONE else messages.INFO


@admin.register(ShipBatch)
class ShipBatchAdmin(ReadOnlyAdmin):
    """The "Ship selected orders" jobs: progress, each order's outcome, and what the batch booked and printed."""

    list_display = ["id", "status", "progress", "shipped", "failed", "created_by_name", "created_at", "finished_at"]
    list_filter = ["status"]
    actions = ["run_again_selected"]
    fields = ["status", "progress", "shipped", "failed", "error", "options_display", "results_table", "pickup_links",
              "manifest_links", "document_links", "created_by_name", "created_at", "started_at",
              "finished_at"]  # fmt: skip
    readonly_fields = fields
    created_by_name = actor_display("created_by", "created by")

    def get_object(self, request, object_id, from_field=None):
        queryset = self.get_queryset(request).select_related("label_document", "invoice_document").prefetch_related(
            "pickups__courier", "pickups__location", "manifests", "manifest_documents")  # fmt: skip
        try:
            return queryset.get(pk=int(object_id))
        except (ShipBatch.DoesNotExist, ValueError):
            return None

    def has_rerun_permission(self, request) -> bool:
        return MerchantScopedAdmin.has_change_permission(self, request)

    @admin.display(description="progress")
    def progress(self, batch: ShipBatch) -> str:
        return f"{batch.processed}/{batch.total}"

    @admin.display(description="options")
    def options_display(self, batch: ShipBatch) -> str:
        options = ShipOptions.from_json(batch.options)
        parts = [f"courier: {options.courier}", f"sort: {options.sort or 'the merchant default'}",
                 f"pickup: {'on ' + str(options.pickup_date) if options.pickup_date else 'next'}"
                 if options.request_pickup else "no pickup",
                 f"labels ({options.label_format})" if options.print_label else "no labels",
                 "invoices" if options.print_invoice else "no invoices",
                 "manifests" if options.generate_manifest else "no manifests"]  # fmt: skip
        return "; ".join(parts)

    @admin.display(description="orders")
    def results_table(self, batch: ShipBatch):
        """One row per order in the batch's order: number (linked), outcome, AWB, courier and the refusal, or the
        booking's warnings (an e-way bill required)."""
        numbers = dict(Order.objects.filter(merchant_id=batch.merchant_id, pk__in=batch.order_ids)
                       .values_list("pk", "number"))  # fmt: skip

        def row(order_id: int) -> tuple:
            outcome = batch.results.get(str(order_id))
            if outcome is None:
                state, error = "waiting", ""
            elif outcome["steps"]["awb_assigned"]:
                state, error = "shipped", " ".join(w["message"] for w in outcome.get("warnings", []))
            else:
                state, error = "refused", f"{outcome['error']['step']}: {outcome['error']['message']}"
            url = reverse("admin:orders_order_change", args=[order_id])
            return (url, numbers.get(order_id, order_id), state, (outcome or {}).get("awb") or "-",
                    (outcome or {}).get("courier") or "-", error)  # fmt: skip

        body = format_html_join("", "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                                "</tr>", (row(order_id) for order_id in batch.order_ids))  # fmt: skip
        return format_html('<table class="ship-batch-results"><thead><tr><th>Order</th><th>Outcome</th><th>AWB</th>'
                           "<th>Courier</th><th>Refused at / why, or warnings</th></tr></thead><tbody>{}</tbody>"
                           "</table>",
                           body)  # fmt: skip

    @admin.display(description="pickups")
    def pickup_links(self, batch: ShipBatch):
        pickups = sorted(batch.pickups.all(), key=lambda p: p.pk)
        return format_html_join(", ", '<a href="{}">{}</a> ({} from {} on {})', (
            (reverse("admin:shipping_pickuprequest_change", args=[p.pk]), p.token, p.courier.name,
             p.location.nickname, p.pickup_date) for p in pickups)) or "-"  # fmt: skip

    @admin.display(description="manifests")
    def manifest_links(self, batch: ShipBatch):
        manifests = sorted(batch.manifests.all(), key=lambda m: m.pk)
        return format_html_join(", ", '<a href="{}">{}</a>', (
            (reverse("admin:shipping_manifest_change", args=[m.pk]), m.number) for m in manifests)) or "-"  # fmt: skip

    @admin.display(description="PDFs")
    def document_links(self, batch: ShipBatch):
        documents = [d for d in (batch.label_document, batch.invoice_document) if d is not None]
        documents += sorted(batch.manifest_documents.all(), key=lambda d: d.pk)
        return format_html_join(", ", "{}", ((document_link(d),) for d in documents)) or "-"

    @admin.action(description="Run again (resume where it stopped)", permissions=["rerun"])
    def run_again_selected(self, request, queryset):
        """Queue batches that are not done again: each resumes, skipping the orders and steps already done."""
        batches = list(queryset.order_by("pk"))
        run_per_object(self, request, batches, ActionReport("Queued again", "ship job"),
                       lambda batch: ship_batch_resume(batch=batch), refusal_reason)  # fmt: skip

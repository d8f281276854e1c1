"""The NDR queue: failed deliveries waiting for the merchant's decision (reattempt or return to origin)."""

from datetime import date, timedelta

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from orders.admin.common import actor_of, rendered_in_time_zone
from shipping.admin.common import shipment_refusal
from shipping.errors import NDR_ACTION_TAKEN, NDR_RESOLVED
from shipping.models import NDR, NDRAction, NDRStatus
from shipping.services.ndr import ndr_action
from shopops.admin import (
    ActionReport,
    MerchantRelatedFilter,
    MerchantScopedAdmin,
    action_form_page,
    actor_display,
    run_per_object,
)
from shopops.errors import DomainError


class NDRAgeFilter(admin.SimpleListFilter):
    """Days since the first failed attempt."""

    title = "age"
    parameter_name = "age"
    #: value: (label, at least this many days, fewer than this many days)
    buckets = {"0-1": ("0–1 days", 0, 2), "2-3": ("2–3 days", 2, 4), "4-7": ("4–7 days", 4, 8),
               "older": ("Older", 8, None)}  # fmt: skip

    def lookups(self, request, model_admin):
        return [(value, label) for value, (label, _, _) in self.buckets.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.buckets:
            return queryset
        _, least, below = self.buckets[self.value()]
        now = timezone.now()
        queryset = queryset.filter(first_attempt_at__lte=now - timedelta(days=least))
        return queryset if below is None else queryset.filter(first_attempt_at__gt=now - timedelta(days=below))


class NDRStateFilter(admin.SimpleListFilter):
    """Awaiting the merchant (open, reattempt requested) by default; resolved ones, or all, when asked."""

    title = "queue"
    parameter_name = "queue"
    states = {"awaiting": ("Awaiting action", (NDRStatus.OPEN, NDRStatus.REATTEMPT)),
              "resolved": ("Resolved", (NDRStatus.DELIVERED, NDRStatus.RTO)), "all": ("All", None)}  # fmt: skip

    def lookups(self, request, model_admin):
        return [(value, label) for value, (label, _) in self.states.items()]

    def value(self):
        return super().value() or "awaiting"

    def choices(self, changelist):
        for value, label in self.lookup_choices:  # no "All" of its own: "all" is a state
            yield {"selected": self.value() == value, "display": label,
                   "query_string": changelist.get_query_string({self.parameter_name: value})}  # fmt: skip

    def queryset(self, request, queryset):
        statuses = self.states.get(self.value(), self.states["awaiting"])[1]
        return queryset if statuses is None else queryset.filter(status__in=statuses)


class ReattemptForm(forms.Form):
    reattempt_date = forms.DateField(required=False, help_text="YYYY-MM-DD. Blank: tomorrow.")
    comment = forms.CharField(max_length=500, required=False,
                              help_text="For the courier, e.g. a landmark or a better time to call.")  # fmt: skip


class RTOForm(forms.Form):
    comment = forms.CharField(max_length=500, required=False, help_text="Why the parcel comes back.")


@admin.register(NDR)
class NDRAdmin(MerchantScopedAdmin):
    """Failed deliveries waiting for the merchant: reattempt, or return to origin (ndr_action)."""

    list_display = ["awb", "order", "courier", "reason", "attempts", "age", "status", "action", "reattempt_date",
                    "last_attempt_at"]  # fmt: skip
    list_select_related = ["shipment__order", "shipment__courier"]
    list_filter = [NDRStateFilter, "status", "reason", ("shipment__courier", MerchantRelatedFilter), NDRAgeFilter]
    search_fields = ["shipment__awb", "shipment__order__number"]
    search_help_text = "AWB or order number."
    actions = ["reattempt_selected", "rto_selected"]
    fields = ["shipment", "status", "reason", "attempts", "first_attempt_at", "last_attempt_at", "action",
              "action_comment", "reattempt_date", "action_by_name", "action_at", "resolved_at"]  # fmt: skip
    readonly_fields = fields
    action_by_name = actor_display("action_by", "action by")

    def has_add_permission(self, request) -> bool:
        return False  # opened by the courier's failed-delivery events

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="AWB", ordering="shipment__awb")
    def awb(self, ndr: NDR):
        url = reverse("admin:shipping_shipment_change", args=[ndr.shipment_id])
        return format_html('<a href="{}">{}</a>', url, ndr.shipment.awb)

    @admin.display(description="order", ordering="shipment__order__number")
    def order(self, ndr: NDR) -> str:
        return ndr.shipment.order.number

    @admin.display(description="courier")
    def courier(self, ndr: NDR) -> str:
        return ndr.shipment.courier.name

    @admin.display(description="age (days)", ordering="first_attempt_at")
    def age(self, ndr: NDR) -> int:
        return (timezone.now() - ndr.first_attempt_at).days

    def _act(self, request, queryset, verb: str, action: str, comment: str, reattempt_date: date | None = None):
        ndrs = list(queryset.select_related("shipment").order_by("pk"))
        run_per_object(self, request, ndrs, ActionReport(verb, "NDR"),
                       lambda ndr: ndr_action(ndr=ndr, action=action, actor=actor_of(request), comment=comment,
                                              reattempt_date=reattempt_date), ndr_refusal)  # fmt: skip

    def _form_page(self, request, queryset, form, action: str, title: str):
        rows = queryset.select_related("shipment__order", "shipment__courier").order_by("pk")[:100]
        return action_form_page(self, request, form=form, title=title, action=action, rows_name="ndrs", rows=rows,
                                count=queryset.count())  # fmt: skip

    @admin.action(description="Reattempt delivery…", permissions=["change"])
    def reattempt_selected(self, request, queryset):
        form = ReattemptForm(request.POST if "apply" in request.POST else None, prefix="reattempt")
        if form.is_bound and form.is_valid():
            self._act(request, queryset, "Requested a reattempt for", NDRAction.REATTEMPT,
                      form.cleaned_data["comment"], form.cleaned_data["reattempt_date"])  # fmt: skip
            return None
        return self._form_page(request, queryset, form, "reattempt_selected", "Reattempt delivery")

    @admin.action(description="Return to origin…", permissions=["change"])
    def rto_selected(self, request, queryset):
        form = RTOForm(request.POST if "apply" in request.POST else None, prefix="rto")
        if form.is_bound and form.is_valid():
            self._act(request, queryset, "Returned to origin", NDRAction.RTO, form.cleaned_data["comment"])
            return None
        return self._form_page(request, queryset, form, "rto_selected", "Return to origin")

    def changelist_view(self, request, extra_context=None):
        return rendered_in_time_zone(request, lambda: super(NDRAdmin, self).changelist_view(request, extra_context))


def ndr_refusal(exc: Exception) -> str:
    if isinstance(exc, DomainError) and exc.code == NDR_RESOLVED.code:
        return f"is resolved ({exc.details['status']})"
    if isinstance(exc, DomainError) and exc.code == NDR_ACTION_TAKEN.code:
        return f"a reattempt on {exc.details['reattempt_date']} is already requested"
    return shipment_refusal(exc)

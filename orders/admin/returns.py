"""Returns, moved only by their actions (return_transition)."""

from django.contrib import admin

from orders.admin.common import actor_of, status_refusal
from orders.admin.extensions import return_admin_extensions
from orders.models import Return, ReturnLine, ReturnStatus
from orders.services.returns import return_transition
from shopops.admin import ActionReport, MerchantScopedAdmin, ReadOnlyInline, run_per_object

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
    #: The list's own actions; ``actions`` adds those other apps register (return_admin_extensions).
    own_actions = ["approve_selected", "reject_selected", "receive_selected", "close_selected"]
    fields = ["number", "order", "status", "reason", "location", "refund_amount", "received_at", "created_at",
              "updated_at"]  # fmt: skip
    readonly_fields = fields

    @property
    def actions(self) -> list:
        return [*self.own_actions, *return_admin_extensions.actions]

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

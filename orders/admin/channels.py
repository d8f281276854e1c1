"""Sales channels and customers."""

from django.contrib import admin

from orders.models import Channel, Customer
from orders.services.channels import channel_create, channel_update
from shopops.admin import ReadOnlyAdmin, ServiceAdmin, adopt

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

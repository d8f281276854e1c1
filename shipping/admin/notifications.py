"""Customer notifications: the merchant's settings and the log of messages sent."""

from django.contrib import admin

from orders.admin.common import rendered_in_time_zone
from shipping.models import Notification, NotificationSetting
from shipping.services.notifications import notification_setting_set
from shopops.admin import MerchantScopedAdmin, ReadOnlyAdmin, adopt
from shopops.models import ADMIN_ROLES


@admin.register(NotificationSetting)
class NotificationSettingAdmin(MerchantScopedAdmin):
    """Which customer notifications the merchant sends (notification_setting_set); all on until changed."""

    write_roles = ADMIN_ROLES
    list_display = ["merchant", "email_enabled", "sms_enabled", "on_shipped", "on_out_for_delivery", "on_delivered",
                    "on_ndr", "on_rto"]  # fmt: skip
    list_select_related = ["merchant"]
    fields = ["merchant", "email_enabled", "sms_enabled", "on_shipped", "on_out_for_delivery", "on_delivered",
              "on_ndr", "on_rto"]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return ["merchant"] if obj is not None else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        merchant = obj.merchant if change else form.cleaned_data["merchant"]
        saved = notification_setting_set(merchant=merchant, data={
            name: form.cleaned_data[name] for name in self.fields if name != "merchant"})  # fmt: skip
        adopt(obj, saved)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """The log of customer messages (email and SMS): each sent at most once."""

    list_display = ["created_at", "shipment", "event", "channel", "recipient", "status", "sent_at", "error"]
    list_select_related = ["shipment"]
    list_filter = ["event", "channel", "status"]
    search_fields = ["recipient", "=shipment__awb"]
    show_full_result_count = False
    fields = ["shipment", "tracking_event", "event", "channel", "recipient", "status", "error", "created_at",
              "sent_at"]  # fmt: skip
    readonly_fields = fields

    def changelist_view(self, request, extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(NotificationAdmin, self).changelist_view(request, extra_context)
        )

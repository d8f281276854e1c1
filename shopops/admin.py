"""The merchant dashboard's base: one ModelAdmin that scopes everything to the user's merchants."""

from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet

from shopops.models import ADMIN_ROLES, WRITE_ROLES, Membership, Merchant, PartnerApplication
from shopops.services import membership_add

admin.site.site_header = "ShopOps"
admin.site.site_title = "ShopOps"
admin.site.index_title = "Merchant dashboard"


def member_roles(request) -> dict[int, str]:
    """{merchant_id: role} for the logged-in user, cached on the request."""
    if not hasattr(request, "_shopops_roles"):
        request._shopops_roles = dict(
            Membership.objects.filter(user_id=request.user.pk).values_list("merchant_id", "role")
        )
    return request._shopops_roles


class MerchantScopedAdmin(admin.ModelAdmin):
    """Base ModelAdmin for every model with a ``merchant`` foreign key.

    Non-superusers see and pick only rows of the merchants they belong to;
    viewers only read. Subclasses may not override ``get_queryset`` (use
    ``get_base_queryset``), so the scoping cannot be forgotten.
    """

    #: Roles allowed to add, change and delete; ADMIN_ROLES for the merchant's own settings.
    write_roles = WRITE_ROLES
    merchant_field = "merchant"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise ImproperlyConfigured(
                f"{cls.__qualname__} overrides get_queryset; implement get_base_queryset instead."
            )

    def get_base_queryset(self, request) -> QuerySet:
        return super().get_queryset(request)

    def get_queryset(self, request) -> QuerySet:
        queryset = self.get_base_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.merchant_field}__in": list(member_roles(request))})

    # -- permissions by membership role ---------------------------------------------

    def _merchant_id(self, obj) -> int | None:
        return getattr(obj, f"{self.merchant_field}_id", None) if self.merchant_field != "id" else obj.pk

    def _may(self, request, roles, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        held = member_roles(request)
        if obj is not None:
            return held.get(self._merchant_id(obj)) in roles
        return any(role in roles for role in held.values())

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and (request.user.is_superuser or bool(member_roles(request)))

    def has_view_permission(self, request, obj=None) -> bool:
        return self._may(request, set(ADMIN_ROLES | WRITE_ROLES | {"viewer"}), obj)

    def has_add_permission(self, request) -> bool:
        return self._may(request, self.write_roles)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may(request, self.write_roles, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._may(request, self.write_roles, obj)

    # -- forms: only the user's merchants and their rows -------------------------------

    def writable_merchants(self, request) -> QuerySet:
        if request.user.is_superuser:
            return Merchant.objects.all()
        ids = [mid for mid, role in member_roles(request).items() if role in self.write_roles]
        return Merchant.objects.filter(pk__in=ids)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if related is Merchant:
            kwargs["queryset"] = self.writable_merchants(request)
        elif not request.user.is_superuser and any(f.name == "merchant" for f in related._meta.get_fields()):
            kwargs["queryset"] = related._default_manager.filter(merchant__in=list(member_roles(request)))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser and self.merchant_field != "id":
            filters.insert(0, self.merchant_field)
        return filters


@admin.register(Merchant)
class MerchantAdmin(MerchantScopedAdmin):
    merchant_field = "id"
    write_roles = ADMIN_ROLES
    list_display = ["name", "slug", "time_zone", "default_currency", "tax_id", "is_active", "created_at"]
    search_fields = ["name", "slug", "tax_id"]
    list_filter = ["is_active", "country"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "legal_name", "logo", "is_active"]}),
        ("Locale", {"fields": ["time_zone", "default_currency", "country"]}),
        ("Tax and contact", {"fields": ["tax_id", "email", "phone"]}),
        ("Address", {"fields": ["line1", "line2", "city", "state", "postcode"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["slug", "is_active"]


@admin.register(Membership)
class MembershipAdmin(MerchantScopedAdmin):
    write_roles = ADMIN_ROLES
    list_display = ["user", "merchant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "merchant__name"]
    list_select_related = ["user", "merchant"]
    autocomplete_fields = ["user"]

    def save_model(self, request, obj, form, change):
        membership_add(merchant=obj.merchant, user=obj.user, role=obj.role)


if admin.site.is_registered(PartnerApplication):  # django-oauth-toolkit registers its own, unscoped
    admin.site.unregister(PartnerApplication)


@admin.register(PartnerApplication)
class PartnerApplicationAdmin(MerchantScopedAdmin):
    write_roles = ADMIN_ROLES
    list_display = ["name", "merchant", "client_id", "authorization_grant_type", "allowed_scopes", "created"]
    list_filter = ["authorization_grant_type"]
    search_fields = ["name", "client_id"]
    list_select_related = ["merchant"]
    fields = [
        "merchant",
        "name",
        "client_id",
        "client_secret",
        "client_type",
        "authorization_grant_type",
        "redirect_uris",
        "allowed_scopes",
        "skip_authorization",
    ]

    def get_readonly_fields(self, request, obj=None):
        # The secret is shown once, on the add form, before it is hashed.
        return ["client_id", "client_secret"] if obj else []

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None and "client_secret" in form.base_fields:
            form.base_fields[
                "client_secret"
            ].help_text = "Copy this secret now: it is stored hashed and cannot be shown again."
        return form

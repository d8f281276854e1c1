"""The merchant dashboard's base: one ModelAdmin that scopes everything to the user's merchants."""

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ImproperlyConfigured, PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse, reverse_lazy
from django.utils import timezone
from django.utils.html import format_html

from shopops.csvexport import stream_csv
from shopops.errors import DomainError
from shopops.models import (
    ADMIN_ROLES,
    OWNER_ROLES,
    WRITE_ROLES,
    Invitation,
    InvitationStatus,
    Membership,
    Merchant,
    PartnerApplication,
)
from shopops.services import (
    invitation_create,
    invitation_resend,
    invitation_revoke,
    membership_add,
    membership_remove,
    membership_role_change,
)

admin.site.site_header = "ShopOps"
admin.site.site_title = "ShopOps"
admin.site.index_title = "Merchant dashboard"
# "View site": ShopOps has no home page of its own; its other face is the partner API, so the link opens its docs.
admin.site.site_url = reverse_lazy("swagger-ui")


def member_roles(request) -> dict[int, str]:
    """{merchant_id: role} for the logged-in user, cached on the request."""
    if not hasattr(request, "_shopops_roles"):
        request._shopops_roles = dict(
            Membership.objects.filter(user_id=request.user.pk).values_list("merchant_id", "role")
        )
    return request._shopops_roles


def json_block(value) -> str:
    """A JSON value shown as indented text (a raw event, a service's ids); "-" when empty."""
    if not value:
        return "-"
    return format_html('<pre style="white-space: pre-wrap; max-width: 60em; margin: 0">{}</pre>',
                       json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))  # fmt: skip


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

    def get_changelist_instance(self, request):
        """The list; actor columns (made with ``actor_display``) are named for the whole page in one query."""
        changelist = super().get_changelist_instance(request)
        fields = [getattr(getattr(self, name, None), "actor_field", None) for name in changelist.list_display
                  if isinstance(name, str)]  # fmt: skip
        fields = [field for field in fields if field]
        if fields:
            rows = list(changelist.result_list)
            named = actor_names(getattr(row, field) or "" for row in rows for field in fields)
            for row in rows:
                row._actor_names = named
        return changelist

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser and self.merchant_field != "id":
            filters.insert(0, self.merchant_field)
        return filters


# -- the kit every business admin uses: service-backed saves, per-object actions, exports -------------


class MerchantRelatedFilter(admin.RelatedFieldListFilter):
    """A foreign-key filter offering only the related rows of the user's merchants."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        limit = None if request.user.is_superuser else {"merchant__in": list(member_roles(request))}
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=limit)


class ServiceRefusal(Exception):
    """A service refused a write; ``errors`` maps form field names (None: the whole form) to messages."""

    def __init__(self, errors: dict[str | None, list[str]]):
        super().__init__(errors)
        self.errors = errors

    @property
    def message(self) -> str:
        return " ".join(message for field_messages in self.errors.values() for message in field_messages)


@contextmanager
def service_refusals(conflict_fields: dict[str, str] | None = None, label: str = "") -> Iterator[None]:
    """Turn a service's ValidationError or DomainError into a ServiceRefusal.

    ``conflict_fields`` names the form field a conflict code belongs to (``{"duplicate_sku": "sku"}``);
    ``label`` prefixes the messages (e.g. "Image 2") when they belong to an inline rather than the form.
    """
    try:
        yield
    except DomainError as exc:
        raise ServiceRefusal({(conflict_fields or {}).get(exc.code): [exc.message]}) from exc
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            errors = {(None if f == NON_FIELD_ERRORS else f): list(m) for f, m in exc.message_dict.items()}
        else:
            errors = {None: list(exc.messages)}
        if label:
            errors = {None: [f"{label}: {m}" for field_messages in errors.values() for m in field_messages]}
        raise ServiceRefusal(errors) from exc


def secret_field(name: str, help_text: str) -> forms.CharField:
    """A credential's form field: typed, never shown back (a change leaves it blank to keep the stored value)."""
    return forms.CharField(
        label=name.replace("_", " "), required=False, max_length=2000, help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )  # fmt: skip


def adopt(obj, saved) -> None:
    """Copy the row a service saved onto the admin's form instance, so logging and redirects see it."""
    for field in type(obj)._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


def changed_data(form, allowed: Iterable[str]) -> dict:
    """The form's changed fields among ``allowed``, as a service's ``data``."""
    return {name: form.cleaned_data[name] for name in form.changed_data if name in allowed}


class ServiceAdmin(MerchantScopedAdmin):
    """A merchant-scoped admin whose saves go through services.

    ``save_model`` (and ``delete_model``) call services inside ``with self.refusals()``. A refusal propagates
    out of the admin's atomic block, so every write of the request is rolled back; then the form is shown
    again, bound to the same POST, with the service's messages as its errors (a refused delete becomes an
    error message on the object's page).
    """

    #: {conflict code: form field} for the services' 409s.
    conflict_fields: dict[str, str] = {}

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefusal as refusal:
            request._service_errors = refusal.errors
            return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceRefusal as refusal:
            self.message_user(request, refusal.message, messages.ERROR)
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                                                args=[object_id]))  # fmt: skip

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # each deletion goes through delete_model and its service
        return actions

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        errors = getattr(request, "_service_errors", None)
        if not errors:
            return form

        def clean(self):
            cleaned = form.clean(self)
            for field, field_messages in errors.items():
                if field is not None and field not in self.fields:
                    field_messages = [f"{field.replace('_', ' ').capitalize()}: {m}" for m in field_messages]
                    field = None
                self.add_error(field, field_messages)
            return cleaned

        return type(form.__name__, (form,), {"clean": clean})

    def get_readonly_fields(self, request, obj=None):
        # A row stays with its merchant: the merchant is picked once, on the add form.
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, self.merchant_field] if obj is not None else readonly

    def only_merchant(self, request) -> Merchant | None:
        """The one merchant the user may write to, if there is exactly one (cached on the request)."""
        if not hasattr(request, "_shopops_only_merchant"):
            merchants = list(self.writable_merchants(request)[:2])
            request._shopops_only_merchant = merchants[0] if len(merchants) == 1 else None
        return request._shopops_only_merchant

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if merchant := self.only_merchant(request):
            initial.setdefault(self.merchant_field, merchant.pk)
        return initial

    def refusals(self, label: str = ""):
        return service_refusals(self.conflict_fields, label)


class ReadOnlyAdmin(MerchantScopedAdmin):
    """A merchant-scoped list nobody adds to, changes or deletes from here (ledgers, imported lists)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ParentRightsInline:
    """Inline rights follow the parent admin's membership rights.

    InlineModelAdmin checks Django model permissions, which merchant members do not hold.
    """

    def _parent_admin(self) -> MerchantScopedAdmin:
        return self.admin_site.get_model_admin(self.parent_model)

    def _parent_may_change(self, request, obj) -> bool:
        parent = self._parent_admin()
        return parent.has_change_permission(request, obj) if obj is not None else parent.has_add_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._parent_admin().has_view_permission(request, obj)


class ReadOnlyInline(ParentRightsInline, admin.TabularInline):
    """An inline that only shows rows."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


#: How the actors of events and jobs read, by their prefix ("user:7", "app:<client id>", "channel:<id>"...).
ACTOR_KINDS = {"app": "partner app", "channel": "channel", "courier": "courier", "import": "import",
               "batch": "ship batch", "admin": "admin"}  # fmt: skip


def actor_names(actors: Iterable[str]) -> dict[str, str]:
    """Each actor as people read it, the users by their name or email (one query for all of them): "user:7" ->
    "Priya Sharma", "app:Xy12" -> "partner app Xy12", "system" -> "ShopOps"."""
    actors = set(actors)
    ids = {int(a[5:]) for a in actors if a.startswith("user:") and a[5:].isdigit()}
    users = {user.pk: user.get_full_name() or user.email or user.get_username()
             for user in get_user_model().objects.filter(pk__in=ids)} if ids else {}  # fmt: skip
    names = {}
    for actor in actors:
        kind, _, ref = actor.partition(":")
        if kind == "user" and ref.isdigit():
            names[actor] = users.get(int(ref), f"a removed user ({ref})")
        elif actor in ("system", ""):
            names[actor] = "ShopOps"
        else:
            names[actor] = f"{ACTOR_KINDS.get(kind, kind)} {ref}".strip()
    return names


def actor_display(field: str, description: str):
    """A change page's display of an actor field (``created_by``, ``action_by``) by name: "Priya Sharma" rather
    than "user:7" (one query)."""

    @admin.display(description=description)
    def show(model_admin, obj) -> str:
        actor = getattr(obj, field)
        if not actor:
            return "–"
        named = getattr(obj, "_actor_names", None) or actor_names([actor])
        return named[actor]

    show.__name__ = f"{field}_name"
    show.actor_field = field
    return show


class ActionReport:
    """Collects an action's per-object outcome into one message:

    "Confirmed 3 orders; refused 2: SO-000004 (insufficient stock for TEE-RED-M), SO-000005 (is packed)".
    """

    #: Refusals named one by one up to this many, then counted.
    max_named = 20

    def __init__(self, verb: str, noun: str):
        self.verb, self.noun = verb, noun
        self.done = 0
        self.refused: list[str] = []

    def send(self, model_admin: admin.ModelAdmin, request) -> None:
        nouns = self.noun if self.done == 1 else f"{self.noun}s"
        text = f"{self.verb} {self.done} {nouns}"
        if not self.refused:
            model_admin.message_user(request, f"{text}.", messages.SUCCESS)
            return
        named = ", ".join(self.refused[: self.max_named])
        if len(self.refused) > self.max_named:
            named += f" and {len(self.refused) - self.max_named} more"
        level = messages.WARNING if self.done else messages.ERROR
        model_admin.message_user(request, f"{text}; refused {len(self.refused)}: {named}.", level)


def run_per_object(model_admin: MerchantScopedAdmin, request, objects: Iterable, report: ActionReport,
                   apply: Callable[[object], object], reason: Callable[[Exception], str]) -> None:  # fmt: skip
    """Call ``apply`` on each object (each call its own transaction), noting successes and refusals."""
    for obj in objects:
        if not MerchantScopedAdmin.has_change_permission(model_admin, request, obj):
            report.refused.append(f"{obj} (your role only reads it)")
            continue
        try:
            apply(obj)
        except (DomainError, ValidationError) as exc:
            report.refused.append(f"{obj} ({reason(exc)})")
        else:
            report.done += 1
    report.send(model_admin, request)


def refusal_reason(exc: Exception) -> str:
    """A service's refusal as a short phrase for an action's message."""
    if isinstance(exc, DomainError):
        return exc.message.rstrip(".")
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages).rstrip(".")
    raise exc


def action_form_page(model_admin: admin.ModelAdmin, request, *, form, title: str, action: str, rows_name: str,
                     rows, count: int) -> TemplateResponse:  # fmt: skip
    """The intermediate page of an action that asks for input (``admin/<app>/<model>/<action>.html``).

    Its template extends ``admin/shopops/action_form.html``; ``rows`` (the first of the ``count`` selected
    objects) reach it as ``rows_name``.
    """
    request.current_app = model_admin.admin_site.name
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "opts": model_admin.opts,
        "form": form,
        rows_name: rows,
        "count": count,
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "action": action,
        "media": model_admin.media + form.media,
    }
    template = f"admin/{model_admin.opts.app_label}/{model_admin.opts.model_name}/{action}.html"
    return TemplateResponse(request, template, context)


class ChangelistExportMixin:
    """An "Export CSV" URL (``<changelist>/export/``) streaming the changelist's rows: same search and filters.

    Subclasses define ``export_rows(queryset)``, an iterator of rows with the header first, and ``export_name``.
    """

    export_name = "export"

    def get_urls(self):
        export = path("export/", self.admin_site.admin_view(self.export_view),
                      name=f"{self.opts.app_label}_{self.opts.model_name}_export")  # fmt: skip
        return [export, *super().get_urls()]

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.export_queryset(request)
        except IncorrectLookupParameters:
            changelist = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            return HttpResponseRedirect(f"{changelist}?{ERROR_FLAG}=1")
        return stream_csv(self.export_rows(queryset), f"{self.export_name}-{timezone.localtime():%Y%m%d-%H%M}.csv")

    def export_queryset(self, request) -> QuerySet:
        return self.get_changelist_instance(request).get_queryset(request)


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
        ("Tax and contact", {"fields": ["tax_id", "lut_reference", "email", "phone"]}),
        ("Address", {"fields": ["line1", "line2", "city", "state", "postcode"]}),
        ("Shipping labels", {"fields": ["mask_phone_on_label"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["slug", "is_active"]

    def get_prepopulated_fields(self, request, obj=None):
        return self.prepopulated_fields if request.user.is_superuser else {}  # the slug is read-only for others


@admin.register(Membership)
class MembershipAdmin(ServiceAdmin):
    """The merchant's team: every member reads it; owners change roles and remove members.

    People join by invitation (the Invitations page). Only superusers add a membership here, for any existing
    user: a merchant's owner has no add form, so no request of theirs can name a user (a forged POST is a 403
    and creates nothing). The last owner of a merchant can be neither demoted nor removed.
    """

    write_roles = OWNER_ROLES
    list_display = ["user", "email", "merchant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "merchant__name"]
    list_select_related = ["user", "merchant"]
    autocomplete_fields = ["user"]  # the superusers' add form
    fields = ["user", "merchant", "role"]
    actions = ["remove_selected"]
    conflict_fields = {"last_owner": "role"}

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return [*readonly, "user"] if obj is not None else readonly

    @admin.display(description="email", ordering="user__email")
    def email(self, obj) -> str:
        return obj.user.email

    def save_model(self, request, obj, form, change):
        with self.refusals():
            if change:
                saved = membership_role_change(membership=obj, role=obj.role)
            else:
                saved = membership_add(merchant=obj.merchant, user=obj.user, role=obj.role)
        adopt(obj, saved)

    def delete_model(self, request, obj):
        with self.refusals():
            membership_remove(membership=obj)

    @admin.action(description="Remove the selected members from the merchant")
    def remove_selected(self, request, queryset):
        run_per_object(self, request, queryset.select_related("user", "merchant"), ActionReport("Removed", "member"),
                       lambda membership: membership_remove(membership=membership), refusal_reason)  # fmt: skip


class InvitationStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return InvitationStatus.choices

    def queryset(self, request, queryset):
        now = timezone.now()
        open_ = Q(accepted_at__isnull=True, revoked_at__isnull=True)
        conditions = {
            InvitationStatus.PENDING: open_ & Q(expires_at__gt=now),
            InvitationStatus.EXPIRED: open_ & Q(expires_at__lte=now),
            InvitationStatus.ACCEPTED: Q(accepted_at__isnull=False),
            InvitationStatus.REVOKED: Q(revoked_at__isnull=False),
        }
        condition = conditions.get(self.value())
        return queryset if condition is None else queryset.filter(condition)


class InvitationAddForm(forms.ModelForm):
    class Meta:
        model = Invitation
        fields = ["merchant", "email", "role"]

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


@admin.register(Invitation)
class InvitationAdmin(ServiceAdmin):
    """Owners invite people by email (an address and a role) and see, resend and revoke their invitations.

    An invitation is never edited or deleted: resending issues a new link and expiry, revoking ends the link,
    and the row stays as the record of who invited whom.
    """

    write_roles = OWNER_ROLES
    form = InvitationAddForm
    list_display = ["email", "merchant", "role", "status_label", "invited_by", "sent", "expires_at", "accepted_at"]
    list_filter = [InvitationStatusFilter, "role"]
    search_fields = ["email"]
    list_select_related = ["merchant", "invited_by"]
    actions = ["resend_selected", "revoke_selected"]
    conflict_fields = {"invitation_pending": "email"}
    detail_fields = ["merchant", "email", "role", "status_label", "invited_by", "created_at", "sent_at",
                     "send_error", "expires_at", "accepted_at", "accepted_by", "revoked_at"]  # fmt: skip

    def has_view_permission(self, request, obj=None) -> bool:
        return self._may(request, self.write_roles, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the page only shows an invitation; resend and revoke are actions

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_fields(self, request, obj=None):
        return self.detail_fields if obj is not None else ["merchant", "email", "role"]

    def get_readonly_fields(self, request, obj=None):
        return self.detail_fields if obj is not None else []

    @admin.display(description="status")
    def status_label(self, obj) -> str:
        return obj.status.label

    @admin.display(description="sent", ordering="sent_at")
    def sent(self, obj) -> str:
        if obj.send_error:
            return f"Not sent: {obj.send_error}"
        return timezone.localtime(obj.sent_at).strftime("%Y-%m-%d %H:%M") if obj.sent_at else "Queued"

    def save_model(self, request, obj, form, change):
        with self.refusals():
            saved = invitation_create(merchant=obj.merchant, email=obj.email, role=obj.role, invited_by=request.user)
        adopt(obj, saved)

    @admin.action(description="Resend the selected invitations (new link, new expiry)")
    def resend_selected(self, request, queryset):
        run_per_object(self, request, queryset.select_related("merchant"), ActionReport("Resent", "invitation"),
                       lambda invitation: invitation_resend(invitation=invitation), refusal_reason)  # fmt: skip

    @admin.action(description="Revoke the selected invitations")
    def revoke_selected(self, request, queryset):
        run_per_object(self, request, queryset.select_related("merchant"), ActionReport("Revoked", "invitation"),
                       lambda invitation: invitation_revoke(invitation=invitation), refusal_reason)  # fmt: skip


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class MemberScopedUserAdmin(auth_admin.UserAdmin):
    """Django's user admin for superusers. Merchant members hold no user permissions, so it answers them 403;
    a staff user granted them anyway still sees only the members of their own merchants (and so does the
    user autocomplete, which searches this queryset)."""

    def get_queryset(self, request):
        users = super().get_queryset(request)
        if request.user.is_superuser:
            return users
        return users.filter(memberships__merchant_id__in=list(member_roles(request))).distinct()


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


from shopops.webhooks import admin as webhooks_admin  # noqa: E402, F401  (registers the webhooks' pages)

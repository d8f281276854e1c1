"""The merchant dashboard for the catalog: categories, products, locations, stock levels and the stock ledger.

Every admin derives from ``MerchantScopedAdmin`` (rows, choices and filters limited to the user's merchants) and
writes only through ``catalog.services``. A service's refusal (``ValidationError`` or a 409 ``Conflict``) is shown
as a form error or an admin message, never a 500, and leaves nothing half-written.
"""

import csv
from collections.abc import Iterator
from contextlib import contextmanager

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import DataError
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import slugify

from catalog import selectors
from catalog.models import Category, Location, Product, ProductImage, ProductStatus, StockLevel, StockMovement
from catalog.services import (
    LOCATION_FIELDS,
    PRODUCT_FIELDS,
    category_create,
    category_update,
    location_create,
    location_delete,
    location_update,
    product_archive,
    product_create,
    product_image_add,
    product_image_delete,
    product_update,
    stock_adjust,
    stock_set_threshold,
)
from shopops.admin import MerchantScopedAdmin, member_roles
from shopops.api.exceptions import ApiError
from shopops.models import Merchant

# -- service refusals as form errors ---------------------------------------------------------


class ServiceRefusal(Exception):
    """A service refused a write; ``errors`` maps form field names (None: the whole form) to messages."""

    def __init__(self, errors: dict[str | None, list[str]]):
        super().__init__(errors)
        self.errors = errors

    @property
    def message(self) -> str:
        return " ".join(message for messages_ in self.errors.values() for message in messages_)


@contextmanager
def service_refusals(conflict_fields: dict[str, str] | None = None, label: str = "") -> Iterator[None]:
    """Turn a service's ValidationError or ApiError into a ServiceRefusal.

    ``conflict_fields`` names the form field a conflict code belongs to (``{"duplicate_sku": "sku"}``);
    ``label`` prefixes the messages (e.g. "Image 2") when they belong to an inline rather than the form.
    """
    try:
        yield
    except ApiError as exc:
        raise ServiceRefusal({(conflict_fields or {}).get(exc.code): [exc.message]}) from exc
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            errors = {(None if f == NON_FIELD_ERRORS else f): list(m) for f, m in exc.message_dict.items()}
        else:
            errors = {None: list(exc.messages)}
        if label:
            errors = {None: [f"{label}: {m}" for messages_ in errors.values() for m in messages_]}
        raise ServiceRefusal(errors) from exc


def _with_errors(form_class: type[forms.ModelForm], errors: dict[str | None, list[str]]) -> type[forms.ModelForm]:
    """``form_class`` that reports ``errors`` when it validates (a field not on the form: a form error)."""

    def clean(self):
        cleaned = form_class.clean(self)
        for field, messages_ in errors.items():
            if field is not None and field not in self.fields:
                messages_, field = [f"{field.replace('_', ' ').capitalize()}: {m}" for m in messages_], None
            self.add_error(field, messages_)
        return cleaned

    return type(form_class.__name__, (form_class,), {"clean": clean})


def _adopt(obj, saved) -> None:
    """Copy the row a service saved onto the admin's form instance, so logging and redirects see it."""
    for field in type(obj)._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


def _changed(form, allowed) -> dict:
    return {name: form.cleaned_data[name] for name in form.changed_data if name in allowed}


class ServiceAdmin(MerchantScopedAdmin):
    """A merchant-scoped admin whose saves go through services.

    ``save_model`` and ``save_formset`` call services inside ``with self.refusals()``. A refusal propagates out of
    the admin's atomic block (so every write of the request is rolled back), then the form is shown again, bound
    to the same POST, with the service's messages as its errors.
    """

    #: {conflict code: form field} for the services' 409s.
    conflict_fields: dict[str, str] = {}

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefusal as refusal:
            request._service_errors = refusal.errors
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        errors = getattr(request, "_service_errors", None)
        return _with_errors(form, errors) if errors else form

    def get_readonly_fields(self, request, obj=None):
        # A row stays with its merchant: the merchant is picked once, on the add form.
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, self.merchant_field] if obj is not None else readonly

    def only_merchant(self, request) -> Merchant | None:
        """The one merchant the user may write to, if there is exactly one (cached on the request)."""
        if not hasattr(request, "_catalog_only_merchant"):
            merchants = list(self.writable_merchants(request)[:2])
            request._catalog_only_merchant = merchants[0] if len(merchants) == 1 else None
        return request._catalog_only_merchant

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if merchant := self.only_merchant(request):
            initial.setdefault(self.merchant_field, merchant.pk)
        return initial

    def refusals(self, label: str = ""):
        return service_refusals(self.conflict_fields, label)


class MerchantRelatedFilter(admin.RelatedFieldListFilter):
    """A foreign-key filter offering only the related rows of the user's merchants."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        limit = None if request.user.is_superuser else {"merchant__in": list(member_roles(request))}
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=limit)


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


# -- categories ----------------------------------------------------------------------------


@admin.register(Category)
class CategoryAdmin(ServiceAdmin):
    list_display = ["name", "slug", "parent"]
    search_fields = ["name", "slug"]
    list_select_related = ["parent"]
    fields = ["merchant", "name", "slug", "parent"]
    prepopulated_fields = {"slug": ["name"]}
    conflict_fields = {"duplicate_slug": "slug"}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "slug":
            field.required = False
            field.help_text = "Leave blank to derive it from the name."
        return field

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # no category_delete service yet; products keep their category

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        slug = data.get("slug") or slugify(data.get("name", obj.name))[:140]
        with self.refusals():
            if change:
                changes = _changed(form, ("name", "slug", "parent"))
                if "slug" in changes:
                    changes["slug"] = slug
                saved = category_update(category=Category.objects.get(pk=obj.pk), data=changes)
            else:
                saved = category_create(merchant=data["merchant"], name=data["name"], slug=slug, parent=data["parent"])
        _adopt(obj, saved)


# -- products --------------------------------------------------------------------------------


def total_available_expression() -> Coalesce:
    """Sum of the product's stock levels' available units (0 without levels).

    A correlated subquery rather than a join and GROUP BY: a page of the changelist sums only its own rows, and
    counts and filters stay plain WHERE clauses.
    """
    levels = StockLevel.objects.filter(product=OuterRef("pk")).order_by().values("product")
    return Coalesce(Subquery(levels.annotate(total=Sum("available")).values("total")), 0)


def low_level_condition() -> Exists:
    return Exists(StockLevel.objects.filter(product=OuterRef("pk"), available__lte=F("low_stock_threshold")))


class StockStateFilter(admin.SimpleListFilter):
    """Stock state of a product over all its locations; exactly one state applies to each product.

    available = on_hand - reserved is never negative, so "total available > 0" means "some location has stock".

    - In stock: total available > 0 and no level is low.
    - Low stock: total available > 0 and some level is low, i.e. its available <= its low_stock_threshold (as the
      stock levels' "low stock" filter; a level with threshold 0 is low once it is empty).
    - Out of stock: total available is 0, including products without any stock level.
    """

    title = "stock state"
    parameter_name = "stock_state"

    def lookups(self, request, model_admin):
        return [("in", "In stock"), ("low", "Low stock"), ("out", "Out of stock")]

    def queryset(self, request, queryset):
        available, low = selectors.in_stock_condition(), low_level_condition()
        if self.value() == "in":
            return queryset.filter(available, ~low)
        if self.value() == "low":
            return queryset.filter(available, low)
        if self.value() == "out":
            return queryset.filter(~available)
        return queryset


class ProductImageForm(forms.ModelForm):
    url = forms.URLField(max_length=500, required=False, assume_scheme="https")

    class Meta:
        model = ProductImage
        fields = ["image", "url", "position", "alt"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        position = self.fields["position"]
        position.required, position.initial, position.help_text = False, None, "Blank: after the last image."
        if self.instance._state.adding:
            self.initial.pop("position", None)

    def clean(self):
        cleaned = super().clean()
        if self.instance._state.adding and bool(cleaned.get("image")) == bool(cleaned.get("url")):
            self.add_error("url", "Give either an uploaded image or a url, not both.")
        return cleaned


class ProductImageInline(ParentRightsInline, admin.TabularInline):
    """Images are added (product_image_add) and deleted (product_image_delete); existing ones are read-only."""

    model = ProductImage
    form = ProductImageForm
    fields = ["preview", "image", "url", "position", "alt"]
    readonly_fields = ["preview"]
    extra = 1

    @admin.display(description="preview")
    def preview(self, obj) -> str:
        source = (obj.url or (obj.image.url if obj.image else "")) if obj and obj.pk else ""
        return format_html('<img src="{}" alt="{}" style="max-height:48px">', source, obj.alt) if source else "-"

    def has_add_permission(self, request, obj=None) -> bool:
        return self._parent_may_change(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # no service edits an image; delete it and add another

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._parent_may_change(request, obj)


class StockLevelInline(ParentRightsInline, admin.TabularInline):
    """Stock per location, read-only: stock changes only through the stock levels' "Adjust stock" action."""

    model = StockLevel
    fields = readonly_fields = ["location", "on_hand", "reserved", "available", "low_stock_threshold", "updated_at"]
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("location")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


EXPORT_COLUMNS = (
    "sku", "title", "brand", "category", "price", "mrp", "currency", "tax_rate", "hsn_code", "weight_grams",
    "length_cm", "breadth_cm", "height_cm", "barcode", "status", "total_available",
)  # fmt: skip
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """Text as written, but a spreadsheet formula is neutralised with a leading apostrophe (CSV injection)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


@admin.register(Product)
class ProductAdmin(ServiceAdmin):
    list_display = ["sku", "title", "category", "price", "status", "total_available", "updated_at"]
    search_fields = ["sku", "title", "barcode"]
    list_filter = [("category", MerchantRelatedFilter), "status", StockStateFilter]
    actions = ["archive_selected"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["merchant", "sku", "title", "description", "brand", "category", "status"]}),
        ("Price and tax", {"fields": ["price", "mrp", "currency", "tax_rate", "hsn_code"]}),
        ("Shipping", {"fields": ["weight_grams", "length_cm", "breadth_cm", "height_cm", "barcode"]}),
        ("Attributes", {"fields": ["specs"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]
    conflict_fields = {"duplicate_sku": "sku"}

    def get_base_queryset(self, request) -> QuerySet:
        return (
            super()
            .get_base_queryset(request)
            .select_related("category")
            .annotate(total_available=total_available_expression())
        )

    def get_inlines(self, request, obj):
        return [ProductImageInline, StockLevelInline] if obj is not None else [ProductImageInline]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if merchant := self.only_merchant(request):
            initial.setdefault("currency", merchant.default_currency)
        return initial

    @admin.display(description="total available", ordering="total_available")
    def total_available(self, obj) -> int:
        return obj.total_available

    # -- saving through the services ------------------------------------------------------

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # products are archived, never deleted: orders and the stock ledger refer to them

    def save_model(self, request, obj, form, change):
        with self.refusals():
            if change:
                saved = product_update(product=Product.objects.get(pk=obj.pk), data=_changed(form, PRODUCT_FIELDS))
            else:
                data = {name: value for name, value in form.cleaned_data.items() if name in PRODUCT_FIELDS}
                saved = product_create(merchant=form.cleaned_data["merchant"], data=data)
        _adopt(obj, saved)

    def save_formset(self, request, form, formset, change):
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if formset.model is not ProductImage:
            return  # stock levels are read-only here
        product = form.instance
        for number, image_form in enumerate(formset.extra_forms, start=formset.initial_form_count() + 1):
            if not image_form.has_changed() or image_form in formset.deleted_forms:
                continue
            data = image_form.cleaned_data
            with self.refusals(label=f"Image {number}"):
                image = product_image_add(
                    product=product,
                    image=data.get("image") or None,
                    url=data.get("url") or "",
                    position=data.get("position"),
                    alt=data.get("alt") or "",
                )
            formset.new_objects.append(image)
        # Deleted last: a refused addition rolls back the rows, but not a stored file once it is deleted.
        for image_form in formset.deleted_forms:
            if image_form.instance.pk is not None:
                product_image_delete(image=image_form.instance)
                formset.deleted_objects.append(image_form.instance)

    # -- archive instead of delete ------------------------------------------------------

    @admin.action(description="Archive selected products", permissions=["change"])
    def archive_selected(self, request, queryset):
        archived = already = refused = 0
        for product in queryset:
            if not self.has_change_permission(request, product):
                refused += 1
            elif product.status == ProductStatus.ARCHIVED:
                already += 1
            else:
                product_archive(product=product)
                archived += 1
        self.message_user(request, f"Archived {archived} product(s).", messages.SUCCESS)
        if already:
            self.message_user(request, f"{already} product(s) were already archived.", messages.INFO)
        if refused:
            self.message_user(request, f"{refused} product(s) not archived: your role only reads them.", messages.ERROR)

    # -- CSV export of the filtered changelist ---------------------------------------------

    def get_urls(self):
        export = path(
            "export/",
            self.admin_site.admin_view(self.export_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_export",
        )
        return [export, *super().get_urls()]

    def export_view(self, request):
        """The changelist's rows (same query string: search, filters, ordering) as a streamed CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            changelist = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            return HttpResponseRedirect(f"{changelist}?{ERROR_FLAG}=1")

        def lines() -> Iterator[str]:
            writer = csv.writer(_Echo())
            yield writer.writerow(EXPORT_COLUMNS)
            for product in queryset.iterator(chunk_size=1000):
                yield writer.writerow(self.export_row(product))

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        filename = f"products-{timezone.localtime():%Y%m%d-%H%M}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @staticmethod
    def export_row(product: Product) -> list:
        category = product.category.name if product.category_id else ""
        text = [_cell(v) for v in (product.sku, product.title, product.brand, category)]
        return [
            *text, product.price, "" if product.mrp is None else product.mrp, product.currency, product.tax_rate,
            _cell(product.hsn_code), product.weight_grams, product.length_cm, product.breadth_cm, product.height_cm,
            _cell(product.barcode), product.status, product.total_available,
        ]  # fmt: skip


# -- locations -------------------------------------------------------------------------------


class LocationForm(forms.ModelForm):
    """Refuses an inactive default location before the services do.

    location_create makes an inactive location the default (when asked, or as the merchant's first location)
    without checking it, and the location_default_active constraint then fails as a 500; the model validation's
    own message ("Constraint ... is violated") says nothing useful.
    """

    def clean(self):
        cleaned = super().clean()
        if "is_active" not in self.fields or cleaned.get("is_active", True):
            return cleaned
        if not self.instance._state.adding and self.instance.is_default and cleaned.get("is_default"):
            self.add_error("is_active", "The default location cannot be deactivated; make another the default.")
        elif cleaned.get("is_default"):
            self.add_error("is_default", "An inactive location cannot be the default; make it active first.")
        elif self.instance._state.adding and not self._merchant_has_default(cleaned.get("merchant")):
            self.add_error("is_active", "The merchant's first location becomes its default, so it must be active.")
        return cleaned

    @staticmethod
    def _merchant_has_default(merchant) -> bool:
        return merchant is None or Location.objects.filter(merchant=merchant, is_default=True).exists()


@admin.register(Location)
class LocationAdmin(ServiceAdmin):
    form = LocationForm
    list_display = ["nickname", "name", "city", "postcode", "is_default", "is_active"]
    list_filter = ["is_active", "is_default"]
    search_fields = ["nickname", "name", "city", "postcode"]
    fieldsets = [
        (None, {"fields": ["merchant", "nickname", "name", "is_default", "is_active"]}),
        ("Contact", {"fields": ["contact_name", "phone", "email"]}),
        ("Address", {"fields": ["line1", "line2", "city", "state", "postcode", "country"]}),
    ]
    conflict_fields = {"duplicate_nickname": "nickname"}

    def get_base_queryset(self, request) -> QuerySet:
        return selectors.location_queryset()

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "is_default":
            field.help_text = "Makes this the merchant's default location (the first location always is)."
        return field

    def save_model(self, request, obj, form, change):
        with self.refusals():
            if change:
                is_default = form.cleaned_data["is_default"] if "is_default" in form.changed_data else None
                fresh = Location.objects.get(pk=obj.pk)
                saved = location_update(location=fresh, data=_changed(form, LOCATION_FIELDS), is_default=is_default)
            else:
                data = {name: value for name, value in form.cleaned_data.items() if name in LOCATION_FIELDS}
                is_default = form.cleaned_data.get("is_default", False)
                saved = location_create(merchant=form.cleaned_data["merchant"], data=data, is_default=is_default)
        _adopt(obj, saved)

    # -- deleting through location_delete, one location at a time ---------------------------

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # each deletion goes through location_delete and its checks
        return actions

    def get_deleted_objects(self, objs, request):
        objs = list(objs)
        held = StockLevel.objects.filter(location__in=objs).count()
        if held:  # summarised: a busy warehouse holds thousands of stock records
            protected = [f"{held} stock record(s). A location that holds stock cannot be deleted; deactivate it."]
            return [str(obj) for obj in objs], {}, set(), protected
        return super().get_deleted_objects(objs, request)

    def delete_model(self, request, obj):
        with self.refusals():
            location_delete(location=obj)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceRefusal as refusal:  # the admin's atomic block rolled back the log entry
            self.message_user(request, refusal.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:catalog_location_change", args=[object_id]))


# -- stock levels ----------------------------------------------------------------------------


class LowStockFilter(admin.SimpleListFilter):
    """Levels whose available units are at or below their low-stock threshold (the API's ``low_stock``)."""

    title = "low stock"
    parameter_name = "low_stock"

    def lookups(self, request, model_admin):
        return [("yes", "Low stock"), ("no", "Above the threshold")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(available__lte=F("low_stock_threshold"))
        if self.value() == "no":
            return queryset.filter(available__gt=F("low_stock_threshold"))
        return queryset


class StockAdjustForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("add", "Add to on hand"), ("remove", "Remove from on hand"), ("set", "Set on hand to")],
        widget=forms.RadioSelect,
    )
    quantity = forms.IntegerField(min_value=0, max_value=10_000_000)
    reason = forms.CharField(max_length=255, help_text="Recorded in the stock ledger, e.g. 'cycle count'.")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("quantity") == 0 and cleaned.get("action") in ("add", "remove"):
            self.add_error("quantity", "Add or remove at least 1.")
        return cleaned


@admin.register(StockLevel)
class StockLevelAdmin(MerchantScopedAdmin):
    """Stock per product and location. Counts change only through "Adjust stock" (stock_adjust, with a ledger
    row); the change form edits only the low-stock threshold."""

    list_display = ["sku", "location", "on_hand", "reserved", "available", "low_stock_threshold", "updated_at"]
    list_select_related = ["location"]
    list_filter = [("location", MerchantRelatedFilter), LowStockFilter]
    search_fields = ["sku"]
    actions = ["adjust_stock"]
    fields = ["product", "location", "sku", "on_hand", "reserved", "available", "low_stock_threshold", "updated_at"]
    readonly_fields = ["product", "location", "sku", "on_hand", "reserved", "available", "updated_at"]
    #: Success messages listed one by one up to this many levels, then summed up.
    adjust_messages_max = 25

    def get_base_queryset(self, request) -> QuerySet:
        return selectors.stock_level_queryset()

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        if "low_stock_threshold" in form.changed_data:
            stock_set_threshold(level=obj, low_stock_threshold=form.cleaned_data["low_stock_threshold"])

    @admin.action(description="Adjust stock", permissions=["change"])
    def adjust_stock(self, request, queryset):
        """An intermediate page asks for add/remove/set, quantity and reason, then stock_adjust runs per level."""
        queryset = queryset.select_related("merchant", "product", "location")
        form = StockAdjustForm(request.POST if "apply" in request.POST else None, prefix="adjust")
        if form.is_bound and form.is_valid():
            self._adjust(request, queryset, **form.cleaned_data)
            return None
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": "Adjust stock",
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "levels": queryset[:100],
            "count": queryset.count(),
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/catalog/stocklevel/adjust_stock.html", context)

    def _adjust(self, request, queryset, *, action: str, quantity: int, reason: str) -> None:
        actor, done = f"user:{request.user.pk}", 0
        for level in queryset:
            where = f"{level.sku} at {level.location}"
            if not self.has_change_permission(request, level):
                self.message_user(request, f"{where}: your role only reads this merchant's stock.", messages.ERROR)
                continue
            try:
                level = stock_adjust(
                    merchant=level.merchant, product=level.product, location=level.location, action=action,
                    quantity=quantity, reason=reason, actor=actor,
                )  # fmt: skip
            except ApiError as exc:
                self.message_user(request, f"{where}: {exc.message}", messages.ERROR)
            except ValidationError as exc:
                self.message_user(request, f"{where}: {' '.join(exc.messages)}", messages.ERROR)
            except DataError:
                self.message_user(request, f"{where}: the quantity is out of range.", messages.ERROR)
            else:
                done += 1
                if done <= self.adjust_messages_max:
                    text = f"{where}: on hand {level.on_hand}, available {level.on_hand - level.reserved}."
                    self.message_user(request, text, messages.SUCCESS)
        if done > self.adjust_messages_max:
            more = done - self.adjust_messages_max
            self.message_user(request, f"… and {more} more stock level(s) adjusted.", messages.SUCCESS)


# -- the stock ledger ----------------------------------------------------------------------


@admin.register(StockMovement)
class StockMovementAdmin(MerchantScopedAdmin):
    """The append-only stock ledger: read-only for everyone."""

    list_display = [
        "id", "created_at", "product__sku", "location", "kind", "quantity", "on_hand_after", "reserved_after",
        "reference", "actor",
    ]  # fmt: skip
    list_filter = ["kind", ("location", MerchantRelatedFilter)]
    search_fields = ["product__sku", "reference"]
    date_hierarchy = "created_at"
    list_select_related = ["product", "location"]

    def get_base_queryset(self, request) -> QuerySet:
        return selectors.stock_movement_queryset()

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

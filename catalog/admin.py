"""The merchant dashboard for the catalog: categories, products, locations, stock levels and the stock ledger.

Every admin derives from ``MerchantScopedAdmin`` (rows, choices and filters limited to the user's merchants) and
writes only through ``catalog.services``. A service's refusal (``ValidationError`` or a ``DomainError``) is shown
as a form error or an admin message, never a 500, and leaves nothing half-written.
"""

from collections.abc import Iterator

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import DataError
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.html import format_html
from django.utils.text import slugify

from catalog import selectors
from catalog.models import Category, Location, Product, ProductImage, ProductStatus, StockLevel, StockMovement
from catalog.services import (
    LOCATION_FIELDS,
    PRODUCT_FIELDS,
    category_create,
    category_delete,
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
from shopops.admin import (
    ChangelistExportMixin,
    MerchantRelatedFilter,
    MerchantScopedAdmin,
    ParentRightsInline,
    ReadOnlyAdmin,
    ServiceAdmin,
    action_form_page,
    adopt,
    changed_data,
    member_roles,
)
from shopops.changelist import KeysetListMixin
from shopops.csvexport import csv_text
from shopops.errors import DomainError

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

    def delete_model(self, request, obj):
        with self.refusals():
            category_delete(category=obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        slug = data.get("slug") or slugify(data.get("name", obj.name))[:140]
        with self.refusals():
            if change:
                changes = changed_data(form, ("name", "slug", "parent"))
                if "slug" in changes:
                    changes["slug"] = slug
                saved = category_update(category=Category.objects.get(pk=obj.pk), data=changes)
            else:
                saved = category_create(merchant=data["merchant"], name=data["name"], slug=slug, parent=data["parent"])
        adopt(obj, saved)


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
    "sku", "title", "brand", "category", "price", "mrp", "currency", "tax_rate", "hsn_code", "uqc", "weight_grams",
    "length_cm", "breadth_cm", "height_cm", "barcode", "status", "total_available",
)  # fmt: skip


@admin.register(Product)
class ProductAdmin(ChangelistExportMixin, ServiceAdmin):
    list_display = ["sku", "title", "category", "price", "status", "total_available", "updated_at"]
    search_fields = ["sku", "title", "barcode"]
    list_filter = [("category", MerchantRelatedFilter), "status", StockStateFilter]
    actions = ["archive_selected"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["merchant", "sku", "title", "description", "brand", "category", "status"]}),
        ("Price and tax", {"fields": ["price", "mrp", "currency", "tax_rate", "hsn_code", "uqc"]}),
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
                saved = product_update(product=Product.objects.get(pk=obj.pk), data=changed_data(form, PRODUCT_FIELDS))
            else:
                data = {name: value for name, value in form.cleaned_data.items() if name in PRODUCT_FIELDS}
                saved = product_create(merchant=form.cleaned_data["merchant"], data=data)
        adopt(obj, saved)

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

    export_name = "products"

    def export_rows(self, queryset) -> Iterator[list]:
        yield list(EXPORT_COLUMNS)
        for product in queryset.iterator(chunk_size=1000):
            yield self.export_row(product)

    @staticmethod
    def export_row(product: Product) -> list:
        category = product.category.name if product.category_id else ""
        text = [csv_text(v) for v in (product.sku, product.title, product.brand, category)]
        return [
            *text, product.price, "" if product.mrp is None else product.mrp, product.currency, product.tax_rate,
            csv_text(product.hsn_code), product.uqc, product.weight_grams, product.length_cm, product.breadth_cm,
            product.height_cm,
            csv_text(product.barcode), product.status, product.total_available,
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
                saved = location_update(location=fresh, data=changed_data(form, LOCATION_FIELDS), is_default=is_default)
            else:
                data = {name: value for name, value in form.cleaned_data.items() if name in LOCATION_FIELDS}
                is_default = form.cleaned_data.get("is_default", False)
                saved = location_create(merchant=form.cleaned_data["merchant"], data=data, is_default=is_default)
        adopt(obj, saved)

    # -- deleting through location_delete, one location at a time ---------------------------

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
        return action_form_page(self, request, form=form, title="Adjust stock", action="adjust_stock",
                                rows_name="levels", rows=queryset[:100], count=queryset.count())  # fmt: skip

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
            except DomainError as exc:
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
class StockMovementAdmin(KeysetListMixin, ReadOnlyAdmin):
    """The append-only stock ledger: read-only for everyone.

    The ledger holds a million movements per merchant: keyset pages, newest first through the
    (merchant, created_at, id) index, which also serves the date filter (every merchant's: (created_at, id))."""

    list_display = [
        "id", "created_at", "product__sku", "location", "kind", "quantity", "on_hand_after", "reserved_after",
        "reference", "actor",
    ]  # fmt: skip
    list_filter = [("created_at", admin.DateFieldListFilter), "kind", ("location", MerchantRelatedFilter)]
    ordering = ["-created_at", "-id"]
    # Only the time has an index of (merchant, column, id); sorting by another column would read every movement of
    # the merchant.
    sortable_by = ["created_at"]
    # Searched by catalog.selectors.stock_movement_search (each kind of term through its index), not by these LIKEs.
    search_fields = ["product__sku", "reference"]
    search_help_text = "An SKU (any case) finds its product's movements; a reference (e.g. order:SO-000123) exactly."
    list_select_related = ["product", "location"]

    def get_base_queryset(self, request) -> QuerySet:
        return selectors.stock_movement_queryset()

    def get_search_results(self, request, queryset, search_term):
        merchant_ids = None if request.user.is_superuser else list(member_roles(request))
        return selectors.stock_movement_search(queryset, search_term, merchant_ids), False

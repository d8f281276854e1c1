import django_filters
from django.db.models import Exists, F, OuterRef, Q

from catalog.models import Location, MovementKind, Product, ProductStatus, StockLevel, StockMovement
from catalog.selectors import in_stock_condition
from shopops.api.filters import CharInFilter, DateBoundFilter, StrictBooleanFilter


def _location_query(value: str) -> Q:
    """A location named by id or nickname; an id wins over a nickname made of digits."""
    if value.isdigit():
        id_exists = Exists(Location.objects.filter(pk=int(value), merchant=OuterRef("merchant")))
        return Q(location_id=int(value)) | (Q(location__nickname=value) & ~id_exists)
    return Q(location__nickname=value)


class ProductFilter(django_filters.FilterSet):
    sku = CharInFilter(field_name="sku", help_text="One SKU or a comma list.")
    q = django_filters.CharFilter(method="filter_q", help_text="Search SKU, title, brand and barcode.")
    category = django_filters.NumberFilter(field_name="category_id")
    status = django_filters.ChoiceFilter(choices=ProductStatus.choices)
    price_min = django_filters.NumberFilter(field_name="price", lookup_expr="gte")
    price_max = django_filters.NumberFilter(field_name="price", lookup_expr="lte")
    in_stock = StrictBooleanFilter(method="filter_in_stock", help_text="Some location has stock available.")
    updated_since = DateBoundFilter(field_name="updated_at", bound="after")

    class Meta:
        model = Product
        fields = []

    def filter_q(self, queryset, name, value):
        return queryset.filter(
            Q(sku__icontains=value) | Q(title__icontains=value) | Q(brand__icontains=value) | Q(barcode=value)
        )

    def filter_in_stock(self, queryset, name, value):
        condition = in_stock_condition()
        return queryset.filter(condition if value else ~condition)


class StockLevelFilter(django_filters.FilterSet):
    sku = CharInFilter(field_name="sku", help_text="One SKU or a comma list.")
    location = django_filters.CharFilter(method="filter_location", help_text="Location id or nickname.")
    low_stock = StrictBooleanFilter(
        method="filter_low_stock", help_text="Available at or below the level's low-stock threshold."
    )
    available_min = django_filters.NumberFilter(field_name="available", lookup_expr="gte")
    available_max = django_filters.NumberFilter(field_name="available", lookup_expr="lte")
    updated_since = DateBoundFilter(field_name="updated_at", bound="after")

    class Meta:
        model = StockLevel
        fields = []

    def filter_location(self, queryset, name, value):
        return queryset.filter(_location_query(value))

    def filter_low_stock(self, queryset, name, value):
        low = Q(available__lte=F("low_stock_threshold"))
        return queryset.filter(low if value else ~low)


class StockMovementFilter(django_filters.FilterSet):
    sku = CharInFilter(field_name="product__sku", help_text="One SKU or a comma list.")
    location = django_filters.CharFilter(method="filter_location", help_text="Location id or nickname.")
    kind = django_filters.MultipleChoiceFilter(choices=MovementKind.choices)
    reference = django_filters.CharFilter()
    created_after = DateBoundFilter(field_name="created_at", bound="after")
    created_before = DateBoundFilter(field_name="created_at", bound="before")

    class Meta:
        model = StockMovement
        fields = []

    def filter_location(self, queryset, name, value):
        return queryset.filter(_location_query(value))


class LocationFilter(django_filters.FilterSet):
    is_active = StrictBooleanFilter()
    is_default = StrictBooleanFilter()
    q = django_filters.CharFilter(method="filter_q")

    class Meta:
        model = Location
        fields = []

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(nickname__icontains=value) | Q(name__icontains=value) | Q(city__icontains=value))

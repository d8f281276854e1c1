import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q

from orders.models import (
    BulkImport,
    Channel,
    ChannelKind,
    Customer,
    GatewayPaymentStatus,
    ImportKind,
    ImportStatus,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentGateway,
    PaymentMethod,
    Return,
    ReturnStatus,
    SkuMapping,
)
from shopops.api.filters import CharInFilter, DateBoundFilter, StrictBooleanFilter
from shopops.validation import as_id


class OrderFilter(django_filters.FilterSet):
    status = CharInFilter(field_name="status", help_text="One status or a comma list, e.g. confirmed,packed.")
    channel = django_filters.CharFilter(method="filter_channel", help_text="The channel's channel_id or id.")
    payment_method = django_filters.ChoiceFilter(choices=PaymentMethod.choices)
    order_date_after = DateBoundFilter(field_name="ordered_at", bound="after")
    order_date_before = DateBoundFilter(field_name="ordered_at", bound="before")
    pack_date_after = DateBoundFilter(field_name="packed_at", bound="after")
    pack_date_before = DateBoundFilter(field_name="packed_at", bound="before")
    ship_date_after = DateBoundFilter(field_name="shipped_at", bound="after")
    ship_date_before = DateBoundFilter(field_name="shipped_at", bound="before")
    updated_since = DateBoundFilter(field_name="updated_at", bound="after")
    q = django_filters.CharFilter(
        method="filter_q", help_text="Order number, channel order id, customer name, phone or email, or AWB."
    )
    sku = django_filters.CharFilter(method="filter_sku", help_text="Orders with a line of this SKU.")
    pickup_location = django_filters.CharFilter(method="filter_location", help_text="Location id or nickname.")
    awb = django_filters.CharFilter()

    class Meta:
        model = Order
        fields = []

    def filter_channel(self, queryset, name, value):
        query = Q(channel__channel_id=value)
        if as_id(value) is not None:
            query |= Q(channel_id=as_id(value))
        return queryset.filter(query)

    def filter_q(self, queryset, name, value):
        value = value.strip()
        query = (
            Q(number__iexact=value) | Q(channel_order_id=value) | Q(awb=value) | Q(customer__name__icontains=value)
            | Q(customer__email__iexact=value)
        )  # fmt: skip
        digits = "".join(ch for ch in value if ch.isdigit())
        if len(digits) >= 6:
            query |= Q(customer__phone__endswith=digits[-10:])
        return queryset.filter(query)

    def filter_sku(self, queryset, name, value):
        return queryset.filter(Exists(OrderLine.objects.filter(order=OuterRef("pk"), sku=value)))

    def filter_location(self, queryset, name, value):
        query = Q(pickup_location__nickname=value)
        if as_id(value) is not None:
            query |= Q(pickup_location_id=as_id(value))
        return queryset.filter(query)

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        statuses = data.get("status") or []
        unknown = [s for s in statuses if s not in OrderStatus.values]
        if unknown:
            raise ValidationError({"status": [f"Unknown status {', '.join(unknown)}."]})
        queryset = super().filter_queryset(queryset)
        # An order is packed before it ships (a database constraint), so a ship-date upper bound is also a
        # pack-date upper bound. Saying so lets the database range-scan the pack-date index for
        # "shipped in May, newest packed first" instead of walking every order packed since.
        if data.get("ship_date_before") is not None:
            queryset = self.filters["pack_date_before"].filter(queryset, data["ship_date_before"])
        return queryset


class ChannelFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ChannelKind.choices)
    is_active = StrictBooleanFilter()

    class Meta:
        model = Channel
        fields = []


class SkuMappingFilter(django_filters.FilterSet):
    channel = django_filters.NumberFilter(field_name="channel_id", help_text="The channel's id.")
    channel_sku = django_filters.CharFilter()
    sku = django_filters.CharFilter(field_name="product__sku", help_text="The catalog SKU.")

    class Meta:
        model = SkuMapping
        fields = []


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", help_text="Name, email or phone.")
    last_order_after = DateBoundFilter(field_name="last_order_at", bound="after")
    last_order_before = DateBoundFilter(field_name="last_order_at", bound="before")

    class Meta:
        model = Customer
        fields = []

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(email__iexact=value) | Q(phone__endswith=value[-10:]))


class ReturnFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ReturnStatus.choices)
    order = django_filters.NumberFilter(field_name="order_id")
    created_after = DateBoundFilter(field_name="created_at", bound="after")
    created_before = DateBoundFilter(field_name="created_at", bound="before")

    class Meta:
        model = Return
        fields = []


class ImportFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ImportKind.choices)
    status = django_filters.ChoiceFilter(choices=ImportStatus.choices)

    class Meta:
        model = BulkImport
        fields = []


class PaymentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=GatewayPaymentStatus.choices)
    gateway = django_filters.ChoiceFilter(choices=PaymentGateway.choices)
    order = django_filters.NumberFilter(field_name="order_id")
    matched = StrictBooleanFilter(field_name="order", lookup_expr="isnull", exclude=True,
                                  help_text="false: the payments waiting to be matched to an order.")  # fmt: skip
    payment_id = django_filters.CharFilter(field_name="payment_id", help_text="The gateway's payment id, exactly.")

    class Meta:
        model = Payment
        fields = []

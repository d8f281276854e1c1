"""Reads of the catalog and inventory, with their joins decided once for lists, exports and the admin."""

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from catalog.models import Location, Product, ProductImage, StockLevel, StockMovement
from shopops.models import Merchant


def product_queryset() -> QuerySet[Product]:
    return Product.objects.prefetch_related(
        Prefetch("images", queryset=ProductImage.objects.order_by("position", "id"))
    )


def in_stock_condition() -> Exists:
    return Exists(StockLevel.objects.filter(product=OuterRef("pk"), available__gt=0))


def stock_level_queryset() -> QuerySet[StockLevel]:
    return StockLevel.objects.all()


def stock_movement_queryset() -> QuerySet[StockMovement]:
    return StockMovement.objects.select_related("product", "location")


def stock_movement_search(
    queryset: QuerySet[StockMovement], term: str, merchant_ids: list[int] | None = None
) -> QuerySet[StockMovement]:
    """The movements of ``queryset`` with ``term`` as their reference exactly (e.g. order:SO-000123, through the
    (merchant, reference) index) or of the product whose SKU it is (any case, through the product_sku_any_case
    index, then the (merchant, product, id) index). The products are found first, in one query;
    ``merchant_ids`` narrows that look-up (None: every merchant)."""
    term = term.strip()
    if not term:
        return queryset
    scope = {} if merchant_ids is None else {"merchant_id__in": merchant_ids}
    product_ids = list(Product.objects.filter(**scope, sku__iexact=term).order_by().values_list("pk", flat=True))
    found = Q(reference=term)
    if product_ids:
        found |= Q(product_id__in=product_ids)
    return queryset.filter(found)


def location_queryset() -> QuerySet[Location]:
    return Location.objects.all()


def inventory_summary(*, merchant: Merchant, sku: str) -> dict:
    """Totals and per-location levels of one SKU; 404 if the merchant has no such product."""
    product = get_object_or_404(Product.objects.only("pk", "sku"), merchant=merchant, sku=sku)
    levels = list(StockLevel.objects.filter(product=product).select_related("location").order_by("location__nickname"))
    totals = StockLevel.objects.filter(product=product).aggregate(on_hand=Sum("on_hand"), reserved=Sum("reserved"))
    on_hand, reserved = totals["on_hand"] or 0, totals["reserved"] or 0
    return {
        "sku": product.sku,
        "product": product.pk,
        "total_on_hand": on_hand,
        "total_reserved": reserved,
        "total_available": on_hand - reserved,
        "locations": [
            {
                "location": level.location_id,
                "nickname": level.location.nickname,
                "on_hand": level.on_hand,
                "reserved": level.reserved,
                "available": level.available,
                "low_stock_threshold": level.low_stock_threshold,
            }
            for level in levels
        ],
    }

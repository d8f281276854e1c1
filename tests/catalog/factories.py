from decimal import Decimal

import factory

from catalog import services
from catalog.models import Category, Location, Product, StockLevel


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    title = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("499.00")
    mrp = Decimal("599.00")
    tax_rate = Decimal("18.00")
    hsn_code = "6109"
    weight_grams = 250


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    nickname = factory.Sequence(lambda n: f"wh-{n}")
    name = factory.Sequence(lambda n: f"Warehouse {n}")
    line1 = "12 MG Road"
    city = "Bengaluru"
    state = "Karnataka"
    postcode = "560001"
    country = "IN"


def stock(product: Product, location: Location, on_hand: int, reserved: int = 0) -> StockLevel:
    """Put ``on_hand`` units at ``location`` through the service (ledger included), reserving ``reserved``."""
    level = services.stock_adjust(
        merchant=product.merchant, product=product, location=location, action="set", quantity=on_hand,
        reason="test stock", actor="system",
    )  # fmt: skip
    if reserved:
        services.stock_reserve(
            merchant=product.merchant,
            lines=[services.StockLine(product.pk, location.pk, reserved)],
            reference="test",
            actor="system",
        )
    level.refresh_from_db()
    return level

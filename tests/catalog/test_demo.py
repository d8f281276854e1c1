from io import StringIO

from django.core.management import call_command
from django.db.models import Sum

from catalog.models import ON_HAND_KINDS, Category, Location, Product, StockLevel, StockMovement


def test_seed_demo_builds_a_catalog_with_stock_and_running_it_again_changes_nothing(db):
    call_command("seed_demo", stdout=StringIO())
    counts = (Category.objects.count(), Product.objects.count(), Location.objects.count(),
              StockLevel.objects.count(), StockMovement.objects.count())  # fmt: skip

    out = StringIO()
    call_command("seed_demo", stdout=out)

    assert counts[:4] == (4, 30, 2, 60)
    assert (Category.objects.count(), Product.objects.count(), Location.objects.count(), StockLevel.objects.count(),
            StockMovement.objects.count()) == counts  # fmt: skip
    assert "Demo catalog:  30 products (0 new), 2 locations with stock" in out.getvalue()
    assert Location.objects.get(is_default=True).nickname == "blr-wh"
    assert all(p.specs and p.hsn_code and p.weight_grams > 0 and p.currency == "INR" for p in Product.objects.all())
    for level in StockLevel.objects.all():
        ledger = StockMovement.objects.filter(stock_level=level, kind__in=ON_HAND_KINDS).aggregate(s=Sum("quantity"))
        assert (ledger["s"] or 0) == level.on_hand

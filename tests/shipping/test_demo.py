import time
from io import StringIO

from django.core.management import call_command

from shipping.models import Courier, RateCard, ServiceablePincode
from shipping.selectors import quote
from shopops.models import Merchant


def test_seed_demo_builds_couriers_with_rate_cards_and_serviceability_and_running_it_again_changes_nothing(db):
    call_command("seed_demo", stdout=StringIO())
    counts = (Courier.objects.count(), RateCard.objects.count(), ServiceablePincode.objects.count())
    started = time.perf_counter()

    out = StringIO()
    call_command("seed_demo", stdout=out)

    assert time.perf_counter() - started < 2
    assert counts[:2] == (6, 29)  # 6 couriers x 5 zones, less Xpressbees' special zone
    assert (Courier.objects.count(), RateCard.objects.count(), ServiceablePincode.objects.count()) == counts
    assert "Demo shipping: 6 couriers (0 new)" in out.getvalue()
    merchant = Merchant.objects.get(slug="demo")
    # Bengaluru warehouse to Gangtok (Sikkim): a special zone, some couriers blocked with their reasons.
    result = quote(merchant=merchant, pickup_postcode="562114", delivery_postcode="737101", weight_grams=800, cod=True,
                   declared_value=1500)  # fmt: skip
    assert result.zone == "special"
    assert len(result.couriers) >= 2 and result.recommended_courier_id is not None
    assert all(q.total_charge > 0 for q in result.couriers)
    assert len(result.blocked) >= 2

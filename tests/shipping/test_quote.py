"""Rate shopping: quote() between known pincodes, priced to the paisa, sorted, blocked with exact reasons."""

import io
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from shipping.selectors import Weights, quote
from shipping.services.couriers import courier_create, pincode_block, serviceability_import
from shipping.zones import UnknownPincode, Zone

D = Decimal
PICKUP, DELIVERY = "560001", "400050"  # Bengaluru -> Mumbai: metro to metro


def metro_card(**overrides) -> dict:
    values = {"zone": Zone.METRO, "first_slab_grams": 500, "first_slab_price": D("40.00"), "additional_slab_grams": 500,
              "additional_slab_price": D("35.00"), "cod_fixed": D("30.00"), "cod_percent": D("2.00"),
              "fuel_surcharge_percent": D("10.00"), "estimated_days": 5}  # fmt: skip
    return values | overrides


def make_courier(merchant, code: str, *, cards: list[dict] | None = None, serviceability: bytes | None = None, **data):
    """A courier with a metro rate card (unless ``cards``) serving both test pincodes (unless ``serviceability``)."""
    data = {"pickup_cutoff": time.max, **data}  # picked up today whatever the hour: ETDs are today + days
    courier = courier_create(merchant=merchant, data={"code": code, "name": code.title(), **data},
                             rate_cards=[metro_card()] if cards is None else cards)  # fmt: skip
    csv = serviceability or f"pincode,pickup,delivery,cod\n{PICKUP},Y,Y,Y\n{DELIVERY},Y,Y,Y\n".encode()
    assert serviceability_import(courier=courier, fileobj=io.BytesIO(csv)).errors == []
    return courier


@pytest.fixture
def three(merchant):
    """Alpha (surface, cheap, slow), Bravo (air, dear, fast), Charlie (express, between)."""
    alpha = make_courier(merchant, "alpha", mode="surface")
    bravo = make_courier(merchant, "bravo", mode="air", cards=[metro_card(
        first_slab_price=D("60.00"), additional_slab_price=D("50.00"), cod_fixed=D("25.00"), cod_percent=D("1.50"),
        fuel_surcharge_percent=D("0"), estimated_days=2)])  # fmt: skip
    charlie = make_courier(merchant, "charlie", mode="express", cards=[metro_card(
        first_slab_price=D("50.00"), additional_slab_price=D("40.00"), cod_fixed=D("40.00"), cod_percent=D("0"),
        fuel_surcharge_percent=D("5.00"), estimated_days=3)])  # fmt: skip
    return alpha, bravo, charlie


def priced(result) -> dict:
    return {q.code: (q.zone, q.chargeable_weight_grams, q.freight_charge, q.cod_charge, q.fuel_surcharge, q.tax,
                     q.total_charge, q.estimated_delivery_days, q.etd, q.rating) for q in result.couriers}  # fmt: skip


def test_prepaid_quote_prices_each_courier_exactly(merchant, three):
    today = timezone.localdate()

    result = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=1200)

    # 1,200 g -> 1,500 g on every card (500 g first slab + 2 x 500 g); rating 5 x 0.90 x (1 - 0.10) = 4.05.
    # alpha:   40 + 2 x 35 = 110.00; fuel 10% = 11.00; GST 18% of 121.00 = 21.78; total 142.78
    # bravo:   60 + 2 x 50 = 160.00; fuel 0% = 0.00;   GST 18% of 160.00 = 28.80; total 188.80
    # charlie: 50 + 2 x 40 = 130.00; fuel 5% = 6.50;   GST 18% of 136.50 = 24.57; total 161.07
    assert result.zone == Zone.METRO == "metro"
    assert result.blocked == []
    assert priced(result) == {
        "alpha": ("metro", 1500, D("110.00"), D("0.00"), D("11.00"), D("21.78"), D("142.78"), 5,
                  today + timedelta(days=5), D("4.05")),
        "bravo": ("metro", 1500, D("160.00"), D("0.00"), D("0.00"), D("28.80"), D("188.80"), 2,
                  today + timedelta(days=2), D("4.05")),
        "charlie": ("metro", 1500, D("130.00"), D("0.00"), D("6.50"), D("24.57"), D("161.07"), 3,
                    today + timedelta(days=3), D("4.05")),
    }  # fmt: skip


def test_cod_quote_adds_the_cod_charge_before_gst(merchant, three):
    result = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=1200, cod=True,
                   declared_value=D("2000.00"))  # fmt: skip

    # alpha:   COD max(30.00, 2% of 2,000 = 40.00) = 40.00; GST 18% of 161.00 = 28.98; total 189.98
    # bravo:   COD max(25.00, 1.5% of 2,000 = 30.00) = 30.00; GST 18% of 190.00 = 34.20; total 224.20
    # charlie: COD max(40.00, 0% = 0.00) = 40.00; GST 18% of 176.50 = 31.77; total 208.27
    assert {code: row[3:7] for code, row in priced(result).items()} == {
        "alpha": (D("40.00"), D("11.00"), D("28.98"), D("189.98")),
        "bravo": (D("30.00"), D("0.00"), D("34.20"), D("224.20")),
        "charlie": (D("40.00"), D("6.50"), D("31.77"), D("208.27")),
    }


def test_volumetric_weight_sets_the_slab(merchant, three):
    # 30 x 20 x 15 cm / 5000 = 1,800 g > 300 g actual -> 2,000 g: alpha 40 + 3 x 35 = 145.00; fuel 14.50;
    # GST 18% of 159.50 = 28.71; total 188.21
    result = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=300,
                   length_cm=D("30"), breadth_cm=D("20"), height_cm=D("15"))  # fmt: skip

    alpha = priced(result)["alpha"]
    assert alpha[1:7] == (2000, D("145.00"), D("0.00"), D("14.50"), D("28.71"), D("188.21"))


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("recommended", ["bravo", "charlie", "alpha"]),  # scores 0.8401, 0.8052, 0.7820 (see below)
        ("cheapest", ["alpha", "charlie", "bravo"]),  # 142.78, 161.07, 188.80
        ("fastest", ["bravo", "charlie", "alpha"]),  # 2, 3, 5 days
        ("rating", ["alpha", "charlie", "bravo"]),  # all 4.05: ties go to the cheaper
    ],
)
def test_each_sort_gives_the_courier_order_and_the_recommendation(merchant, three, sort, order):
    ids = {c.code: c.pk for c in three}

    result = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=1200, sort=sort)

    assert [q.courier_id for q in result.couriers] == [ids[code] for code in order]
    assert result.recommended_courier_id == ids["bravo"]


def test_recommended_score_with_default_weights(merchant, three):
    result = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=1200)

    # weights 0.5 price, 0.3 speed, 0.2 performance (sum 1); cheapest 142.78, fastest 2 days; 4.05 / 5 = 0.81
    # alpha:   0.5 x 1 + 0.3 x 2/5 + 0.2 x 0.81 = 0.5 + 0.12 + 0.162 = 0.7820
    # bravo:   0.5 x (142.78 / 188.80 = 0.75625) + 0.3 x 1 + 0.162 = 0.378125 + 0.3 + 0.162 = 0.840125 -> 0.8401
    # charlie: 0.5 x (142.78 / 161.07 = 0.886447) + 0.3 x 2/3 + 0.162 = 0.443223 + 0.2 + 0.162 = 0.805223 -> 0.8052
    assert [(q.code, q.score) for q in result.couriers] == [
        ("bravo", D("0.8401")), ("charlie", D("0.8052")), ("alpha", D("0.7820"))]  # fmt: skip


def test_recommended_score_with_custom_weights(merchant, three):
    alpha, _, _ = three

    result = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=1200,
                   weights=Weights(price=D("3"), speed=D("1"), performance=D("0")))  # fmt: skip

    # weights normalised by 3 + 1 + 0 = 4:
    # alpha:   (3 x 1 + 1 x 0.4) / 4 = 3.4 / 4 = 0.8500
    # charlie: (3 x 0.886447 + 1 x 0.666667) / 4 = (2.659341 + 0.666667) / 4 = 3.326007 / 4 = 0.831502 -> 0.8315
    # bravo:   (3 x 0.75625 + 1 x 1) / 4 = 3.26875 / 4 = 0.8171875 -> 0.8172
    assert [(q.code, q.score) for q in result.couriers] == [
        ("alpha", D("0.8500")), ("charlie", D("0.8315")), ("bravo", D("0.8172"))]  # fmt: skip
    assert result.recommended_courier_id == alpha.pk


ONLY_DELIVERY = f"pincode\n{DELIVERY}\n".encode()
ONLY_PICKUP = f"pincode\n{PICKUP}\n".encode()
BOTH = f"pincode,pickup,delivery,cod\n{PICKUP},Y,Y,Y\n{DELIVERY},Y,Y,Y\n"


@pytest.mark.parametrize(
    ("courier", "request_", "reason"),
    [
        ({"is_active": False}, {}, "inactive"),
        ({"mode": "surface"}, {"mode": "air"}, "not air"),
        ({"cards": [metro_card(zone=Zone.WITHIN_CITY)]}, {}, "no rate card for the metro to metro zone"),
        ({"serviceability": ONLY_DELIVERY}, {}, "pickup pincode not serviceable"),
        ({"serviceability": BOTH.replace(f"{PICKUP},Y", f"{PICKUP},N").encode()}, {}, "pickup pincode not serviceable"),
        ({"serviceability": ONLY_PICKUP}, {}, "delivery pincode not serviceable"),
        ({"serviceability": BOTH.replace(f"{DELIVERY},Y,Y", f"{DELIVERY},Y,N").encode()}, {},
         "delivery pincode not serviceable"),
        ({"supports_cod": False}, {"cod": True}, "no COD"),
        ({"serviceability": BOTH.replace(f"{DELIVERY},Y,Y,Y", f"{DELIVERY},Y,Y,N").encode()}, {"cod": True},
         "no COD at the delivery pincode"),
        ({"max_weight_grams": 1000}, {"weight_grams": 1200}, "over the maximum weight of 1000 g"),
        # 20 x 20 x 20 cm / 5000 = 1,600 g volumetric > 1,000 g, though 800 g actual is under it
        ({"max_weight_grams": 1000}, {"weight_grams": 800, "length_cm": D("20"), "breadth_cm": D("20"),
                                      "height_cm": D("20")}, "volumetric weight over the maximum of 1000 g"),
    ],
)  # fmt: skip
def test_each_blocked_reason(merchant, courier, request_, reason):
    blocked = make_courier(merchant, "blocked", **courier)
    fine = make_courier(merchant, "fine", mode="air")

    result = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY,
                   **({"weight_grams": 500} | request_))  # fmt: skip

    assert result.blocked == [{"courier_id": blocked.pk, "reason": reason}]
    assert [q.courier_id for q in result.couriers] == [fine.pk]
    assert result.recommended_courier_id == fine.pk


def test_inactive_is_reported_before_any_other_reason(merchant):
    courier = make_courier(merchant, "sleepy", is_active=False, supports_cod=False, cards=[],
                           serviceability=b"pincode\n")  # fmt: skip

    result = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=500, cod=True)

    assert result.blocked == [{"courier_id": courier.pk, "reason": "inactive"}]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("too many RTOs", "delivery pincode blocked by the merchant: too many RTOs"),
     ("", "delivery pincode blocked by the merchant")],
)  # fmt: skip
def test_delivery_pincode_blocked_by_the_merchant_blocks_every_courier(merchant, three, reason, expected):
    pincode_block(merchant=merchant, pincode=DELIVERY, reason=reason)

    result = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=500)

    assert result.couriers == []
    assert result.recommended_courier_id is None
    assert result.blocked == [{"courier_id": c.pk, "reason": expected} for c in three]  # by name: alpha, bravo, ...


def test_a_pincode_blocked_by_another_merchant_does_not_block(merchant, other_merchant, three):
    pincode_block(merchant=other_merchant, pincode=DELIVERY, reason="fraud")

    result = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=500)

    assert (len(result.couriers), result.blocked) == (3, [])


@pytest.mark.parametrize(
    ("pickup", "delivery", "bad"),
    [("999999", DELIVERY, "999999"), (PICKUP, "000000", "000000"), ("56001", DELIVERY, "56001"),
     (PICKUP, "056001", "056001"), ("ABCDEF", DELIVERY, "ABCDEF"), (PICKUP, "", "")],
)  # fmt: skip
def test_unknown_or_malformed_pincodes_raise(merchant, three, pickup, delivery, bad, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(UnknownPincode) as refused:
        quote(merchant=merchant, pickup_postcode=pickup, delivery_postcode=delivery, weight_grams=500)

    assert refused.value.pincode == bad


def test_pincodes_with_surrounding_spaces_quote_like_the_bare_pincodes(merchant, three):
    bare = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=500)

    spaced = quote(merchant=merchant, pickup_postcode=f" {PICKUP}", delivery_postcode=f"{DELIVERY} ", weight_grams=500)

    assert (spaced.blocked, priced(spaced)) == ([], priced(bare))


def test_a_merchant_without_couriers_gets_the_zone_and_empty_lists(merchant):
    result = quote(merchant=merchant, pickup_postcode="110001", delivery_postcode="700016", weight_grams=500)

    assert (result.zone, result.recommended_courier_id, result.couriers, result.blocked) == ("metro", None, [], [])


def test_another_merchants_couriers_never_appear(merchant, other_merchant, three):
    make_courier(other_merchant, "alpha")  # same code and serviceability, other merchant
    make_courier(other_merchant, "theirs")

    result = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=500)
    theirs = quote(merchant=other_merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=500)

    assert sorted(q.courier_id for q in result.couriers) == sorted(c.pk for c in three)
    assert {q.code for q in theirs.couriers} == {"alpha", "theirs"}
    assert {q.courier_id for q in theirs.couriers}.isdisjoint(c.pk for c in three)


@pytest.mark.parametrize("couriers", [2, 20])
def test_a_quote_takes_three_queries_whatever_the_number_of_couriers(merchant, couriers, django_assert_num_queries):
    for n in range(couriers):
        make_courier(merchant, f"courier-{n:02d}", is_active=n % 5 != 4)  # some blocked, most priced
    pincode_block(merchant=merchant, pincode=PICKUP, reason="pickup blocks are ignored")

    with django_assert_num_queries(3):
        result = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=1200,
                       cod=True, declared_value=D("999"))  # fmt: skip

    assert len(result.couriers) + len(result.blocked) == couriers


def test_a_blocked_delivery_pincode_also_takes_three_queries(merchant, three, django_assert_num_queries):
    pincode_block(merchant=merchant, pincode=DELIVERY)

    with django_assert_num_queries(3):
        quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=500)


@pytest.mark.parametrize(
    ("request_", "errors"),
    [({"weight_grams": 0}, {"weight_grams": ["At least 1 g."]}),
     ({"weight_grams": -500}, {"weight_grams": ["At least 1 g."]}),
     ({"length_cm": D("-20"), "breadth_cm": D("-20"), "height_cm": D("501")},
      {"length_cm": ["From 0 to 500 cm."], "breadth_cm": ["From 0 to 500 cm."], "height_cm": ["From 0 to 500 cm."]}),
     ({"declared_value": D("-1")}, {"declared_value": ["Not negative."]}),
     ({"sort": "slowest"}, {"sort": ["One of recommended, cheapest, fastest, rating."]})],
)  # fmt: skip
def test_zero_or_negative_weight_and_bad_inputs_are_refused_before_any_query(
    merchant, three, request_, errors, django_assert_num_queries
):
    # A 0 g parcel is not priced as the first slab (chargeable_grams would take max(0, 0, 1) -> 500 g).
    with django_assert_num_queries(0), pytest.raises(ValidationError) as refused:
        quote(
            merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, **({"weight_grams": 500} | request_)
        )

    assert refused.value.message_dict == errors


def test_after_the_pickup_cutoff_the_parcel_is_picked_up_tomorrow(merchant):
    make_courier(merchant, "alpha", pickup_cutoff=time(14, 0))
    kolkata = ZoneInfo("Asia/Kolkata")

    before = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=500,
                   at=datetime(2026, 11, 27, 13, 59, tzinfo=kolkata))  # fmt: skip
    after = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=500,
                  at=datetime(2026, 11, 27, 14, 0, tzinfo=kolkata))  # fmt: skip

    # the metro card promises 5 days: picked up on the 27th -> 2 Dec; after the cut-off, on the 28th -> 3 Dec
    assert [q.etd.isoformat() for q in before.couriers] == ["2026-12-02"]
    assert [q.etd.isoformat() for q in after.couriers] == ["2026-12-03"]


def test_the_cutoff_is_read_in_the_merchants_time_zone(merchant):
    make_courier(merchant, "alpha", pickup_cutoff=time(14, 0))

    # 09:00 UTC is 14:30 in Kolkata: past the cut-off there, so picked up on the 28th
    result = quote(merchant=merchant, pickup_postcode=PICKUP, delivery_postcode=DELIVERY, weight_grams=500,
                   at=datetime(2026, 11, 27, 9, 0, tzinfo=ZoneInfo("UTC")))  # fmt: skip

    assert [q.etd.isoformat() for q in result.couriers] == ["2026-12-03"]

"""Rate arithmetic on hand-computed cases, exact to the paisa."""

from decimal import Decimal

import pytest

from shipping.models import RateCard
from shipping.rates import chargeable_grams, charges, volumetric_grams

D = Decimal


def card(**overrides) -> RateCard:
    values = {"first_slab_grams": 500, "first_slab_price": D("40.00"), "additional_slab_grams": 500,
              "additional_slab_price": D("35.00"), "cod_fixed": D("30.00"), "cod_percent": D("2.00"),
              "fuel_surcharge_percent": D("10.00")}  # fmt: skip
    return RateCard(**(values | overrides))


@pytest.mark.parametrize(
    ("weight", "expected"),
    [(1, 500), (500, 500), (501, 1000), (1000, 1000), (1001, 1500), (1200, 1500), (4999, 5000)],
)
def test_chargeable_weight_rounds_up_to_the_slabs(weight, expected):
    assert chargeable_grams(card(), weight, 0) == expected


def test_chargeable_weight_uses_slabs_of_the_card():
    assert chargeable_grams(card(first_slab_grams=250, additional_slab_grams=1000), 1300, 0) == 2250


@pytest.mark.parametrize(
    ("dims", "divisor", "expected"),
    [((D("10"), D("10"), D("10")), 5000, 200), ((D("30"), D("20"), D("15")), 5000, 1800),
     ((D("10.3"), D("10.1"), D("9.9")), 5000, 206), ((D("30"), D("20"), D("15")), 4000, 2250)],
)  # fmt: skip
def test_volumetric_weight_in_grams_rounds_up(dims, divisor, expected):
    assert volumetric_grams(*dims, divisor) == expected


def test_actual_weight_heavier_than_volumetric_with_cod_at_its_minimum():
    # 1,200 g vs 200 g volumetric -> 1,500 g: 40 + 2 x 35 = 110.00; COD max(30, 2% of 999 = 19.98) = 30.00;
    # fuel 10% of 110 = 11.00; GST 18% of 151.00 = 27.18; total 178.18.
    result = charges(card(), weight_grams=1200, volumetric=200, cod=True, declared_value=D("999.00"))

    assert result.chargeable_weight_grams == 1500
    assert (result.freight_charge, result.cod_charge, result.fuel_surcharge, result.tax, result.total_charge) == (
        D("110.00"), D("30.00"), D("11.00"), D("27.18"), D("178.18"))  # fmt: skip


def test_volumetric_weight_decides_a_light_bulky_prepaid_parcel():
    # 300 g actual, 30x20x15 cm = 1,800 g volumetric -> 2,000 g: 40 + 3 x 35 = 145.00; no COD;
    # fuel 14.50; GST 18% of 159.50 = 28.71; total 188.21.
    result = charges(card(), weight_grams=300, volumetric=1800, cod=False, declared_value=D("2500.00"))

    assert result.chargeable_weight_grams == 2000
    assert (result.freight_charge, result.cod_charge, result.fuel_surcharge, result.tax, result.total_charge) == (
        D("145.00"), D("0.00"), D("14.50"), D("28.71"), D("188.21"))  # fmt: skip


def test_cod_percent_above_the_minimum():
    # 2% of 2,500.00 = 50.00 > 30.00
    result = charges(card(), weight_grams=400, volumetric=0, cod=True, declared_value=D("2500.00"))

    assert result.cod_charge == D("50.00")
    # 40 + 50 + 4.00 fuel = 94.00; GST 16.92; total 110.92
    assert (result.tax, result.total_charge) == (D("16.92"), D("110.92"))


def test_money_rounds_half_up_to_the_paisa():
    # fuel 10% of 40.05 = 4.005 -> 4.01; GST 18% of 44.06 = 7.9308 -> 7.93; total 51.99
    result = charges(card(first_slab_price=D("40.05")), weight_grams=100, volumetric=0, cod=False,
                     declared_value=D("0"))  # fmt: skip

    assert (result.fuel_surcharge, result.tax, result.total_charge) == (D("4.01"), D("7.93"), D("51.99"))

"""One money rounding (shopops/money.py): to the paisa, halves away from zero; the rate cards, the GST split and
the documents' amounts round through it."""

from decimal import Decimal

import pytest

from shipping.documents.data import amount_in_words, indian_grouping, money
from shipping.documents.gst import split_tax
from shipping.models import RateCard
from shipping.rates import charges
from shopops.money import CENT, round_money

D = Decimal


@pytest.mark.parametrize(("value", "rounded"), [
    (D("0.125"), D("0.13")),
    (D("0.135"), D("0.14")),
    (D("0.145"), D("0.15")),  # half-even would give 0.14
    (D("2.675"), D("2.68")),
    (D("-0.125"), D("-0.13")),
    (D("0.124999"), D("0.12")),
    (D("10.005"), D("10.01")),
    (D("7"), D("7.00")),
    ("19.995", D("20.00")),
    (3, D("3.00")),
])  # fmt: skip
def test_halves_round_away_from_zero_to_the_paisa(value, rounded):
    result = round_money(value)

    assert result == rounded
    assert str(result) == str(rounded)
    assert result.as_tuple().exponent == -2


def test_the_cent_is_the_money_columns_precision():
    assert str(CENT) == "0.01"


def test_a_rate_card_rounds_its_half_paise_up():
    # freight 40.05; fuel 10% = 4.005 -> 4.01; COD 2.5% of 1,001 = 25.025 -> 25.03; GST 18% of 69.09 = 12.4362 -> 12.44
    card = RateCard(first_slab_grams=500, first_slab_price=D("40.05"), additional_slab_grams=500,
                    additional_slab_price=D("35.00"), cod_fixed=D("10.00"), cod_percent=D("2.50"),
                    fuel_surcharge_percent=D("10.00"))  # fmt: skip

    result = charges(card, weight_grams=500, volumetric=0, cod=True, declared_value=D("1001"))

    assert (result.freight_charge, result.fuel_surcharge, result.cod_charge, result.tax, result.total_charge) == (
        D("40.05"), D("4.01"), D("25.03"), D("12.44"), D("81.53"))  # fmt: skip


def test_the_gst_split_gives_cgst_the_odd_paisa():
    line = split_tax(total=D("105.05"), tax_amount=D("0.05"), intra_state=True)

    assert (line.taxable_value, line.cgst, line.sgst, line.igst) == (D("105.00"), D("0.03"), D("0.02"), D("0"))


def test_the_documents_print_amounts_rounded_half_up():
    assert indian_grouping(D("1234567.125")) == "12,34,567.13"
    assert money(D("0.005")) == "₹0.01"
    assert money(D("1234.565"), "USD") == "USD 1,234.57"
    assert amount_in_words(D("0.125")) == amount_in_words(D("0.13"))

"""GST of an order's prices (orders.gst): shipping and COD charges taxed at the principal supply's rate, exports
zero-rated under the merchant's LUT, and each way an order comes in (API, bulk, CSV import) taking cod_charge and
unit quantity codes."""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from catalog.models import UQC
from orders.gst import charges_tax, principal_rate, tax_included
from orders.models import Order, OrderLine
from orders.services.orders import order_update
from tests.catalog.factories import ProductFactory, stock
from tests.orders.factories import default_location, make_order
from tests.orders.test_imports import csv_bytes, order_row, run, state

pytestmark = pytest.mark.django_db
ORDERS = "/api/v1/orders/"
D = Decimal
LONDON = {"name": "Oliver Smith", "phone": "+44 20 7946 0958", "line1": "10 Downing Street", "city": "London",
          "postcode": "SW1A 2AA", "country": "GB"}  # fmt: skip
BENGALURU = {"name": "Priya Sharma", "phone": "98123 45678", "line1": "42 Residency Road", "city": "Bengaluru",
             "state": "Karnataka", "postcode": "560025", "country": "IN"}  # fmt: skip
LUT = "AD290426000123X"


def _line(total: str, rate: str):
    return SimpleNamespace(total=D(total), tax_rate=D(rate))


def test_the_principal_supply_is_the_line_of_the_largest_taxable_value():
    # 1,180.00 at 18% is 1,000.00 taxable; 1,100.00 at 12% only 982.14: the 18% line leads though cheaper at 12%
    assert principal_rate([_line("1100.00", "12"), _line("1180.00", "18")]) == D("18")
    # 900.00 at 12% (803.57) against 1,000.00 at 28% (781.25): the larger taxable value, not the higher rate
    assert principal_rate([_line("1000.00", "28"), _line("900.00", "12")]) == D("12")
    # equal taxable values (100.00 each): the higher rate
    assert principal_rate([_line("105.00", "5"), _line("112.00", "12")]) == D("12")
    assert principal_rate([_line("0.00", "5"), _line("0.00", "0")]) == D("5")


def test_charges_carry_the_principal_rate_and_no_tax_under_an_lut():
    lines = [_line("998.00", "18"), _line("1000.00", "12")]  # taxable 845.76 and 892.86: 12% leads

    taxed = charges_tax(lines=lines, shipping_charge=D("59.00"), cod_charge=D("45.00"), zero_rated=False)
    zero = charges_tax(lines=lines, shipping_charge=D("59.00"), cod_charge=D("45.00"), zero_rated=True)

    # 59.00 - 59.00/1.12 = 6.3214.. -> 6.32; 45.00 - 45.00/1.12 = 4.8214.. -> 4.82
    assert (taxed.rate, taxed.shipping_tax, taxed.cod_tax) == (D("12"), D("6.32"), D("4.82"))
    assert (zero.rate, zero.shipping_tax, zero.cod_tax) == (D("12"), D("0.00"), D("0.00"))
    assert tax_included(D("999.00"), D("18")) == D("152.39")


@pytest.fixture
def catalog(merchant):
    location = default_location(merchant)
    tee = ProductFactory(merchant=merchant, sku="TEE", title="Tee", price=D("499.00"), mrp=None, tax_rate=D("18"),
                         hsn_code="6109", uqc=UQC.PCS)  # fmt: skip
    mug = ProductFactory(merchant=merchant, sku="MUG", title="Mug", price=D("1000.00"), mrp=None, tax_rate=D("12"),
                         hsn_code="6912")  # fmt: skip
    stock(tee, location, 50)
    stock(mug, location, 50)
    return tee, mug


def _body(**overrides) -> dict:
    """2 x TEE at 18% (998.00) and 1 x MUG at 12% (1,000.00, the principal supply), shipping 59.00, COD 45.00."""
    return {"payment_method": "cod", "shipping_address": dict(BENGALURU),
            "lines": [{"sku": "TEE", "quantity": 2, "unit_price": "499.00"},
                      {"sku": "MUG", "quantity": 1, "unit_price": "1000.00", "uqc": "SET"}],
            "shipping_charge": "59.00", "cod_charge": "45.00", "total": "2102.00", **overrides}  # fmt: skip


def test_the_api_takes_cod_charge_and_taxes_both_charges_at_the_principal_rate(api, catalog):
    response = api.post(ORDERS, _body(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {key: body[key] for key in ("shipping_charge", "cod_charge", "charges_tax_rate", "shipping_tax",
                                       "cod_tax", "tax_total", "total", "lut_reference")} == {
        "shipping_charge": "59.00", "cod_charge": "45.00", "charges_tax_rate": "12.00", "shipping_tax": "6.32",
        "cod_tax": "4.82", "tax_total": "270.52", "total": "2102.00", "lut_reference": "",
    }  # fmt: skip
    # tax_total: the lines' 152.24 + 107.14 and the charges' 6.32 + 4.82
    assert [(ln["sku"], ln["uqc"], ln["tax_amount"]) for ln in body["lines"]] == [
        ("TEE", "PCS", "152.24"), ("MUG", "SET", "107.14")]  # fmt: skip
    assert Order.objects.values_list("tax_total", "cod_tax").get() == (D("270.52"), D("4.82"))


@pytest.mark.parametrize(
    ("overrides", "details"),
    [
        ({"cod_charge": "-1.00"}, {"cod_charge": ["Ensure this value is greater than or equal to 0."]}),
        ({"cod_charge": "ten"}, {"cod_charge": ["A valid number is required."]}),
        (
            {"total": "2057.00"},
            {
                "total": [
                    "Does not match the computed total 2102.00 (lines' quantity x unit_price "
                    "- discount, plus shipping_charge and cod_charge)."
                ]
            },
        ),
        (
            {"lines": [{"sku": "TEE", "quantity": 1, "unit_price": "499.00", "uqc": "litre"}]},
            {"lines.0.uqc": ['"litre" is not a valid choice.']},
        ),
    ],
    ids=["negative-cod", "cod-not-a-number", "total-without-cod", "unknown-uqc"],
)
def test_bad_charges_and_units_are_400_and_nothing_is_written(api, catalog, overrides, details):
    response = api.post(ORDERS, _body(**overrides), format="json")

    assert response.status_code == 400
    assert response.json()["details"] == details
    assert Order.objects.count() == 0


def test_an_export_under_the_merchants_lut_is_priced_without_tax(api, merchant, catalog):
    merchant.lut_reference = LUT
    merchant.save()

    response = api.post(ORDERS, _body(shipping_address=dict(LONDON)), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["lut_reference"], body["tax_total"], body["shipping_tax"], body["cod_tax"], body["total"]) == (
        LUT, "0.00", "0.00", "0.00", "2102.00")  # fmt: skip
    assert [ln["tax_amount"] for ln in body["lines"]] == ["0.00", "0.00"]
    assert body["charges_tax_rate"] == "12.00"


def test_an_export_without_an_lut_is_taxed_and_a_domestic_order_ignores_the_lut(api, merchant, catalog):
    exported = api.post(ORDERS, _body(shipping_address=dict(LONDON)), format="json").json()
    merchant.lut_reference = LUT
    merchant.save()
    domestic = api.post(ORDERS, _body(), format="json").json()

    assert (exported["lut_reference"], exported["tax_total"]) == ("", "270.52")
    assert (domestic["lut_reference"], domestic["tax_total"]) == ("", "270.52")


def test_moving_an_order_abroad_under_an_lut_and_back_retaxes_it(merchant, catalog):
    merchant.lut_reference = LUT
    merchant.save()
    tee, mug = catalog
    order = make_order(merchant, products=[(tee, 2), (mug, 1)], shipping_charge=D("59.00"), cod_charge=D("45.00"),
                       payment_method="cod")  # fmt: skip
    assert order.tax_total == D("270.52")

    order = order_update(order=order, data={"shipping_address": dict(LONDON)}, actor="system")
    order.refresh_from_db()
    assert (order.lut_reference, order.tax_total, order.shipping_tax, order.cod_tax) == (
        LUT, D("0.00"), D("0.00"), D("0.00"))  # fmt: skip
    assert list(OrderLine.objects.filter(order=order).values_list("tax_amount", flat=True)) == [D("0"), D("0")]

    order = order_update(order=order, data={"shipping_address": dict(BENGALURU)}, actor="system")
    order.refresh_from_db()
    assert (order.lut_reference, order.tax_total, order.shipping_tax, order.cod_tax) == (
        "", D("270.52"), D("6.32"), D("4.82"))  # fmt: skip
    assert list(OrderLine.objects.filter(order=order).values_list("tax_amount", flat=True)) == [
        D("152.24"), D("107.14")]  # fmt: skip
    assert list(order.events.values_list("data", flat=True))[-1] == {
        "fields": ["shipping_address", "lut_reference", "charges_tax_rate", "shipping_tax", "cod_tax", "tax_total"]
    }


def test_bulk_create_takes_cod_charge(api, catalog):
    response = api.post(f"{ORDERS}bulk/", {"orders": [_body()]}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["results"][0]["status"] == "created"
    assert Order.objects.values_list("cod_charge", "cod_tax", "tax_total").get() == (
        D("45.00"), D("4.82"), D("270.52"))  # fmt: skip


def test_the_orders_file_takes_cod_charge_and_uqc(merchant, catalog):
    order = {
        "channel": "",
        "pickup_location": "",
        "shipping_charge": "59.00",
        "cod_charge": "45.00",
        "total": "2102.00",
    }  # the default channel and location
    rows = [order_row("WEB-9", "TEE", "2", "499.00", uqc="PRS", **order),
            order_row("WEB-9", "MUG", "1", "1000.00", **order)]  # fmt: skip

    job = run(merchant, csv_bytes(rows))

    assert state(job)["status"] == "done", list(job.row_errors.values_list("column", "message"))
    order = Order.objects.get(channel_order_id="WEB-9")
    assert (order.cod_charge, order.charges_tax_rate, order.cod_tax, order.tax_total) == (
        D("45.00"), D("12.00"), D("4.82"), D("270.52"))  # fmt: skip
    assert list(order.lines.values_list("sku", "uqc")) == [("TEE", "PRS"), ("MUG", "NOS")]

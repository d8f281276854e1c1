"""WooCommerce's REST v3 order as ShopOps's order input. The sample is the v3 docs' order (``POST /orders``'s
response, the body of the ``order.created`` webhook) with an Indian shop's values: INR, prices including GST at 18%
(CGST 9 + SGST 9 as two rates), a 10% coupon, Razorpay."""

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from orders.api.serializers import OrderInput
from orders.channels.base import ChannelOrder, MappingError
from orders.channels.woocommerce import dedupe_key, order_from_payload
from orders.services.create import order_create
from orders.services.prepare import order_prepare
from orders.validation import clean_address
from tests.orders.factories import default_location

SAMPLE = json.loads((Path(__file__).parent / "samples" / "woocommerce_order.json").read_text())
SHIPPING = {
    "name": "Arjun Mehta", "phone": "9845012345", "line1": "Flat 7A, Prestige Shantiniketan", "line2": "Whitefield",
    "city": "Bengaluru", "state": "Karnataka", "postcode": "560048", "country": "IN",
}  # fmt: skip
BILLING = {
    "name": "Arjun Mehta", "phone": "9845012345", "line1": "12, 4th Cross, Indiranagar", "line2": "HAL 2nd Stage",
    "city": "Bengaluru", "state": "Karnataka", "postcode": "560038", "country": "IN",
}  # fmt: skip


def sample(**changes) -> dict:
    payload = copy.deepcopy(SAMPLE)
    payload.update(changes)
    return payload


def one_line(payload: dict, **item) -> dict:
    """``payload`` with its first line changed by ``item`` and the second removed, its total that line's."""
    payload["line_items"] = [{**payload["line_items"][0], **item}]
    line = payload["line_items"][0]
    payload["total"] = str(Decimal(line["total"]) + Decimal(line["total_tax"]) + Decimal("118.00"))
    return payload


def test_a_prepaid_order_maps_whole():
    assert order_from_payload(sample()) == ChannelOrder(
        payment_names=("razorpay", "Credit Card/Debit Card/NetBanking/UPI"),
        external_id="727",
        data={
            "channel_order_id": "727",
            "payment_method": "prepaid",
            "payment_status": "paid",
            "customer": {"name": "Arjun Mehta", "email": "arjun.mehta@example.in", "phone": "9845012345"},
            "shipping_address": SHIPPING,  # WooCommerce's shipping has no phone here: the billing phone
            "billing_address": BILLING,
            "lines": [
                {
                    "sku": "DIYA-L",
                    "name": "Brass Diya Set \u2013 Large",
                    "quantity": 2,
                    "unit_price": "1180.00",
                    "discount": "236.00",
                    "tax_rate": "18",
                },
                # no SKU on WooCommerce: the product names it until the merchant maps it
                {
                    "sku": "woocommerce-product-22",
                    "name": "Sandalwood Scented Candle",
                    "quantity": 3,
                    "unit_price": "499.00",
                    "discount": "149.70",
                    "tax_rate": "18",
                },
            ],  # fmt: skip
            "shipping_charge": "118.00",
            "total": "3589.30",
            "currency": "INR",
            "ordered_at": "2025-10-14T10:58:02+00:00",
            "notes": "WooCommerce #727\nPlease deliver after 6 pm.",
        },
        channel_status="processing",
        cancelled=False,
        cancel_reason="",
        updated_at=datetime(2025, 10, 14, 10, 58, 8, tzinfo=UTC),
        shippable=True,
        notes=[],
    )


def test_worked_example_prices_including_tax():
    """Prices include 18%: the diya set is 1180.00 a unit; 2 of them with 10% off.

    WooCommerce keeps the line without tax: subtotal 2000.00 + subtotal_tax 360.00 (= 2 x 1180.00) before the
    coupon, total 1800.00 + total_tax 324.00 after it. GST-included: unit price 2360.00 / 2 = 1180.00, line amount
    1800.00 + 324.00 = 2124.00, discount 2360.00 - 2124.00 = 236.00: the coupon's 200.00 and its 36.00 of GST.
    Not subtotal - total (200.00): that is the discount without its tax."""
    line = order_from_payload(sample()).data["lines"][0]

    assert (line["quantity"], line["unit_price"], line["discount"]) == (2, "1180.00", "236.00")


def test_worked_example_prices_excluding_tax():
    """Prices exclude 12%: 3 x 999.00 with 100.00 off the cart.

    subtotal 2997.00 + subtotal_tax 359.64 = 3356.64 before the coupon, 1118.88 a unit; total 2897.00 + total_tax
    347.64 = 3244.64 after it; discount 3356.64 - 3244.64 = 112.00: the coupon's 100.00 and its 12.00 of GST.
    The fields mean the same with prices_include_tax true or false."""
    payload = one_line(sample(prices_include_tax=False), subtotal="2997.00", subtotal_tax="359.64", total="2897.00",
                       total_tax="347.64", quantity=3, taxes=[])  # fmt: skip

    order = order_from_payload(payload)

    assert order.data["lines"] == [
        {"sku": "DIYA-L", "name": "Brass Diya Set \u2013 Large", "quantity": 3, "unit_price": "1118.88",
         "discount": "112.00"},
    ]  # fmt: skip
    assert order.data["total"] == "3362.64"  # 3244.64 + 118.00


def test_a_unit_price_with_more_than_paise_rounds_up_and_the_rest_is_discount():
    # 3 x 33.33 at 5%: 99.99 + 5.00 (4.9995 rounded) = 104.99, 34.9966... a unit: 35.00, and 0.01 of discount
    payload = one_line(sample(), subtotal="99.99", subtotal_tax="5.00", total="99.99", total_tax="5.00", quantity=3)

    line = order_from_payload(payload).data["lines"][0]

    assert (line["unit_price"], line["discount"]) == ("35.00", "0.01")


def test_a_cod_order_with_a_cod_fee_is_cod_pending_with_the_fee_as_cod_charge():
    payload = cod_payload()

    order = order_from_payload(payload)

    assert (order.data["payment_method"], order.data["payment_status"]) == ("cod", "pending")
    assert (order.data["cod_charge"], order.data["shipping_charge"], order.data["total"]) == (
        "59.00", "118.00", "3648.30",
    )  # fmt: skip
    assert (order.shippable, order.notes) == (True, [])


def cod_payload() -> dict:
    payload = sample(payment_method="cod", payment_method_title="Cash on delivery", date_paid=None,
                     date_paid_gmt=None, transaction_id="", total="3648.30")  # fmt: skip
    payload["fee_lines"] = [{"id": 321, "name": "COD Fee", "tax_class": "", "tax_status": "taxable", "total": "50.00",
                             "total_tax": "9.00", "taxes": [], "meta_data": []}]  # fmt: skip
    return payload


def test_another_fee_is_added_to_shipping_with_a_note():
    payload = sample(total="3618.80")
    payload["fee_lines"] = [{"name": "Gift wrap", "total": "25.00", "total_tax": "4.50"}]

    order = order_from_payload(payload)

    assert (order.data["shipping_charge"], order.data["total"]) == ("147.50", "3618.80")
    assert "cod_charge" not in order.data
    assert order.notes == ["Fee 'Gift wrap' of 29.50 added to the shipping charge."]


def test_a_negative_fee_is_a_discount_on_the_largest_line():
    payload = sample(total="3539.30")
    payload["fee_lines"] = [{"name": "Prepaid discount", "total": "-50.00", "total_tax": "0.00"}]

    order = order_from_payload(payload)

    assert [line["discount"] for line in order.data["lines"]] == ["286.00", "149.70"]
    assert order.notes == ["Fee 'Prepaid discount' of -50.00 taken off the lines."]


@pytest.mark.parametrize(
    ("status", "shippable", "cancelled", "payment_status"),
    [("processing", True, False, "paid"), ("completed", True, False, "paid"), ("pending", False, False, "pending"),
     ("on-hold", False, False, "pending"), ("failed", False, False, "pending"),
     ("checkout-draft", False, False, "pending"), ("cancelled", True, True, "pending"),
     ("trash", True, True, "pending"), ("refunded", True, False, "refunded")],
)  # fmt: skip
def test_the_status_decides_shippable_cancelled_and_payment(status, shippable, cancelled, payment_status):
    order = order_from_payload(sample(status=status))

    assert (order.channel_status, order.shippable, order.cancelled, order.cancel_reason) == (
        status, shippable, cancelled, "",
    )  # fmt: skip
    assert order.data["payment_status"] == payment_status


def test_processing_without_a_payment_date_is_pending_and_a_refund_makes_it_partially_refunded():
    assert order_from_payload(sample(date_paid=None, date_paid_gmt=None)).data["payment_status"] == "pending"
    refunded = sample(status="completed", refunds=[{"id": 730, "reason": "damaged", "total": "-118.00"}])
    assert order_from_payload(refunded).data["payment_status"] == "partially_refunded"


def test_a_blank_shipping_address_falls_back_to_the_billing_address():
    payload = sample()
    payload["shipping"] = dict.fromkeys(payload["shipping"], "")

    order = order_from_payload(payload)

    assert order.data["shipping_address"] == order.data["billing_address"] == BILLING
    assert order.notes == ["No shipping address: shipped to the billing address."]


def test_no_street_in_either_address_is_a_mapping_error():
    payload = sample()
    payload["shipping"] = dict.fromkeys(payload["shipping"], "")
    payload["billing"].update(address_1="", address_2="")

    with pytest.raises(MappingError) as error:
        order_from_payload(payload)

    assert error.value.field == "shipping"


def test_the_shipping_phone_wins_over_the_billing_phone():
    payload = sample()
    payload["shipping"]["phone"] = "+91 99001 22334"

    assert order_from_payload(payload).data["shipping_address"]["phone"] == "+91 99001 22334"


def test_no_lines_is_a_mapping_error():
    with pytest.raises(MappingError) as error:
        order_from_payload(sample(line_items=[]))

    assert (error.value.field, error.value.message) == ("line_items", "The order has no lines.")


@pytest.mark.parametrize("value", [0, 1.5, "x", None, -2])
def test_a_quantity_that_is_not_a_positive_whole_number_is_a_mapping_error(value):
    payload = sample()
    payload["line_items"][1]["quantity"] = value

    with pytest.raises(MappingError) as error:
        order_from_payload(payload)

    assert error.value.field == "line_items.1.quantity"


@pytest.mark.parametrize(
    ("key", "value"), [("total", "abc"), ("subtotal", None), ("total_tax", "1,200.00"), ("subtotal_tax", "inf")]
)
def test_an_amount_that_is_not_one_is_a_mapping_error_naming_it(key, value):
    payload = sample()
    payload["line_items"][0][key] = value

    with pytest.raises(MappingError) as error:
        order_from_payload(payload)

    assert error.value.field == f"line_items.0.{key}"


@pytest.mark.parametrize(
    ("payload", "field"),
    [("727", "order"), ({"status": "processing"}, "id"), ({"id": None}, "id"),
     ({"id": 727, "line_items": {"0": {}}}, "line_items"), ({"id": 727, "line_items": [[]]}, "line_items.0"),
     ({"id": 727, "line_items": SAMPLE["line_items"], "total": "3589.30", "billing": "Bengaluru"}, "billing"),
     ({"id": 727, "line_items": SAMPLE["line_items"], "total": None}, "total")],
)  # fmt: skip
def test_a_payload_that_is_not_an_order_is_a_mapping_error(payload, field):
    with pytest.raises(MappingError) as error:
        order_from_payload(payload)

    assert error.value.field == field


def test_unknown_fields_are_ignored():
    payload = sample(is_vat_exempt="no", shipping_lines_meta={"x": 1})
    payload["line_items"][0]["image"] = {"id": 12, "src": "https://diyashop.example.in/diya.jpg"}

    assert order_from_payload(payload) == order_from_payload(sample())


def test_the_gmt_times_are_utc_and_missing_ones_are_left_out():
    order = order_from_payload(sample(date_created_gmt=None, date_modified_gmt=None))

    assert (order.updated_at, "ordered_at" in order.data) == (None, False)
    with pytest.raises(MappingError) as error:
        order_from_payload(sample(date_modified_gmt="14/10/2025"))
    assert error.value.field == "date_modified_gmt"


def test_without_rate_percent_the_tax_rate_is_left_to_the_catalog():
    payload = sample()
    for tax in payload["tax_lines"]:
        del tax["rate_percent"]

    assert [("tax_rate" in line) for line in order_from_payload(payload).data["lines"]] == [False, False]


def test_a_paisa_of_tax_rounding_goes_on_the_largest_line():
    """With "round tax at subtotal" the order's cart_tax can be a paisa off the lines' rounded taxes."""
    order = order_from_payload(sample(total="3589.31"))

    assert order.data["lines"][0] | {"name": ""} == {
        "sku": "DIYA-L", "name": "", "quantity": 2, "unit_price": "1180.01", "discount": "236.01", "tax_rate": "18",
    }  # fmt: skip
    assert order.notes == ["Tax rounding of 0.01 put on DIYA-L."]
    assert order_from_payload(sample(total="3589.28")).data["lines"][0]["discount"] == "236.02"


def test_a_larger_difference_is_left_for_the_order_writer_to_refuse(merchant):
    mapped = order_from_payload(sample(total="3590.30"))
    serializer = OrderInput(data={**mapped.data, "pickup_location": str(default_location(merchant).pk)})
    assert serializer.is_valid(), serializer.errors

    with pytest.raises(ValidationError) as error:
        order_prepare(merchant=merchant, data=serializer.validated_data)

    assert list(error.value.message_dict) == ["total"]


def test_dedupe_key_is_the_webhook_the_order_and_its_last_change():
    assert dedupe_key(sample(), "14") == "14:727:2025-10-14T10:58:08"


def test_entities_in_names_are_decoded():
    payload = sample()
    payload["line_items"][1]["name"] = "Candle &amp; Holder &#8211; Rose"

    assert order_from_payload(payload).data["lines"][1]["name"] == "Candle & Holder \u2013 Rose"


@pytest.mark.parametrize(
    ("code", "postcode", "state"),
    [("KA", "560048", "Karnataka"), ("TN", "600017", "Tamil Nadu"), ("MH", "400001", "Maharashtra"),
     ("DL", "110001", "Delhi"), ("UP", "226001", "Uttar Pradesh"), ("CT", "492001", "Chhattisgarh"),
     ("OR", "751001", "Odisha"), ("UK", "248001", "Uttarakhand"), ("TS", "500081", "Telangana"),
     ("PY", "605001", "Puducherry"), ("Karnataka", "560048", "Karnataka")],
)  # fmt: skip
def test_woocommerce_state_codes_become_names_the_address_rules_accept(code, postcode, state):
    payload = sample()
    payload["shipping"].update(state=code, postcode=postcode)

    address = order_from_payload(payload).data["shipping_address"]

    assert address["state"] == state
    assert clean_address(address, "shipping_address", phone_required=True)["state"] == state


def test_a_state_code_of_another_country_is_left_as_it_is():
    payload = sample()
    payload["shipping"].update(country="US", state="CA", postcode="94103")

    assert order_from_payload(payload).data["shipping_address"]["state"] == "CA"


@pytest.mark.parametrize("payload", [sample(), cod_payload()], ids=["prepaid", "cod with a fee"])
def test_the_mapped_order_goes_through_the_order_writer_and_adds_up_to_woocommerces_total(merchant, payload):
    location = default_location(merchant)
    mapped = order_from_payload(payload)
    serializer = OrderInput(data={**mapped.data, "pickup_location": str(location.pk)})
    assert serializer.is_valid(), serializer.errors

    order = order_create(merchant=merchant, data=serializer.validated_data, actor="test")

    is_cod = payload["payment_method"] == "cod"
    assert order.total == Decimal(payload["total"])
    assert (order.payment_method, order.payment_status) == (("cod", "pending") if is_cod else ("prepaid", "paid"))
    assert order.shipping_address == {**SHIPPING, "phone": "+919845012345"}
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.discount, ln.tax_rate, ln.tax_amount, ln.total)
            for ln in order.lines.order_by("id")] == [
        ("DIYA-L", 2, Decimal("1180.00"), Decimal("236.00"), Decimal("18.00"), Decimal("324.00"), Decimal("2124.00")),
        ("woocommerce-product-22", 3, Decimal("499.00"), Decimal("149.70"), Decimal("18.00"), Decimal("205.52"),
         Decimal("1347.30")),
    ]  # fmt: skip
    # the writer's GST is WooCommerce's total_tax (547.52), plus the COD fee's 9.00 at the lines' 18%
    assert (order.shipping_charge, order.cod_charge) == (Decimal("118.00"), Decimal("59.00" if is_cod else "0.00"))
    assert order.tax_total == Decimal("556.52" if is_cod else "547.52")

"""Shopify's REST order as ShopOps's order input. The sample is Shopify's documented order (the shape of the
``orders/create`` webhook body) with an Indian shop's values: INR, prices including GST (CGST + SGST), a 10% code."""

import copy
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from orders.api.serializers import OrderInput
from orders.channels.base import ChannelOrder, MappingError
from orders.channels.shopify import order_from_payload
from orders.services.create import order_create
from orders.validation import clean_address
from tests.orders.factories import default_location

SAMPLE = json.loads((Path(__file__).parent / "samples" / "shopify_order.json").read_text())
IST = timezone(timedelta(hours=5, minutes=30))
ADDRESS = {
    "name": "Priya Sharma", "phone": "+91 98123 45678", "line1": "42 Residency Road",
    "line2": "Flat 3B, Lakeview Apartments", "city": "Bengaluru", "state": "Karnataka", "postcode": "560025",
    "country": "IN",
}  # fmt: skip


def sample(**changes) -> dict:
    payload = copy.deepcopy(SAMPLE)
    payload.update(changes)
    return payload


def test_a_prepaid_order_with_taxes_included_maps_whole():
    assert order_from_payload(sample()) == ChannelOrder(
        payment_names=("Razorpay Secure (UPI, Cards, Wallets, NetBanking)",),
        external_id="450789469",
        data={
            "channel_order_id": "450789469",
            "payment_method": "prepaid",
            "payment_status": "paid",
            "customer": {"name": "Priya Sharma", "email": "priya.sharma@example.in", "phone": "+919812345678"},
            "shipping_address": ADDRESS,
            "billing_address": ADDRESS,
            "lines": [
                # 2 x 1180.00 less the code's 236.00 allocation: 2124.00, of which CGST 162 + SGST 162
                {
                    "sku": "KURTA-IND-M",
                    "name": "Handloom Cotton Kurta - Indigo / M",
                    "quantity": 2,
                    "unit_price": "1180.00",
                    "discount": "236.00",
                    "tax_rate": "18",
                },
                # no SKU on Shopify: the variant names it until the merchant maps it
                {
                    "sku": "shopify-variant-49148385",
                    "name": "Organic Cotton Socks - Pack of 3",
                    "quantity": 1,
                    "unit_price": "315.00",
                    "discount": "31.50",
                    "tax_rate": "5",
                },
            ],  # fmt: skip
            "shipping_charge": "118.00",
            "total": "2525.50",
            "currency": "INR",
            "ordered_at": "2025-10-14T11:02:43+05:30",
            "notes": "Shopify #1001\nPlease call before delivery.",
        },
        channel_status="paid/unfulfilled",
        cancelled=False,
        cancel_reason="",
        updated_at=datetime(2025, 10, 14, 11, 3, 10, tzinfo=IST),
        shippable=True,
        notes=[],
    )


def taxes_excluded_payload() -> dict:
    """A shop whose prices exclude GST: 3 x 33.33 at 5% is 99.99 + 5.00 tax (4.9995 rounded), shipping 100 + 18."""
    payload = sample(taxes_included=False, total_price="222.99", total_tax="23.00", subtotal_price="99.99")
    payload["line_items"] = [payload["line_items"][1]]
    payload["line_items"][0].update(
        price="33.33", quantity=3, current_quantity=3, discount_allocations=[],
        tax_lines=[{"price": "5.00", "rate": 0.05, "title": "IGST"}],
    )  # fmt: skip
    payload["shipping_lines"][0].update(
        price="100.00", discounted_price="100.00", tax_lines=[{"price": "18.00", "rate": 0.18, "title": "IGST"}]
    )
    return payload


def test_taxes_not_included_are_added_and_the_rounding_goes_to_the_line_discount():
    order = order_from_payload(taxes_excluded_payload())

    # 33.33 x 1.05 = 34.9965, rounded up to 35.00; 3 x 35.00 - 104.99 (99.99 + 5.00) leaves 0.01 of discount
    assert order.data["lines"] == [
        {"sku": "shopify-variant-49148385", "name": "Organic Cotton Socks - Pack of 3", "quantity": 3,
         "unit_price": "35.00", "discount": "0.01", "tax_rate": "5"},
    ]  # fmt: skip
    assert (order.data["shipping_charge"], order.data["total"]) == ("118.00", "222.99")


def test_taxes_not_included_with_a_discount_puts_the_discount_and_its_tax_in_the_line_discount():
    payload = taxes_excluded_payload()
    # 1000 before tax, 100 off, 18% on the 900 left: 162.00; the buyer pays 1062.00 for the line
    payload["line_items"][0].update(
        price="1000.00", quantity=1, current_quantity=1, discount_allocations=[{"amount": "100.00"}],
        tax_lines=[{"price": "81.00", "rate": 0.09, "title": "CGST"},
                   {"price": "81.00", "rate": 0.09, "title": "SGST"}],
    )  # fmt: skip
    payload["total_price"] = "1180.00"

    order = order_from_payload(payload)

    assert order.data["lines"][0] | {"name": ""} == {
        "sku": "shopify-variant-49148385", "name": "", "quantity": 1, "unit_price": "1180.00", "discount": "118.00",
        "tax_rate": "18",
    }  # fmt: skip
    assert order.data["total"] == "1180.00"


def test_allocations_are_the_discount_and_total_discount_is_not_added_to_them():
    """Orders created by some apps carry the discount in both; Shopify's staff: total_discount is presentation."""
    payload = sample()
    payload["line_items"][0]["total_discount"] = "236.00"

    assert order_from_payload(payload).data["lines"][0]["discount"] == "236.00"


def test_total_discount_is_the_discount_of_a_line_without_allocations():
    payload = sample()
    payload["line_items"][0].update(discount_allocations=[], total_discount="236.00")

    assert order_from_payload(payload).data["lines"][0]["discount"] == "236.00"


def test_several_allocations_on_a_line_are_added():
    payload = sample()
    payload["line_items"][0]["discount_allocations"] = [{"amount": "200.00"}, {"amount": "36.00"}]

    assert order_from_payload(payload).data["lines"][0]["discount"] == "236.00"


def test_shipping_is_the_discounted_price_and_with_taxes_excluded_its_tax_is_added():
    payload = taxes_excluded_payload()
    payload["shipping_lines"] = [
        {"price": "100.00", "discounted_price": "50.00", "discount_allocations": [{"amount": "50.00"}],
         "tax_lines": [{"price": "9.00", "rate": 0.18, "title": "IGST"}]},
        {"price": "20.00", "discount_allocations": [{"amount": "5.00"}],
         "tax_lines": [{"price": "2.70", "rate": 0.18, "title": "IGST"}]},
    ]  # fmt: skip

    assert order_from_payload(payload).data["shipping_charge"] == "76.70"  # 50 + 9 + (20 - 5) + 2.70


def test_shipping_tax_is_not_added_again_when_taxes_are_included():
    assert order_from_payload(sample()).data["shipping_charge"] == "118.00"


@pytest.mark.parametrize(
    "gateways",
    [["Cash on Delivery (COD)"], ["cash on delivery"], ["COD"], ["Gokwik", "cod"], ["Cash On Delivery"]],
)
def test_a_cod_gateway_makes_a_cod_order_pending(gateways):
    payload = sample(payment_gateway_names=gateways, gateway=gateways[0], financial_status="pending")

    order = order_from_payload(payload)

    assert (order.data["payment_method"], order.data["payment_status"]) == ("cod", "pending")


def test_a_cod_order_stays_pending_when_shopify_reads_paid():
    payload = sample(payment_gateway_names=["Cash on Delivery (COD)"], gateway="Cash on Delivery (COD)")

    assert order_from_payload(payload).data["payment_status"] == "pending"


@pytest.mark.parametrize("gateway", ["Razorpay Secure (UPI, Cards, Wallets, NetBanking)", "codepay", "Decode UPI"])
def test_other_gateways_are_prepaid(gateway):
    payload = sample(payment_gateway_names=[gateway], gateway=gateway)

    assert order_from_payload(payload).data["payment_method"] == "prepaid"


@pytest.mark.parametrize(
    ("financial_status", "payment_status"),
    [("paid", "paid"), ("partially_refunded", "partially_refunded"), ("refunded", "refunded"),
     ("pending", "pending"), ("authorized", "pending"), ("partially_paid", "pending"), ("voided", "pending"),
     (None, "pending")],
)  # fmt: skip
def test_financial_status_is_the_payment_status(financial_status, payment_status):
    order = order_from_payload(sample(financial_status=financial_status))

    assert order.data["payment_status"] == payment_status
    assert order.channel_status == f"{financial_status or 'pending'}/unfulfilled"


def test_a_cancelled_order_is_cancelled_with_shopifys_reason():
    payload = sample(cancelled_at="2025-10-14T12:00:00+05:30", cancel_reason="customer", financial_status="refunded",
                     fulfillment_status=None, updated_at="2025-10-14T12:00:01+05:30")  # fmt: skip

    order = order_from_payload(payload)

    assert (order.cancelled, order.cancel_reason, order.channel_status) == (True, "customer", "refunded/unfulfilled")
    assert order.updated_at == datetime(2025, 10, 14, 12, 0, 1, tzinfo=IST)
    assert order.data["payment_status"] == "refunded"


def test_a_missing_shipping_address_is_a_mapping_error():
    with pytest.raises(MappingError) as error:
        order_from_payload(sample(shipping_address=None))

    assert error.value.field == "shipping_address"


def test_a_shipping_address_without_a_street_is_a_mapping_error():
    payload = sample()
    payload["shipping_address"].update(address1="", address2=None)

    with pytest.raises(MappingError) as error:
        order_from_payload(payload)

    assert error.value.field == "shipping_address"


def test_an_order_with_nothing_to_ship_is_not_shippable_and_keeps_the_billing_address():
    payload = sample(shipping_address=None)
    for item in payload["line_items"]:
        item["requires_shipping"] = False

    order = order_from_payload(payload)

    assert (order.shippable, order.notes) == (False, ["No shipping address: no line requires shipping."])
    assert order.data["shipping_address"] == order.data["billing_address"] == ADDRESS


def test_the_phone_falls_back_to_the_order_then_the_customer_then_the_billing_address():
    payload = sample(phone="+919900011122")
    del payload["shipping_address"]["phone"]
    assert order_from_payload(payload).data["shipping_address"]["phone"] == "+919900011122"

    payload["phone"] = None
    assert order_from_payload(payload).data["shipping_address"]["phone"] == "+919812345678"

    payload["customer"]["phone"] = None
    assert order_from_payload(payload).data["shipping_address"]["phone"] == "+91 98123 45678"


def test_the_name_comes_from_first_and_last_name_when_shopify_sends_no_name():
    payload = sample()
    del payload["shipping_address"]["name"]

    assert order_from_payload(payload).data["shipping_address"]["name"] == "Priya Sharma"


def test_the_email_falls_back_to_contact_email_and_no_customer_leaves_name_and_phone_out():
    payload = sample(email=None, customer=None)

    assert order_from_payload(payload).data["customer"] == {"email": "priya.sharma@example.in"}


def test_no_lines_is_a_mapping_error():
    with pytest.raises(MappingError) as error:
        order_from_payload(sample(line_items=[]))

    assert (error.value.field, error.value.message) == ("line_items", "The order has no lines.")


@pytest.mark.parametrize("value", [0, 1.5, "x", None, -1, True])
def test_a_quantity_that_is_not_a_positive_whole_number_is_a_mapping_error(value):
    payload = sample()
    payload["line_items"][1]["quantity"] = value

    with pytest.raises(MappingError) as error:
        order_from_payload(payload)

    assert error.value.field == "line_items.1.quantity"


@pytest.mark.parametrize(("value", "field"), [("abc", "price"), (None, "price"), ("-5.00", "price"), ("NaN", "price")])
def test_a_price_that_is_not_an_amount_is_a_mapping_error(value, field):
    payload = sample()
    payload["line_items"][0]["price"] = value

    with pytest.raises(MappingError) as error:
        order_from_payload(payload)

    assert error.value.field == f"line_items.0.{field}"


def test_a_bad_allocation_amount_is_a_mapping_error_naming_it():
    payload = sample()
    payload["line_items"][0]["discount_allocations"][0]["amount"] = "ten"

    with pytest.raises(MappingError) as error:
        order_from_payload(payload)

    assert error.value.field == "line_items.0.discount_allocations.0.amount"


def test_a_discount_above_the_line_is_a_mapping_error():
    payload = sample()
    payload["line_items"][1]["discount_allocations"][0]["amount"] = "400.00"

    with pytest.raises(MappingError) as error:
        order_from_payload(payload)

    assert error.value.field == "line_items.1"


@pytest.mark.parametrize(
    ("payload", "field"),
    [([], "order"), ({"name": "#1001"}, "id"), ({"id": True}, "id"), ({"id": ""}, "id"),
     ({"id": 1, "line_items": "many"}, "line_items"), ({"id": 1, "line_items": ["x"]}, "line_items.0"),
     ({"id": 1, "line_items": SAMPLE["line_items"], "shipping_address": "Bengaluru"}, "shipping_address")],
)  # fmt: skip
def test_a_payload_that_is_not_an_order_is_a_mapping_error(payload, field):
    with pytest.raises(MappingError) as error:
        order_from_payload(payload)

    assert error.value.field == field


def test_an_updated_at_that_is_not_a_time_is_a_mapping_error():
    with pytest.raises(MappingError) as error:
        order_from_payload(sample(updated_at="yesterday"))

    assert error.value.field == "updated_at"


def test_unknown_fields_are_ignored():
    payload = sample(some_new_field={"x": 1}, merchant_business_entity_id="MTU1NjUw")
    payload["line_items"][0]["sales_line_item_group_id"] = 7

    assert order_from_payload(payload) == order_from_payload(sample())


def test_an_edited_order_takes_current_quantities_prorates_and_leaves_the_total_to_shopops():
    payload = sample()
    payload["line_items"][0]["current_quantity"] = 1  # one kurta removed after the order
    payload["line_items"][1]["current_quantity"] = 0  # the socks removed

    order = order_from_payload(payload)

    assert order.data["lines"] == [
        {"sku": "KURTA-IND-M", "name": "Handloom Cotton Kurta - Indigo / M", "quantity": 1, "unit_price": "1180.00",
         "discount": "118.00", "tax_rate": "18"},
    ]  # fmt: skip
    assert "total" not in order.data
    assert order.notes == [
        "shopify-variant-49148385: removed on Shopify, not taken in.",
        "Edited on Shopify: lines at their current quantities; the total is ShopOps's.",
    ]


def test_a_tip_is_kept_out_of_the_total():
    order = order_from_payload(sample(total_price="2625.50", total_tip_received="100.00"))

    assert (order.data["total"], order.notes) == ("2525.50", ["Tip of 100.00 not part of the order."])


def test_the_name_and_note_are_the_order_notes():
    assert order_from_payload(sample(note=None)).data["notes"] == "Shopify #1001"
    assert order_from_payload(sample(note="", name=None)).data["notes"] == "Shopify #1001"


@pytest.mark.parametrize(
    ("province", "province_code", "postcode", "state"),
    [(None, "TS", "500081", "Telangana"), ("", "CG", "492001", "Chhattisgarh"), ("Orissa", "OR", "751001", "Odisha"),
     ("Tamil Nadu", "TN", "600017", "Tamil Nadu"), (None, "UK", "248001", "Uttarakhand"),
     ("Daman and Diu", "DD", "396210", "Dadra and Nagar Haveli and Daman and Diu")],
)  # fmt: skip
def test_indian_states_from_names_and_codes_pass_the_address_rules(province, province_code, postcode, state):
    payload = sample()
    payload["shipping_address"].update(province=province, province_code=province_code, zip=postcode)

    address = order_from_payload(payload).data["shipping_address"]

    assert address["state"] == state
    assert clean_address(address, "shipping_address", phone_required=True)["state"] == state


@pytest.mark.parametrize("payload", [sample(), taxes_excluded_payload()], ids=["taxes included", "taxes excluded"])
def test_the_mapped_order_goes_through_the_order_writer_and_adds_up_to_shopifys_total(merchant, payload):
    location = default_location(merchant)
    mapped = order_from_payload(payload)
    serializer = OrderInput(data={**mapped.data, "pickup_location": str(location.pk)})
    assert serializer.is_valid(), serializer.errors

    order = order_create(merchant=merchant, data=serializer.validated_data, actor="test")

    assert order.total == Decimal(payload["total_price"])
    assert (order.channel_order_id, order.payment_method, order.payment_status) == ("450789469", "prepaid", "paid")
    assert order.shipping_address == {**ADDRESS, "phone": "+919812345678"}
    if payload["taxes_included"]:
        # the writer's GST out of the GST-included amounts is Shopify's total_tax
        assert (order.tax_total, order.shipping_tax) == (Decimal("355.50"), Decimal("18.00"))
        assert [(ln.sku, ln.quantity, ln.unit_price, ln.discount, ln.tax_rate, ln.tax_amount, ln.total)
                for ln in order.lines.order_by("id")] == [
            ("KURTA-IND-M", 2, Decimal("1180.00"), Decimal("236.00"), Decimal("18.00"), Decimal("324.00"),
             Decimal("2124.00")),
            ("shopify-variant-49148385", 1, Decimal("315.00"), Decimal("31.50"), Decimal("5.00"), Decimal("13.50"),
             Decimal("283.50")),
        ]  # fmt: skip
    else:
        # 104.99 at 5% holds 5.00 of GST, as Shopify charged; shipping's 118.00 holds 18.00 at the line's 5%
        assert (order.tax_total, order.shipping_tax) == (Decimal("10.62"), Decimal("5.62"))
        assert [(ln.quantity, ln.unit_price, ln.discount, ln.tax_amount, ln.total) for ln in order.lines.all()] == [
            (3, Decimal("35.00"), Decimal("0.01"), Decimal("5.00"), Decimal("104.99")),
        ]

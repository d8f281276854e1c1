"""The Magento 2 order mapping: exact order input from REST payloads, and the writer taking it at Magento's total."""

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from orders.api.serializers import OrderInput
from orders.channels.base import ChannelOrder, MappingError
from orders.channels.magento import order_from_payload
from orders.services.create import order_create
from tests.orders.factories import default_location

SAMPLES = Path(__file__).parent / "samples"

MEERA = {
    "name": "Meera Nair", "phone": "+91 98450 11223", "line1": "221, 12th Main Road",
    "line2": "HAL 2nd Stage, Indiranagar", "city": "Bengaluru", "state": "Karnataka", "postcode": "560038",
    "country": "IN",
}  # fmt: skip
ROHAN = {
    "name": "Rohan Kulkarni", "phone": "9823012345", "line1": "Flat 7, Sai Krupa Apartments",
    "line2": "Prabhat Road, Erandwane", "city": "Pune", "state": "Maharashtra", "postcode": "411004", "country": "IN",
}  # fmt: skip


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def cod_data(**overrides) -> dict:
    data = {
        "channel_order_id": "000000911", "payment_method": "cod", "payment_status": "pending",
        "shipping_address": ROHAN, "billing_address": ROHAN,
        "customer": {"name": "Rohan Kulkarni", "email": "rohan.k@example.in", "phone": "9823012345"},
        "lines": [{"sku": "SOAP-NEEM-75G", "quantity": 3, "unit_price": "33.34", "discount": "0.02",
                   "name": "Neem Soap (pack of 3)", "tax_rate": "18.00"}],
        "shipping_charge": "0.00", "total": "100.00", "currency": "INR", "ordered_at": "2024-10-15T11:02:45+00:00",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_a_prepaid_order_with_a_configurable_product_a_coupon_and_taxed_shipping():
    mapped = order_from_payload(sample("magento_prepaid_configurable.json"))

    # the configurable's child item is skipped (its parent carries the price); the coupon's 149.70 stays on its
    # line; shipping is 84.75 + 15.25 GST; the lines and shipping add up to grand_total
    assert mapped == ChannelOrder(
        payment_names=('razorpay',),
        external_id="000000906",
        data={
            "channel_order_id": "000000906", "payment_method": "prepaid", "payment_status": "paid",
            "shipping_address": MEERA, "billing_address": MEERA,
            "customer": {"name": "Meera Nair", "email": "meera.nair@example.in", "phone": "+91 98450 11223"},
            "lines": [
                {"sku": "TSHIRT-CREW-BLU-M", "quantity": 3, "unit_price": "499.00", "discount": "149.70",
                 "name": "Cotton Crew T-shirt", "tax_rate": "5.00"},
                {"sku": "MUG-CER-350", "quantity": 2, "unit_price": "349.00", "discount": "0.00",
                 "name": "Ceramic Mug 350 ml", "tax_rate": "12.00"},
            ],
            "shipping_charge": "100.00", "total": "2145.30", "currency": "INR",
            "ordered_at": "2024-10-14T05:32:11+00:00",
        },
        channel_status="processing",
        updated_at=datetime(2024, 10, 14, 5, 34, 2, tzinfo=UTC),
        shippable=True,
    )  # fmt: skip


def test_a_cod_order_whose_unit_price_rounds_short_of_the_row_total():
    # 3 x 33.33 = 99.99, but Magento's row total (tax per row) is 100.00: the unit price is rounded up to 33.34
    # and the 0.02 over is the line's discount, so the line is the 100.00 the buyer pays
    mapped = order_from_payload(sample("magento_cod_new.json"))

    assert mapped == ChannelOrder(
        payment_names=('cashondelivery',),
        external_id="000000911", data=cod_data(), channel_status="pending",
        updated_at=datetime(2024, 10, 15, 11, 2, 46, tzinfo=UTC), shippable=True,
    )  # fmt: skip


def test_a_discount_taken_off_prices_without_tax_is_read_from_the_tax_after_it():
    # "Apply Discount On Prices: Excluding Tax": 10% off 100.00, 18% GST on the 90.00 left, no compensation
    payload = sample("magento_cod_new.json")
    payload["items"][0].update(qty_ordered=1, price=100, price_incl_tax=118, row_total=100, row_total_incl_tax=118,
                               discount_amount=10, tax_amount=16.2)  # fmt: skip
    payload["grand_total"] = 106.2

    mapped = order_from_payload(payload)

    assert mapped.data["lines"] == [
        {"sku": "SOAP-NEEM-75G", "quantity": 1, "unit_price": "118.00", "discount": "11.80",
         "name": "Neem Soap (pack of 3)", "tax_rate": "18.00"}
    ]  # fmt: skip
    assert mapped.data["total"] == "106.20"


def test_a_shipping_discount_comes_off_the_shipping_charge():
    payload = sample("magento_prepaid_configurable.json")
    payload.update(shipping_discount_amount=50, shipping_tax_amount=7.63, grand_total=2095.3)

    assert order_from_payload(payload).data["shipping_charge"] == "42.38"


@pytest.mark.parametrize(
    ("state", "status", "cancelled", "shippable"),
    [
        ("canceled", "canceled", True, False),
        ("pending_payment", "pending_payment", False, False),
        ("payment_review", "fraud", False, False),
        ("holded", "holded", False, False),
        ("closed", "closed", False, False),
        ("processing", "processing", False, True),
        ("complete", "complete", False, True),
    ],
)
def test_the_state_decides_whether_the_order_is_cancelled_or_ours_to_ship(state, status, cancelled, shippable):
    payload = sample("magento_cod_new.json")
    payload.update(state=state, status=status)

    mapped = order_from_payload(payload)

    assert (mapped.channel_status, mapped.cancelled, mapped.shippable) == (status, cancelled, shippable)
    assert mapped.data == cod_data()


@pytest.mark.parametrize(
    ("totals", "status"),
    [
        ({"total_paid": 2145.3}, "paid"),
        ({"total_paid": 1000}, "pending"),
        ({}, "pending"),
        ({"total_paid": 2145.3, "total_refunded": 499}, "partially_refunded"),
        ({"total_paid": 2145.3, "total_refunded": 2145.3}, "refunded"),
    ],
)
def test_the_payment_status_follows_what_was_paid_and_refunded(totals, status):
    payload = sample("magento_prepaid_configurable.json")
    del payload["total_paid"]
    payload.update(totals)

    assert order_from_payload(payload).data["payment_status"] == status


def test_a_virtual_order_is_not_shipped_and_needs_no_shipping_address():
    payload = sample("magento_cod_new.json")
    payload["is_virtual"] = 1
    del payload["extension_attributes"]

    mapped = order_from_payload(payload)

    assert (mapped.shippable, mapped.notes) == (False, ["A virtual order: nothing to ship."])
    assert "shipping_address" not in mapped.data
    assert mapped.data["billing_address"] == ROHAN


def test_a_partly_cancelled_item_keeps_its_charged_quantity_and_is_noted():
    payload = sample("magento_cod_new.json")
    payload["items"][0]["qty_canceled"] = 1

    mapped = order_from_payload(payload)

    assert mapped.data["lines"][0]["quantity"] == 3
    assert mapped.notes == ["SOAP-NEEM-75G: 1 of 3 cancelled on Magento."]


def test_unknown_fields_are_ignored():
    payload = sample("magento_cod_new.json")
    payload.update(gift_message={"message": "Happy Diwali"}, amasty_order_attributes=[{"code": "gst_number"}])
    payload["items"][0]["extension_attributes"] = {"vertex_tax_codes": ["GST18"]}

    assert order_from_payload(payload).data == cod_data()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.pop("extension_attributes"), "extension_attributes.shipping_assignments.0.shipping.address"),
        (lambda p: p.update(items=[]), "items"),
        (lambda p: p["items"][0].update(parent_item_id=2119), "items"),
        (lambda p: p["items"][0].update(qty_ordered="1.5"), "items.0.qty_ordered"),
        (lambda p: p["items"][0].update(qty_ordered=0), "items.0.qty_ordered"),
        (lambda p: p["items"][0].update(price_incl_tax="33,33"), "items.0.price_incl_tax"),
        (lambda p: p["items"][0].pop("sku"), "items.0.sku"),
        (lambda p: p.update(grand_total=None), "grand_total"),
        (lambda p: p.pop("increment_id"), "increment_id"),
        (lambda p: p.update(created_at="15/10/2024"), "created_at"),
    ],
)
def test_a_payload_that_cannot_be_an_order_names_the_magento_field(change, field):
    payload = sample("magento_cod_new.json")
    change(payload)

    with pytest.raises(MappingError) as error:
        order_from_payload(payload)

    assert error.value.field == field


def test_the_mapping_does_not_change_the_payload():
    payload = sample("magento_prepaid_configurable.json")
    before = copy.deepcopy(payload)

    order_from_payload(payload)

    assert payload == before


@pytest.mark.django_db
def test_the_writer_takes_the_mapped_order_at_magentos_grand_total(merchant):
    location = default_location(merchant)
    mapped = order_from_payload(sample("magento_prepaid_configurable.json"))
    serializer = OrderInput(data=mapped.data)
    assert serializer.is_valid(), serializer.errors

    order = order_create(merchant=merchant, data=serializer.validated_data, actor="test")

    # 1347.30 (5% GST: 64.16) + 698.00 (12%: 74.79) + shipping 100.00 at the principal supply's 5% (4.76)
    assert (order.channel_order_id, order.total, order.subtotal, order.discount_total) == (
        "000000906", Decimal("2145.30"), Decimal("2195.00"), Decimal("149.70"))  # fmt: skip
    assert (order.shipping_charge, order.shipping_tax, order.tax_total) == (
        Decimal("100.00"), Decimal("4.76"), Decimal("143.71"))  # fmt: skip
    assert (order.payment_method, order.payment_status, order.currency) == ("prepaid", "paid", "INR")
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.discount, ln.tax_rate, ln.tax_amount, ln.total)
            for ln in order.lines.order_by("id")] == [
        ("TSHIRT-CREW-BLU-M", 3, Decimal("499.00"), Decimal("149.70"), Decimal("5.00"), Decimal("64.16"),
         Decimal("1347.30")),
        ("MUG-CER-350", 2, Decimal("349.00"), Decimal("0.00"), Decimal("12.00"), Decimal("74.79"), Decimal("698.00")),
    ]  # fmt: skip
    assert order.shipping_address == {
        "name": "Meera Nair", "phone": "+919845011223", "line1": "221, 12th Main Road",
        "line2": "HAL 2nd Stage, Indiranagar", "city": "Bengaluru", "state": "Karnataka", "postcode": "560038",
        "country": "IN",
    }  # fmt: skip
    assert order.pickup_location == location
    assert order.ordered_at == datetime(2024, 10, 14, 5, 32, 11, tzinfo=UTC)

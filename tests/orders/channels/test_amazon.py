"""The Amazon SP-API order mapping: exact order input from an order, its items and its address, and the writer
taking it at Amazon's OrderTotal."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from orders.api.serializers import OrderInput
from orders.channels.amazon import order_from_parts
from orders.channels.base import ChannelOrder, MappingError
from orders.services.create import order_create
from tests.orders.factories import default_location

SAMPLES = Path(__file__).parent / "samples"

ANANYA = {
    "name": "Ananya Iyer", "phone": "+91 98400 12345", "line1": "Flat 12B, Lotus Residency",
    "line2": "4th Avenue, Anna Nagar East, Near Tower Park", "city": "CHENNAI", "state": "TAMIL NADU",
    "postcode": "600102", "country": "IN",
}  # fmt: skip
KURTA = {"sku": "KURTA-COT-IND-L", "quantity": 3, "unit_price": "333.34", "discount": "100.02",
         "name": "Women's Cotton Straight Kurta, Indigo, L", "tax_rate": "5.00"}  # fmt: skip
DUPATTA = {"sku": "DUPATTA-SILK-MRN", "quantity": 1, "unit_price": "599.00", "discount": "0.00",
           "name": "Art Silk Dupatta, Maroon", "tax_rate": "18.00"}  # fmt: skip


def parts(name: str) -> tuple[dict, list[dict], dict | None]:
    sample = json.loads((SAMPLES / name).read_text())
    return sample["order"], sample["items"], sample["address"]


def prepaid_data(**overrides) -> dict:
    data = {
        "channel_order_id": "171-5304612-4431543", "payment_method": "prepaid", "payment_status": "paid",
        "shipping_address": ANANYA,
        "customer": {"name": "Ananya Iyer", "email": "4zx1k9w7qv3m8d2@marketplace.amazon.in",
                     "phone": "+91 98400 12345"},
        "lines": [KURTA, DUPATTA], "shipping_charge": "50.00", "total": "1549.00", "currency": "INR",
        "ordered_at": "2024-11-02T06:41:12+00:00",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_a_prepaid_seller_fulfilled_order_on_amazon_in():
    order, items, address = parts("amazon_mfn_prepaid.json")

    mapped = order_from_parts(order, items, address)

    # ItemPrice 1000.00 is the price of 3 kurtas: 333.34 each (rounded up), the 100.00 promotion and the 0.02 over
    # are the line's discount; the prices contain their GST (the parts add up to OrderTotal without ItemTax), and
    # ItemTax 47.62 on 1000.00 is 5%, 91.37 on 599.00 is 18%
    assert mapped == ChannelOrder(
        payment_names=('Other', 'Standard'),
        external_id="171-5304612-4431543", data=prepaid_data(), channel_status="Unshipped",
        updated_at=datetime(2024, 11, 2, 7, 15, 40, tzinfo=UTC), shippable=True,
    )  # fmt: skip


def test_a_cod_order_with_the_address_from_get_order_address():
    order, items, address = parts("amazon_mfn_cod.json")

    mapped = order_from_parts(order, items, address)

    assert mapped == ChannelOrder(
        payment_names=('COD',),
        external_id="402-8816309-7716321",
        data={
            "channel_order_id": "402-8816309-7716321", "payment_method": "cod", "payment_status": "pending",
            "shipping_address": {
                "name": "Karthik Reddy", "phone": "9886012345", "line1": "No. 18, 2nd Cross, Jayanagar 4th Block",
                "line2": "", "city": "Bengaluru", "state": "Karnataka", "postcode": "560011", "country": "IN",
            },
            "customer": {"phone": "9886012345"},
            "lines": [{"sku": "TIFFIN-SS-3TIER", "quantity": 2, "unit_price": "399.00", "discount": "0.00",
                       "name": "Stainless Steel 3-Tier Tiffin Box", "tax_rate": "12.00"}],
            "shipping_charge": "0.00", "total": "798.00", "currency": "INR",
            "ordered_at": "2024-11-03T14:05:51+00:00",
        },
        channel_status="Unshipped", updated_at=datetime(2024, 11, 3, 14, 36, 9, tzinfo=UTC), shippable=True,
    )  # fmt: skip


def test_cash_on_delivery_among_the_payment_method_details_is_cod():
    order, items, address = parts("amazon_mfn_prepaid.json")
    order["PaymentMethodDetails"] = ["CashOnDelivery"]

    mapped = order_from_parts(order, items, address)

    assert (mapped.data["payment_method"], mapped.data["payment_status"]) == ("cod", "pending")


def test_a_cod_fee_is_the_orders_cod_charge():
    order, items, address = parts("amazon_mfn_cod.json")
    items[0].update(CODFee={"CurrencyCode": "INR", "Amount": "40.00"},
                    CODFeeDiscount={"CurrencyCode": "INR", "Amount": "10.00"})  # fmt: skip
    order["OrderTotal"]["Amount"] = "828.00"

    mapped = order_from_parts(order, items, address)

    assert (mapped.data["cod_charge"], mapped.data["total"]) == ("30.00", "828.00")


def test_prices_that_add_up_to_the_total_only_with_their_taxes_get_the_taxes_added():
    # a marketplace whose prices are without tax: 100.00 + 18.00 GST, shipping 40.00 + 7.20
    order, items, address = parts("amazon_mfn_cod.json")
    items[0].update(QuantityOrdered=1, ItemPrice={"CurrencyCode": "INR", "Amount": "100.00"},
                    ItemTax={"CurrencyCode": "INR", "Amount": "18.00"},
                    ShippingPrice={"CurrencyCode": "INR", "Amount": "40.00"},
                    ShippingTax={"CurrencyCode": "INR", "Amount": "7.20"})  # fmt: skip
    order["OrderTotal"]["Amount"] = "165.20"

    mapped = order_from_parts(order, items, address)

    assert mapped.data["lines"] == [{"sku": "TIFFIN-SS-3TIER", "quantity": 1, "unit_price": "118.00",
                                     "discount": "0.00", "name": "Stainless Steel 3-Tier Tiffin Box",
                                     "tax_rate": "18.00"}]  # fmt: skip
    assert (mapped.data["shipping_charge"], mapped.data["total"], mapped.notes) == ("47.20", "165.20", [])


def test_parts_that_add_up_neither_way_are_noted_and_left_to_the_writer_to_refuse():
    order, items, address = parts("amazon_mfn_cod.json")
    order["OrderTotal"]["Amount"] = "800.00"

    mapped = order_from_parts(order, items, address)

    assert mapped.data["total"] == "800.00"
    assert mapped.notes == ["The items add up to 798.00 (with their taxes 883.50), not to the order total 800.00."]


def test_a_tax_that_fits_no_gst_slab_leaves_the_rate_to_the_product():
    order, items, address = parts("amazon_mfn_cod.json")
    items[0]["ItemTax"] = {"CurrencyCode": "INR", "Amount": "60.00"}
    del items[1:]

    assert "tax_rate" not in order_from_parts(order, items, address).data["lines"][0]


def test_a_pending_order_is_not_shippable_and_needs_no_address():
    order, items, _ = parts("amazon_mfn_prepaid.json")
    order["OrderStatus"] = "Pending"
    del order["ShippingAddress"]

    mapped = order_from_parts(order, items, None)

    assert (mapped.channel_status, mapped.shippable, mapped.cancelled) == ("Pending", False, False)
    assert mapped.data == {key: value for key, value in prepaid_data(
        customer={"name": "Ananya Iyer", "email": "4zx1k9w7qv3m8d2@marketplace.amazon.in"}).items()
        if key != "shipping_address"}  # fmt: skip


def test_an_order_fulfilled_by_amazon_is_not_ours_to_ship():
    order, items, address = parts("amazon_mfn_prepaid.json")
    order.update(FulfillmentChannel="AFN", OrderStatus="Shipped")

    mapped = order_from_parts(order, items, address)

    assert (mapped.shippable, mapped.notes) == (False, ["Fulfilled by Amazon (AFN): Amazon ships it."])
    assert mapped.data == prepaid_data()


def test_a_shipped_order_stays_shippable_for_the_caller_to_decide():
    order, items, address = parts("amazon_mfn_prepaid.json")
    order["OrderStatus"] = "Shipped"

    mapped = order_from_parts(order, items, address)

    assert (mapped.channel_status, mapped.shippable, mapped.cancelled) == ("Shipped", True, False)


def test_a_cancelled_order_whose_items_have_no_quantity_left():
    order, items, _ = parts("amazon_mfn_prepaid.json")
    order.update(OrderStatus="Canceled", OrderTotal={"CurrencyCode": "INR", "Amount": "0.00"})
    del order["ShippingAddress"]
    for item in items:
        item["QuantityOrdered"] = 0
        del item["ItemPrice"]

    mapped = order_from_parts(order, items, None)

    assert (mapped.cancelled, mapped.shippable, mapped.data["lines"]) == (True, False, [])
    assert mapped.notes == ["KURTA-COT-IND-L: no quantity left on the cancelled order.",
                            "DUPATTA-SILK-MRN: no quantity left on the cancelled order."]  # fmt: skip


def test_the_buyer_info_of_get_order_buyer_info_wins_over_the_orders():
    order, items, address = parts("amazon_mfn_prepaid.json")

    buyer = {"AmazonOrderId": "171-5304612-4431543", "BuyerEmail": "x9@marketplace.amazon.in", "BuyerName": "A. Iyer"}

    mapped = order_from_parts(order, items, address, buyer)

    assert mapped.data["customer"] == {
        "name": "A. Iyer",
        "email": "x9@marketplace.amazon.in",
        "phone": "+91 98400 12345",
    }


def test_unknown_fields_are_ignored():
    order, items, address = parts("amazon_mfn_prepaid.json")
    order["ElectronicInvoiceStatus"] = "NotRequired"
    items[0]["BuyerRequestedCancel"] = {"IsBuyerRequestedCancel": "false"}
    address["DeliveryPreferences"] = {"AddressInstructions": "Ring twice"}

    assert order_from_parts(order, items, address).data == prepaid_data()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda o, i, a: a.clear(), "ShippingAddress"),
        (lambda o, i, a: a.pop("AddressLine1"), "ShippingAddress"),
        (lambda o, i, a: i.clear(), "OrderItems"),
        (lambda o, i, a: i[0].update(QuantityOrdered="three"), "OrderItems.0.QuantityOrdered"),
        (lambda o, i, a: i[0].update(QuantityOrdered=0), "OrderItems.0.QuantityOrdered"),
        (lambda o, i, a: i[1]["ItemPrice"].update(Amount="599,00"), "OrderItems.1.ItemPrice.Amount"),
        (lambda o, i, a: i[1].pop("ItemPrice"), "OrderItems.1.ItemPrice"),
        (lambda o, i, a: i[0].pop("SellerSKU"), "OrderItems.0.SellerSKU"),
        (lambda o, i, a: o.pop("AmazonOrderId"), "AmazonOrderId"),
        (lambda o, i, a: o["OrderTotal"].update(Amount=None), "OrderTotal.Amount"),
        (lambda o, i, a: o.update(LastUpdateDate="2024-11-02 07:15:40"), "LastUpdateDate"),
    ],
)
def test_parts_that_cannot_be_an_order_name_the_amazon_field(change, field):
    order, items, address = parts("amazon_mfn_prepaid.json")
    change(order, items, address)

    with pytest.raises(MappingError) as error:
        order_from_parts(order, items, address)

    assert error.value.field == field


@pytest.mark.django_db
def test_the_writer_takes_the_mapped_order_at_amazons_order_total(merchant):
    location = default_location(merchant)
    order, items, address = parts("amazon_mfn_prepaid.json")
    mapped = order_from_parts(order, items, address)
    serializer = OrderInput(data=mapped.data)
    assert serializer.is_valid(), serializer.errors

    created = order_create(merchant=merchant, data=serializer.validated_data, actor="test")

    # 3 x 333.34 - 100.02 = 900.00 (5% GST: 42.86) + 599.00 (18%: 91.37) + shipping 50.00 at the principal
    # supply's 5% (2.38): exactly Amazon's OrderTotal
    assert (created.channel_order_id, created.total, created.subtotal, created.discount_total) == (
        "171-5304612-4431543", Decimal("1549.00"), Decimal("1599.02"), Decimal("100.02"))  # fmt: skip
    assert (created.shipping_charge, created.shipping_tax, created.tax_total) == (
        Decimal("50.00"), Decimal("2.38"), Decimal("136.61"))  # fmt: skip
    assert (created.payment_method, created.payment_status, created.currency) == ("prepaid", "paid", "INR")
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.discount, ln.tax_rate, ln.tax_amount, ln.total)
            for ln in created.lines.order_by("id")] == [
        ("KURTA-COT-IND-L", 3, Decimal("333.34"), Decimal("100.02"), Decimal("5.00"), Decimal("42.86"),
         Decimal("900.00")),
        ("DUPATTA-SILK-MRN", 1, Decimal("599.00"), Decimal("0.00"), Decimal("18.00"), Decimal("91.37"),
         Decimal("599.00")),
    ]  # fmt: skip
    assert created.shipping_address == {
        "name": "Ananya Iyer", "phone": "+919840012345", "line1": "Flat 12B, Lotus Residency",
        "line2": "4th Avenue, Anna Nagar East, Near Tower Park", "city": "CHENNAI", "state": "Tamil Nadu",
        "postcode": "600102", "country": "IN",
    }  # fmt: skip
    assert created.pickup_location == location
    assert created.ordered_at == datetime(2024, 11, 2, 6, 41, 12, tzinfo=UTC)

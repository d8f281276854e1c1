"""The orders API: creation and its validation, the lifecycle actions, filters, export, edits, bulk, events."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import StockLevel, StockMovement
from orders.models import ORDER_TRANSITIONS, Channel, Customer, Order, OrderEvent, OrderLine, OrderStatus
from orders.selectors import EXPORT_COLUMNS
from orders.services.orders import order_confirm, order_map_lines, order_pack
from shopops.errors import state_refusal
from tests.api import NOT_FOUND, invalid
from tests.catalog.factories import LocationFactory, ProductFactory, stock
from tests.conftest import client_for
from tests.orders.factories import ChannelFactory, default_location, make_order

ORDERS = "/api/v1/orders/"
KOLKATA = "Asia/Kolkata"


def url(order, action: str = "") -> str:
    return f"{ORDERS}{order.pk}/" + (f"{action}/" if action else "")


def actor_of(api) -> str:
    return f"app:{api.application.client_id}"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def listed(api, params) -> list[int]:
    response = api.get(ORDERS, params)
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def walk(api, params) -> tuple[list[int], dict]:
    """Follow `next` links from the first page; return the ids in order and the last page."""
    response = api.get(ORDERS, params)
    ids = []
    while True:
        assert response.status_code == 200, response.json()
        body = response.json()
        ids += [row["id"] for row in body["results"]]
        if body["next"] is None:
            return ids, body
        response = api.get(body["next"])


def walk_back(api, page: dict) -> list[int]:
    """Follow `previous` links from ``page`` back to the first page; return every id in order."""
    ids = [row["id"] for row in page["results"]]
    while page["previous"]:
        page = api.get(page["previous"]).json()
        ids = [row["id"] for row in page["results"]] + ids
    return ids


def written() -> dict:
    """Row counts a refused request must leave alone."""
    return {
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "customers": Customer.objects.count(),
        "events": OrderEvent.objects.count(),
        "movements": StockMovement.objects.count(),
    }


def levels(merchant) -> list[tuple]:
    return list(
        StockLevel.objects.filter(merchant=merchant).order_by("pk").values_list("product_id", "on_hand", "reserved")
    )


@pytest.fixture
def main(merchant):
    return default_location(merchant)


@pytest.fixture
def tee(merchant, main):
    product = ProductFactory(merchant=merchant, sku="TEE-BLK-M", title="Black tee M", price=Decimal("499.00"),
                             tax_rate=Decimal("18.00"), hsn_code="6109", weight_grams=250)  # fmt: skip
    stock(product, main, 10)
    return product


def full_body(**overrides) -> dict:
    """Two lines: a catalog SKU with a discount, and an unmapped SKU whose GST ends in exactly half a paisa.

    TEE-BLK-M: 2 x 499.00 - 50.00 = 948.00; GST 18% inside: 948.00 - 948.00/1.18 = 144.6101.. -> 144.61
    GIFT-BOX-XL: 1 x 1119.84 = 1119.84; GST 28% inside: 1119.84 - 874.875 = 244.965 -> 244.97 (half up)
    total = 948.00 + 1119.84 + 40.00 shipping = 2107.84
    """
    body = {
        "channel_order_id": "PO-1001",
        "payment_method": "prepaid",
        "customer": {"name": "Priya Sharma", "email": "Priya@Example.com"},
        "shipping_address": {"name": "Priya Sharma", "phone": "98123 45678", "line1": " 42 Residency Road ",
                             "city": "Bengaluru", "state": "karnataka", "postcode": "560025", "country": "in"},
        "lines": [
            {"sku": "TEE-BLK-M", "quantity": 2, "unit_price": "499.00", "discount": "50.00"},
            {"sku": "GIFT-BOX-XL", "name": "Gift box", "quantity": 1, "unit_price": "1119.84", "tax_rate": "28.00",
             "hsn_code": "4819"},
        ],
        "shipping_charge": "40.00",
        "total": "2107.84",
        "ordered_at": "2026-03-01T10:00:00+05:30",
    }  # fmt: skip
    body.update(overrides)
    return body


# --- creation -------------------------------------------------------------------------------------


def test_create_computes_totals_normalises_and_answers_the_whole_order(api, merchant, tee, main):
    # When
    response = api.post(ORDERS, full_body(), format="json")

    # Then
    assert response.status_code == 201, response.json()
    body = response.json()
    order = Order.objects.get()
    channel = Channel.objects.get(merchant=merchant)
    customer = Customer.objects.get(merchant=merchant)
    box_line, tee_line = order.lines.get(sku="GIFT-BOX-XL"), order.lines.get(sku="TEE-BLK-M")
    address = {"name": "Priya Sharma", "phone": "+919812345678", "line1": "42 Residency Road", "line2": "",
               "city": "Bengaluru", "state": "Karnataka", "postcode": "560025", "country": "IN"}  # fmt: skip
    assert body == {
        "id": order.pk, "number": "SO-000001", "channel": channel.channel_id, "channel_order_id": "PO-1001",
        "status": "new", "payment_method": "prepaid", "payment_status": "paid",
        "customer": {"id": customer.pk, "name": "Priya Sharma", "email": "priya@example.com",
                     "phone": "+919812345678"},
        "is_returning_customer": False, "shipping_address": address, "billing_address": address,
        "lines": [
            {"id": tee_line.pk, "sku": "TEE-BLK-M", "product": tee.pk, "name": "Black tee M", "quantity": 2,
             "unit_price": "499.00", "discount": "50.00", "tax_rate": "18.00", "tax_amount": "144.61",
             "hsn_code": "6109", "uqc": "NOS", "total": "948.00", "returned_quantity": 0},
            {"id": box_line.pk, "sku": "GIFT-BOX-XL", "product": None, "name": "Gift box", "quantity": 1,
             "unit_price": "1119.84", "discount": "0.00", "tax_rate": "28.00", "tax_amount": "244.97",
             "hsn_code": "4819", "uqc": "NOS", "total": "1119.84", "returned_quantity": 0},
        ],
        # the shipping is taxed at the principal supply's rate: the gift box's 28% (taxable 874.87 > 803.39)
        "subtotal": "2117.84", "discount_total": "50.00", "shipping_charge": "40.00", "cod_charge": "0.00",
        "charges_tax_rate": "28.00", "shipping_tax": "8.75", "cod_tax": "0.00", "tax_total": "398.33",
        "lut_reference": "", "total": "2107.84", "currency": "INR", "weight_grams": 500, "length_cm": "0.0",
        "breadth_cm": "0.0", "height_cm": "0.0", "pickup_location": main.pk, "notes": "",
        "ordered_at": "2026-03-01T10:00:00+05:30", "confirmed_at": None, "packed_at": None, "shipped_at": None,
        "delivered_at": None, "cancelled_at": None, "cancel_reason": "", "awb": "", "courier": "",
        "eway_bill_number": "",
        "created_at": body["created_at"], "updated_at": body["updated_at"],
    }  # fmt: skip
    # The default API channel was created for it, and the unmapped SKU is noted on the timeline
    assert (channel.name, channel.kind, channel.is_default_api) == ("API", "api", True)
    assert list(order.events.values("kind", "from_status", "to_status", "actor", "message", "data")) == [
        {"kind": "created", "from_status": "", "to_status": "new", "actor": actor_of(api),
         "message": "Created from API; unmapped SKUs: GIFT-BOX-XL",
         "data": {"returning_customer": False, "unmapped_skus": ["GIFT-BOX-XL"]}},
    ]  # fmt: skip
    # Creating an order reserves nothing
    assert levels(merchant) == [(tee.pk, 10, 0)]


def test_a_zero_tax_rate_has_no_tax(api, merchant, tee):
    body = full_body(lines=[{"sku": "LOOSE", "name": "Loose item", "quantity": 3, "unit_price": "33.33",
                             "tax_rate": "0"}], total="139.99")  # fmt: skip

    response = api.post(ORDERS, body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["lines"][0]["tax_amount"] == "0.00"
    assert (response.json()["subtotal"], response.json()["tax_total"]) == ("99.99", "0.00")


def test_the_same_phone_written_differently_is_a_returning_customer(api, merchant, tee):
    # Given a first order from "98123 45678"
    first = api.post(ORDERS, full_body(customer={"name": "Priya Sharma"}), format="json")

    # When the same person orders again as "+91 98123 45678", with an earlier order date
    second = api.post(ORDERS, full_body(
        channel_order_id="PO-1002", customer={"name": "P. Sharma"}, ordered_at="2026-02-20T09:00:00+05:30",
        shipping_address={**full_body()["shipping_address"], "phone": "+91 98123 45678"},
        lines=[{"sku": "TEE-BLK-M", "quantity": 1, "unit_price": "499.00"}], shipping_charge="0.00", total="499.00",
    ), format="json")  # fmt: skip

    # Then
    assert (first.status_code, second.status_code) == (201, 201)
    assert (first.json()["is_returning_customer"], second.json()["is_returning_customer"]) == (False, True)
    customer = Customer.objects.get()
    assert first.json()["customer"]["id"] == second.json()["customer"]["id"] == customer.pk
    assert (customer.name, customer.phone, customer.orders_count, customer.total_spent) == (
        "Priya Sharma", "+919812345678", 2, Decimal("2606.84"),
    )  # fmt: skip
    assert customer.first_order_at == utc("2026-02-20T09:00:00+05:30")
    assert customer.last_order_at == utc("2026-03-01T10:00:00+05:30")
    assert OrderEvent.objects.filter(order_id=second.json()["id"]).get().data["returning_customer"] is True


def test_a_different_phone_is_a_new_customer(api, merchant, tee):
    api.post(ORDERS, full_body(), format="json")

    response = api.post(ORDERS, full_body(
        channel_order_id="PO-1002", customer={"name": "Rahul Verma"},
        shipping_address={**full_body()["shipping_address"], "name": "Rahul Verma", "phone": "98765 43210"},
    ), format="json")  # fmt: skip

    assert response.json()["is_returning_customer"] is False
    assert sorted(Customer.objects.values_list("phone", "orders_count")) == [("+919812345678", 1),
                                                                           ("+919876543210", 1)]  # fmt: skip


def test_numbers_are_a_sequence_per_merchant(api, merchant, other_merchant, tee):
    other_api = client_for(other_merchant)
    stock(ProductFactory(merchant=other_merchant, sku="TEE-BLK-M"), default_location(other_merchant), 10)

    numbers = [api.post(ORDERS, full_body(channel_order_id=f"PO-{n}"), format="json").json()["number"]
               for n in range(3)]  # fmt: skip
    other = other_api.post(ORDERS, full_body(channel_order_id="PO-0"), format="json")

    assert numbers == ["SO-000001", "SO-000002", "SO-000003"]
    assert (other.status_code, other.json()["number"]) == (201, "SO-000001")


def test_orders_without_a_channel_share_one_default_api_channel_and_a_named_channel_is_used(api, merchant, tee):
    shop = ChannelFactory(merchant=merchant, name="Shopify store")

    first = api.post(ORDERS, full_body(channel_order_id="A"), format="json").json()
    second = api.post(ORDERS, full_body(channel_order_id="B"), format="json").json()
    by_channel_id = api.post(ORDERS, full_body(channel_order_id="C", channel=shop.channel_id), format="json").json()
    by_pk = api.post(ORDERS, full_body(channel_order_id="D", channel=str(shop.pk)), format="json").json()

    default = Channel.objects.get(merchant=merchant, is_default_api=True)
    assert Channel.objects.filter(merchant=merchant).count() == 2
    assert [first["channel"], second["channel"], by_channel_id["channel"], by_pk["channel"]] == [
        default.channel_id, default.channel_id, shop.channel_id, shop.channel_id,
    ]  # fmt: skip


def test_without_a_channel_order_id_the_number_is_used(api, merchant, tee):
    body = full_body()
    del body["channel_order_id"]

    response = api.post(ORDERS, body, format="json")

    assert (response.json()["number"], response.json()["channel_order_id"]) == ("SO-000001", "SO-000001")


def test_a_supplied_total_that_disagrees_is_400_and_nothing_is_written(api, merchant, tee):
    before = written()

    response = api.post(ORDERS, full_body(total="2107.83"), format="json")

    assert response.status_code == 400
    assert response.json() == invalid({"total": [
        "Does not match the computed total 2107.84 (lines' quantity x unit_price - discount, plus shipping_charge "
        "and cod_charge)."
    ]})  # fmt: skip
    assert written() == before
    # and no order number was used up
    assert api.post(ORDERS, full_body(), format="json").json()["number"] == "SO-000001"


@pytest.mark.parametrize("existing_status", ["new", "cancelled", "delivered"])
def test_a_repeated_channel_order_id_is_409_naming_the_existing_order(api, merchant, tee, existing_status):
    # Given an order PO-1001 on the Shopify channel, in any status
    shop = ChannelFactory(merchant=merchant, name="Shopify store")
    existing = make_order(merchant, existing_status, channel=shop.channel_id, channel_order_id="PO-1001")
    before = written()

    # When the channel sends it again
    response = api.post(ORDERS, full_body(channel=shop.channel_id), format="json")

    # Then
    assert response.status_code == 409
    assert response.json() == {
        "code": "duplicate_order",
        "message": f"Channel order 'PO-1001' is already order {existing.number} ({existing_status}).",
        "details": {"existing_order": existing.pk, "number": existing.number, "status": existing_status,
                    "channel": shop.channel_id, "channel_order_id": "PO-1001"},
    }  # fmt: skip
    assert written() == before


def test_the_same_channel_order_id_on_another_channel_is_a_new_order(api, merchant, tee):
    shop = ChannelFactory(merchant=merchant, name="Shopify store")
    existing = make_order(merchant, channel=shop.channel_id, channel_order_id="PO-1001")

    response = api.post(ORDERS, full_body(), format="json")  # the default API channel

    assert response.status_code == 201
    assert response.json()["channel_order_id"] == "PO-1001"
    assert Order.objects.filter(channel_order_id="PO-1001").exclude(pk=existing.pk).count() == 1


def test_a_create_repeated_with_its_idempotency_key_is_replayed(api, merchant, tee):
    first = api.post(ORDERS, full_body(), format="json", HTTP_IDEMPOTENCY_KEY="create-1001")

    again = api.post(ORDERS, full_body(), format="json", HTTP_IDEMPOTENCY_KEY="create-1001")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    assert Customer.objects.get().orders_count == 1


def test_a_create_with_a_reused_idempotency_key_and_another_body_is_422(api, merchant, tee):
    api.post(ORDERS, full_body(), format="json", HTTP_IDEMPOTENCY_KEY="create-1001")
    before = written()

    response = api.post(ORDERS, full_body(channel_order_id="PO-1002"), format="json",
                        HTTP_IDEMPOTENCY_KEY="create-1001")  # fmt: skip

    assert response.status_code == 422
    assert response.json() == {
        "code": "idempotency_key_reused",
        "message": "This Idempotency-Key was already used with a different request.",
        "details": {"idempotency_key": "create-1001"},
    }
    assert written() == before


# --- bad input ------------------------------------------------------------------------------------


def _line(**changes):
    def change(body):
        body["lines"][0].update(changes)

    return change


def _address(**changes):
    def change(body):
        body["shipping_address"].update(changes)

    return change


def _set(**changes):
    def change(body):
        body.update(changes)

    return change


BAD_INPUT = [
    pytest.param(_set(bogus=1), {"bogus": ["Unknown field."]}, id="unknown-field"),
    pytest.param(_line(colour="red"), {"lines.0.colour": ["Unknown field."]}, id="unknown-line-field"),
    pytest.param(_line(quantity=0), {"lines.0.quantity": ["Ensure this value is greater than or equal to 1."]},
                 id="quantity-0"),
    pytest.param(_line(quantity=-1), {"lines.0.quantity": ["Ensure this value is greater than or equal to 1."]},
                 id="quantity-negative"),
    pytest.param(_line(quantity=10**12), {"lines.0.quantity": ["Ensure this value is less than or equal to 100000."]},
                 id="quantity-huge"),
    pytest.param(_line(quantity="two"), {"lines.0.quantity": ["A valid integer is required."]}, id="quantity-text"),
    pytest.param(_line(unit_price="499.999"),
                 {"lines.0.unit_price": ["Ensure that there are no more than 2 decimal places."]}, id="price-3-dp"),
    pytest.param(_line(unit_price="1e20"),
                 {"lines.0.unit_price": ["Ensure that there are no more than 14 digits in total."]}, id="price-huge"),
    pytest.param(_line(discount="998.01"), {"lines.0.discount": ["Must not exceed quantity x unit_price."]},
                 id="discount-above-line-value"),
    pytest.param(_address(country="XX", phone="+919812345678"),
                 {"shipping_address.country": ["Not valid for this country."]}, id="country-unknown"),
    pytest.param(_address(postcode="5600"), {"shipping_address.postcode": ["Not valid for this country."]},
                 id="postcode-short"),
    pytest.param(_address(phone="12345"), {"shipping_address.phone": ["'12345' is not a valid phone number for IN."]},
                 id="phone-invalid"),
    pytest.param(_address(phone=""), {"shipping_address.phone": ["This field is required."]}, id="phone-missing"),
    pytest.param(_set(pickup_location="nowhere"), {"pickup_location": ["Unknown pickup location 'nowhere'."]},
                 id="pickup-location-unknown"),
    pytest.param(_set(channel="ch_nope"), {"channel": ["Unknown channel 'ch_nope'."]}, id="channel-unknown"),
    pytest.param(_set(payment_method="cash"), {"payment_method": ['"cash" is not a valid choice.']},
                 id="payment-method-unknown"),
    pytest.param(_set(weight_grams=10**12), {"weight_grams": ["Ensure this value is less than or equal to 1000000."]},
                 id="weight-huge"),
    pytest.param(_set(shipping_address="Bengaluru"),
                 {"shipping_address": ["Invalid data. Expected a dictionary, but got str."]},
                 id="address-as-string"),
    pytest.param(_set(lines=[]), {"lines": ["This list may not be empty."]}, id="lines-empty",
                 ),
    pytest.param(_set(lines="TEE-BLK-M x 2"), {"lines": ['Expected a list of items but got type "str".']},
                 id="lines-as-string"),
    pytest.param(_line(quantity=100_000, unit_price="999999999999.99", discount="0"),
                 {"lines.0.quantity": ["quantity x unit_price must not exceed 999999999999.99."]},
                 id="line-value-overflows-money"),
    pytest.param(_set(shipping_charge="999999999999.99"),
                 {"total": ["The order total 1000000002067.83 exceeds the maximum of 999999999999.99."]},
                 id="order-total-overflows-money"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "details"), BAD_INPUT)
def test_bad_input_is_400_with_field_paths_and_writes_nothing(api, merchant, tee, change, details):
    body = full_body()
    del body["total"]
    change(body)
    before = written()

    response = api.post(ORDERS, body, format="json")

    assert (response.status_code, response.json()) == (400, invalid(details))
    assert written() == before


def test_every_invalid_field_is_reported_at_once(api, merchant, other_merchant, tee):
    foreign = LocationFactory(merchant=other_merchant, nickname="theirs")
    body = full_body(pickup_location=str(foreign.pk), channel="ch_nope", billing_address={
        "name": "Priya Sharma", "line1": "1 Park St", "city": "Kolkata", "state": "West Bengal", "postcode": "7000",
    })  # fmt: skip
    body["lines"][1]["discount"] = "5000.00"

    response = api.post(ORDERS, body, format="json")

    assert response.json() == invalid({
        "channel": ["Unknown channel 'ch_nope'."],
        "pickup_location": [f"Unknown pickup location '{foreign.pk}'."],
        "billing_address.postcode": ["Not valid for this country."],
        "lines.1.discount": ["Must not exceed quantity x unit_price."],
    })  # fmt: skip
    assert Order.objects.count() == 0


def test_an_inactive_channel_is_refused(api, merchant, tee):
    old = ChannelFactory(merchant=merchant, name="Old shop", is_active=False)

    response = api.post(ORDERS, full_body(channel=old.channel_id), format="json")

    assert response.json() == invalid({"channel": ["The channel 'Old shop' is inactive."]})
    assert Order.objects.count() == 0


# --- lifecycle actions ----------------------------------------------------------------------------

ACTIONS = {"confirm": OrderStatus.CONFIRMED, "pack": OrderStatus.PACKED, "cancel": OrderStatus.CANCELLED}
STAMPS = {"confirm": "confirmed_at", "pack": "packed_at", "cancel": "cancelled_at"}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("from_status", [str(s) for s in OrderStatus])
def test_actions_move_allowed_orders_and_refuse_the_others_with_409(api, merchant, from_status, action):
    # Given
    order = make_order(merchant, from_status)
    to_status = ACTIONS[action]
    events = order.events.count()
    stock_before = levels(merchant)

    # When
    response = api.post(url(order, action), {"reason": "customer asked"} if action == "cancel" else {}, format="json")

    # Then
    order.refresh_from_db()
    if to_status in ORDER_TRANSITIONS[from_status]:
        assert response.status_code == 200, response.json()
        assert (response.json()["id"], response.json()["status"], order.status) == (order.pk, to_status, to_status)
        assert response.json()[STAMPS[action]] is not None
        assert order.events.count() == events + 1
        assert order.events.last().actor == actor_of(api)
    else:
        allowed = [str(s) for s in ORDER_TRANSITIONS[from_status]]
        assert response.status_code == 409
        assert response.json() == {
            "code": "transition_not_allowed",
            "message": state_refusal(
                noun=f"Order {order.number}",
                status=from_status,
                to_status=to_status,
                allowed=allowed,
                labels=dict(OrderStatus.choices),
            ).message,
            "details": {"status": from_status, "allowed": allowed, "requested": to_status},
        }
        assert (order.status, order.events.count(), levels(merchant)) == (from_status, events, stock_before)


def test_cancel_needs_a_reason(api, merchant):
    order = make_order(merchant)

    response = api.post(url(order, "cancel"), {}, format="json")

    assert response.json() == invalid({"reason": ["This field is required."]})
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW


def test_cancel_keeps_the_reason(api, merchant):
    order = make_order(merchant, OrderStatus.CONFIRMED)

    response = api.post(url(order, "cancel"), {"reason": "Customer changed their mind"}, format="json")

    assert (response.json()["status"], response.json()["cancel_reason"]) == ("cancelled", "Customer changed their mind")
    assert levels(merchant)[0][1:] == (100, 0)


def test_an_action_on_another_merchants_order_is_404_and_changes_nothing(api, other_merchant):
    theirs = make_order(other_merchant)

    response = api.post(url(theirs, "confirm"), format="json")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    theirs.refresh_from_db()
    assert theirs.status == OrderStatus.NEW


def test_confirm_with_short_stock_is_409_naming_the_short_lines(api, merchant, main):
    shirt, cap = ProductFactory(merchant=merchant), ProductFactory(merchant=merchant)
    stock(shirt, main, 10)
    stock(cap, main, 2)
    order = make_order(merchant, products=[(shirt, 4), (cap, 3)])

    response = api.post(url(order, "confirm"), format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "insufficient_stock",
        "message": f"Not enough stock for {cap.sku}.",
        "details": {"lines": [{"sku": cap.sku, "product": cap.pk, "location": main.pk, "requested": 3,
                               "available": 2}]},
    }  # fmt: skip
    assert levels(merchant) == [(shirt.pk, 10, 0), (cap.pk, 2, 0)]
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW


def test_add_inventory_receives_stock_for_a_short_order_and_confirms_it(api, merchant, main):
    # Given an order of 5 caps with 2 in stock
    cap = ProductFactory(merchant=merchant)
    stock(cap, main, 2)
    order = make_order(merchant, products=[(cap, 5)])
    line = order.lines.get()

    # When the 3 missing caps are received at the pickup location (named by nickname)
    received = {"line_id": line.pk, "quantity": 3, "location": main.nickname}
    response = api.post(url(order, "add-inventory"), {"lines": [received]}, format="json")

    # Then
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "confirmed"
    assert levels(merchant) == [(cap.pk, 5, 5)]
    receipt = StockMovement.objects.filter(kind="receipt").order_by("pk").last()
    assert (receipt.quantity, receipt.on_hand_after, receipt.reference, receipt.actor) == (
        3, 5, f"order:{order.number}", actor_of(api),
    )  # fmt: skip


def test_confirm_with_an_unmapped_line_is_409_until_map_lines(api, merchant, main, tee):
    # Given an order with an unknown SKU
    created = api.post(ORDERS, full_body(), format="json").json()
    order = Order.objects.get(pk=created["id"])
    gift_line = order.lines.get(sku="GIFT-BOX-XL")

    refused = api.post(url(order, "confirm"), format="json")

    assert refused.status_code == 409
    assert refused.json() == {
        "code": "unmapped_lines",
        "message": "Map these SKUs to products first: GIFT-BOX-XL.",
        "details": {"skus": ["GIFT-BOX-XL"]},
    }
    assert levels(merchant) == [(tee.pk, 10, 0)]

    # When the line is mapped to a catalog product, the order confirms
    box = ProductFactory(merchant=merchant, sku="BOX-XL")
    stock(box, main, 3)
    mapped = api.post(url(order, "map-lines"), {"lines": [{"line_id": gift_line.pk, "sku": "BOX-XL"}]}, format="json")
    confirmed = api.post(url(order, "confirm"), format="json")

    assert mapped.status_code == 200
    assert [(ln["sku"], ln["product"]) for ln in mapped.json()["lines"]] == [("TEE-BLK-M", tee.pk),
                                                                             ("GIFT-BOX-XL", box.pk)]  # fmt: skip
    assert (confirmed.status_code, confirmed.json()["status"]) == (200, "confirmed")
    assert levels(merchant) == [(tee.pk, 10, 2), (box.pk, 3, 1)]


def test_map_lines_with_an_unknown_sku_is_400(api, merchant, tee):
    order = Order.objects.get(pk=api.post(ORDERS, full_body(), format="json").json()["id"])
    gift_line = order.lines.get(sku="GIFT-BOX-XL")

    mappings = [{"line_id": gift_line.pk, "sku": "NOPE"}, {"line_id": 999999, "sku": "TEE-BLK-M"}]
    response = api.post(url(order, "map-lines"), {"lines": mappings}, format="json")

    assert response.json() == invalid({
        "lines.0.sku": ["Unknown SKU 'NOPE'."],
        "lines.1.line_id": [f"Order {order.number} has no line 999999."],
    })  # fmt: skip
    gift_line.refresh_from_db()
    assert gift_line.product_id is None


# --- filters and orderings ------------------------------------------------------------------------


@pytest.fixture
def dated(merchant):
    """Orders a-h with pack and ship times around midnight in Kolkata (UTC+05:30).

    name  status     packed_at (UTC)        Kolkata day   shipped_at (UTC)      Kolkata day
    a     packed     2026-03-10T18:00:00Z   03-10
    b     packed     2026-03-10T18:45:00Z   03-11
    c     shipped    2026-03-11T18:29:59Z   03-11         2026-03-12T05:00:00Z  03-12
    d     shipped    2026-03-11T18:30:00Z   03-12         2026-03-12T18:30:00Z  03-13
    e     packed     2026-03-10T18:45:00Z   03-11 (tie with b)
    f     new        -                                    -
    g     confirmed  -                                    -
    h     cancelled  -                                    -
    """
    merchant.time_zone = KOLKATA
    merchant.save()
    plan = {
        "a": (OrderStatus.PACKED, "2026-03-10T18:00:00Z", None),
        "b": (OrderStatus.PACKED, "2026-03-10T18:45:00Z", None),
        "c": (OrderStatus.SHIPPED, "2026-03-11T18:29:59Z", "2026-03-12T05:00:00Z"),
        "d": (OrderStatus.SHIPPED, "2026-03-11T18:30:00Z", "2026-03-12T18:30:00Z"),
        "e": (OrderStatus.PACKED, "2026-03-10T18:45:00Z", None),
        "f": (OrderStatus.NEW, None, None),
        "g": (OrderStatus.CONFIRMED, None, None),
        "h": (OrderStatus.CANCELLED, None, None),
    }
    orders = {}
    for name, (status, packed, shipped) in plan.items():
        order = make_order(merchant, status)
        Order.objects.filter(pk=order.pk).update(packed_at=packed and utc(packed), shipped_at=shipped and utc(shipped))
        orders[name] = order.pk
    return orders


def ids(dated, names: str) -> list[int]:
    return [dated[name] for name in names]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"pack_date_after": "2026-03-11", "pack_date_before": "2026-03-11"}, "ecb"),
        ({"pack_date_after": "2026-03-11", "pack_date_before": "2026-03-11", "status": "packed"}, "eb"),
        ({"pack_date_after": "2026-03-11"}, "edcb"),
        ({"pack_date_before": "2026-03-10"}, "a"),
        ({"pack_date_after": "2026-03-11T00:15:00+05:30", "pack_date_before": "2026-03-11T23:59:59+05:30"}, "ecb"),
        ({"pack_date_after": "2026-03-10T18:45:00Z", "pack_date_before": "2026-03-10T18:45:00Z"}, "eb"),
        ({"ship_date_after": "2026-03-12", "ship_date_before": "2026-03-12"}, "c"),
        ({"ship_date_after": "2026-03-13"}, "d"),
        ({"ship_date_before": "2026-03-12T18:30:00Z"}, "dc"),
        ({"status": "new,confirmed,cancelled"}, "hgf"),
        ({"status": "shipped"}, "dc"),
    ],
)
def test_date_filters_read_calendar_days_in_the_merchants_time_zone(api, dated, params, names):
    assert listed(api, params) == ids(dated, names)


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"ordering": "-pack_date"}, "dcebahgf"),
        ({"ordering": "pack_date"}, "abecdfgh"),
        ({"ordering": "ship_date"}, "cdabefgh"),
        ({"ordering": "-ship_date"}, "dchgfeba"),
        ({"ordering": "-pack_date", "status": "packed,shipped,new"}, "dcebaf"),
        ({"ordering": "-pack_date", "pack_date_after": "2026-03-11", "status": "packed,shipped"}, "dceb"),
        ({"ordering": "ship_date", "ship_date_after": "2026-03-12", "status": "shipped"}, "cd"),
    ],
)
def test_orderings_put_nulls_last_and_pages_of_two_cross_them(api, dated, params, names):
    # When every page of 2 is walked forward, then back again from the last page
    forward, last_page = walk(api, {**params, "page_size": 2})
    backward = walk_back(api, last_page)

    # Then
    assert forward == ids(dated, names)
    assert backward == ids(dated, names)


@pytest.fixture
def variety(merchant, main):
    """Three orders that differ in channel, payment, customer, SKU, pickup location, order date and AWB."""
    south = LocationFactory(merchant=merchant, nickname="south")
    tee, cap = ProductFactory(merchant=merchant, sku="TEE-1"), ProductFactory(merchant=merchant, sku="CAP-1")
    for product in (tee, cap):
        stock(product, main, 50)
        stock(product, south, 50)
    shop = ChannelFactory(merchant=merchant, name="Shopify store")
    rahul = {"name": "Rahul Verma", "phone": "+919876543210", "line1": "7 Linking Road", "line2": "",
             "city": "Mumbai", "state": "Maharashtra", "postcode": "400050", "country": "IN"}  # fmt: skip
    anita = {**rahul, "name": "Anita Rao", "phone": "+919123456789"}
    one = make_order(merchant, products=[(tee, 1)], channel=shop.channel_id, channel_order_id="SHOP-1001",
                     payment_method="cod", shipping_address=rahul, customer={"email": "rahul@example.com"},
                     pickup_location="south")  # fmt: skip
    two = make_order(merchant, OrderStatus.SHIPPED, products=[(cap, 1)], channel_order_id="PO-2002",
                     customer={"email": "priya@example.com"})  # fmt: skip
    three = make_order(merchant, products=[(tee, 1), (cap, 2)], channel_order_id="PO-3003", shipping_address=anita)
    for order, ordered_at in ((one, "2026-02-28T18:30:00Z"), (two, "2026-02-28T18:29:59Z"),
                              (three, "2026-03-02T00:00:00Z")):  # fmt: skip
        Order.objects.filter(pk=order.pk).update(ordered_at=utc(ordered_at))
    two.refresh_from_db()
    return {"one": one, "two": two, "three": three, "shop": shop, "south": south}


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"status": "new"}, ["three", "one"]),
        ({"status": "shipped,new"}, ["three", "one", "two"]),
        ({"payment_method": "cod"}, ["one"]),
        ({"payment_method": "prepaid"}, ["three", "two"]),
        ({"order_date_after": "2026-03-01"}, ["three", "one"]),
        ({"order_date_before": "2026-02-28"}, ["two"]),
        ({"order_date_after": "2026-03-01", "order_date_before": "2026-03-01"}, ["one"]),
        ({"q": "SHOP-1001"}, ["one"]),
        ({"q": "rahul"}, ["one"]),
        ({"q": "Anita Rao"}, ["three"]),
        ({"q": "98765 43210"}, ["one"]),
        ({"q": "+91 98765-43210"}, ["one"]),
        ({"q": "RAHUL@example.com"}, ["one"]),
        ({"sku": "TEE-1"}, ["three", "one"]),
        ({"sku": "CAP-1"}, ["three", "two"]),
        ({"sku": "NOPE"}, []),
        ({"pickup_location": "south"}, ["one"]),
        ({"pickup_location": "main"}, ["three", "two"]),
        ({"q": "nobody"}, []),
    ],
)
def test_filters_select_exactly_the_matching_orders(api, variety, params, names):
    assert listed(api, params) == [variety[name].pk for name in names]


def test_filters_by_number_channel_location_id_and_awb(api, variety):
    one, two = variety["one"], variety["two"]

    assert listed(api, {"q": one.number.lower()}) == [one.pk]
    assert listed(api, {"q": two.awb}) == [two.pk]
    assert listed(api, {"awb": two.awb}) == [two.pk]
    assert listed(api, {"channel": variety["shop"].channel_id}) == [one.pk]
    assert listed(api, {"channel": str(variety["shop"].pk)}) == [one.pk]
    assert listed(api, {"pickup_location": str(variety["south"].pk)}) == [one.pk]
    assert two.awb == f"AWB{two.pk:08d}"


def test_another_merchants_orders_are_never_listed(api, variety, other_merchant):
    theirs = make_order(other_merchant, channel_order_id="SHOP-1001")

    assert theirs.pk not in listed(api, {"q": "SHOP-1001"})
    assert listed(api, {"q": "SHOP-1001"}) == [variety["one"].pk]


@pytest.mark.parametrize(
    ("params", "details"),
    [
        ({"ordering": "bogus"}, {"ordering": ["Choose from: number, order_date, pack_date, ship_date, total, "
                                              "updated_at."]}),
        ({"status": "new,bogus"}, {"status": ["Unknown status bogus."]}),
        ({"pack_date_after": "11/03/2026"}, {"pack_date_after": [
            "Use YYYY-MM-DD or an ISO 8601 timestamp such as 2026-11-28T09:30:00+05:30."]}),
        ({"ship_date_before": "2026-03-11T10:00:00"}, {"ship_date_before": [
            "A timestamp needs a UTC offset, e.g. +05:30 or Z."]}),
    ],
)  # fmt: skip
def test_unknown_ordering_status_or_date_is_400(api, merchant, params, details):
    response = api.get(ORDERS, params)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["details"] == details


def test_unknown_ordering_message(api, merchant):
    response = api.get(ORDERS, {"ordering": "-bogus"})

    assert response.json() == {
        "code": "invalid",
        "message": "Unknown ordering '-bogus'; use one of: number, order_date, pack_date, ship_date, total, "
        "updated_at (prefix - for descending).",
        "details": {"ordering": ["Choose from: number, order_date, pack_date, ship_date, total, updated_at."]},
    }


# --- query counts ---------------------------------------------------------------------------------

#: The access token with its application (1), the merchant (1), the orders with channel and customer (1),
#: their lines (1): the same for 3 orders as for 120, on any page.
LIST_QUERIES = 4
DETAIL_QUERIES = 4
#: The same four, with the pickup location joined to the orders; lines are prefetched per chunk of 2,000 orders.
EXPORT_QUERIES = 4


def two_line_orders(merchant, count: int) -> None:
    main = default_location(merchant)
    products = list(ProductFactory.create_batch(2, merchant=merchant))
    for product in products:
        stock(product, main, 10_000)
    for _ in range(count):
        make_order(merchant, products=[(products[0], 1), (products[1], 2)])


def test_the_list_costs_the_same_queries_for_3_orders_and_for_120(api, merchant, django_assert_num_queries):
    two_line_orders(merchant, 3)
    with django_assert_num_queries(LIST_QUERIES):
        small = api.get(ORDERS, {"page_size": 50})

    two_line_orders(merchant, 117)
    with django_assert_num_queries(LIST_QUERIES):
        large = api.get(ORDERS, {"page_size": 50})
    third_page = api.get(large.json()["next"]).json()["next"]
    with django_assert_num_queries(LIST_QUERIES):
        deep = api.get(third_page)

    assert (len(small.json()["results"]), len(large.json()["results"]), len(deep.json()["results"])) == (3, 50, 20)
    assert {len(row["lines"]) for row in large.json()["results"]} == {2}


def test_the_detail_costs_a_fixed_number_of_queries(api, merchant, django_assert_num_queries):
    two_line_orders(merchant, 2)
    order = Order.objects.first()

    with django_assert_num_queries(DETAIL_QUERIES):
        response = api.get(url(order))

    assert response.status_code == 200
    assert len(response.json()["lines"]) == 2


def test_the_export_of_120_orders_costs_a_small_constant_number_of_queries(api, merchant):
    two_line_orders(merchant, 120)

    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"{ORDERS}export/")
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert len(rows) == 1 + 240
    assert len(queries) <= EXPORT_QUERIES, [q["sql"] for q in queries]


# --- export ---------------------------------------------------------------------------------------


def test_export_is_csv_of_the_filtered_orders_one_row_per_line(api, merchant, tee, main):
    # Given two packed orders (one with 2 lines) and orders in other statuses
    created = api.post(ORDERS, full_body(notes="fragile"), format="json").json()
    first = Order.objects.get(pk=created["id"])
    box = ProductFactory(merchant=merchant, sku="BOX-XL")
    stock(box, main, 5)
    order_map_lines(order=first, mappings=[{"line_id": created["lines"][1]["id"], "sku": "BOX-XL"}],
                             actor="system")  # fmt: skip
    for step in (order_confirm, order_pack):
        step(order=first, actor="system")
    second = make_order(merchant, OrderStatus.PACKED)
    make_order(merchant, OrderStatus.CONFIRMED)
    make_order(merchant, OrderStatus.SHIPPED)
    Order.objects.filter(pk=first.pk).update(packed_at=utc("2026-03-02T06:00:00Z"))
    Order.objects.filter(pk=second.pk).update(ordered_at=utc("2026-03-05T06:00:00Z"))  # listed first: newest
    first.refresh_from_db()

    # When
    response = api.get(f"{ORDERS}export/", {"status": "packed"})

    # Then
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="orders.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == EXPORT_COLUMNS
    assert [row[0] for row in rows[1:]] == [second.number, first.number, first.number]
    channel = Channel.objects.get(is_default_api=True)
    head = [first.number, channel.name, "PO-1001", "packed", "2026-03-01T04:30:00+00:00", "prepaid", "paid",
            "Priya Sharma", "priya@example.com", "+919812345678", "Priya Sharma", "+919812345678",
            "42 Residency Road", "", "Bengaluru", "Karnataka", "560025", "IN"]  # fmt: skip
    tail = ["40.00", "0.00", "2107.84", "INR", "500", "0.0", "0.0", "0.0", "main", "2026-03-02T06:00:00+00:00", "", "",
            "", "", ""]  # fmt: skip
    assert rows[2] == [*head, "TEE-BLK-M", "Black tee M", "2", "499.00", "50.00", "18.00", "6109", "NOS", *tail]
    assert rows[3] == [*head, "GIFT-BOX-XL", "Gift box", "1", "1119.84", "0.00", "28.00", "4819", "NOS", *tail]


def test_export_refuses_an_unknown_status_like_the_list(api, merchant):
    response = api.get(f"{ORDERS}export/", {"status": "bogus"})

    assert response.status_code == 400
    assert response.json()["details"] == {"status": ["Unknown status bogus."]}


# --- edits ----------------------------------------------------------------------------------------


def test_patch_notes_and_weight_of_a_packed_order(api, merchant):
    order = make_order(merchant, OrderStatus.PACKED)

    response = api.patch(url(order), {"notes": "Gift wrap", "weight_grams": 750}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["notes"], response.json()["weight_grams"], response.json()["status"]) == (
        "Gift wrap", 750, "packed",
    )  # fmt: skip
    event = order.events.last()
    assert (event.kind, event.actor, event.message, event.data) == (
        "updated", actor_of(api), "Changed notes, weight_grams", {"fields": ["notes", "weight_grams"]},
    )  # fmt: skip


def test_patch_pickup_location_of_a_new_order_accepts_a_nickname(api, merchant):
    order = make_order(merchant)
    south = LocationFactory(merchant=merchant, nickname="south")

    response = api.patch(url(order), {"pickup_location": "south"}, format="json")

    assert (response.status_code, response.json()["pickup_location"]) == (200, south.pk)


def test_patch_an_unknown_pickup_location_is_400_on_pickup_location(api, merchant):
    order = make_order(merchant)

    response = api.patch(url(order), {"pickup_location": "nowhere"}, format="json")

    assert response.json() == invalid({"pickup_location": ["Unknown pickup location 'nowhere'."]})
    order.refresh_from_db()
    assert order.pickup_location_id == default_location(merchant).pk


def test_patch_to_an_inactive_pickup_location_is_refused_like_creation(api, merchant):
    order = make_order(merchant)
    LocationFactory(merchant=merchant, nickname="closed", is_active=False)
    one_line = [{"sku": "X", "name": "X", "quantity": 1, "unit_price": "1.00"}]
    create = api.post(ORDERS, full_body(pickup_location="closed", lines=one_line), format="json")

    response = api.patch(url(order), {"pickup_location": "closed"}, format="json")

    assert create.json() == invalid({"pickup_location": ["Unknown pickup location 'closed'."]})
    assert response.json() == create.json()
    order.refresh_from_db()
    assert order.pickup_location_id == default_location(merchant).pk


def test_patch_pickup_location_of_a_confirmed_order_is_409(api, merchant):
    order = make_order(merchant, OrderStatus.CONFIRMED)
    south = LocationFactory(merchant=merchant, nickname="south")
    events = order.events.count()

    response = api.patch(url(order), {"pickup_location": str(south.pk), "notes": "move it"}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "order_not_editable",
        "message": "pickup_location can only change while the order is new.",
        "details": {"status": "confirmed", "fields": ["pickup_location"]},
    }
    order.refresh_from_db()
    assert (order.pickup_location_id, order.notes, order.events.count()) == (default_location(merchant).pk, "", events)


@pytest.mark.parametrize("status", ["shipped", "delivered", "cancelled"])
@pytest.mark.parametrize("change", [{"notes": "late"}, {"weight_grams": 900}, {"payment_status": "paid"}])
def test_any_patch_after_shipping_or_cancelling_is_409(api, merchant, status, change):
    order = make_order(merchant, status)

    response = api.patch(url(order), change, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "order_not_editable",
        "message": f"Order {order.number} is {status}; it can no longer be changed.",
        "details": {"status": status, "editable_statuses": ["new", "confirmed", "packed"]},
    }
    order.refresh_from_db()
    assert (order.notes, order.weight_grams) == ("", 250 * 2)


def test_patch_shipping_address_is_validated_and_normalised(api, merchant):
    order = make_order(merchant, OrderStatus.CONFIRMED)
    new_address = {"name": "Priya Sharma", "phone": "080 2222 3333", "line1": "9 Lavelle Road", "city": "Bengaluru",
                   "state": "karnataka", "postcode": "560001"}  # fmt: skip

    bad = api.patch(url(order), {"shipping_address": {**new_address, "postcode": "5600"}}, format="json")
    good = api.patch(url(order), {"shipping_address": new_address}, format="json")

    assert bad.json() == invalid({"shipping_address.postcode": ["Not valid for this country."]})
    assert good.status_code == 200
    assert good.json()["shipping_address"] == {
        "name": "Priya Sharma", "phone": "+918022223333", "line1": "9 Lavelle Road", "line2": "", "city": "Bengaluru",
        "state": "Karnataka", "postcode": "560001", "country": "IN",
    }  # fmt: skip
    assert list(order.events.filter(kind="updated").values_list("data", flat=True)) == [
        {"fields": ["shipping_address"]}
    ]


def test_patch_with_an_unknown_field_is_400(api, merchant):
    order = make_order(merchant)

    response = api.patch(url(order), {"status": "shipped"}, format="json")

    assert response.json() == invalid({"status": ["Unknown field."]})
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW


# --- bulk -----------------------------------------------------------------------------------------


def test_bulk_create_reports_each_order_on_its_own(api, merchant, tee):
    # Given PO-1001 exists
    existing = Order.objects.get(pk=api.post(ORDERS, full_body(), format="json").json()["id"])
    valid = full_body(channel_order_id="PO-1002")
    invalid_order = full_body(channel_order_id="PO-1003")
    invalid_order["lines"][0]["quantity"] = 0
    before = Order.objects.count()

    # When
    response = api.post(f"{ORDERS}bulk/", {"orders": [valid, invalid_order, full_body()]}, format="json")

    # Then
    assert response.status_code == 200
    created = Order.objects.get(channel_order_id="PO-1002")
    channel = Channel.objects.get(is_default_api=True)
    assert response.json() == {
        "succeeded": 1,
        "failed": 2,
        "results": [
            {"index": 0, "status": "created", "id": created.pk, "number": "SO-000002", "error": None},
            {"index": 1, "status": "failed", "id": None, "number": None,
             "error": invalid({"lines.0.quantity": ["Ensure this value is greater than or equal to 1."]})},
            {"index": 2, "status": "failed", "id": None, "number": None, "error": {
                "code": "duplicate_order",
                "message": "Channel order 'PO-1001' is already order SO-000001 (new).",
                "details": {"existing_order": existing.pk, "number": "SO-000001", "status": "new",
                            "channel": channel.channel_id, "channel_order_id": "PO-1001"},
            }},
        ],
    }  # fmt: skip
    assert Order.objects.count() == before + 1


def test_bulk_create_refuses_a_channel_order_id_repeated_in_the_request_and_counts_a_customer_once_per_order(
    api, merchant, tee
):
    # Given three orders of one new customer, the second repeating the first's channel order id
    first, repeated, second = full_body(), full_body(), full_body(channel_order_id="PO-1002")

    # When they come in one request
    response = api.post(f"{ORDERS}bulk/", {"orders": [first, repeated, second]}, format="json")

    # Then the first and the third are orders, the repeat is refused naming the first
    created = {o.channel_order_id: o for o in Order.objects.filter(merchant=merchant)}
    channel = Channel.objects.get(is_default_api=True)
    assert response.json() == {
        "succeeded": 2,
        "failed": 1,
        "results": [
            {"index": 0, "status": "created", "id": created["PO-1001"].pk, "number": "SO-000001", "error": None},
            {"index": 1, "status": "failed", "id": None, "number": None, "error": {
                "code": "duplicate_order",
                "message": "Channel order 'PO-1001' is already order SO-000001 (new).",
                "details": {"existing_order": created["PO-1001"].pk, "number": "SO-000001", "status": "new",
                            "channel": channel.channel_id, "channel_order_id": "PO-1001"},
            }},
            {"index": 2, "status": "created", "id": created["PO-1002"].pk, "number": "SO-000002", "error": None},
        ],
    }  # fmt: skip
    # and the customer has both orders, the second as a returning customer's
    [customer] = Customer.objects.filter(merchant=merchant)
    assert (customer.orders_count, customer.total_spent) == (2, Decimal("4215.68"))
    assert [(o.number, o.is_returning_customer) for o in sorted(created.values(), key=lambda o: o.number)] == [
        ("SO-000001", False), ("SO-000002", True)]  # fmt: skip
    events = OrderEvent.objects.filter(order__merchant=merchant, kind="created").order_by("order__number")
    assert [(e.to_status, e.message, e.data) for e in events] == [
        ("new", "Created from API; unmapped SKUs: GIFT-BOX-XL",
         {"returning_customer": False, "unmapped_skus": ["GIFT-BOX-XL"]}),
        ("new", "Created from API; unmapped SKUs: GIFT-BOX-XL",
         {"returning_customer": True, "unmapped_skus": ["GIFT-BOX-XL"]}),
    ]  # fmt: skip


def test_bulk_create_of_101_orders_is_400(api, merchant, tee):
    response = api.post(f"{ORDERS}bulk/", {"orders": [full_body(channel_order_id=f"W-{n}") for n in range(101)]},
                        format="json")  # fmt: skip

    assert response.json() == invalid({"orders": ["Ensure this field has no more than 100 elements."]})
    assert Order.objects.count() == 0


def test_bulk_cancel_reports_each_order_on_its_own(api, merchant, other_merchant):
    cancellable = make_order(merchant, OrderStatus.CONFIRMED)
    shipped = make_order(merchant, OrderStatus.SHIPPED)
    theirs = make_order(other_merchant, OrderStatus.NEW)

    response = api.post(f"{ORDERS}bulk-cancel/", {"order_ids": [cancellable.pk, shipped.pk, theirs.pk],
                                                  "reason": "stock-out"}, format="json")  # fmt: skip

    assert response.status_code == 200
    assert response.json() == {
        "succeeded": 1,
        "failed": 2,
        "results": [
            {"index": 0, "status": "cancelled", "id": cancellable.pk, "number": cancellable.number, "error": None},
            {"index": 1, "status": "failed", "id": shipped.pk, "number": shipped.number, "error": {
                "code": "transition_not_allowed",
                "message": f"Order {shipped.number} is shipped; it can only become delivered or return to origin, not "
                           "cancelled.",
                "details": {"status": "shipped", "allowed": ["delivered", "rto"], "requested": "cancelled"},
            }},
            {"index": 2, "status": "failed", "id": theirs.pk, "number": None, "error": NOT_FOUND},
        ],
    }  # fmt: skip
    for order in (cancellable, shipped, theirs):
        order.refresh_from_db()
    assert (cancellable.status, cancellable.cancel_reason) == ("cancelled", "stock-out")
    assert (shipped.status, theirs.status) == ("shipped", "new")


# --- events ---------------------------------------------------------------------------------------


def test_events_list_creation_then_each_status_change_in_order(api, merchant, tee):
    order_id = api.post(ORDERS, full_body(lines=full_body()["lines"][:1], total="988.00"), format="json").json()["id"]
    for action, body in (("confirm", {}), ("pack", {}), ("cancel", {"reason": "address unreachable"})):
        assert api.post(f"{ORDERS}{order_id}/{action}/", body, format="json").status_code == 200

    response = api.get(f"{ORDERS}{order_id}/events/")

    assert response.status_code == 200
    actor = actor_of(api)
    assert [{k: e[k] for k in ("kind", "from_status", "to_status", "actor", "message")} for e in response.json()] == [
        {"kind": "created", "from_status": "", "to_status": "new", "actor": actor, "message": "Created from API"},
        {"kind": "status_changed", "from_status": "new", "to_status": "confirmed", "actor": actor, "message": ""},
        {"kind": "status_changed", "from_status": "confirmed", "to_status": "packed", "actor": actor, "message": ""},
        {"kind": "status_changed", "from_status": "packed", "to_status": "cancelled", "actor": actor,
         "message": "address unreachable"},
    ]  # fmt: skip
    assert [e["id"] for e in response.json()] == sorted(e["id"] for e in response.json())


def test_events_are_one_array_whatever_the_list_parameters(api, merchant):
    order = make_order(merchant)

    response = api.get(url(order, "events"), {"page_size": 1, "status": "shipped", "ordering": "-total"})

    assert response.status_code == 200
    assert [e["kind"] for e in response.json()] == [e.kind for e in order.events.order_by("id")]


def test_events_of_another_merchants_order_are_404(api, other_merchant):
    theirs = make_order(other_merchant)

    response = api.get(url(theirs, "events"))

    assert (response.status_code, response.json()) == (404, NOT_FOUND)

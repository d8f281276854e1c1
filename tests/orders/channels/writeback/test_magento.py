"""Magento write-back: the AWB as a shipment with its track, stock as an MSI source item.

Answers follow Adobe's REST tutorial ("Create a shipment": the answer is the shipment id), the order search answer
of ``GET /V1/orders`` and Magento's error body (``message`` with ``parameters``).
"""

import pytest

from orders.channels.writeback import LOST, Request, WritebackRefused, magento, run

from .fakes import FakeStore

FULFILMENT = {
    "order_id": "000000042",
    "awb": "1490810045623",
    "courier_name": "Xpressbees",
    "tracking_url": "https://www.xpressbees.com/track?awb=1490810045623",
    "notify": True,
}

SEARCH_REQUEST = Request(
    "GET",
    "/rest/V1/orders",
    params={
        "searchCriteria[filter_groups][0][filters][0][field]": "increment_id",
        "searchCriteria[filter_groups][0][filters][0][value]": "000000042",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "eq",
        "searchCriteria[pageSize]": "1",
    },
    idempotent=True,
)
SHIP_REQUEST = Request(
    "POST",
    "/rest/V1/order/42/ship",
    json={
        "notify": True,
        "tracks": [{"track_number": "1490810045623", "title": "Xpressbees", "carrier_code": "custom"}],
    },
)
FOUND = {
    "items": [{"entity_id": 42, "increment_id": "000000042", "state": "processing", "status": "processing"}],
    "search_criteria": {"filter_groups": [{"filters": [{"field": "increment_id", "value": "000000042"}]}]},
    "total_count": 1,
}
NOTHING_TO_SHIP = {
    "message": "Shipment Document Validation Error(s):\nThe order does not allow a shipment to be created."
}


def test_fulfilment_finds_the_orders_entity_id_then_ships_it_with_the_track():
    store = FakeStore({("GET", "/rest/V1/orders"): [FOUND], ("POST", "/rest/V1/order/42/ship"): [7]})

    known = run(magento.plan_fulfilment, magento.read_fulfilment, FULFILMENT, store.send)

    assert store.sent == [SEARCH_REQUEST, SHIP_REQUEST]
    assert known == {"entity_id": 42, "shipment_id": 7, "outcome": "created"}


def test_an_order_shipped_already_is_done():
    store = FakeStore({("GET", "/rest/V1/orders"): [FOUND], ("POST", "/rest/V1/order/42/ship"): [NOTHING_TO_SHIP]})

    known = run(magento.plan_fulfilment, magento.read_fulfilment, FULFILMENT, store.send)

    assert known == {"entity_id": 42, "outcome": "already_shipped"}


def test_a_lost_shipment_answer_is_tried_again_and_magento_says_it_is_shipped():
    store = FakeStore(
        {("GET", "/rest/V1/orders"): [FOUND], ("POST", "/rest/V1/order/42/ship"): [LOST, NOTHING_TO_SHIP]}
    )

    known = run(magento.plan_fulfilment, magento.read_fulfilment, FULFILMENT, store.send)

    assert store.sent == [SEARCH_REQUEST, SHIP_REQUEST, SHIP_REQUEST]
    assert known == {"entity_id": 42, "outcome": "already_shipped"}


def test_a_held_order_is_refused_with_its_status_filled_in():
    answer = {
        "message": (
            "Shipment Document Validation Error(s):\nA shipment cannot be created when an order has a status of %1"
        ),
        "parameters": ["holded"],
    }

    with pytest.raises(WritebackRefused) as refused:
        magento.read_fulfilment(answer, {"entity_id": 42}, FULFILMENT)

    assert refused.value.message == (
        "Shipment Document Validation Error(s):\nA shipment cannot be created when an order has a status of holded"
    )


def test_an_unknown_increment_id_is_refused():
    answer = {"items": [], "search_criteria": {}, "total_count": 0}

    with pytest.raises(WritebackRefused) as refused:
        magento.read_fulfilment(answer, {}, FULFILMENT)

    assert refused.value.message == "Magento has no order 000000042."


def test_named_placeholders_are_filled_too():
    answer = {"message": 'The "%fieldName" value is required.', "parameters": {"fieldName": "sku"}}

    assert magento.error_message(answer) == 'The "sku" value is required.'


# Stock ------------------------------------------------------------------------------------------------------------


def source_items_request(quantity, status, source="default"):
    return Request(
        "POST",
        "/rest/V1/inventory/source-items",
        json={"sourceItems": [{"sku": "24-MB01", "source_code": source, "quantity": quantity, "status": status}]},
        idempotent=True,
    )


def test_stock_sets_the_source_items_quantity_in_stock():
    store = FakeStore({("POST", "/rest/V1/inventory/source-items"): [[]]})

    known = run(magento.plan_stock, magento.read_stock, {"sku": "24-MB01", "quantity": 198}, store.send)

    assert store.sent == [source_items_request(198, 1)]
    assert known == {"outcome": "set"}


def test_zero_or_a_negative_quantity_is_out_of_stock_at_zero_at_the_given_source():
    request = magento.plan_stock({"sku": "24-MB01", "quantity": -4, "source_code": "blr_wh"}, {})

    assert request == source_items_request(0, 0, source="blr_wh")


def test_a_refused_source_item_is_a_refusal_in_magentos_words():
    answer = {"message": "Could not save Source Item Configuration"}

    with pytest.raises(WritebackRefused) as refused:
        magento.read_stock(answer, {}, {"sku": "24-MB01", "quantity": 1})

    assert refused.value.message == "Could not save Source Item Configuration"

"""Amazon write-back: the AWB as a shipment confirmation of the items left to ship, stock as a listing's quantity.

Answers follow the SP-API models: getOrderItems' ``payload.OrderItems`` (``OrderItemId``, ``QuantityOrdered``,
``QuantityShipped``) and ``NextToken``; confirmShipment's 204 (no body, ``{}`` to the reader); the Listings Items
API's ``{"sku", "status", "submissionId", "issues"}``; the SP-API error body ``{"errors": [{"code", "message",
"details"}]}``.
"""

import pytest

from orders.channels.writeback import LOST, Request, WritebackRefused, amazon, run

from .fakes import FakeStore

ORDER = "402-8816309-7716321"
ITEMS_PATH = f"/orders/v0/orders/{ORDER}/orderItems"
CONFIRM_PATH = f"/orders/v0/orders/{ORDER}/shipmentConfirmation"
FULFILMENT = {
    "order_id": ORDER,
    "awb": "1490810045623",
    "courier_name": "Xpressbees",
    "tracking_url": "https://www.xpressbees.com/track?awb=1490810045623",
    "notify": True,
    "package": 81,
    "ship_date": "2026-12-04T12:00:00Z",
    "marketplace_id": "A21TJRUUN4KGV",
}


def item(item_id: str, ordered: int, shipped: int = 0, sku: str = "TIFFIN-SS-3TIER") -> dict:
    return {"ASIN": "B07QH1X9ZD", "SellerSKU": sku, "OrderItemId": item_id, "QuantityOrdered": ordered,
            "QuantityShipped": shipped}  # fmt: skip


def items_page(*items: dict, next_token: str | None = None) -> dict:
    payload = {"AmazonOrderId": ORDER, "OrderItems": list(items)}
    if next_token:
        payload["NextToken"] = next_token
    return {"payload": payload}


def confirm_request(order_items: list[dict]) -> Request:
    return Request(
        "POST",
        CONFIRM_PATH,
        json={
            "marketplaceId": "A21TJRUUN4KGV",
            "packageDetail": {
                "packageReferenceId": "81",
                "carrierCode": "Other",
                "carrierName": "Xpressbees",
                "trackingNumber": "1490810045623",
                "shipDate": "2026-12-04T12:00:00Z",
                "orderItems": order_items,
            },
        },
        idempotent=True,
    )


def test_fulfilment_reads_the_items_left_then_confirms_them_with_the_awb():
    store = FakeStore({
        ("GET", ITEMS_PATH): [items_page(item("32109455617230", 2), item("32109455617231", 3, shipped=1),
                                         item("32109455617232", 1, shipped=1))],
        ("POST", CONFIRM_PATH): [{}],
    })  # fmt: skip

    known = run(amazon.plan_fulfilment, amazon.read_fulfilment, FULFILMENT, store.send)

    left = [{"orderItemId": "32109455617230", "quantity": 2}, {"orderItemId": "32109455617231", "quantity": 2}]
    assert store.sent == [Request("GET", ITEMS_PATH, idempotent=True), confirm_request(left)]
    assert known["outcome"] == "confirmed"
    assert known["items"] == left


def test_items_are_read_across_pages_before_confirming():
    store = FakeStore({
        ("GET", ITEMS_PATH): [items_page(item("1", 1), next_token="2NdPaGe=="), items_page(item("2", 4))],
        ("POST", CONFIRM_PATH): [{}],
    })  # fmt: skip

    known = run(amazon.plan_fulfilment, amazon.read_fulfilment, FULFILMENT, store.send)

    second_page = Request("GET", ITEMS_PATH, params={"NextToken": "2NdPaGe=="}, idempotent=True)
    assert store.sent[:2] == [Request("GET", ITEMS_PATH, idempotent=True), second_page]
    assert store.sent[2] == confirm_request([{"orderItemId": "1", "quantity": 1}, {"orderItemId": "2", "quantity": 4}])
    assert known["outcome"] == "confirmed"


def test_an_order_with_nothing_left_to_ship_is_done_without_a_confirmation():
    store = FakeStore({("GET", ITEMS_PATH): [items_page(item("1", 2, shipped=2))]})

    known = run(amazon.plan_fulfilment, amazon.read_fulfilment, FULFILMENT, store.send)

    assert [request.method for request in store.sent] == ["GET"]
    assert known["outcome"] == "already_shipped"


def test_a_lost_confirmation_reads_the_items_again_and_stops_when_amazon_took_it():
    store = FakeStore({
        ("GET", ITEMS_PATH): [items_page(item("1", 2)), items_page(item("1", 2, shipped=2))],
        ("POST", CONFIRM_PATH): [LOST],
    })  # fmt: skip

    known = run(amazon.plan_fulfilment, amazon.read_fulfilment, FULFILMENT, store.send)

    assert [(r.method, r.path) for r in store.sent] == [("GET", ITEMS_PATH), ("POST", CONFIRM_PATH),
                                                        ("GET", ITEMS_PATH)]  # fmt: skip
    assert known["outcome"] == "already_shipped"


def test_a_lost_confirmation_not_yet_seen_by_amazon_is_sent_again_with_the_same_package_reference():
    store = FakeStore({
        ("GET", ITEMS_PATH): [items_page(item("1", 2)), items_page(item("1", 2))],  # Amazon's lag: not shipped yet
        ("POST", CONFIRM_PATH): [LOST, {}],
    })  # fmt: skip

    known = run(amazon.plan_fulfilment, amazon.read_fulfilment, FULFILMENT, store.send)

    confirmations = [r for r in store.sent if r.method == "POST"]
    assert confirmations == [confirm_request([{"orderItemId": "1", "quantity": 2}])] * 2  # an edit, not a second
    assert known["outcome"] == "confirmed"


def test_a_refused_confirmation_is_final_in_amazon_s_words():
    refusal = {"errors": [{"code": "InvalidInput", "message": "Ship+ orders do not support confirmShipment.",
                           "details": "402-8816309-7716321"}]}  # fmt: skip
    store = FakeStore({("GET", ITEMS_PATH): [items_page(item("1", 1))], ("POST", CONFIRM_PATH): [refusal]})

    with pytest.raises(WritebackRefused) as refused:
        run(amazon.plan_fulfilment, amazon.read_fulfilment, FULFILMENT, store.send)

    assert refused.value.message == "Ship+ orders do not support confirmShipment. (402-8816309-7716321)"


def test_an_answer_without_items_is_refused():
    store = FakeStore({("GET", ITEMS_PATH): [{"payload": {"AmazonOrderId": ORDER}}]})

    with pytest.raises(WritebackRefused, match="instead of the order's items"):
        run(amazon.plan_fulfilment, amazon.read_fulfilment, FULFILMENT, store.send)


# Stock ------------------------------------------------------------------------------------------------------------

STOCK = {"sku": "TIFFIN SS/3", "quantity": 12, "seller_id": "A2B3C4D5E6F7G8", "marketplace_id": "A21TJRUUN4KGV"}
LISTING_PATH = "/listings/2021-08-01/items/A2B3C4D5E6F7G8/TIFFIN%20SS%2F3"


def stock_request(quantity: int) -> Request:
    return Request(
        "PATCH",
        LISTING_PATH,
        params={"marketplaceIds": "A21TJRUUN4KGV", "issueLocale": "en_US"},
        json={
            "productType": "PRODUCT",
            "patches": [
                {
                    "op": "merge",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
                }
            ],
        },
        idempotent=True,
    )


def test_stock_merges_the_listing_s_seller_fulfilled_quantity():
    accepted = {"sku": "TIFFIN SS/3", "status": "ACCEPTED", "submissionId": "f1dc2914a8eb4", "issues": []}
    store = FakeStore({("PATCH", LISTING_PATH): [accepted]})

    known = run(amazon.plan_stock, amazon.read_stock, STOCK, store.send)

    assert store.sent == [stock_request(12)]
    assert known == {"outcome": "set", "submission_id": "f1dc2914a8eb4"}


def test_an_oversold_sku_is_told_zero():
    store = FakeStore(
        {("PATCH", LISTING_PATH): [{"sku": "x", "status": "ACCEPTED", "submissionId": "s", "issues": []}]}
    )

    run(amazon.plan_stock, amazon.read_stock, {**STOCK, "quantity": -3}, store.send)

    assert store.sent == [stock_request(0)]


def test_an_invalid_listing_update_is_refused_with_its_error_issues():
    invalid = {"sku": "TIFFIN SS/3", "status": "INVALID", "submissionId": "9a1b", "issues": [
        {"code": "4000003", "message": "The SKU does not exist in this marketplace.", "severity": "ERROR"},
        {"code": "90220", "message": "'condition_type' is recommended.", "severity": "WARNING"}]}  # fmt: skip
    store = FakeStore({("PATCH", LISTING_PATH): [invalid]})

    with pytest.raises(WritebackRefused) as refused:
        run(amazon.plan_stock, amazon.read_stock, STOCK, store.send)

    assert refused.value.message == "The SKU does not exist in this marketplace."


def test_a_lost_stock_answer_sends_the_same_absolute_value_again():
    accepted = {"sku": "TIFFIN SS/3", "status": "ACCEPTED", "submissionId": "2", "issues": []}
    store = FakeStore({("PATCH", LISTING_PATH): [LOST, accepted]})

    known = run(amazon.plan_stock, amazon.read_stock, STOCK, store.send)

    assert store.sent == [stock_request(12)] * 2
    assert known["outcome"] == "set"

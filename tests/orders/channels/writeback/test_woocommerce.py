"""WooCommerce write-back: the AWB as an order note, the order's status, and stock on products and variations.

Answers follow woocommerce-rest-api-docs (wp-api-v3 ``_order-notes.md``, ``_orders.md``, ``_products.md``,
``_product-variations.md``), trimmed to the fields read.
"""

import pytest

from orders.channels.writeback import LOST, Request, WritebackRefused, run, woocommerce

from .fakes import FakeStore

FULFILMENT = {
    "order_id": "727",
    "awb": "1490810045623",
    "courier_name": "Delhivery",
    "tracking_url": "https://www.delhivery.com/track/package/1490810045623",
    "notify": True,
}

NOTE_TEXT = "Shipped with Delhivery: AWB 1490810045623. Track: https://www.delhivery.com/track/package/1490810045623"

NOTE_REQUEST = Request(
    "POST", "/wp-json/wc/v3/orders/727/notes", json={"note": NOTE_TEXT, "customer_note": True}, idempotent=False
)
STATUS_REQUEST = Request("PUT", "/wp-json/wc/v3/orders/727", json={"status": "completed"}, idempotent=True)

NOTE = {
    "id": 281,
    "author": "system",
    "date_created": "2024-10-14T13:58:45",
    "date_created_gmt": "2024-10-14T08:28:45",
    "note": NOTE_TEXT,
    "customer_note": True,
}
ORDER = {"id": 727, "parent_id": 0, "number": "727", "status": "completed", "currency": "INR"}


def test_fulfilment_writes_the_note_then_completes_the_order():
    store = FakeStore(
        {("POST", "/wp-json/wc/v3/orders/727/notes"): [NOTE], ("PUT", "/wp-json/wc/v3/orders/727"): [ORDER]}
    )

    known = run(woocommerce.plan_fulfilment, woocommerce.read_fulfilment, FULFILMENT, store.send)

    assert store.sent == [NOTE_REQUEST, STATUS_REQUEST]
    assert known == {"note_id": 281, "order_status": "completed"}


def test_processing_leaves_the_orders_status_alone_and_a_note_without_notification_is_private():
    data = FULFILMENT | {"status": "processing", "notify": False}
    store = FakeStore({("POST", "/wp-json/wc/v3/orders/727/notes"): [NOTE | {"customer_note": False}]})

    known = run(woocommerce.plan_fulfilment, woocommerce.read_fulfilment, data, store.send)

    assert store.sent == [
        Request("POST", "/wp-json/wc/v3/orders/727/notes", json={"note": NOTE_TEXT, "customer_note": False})
    ]
    assert known == {"note_id": 281}


def test_a_note_already_made_is_not_written_again():
    # The previous attempt made the note, then the status PUT failed; the worker kept known.
    store = FakeStore({("PUT", "/wp-json/wc/v3/orders/727"): [ORDER | {"status": "on-hold"}]})

    known = run(
        woocommerce.plan_fulfilment,
        woocommerce.read_fulfilment,
        FULFILMENT | {"status": "on-hold"},
        store.send,
        known={"note_id": 281},
    )

    assert store.sent == [Request("PUT", "/wp-json/wc/v3/orders/727", json={"status": "on-hold"}, idempotent=True)]
    assert known == {"note_id": 281, "order_status": "on-hold"}


def test_a_note_whose_answer_was_lost_is_written_again():
    store = FakeStore(
        {
            ("POST", "/wp-json/wc/v3/orders/727/notes"): [LOST, NOTE | {"id": 282}],
            ("PUT", "/wp-json/wc/v3/orders/727"): [ORDER],
        }
    )

    known = run(woocommerce.plan_fulfilment, woocommerce.read_fulfilment, FULFILMENT, store.send)

    assert store.sent == [NOTE_REQUEST, NOTE_REQUEST, STATUS_REQUEST]
    assert known == {"note_id": 282, "order_status": "completed"}


def test_an_unknown_order_is_refused_in_woocommerces_words():
    answer = {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 404}}

    with pytest.raises(WritebackRefused) as refused:
        woocommerce.read_fulfilment(answer, {}, FULFILMENT)

    assert refused.value.message == "Invalid ID."


def test_the_note_has_no_tracking_link_when_there_is_none():
    assert woocommerce.note_text(FULFILMENT | {"tracking_url": ""}) == "Shipped with Delhivery: AWB 1490810045623."


# Stock ------------------------------------------------------------------------------------------------------------

SIMPLE = {"id": 799, "name": "Cotton kurta", "type": "simple", "parent_id": 0, "sku": "KURTA-BLU", "stock_quantity": 3}
VARIATION = {"id": 733, "name": "Ship Your Idea - Black", "type": "variation", "parent_id": 22, "sku": "KURTA-BLU-M"}


def test_stock_of_a_simple_product_is_set_on_the_product():
    store = FakeStore(
        {
            ("GET", "/wp-json/wc/v3/products"): [[SIMPLE]],
            ("PUT", "/wp-json/wc/v3/products/799"): [SIMPLE | {"manage_stock": True, "stock_quantity": 12}],
        }
    )

    known = run(woocommerce.plan_stock, woocommerce.read_stock, {"sku": "KURTA-BLU", "quantity": 12}, store.send)

    assert store.sent == [
        Request("GET", "/wp-json/wc/v3/products", params={"sku": "KURTA-BLU"}, idempotent=True),
        Request(
            "PUT", "/wp-json/wc/v3/products/799", json={"manage_stock": True, "stock_quantity": 12}, idempotent=True
        ),
    ]
    assert known == {"product_path": "/products/799", "stock_quantity": 12}


def test_stock_of_a_variation_is_set_under_its_parent_and_a_negative_quantity_as_zero():
    store = FakeStore(
        {
            ("GET", "/wp-json/wc/v3/products"): [[VARIATION]],
            ("PUT", "/wp-json/wc/v3/products/22/variations/733"): [VARIATION | {"stock_quantity": 0}],
        }
    )

    known = run(woocommerce.plan_stock, woocommerce.read_stock, {"sku": "KURTA-BLU-M", "quantity": -2}, store.send)

    assert store.sent[1] == Request(
        "PUT",
        "/wp-json/wc/v3/products/22/variations/733",
        json={"manage_stock": True, "stock_quantity": 0},
        idempotent=True,
    )
    assert known == {"product_path": "/products/22/variations/733", "stock_quantity": 0}


def test_no_product_with_that_sku_is_refused():
    with pytest.raises(WritebackRefused) as refused:
        woocommerce.read_stock([], {}, {"sku": "KURTA-RED", "quantity": 1})

    assert refused.value.message == "WooCommerce has no product with SKU 'KURTA-RED'."

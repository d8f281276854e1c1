"""Shopify write-back: fulfilments over the order's open fulfilment orders, stock through inventorySetQuantities.

Answers follow the shapes of shopify.dev's GraphQL Admin examples (fulfillmentCreate, inventorySetQuantities) and a
throttled answer as Shopify sends it.
"""

import pytest

from orders.channels.writeback import LOST, Request, WritebackRefused, WritebackRetry, run, shopify
from orders.channels.writeback.shopify import (
    FULFILLMENT_CREATE,
    FULFILLMENT_ORDERS_QUERY,
    GRAPHQL_PATH,
    INVENTORY_SET_QUANTITIES,
    VARIANT_BY_SKU_QUERY,
)

from .fakes import FakeStore

GRAPHQL = ("POST", "/admin/api/2024-10/graphql.json")

FULFILMENT = {
    "order_id": "450789469",
    "awb": "1490810045623",
    "courier_name": "Blue Dart",
    "tracking_url": "https://shop.example/track/1490810045623",
    "notify": True,
}

COST = {
    "requestedQueryCost": 10,
    "actualQueryCost": 10,
    "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1990, "restoreRate": 100.0},
}


def fulfillment_orders(*nodes):
    return {
        "data": {
            "order": {"fulfillmentOrders": {"nodes": [{"id": node_id, "status": status} for node_id, status in nodes]}}
        },
        "extensions": {"cost": COST},
    }


CREATED = {
    "data": {
        "fulfillmentCreate": {
            "fulfillment": {"id": "gid://shopify/Fulfillment/255858046", "status": "SUCCESS"},
            "userErrors": [],
        }
    },
    "extensions": {"cost": COST},
}

THROTTLED = {
    "errors": [
        {
            "message": "Throttled",
            "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
        }
    ],
    "extensions": {
        "cost": {
            "requestedQueryCost": 752,
            "actualQueryCost": None,
            "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 666, "restoreRate": 50.0},
        }
    },
}

QUERY_REQUEST = Request(
    "POST",
    GRAPHQL_PATH,
    json={"query": FULFILLMENT_ORDERS_QUERY, "variables": {"id": "gid://shopify/Order/450789469"}},
    idempotent=True,
)


def create_request(*open_ids, company="Bluedart"):
    return Request(
        "POST",
        GRAPHQL_PATH,
        json={
            "query": FULFILLMENT_CREATE,
            "variables": {
                "fulfillment": {
                    "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": open_id} for open_id in open_ids],
                    "trackingInfo": {
                        "company": company,
                        "number": "1490810045623",
                        "url": "https://shop.example/track/1490810045623",
                    },
                    "notifyCustomer": True,
                }
            },
        },
    )


def test_fulfilment_queries_the_open_fulfilment_orders_then_creates_one_fulfilment_over_them():
    store = FakeStore(
        {
            GRAPHQL: [
                fulfillment_orders(
                    ("gid://shopify/FulfillmentOrder/1046000778", "OPEN"),
                    ("gid://shopify/FulfillmentOrder/1046000779", "IN_PROGRESS"),
                    ("gid://shopify/FulfillmentOrder/1046000780", "CLOSED"),
                ),
                CREATED,
            ]
        }
    )

    known = run(shopify.plan_fulfilment, shopify.read_fulfilment, FULFILMENT, store.send)

    assert store.sent == [
        QUERY_REQUEST,
        create_request("gid://shopify/FulfillmentOrder/1046000778", "gid://shopify/FulfillmentOrder/1046000779"),
    ]
    assert known == {
        "fulfillment_order_ids": [
            "gid://shopify/FulfillmentOrder/1046000778",
            "gid://shopify/FulfillmentOrder/1046000779",
        ],
        "fulfillment_id": "gid://shopify/Fulfillment/255858046",
        "fulfillment_status": "SUCCESS",
        "outcome": "created",
    }


def test_a_lost_fulfilment_answer_asks_again_and_makes_no_second_fulfilment():
    # The first fulfillmentCreate reached Shopify but its answer was lost: the fulfilment order is closed now.
    store = FakeStore(
        {
            GRAPHQL: [
                fulfillment_orders(("gid://shopify/FulfillmentOrder/1046000778", "OPEN")),
                LOST,
                fulfillment_orders(("gid://shopify/FulfillmentOrder/1046000778", "CLOSED")),
            ]
        }
    )

    known = run(shopify.plan_fulfilment, shopify.read_fulfilment, FULFILMENT, store.send)

    assert store.sent == [QUERY_REQUEST, create_request("gid://shopify/FulfillmentOrder/1046000778"), QUERY_REQUEST]
    assert known == {"fulfillment_order_ids": [], "outcome": "already_fulfilled"}


def test_an_order_fulfilled_in_shopify_already_is_done_without_a_fulfilment():
    store = FakeStore({GRAPHQL: [fulfillment_orders(("gid://shopify/FulfillmentOrder/1046000778", "CLOSED"))]})

    known = run(shopify.plan_fulfilment, shopify.read_fulfilment, FULFILMENT, store.send)

    assert store.sent == [QUERY_REQUEST]
    assert known == {"fulfillment_order_ids": [], "outcome": "already_fulfilled"}


def test_fulfilment_orders_on_hold_are_refused_with_their_status():
    store = FakeStore({GRAPHQL: [fulfillment_orders(("gid://shopify/FulfillmentOrder/1046000778", "ON_HOLD"))]})

    with pytest.raises(WritebackRefused) as refused:
        run(shopify.plan_fulfilment, shopify.read_fulfilment, FULFILMENT, store.send)

    assert refused.value.message == "Shopify has no open fulfillment order for this order (statuses: ON_HOLD)."


def test_an_unknown_order_is_refused():
    store = FakeStore({GRAPHQL: [{"data": {"order": None}, "extensions": {"cost": COST}}]})

    with pytest.raises(WritebackRefused) as refused:
        run(shopify.plan_fulfilment, shopify.read_fulfilment, FULFILMENT, store.send)

    assert refused.value.message == "Shopify has no such order."


def test_user_errors_of_fulfillment_create_are_a_refusal_in_shopifys_words():
    answer = {
        "data": {
            "fulfillmentCreate": {
                "fulfillment": None,
                "userErrors": [
                    {
                        "field": ["fulfillment"],
                        "message": "Fulfillment order 1046000778 has an unfulfillable status= closed.",
                    }
                ],
            }
        }
    }
    known = {"fulfillment_order_ids": ["gid://shopify/FulfillmentOrder/1046000778"]}

    with pytest.raises(WritebackRefused) as refused:
        shopify.read_fulfilment(answer, known, FULFILMENT)

    assert refused.value.message == "Fulfillment order 1046000778 has an unfulfillable status= closed."


def test_throttling_is_a_retry_after_the_wait_the_bucket_implies():
    with pytest.raises(WritebackRetry) as retry:
        shopify.read_fulfilment(THROTTLED, {}, FULFILMENT)

    # (752 requested - 666 available) / 50 restored per second = 1.72 -> 2 seconds.
    assert (retry.value.message, retry.value.retry_after) == ("Shopify throttled the request.", 2)


def test_other_graphql_errors_are_a_refusal():
    answer = {
        "errors": [{"message": "Access denied for fulfillmentCreate field.", "extensions": {"code": "ACCESS_DENIED"}}]
    }

    with pytest.raises(WritebackRefused) as refused:
        shopify.read_fulfilment(answer, {}, FULFILMENT)

    assert refused.value.message == "Access denied for fulfillmentCreate field."


def test_indian_courier_names_are_sent_as_shopify_spells_them_and_others_as_given():
    assert [
        shopify.tracking_company(name)
        for name in ["Delhivery", "Blue Dart", "Bluedart", "XpressBees", "Ecom Express", "DTDC", "ekart", "India Post"]
    ] == ["Delhivery", "Bluedart", "Bluedart", "Xpressbees", "Ecom Express", "DTDC", "Ekart", "India Post"]
    assert shopify.tracking_company(" Trackon Couriers ") == "Trackon Couriers"


def test_an_unknown_courier_goes_with_its_own_name_and_shopops_tracking_url():
    data = FULFILMENT | {"courier_name": "Trackon Couriers", "order_id": "gid://shopify/Order/450789469"}
    known = {"fulfillment_order_ids": ["gid://shopify/FulfillmentOrder/1046000778"]}

    request = shopify.plan_fulfilment(data, known)

    assert request == create_request("gid://shopify/FulfillmentOrder/1046000778", company="Trackon Couriers")


# Stock ------------------------------------------------------------------------------------------------------------

STOCK = {"sku": "KURTA-BLU-M", "quantity": 7, "location_id": "655441491"}

VARIANTS = {
    "data": {
        "productVariants": {
            "nodes": [
                {
                    "id": "gid://shopify/ProductVariant/30322695",
                    "sku": "KURTA-BLU-M",
                    "inventoryItem": {"id": "gid://shopify/InventoryItem/30322695"},
                }
            ]
        }
    }
}

SET = {
    "data": {
        "inventorySetQuantities": {
            "inventoryAdjustmentGroup": {"id": "gid://shopify/InventoryAdjustmentGroup/1130082591"},
            "userErrors": [],
        }
    }
}


def variant_request(search):
    return Request(
        "POST",
        GRAPHQL_PATH,
        json={"query": VARIANT_BY_SKU_QUERY, "variables": {"query": search}},
        idempotent=True,
    )


def set_request(quantity, location="gid://shopify/Location/655441491"):
    return Request(
        "POST",
        GRAPHQL_PATH,
        json={
            "query": INVENTORY_SET_QUANTITIES,
            "variables": {
                "input": {
                    "name": "available",
                    "reason": "correction",
                    "ignoreCompareQuantity": True,
                    "quantities": [
                        {
                            "inventoryItemId": "gid://shopify/InventoryItem/30322695",
                            "locationId": location,
                            "quantity": quantity,
                        }
                    ],
                }
            },
        },
        idempotent=True,
    )


def test_stock_finds_the_variants_inventory_item_then_sets_the_available_quantity():
    store = FakeStore({GRAPHQL: [VARIANTS, SET]})

    known = run(shopify.plan_stock, shopify.read_stock, STOCK, store.send)

    assert store.sent == [variant_request('sku:"KURTA-BLU-M"'), set_request(7)]
    assert known == {
        "variant_id": "gid://shopify/ProductVariant/30322695",
        "inventory_item_id": "gid://shopify/InventoryItem/30322695",
        "adjustment_group_id": "gid://shopify/InventoryAdjustmentGroup/1130082591",
        "outcome": "set",
    }


def test_a_known_inventory_item_is_not_looked_up_again_and_a_gid_location_is_kept():
    data = STOCK | {"location_id": "gid://shopify/Location/1"}
    store = FakeStore({GRAPHQL: [SET]})

    run(
        shopify.plan_stock,
        shopify.read_stock,
        data,
        store.send,
        known={"inventory_item_id": "gid://shopify/InventoryItem/30322695"},
    )

    assert store.sent == [set_request(7, location="gid://shopify/Location/1")]


def test_quotes_and_backslashes_in_a_sku_are_escaped_in_the_search():
    request = shopify.plan_stock(STOCK | {"sku": 'TEE "XL" \\ 2'}, {})

    assert request == variant_request('sku:"TEE \\"XL\\" \\\\ 2"')


def test_a_negative_quantity_is_sent_as_zero():
    request = shopify.plan_stock(
        STOCK | {"quantity": -3}, {"inventory_item_id": "gid://shopify/InventoryItem/30322695"}
    )

    assert request == set_request(0)


def test_no_variant_with_exactly_that_sku_is_a_refusal():
    # Shopify's search matched a longer SKU only.
    answer = {
        "data": {
            "productVariants": {
                "nodes": [
                    {
                        "id": "gid://shopify/ProductVariant/1",
                        "sku": "KURTA-BLU-M-2",
                        "inventoryItem": {"id": "gid://shopify/InventoryItem/1"},
                    }
                ]
            }
        }
    }

    with pytest.raises(WritebackRefused) as refused:
        shopify.read_stock(answer, {}, STOCK)

    assert refused.value.message == "Shopify has no variant with SKU 'KURTA-BLU-M'."


def test_user_errors_of_inventory_set_quantities_are_a_refusal():
    answer = {
        "data": {
            "inventorySetQuantities": {
                "inventoryAdjustmentGroup": None,
                "userErrors": [
                    {
                        "field": ["input", "quantities", "0", "locationId"],
                        "message": "The specified location could not be found.",
                        "code": "INVALID_LOCATION",
                    }
                ],
            }
        }
    }

    with pytest.raises(WritebackRefused) as refused:
        shopify.read_stock(answer, {"inventory_item_id": "gid://shopify/InventoryItem/30322695"}, STOCK)

    assert refused.value.message == "The specified location could not be found."

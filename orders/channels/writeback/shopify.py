"""Shopify: a shipment's AWB as a fulfilment, and a SKU's stock level, through the GraphQL Admin API (2024-10).

Every request is ``POST /admin/api/2024-10/graphql.json`` with ``{"query", "variables"}``; the values always travel
as variables, never spliced into the query text.

**Fulfilment** (checked against shopify.dev, GraphQL Admin: ``FulfillmentInput``, ``FulfillmentTrackingInput``,
``FulfillmentCreatePayload``, ``FulfillmentOrder``):

1. the order's fulfilment orders (``order(id:) { fulfillmentOrders { nodes { id status } } }``); Shopify makes them
   itself, one per location, and they cannot be created by an app. This read is idempotent.
2. ``fulfillmentCreate(fulfillment: {lineItemsByFulfillmentOrder, trackingInfo {company, number, url},
   notifyCustomer})`` over the OPEN and IN_PROGRESS ones. Leaving a fulfilment order's line items out fulfils all of
   them (documented on ``FulfillmentInput``). ``notifyCustomer`` defaults to false in Shopify; ShopOps always sends
   it. The answer's ``userErrors`` are a refusal.

If step 1 finds no open fulfilment order but closed ones, the order is fulfilled already (by a lost earlier answer of
step 2, or by hand in Shopify): the write-back is done and no second fulfilment is made. A lost answer to step 2
makes the plan ask step 1 again, so that is how a retry ends. An order whose fulfilment orders are all on hold,
scheduled or cancelled is refused with their statuses.

The tracking ``company`` must be spelt as in Shopify's list of supported tracking companies (capitalisation matters,
per ``FulfillmentTrackingInput``); Shopify then builds the tracking link itself. ``SHOPIFY_COMPANIES`` maps the
courier names ShopOps uses to that list. GUESS: the India part of the list was not retrieved (only its "any country"
part was read); the spellings below are from memory of Shopify's admin and should be checked against
``FulfillmentTrackingInfo#supported-tracking-companies``. A courier not in the map is sent under its own name with
ShopOps's tracking URL (``url`` needs ``number``, both sent); that Shopify then shows such a company as "Other" was
not confirmed.

**Stock** (checked against ``inventorySetQuantities`` and ``InventorySetQuantitiesUserError`` on shopify.dev):

1. the variant with that SKU (``productVariants(query: "sku:...")``), for its inventory item id; cached in ``known``;
2. ``inventorySetQuantities(input: {name: "available", reason: "correction", ignoreCompareQuantity: true,
   quantities: [{inventoryItemId, locationId, quantity}]})``: an absolute value, so repeating it is harmless.
   ShopOps is the source of truth for the quantity, which is the case Shopify documents this mutation for;
   ``ignoreCompareQuantity`` opts out of the compare-and-set check. ``inventorySetOnHandQuantities`` sets "on hand",
   not "available", so it is not used. GUESS: the input shape was read on the latest docs pages; that 2024-10 has
   ``ignoreCompareQuantity`` and accepts reason "correction" is assumed.

Shopify's search matches loosely, so the variants answered are checked for an exact SKU: none is a refusal ("Shopify
has no variant with SKU ..."), two are a refusal too (the stock of which one?).

**Throttling**: a GraphQL answer whose ``errors`` carry ``extensions.code == "THROTTLED"`` raises ``WritebackRetry``
with the wait the answer's ``extensions.cost.throttleStatus`` implies (shape from Shopify's rate-limit docs and a
throttled answer quoted on community.shopify.com). Other top-level ``errors`` (a denied scope, a bad query) are
refusals.
"""

import math
from typing import Any

from . import Request, WritebackRefused, WritebackRetry

API_VERSION = "2024-10"
GRAPHQL_PATH = f"/admin/api/{API_VERSION}/graphql.json"

#: Courier names as ShopOps spells them (lower-cased, spaces removed) -> Shopify's tracking company. GUESS, see above.
SHOPIFY_COMPANIES = {
    "delhivery": "Delhivery",
    "bluedart": "Bluedart",
    "xpressbees": "Xpressbees",
    "ecomexpress": "Ecom Express",
    "dtdc": "DTDC",
    "ekart": "Ekart",
    "shadowfax": "Shadowfax",
    "indiapost": "India Post",
}

#: Fulfilment orders that can still be fulfilled.
OPEN_STATUSES = ("OPEN", "IN_PROGRESS")

FULFILLMENT_ORDERS_QUERY = """query FulfillmentOrders($id: ID!) {
  order(id: $id) {
    fulfillmentOrders(first: 20) {
      nodes { id status }
    }
  }
}"""

FULFILLMENT_CREATE = """mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}"""

VARIANT_BY_SKU_QUERY = """query VariantBySku($query: String!) {
  productVariants(first: 5, query: $query) {
    nodes { id sku inventoryItem { id } }
  }
}"""

INVENTORY_SET_QUANTITIES = """mutation InventorySetQuantities($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}"""


def gid(kind: str, value: Any) -> str:
    """A Shopify global id from a numeric id or a gid already (``gid://shopify/<kind>/<id>``)."""
    text = str(value).strip()
    return text if text.startswith("gid://") else f"gid://shopify/{kind}/{text}"


def tracking_company(courier_name: str) -> str:
    """Shopify's spelling of a courier, or the name as given for a courier Shopify does not list."""
    key = courier_name.lower().replace(" ", "").replace("-", "")
    return SHOPIFY_COMPANIES.get(key, courier_name.strip())


def sku_search(sku: str) -> str:
    """Shopify's search query for one SKU: the value quoted, with backslashes and quotes escaped inside it."""
    escaped = sku.replace("\\", "\\\\").replace('"', '\\"')
    return f'sku:"{escaped}"'


def _graphql(query: str, variables: dict) -> Request:
    return Request("POST", GRAPHQL_PATH, json={"query": query, "variables": variables})


def _data(answer: Any, field: str) -> dict:
    """The answer's ``data[field]``, after its top-level ``errors`` (throttling or a refusal)."""
    if not isinstance(answer, dict):
        raise WritebackRefused(f"Shopify answered {answer!r}.")
    errors = answer.get("errors") or []
    if errors:
        if any((error.get("extensions") or {}).get("code") == "THROTTLED" for error in errors):
            raise WritebackRetry("Shopify throttled the request.", retry_after=_throttle_wait(answer))
        raise WritebackRefused("; ".join(str(error.get("message", error)) for error in errors))
    return (answer.get("data") or {}).get(field)


def _throttle_wait(answer: dict) -> float | None:
    """Seconds until the bucket holds the requested cost again, from ``extensions.cost`` when Shopify gives it."""
    cost = (answer.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(1.0, math.ceil(missing / float(status["restoreRate"])))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def _user_errors(payload: dict | None) -> None:
    errors = (payload or {}).get("userErrors") or []
    if errors:
        raise WritebackRefused("; ".join(error["message"] for error in errors))


# Fulfilment -------------------------------------------------------------------------------------------------------


def plan_fulfilment(data: dict, known: dict) -> Request | None:
    """Step 1 (the fulfilment orders) until they are known, step 2 (the fulfilment) while some are open."""
    if "fulfillment_id" in known:
        return None
    open_ids = known.get("fulfillment_order_ids")
    if open_ids is None:
        return Request(
            "POST",
            GRAPHQL_PATH,
            json={"query": FULFILLMENT_ORDERS_QUERY, "variables": {"id": gid("Order", data["order_id"])}},
            idempotent=True,
        )
    if not open_ids:
        return None
    return _graphql(
        FULFILLMENT_CREATE,
        {
            "fulfillment": {
                "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": open_id} for open_id in open_ids],
                "trackingInfo": {
                    "company": tracking_company(data["courier_name"]),
                    "number": data["awb"],
                    "url": data["tracking_url"],
                },
                "notifyCustomer": bool(data.get("notify", False)),
            }
        },
    )


def read_fulfilment(answer: Any, known: dict, data: dict) -> dict:
    """The open fulfilment orders (step 1) or the fulfilment made (step 2)."""
    creating = bool(known.get("fulfillment_order_ids"))
    if answer is None:
        # Step 2's answer was lost: ask for the fulfilment orders again before creating anything.
        return {"fulfillment_order_ids": None}
    if not creating:
        order = _data(answer, "order")
        if order is None:
            raise WritebackRefused("Shopify has no such order.")
        nodes = (order.get("fulfillmentOrders") or {}).get("nodes") or []
        open_ids = [node["id"] for node in nodes if node["status"] in OPEN_STATUSES]
        if open_ids:
            return {"fulfillment_order_ids": open_ids}
        statuses = sorted({node["status"] for node in nodes})
        if "CLOSED" in statuses and not {"ON_HOLD", "SCHEDULED"} & set(statuses):
            return {"fulfillment_order_ids": [], "outcome": "already_fulfilled"}
        raise WritebackRefused(
            "Shopify has no open fulfillment order for this order"
            + (f" (statuses: {', '.join(statuses)})." if statuses else ".")
        )
    payload = _data(answer, "fulfillmentCreate")
    _user_errors(payload)
    fulfillment = (payload or {}).get("fulfillment") or {}
    if not fulfillment.get("id"):
        raise WritebackRefused(f"Shopify made no fulfillment: {answer!r}")
    return {"fulfillment_id": fulfillment["id"], "fulfillment_status": fulfillment.get("status"), "outcome": "created"}


# Stock ------------------------------------------------------------------------------------------------------------


def stock_quantity(data: dict) -> int:
    """The quantity to set: ShopOps's available quantity, a negative one (oversold) clamped to 0 for the store."""
    return max(0, int(data["quantity"]))


def plan_stock(data: dict, known: dict) -> Request | None:
    """Step 1 (the variant's inventory item) until known, then step 2 (the quantity) until set."""
    if "adjustment_group_id" in known:
        return None
    if "inventory_item_id" not in known:
        return Request(
            "POST",
            GRAPHQL_PATH,
            json={"query": VARIANT_BY_SKU_QUERY, "variables": {"query": sku_search(data["sku"])}},
            idempotent=True,
        )
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
                            "inventoryItemId": known["inventory_item_id"],
                            "locationId": gid("Location", data["location_id"]),
                            "quantity": stock_quantity(data),
                        }
                    ],
                }
            },
        },
        idempotent=True,
    )


def read_stock(answer: Any, known: dict, data: dict) -> dict:
    """The inventory item of the SKU (step 1) or the adjustment made (step 2)."""
    if answer is None:
        return {}  # both steps are idempotent: the plan simply sends the same request again
    if "inventory_item_id" not in known:
        variants = (_data(answer, "productVariants") or {}).get("nodes") or []
        sku = data["sku"]
        matches = [variant for variant in variants if variant.get("sku") == sku]
        if not matches:
            raise WritebackRefused(f"Shopify has no variant with SKU {sku!r}.")
        if len(matches) > 1:
            raise WritebackRefused(f"Shopify has {len(matches)} variants with SKU {sku!r}.")
        return {"variant_id": matches[0]["id"], "inventory_item_id": matches[0]["inventoryItem"]["id"]}
    payload = _data(answer, "inventorySetQuantities")
    _user_errors(payload)
    group = (payload or {}).get("inventoryAdjustmentGroup")
    # Shopify answers no adjustment group when the quantity was already the one set: done all the same.
    return {"adjustment_group_id": (group or {}).get("id") or "", "outcome": "set"}

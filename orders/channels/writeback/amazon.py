"""Amazon (Selling Partner API): a shipment's AWB as a shipment confirmation, and a SKU's stock level as the quantity
of its merchant-fulfilled listing. Paths are relative to the marketplace region's SP-API host.

**Fulfilment** (Orders API v0, seller-fulfilled orders):

1. ``GET /orders/v0/orders/<AmazonOrderId>/orderItems`` (getOrderItems, following ``NextToken``): each item's
   ``OrderItemId`` and what is left to ship (``QuantityOrdered`` less ``QuantityShipped``). Nothing left: the order
   was confirmed already (by an earlier attempt whose answer was lost, or by hand in Seller Central), which is done.
2. ``POST /orders/v0/orders/<AmazonOrderId>/shipmentConfirmation`` (confirmShipment) with ``marketplaceId`` and a
   ``packageDetail``: ``packageReferenceId`` (a positive number: ShopOps's shipment id), ``carrierCode`` ``Other``
   with the courier's name in ``carrierName`` (required when the code is ``Other``), ``trackingNumber`` (the AWB),
   ``shipDate`` (ISO 8601) and the items with their quantities. Amazon answers 204 with no body.

Amazon's "Confirm the shipment status" guide says a confirmation sent again with the same ``packageReferenceId``
edits that package rather than adding one, so step 2 is safe to repeat after a lost answer; the plan still reads the
items again first, and an order confirmed meanwhile is done.

**Stock** (Listings Items API 2021-08-01): ``PATCH /listings/2021-08-01/items/<sellerId>/<sku>?marketplaceIds=<id>``
with one JSON-patch ``merge`` of ``/attributes/fulfillment_availability`` to ``[{"fulfillment_channel_code":
"DEFAULT", "quantity": n}]`` (Amazon's "Merge a listing" tutorial: ``merge`` sets the quantity and leaves the
listing's handling time and restock date alone; ``DEFAULT`` is the seller-fulfilled channel) and ``productType``
``PRODUCT``, the type for offer-only attributes. An absolute value, so idempotent. Amazon answers ``{"sku",
"status", "submissionId", "issues"}``: ``ACCEPTED`` is done, ``INVALID`` is a refusal in the words of its issues.
The seller id (Seller Central's "Merchant Token") is a channel option: the Orders API does not give it.

**Refusals.** The SP-API error body is ``{"errors": [{"code", "message", "details"}]}`` (a Ship+ order, an order
Amazon cancelled, an unknown carrier); the messages are the refusal.
"""

from typing import Any
from urllib.parse import quote

from . import Request, WritebackRefused

ORDERS = "/orders/v0/orders"
LISTINGS = "/listings/2021-08-01/items"


def _errors(answer: Any) -> str | None:
    """The SP-API's error messages in one line, or None when the answer is not an error body."""
    if isinstance(answer, dict) and isinstance(answer.get("errors"), list) and answer["errors"]:
        parts = []
        for error in answer["errors"]:
            if isinstance(error, dict):
                text = str(error.get("message") or error.get("code") or "error")
                if error.get("details"):
                    text += f" ({error['details']})"
                parts.append(text)
        return "; ".join(parts) or "Amazon refused the request."
    return None


# Fulfilment -------------------------------------------------------------------------------------------------------


def plan_fulfilment(data: dict, known: dict) -> Request | None:
    """The order's items (every page) until read, then the confirmation until answered."""
    if known.get("outcome") in ("confirmed", "already_shipped"):
        return None
    path = f"{ORDERS}/{quote(str(data['order_id']), safe='')}"
    if not known.get("items"):
        params = {"NextToken": known["next_token"]} if known.get("next_token") else {}
        return Request("GET", f"{path}/orderItems", params=params, idempotent=True)
    return Request(
        "POST",
        f"{path}/shipmentConfirmation",
        json={
            "marketplaceId": data["marketplace_id"],
            "packageDetail": {
                "packageReferenceId": str(data.get("package") or 1),
                "carrierCode": "Other",
                "carrierName": data["courier_name"],
                "trackingNumber": data["awb"],
                "shipDate": data["ship_date"],
                "orderItems": known["items"],
            },
        },
        idempotent=True,  # the same packageReferenceId edits the package: a repeat adds nothing
    )


def read_fulfilment(answer: Any, known: dict, data: dict) -> dict:
    """Step 1: the items left to ship (a page at a time); step 2: the confirmation (no body on success)."""
    reading = not known.get("items")
    if answer is None:
        # A lost page is asked again from the start; a lost confirmation reads the items again first (an order
        # confirmed meanwhile has nothing left to ship).
        return {"items": None, "next_token": None, "pending_items": None}
    message = _errors(answer)
    if message:
        raise WritebackRefused(message)
    if not reading:
        return {"outcome": "confirmed"}
    payload = answer.get("payload") if isinstance(answer, dict) else None
    if not isinstance(payload, dict) or not isinstance(payload.get("OrderItems"), list):
        raise WritebackRefused(f"Amazon answered {answer!r} instead of the order's items.")
    left = list(known.get("pending_items") or [])
    for item in payload["OrderItems"]:
        quantity = _int(item.get("QuantityOrdered")) - _int(item.get("QuantityShipped"))
        if quantity > 0 and item.get("OrderItemId"):
            left.append({"orderItemId": str(item["OrderItemId"]), "quantity": quantity})
    if payload.get("NextToken"):
        return {"pending_items": left, "next_token": str(payload["NextToken"])}
    if not left:
        return {"outcome": "already_shipped", "next_token": None, "pending_items": None}
    return {"items": left, "next_token": None, "pending_items": None}


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


# Stock ------------------------------------------------------------------------------------------------------------


def stock_quantity(data: dict) -> int:
    """The quantity to set: ShopOps's available quantity, a negative one (oversold) clamped to 0 for Amazon."""
    return max(0, int(data["quantity"]))


def plan_stock(data: dict, known: dict) -> Request | None:
    """One request: the listing's seller-fulfilled quantity."""
    if known.get("outcome") == "set":
        return None
    return Request(
        "PATCH",
        f"{LISTINGS}/{quote(str(data['seller_id']), safe='')}/{quote(str(data['sku']), safe='')}",
        params={"marketplaceIds": data["marketplace_id"], "issueLocale": "en_US"},
        json={
            "productType": "PRODUCT",
            "patches": [
                {
                    "op": "merge",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": stock_quantity(data)}],
                }
            ],
        },
        idempotent=True,
    )


def read_stock(answer: Any, known: dict, data: dict) -> dict:
    """``ACCEPTED`` is done; ``INVALID`` is refused in the words of its error issues."""
    if answer is None:
        return {}
    message = _errors(answer)
    if message:
        raise WritebackRefused(message)
    status = answer.get("status") if isinstance(answer, dict) else None
    if status == "ACCEPTED":
        return {"outcome": "set", "submission_id": str(answer.get("submissionId") or "")}
    issues = [issue for issue in (answer.get("issues") or []) if isinstance(issue, dict)] if status else []
    errors = [str(issue.get("message") or issue.get("code")) for issue in issues if issue.get("severity") == "ERROR"]
    if status == "INVALID":
        raise WritebackRefused("; ".join(errors or [str(i.get("message")) for i in issues]) or "Amazon found the "
                               "listing update invalid.")  # fmt: skip
    raise WritebackRefused(f"Amazon answered {answer!r} instead of a listing submission.")

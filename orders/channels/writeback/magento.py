"""Magento 2 / Adobe Commerce: a shipment's AWB as a Magento shipment with its track, and a SKU's stock level at an
MSI source, through the REST API (``/rest/V1``).

**Fulfilment.**

1. the order's ``entity_id`` from its ``increment_id`` (the channel's order id in ShopOps):
   ``GET /V1/orders`` with a ``searchCriteria`` filter ``increment_id eq <id>`` (filter syntax from Adobe's
   "performing searches" page); idempotent.
2. ``POST /V1/order/<entity_id>/ship`` with ``{"notify", "tracks": [{"track_number", "title", "carrier_code"}]}``
   (Adobe's REST tutorial "Create a shipment": ``notify`` sends the shipment email, ``tracks`` carries the tracking
   numbers, the answer is the shipment id). No ``items`` are sent, so everything left to ship is shipped. GUESS:
   that an empty ``items`` ships all items is how Magento's ``ShipOrder`` behaves as far as integrations describe it;
   the tutorial itself lists the items. ``carrier_code`` is ``custom`` (Magento's "Custom Value" carrier) and the
   courier's name goes in ``title``.

Shipping an order that has nothing left to ship is refused with "The order does not allow a shipment to be
created." (checked in magento2 ``Magento\\Sales\\Model\\Order\\Validation\\CanShip``; ``ShipOrder`` wraps it in
"Shipment Document Validation Error(s):" and answers 400). That is the answer a retry gets after a lost answer to
step 2, or for an order shipped in Magento by hand, so it is read as done (``already_shipped``). It is also what an
order whose items are all virtual or locked gets: a guess that this does not happen for orders ShopOps ships. A
held, cancelled or payment-review order is refused with "A shipment cannot be created when an order has a status
of ...", which stays a refusal.

**Stock** (Multi-Source Inventory): ``POST /V1/inventory/source-items`` with ``{"sourceItems": [{"sku",
"source_code", "quantity", "status"}]}``, ``status`` 1 (in stock) for a quantity above zero, else 0. One request, an
absolute value, idempotent; Magento answers ``[]`` (checked on the MSI source-item docs and Zynk's source-item
import, which documents the same fields). ``source_code`` defaults to ``default``, the source of a single-source
store.

**Refusals.** Magento's error body is ``{"message", "parameters"}`` with ``%1``/``%name`` placeholders; the message is
given filled in.
"""

import re
from typing import Any

from . import Request, WritebackRefused

API = "/rest/V1"

#: Magento's refusal when the order has nothing left to ship (``CanShip``).
NOTHING_TO_SHIP = "The order does not allow a shipment to be created."


def error_message(answer: dict) -> str:
    """Magento's error message with its placeholders (``%1``, ``%fieldName``) filled from ``parameters``."""
    message = str(answer.get("message", ""))
    parameters = answer.get("parameters") or []
    if isinstance(parameters, list):
        lookup = {str(index + 1): str(value) for index, value in enumerate(parameters)}
    else:
        lookup = {str(key): str(value) for key, value in parameters.items()}
    return re.sub(r"%(\w+)", lambda match: lookup.get(match.group(1), match.group(0)), message)


def _error(answer: Any) -> str | None:
    if isinstance(answer, dict) and "message" in answer and "items" not in answer:
        return error_message(answer)
    return None


# Fulfilment -------------------------------------------------------------------------------------------------------


def plan_fulfilment(data: dict, known: dict) -> Request | None:
    """Step 1 (the order's entity id) until known, then step 2 (the shipment) until made or found made."""
    if "shipment_id" in known or known.get("outcome") == "already_shipped":
        return None
    if "entity_id" not in known:
        return Request(
            "GET",
            f"{API}/orders",
            params={
                "searchCriteria[filter_groups][0][filters][0][field]": "increment_id",
                "searchCriteria[filter_groups][0][filters][0][value]": str(data["order_id"]),
                "searchCriteria[filter_groups][0][filters][0][condition_type]": "eq",
                "searchCriteria[pageSize]": "1",
            },
            idempotent=True,
        )
    return Request(
        "POST",
        f"{API}/order/{known['entity_id']}/ship",
        json={
            "notify": bool(data.get("notify", False)),
            "tracks": [{"track_number": data["awb"], "title": data["courier_name"], "carrier_code": "custom"}],
        },
    )


def read_fulfilment(answer: Any, known: dict, data: dict) -> dict:
    """The order's entity id (step 1), or the shipment id (step 2); "nothing left to ship" is done."""
    if answer is None:
        return {}  # a lost shipment is tried again: Magento refuses a second one as "nothing left to ship"
    message = _error(answer)
    if "entity_id" not in known:
        if message:
            raise WritebackRefused(message)
        items = answer.get("items") or []
        if not items:
            raise WritebackRefused(f"Magento has no order {data['order_id']}.")
        return {"entity_id": items[0]["entity_id"]}
    if message:
        if NOTHING_TO_SHIP in message:
            return {"outcome": "already_shipped"}
        raise WritebackRefused(message)
    if isinstance(answer, bool) or not isinstance(answer, int | str) or not str(answer).isdigit():
        raise WritebackRefused(f"Magento answered {answer!r} instead of a shipment id.")
    return {"shipment_id": int(answer), "outcome": "created"}


# Stock ------------------------------------------------------------------------------------------------------------


def stock_quantity(data: dict) -> int:
    """The quantity to set: ShopOps's available quantity, a negative one (oversold) clamped to 0 for the store."""
    return max(0, int(data["quantity"]))


def plan_stock(data: dict, known: dict) -> Request | None:
    """One request: the SKU's quantity at its source."""
    if known.get("outcome") == "set":
        return None
    quantity = stock_quantity(data)
    return Request(
        "POST",
        f"{API}/inventory/source-items",
        json={
            "sourceItems": [
                {
                    "sku": data["sku"],
                    "source_code": data.get("source_code") or "default",
                    "quantity": quantity,
                    "status": 1 if quantity > 0 else 0,
                }
            ]
        },
        idempotent=True,
    )


def read_stock(answer: Any, known: dict, data: dict) -> dict:
    """Magento answers ``[]`` (or nothing) when the source item is saved."""
    if answer is None:
        return {}
    message = _error(answer)
    if message:
        raise WritebackRefused(message)
    return {"outcome": "set"}

"""WooCommerce: a shipment's AWB as an order note (and the order's status), and a SKU's stock level, through the REST
API v3 (``/wp-json/wc/v3``).

**Fulfilment.** WooCommerce core has no tracking field, so the AWB goes into an order note
(``POST /orders/<id>/notes`` with ``note`` and ``customer_note``; ``customer_note: true`` shows the note to the
customer and emails them: woocommerce-rest-api-docs ``_order-notes.md``), then the order's status is set
(``PUT /orders/<id>`` with ``status``, ``_orders.md``): ``completed`` unless the data asks for another status;
``processing`` means "leave the order as it is" and skips the PUT.

A note is not idempotent and WooCommerce offers no key to make it so. The plan skips the note once ``known`` holds
its id (the worker keeps ``known`` between attempts), so a note is written twice only when the answer to the first
one was lost. Setting the status is idempotent.

**Stock.** ``GET /products?sku=<sku>`` finds the product; when ``sku`` is given WooCommerce searches variations too
(the products controller queries ``product`` and ``product_variation`` posts for a SKU, read in WooCommerce's
``WC_REST_Products_Controller::prepare_objects_query``), and a variation comes back with ``type: "variation"`` and its
``parent_id``. Its stock is then set on ``PUT /products/<parent_id>/variations/<id>``; a simple (or variable) product's
on ``PUT /products/<id>``, with ``{"manage_stock": true, "stock_quantity": n}`` (``_products.md``,
``_product-variations.md``). An absolute value, so idempotent. The SKU search is checked for an exact SKU.

**Refusals.** WooCommerce's error body is ``{"code", "message", "data": {"status"}}`` (e.g.
``woocommerce_rest_shop_order_invalid_id``); it is a refusal in WooCommerce's words.
"""

from typing import Any

from . import Request, WritebackRefused

API = "/wp-json/wc/v3"

#: The status that means "leave the order's status alone".
KEEP_STATUS = "processing"


def note_text(data: dict) -> str:
    """The note the customer reads: the courier, the AWB and the tracking link."""
    text = f"Shipped with {data['courier_name']}: AWB {data['awb']}."
    if data.get("tracking_url"):
        text += f" Track: {data['tracking_url']}"
    return text


def _refusal(answer: Any) -> None:
    if answer is None:
        return
    if not isinstance(answer, dict | list):
        raise WritebackRefused(f"WooCommerce answered {answer!r}.")
    if isinstance(answer, dict) and "code" in answer and "message" in answer and "id" not in answer:
        raise WritebackRefused(str(answer["message"]))


# Fulfilment -------------------------------------------------------------------------------------------------------


def plan_fulfilment(data: dict, known: dict) -> Request | None:
    """The note until it is made, then the status (unless it is to stay as it is)."""
    order = str(data["order_id"])
    if "note_id" not in known:
        return Request(
            "POST",
            f"{API}/orders/{order}/notes",
            json={"note": note_text(data), "customer_note": bool(data.get("notify", False))},
        )
    status = data.get("status") or "completed"
    if status == KEEP_STATUS or "order_status" in known:
        return None
    return Request("PUT", f"{API}/orders/{order}", json={"status": status}, idempotent=True)


def read_fulfilment(answer: Any, known: dict, data: dict) -> dict:
    """The note's id (step 1) or the order's status after the PUT (step 2)."""
    if answer is None:
        return {}  # a lost note is written again (see the module's docstring); the PUT is simply resent
    _refusal(answer)
    if "note_id" not in known:
        return {"note_id": answer["id"]}
    return {"order_status": answer["status"]}


# Stock ------------------------------------------------------------------------------------------------------------


def stock_quantity(data: dict) -> int:
    """The quantity to set: ShopOps's available quantity, a negative one (oversold) clamped to 0 for the store."""
    return max(0, int(data["quantity"]))


def plan_stock(data: dict, known: dict) -> Request | None:
    """Step 1 (the product with that SKU) until known, then step 2 (its stock) until set."""
    if "stock_quantity" in known:
        return None
    if "product_path" not in known:
        return Request("GET", f"{API}/products", params={"sku": data["sku"]}, idempotent=True)
    return Request(
        "PUT",
        f"{API}{known['product_path']}",
        json={"manage_stock": True, "stock_quantity": stock_quantity(data)},
        idempotent=True,
    )


def read_stock(answer: Any, known: dict, data: dict) -> dict:
    """The product's path (a variation's under its parent) from step 1, the stock set from step 2."""
    if answer is None:
        return {}
    _refusal(answer)
    if "product_path" not in known:
        matches = [product for product in answer if product.get("sku") == data["sku"]]
        if not matches:
            raise WritebackRefused(f"WooCommerce has no product with SKU {data['sku']!r}.")
        if len(matches) > 1:
            raise WritebackRefused(f"WooCommerce has {len(matches)} products with SKU {data['sku']!r}.")
        product = matches[0]
        if product.get("type") == "variation" and product.get("parent_id"):
            return {"product_path": f"/products/{product['parent_id']}/variations/{product['id']}"}
        return {"product_path": f"/products/{product['id']}"}
    return {"stock_quantity": answer["stock_quantity"]}

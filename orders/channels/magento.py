"""Magento 2 / Adobe Commerce: a sales order of the REST API (an item of ``GET /V1/orders`` ``items[]``, Magento's
``SalesDataOrderInterface``) as ShopOps's order input.

Identity. The order's id on the channel is ``increment_id``, the order number the merchant and the buyer see
("000000123", kept as the string it is: the zeros are part of it). ``entity_id`` is Magento's database key; it is
what ``GET /V1/orders/:id`` takes, so the caller keeps it next to the channel order if it needs to read the order
again, but two stores (or a re-import) never confuse orders by their number.

Lines. ``items[]`` holds every item of the order, and a configurable or bundle product appears twice: the parent
(which carries the price, the tax and the discount) and its child (the simple product actually picked, priced 0 for
a configurable). A child has ``parent_item_id`` (and ``parent_item`` in the REST payload) set: it is skipped, the
parent is the line, with the parent's SKU (for a configurable, Magento's parent SKU is the chosen variant's SKU).

Money. Amounts are in the order's currency (``order_currency_code``; the ``base_*`` twins are the store's base
currency). The buyer paid for a line ``row_total - discount_amount + tax_amount + discount_tax_compensation_amount``:
Magento's grand total is the sum of its totals (subtotal without tax, the discount as a negative amount, shipping
without tax, the tax, and the "discount tax compensation" that brings back the tax hidden in a discount taken off a
tax-inclusive price). Reading it so is right whatever the store's tax settings: with "Apply Discount On Prices:
Including Tax" the discount_amount contains tax (and the compensation returns it), with "Excluding Tax" it does not
and there is no compensation; ``row_total_incl_tax - discount_amount`` is only right in the first case. The line's
unit price is ``price_incl_tax`` (GST included), and the line's discount is whatever makes ``qty x price_incl_tax -
discount`` what was paid (``orders.channels.base.line_price``). Shipping is read the same way:
``shipping_amount - shipping_discount_amount + shipping_tax_amount + shipping_discount_tax_compensation_amount``
(``shipping_incl_tax - shipping_discount_amount`` when the discount contains tax). ``tax_percent`` is the line's GST
rate. ``grand_total`` is given as the order's ``total``, so the writer refuses an order whose lines and shipping do
not add up to what Magento charged instead of writing it at another amount.

Quantity is ``qty_ordered``: the grand total is that of the quantity ordered (a cancellation of part of an item
keeps the order's totals and only counts ``qty_canceled``), so the lines stay what the buyer was charged for, and a
``qty_canceled`` is noted.

Payment. ``payment.method == "cashondelivery"`` (Magento's Cash On Delivery method) is COD; any other method is
prepaid. The payment status reads Magento's running totals: refunded when ``total_refunded`` reaches the grand
total, partially refunded when something was refunded, paid when ``total_paid`` reaches the grand total (a COD
order is paid when the merchant invoices it), pending otherwise.

States (``state``, Magento's fixed set; ``status`` is the store's label of it and is kept as ``channel_status``):
``canceled`` is a cancelled order. Magento itself refuses to ship an order that is on hold (``holded``) or in
``payment_review`` (``Order::canShip``); ``pending_payment`` waits for an online payment that may never come, and
``closed`` is refunded: none of these is the merchant's to ship. ``new``, ``processing`` and ``complete`` are (a
complete order was shipped in Magento; the caller decides what a shipped order means). A virtual order (``is_virtual``)
has nothing to ship.

Times. ``created_at`` and ``updated_at`` are "YYYY-MM-DD HH:MM:SS" in UTC without an offset (Magento stores UTC and
converts only for display): read as UTC.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from orders.channels.base import (
    ChannelOrder,
    MappingError,
    amount,
    indian_state,
    line_price,
    money,
    quantity,
    rate_text,
)

COD_METHOD = "cashondelivery"
#: Magento states whose orders are not the merchant's to ship (see the module's docstring).
NOT_SHIPPABLE_STATES = frozenset({"pending_payment", "payment_review", "holded", "closed", "canceled"})


def order_from_payload(payload: dict) -> ChannelOrder:
    """The Magento order ``payload`` as a ChannelOrder; MappingError when it cannot be an order."""
    if not isinstance(payload, dict):
        raise MappingError("order", "is not an object.")
    increment_id = _text(payload.get("increment_id"))
    if not increment_id:
        raise MappingError("increment_id", "is missing.")
    state, status = _text(payload.get("state")), _text(payload.get("status"))
    cancelled = state == "canceled"
    virtual = bool(payload.get("is_virtual"))
    shippable = not virtual and state not in NOT_SHIPPABLE_STATES
    notes: list[str] = []
    if virtual:
        notes.append("A virtual order: nothing to ship.")

    lines = _lines(payload.get("items"), notes)
    grand_total = amount(payload.get("grand_total"), "grand_total")
    shipping = (
        _optional(payload, "shipping_amount") - _optional(payload, "shipping_discount_amount")
        + _optional(payload, "shipping_tax_amount") + _optional(payload, "shipping_discount_tax_compensation_amount")
    )  # fmt: skip
    if shipping < 0:
        raise MappingError("shipping_discount_amount", "is more than the shipping charge.")

    payment = payload.get("payment") if isinstance(payload.get("payment"), dict) else {}
    method = "cod" if _text(payment.get("method")) == COD_METHOD else "prepaid"
    data: dict[str, Any] = {
        "channel_order_id": increment_id,
        "payment_method": method,
        "payment_status": _payment_status(payload, grand_total),
    }
    billing = _address(payload.get("billing_address"), "billing_address")
    shipping_address = _address(
        _shipping_address(payload), "extension_attributes.shipping_assignments.0.shipping.address"
    )
    if shipping_address is None and shippable and not cancelled:
        raise MappingError("extension_attributes.shipping_assignments.0.shipping.address", "is missing.")
    if shipping_address is not None:
        data["shipping_address"] = shipping_address
    if billing is not None:
        data["billing_address"] = billing
    customer = _customer(payload, shipping_address or billing)
    if customer:
        data["customer"] = customer
    data["lines"] = lines
    data["shipping_charge"] = money(shipping)
    data["total"] = money(grand_total)
    if currency := _text(payload.get("order_currency_code")):
        data["currency"] = currency
    ordered_at = _time(payload.get("created_at"), "created_at")
    if ordered_at is not None:
        data["ordered_at"] = ordered_at.isoformat()
    return ChannelOrder(
        external_id=increment_id, data=data, channel_status=status or state, cancelled=cancelled,
        updated_at=_time(payload.get("updated_at"), "updated_at"), shippable=shippable and not cancelled, notes=notes,
        payment_names=tuple(name for name in (_text(payment.get("method")),) if name),
    )  # fmt: skip


def _lines(items: Any, notes: list[str]) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise MappingError("items", "is not a list of items.")
    lines = []
    for index, item in enumerate(items):
        where = f"items.{index}"
        if not isinstance(item, dict):
            raise MappingError(where, "is not an item.")
        if item.get("parent_item_id") or item.get("parent_item"):
            continue  # the child of a configurable or bundle product: its parent is the line
        sku = _text(item.get("sku"))
        if not sku:
            raise MappingError(f"{where}.sku", "is missing.")
        qty = quantity(item.get("qty_ordered"), f"{where}.qty_ordered")
        unit = amount(item.get("price_incl_tax"), f"{where}.price_incl_tax")
        paid = (
            amount(item.get("row_total"), f"{where}.row_total") - _optional(item, "discount_amount", where)
            + _optional(item, "tax_amount", where) + _optional(item, "discount_tax_compensation_amount", where)
        )  # fmt: skip
        if unit < 0 or paid < 0:
            raise MappingError(f"{where}.price_incl_tax", "is negative.")
        unit_price, discount = line_price(qty, unit, paid, where)
        line: dict[str, Any] = {
            "sku": sku,
            "quantity": qty,
            "unit_price": money(unit_price),
            "discount": money(discount),
        }
        if name := _text(item.get("name")):
            line["name"] = name
        if item.get("tax_percent") not in (None, ""):
            line["tax_rate"] = rate_text(amount(item["tax_percent"], f"{where}.tax_percent"))
        canceled = _optional(item, "qty_canceled", where)
        if canceled > 0:
            notes.append(f"{sku}: {canceled.normalize():f} of {qty} cancelled on Magento.")
        lines.append(line)
    if not lines:
        raise MappingError("items", "The order has no items.")
    return lines


def _payment_status(payload: dict, grand_total: Decimal) -> str:
    refunded = _optional(payload, "total_refunded")
    if refunded > 0 and refunded >= grand_total:
        return "refunded"
    if refunded > 0:
        return "partially_refunded"
    if "total_paid" in payload and _optional(payload, "total_paid") >= grand_total:
        return "paid"
    return "pending"


def _shipping_address(payload: dict) -> Any:
    assignments = (payload.get("extension_attributes") or {}).get("shipping_assignments") or []
    if not isinstance(assignments, list) or not assignments or not isinstance(assignments[0], dict):
        return None
    return (assignments[0].get("shipping") or {}).get("address")


def _address(value: Any, where: str) -> dict[str, str] | None:
    """A Magento address (``street`` a list of lines) as the order input's; None when there is none."""
    if not isinstance(value, dict) or not value:
        return None
    street = value.get("street") or []
    if isinstance(street, str):
        street = street.splitlines()
    street = [_text(part) for part in street if _text(part)]
    if not street:
        raise MappingError(f"{where}.street", "is missing.")
    address = {
        "name": _name(value.get("firstname"), value.get("middlename"), value.get("lastname")),
        "phone": _text(value.get("telephone")),
        "line1": street[0],
        "line2": ", ".join(street[1:]),
        "city": _text(value.get("city")),
        "state": indian_state(
            _text(value.get("region")) or _text(value.get("region_code")), _text(value.get("country_id"))
        ),
        "postcode": _text(value.get("postcode")),
        "country": _text(value.get("country_id")),
    }
    return {key: text for key, text in address.items() if text or key in ("line2", "state")}


def _customer(payload: dict, address: dict[str, str] | None) -> dict[str, str]:
    customer = {
        "name": _name(payload.get("customer_firstname"), payload.get("customer_middlename"),
                      payload.get("customer_lastname")),
        "email": _text(payload.get("customer_email")),
        "phone": (address or {}).get("phone", ""),
    }  # fmt: skip
    return {key: text for key, text in customer.items() if text}


def _time(value: Any, where: str) -> datetime | None:
    """Magento's "YYYY-MM-DD HH:MM:SS" (UTC, no offset); an ISO 8601 time with an offset is read as it says."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise MappingError(where, f"{value!r} is not a time.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _optional(data: dict, key: str, where: str = "") -> Decimal:
    """An amount Magento may leave out (REST omits what is null): 0 when absent."""
    value = data.get(key)
    if value in (None, ""):
        return Decimal("0")
    return amount(value, f"{where}.{key}" if where else key)


def _name(*parts: Any) -> str:
    return " ".join(_text(part) for part in parts if _text(part))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()

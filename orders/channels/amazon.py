"""Amazon (Selling Partner API, Orders v0): an order, its items and its address as ShopOps's order input.

An Amazon order comes in parts, each from its own call: the order (an element of getOrders ``payload.Orders[]``),
its items (getOrderItems ``payload.OrderItems[]``, every page), and its shipping address (getOrderAddress
``payload.ShippingAddress``, or the order's own ``ShippingAddress``). The address's name, street and phone are
restricted data: without a Restricted Data Token Amazon leaves them out, and an order that is ours to ship cannot be
taken in without them (MappingError on ``ShippingAddress``). Amazon gives a shipping address only for Unshipped,
PartiallyShipped, Shipped and InvoiceUnconfirmed orders, and the buyer's phone not at all for some (FBA orders, a
shipped order past its latest delivery date): the writer then refuses the order for its phone, as it refuses any.

Identity: ``AmazonOrderId`` (3-7-7).

Lines. ``ItemPrice`` is the price of the whole quantity ("the selling price of the item multiplied by the quantity
ordered", Amazon's model of OrderItem), not a unit price: the unit price is the line's amount divided by
``QuantityOrdered`` rounded up to the paisa and the few paise over are the line's discount
(``orders.channels.base.line_price``), so each line is exactly what the buyer paid. ``PromotionDiscount`` is the
line's discount. ``SellerSKU`` is the channel SKU; ``Title`` the name.

Tax. Whether ``ItemPrice`` contains the tax is not said by the model (``ItemTax`` is "the tax on the item price").
Amazon.in lists prices with GST included, and the order's ``OrderTotal`` ("the total charge for this order") settles
it for each order: when the items, shipping and COD fee less their discounts add up to OrderTotal, the prices
contain the tax (Amazon.in, and the EU's VAT-inclusive prices); when they add up only with ``ItemTax``,
``ShippingTax`` (less ``PromotionDiscountTax`` and ``ShippingDiscountTax``) added, the taxes are added to the
prices so that ShopOps's GST-included prices are what the buyer paid. An order whose parts add up neither way is
mapped as tax-included and noted; OrderTotal is given as the order's ``total``, so the writer refuses it rather
than write an order at another amount than Amazon charged. The line's GST rate comes from its ``ItemTax``: the GST
slab that the tax, exact to the paisa, can be the tax of (none when no slab or several fit, or no tax is given:
then the product's rate applies).

Shipping: the items' ``ShippingPrice - ShippingDiscount`` (their taxes added when the prices do not contain them).
``CODFee - CODFeeDiscount`` is the order's COD charge.

Payment: ``PaymentMethod == "COD"`` (or ``CashOnDelivery`` among ``PaymentMethodDetails``) is COD, pending until
delivered; anything else was paid to Amazon at checkout: prepaid, paid.

Status (``OrderStatus``, kept as ``channel_status``): Canceled is a cancelled order; Unshipped and PartiallyShipped
are ours to ship, and so are Shipped and InvoiceUnconfirmed (the caller decides what a shipped order means).
Pending and PendingAvailability have no authorised payment yet and no address (they may still be cancelled), and
Unfulfillable is a multi-channel FBA order: none of them is shippable. An order fulfilled by Amazon
(``FulfillmentChannel`` AFN) is never ours to ship: Amazon ships it from its own warehouse.

Times: ``LastUpdateDate`` and ``PurchaseDate`` are ISO 8601 in UTC.
"""

from datetime import datetime
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

SHIPPABLE_STATUSES = frozenset({"Unshipped", "PartiallyShipped", "Shipped", "InvoiceUnconfirmed"})
#: India's GST rates on goods (percent), the slabs a line's tax is matched against.
GST_SLABS = (Decimal("0.25"), Decimal("1.5"), Decimal("3"), Decimal("5"), Decimal("12"), Decimal("18"),
             Decimal("28"), Decimal("40"))  # fmt: skip
HALF_PAISA = Decimal("0.005")
ZERO = Decimal("0")


def order_from_payload(payload: dict) -> ChannelOrder:
    """The parts as ShopOps stores a pulled Amazon order in the channel's inbox: ``{"order", "items"}`` (and
    ``address``, ``buyer`` when they were read apart from the order)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("order"), dict):
        raise MappingError("order", "is not an object.")
    return order_from_parts(payload["order"], payload.get("items") or [], payload.get("address"), payload.get("buyer"))


def order_from_parts(order: dict, items: list[dict], address: dict | None, buyer: dict | None = None) -> ChannelOrder:
    """The Amazon order from its parts; MappingError when it cannot be an order."""
    if not isinstance(order, dict):
        raise MappingError("Order", "is not an object.")
    order_id = _text(order.get("AmazonOrderId"))
    if not order_id:
        raise MappingError("AmazonOrderId", "is missing.")
    status = _text(order.get("OrderStatus"))
    cancelled = status == "Canceled"
    notes: list[str] = []
    afn = _text(order.get("FulfillmentChannel")) == "AFN"
    if afn:
        notes.append("Fulfilled by Amazon (AFN): Amazon ships it.")
    shippable = status in SHIPPABLE_STATUSES and not afn

    parts = _items(items, cancelled, notes)
    total = _money(order, "OrderTotal") if isinstance(order.get("OrderTotal"), dict) else None
    included = _prices_include_tax(parts, total, notes)
    lines = [_line(part, included) for part in parts]
    shipping = sum((p["shipping"] + (ZERO if included else p["shipping_tax"]) for p in parts), ZERO)
    cod_charge = sum((p["cod"] for p in parts), ZERO)
    if shipping < 0:
        raise MappingError("OrderItems.ShippingDiscount", "is more than the shipping price.")
    if cod_charge < 0:
        raise MappingError("OrderItems.CODFeeDiscount", "is more than the COD fee.")

    cod = _text(order.get("PaymentMethod")) == "COD" or "CashOnDelivery" in (order.get("PaymentMethodDetails") or [])
    data: dict[str, Any] = {
        "channel_order_id": order_id,
        "payment_method": "cod" if cod else "prepaid",
        "payment_status": "pending" if cod else "paid",
    }
    shipping_address = _address(address if address is not None else order.get("ShippingAddress"))
    if shipping_address is None and shippable:
        raise MappingError(
            "ShippingAddress", "is missing its name or street: reading it needs a Restricted Data Token."
        )
    if shipping_address is not None:
        data["shipping_address"] = shipping_address
    customer = _customer(buyer if buyer is not None else order.get("BuyerInfo"), shipping_address)
    if customer:
        data["customer"] = customer
    data["lines"] = lines
    data["shipping_charge"] = money(shipping)
    if cod_charge:
        data["cod_charge"] = money(cod_charge)
    if total is not None:
        data["total"] = money(total)
    if currency := _text((order.get("OrderTotal") or {}).get("CurrencyCode")):
        data["currency"] = currency
    if ordered_at := _time(order.get("PurchaseDate"), "PurchaseDate"):
        data["ordered_at"] = ordered_at.isoformat()
    return ChannelOrder(
        external_id=order_id, data=data, channel_status=status, cancelled=cancelled,
        updated_at=_time(order.get("LastUpdateDate"), "LastUpdateDate"), shippable=shippable, notes=notes,
        payment_names=tuple(dict.fromkeys(_text(name) for name in [order.get("PaymentMethod"),
                                                                    *(order.get("PaymentMethodDetails") or [])]
                                          if _text(name))),
    )  # fmt: skip


def _items(items: Any, cancelled: bool, notes: list[str]) -> list[dict[str, Any]]:
    """Each item's amounts, read once. A cancelled order's items may have no quantity left: skipped, noted."""
    if not isinstance(items, list):
        raise MappingError("OrderItems", "is not a list of items.")
    parts = []
    for index, item in enumerate(items):
        where = f"OrderItems.{index}"
        if not isinstance(item, dict):
            raise MappingError(where, "is not an item.")
        sku = _text(item.get("SellerSKU"))
        if not sku:
            raise MappingError(f"{where}.SellerSKU", "is missing.")
        if cancelled and item.get("QuantityOrdered") in (0, "0"):
            notes.append(f"{sku}: no quantity left on the cancelled order.")
            continue
        qty = quantity(item.get("QuantityOrdered"), f"{where}.QuantityOrdered")
        if not isinstance(item.get("ItemPrice"), dict):
            raise MappingError(f"{where}.ItemPrice", "is missing.")
        part = {
            "sku": sku, "name": _text(item.get("Title")), "quantity": qty,
            "price": _money(item, "ItemPrice", where), "tax": _optional(item, "ItemTax", where),
            "discount": _optional(item, "PromotionDiscount", where),
            "discount_tax": _optional(item, "PromotionDiscountTax", where),
            "shipping": _optional(item, "ShippingPrice", where) - _optional(item, "ShippingDiscount", where),
            "shipping_tax": _optional(item, "ShippingTax", where) - _optional(item, "ShippingDiscountTax", where),
            "cod": _optional(item, "CODFee", where) - _optional(item, "CODFeeDiscount", where),
        }  # fmt: skip
        if part["price"] < 0:
            raise MappingError(f"{where}.ItemPrice", "is negative.")
        if part["discount"] > part["price"]:
            raise MappingError(f"{where}.PromotionDiscount", "is more than the item price.")
        parts.append(part)
    if not items:
        raise MappingError("OrderItems", "The order has no items.")
    return parts


def _prices_include_tax(parts: list[dict[str, Any]], total: Decimal | None, notes: list[str]) -> bool:
    """Whether the items' prices contain their tax, as the order's total says (see the module's docstring)."""
    included = sum((p["price"] - p["discount"] + p["shipping"] + p["cod"] for p in parts), ZERO)
    taxes = sum((p["tax"] - p["discount_tax"] + p["shipping_tax"] for p in parts), ZERO)
    if total is None or included == total:
        return True
    if taxes and included + taxes == total:
        return False
    notes.append(f"The items add up to {money(included)} (with their taxes {money(included + taxes)}), "
                 f"not to the order total {money(total)}.")  # fmt: skip
    return True


def _line(part: dict[str, Any], included: bool) -> dict[str, Any]:
    gross = part["price"] if included else part["price"] + part["tax"]
    paid = gross - part["discount"] - (ZERO if included else part["discount_tax"])
    unit_price, discount = line_price(part["quantity"], gross / part["quantity"], paid, f"OrderItems.{part['sku']}")
    line: dict[str, Any] = {"sku": part["sku"], "quantity": part["quantity"], "unit_price": money(unit_price),
                            "discount": money(discount)}  # fmt: skip
    if part["name"]:
        line["name"] = part["name"]
    if (rate := _slab(part["price"], part["tax"], included)) is not None:
        line["tax_rate"] = rate_text(rate)
    return line


def _slab(price: Decimal, tax: Decimal, included: bool) -> Decimal | None:
    """The GST slab ``tax`` (rounded to the paisa) is the tax of, on ``price`` (which contains it when ``included``);
    None when no slab, or more than one, fits the paisa's rounding."""
    if tax <= 0 or price <= 0:
        return None
    if included:
        base_high, base_low = price - tax + HALF_PAISA, price - tax - HALF_PAISA
        if base_low <= 0:
            return None
        low, high = (tax - HALF_PAISA) / base_high * 100, (tax + HALF_PAISA) / base_low * 100
    else:
        low, high = (tax - HALF_PAISA) / price * 100, (tax + HALF_PAISA) / price * 100
    fits = [slab for slab in GST_SLABS if low <= slab <= high]
    return fits[0] if len(fits) == 1 else None


def _address(value: Any) -> dict[str, str] | None:
    """Amazon's Address as the order input's; None without the restricted name and street. Takes getOrderAddress's
    whole payload too (``{"AmazonOrderId", "ShippingAddress"}``)."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("ShippingAddress"), dict):
        value = value["ShippingAddress"]
    if not _text(value.get("Name")) or not _text(value.get("AddressLine1")):
        return None
    address = {
        "name": _text(value.get("Name")),
        "phone": _text(value.get("Phone")),
        "line1": _text(value.get("AddressLine1")),
        "line2": ", ".join(_text(value.get(key)) for key in ("AddressLine2", "AddressLine3") if _text(value.get(key))),
        "city": _text(value.get("City")),
        "state": indian_state(_text(value.get("StateOrRegion")), _text(value.get("CountryCode"))),
        "postcode": _text(value.get("PostalCode")),
        "country": _text(value.get("CountryCode")),
    }
    return {key: text for key, text in address.items() if text or key in ("line2", "state")}


def _customer(buyer: Any, address: dict[str, str] | None) -> dict[str, str]:
    buyer = buyer if isinstance(buyer, dict) else {}
    customer = {
        "name": _text(buyer.get("BuyerName")),
        "email": _text(buyer.get("BuyerEmail")),
        "phone": (address or {}).get("phone", ""),
    }
    return {key: text for key, text in customer.items() if text}


def _money(data: dict, key: str, where: str = "") -> Decimal:
    path = f"{where}.{key}" if where else key
    return amount((data.get(key) or {}).get("Amount"), f"{path}.Amount")


def _optional(data: dict, key: str, where: str) -> Decimal:
    """A Money Amazon may leave out: 0 when absent."""
    if not isinstance(data.get(key), dict):
        return ZERO
    return _money(data, key, where)


def _time(value: Any, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise MappingError(where, f"{value!r} is not a time.") from None
    if parsed.tzinfo is None:
        raise MappingError(where, f"{value!r} has no time zone.")
    return parsed


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()

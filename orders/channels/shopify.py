"""Shopify's order as ShopOps's order input: the REST Order JSON of the ``orders/create``, ``orders/updated`` and
``orders/cancelled`` webhooks (their bodies are REST-shaped whatever API the app uses) and of ``GET /orders.json``.

Money. Shopify's money values are strings in the shop's currency. With ``taxes_included`` a line's ``price`` already
contains its tax; without it the line's ``tax_lines`` (and a shipping line's) are added, because ShopOps's prices
are GST-included. A line's discount is the sum of its ``discount_allocations`` (every discount, order-level ones
included, is allocated to the lines); ``total_discount`` is read only when a line has no allocations: Shopify
keeps it as a presentation value that is 0 with allocations on orders of the online store and both on some
orders created by apps, so adding the two would count a discount twice. Each line's unit price is the channel's
GST-included price per unit rounded up to the paisa, and its discount the rest (``base.line_price``): the line's
total in ShopOps is then exactly the amount the buyer paid for it.

``total`` is Shopify's ``total_price`` (less a tip, which ShopOps does not keep), so the order writer refuses a
mapping that does not add up to what the buyer was charged instead of storing a different order.

An order edited after it was placed (a line's ``current_quantity`` below its ``quantity``) is mapped with its
current quantities, the line's discount and tax prorated; its ``total`` is then left out (Shopify's totals are the
order's as placed) and a note says so.

A line without a SKU gets ``shopify-variant-<variant_id>`` (``shopify-item-<id>`` for a custom item), so the
merchant can map it to a product like any unknown SKU. An order without a shipping address whose lines all have
``requires_shipping`` false (gift cards, digital goods) is not the merchant's to ship (``shippable`` false);
with any line to ship, it is a MappingError.
"""

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from orders.channels.base import ChannelOrder, MappingError, amount, indian_state, line_price, money, quantity
from orders.models import PaymentMethod, PaymentStatus
from shopops.money import round_money

#: Shopify's manual payment method for COD is "Cash on Delivery (COD)"; apps name theirs "COD", "cod_fee"...
COD_GATEWAY = re.compile(r"cash\s*on\s*delivery|\bcod\b", re.IGNORECASE)
PAYMENT_STATUSES = {
    "paid": PaymentStatus.PAID,
    "partially_refunded": PaymentStatus.PARTIALLY_REFUNDED,
    "refunded": PaymentStatus.REFUNDED,
}  # every other financial_status (pending, authorized, partially_paid, voided, expired): pending
NOTES_MAX = 2000


def order_from_payload(payload: dict) -> ChannelOrder:
    """The Shopify order ``payload`` as a ChannelOrder; MappingError when it cannot be an order."""
    if not isinstance(payload, dict):
        raise MappingError("order", "The payload is not an object.")
    order_id = payload.get("id")
    if isinstance(order_id, bool) or not isinstance(order_id, (int, str)) or not str(order_id).strip():
        raise MappingError("id", f"{order_id!r} is not an order id.")
    external_id = str(order_id).strip()
    taxes_included = payload.get("taxes_included") is True
    notes: list[str] = []

    lines, edited = _lines(payload, taxes_included, notes)
    shipping_charge = _shipping_charge(payload, taxes_included)
    gateways = _gateways(payload)
    is_cod = any(COD_GATEWAY.search(name) for name in gateways)
    financial_status = _text(payload.get("financial_status"))

    data: dict[str, Any] = {
        "channel_order_id": external_id,
        "payment_method": PaymentMethod.COD.value if is_cod else PaymentMethod.PREPAID.value,
        "payment_status": (
            PaymentStatus.PENDING.value
            if is_cod
            else PAYMENT_STATUSES.get(financial_status, PaymentStatus.PENDING).value
        ),
    }
    customer = _customer(payload)
    if customer:
        data["customer"] = customer
    shippable = True
    shipping = _address(payload.get("shipping_address"), "shipping_address", _phones(payload))
    billing = _address(payload.get("billing_address"), "billing_address", _phones(payload))
    if shipping is None:
        if any(item.get("requires_shipping") is not False for item in payload["line_items"]):
            raise MappingError("shipping_address", "The order has no shipping address.")
        shippable = False
        notes.append("No shipping address: no line requires shipping.")
        shipping = billing
    if shipping is not None:
        data["shipping_address"] = shipping
    if billing is not None:
        data["billing_address"] = billing
    data["lines"] = lines
    data["shipping_charge"] = money(shipping_charge)
    if edited:
        notes.append("Edited on Shopify: lines at their current quantities; the total is ShopOps's.")
    else:
        data["total"] = money(_total(payload, notes))
    if payload.get("currency"):
        data["currency"] = _text(payload["currency"])
    if payload.get("created_at"):
        data["ordered_at"] = _text(payload["created_at"])
    data["notes"] = _notes(payload)

    return ChannelOrder(
        external_id=external_id,
        data=data,
        channel_status=f"{financial_status or 'pending'}/{_text(payload.get('fulfillment_status')) or 'unfulfilled'}",
        cancelled=payload.get("cancelled_at") is not None,
        cancel_reason=_text(payload.get("cancel_reason")),
        updated_at=_time(payload.get("updated_at"), "updated_at"),
        shippable=shippable,
        payment_names=tuple(dict.fromkeys(_gateways(payload))),
        notes=notes,
    )


def _lines(payload: dict, taxes_included: bool, notes: list[str]) -> tuple[list[dict], bool]:
    items = payload.get("line_items")
    if not isinstance(items, list):
        raise MappingError("line_items", "The order has no line_items list.")
    lines, edited = [], False
    for index, item in enumerate(items):
        where = f"line_items.{index}"
        if not isinstance(item, dict):
            raise MappingError(where, "A line item is not an object.")
        ordered = quantity(item.get("quantity"), f"{where}.quantity")
        count = ordered
        if item.get("current_quantity") is not None:
            current = item["current_quantity"]
            if current == 0 and not isinstance(current, bool):
                notes.append(f"{_sku(item)}: removed on Shopify, not taken in.")
                edited = True
                continue
            count = quantity(current, f"{where}.current_quantity")
            edited = edited or count != ordered
        price = amount(item.get("price"), f"{where}.price")
        if price < 0:
            raise MappingError(f"{where}.price", f"{item.get('price')!r} is negative.")
        discount = _line_discount(item, where)
        tax_lines = _list(item.get("tax_lines"), f"{where}.tax_lines")
        tax = sum((amount(t.get("price"), f"{where}.tax_lines.{i}.price") for i, t in enumerate(tax_lines)), Decimal(0))
        rates = [_rate(t.get("rate"), f"{where}.tax_lines.{i}.rate") for i, t in enumerate(tax_lines)]
        rate = sum((r for r in rates if r is not None), Decimal(0))
        if count != ordered:  # an edited line: its discount and tax were the ordered quantity's
            discount, tax = discount * count / ordered, tax * count / ordered
        line_amount = count * price - discount + (Decimal(0) if taxes_included else tax)
        gross_unit_price = price if taxes_included else price * (1 + rate)
        unit_price, line_discount = line_price(count, gross_unit_price, line_amount, where)
        line = {
            "sku": _sku(item),
            "name": _name(item),
            "quantity": count,
            "unit_price": money(unit_price),
            "discount": money(line_discount),
        }
        if tax_lines and None not in rates:
            line["tax_rate"] = _percent(rate)
        lines.append(line)
    if not lines:
        raise MappingError("line_items", "The order has no lines.")
    return lines, edited


def _line_discount(item: dict, where: str) -> Decimal:
    allocations = _list(item.get("discount_allocations"), f"{where}.discount_allocations")
    if allocations:
        return sum(
            (amount(a.get("amount"), f"{where}.discount_allocations.{i}.amount") for i, a in enumerate(allocations)),
            Decimal(0),
        )
    if item.get("total_discount") in (None, ""):
        return Decimal(0)
    return amount(item["total_discount"], f"{where}.total_discount")


def _shipping_charge(payload: dict, taxes_included: bool) -> Decimal:
    """The shipping lines' prices after their discounts, with their tax when prices exclude it."""
    charge = Decimal(0)
    for index, line in enumerate(_list(payload.get("shipping_lines"), "shipping_lines")):
        where = f"shipping_lines.{index}"
        if line.get("discounted_price") not in (None, ""):
            price = amount(line["discounted_price"], f"{where}.discounted_price")
        else:
            price = amount(line.get("price"), f"{where}.price") - sum(
                (
                    amount(a.get("amount"), f"{where}.discount_allocations.{i}.amount")
                    for i, a in enumerate(_list(line.get("discount_allocations"), f"{where}.discount_allocations"))
                ),
                Decimal(0),
            )
        if not taxes_included:
            price += sum(
                (
                    amount(t.get("price"), f"{where}.tax_lines.{i}.price")
                    for i, t in enumerate(_list(line.get("tax_lines"), f"{where}.tax_lines"))
                ),
                Decimal(0),
            )
        charge += price
    if charge < 0:
        raise MappingError("shipping_lines", f"The shipping charge is negative ({round_money(charge)}).")
    return charge


def _total(payload: dict, notes: list[str]) -> Decimal:
    total = amount(payload.get("total_price"), "total_price")
    if payload.get("total_tip_received") not in (None, ""):
        tip = amount(payload["total_tip_received"], "total_tip_received")
        if tip:
            notes.append(f"Tip of {money(tip)} not part of the order.")
            total -= tip
    return total


def _gateways(payload: dict) -> list[str]:
    names = payload.get("payment_gateway_names")
    gateways = [str(name) for name in names] if isinstance(names, list) else []
    if payload.get("gateway"):
        gateways.append(str(payload["gateway"]))
    return gateways


def _address(value: Any, where: str, phones: list[str]) -> dict[str, str] | None:
    """A Shopify address as ShopOps's; None when there is none (no object, or no street)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MappingError(where, "The address is not an object.")
    line1, line2 = _text(value.get("address1")), _text(value.get("address2"))
    if not line1 and not line2:
        return None
    country = _text(value.get("country_code")).upper() or "IN"
    name = _text(value.get("name")) or " ".join(
        part for part in (_text(value.get("first_name")), _text(value.get("last_name"))) if part
    )
    phone = _text(value.get("phone")) or next((p for p in phones if p), "")
    return {
        "name": name,
        "phone": phone,
        "line1": line1 or line2,
        "line2": line2 if line1 else "",
        "city": _text(value.get("city")),
        "state": indian_state(_text(value.get("province")) or _text(value.get("province_code")), country),
        "postcode": _text(value.get("zip")),
        "country": country,
    }


def _phones(payload: dict) -> list[str]:
    """Where else a buyer's phone is, in order: the order's, the customer's, the billing address's."""
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    billing = payload.get("billing_address") if isinstance(payload.get("billing_address"), dict) else {}
    return [_text(payload.get("phone")), _text(customer.get("phone")), _text(billing.get("phone"))]


def _customer(payload: dict) -> dict[str, str]:
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    name = " ".join(part for part in (_text(customer.get("first_name")), _text(customer.get("last_name"))) if part)
    email = _text(payload.get("email")) or _text(payload.get("contact_email")) or _text(customer.get("email"))
    phone = _text(customer.get("phone")) or _text(payload.get("phone"))
    return {key: value for key, value in (("name", name), ("email", email), ("phone", phone)) if value}


def _notes(payload: dict) -> str:
    label = f"Shopify {_text(payload.get('name')) or '#' + _text(payload.get('order_number') or payload['id'])}"
    note = _text(payload.get("note"))
    return f"{label}\n{note}"[:NOTES_MAX] if note else label


def _sku(item: dict) -> str:
    sku = _text(item.get("sku"))
    if sku:
        return sku
    if item.get("variant_id"):
        return f"shopify-variant-{item['variant_id']}"
    return f"shopify-item-{item.get('id')}"


def _name(item: dict) -> str:
    name = _text(item.get("name"))
    if name:
        return name
    title, variant = _text(item.get("title")), _text(item.get("variant_title"))
    return f"{title} - {variant}" if title and variant else title or variant or _sku(item)


def _rate(value: Any, where: str) -> Decimal | None:
    """A tax line's rate, a fraction (0.18); None when the line has none."""
    return None if value is None else amount(value, where)


def _percent(rate: Decimal) -> str:
    """A fraction as the order input's GST percent: 0.18 -> "18", 0.025 -> "2.5"."""
    return f"{round_money(rate * 100).normalize():f}"


def _time(value: Any, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise MappingError(where, f"{value!r} is not an ISO 8601 time.") from None


def _list(value: Any, where: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise MappingError(where, "Not a list of objects.")
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()

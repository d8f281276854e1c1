"""WooCommerce's order as ShopOps's order input: the REST v3 order (``GET /wp-json/wc/v3/orders``), which is also
the body of the ``order.created`` and ``order.updated`` webhooks.

Money. WooCommerce keeps a line's ``subtotal`` (before coupons) and ``total`` (after coupons) without tax, and the
tax beside them (``subtotal_tax``, ``total_tax``), whether the shop's prices include tax or not:
``WC_Abstract_Order::calculate_totals`` adds the lines' totals, the fees, ``shipping_total``, ``cart_tax`` and
``shipping_tax`` to make the order's ``total``. ``prices_include_tax`` only changes how WooCommerce worked the
untaxed amounts out of the prices; it does not change what the fields hold. So a line's GST-included amount is
``total + total_tax`` and its GST-included price before coupons ``(subtotal + subtotal_tax) / quantity``; the unit
price is the latter rounded up to the paisa and the discount the rest (``base.line_price``). Example, prices
including 18%: 2 x 1180.00 with a 10% coupon is subtotal 2000.00 + 360.00, total 1800.00 + 324.00: unit price
1180.00, discount 2360.00 - 2124.00 = 236.00.

Shipping is each shipping line's ``total + total_tax``. Fee lines: a fee named for cash on delivery ("COD fee",
"Cash on delivery charges") is the order's ``cod_charge``; another positive fee is added to the shipping charge
(ShopOps has no other charge; a note names it); a negative fee (a "prepaid discount") is a discount on the lines,
the largest first. With "round tax at subtotal" WooCommerce's ``cart_tax`` may differ from the sum of the lines'
rounded taxes by a paisa a line: a difference that small is put on the largest line (a note says so); a larger one
is left for the order writer to refuse, as ``total`` is WooCommerce's.

Status (WooCommerce's ``OrderStatus``): ``pending`` (no payment yet), ``on-hold`` (awaiting payment confirmation,
a bank transfer or cheque, or a COD order the shop holds to verify), ``failed`` and the checkout drafts are not
the merchant's to ship yet (``shippable`` false: the update that moves them to ``processing`` brings them in).
``cancelled`` and ``trash`` are cancelled; ``refunded`` is not cancelled, its payment is refunded.

A line without a SKU gets ``woocommerce-variation-<variation_id>`` (``woocommerce-product-<product_id>`` for a
simple product) so the merchant can map it to a product like any unknown SKU.
"""

import html
import re
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from orders.channels.base import ChannelOrder, MappingError, amount, indian_state, line_price, money, quantity
from orders.models import PaymentMethod, PaymentStatus
from shopops.money import CENT, round_money

NOT_YET_SHIPPABLE = frozenset({"pending", "on-hold", "failed", "checkout-draft", "draft", "auto-draft"})
CANCELLED = frozenset({"cancelled", "trash"})
PAID = frozenset({"processing", "completed"})
COD_FEE = re.compile(r"cash\s*on\s*delivery|\bcod\b", re.IGNORECASE)
NOTES_MAX = 2000


def order_from_payload(payload: dict) -> ChannelOrder:
    """The WooCommerce order ``payload`` as a ChannelOrder; MappingError when it cannot be an order."""
    if not isinstance(payload, dict):
        raise MappingError("order", "The payload is not an object.")
    order_id = payload.get("id")
    if isinstance(order_id, bool) or not isinstance(order_id, (int, str)) or not str(order_id).strip():
        raise MappingError("id", f"{order_id!r} is not an order id.")
    external_id = str(order_id).strip()
    status = _text(payload.get("status"))
    notes: list[str] = []

    lines, amounts = _lines(payload)
    shipping_charge = sum(
        (
            _gross(line, f"shipping_lines.{i}")
            for i, line in enumerate(_list(payload.get("shipping_lines"), "shipping_lines"))
        ),
        Decimal(0),
    )
    cod_charge = Decimal(0)
    for index, fee in enumerate(_list(payload.get("fee_lines"), "fee_lines")):
        charge, name = _gross(fee, f"fee_lines.{index}"), _text(fee.get("name"))
        if COD_FEE.search(name):
            cod_charge += charge
        elif charge >= 0:
            shipping_charge += charge
            notes.append(f"Fee {name!r} of {money(charge)} added to the shipping charge.")
        else:
            _discount_lines(lines, amounts, -charge, f"fee_lines.{index}")
            notes.append(f"Fee {name!r} of {money(charge)} taken off the lines.")
    total = amount(payload.get("total"), "total")
    _absorb_rounding(payload, lines, amounts, total - sum(amounts, Decimal(0)) - shipping_charge - cod_charge, notes)

    is_cod = _text(payload.get("payment_method")) == "cod"
    data: dict[str, Any] = {
        "channel_order_id": external_id,
        "payment_method": PaymentMethod.COD.value if is_cod else PaymentMethod.PREPAID.value,
        "payment_status": PaymentStatus.PENDING.value if is_cod else _payment_status(payload, status).value,
    }
    billing = payload.get("billing") if payload.get("billing") is not None else {}
    if not isinstance(billing, dict):
        raise MappingError("billing", "The address is not an object.")
    customer = _customer(billing)
    if customer:
        data["customer"] = customer
    shipping_address = _address(payload.get("shipping"), "shipping", _text(billing.get("phone")))
    billing_address = _address(billing, "billing", "")
    if shipping_address is None:
        if billing_address is None:
            raise MappingError("shipping", "The order has no shipping address and no billing address to ship to.")
        shipping_address = billing_address
        notes.append("No shipping address: shipped to the billing address.")
    data["shipping_address"] = shipping_address
    if billing_address is not None:
        data["billing_address"] = billing_address
    data["lines"] = [{**line, "unit_price": money(line["unit_price"]), "discount": money(line["discount"])}
                     for line in lines]  # fmt: skip
    data["shipping_charge"] = money(shipping_charge)
    if cod_charge:
        data["cod_charge"] = money(cod_charge)
    data["total"] = money(total)
    if payload.get("currency"):
        data["currency"] = _text(payload["currency"])
    ordered_at = _gmt(payload.get("date_created_gmt"), "date_created_gmt")
    if ordered_at is not None:
        data["ordered_at"] = ordered_at.isoformat()
    data["notes"] = _notes(payload, external_id)

    return ChannelOrder(
        external_id=external_id,
        data=data,
        channel_status=status,
        cancelled=status in CANCELLED,
        cancel_reason="",
        updated_at=_gmt(payload.get("date_modified_gmt"), "date_modified_gmt"),
        shippable=status not in NOT_YET_SHIPPABLE,
        payment_names=tuple(
            name for name in (_text(payload.get("payment_method")), _text(payload.get("payment_method_title"))) if name
        ),
        notes=notes,
    )


def dedupe_key(payload: dict, webhook_id: str) -> str:
    """Which delivery of a webhook this is: ``X-WC-Webhook-Delivery-ID`` cannot say (it is a hash of the webhook and
    the second, made again for each attempt), so the webhook's id, the order's and the order's last change do."""
    return f"{webhook_id}:{payload.get('id')}:{payload.get('date_modified_gmt')}"


def _lines(payload: dict) -> tuple[list[dict], list[Decimal]]:
    """The lines (unit price and discount as Decimals, for the adjustments that follow) and their amounts."""
    items = payload.get("line_items")
    if not isinstance(items, list):
        raise MappingError("line_items", "The order has no line_items list.")
    rates = _rates(payload)
    lines, amounts = [], []
    for index, item in enumerate(items):
        where = f"line_items.{index}"
        if not isinstance(item, dict):
            raise MappingError(where, "A line item is not an object.")
        count = quantity(item.get("quantity"), f"{where}.quantity")
        subtotal = amount(item.get("subtotal"), f"{where}.subtotal") + _tax(item, "subtotal_tax", where)
        line_amount = amount(item.get("total"), f"{where}.total") + _tax(item, "total_tax", where)
        unit_price, discount = line_price(count, subtotal / count, line_amount, where)
        line = {"sku": _sku(item), "name": html.unescape(_text(item.get("name"))) or _sku(item), "quantity": count,
                "unit_price": unit_price, "discount": discount}  # fmt: skip
        rate = _line_rate(item, rates, where)
        if rate is not None:
            line["tax_rate"] = rate
        lines.append(line)
        amounts.append(round_money(line_amount))
    if not lines:
        raise MappingError("line_items", "The order has no lines.")
    return lines, amounts


def _rates(payload: dict) -> dict[str, Decimal | None]:
    """The order's tax rates by rate id: ``rate_percent`` (sent by WooCommerce 5.x and later), None without it."""
    rates = {}
    for index, tax in enumerate(_list(payload.get("tax_lines"), "tax_lines")):
        percent = tax.get("rate_percent")
        rates[str(tax.get("rate_id"))] = (
            None if percent in (None, "") else amount(percent, f"tax_lines.{index}.rate_percent")
        )
    return rates


def _line_rate(item: dict, rates: dict[str, Decimal | None], where: str) -> str | None:
    """A line's GST percent: the sum of the rates it was taxed at (CGST 9 + SGST 9); None when a rate is unknown."""
    taxed = [str(tax.get("id")) for tax in _list(item.get("taxes"), f"{where}.taxes") if _nonzero(tax.get("total"))]
    if not taxed or any(rates.get(rate_id) is None for rate_id in taxed):
        return None
    return f"{round_money(sum((rates[rate_id] for rate_id in taxed), Decimal(0))).normalize():f}"


def _discount_lines(lines: list[dict], amounts: list[Decimal], discount: Decimal, where: str) -> None:
    """Take ``discount`` off the lines, the largest amount first."""
    for index in sorted(range(len(lines)), key=lambda i: -amounts[i]):
        part = min(discount, amounts[index])
        lines[index]["discount"] += part
        amounts[index] -= part
        discount -= part
    if discount > 0:
        raise MappingError(where, "The fee takes off more than the lines' amount.")


def _absorb_rounding(payload: dict, lines: list[dict], amounts: list[Decimal], difference: Decimal,
                     notes: list[str]) -> None:  # fmt: skip
    """Put a rounding difference between WooCommerce's total and its parts on the largest line: at most a paisa
    for each taxed item (lines, shipping, fees), as tax rounded at the subtotal can make."""
    difference = round_money(difference)
    items = sum(len(payload.get(key) or []) for key in ("line_items", "shipping_lines", "fee_lines"))
    if not difference or abs(difference) > CENT * items:
        return
    index = max(range(len(lines)), key=lambda i: amounts[i])
    line = lines[index]
    if difference < 0:
        line["discount"] -= difference
    else:
        raise_by = (difference / line["quantity"]).quantize(CENT, rounding=ROUND_CEILING)
        line["unit_price"] += raise_by
        line["discount"] += raise_by * line["quantity"] - difference
    amounts[index] += difference
    notes.append(f"Tax rounding of {money(difference)} put on {line['sku']}.")


def _payment_status(payload: dict, status: str) -> PaymentStatus:
    if status == "refunded":
        return PaymentStatus.REFUNDED
    if status in PAID and (payload.get("date_paid_gmt") or payload.get("date_paid")):
        return PaymentStatus.PARTIALLY_REFUNDED if payload.get("refunds") else PaymentStatus.PAID
    return PaymentStatus.PENDING


def _address(value: Any, where: str, phone: str) -> dict[str, str] | None:
    """A WooCommerce address as ShopOps's; None when it has no street."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MappingError(where, "The address is not an object.")
    line1, line2 = _text(value.get("address_1")), _text(value.get("address_2"))
    if not line1 and not line2:
        return None
    country = _text(value.get("country")).upper() or "IN"
    return {
        "name": " ".join(part for part in (_text(value.get("first_name")), _text(value.get("last_name"))) if part)
        or _text(value.get("company")),
        "phone": _text(value.get("phone")) or phone,
        "line1": line1 or line2,
        "line2": line2 if line1 else "",
        "city": _text(value.get("city")),
        "state": indian_state(_text(value.get("state")), country),
        "postcode": _text(value.get("postcode")),
        "country": country,
    }


def _customer(billing: dict) -> dict[str, str]:
    name = " ".join(part for part in (_text(billing.get("first_name")), _text(billing.get("last_name"))) if part)
    fields = (("name", name), ("email", _text(billing.get("email"))), ("phone", _text(billing.get("phone"))))
    return {key: value for key, value in fields if value}


def _notes(payload: dict, external_id: str) -> str:
    label = f"WooCommerce #{_text(payload.get('number')) or external_id}"
    note = _text(payload.get("customer_note"))
    return f"{label}\n{note}"[:NOTES_MAX] if note else label


def _sku(item: dict) -> str:
    sku = _text(item.get("sku"))
    if sku:
        return sku
    if item.get("variation_id"):
        return f"woocommerce-variation-{item['variation_id']}"
    return f"woocommerce-product-{item.get('product_id')}"


def _gross(line: dict, where: str) -> Decimal:
    """A shipping or fee line's amount with its tax."""
    return amount(line.get("total"), f"{where}.total") + _tax(line, "total_tax", where)


def _tax(item: dict, key: str, where: str) -> Decimal:
    return Decimal(0) if item.get(key) in (None, "") else amount(item[key], f"{where}.{key}")


def _nonzero(value: Any) -> bool:
    try:
        return amount(value, "") != 0
    except MappingError:
        return False


def _gmt(value: Any, where: str) -> datetime | None:
    """A WooCommerce ``*_gmt`` time: ISO 8601 without an offset, in UTC."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise MappingError(where, f"{value!r} is not an ISO 8601 time.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _list(value: Any, where: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise MappingError(where, "Not a list of objects.")
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()

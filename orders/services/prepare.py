"""An order's input checked against the catalog and priced: ``order_prepare`` turns type-checked input (the API's
``OrderInput``, an import's converted rows) into a ``PreparedOrder`` that ``orders.services.create`` writes.

Field errors are ValidationErrors keyed by field path (``shipping_address.postcode``, ``lines.0.name``,
``total``) so the API and the import report the same errors.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from catalog.models import Location, Product
from orders.gst import ChargesTax, charges_tax, tax_included, zero_rated_lut
from orders.models import Channel, OrderStatus, PaymentMethod, PaymentStatus
from orders.services.channels import default_api_channel
from orders.validation import MONEY_MAX, clean_address, clean_customer
from shopops.models import Merchant
from shopops.money import round_money


@dataclass
class PreparedLine:
    product_id: int | None
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal
    hsn_code: str
    total: Decimal
    uqc: str = "NOS"


@dataclass
class PreparedOrder:
    channel: Channel
    channel_order_id: str
    customer: dict[str, str]
    shipping_address: dict[str, str]
    billing_address: dict[str, str]
    payment_method: str
    payment_status: str
    lines: list[PreparedLine]
    subtotal: Decimal
    discount_total: Decimal
    shipping_charge: Decimal
    tax_total: Decimal
    total: Decimal
    currency: str
    weight_grams: int
    length_cm: Decimal
    breadth_cm: Decimal
    height_cm: Decimal
    pickup_location: Location
    ordered_at: datetime
    notes: str = ""
    eway_bill_number: str = ""
    cod_charge: Decimal = Decimal("0.00")
    charges_tax_rate: Decimal = Decimal("0")
    shipping_tax: Decimal = Decimal("0.00")
    cod_tax: Decimal = Decimal("0.00")
    lut_reference: str = ""
    warnings: list[str] = field(default_factory=list)
    #: An import may bring an order as history (delivered or cancelled, with its dates, AWB and courier).
    initial_status: str = OrderStatus.NEW
    packed_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    awb: str = ""
    courier: str = ""


@dataclass
class Catalog:
    """Lookups an order needs, loaded once per request or import chunk."""

    merchant: Merchant
    products: dict[str, Product] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    unknown_skus: set[str] = field(default_factory=set)
    _default_channel: Channel | None = None
    _by_id: dict[int, Product] = field(default_factory=dict)
    #: Results of the pure steps of order_prepare (addresses, lines) by their whole input: a bulk request or
    #: an import meets the same addresses and lines again and again. Bounded; see ``remember``.
    _memo: dict = field(default_factory=dict, repr=False)
    MEMO_MAX = 50_000  # not annotated: a class constant, not a field

    def remember(self, key, value):
        if len(self._memo) >= self.MEMO_MAX:
            self._memo.clear()
        self._memo[key] = value
        return value

    def product_by_id(self, pk: int) -> Product:
        if len(self._by_id) != len(self.products):
            self._by_id = {p.pk: p for p in self.products.values()}
        return self._by_id[pk]

    def default_channel(self) -> Channel:
        if self._default_channel is None:
            self._default_channel = default_api_channel(self.merchant)
        return self._default_channel

    @classmethod
    def for_orders(cls, merchant: Merchant, orders: list[dict[str, Any]]) -> "Catalog":
        skus = {line.get("sku") for order in orders for line in order.get("lines", [])}
        products = Product.objects.filter(merchant=merchant, sku__in=skus, status="active")
        locations = Location.objects.filter(merchant=merchant, is_active=True)
        channels = Channel.objects.filter(merchant=merchant)
        catalog = cls(merchant, products={p.sku: p for p in products})
        for location in locations:
            catalog.locations[location.nickname] = catalog.locations[str(location.pk)] = location
            if location.is_default:
                catalog.locations[""] = location
        for channel in channels:
            catalog.channels[channel.name] = catalog.channels[str(channel.pk)] = channel
        for channel in channels:  # a channel_id wins over another channel's name
            catalog.channels[channel.channel_id] = channel
        return catalog


def prepare_line(data: dict[str, Any], index: int, catalog: Catalog) -> PreparedLine:
    """The line priced and taxed; a valid line seen before comes from the catalog's memo (lines are not changed
    after preparation, so orders may share one)."""
    product = catalog.products.get(data["sku"])
    try:
        key = ("line", product.pk if product else None, *data.items())
        known = catalog._memo.get(key)
    except TypeError:  # an unhashable value: not remembered
        key = known = None
    if known is not None:
        return known
    name = data.get("name") or (product.title if product else "")
    if not name:
        raise ValidationError({f"lines.{index}.name": ["Required for a SKU that is not in the catalog."]})
    tax_rate = data.get("tax_rate")
    if tax_rate is None:
        tax_rate = product.tax_rate if product else Decimal("0")
    quantity, unit_price, discount = data["quantity"], data["unit_price"], data.get("discount") or Decimal("0")
    if quantity * unit_price > MONEY_MAX:
        raise ValidationError({f"lines.{index}.quantity": [f"quantity x unit_price must not exceed {MONEY_MAX}."]})
    total = round_money(quantity * unit_price - discount)
    if total < 0:
        raise ValidationError({f"lines.{index}.discount": ["Must not exceed quantity x unit_price."]})
    line = PreparedLine(
        product_id=product.pk if product else None, sku=data["sku"], name=name, quantity=quantity,
        unit_price=unit_price, discount=discount, tax_rate=tax_rate, tax_amount=tax_included(total, tax_rate),
        hsn_code=data.get("hsn_code") or (product.hsn_code if product else ""), total=total,
        uqc=data.get("uqc") or (product.uqc if product else "NOS"),
    )  # fmt: skip
    if key is not None:
        catalog.remember(key, line)
    return line


def order_prepare(*, merchant: Merchant, data: dict[str, Any], catalog: Catalog | None = None) -> PreparedOrder:
    """Validate and compute an order from type-checked input (see orders.api.serializers.OrderInput).

    Raises ValidationError keyed by field path (``shipping_address.postcode``,
    ``lines.0.name``, ``total``) so the API and the import report the same errors.
    """
    catalog = catalog or Catalog.for_orders(merchant, [data])
    errors: dict[str, list[str]] = {}

    channel_ref = str(data.get("channel") or "")
    channel = catalog.channels.get(channel_ref) if channel_ref else catalog.default_channel()
    if channel is None:
        errors["channel"] = [f"Unknown channel {channel_ref!r}."]
    elif not channel.is_active:
        errors["channel"] = [f"The channel {channel.name!r} is inactive."]

    location_ref = str(data.get("pickup_location") or "")
    location = catalog.locations.get(location_ref)
    if location is None:
        errors["pickup_location"] = [
            f"Unknown pickup location {location_ref!r}." if location_ref else "The merchant has no default location."
        ]

    shipping = billing = None
    try:
        shipping = clean_address(data.get("shipping_address"), "shipping_address", phone_required=True, memo=catalog)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        billing = clean_address(data["billing_address"], "billing_address", phone_required=False,
                                memo=catalog) if data.get("billing_address") else shipping  # fmt: skip
    except ValidationError as exc:
        errors.update(exc.message_dict)

    customer = {}
    try:
        customer = _customer(data, shipping, catalog)
    except ValidationError as exc:
        errors.update(exc.message_dict)

    lines = []
    for index, line in enumerate(data.get("lines") or []):
        try:
            lines.append(prepare_line(line, index, catalog))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if not data.get("lines"):
        errors["lines"] = ["An order needs at least one line."]
    if errors:
        raise ValidationError(errors)

    subtotal = sum((ln.quantity * ln.unit_price for ln in lines), Decimal("0"))
    discount_total = sum((ln.discount for ln in lines), Decimal("0"))
    shipping_charge = data.get("shipping_charge") or Decimal("0")
    cod_charge = data.get("cod_charge") or Decimal("0")
    total = round_money(subtotal - discount_total + shipping_charge + cod_charge)
    for name, amount in (("subtotal", subtotal), ("total", total)):
        if amount > MONEY_MAX:
            raise ValidationError(
                {name: [f"The order {name} {round_money(amount)} exceeds the maximum of {MONEY_MAX}."]}
            )
    if data.get("total") is not None and data["total"] != total:
        raise ValidationError(
            {
                "total": [
                    f"Does not match the computed total {total} "
                    "(lines' quantity x unit_price - discount, plus shipping_charge and cod_charge)."
                ]
            }
        )

    weight, length, breadth, height = _parcel(data, lines, catalog)
    currency = data.get("currency") or merchant.default_currency
    taxes = order_taxes(merchant=merchant, ship_to=shipping, lines=lines, shipping_charge=shipping_charge,
                        cod_charge=cod_charge)  # fmt: skip
    if taxes.lut_reference:  # zero-rated: the lines carry no tax (a line may be shared with other orders: copied)
        lines = [replace(ln, tax_amount=Decimal("0.00")) for ln in lines]
    return PreparedOrder(
        channel=channel, channel_order_id=str(data.get("channel_order_id") or ""), customer=customer,
        shipping_address=shipping, billing_address=billing, payment_method=data["payment_method"],
        payment_status=data.get("payment_status") or (
            PaymentStatus.PAID if data["payment_method"] == PaymentMethod.PREPAID else PaymentStatus.PENDING),
        lines=lines, subtotal=round_money(subtotal), discount_total=round_money(discount_total),
        shipping_charge=round_money(shipping_charge), cod_charge=round_money(cod_charge),
        charges_tax_rate=taxes.charges.rate, shipping_tax=taxes.charges.shipping_tax, cod_tax=taxes.charges.cod_tax,
        lut_reference=taxes.lut_reference, tax_total=taxes.tax_total, total=total, currency=currency,
        weight_grams=weight, length_cm=length, breadth_cm=breadth, height_cm=height,
        pickup_location=location, ordered_at=data.get("ordered_at") or timezone.now(), notes=data.get("notes", ""),
        eway_bill_number=data.get("eway_bill_number", ""),
    )  # fmt: skip


@dataclass(frozen=True)
class OrderTaxes:
    charges: ChargesTax
    #: the LUT the order is zero-rated under ('' when it is taxed)
    lut_reference: str
    #: the lines' tax (none when zero-rated) and the charges'
    tax_total: Decimal


def order_taxes(*, merchant: Merchant, ship_to: dict, lines: list, shipping_charge: Decimal,
                cod_charge: Decimal) -> OrderTaxes:  # fmt: skip
    """The GST of an order's lines (objects with ``total``, ``tax_rate``, ``tax_amount``) and charges for a ship-to:
    the charges at the principal supply's rate; nothing under the merchant's LUT for an export (``orders.gst``)."""
    lut = zero_rated_lut(merchant, ship_to)
    charges = charges_tax(lines=lines, shipping_charge=shipping_charge, cod_charge=cod_charge, zero_rated=bool(lut))
    lines_tax = Decimal("0.00") if lut else sum((ln.tax_amount for ln in lines), Decimal("0.00"))
    return OrderTaxes(charges, lut, lines_tax + charges.shipping_tax + charges.cod_tax)


def _customer(data: dict[str, Any], shipping: dict[str, str] | None, catalog: Catalog) -> dict[str, str]:
    """``clean_customer``, answered from the catalog's memo for a customer seen before (a copy of the dict)."""
    shipping_name = (data.get("shipping_address") or {}).get("name", "")
    given = data.get("customer") or {}
    try:
        key = ("customer", shipping_name, *(shipping or {}).items(), None, *given.items())
        known = catalog._memo.get(key)
    except TypeError:  # an unhashable value: not remembered
        key = known = None
    if known is None:
        known = clean_customer(given, shipping, shipping_name)
        if key is not None:
            catalog.remember(key, known)
    return dict(known)


def _parcel(data: dict[str, Any], lines: list[PreparedLine], catalog: Catalog):
    """Weight and dimensions as given, else from the products: weights summed, items stacked. Remembered by the
    lines' products and quantities (an import meets the same parcels again and again)."""
    given = tuple(data.get(name) for name in ("weight_grams", "length_cm", "breadth_cm", "height_cm"))
    key = ("parcel", given, *((ln.product_id, ln.quantity) for ln in lines))
    known = catalog._memo.get(key)
    if known is None:
        known = catalog.remember(key, _parcel_of(data, lines, catalog))
    return known


def _parcel_of(data: dict[str, Any], lines: list[PreparedLine], catalog: Catalog):
    known = [(catalog.product_by_id(ln.product_id), ln.quantity) for ln in lines if ln.product_id]
    weight = data.get("weight_grams") or sum(p.weight_grams * qty for p, qty in known)
    length = data.get("length_cm") or max((p.length_cm for p, _ in known), default=Decimal("0"))
    breadth = data.get("breadth_cm") or max((p.breadth_cm for p, _ in known), default=Decimal("0"))
    height = data.get("height_cm") or sum((p.height_cm * qty for p, qty in known), Decimal("0"))
    return weight, length, breadth, height

"""SKU mappings: a channel's SKU for one of the merchant's products.

A channel's order line whose SKU has a mapping is a line of the mapped product; one whose SKU is a catalog SKU
needs none; any other waits on its order to be mapped. Setting a mapping also maps the lines waiting for it: the
channel's new orders with that SKU unmapped get the product (each with its ``lines_mapped`` event), so a merchant
maps a SKU once, not once per order.
"""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from catalog.models import Product
from orders.models import Channel, Order, OrderLine, OrderStatus, SkuMapping
from orders.services.orders import order_map_lines
from shopops.errors import DomainError
from shopops.models import Merchant


@dataclass(frozen=True)
class MappingResult:
    mapping: SkuMapping
    created: bool
    orders_mapped: int


def channel_by_ref(merchant: Merchant, ref: Any) -> Channel:
    """A merchant's channel by id, channel_id or name; ValidationError naming ``channel`` otherwise."""
    ref = str(ref or "").strip()
    channels = Channel.objects.filter(merchant=merchant)
    channel = (channels.filter(pk=int(ref)).first() if ref.isdigit() else None) or (
        channels.filter(channel_id=ref).first() or channels.filter(name=ref).first())  # fmt: skip
    if channel is None:
        raise ValidationError({"channel": [f"Unknown channel {ref!r}."]})
    return channel


def sku_mapping_set(*, merchant: Merchant, channel: Any, channel_sku: str, sku: str, actor: str) -> MappingResult:
    """Map ``channel_sku`` of ``channel`` (a Channel, or its id, channel_id or name) to the product ``sku``; maps the
    lines waiting for it."""
    if isinstance(channel, Channel) and channel.merchant_id != merchant.pk:
        raise ValidationError({"channel": [f"The channel {channel.name!r} is another merchant's."]})
    channel = channel if isinstance(channel, Channel) else channel_by_ref(merchant, channel)
    channel_sku = (channel_sku or "").strip()
    if not channel_sku:
        raise ValidationError({"channel_sku": ["This field may not be blank."]})
    product = Product.objects.filter(merchant=merchant, sku=(sku or "").strip()).first()
    if product is None:
        raise ValidationError({"sku": [f"Unknown SKU {sku!r}."]})
    with transaction.atomic():
        mapping, created = SkuMapping.objects.update_or_create(
            channel=channel, channel_sku=channel_sku, defaults={"merchant": merchant, "product": product}
        )
    return MappingResult(mapping, created, _map_waiting(channel, channel_sku, product, actor))


def _map_waiting(channel: Channel, channel_sku: str, product: Product, actor: str) -> int:
    waiting = (OrderLine.objects.filter(order__channel=channel, order__status=OrderStatus.NEW, product__isnull=True,
                                        sku=channel_sku).values_list("order_id", "pk"))  # fmt: skip
    by_order: dict[int, list[int]] = {}
    for order_id, line_id in waiting:
        by_order.setdefault(order_id, []).append(line_id)
    mapped = 0
    for order in Order.objects.filter(pk__in=by_order).order_by("pk"):
        try:
            order_map_lines(order=order, actor=actor,
                            mappings=[{"line_id": pk, "sku": product.sku} for pk in by_order[order.pk]])  # fmt: skip
        except (DomainError, ValidationError):  # moved on meanwhile (no longer new): its lines stay as they are
            continue
        mapped += 1
    return mapped


def sku_mapping_bulk(*, merchant: Merchant, items: list[dict[str, Any]], actor: str) -> list[dict[str, Any]]:
    """Set up to 100 mappings; one result per item: {"index", "id", "created", "orders_mapped"} or {"index",
    "errors"}."""
    results = []
    for index, item in enumerate(items):
        try:
            result = sku_mapping_set(merchant=merchant, channel=item.get("channel"), sku=item.get("sku"),
                                     channel_sku=item.get("channel_sku"), actor=actor)  # fmt: skip
        except ValidationError as exc:
            results.append({"index": index, "errors": exc.message_dict})
        else:
            results.append({"index": index, "id": result.mapping.pk, "created": result.created,
                            "orders_mapped": result.orders_mapped})  # fmt: skip
    return results


def sku_mapping_delete(*, mapping: SkuMapping) -> None:
    """Forget a mapping; the orders it mapped keep their products."""
    mapping.delete()

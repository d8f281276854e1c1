"""Writes of shipping: couriers, rate cards, serviceability imports, blocked pincodes."""

import contextlib
import csv
import hashlib
import io
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound

from catalog.models import Location
from orders import services as order_services
from orders.models import Order, OrderStatus, PaymentMethod
from shipping import documents, notifications, outbox
from shipping.adapters import TrackingUpdate, adapter_for, status_for
from shipping.models import (
    FINAL_STATUSES,
    NDR,
    NOTIFY_ON_STATUS,
    PICKED_UP_STATUSES,
    PRE_PICKUP_STATUSES,
    RTO_STATUSES,
    SHIPMENT_TRANSITIONS,
    AWBNumber,
    AWBPool,
    AWBPoolKind,
    BlockedPincode,
    Courier,
    Document,
    DocumentKind,
    DocumentStatus,
    Invoice,
    Manifest,
    NDRAction,
    NDRStatus,
    Notification,
    NotificationSetting,
    PickupRequest,
    PickupStatus,
    PostcodeZone,
    RateCard,
    ServiceablePincode,
    ShipBatch,
    ShipBatchStatus,
    Shipment,
    ShipmentEvent,
    ShippingPreference,
    TrackingEvent,
)
from shipping.models import ShipmentStatus as S
from shipping.selectors import PRIOR_ON_TIME_RATE, PRIOR_RTO_RATE, CourierQuote, quote_for_order
from shipping.webhooks import event_time_problem
from shipping.zones import UnknownPincode, Zone, normalize_postcode
from shopops.api.exceptions import ApiError, Conflict
from shopops.bulk import insert_rows
from shopops.errors import DomainError
from shopops.models import Merchant
from shopops.services import counter_next

logger = logging.getLogger(__name__)

PINCODE = re.compile(r"^[1-9][0-9]{5}\Z")
POSTCODE = re.compile(r"^[A-Z0-9][A-Z0-9 -]{1,9}\Z")  # other countries: letters, digits, a space or a dash
COURIER_FIELDS = ("code", "name", "mode", "supports_cod", "supports_reverse", "max_weight_grams", "volumetric_divisor",
                  "pickup_cutoff", "is_active")  # fmt: skip
#: How ShopOps talks to the courier (set through the API; the admin form keeps COURIER_FIELDS).
COURIER_INTEGRATION_FIELDS = ("adapter", "webhook_secret", "status_codes", "tracking_url_template",
                              "poll_limit_per_minute")  # fmt: skip
RATE_FIELDS = ("first_slab_grams", "first_slab_price", "additional_slab_grams", "additional_slab_price", "cod_fixed",
               "cod_percent", "fuel_surcharge_percent", "rto_charge", "estimated_days")  # fmt: skip
SERVICEABILITY_FLAGS = ("pickup", "delivery", "cod", "reverse", "oda")
#: A flag's value when its column is missing or its cell blank.
DEFAULT_FLAGS = {"pickup": "y", "delivery": "y", "cod": "y", "reverse": "n", "oda": "n"}
TRUE, FALSE = {"y", "yes", "true", "1", "t"}, {"n", "no", "false", "0", "f", ""}


def courier_create(*, merchant: Merchant, data: dict[str, Any], rate_cards: list[dict] | None = None) -> Courier:
    if Courier.objects.filter(merchant=merchant, code=data.get("code")).exists():
        raise Conflict("duplicate_courier", f"A courier with code {data.get('code')!r} already exists.",
                       {"code": data.get("code")})  # fmt: skip
    settable = (*COURIER_FIELDS, *COURIER_INTEGRATION_FIELDS)
    courier = Courier(merchant=merchant, **{k: v for k, v in data.items() if k in settable})
    courier.full_clean(validate_unique=False, validate_constraints=False)
    with transaction.atomic():
        courier.save()
        for card in rate_cards or []:
            rate_card_set(courier=courier, zone=card["zone"], data=card)
    return courier


def courier_update(*, courier: Courier, data: dict[str, Any], rate_cards: list[dict] | None = None) -> Courier:
    for name, value in data.items():
        if name in COURIER_FIELDS or name in COURIER_INTEGRATION_FIELDS:
            setattr(courier, name, value)
    if Courier.objects.filter(merchant_id=courier.merchant_id, code=courier.code).exclude(pk=courier.pk).exists():
        raise Conflict("duplicate_courier", f"A courier with code {courier.code!r} already exists.",
                       {"code": courier.code})  # fmt: skip
    courier.full_clean(validate_unique=False, validate_constraints=False)
    with transaction.atomic():
        courier.save()
        for card in rate_cards or []:
            rate_card_set(courier=courier, zone=card["zone"], data=card)
    return courier


def rate_card_set(*, courier: Courier, zone: str, data: dict[str, Any]) -> RateCard:
    """Create or replace the courier's prices for one zone."""
    if zone not in Zone.values:
        raise ValidationError({"zone": f"Unknown zone {zone!r}; one of {', '.join(Zone.values)}."})
    card = RateCard.objects.filter(courier=courier, zone=zone).first() or RateCard(
        merchant_id=courier.merchant_id, courier=courier, zone=zone)  # fmt: skip
    for name in RATE_FIELDS:
        if name in data:
            setattr(card, name, data[name])
    card.full_clean(validate_unique=False)  # turns the prices into Decimals, or refuses them
    if card.first_slab_price <= 0:
        raise ValidationError({"first_slab_price": "The first slab must cost more than zero."})
    card.save()
    return card


@dataclass
class ServiceabilityImport:
    rows: int = 0
    imported: int = 0
    errors: list[dict] = field(default_factory=list)


def serviceability_import(*, courier: Courier, fileobj, replace: bool = True, country: str = "IN"
                          ) -> ServiceabilityImport:  # fmt: skip
    """Load a courier's serviceable pincodes from CSV (pincode, pickup, delivery, cod, reverse, oda; Y/N).

    ``country``: Indian pincodes are 6 digits; other countries' postcodes are stored upper-cased.

    All or nothing: a file with any bad row imports nothing and names up to 100 bad rows. With
    ``replace`` (the default) the courier's previous list is replaced; else rows are added or updated.
    """
    text = io.TextIOWrapper(fileobj, encoding="utf-8-sig", newline="")
    result, rows, seen = ServiceabilityImport(), [], set()
    try:
        reader = csv.reader(text)
        header = [h.strip().lower() for h in next(reader, [])]
        if "pincode" not in header:
            raise ValidationError({"file": "The first line must name the columns, including pincode."})
        index = {name: header.index(name) for name in ("pincode", *SERVICEABILITY_FLAGS) if name in header}
        for number, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            result.rows += 1
            cells = {name: (values[i].strip() if i < len(values) else "") for name, i in index.items()}
            if country != "IN":
                cells["pincode"] = normalize_postcode(cells["pincode"])
            problem = _serviceability_problem(cells, seen, country)
            if problem:
                if len(result.errors) < 100:
                    result.errors.append({"row": number, "pincode": cells["pincode"], "message": problem})
                continue
            seen.add(cells["pincode"])
            rows.append({"merchant_id": courier.merchant_id, "courier_id": courier.pk, "pincode": cells["pincode"],
                         **{flag: (cells.get(flag) or DEFAULT_FLAGS[flag]).lower() in TRUE
                            for flag in SERVICEABILITY_FLAGS}})  # fmt: skip
    except UnicodeDecodeError as exc:
        raise ValidationError({"file": "The file is not UTF-8 CSV."}) from exc
    except csv.Error as exc:
        raise ValidationError({"file": f"The CSV is malformed: {exc}."}) from exc
    finally:
        text.detach()
    if result.errors:
        return result
    with transaction.atomic():
        existing = ServiceablePincode.objects.filter(courier=courier)
        if replace:
            existing.delete()
        else:
            existing.filter(pincode__in=seen).delete()
        insert_rows(ServiceablePincode, rows)
    result.imported = len(rows)
    return result


def _serviceability_problem(cells: dict[str, str], seen: set[str], country: str) -> str | None:
    if country == "IN" and not PINCODE.match(cells["pincode"]):
        return "A pincode is 6 digits, not starting with 0."
    if country != "IN" and not POSTCODE.match(cells["pincode"]):
        return "A postcode is 2 to 10 letters, digits, spaces or dashes."
    if cells["pincode"] in seen:
        return "The pincode appears twice."
    for flag in SERVICEABILITY_FLAGS:
        value = cells.get(flag, "").lower()
        if value not in TRUE | FALSE:
            return f"{flag} must be Y or N, not {cells.get(flag)!r}."
    return None


def pincode_block(*, merchant: Merchant, pincode: str, reason: str = "") -> BlockedPincode:
    if not PINCODE.match(pincode):
        raise ValidationError({"pincode": "A pincode is 6 digits, not starting with 0."})
    blocked, _ = BlockedPincode.objects.update_or_create(
        merchant=merchant, pincode=pincode, defaults={"reason": reason}
    )
    return blocked


def pincode_unblock(*, merchant: Merchant, pincode: str) -> bool:
    deleted, _ = BlockedPincode.objects.filter(merchant=merchant, pincode=pincode).delete()
    return bool(deleted)


def shipping_preference_set(*, merchant: Merchant, data: dict[str, Any]) -> ShippingPreference:
    """Set how the merchant ranks couriers (weights of price, speed and performance; default order)."""
    preference = ShippingPreference.objects.filter(merchant=merchant).first() or ShippingPreference(merchant=merchant)
    for name in ("weight_price", "weight_speed", "weight_performance", "default_sort"):
        if name in data:
            setattr(preference, name, data[name])
    preference.full_clean(validate_unique=False)
    if preference.weight_price + preference.weight_speed + preference.weight_performance <= 0:
        raise ValidationError({"weight_price": "At least one weight must be above zero."})
    preference.save()
    return preference


def zone_rule_set(*, merchant: Merchant, country: str, origin_prefix: str, destination_prefix: str,
                  zone: str) -> PostcodeZone:  # fmt: skip
    """Create or change a zone rule of a country other than India (India uses the pincode directory)."""
    country = str(country).strip().upper()
    errors = {}
    if not re.fullmatch(r"[A-Z]{2}", country) or country == "IN":
        errors["country"] = "A country code other than IN (India uses the pincode directory)."
    if zone not in Zone.values:
        errors["zone"] = f"One of {', '.join(Zone.values)}."
    origin, destination = normalize_postcode(origin_prefix), normalize_postcode(destination_prefix)
    for name, prefix in (("origin_prefix", origin), ("destination_prefix", destination)):
        if prefix and not re.fullmatch(r"[A-Z0-9 -]{1,10}", prefix):
            errors[name] = "Up to 10 letters, digits, spaces or dashes."
    if errors:
        raise ValidationError(errors)
    rule, _ = PostcodeZone.objects.update_or_create(
        merchant=merchant,
        country=country,
        origin_prefix=origin,
        destination_prefix=destination,
        defaults={"zone": zone},
    )
    return rule


# -- shipments ----------------------------------------------------------------------------------------------------

SHIPPABLE_ORDER_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.PACKED)


def _shipment_event(shipment: Shipment, kind: str, actor: str, *, from_status: str = "", to_status: str = "",
                    message: str = "", data: dict | None = None) -> ShipmentEvent:  # fmt: skip
    return ShipmentEvent.objects.create(merchant_id=shipment.merchant_id, shipment=shipment, kind=kind,
                                        from_status=from_status, to_status=to_status, actor=actor,
                                        message=message[:500], data=data or {})  # fmt: skip


def shipment_transition_refused(shipment: Shipment, to_status: str) -> Conflict:
    allowed = list(SHIPMENT_TRANSITIONS[shipment.status])
    return Conflict(
        "transition_not_allowed",
        f"Shipment {shipment} is {shipment.status}; it can move to {', '.join(allowed) or 'nothing'}, not {to_status}.",
        {"status": shipment.status, "allowed": allowed, "requested": to_status},
    )


def _set_status(shipment: Shipment, to_status: str, actor: str, *, at: datetime | None = None, message: str = "",
                data: dict | None = None, fields: tuple[str, ...] = ()) -> None:  # fmt: skip
    """Move a locked shipment to ``to_status``, stamping its timestamps, and write the event."""
    from_status, at = shipment.status, at or timezone.now()
    shipment.status = to_status
    changed = {"status", "updated_at", *fields}
    if to_status in PICKED_UP_STATUSES and shipment.shipped_at is None:
        shipment.shipped_at = at
        changed.add("shipped_at")
    stamp = {S.DELIVERED: "delivered_at", S.RTO_INITIATED: "rto_initiated_at", S.CANCELLED: "cancelled_at"}.get(
        to_status)  # fmt: skip
    if to_status in RTO_STATUSES and shipment.rto_initiated_at is None:
        stamp = "rto_initiated_at"
    if stamp and getattr(shipment, stamp) is None:
        setattr(shipment, stamp, at)
        changed.add(stamp)
    shipment.save(update_fields=sorted(changed))
    _shipment_event(shipment, "status_changed", actor, from_status=from_status, to_status=to_status, message=message,
                    data=data)  # fmt: skip
    outbox.shipment_emit(shipment, "shipment.status_changed", previous_status=from_status)


def _locked_order(order_id: int) -> Order:
    return Order.objects.select_for_update().select_related("merchant", "pickup_location").get(pk=order_id)


def _quoted(order: Order, courier: Courier | None, at: datetime | None, sort: str | None = None) -> CourierQuote:
    """The courier's quote for the order, else the first by ``sort`` (default: the recommended one); 409 when it
    cannot carry the parcel."""
    try:
        result = quote_for_order(order, at=at, sort=sort)
    except UnknownPincode as exc:
        raise ValidationError({"order": [f"{exc.pincode} is not a known pincode."]}) from exc
    if courier is None:
        if not result.couriers:
            raise Conflict("not_serviceable", f"No courier can carry order {order.number}.",
                           {"blocked": result.blocked})  # fmt: skip
        if sort:
            return result.couriers[0]
        return next(q for q in result.couriers if q.courier_id == result.recommended_courier_id)
    for candidate in result.couriers:
        if candidate.courier_id == courier.pk:
            return candidate
    reason = next((b["reason"] for b in result.blocked if b["courier_id"] == courier.pk), "not a courier of yours")
    raise Conflict("courier_not_available", f"{courier.name} cannot carry order {order.number}: {reason}.",
                   {"courier": courier.code, "reason": reason})  # fmt: skip


def _apply_quote(shipment: Shipment, chosen: CourierQuote) -> None:
    shipment.zone = chosen.zone
    shipment.applied_weight_grams = chosen.chargeable_weight_grams
    shipment.freight_charge, shipment.cod_charge = chosen.freight_charge, chosen.cod_charge
    shipment.fuel_surcharge, shipment.tax, shipment.total_charge = (
        chosen.fuel_surcharge,
        chosen.tax,
        chosen.total_charge,
    )
    shipment.expected_delivery_date = chosen.etd


QUOTE_FIELDS = ("courier", "zone", "applied_weight_grams", "freight_charge", "cod_charge", "fuel_surcharge", "tax",
                "total_charge", "expected_delivery_date")  # fmt: skip


def shipment_create(*, order: Order, actor: str, courier: Courier | None = None, at: datetime | None = None,
                    sort: str | None = None) -> Shipment:  # fmt: skip
    """A shipment for a confirmed or packed order, with ``courier``, else the first courier by ``sort``
    (recommended, cheapest, fastest, rating), else the merchant's recommended one.

    409 ``order_not_shippable`` for another order status, ``shipment_exists`` when the order already has a live
    shipment, ``courier_not_available`` / ``not_serviceable`` when no courier can carry the parcel."""
    if courier is not None and courier.merchant_id != order.merchant_id:
        raise ValidationError({"courier": ["Not a courier of this merchant."]})
    with transaction.atomic():
        locked = _locked_order(order.pk)
        if locked.status not in SHIPPABLE_ORDER_STATUSES:
            raise _order_not_shippable(locked)
        live = Shipment.objects.filter(order=locked).exclude(status=S.CANCELLED).first()
        if live is not None:
            raise Conflict("shipment_exists", f"Order {locked.number} already has shipment {live.pk} ({live.status}).",
                           {"shipment": live.pk, "status": live.status})  # fmt: skip
        chosen = _quoted(locked, courier, at, sort)
        shipment = Shipment(
            merchant_id=locked.merchant_id,
            order=locked,
            courier_id=chosen.courier_id,
            currency=locked.currency,
            cod_amount=locked.total if locked.payment_method == PaymentMethod.COD else Decimal("0"),
        )
        _apply_quote(shipment, chosen)
        shipment.save()
        _shipment_event(shipment, "created", actor, to_status=S.NEW,
                        message=f"{chosen.name}, {chosen.zone}, {chosen.total_charge} {shipment.currency}",
                        data={"courier": chosen.code, "recommended": courier is None})  # fmt: skip
    return shipment


def _lock_order_of(shipment_id: int) -> None:
    """Lock the shipment's order. Everywhere the order is locked before its shipment, so a shipment service and
    an order transition (the /ship/ booking, a courier event driving the order) never wait on each other."""
    order_id = Shipment.objects.filter(pk=shipment_id).values_list("order_id", flat=True).get()
    list(Order.objects.select_for_update().filter(pk=order_id).values_list("pk", flat=True))


def _locked_shipment(shipment_id: int) -> Shipment:
    """The shipment under its row lock, its order locked first."""
    _lock_order_of(shipment_id)
    return (Shipment.objects.select_for_update(of=("self",))
            .select_related("courier", "order", "merchant").get(pk=shipment_id))  # fmt: skip


def _order_not_shippable(order: Order) -> Conflict:
    details = {"status": order.status, "shippable_statuses": list(SHIPPABLE_ORDER_STATUSES)}
    message = f"Order {order.number} is {order.status}; only confirmed or packed orders are shipped."
    return Conflict("order_not_shippable", message, details)


def awb_allocate(*, courier: Courier) -> str:
    """The next number of the courier's active pools (oldest pool first), inside the caller's transaction.

    A range pool hands out numbers with one ``UPDATE ... RETURNING`` (the row lock orders concurrent callers);
    a list pool takes its first free number with ``FOR UPDATE SKIP LOCKED``. 409 ``awb_pool_exhausted``."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("awb_allocate must run inside the transaction that uses the number")
    for pool in AWBPool.objects.filter(courier=courier, is_active=True).order_by("id"):
        while (awb := _take_from_range(pool) if pool.kind == AWBPoolKind.RANGE else _take_from_list(pool)) is not None:
            if not Shipment.objects.filter(courier=courier, awb=awb).exists():
                _warn_if_low(pool)
                return awb
            # Two pools of the courier overlap (e.g. prefix "A" from 10 and prefix "A1" from 0): the number is
            # already a shipment's; it stays spent and the next one is taken.
            logger.warning("AWB %s of pool %s is already used by a shipment of %s; skipped", awb, pool.name,
                           courier.code)  # fmt: skip
    raise Conflict("awb_pool_exhausted", f"No AWB numbers left for {courier.name}; add a pool or a list of numbers.",
                   {"courier": courier.code})  # fmt: skip


def _take_from_range(pool: AWBPool) -> str | None:
    table = connection.ops.quote_name(AWBPool._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_number = next_number + 1 WHERE id = %s AND next_number <= range_end "
            "RETURNING next_number - 1",
            [pool.pk],
        )
        row = cursor.fetchone()
    return None if row is None else f"{pool.prefix}{row[0]:0{pool.width}d}"


def _take_from_list(pool: AWBPool) -> str | None:
    number = (AWBNumber.objects.select_for_update(skip_locked=True).filter(pool=pool, used_at__isnull=True)
              .order_by("id").first())  # fmt: skip
    if number is None:
        return None
    AWBNumber.objects.filter(pk=number.pk).update(used_at=timezone.now())
    return number.awb


def awb_pool_remaining(pool: AWBPool) -> int:
    if pool.kind == AWBPoolKind.RANGE:
        return max(0, pool.range_end - pool.next_number + 1)
    return pool.numbers.filter(used_at__isnull=True).count()


def _warn_if_low(pool: AWBPool) -> None:
    pool.refresh_from_db(fields=["next_number"])
    remaining = awb_pool_remaining(pool)
    if remaining < pool.low_watermark:
        logger.warning("AWB pool %s of merchant %s is running low: %s numbers left", pool.name, pool.merchant_id,
                       remaining)  # fmt: skip


def awb_pool_create_range(*, courier: Courier, name: str, start: int, end: int, prefix: str = "", width: int = 0,
                          low_watermark: int = 100) -> AWBPool:  # fmt: skip
    """A pool of the numbers ``start``..``end`` (inclusive), written as ``prefix`` + the number padded to ``width``."""
    errors = {}
    if start < 0 or end < start:
        errors["range_end"] = ["The range must run from a number >= 0 up to a number not below it."]
    if not re.fullmatch(r"[A-Za-z0-9-]{0,10}", prefix):
        errors["prefix"] = ["Up to 10 letters, digits or dashes."]
    if width > 30 or len(prefix) + max(width, len(str(end))) > 40:
        errors["width"] = ["An AWB is at most 40 characters."]
    if errors:
        raise ValidationError(errors)
    overlapping = AWBPool.objects.filter(courier=courier, kind=AWBPoolKind.RANGE, prefix=prefix,
                                         range_start__lte=end, range_end__gte=start).first()  # fmt: skip
    if overlapping is not None:
        raise Conflict("awb_pool_overlap", f"The range overlaps pool {overlapping.name!r} of this courier.",
                       {"pool": overlapping.pk})  # fmt: skip
    _check_pool_name(courier, name)
    return AWBPool.objects.create(merchant_id=courier.merchant_id, courier=courier, name=name, kind=AWBPoolKind.RANGE,
                                  prefix=prefix, width=width, range_start=start, range_end=end, next_number=start,
                                  low_watermark=low_watermark)  # fmt: skip


def _check_pool_name(courier: Courier, name: str) -> None:
    if not name.strip():
        raise ValidationError({"name": ["A pool needs a name."]})
    if AWBPool.objects.filter(merchant_id=courier.merchant_id, name=name).exists():
        raise Conflict("duplicate_awb_pool", f"A pool named {name!r} already exists.", {"name": name})


AWB = re.compile(r"^[A-Za-z0-9-]{4,40}\Z")


def awb_pool_create_list(*, courier: Courier, name: str, numbers: list[str], low_watermark: int = 100) -> AWBPool:
    """A pool of numbers the courier sent as a list. All or nothing: a malformed number, one listed twice or one
    the courier already has in a pool is refused, naming up to 100 of them."""
    cleaned = [n.strip() for n in numbers if n.strip()]
    errors = [f"{n!r} is not an AWB (4 to 40 letters, digits or dashes)" for n in cleaned if not AWB.match(n)]
    seen, repeated = set(), set()
    for n in cleaned:
        (repeated if n in seen else seen).add(n)
    errors += [f"{n} is listed twice" for n in sorted(repeated)]
    known = set(AWBNumber.objects.filter(courier=courier, awb__in=seen).values_list("awb", flat=True))
    known |= set(Shipment.objects.filter(courier=courier, awb__in=seen).values_list("awb", flat=True))
    errors += [f"{n} is already in a pool or used" for n in sorted(known)]
    if not cleaned:
        errors.append("The list is empty.")
    if errors:
        raise ValidationError({"numbers": errors[:100]})
    _check_pool_name(courier, name)
    with transaction.atomic():
        pool = AWBPool.objects.create(merchant_id=courier.merchant_id, courier=courier, name=name,
                                      kind=AWBPoolKind.LIST, low_watermark=low_watermark)  # fmt: skip
        insert_rows(AWBNumber, [{"merchant_id": courier.merchant_id, "pool_id": pool.pk, "courier_id": courier.pk,
                                 "awb": n, "used_at": None} for n in cleaned])  # fmt: skip
    return pool


def awb_pool_set_active(*, pool: AWBPool, is_active: bool) -> AWBPool:
    AWBPool.objects.filter(pk=pool.pk).update(is_active=is_active)
    pool.is_active = is_active
    return pool


def awb_pool_set_low_watermark(*, pool: AWBPool, low_watermark: int) -> AWBPool:
    """Warn when fewer numbers than ``low_watermark`` remain in the pool."""
    AWBPool.objects.filter(pk=pool.pk).update(low_watermark=low_watermark)
    pool.low_watermark = low_watermark
    return pool


def shipment_assign_awb(*, shipment: Shipment, actor: str, courier: Courier | None = None,
                        at: datetime | None = None) -> Shipment:  # fmt: skip
    """Book the shipment with its courier and get its AWB; with another ``courier``, reassign it first.

    Reassignment is allowed until pickup: the old AWB stays spent (never reused), the shipment leaves its pickup
    and manifest, and the change is recorded as an event. 409 ``shipment_cancelled``, ``awb_already_assigned``,
    ``awb_pool_exhausted``, ``transition_not_allowed`` (after pickup)."""
    if courier is not None and courier.merchant_id != shipment.merchant_id:
        raise ValidationError({"courier": ["Not a courier of this merchant."]})
    with transaction.atomic():
        locked = _locked_shipment(shipment.pk)
        if locked.status == S.CANCELLED:
            raise Conflict("shipment_cancelled", f"Shipment {locked.pk} is cancelled; create a new one.",
                           {"status": locked.status})  # fmt: skip
        reassign = courier is not None and courier.pk != locked.courier_id
        if locked.status not in PRE_PICKUP_STATUSES:
            raise shipment_transition_refused(locked, S.AWB_ASSIGNED)
        if locked.order.status not in SHIPPABLE_ORDER_STATUSES:  # e.g. cancelled since the shipment was made
            raise _order_not_shippable(locked.order)
        if not reassign and locked.awb:
            raise Conflict("awb_already_assigned", f"Shipment {locked.pk} already has AWB {locked.awb}.",
                           {"awb": locked.awb, "courier": locked.courier.code})  # fmt: skip
        if reassign:
            _reassign(locked, courier, actor, at)
        adapter = adapter_for(locked.courier)
        awb = adapter.assign_awb(locked, lambda: awb_allocate(courier=locked.courier))
        from_status = locked.status
        locked.awb, locked.awb_assigned_at = awb, timezone.now()
        locked.status = S.AWB_ASSIGNED
        locked.save(update_fields=["awb", "awb_assigned_at", "status", "updated_at"])
        _shipment_event(locked, "awb_assigned", actor, from_status=from_status, to_status=S.AWB_ASSIGNED,
                        message=f"AWB {awb} with {locked.courier.name}",
                        data={"awb": awb, "courier": locked.courier.code})  # fmt: skip
        outbox.shipment_emit(locked, "shipment.awb_assigned", previous_status=from_status)
        order_services.order_set_awb(order=locked.order, awb=awb, courier=locked.courier.code, actor=actor)
    return locked


def _reassign(locked: Shipment, courier: Courier, actor: str, at: datetime | None) -> None:
    old_courier, old_awb = locked.courier, locked.awb
    chosen = _quoted(_locked_order(locked.order_id), courier, at)
    if old_awb:
        adapter_for(old_courier).cancel(locked)
    locked.courier = courier
    _apply_quote(locked, chosen)
    locked.awb, locked.pickup, locked.pickup_date, locked.manifest = "", None, None, None
    locked.status = S.NEW
    locked.save(update_fields=[*QUOTE_FIELDS, "awb", "pickup", "pickup_date", "manifest", "status", "updated_at"])
    _shipment_event(
        locked,
        "courier_changed",
        actor,
        to_status=S.NEW,
        message=f"{old_courier.name} -> {courier.name}" + (f"; AWB {old_awb} released" if old_awb else ""),
        data={"from_courier": old_courier.code, "to_courier": courier.code, "old_awb": old_awb},
    )


def shipment_cancel(*, shipment: Shipment, actor: str, reason: str = "") -> Shipment:
    """Cancel before pickup: the courier is told, the AWB stays spent, the order is free to ship again."""
    with transaction.atomic():
        locked = _locked_shipment(shipment.pk)
        if S.CANCELLED not in SHIPMENT_TRANSITIONS[locked.status]:
            raise shipment_transition_refused(locked, S.CANCELLED)
        if locked.awb:
            adapter_for(locked.courier).cancel(locked)
        locked.cancel_reason = reason[:255]
        _set_status(locked, S.CANCELLED, actor, message=reason, fields=("cancel_reason",))
        if locked.order.awb:
            order_services.order_set_awb(order=locked.order, awb="", courier="", actor=actor)
    return locked


# -- pickups and manifests ----------------------------------------------------------------------------------------


def next_pickup_date(courier: Courier, now: datetime) -> date:
    """Today before the courier's cut-off (merchant's time zone), else the next working day (not Sunday)."""
    day = now.date() if now.time() < courier.pickup_cutoff else now.date() + timedelta(days=1)
    while day.weekday() == 6:
        day += timedelta(days=1)
    return day


def _lock_shipments(merchant: Merchant, shipment_ids: list[int]) -> list[Shipment]:
    """The merchant's shipments, locked in primary-key order; 404 when any id is not one of them."""
    ids = sorted(set(shipment_ids))
    shipments = list(Shipment.objects.select_for_update(of=("self",)).filter(merchant=merchant, pk__in=ids)
                     .select_related("courier", "order__pickup_location").order_by("pk"))  # fmt: skip
    missing = sorted(set(ids) - {s.pk for s in shipments})
    if missing:
        raise NotFound(f"No shipments with ids {', '.join(map(str, missing))}.")
    return shipments


def _one_courier_and_location(shipments: list[Shipment]) -> tuple[Courier, Location]:
    couriers = {s.courier.code for s in shipments}
    locations = {s.order.pickup_location.nickname for s in shipments}
    if len(couriers) > 1:
        names = ", ".join(sorted(couriers))
        raise ValidationError({"shipment_ids": [f"The shipments are with several couriers ({names}); one pickup or "
                                                "manifest is for one courier."]})  # fmt: skip
    if len(locations) > 1:
        raise ValidationError({"shipment_ids": [f"The shipments leave from several locations "
                                                f"({', '.join(sorted(locations))}); one pickup or manifest is for "
                                                "one location."]})  # fmt: skip
    return shipments[0].courier, shipments[0].order.pickup_location


def pickup_schedule(*, merchant: Merchant, shipment_ids: list[int], actor: str, location: Location | None = None,
                    pickup_date: date | None = None, now: datetime | None = None) -> PickupRequest:  # fmt: skip
    """Book the courier to collect these shipments (one courier, one location) on ``pickup_date`` (default: today
    before the cut-off, else the next working day). Shipments join the pickup already booked for that courier,
    location and date, if any."""
    if not shipment_ids:
        raise ValidationError({"shipment_ids": ["Name at least one shipment."]})
    now = (now or timezone.now()).astimezone(merchant.tzinfo)
    with transaction.atomic():
        shipments = _lock_shipments(merchant, shipment_ids)
        courier, origin = _one_courier_and_location(shipments)
        if location is not None and location.pk != origin.pk:
            raise ValidationError(
                {"location": [f"The shipments leave from {origin.nickname}, not {location.nickname}."]}
            )
        not_ready = {s.pk: s.status for s in shipments if s.status != S.AWB_ASSIGNED}
        unshippable = [s.order for s in shipments if s.order.status not in SHIPPABLE_ORDER_STATUSES]
        if unshippable:
            raise _order_not_shippable(unshippable[0])
        if not_ready:
            raise Conflict("shipments_not_ready", "Only shipments with an AWB and no pickup yet can be picked up.",
                           {"shipments": {str(k): v for k, v in not_ready.items()}})  # fmt: skip
        day = pickup_date or next_pickup_date(courier, now)
        if day < now.date():
            raise ValidationError({"pickup_date": ["The pickup date is in the past."]})
        pickup = (
            PickupRequest.objects.select_for_update()
            .filter(courier=courier, location=origin, pickup_date=day, status=PickupStatus.SCHEDULED)
            .first()
        )
        if pickup is None:
            token = adapter_for(courier).schedule_pickup(courier=courier, location=origin, pickup_date=day,
                                                         awbs=[s.awb for s in shipments])  # fmt: skip
            pickup = PickupRequest.objects.create(merchant=merchant, courier=courier, location=origin,
                                                  pickup_date=day, token=token, created_by=actor)  # fmt: skip
        for shipment in shipments:
            shipment.pickup, shipment.pickup_date = pickup, day
            _set_status(
                shipment,
                S.PICKUP_SCHEDULED,
                actor,
                message=f"Pickup {pickup.token} on {day}",
                data={"pickup": pickup.pk, "token": pickup.token},
                fields=("pickup", "pickup_date"),
            )
    return pickup


def pickup_cancel(*, pickup: PickupRequest, actor: str) -> PickupRequest:
    """Call the courier's visit off; its shipments go back to waiting for a pickup (409 once one is picked up)."""
    with transaction.atomic():
        locked = PickupRequest.objects.select_for_update().select_related("courier").get(pk=pickup.pk)
        if locked.status != PickupStatus.SCHEDULED:
            raise Conflict(
                "pickup_cancelled", f"Pickup {locked.token} is already cancelled.", {"status": locked.status}
            )
        shipments = _lock_shipments(locked.merchant, list(locked.shipments.values_list("pk", flat=True)))
        collected = [s.pk for s in shipments if s.status not in PRE_PICKUP_STATUSES]
        if collected:
            raise Conflict("pickup_in_progress", "Some shipments of this pickup are already picked up.",
                           {"shipments": collected})  # fmt: skip
        adapter_for(locked.courier).cancel_pickup(pickup=locked)
        for shipment in shipments:
            shipment.pickup, shipment.pickup_date = None, None
            if shipment.status == S.PICKUP_SCHEDULED:
                _set_status(shipment, S.AWB_ASSIGNED, actor, message=f"Pickup {locked.token} cancelled",
                            fields=("pickup", "pickup_date"))  # fmt: skip
            else:
                shipment.save(update_fields=["pickup", "pickup_date", "updated_at"])
        locked.status, locked.cancelled_at = PickupStatus.CANCELLED, timezone.now()
        locked.save(update_fields=["status", "cancelled_at"])
    return locked


MANIFESTABLE_STATUSES = (S.AWB_ASSIGNED, S.PICKUP_SCHEDULED)


def manifest_create(*, merchant: Merchant, actor: str, shipment_ids: list[int] | None = None,
                    pickup: PickupRequest | None = None) -> Manifest:  # fmt: skip
    """The hand-over list of shipments (given, or those of ``pickup``): one courier, one location, each shipment in
    one manifest only."""
    with transaction.atomic():
        if pickup is not None:
            shipment_ids = list(pickup.shipments.values_list("pk", flat=True))
            if not shipment_ids:
                raise ValidationError({"pickup": ["The pickup has no shipments."]})
        if not shipment_ids:
            raise ValidationError({"shipment_ids": ["Name at least one shipment, or a pickup."]})
        shipments = _lock_shipments(merchant, shipment_ids)
        courier, origin = _one_courier_and_location(shipments)
        refused = {str(s.pk): s.status for s in shipments if s.status not in MANIFESTABLE_STATUSES}
        if refused:
            raise Conflict("shipments_not_ready", "Only shipments with an AWB, not yet picked up, go on a manifest.",
                           {"shipments": refused})  # fmt: skip
        listed = {str(s.pk): s.manifest.number for s in shipments if s.manifest_id}
        if listed:
            raise Conflict("already_manifested", "Some shipments are already on a manifest.", {"shipments": listed})
        number = f"MAN-{counter_next(merchant=merchant, name='manifest'):06d}"
        pickups = {s.pickup_id for s in shipments}
        manifest = Manifest.objects.create(merchant=merchant, number=number, courier=courier, location=origin,
                                           pickup_id=pickups.pop() if len(pickups) == 1 else None,
                                           created_by=actor)  # fmt: skip
        Shipment.objects.filter(pk__in=[s.pk for s in shipments]).update(manifest=manifest, updated_at=timezone.now())
        for shipment in shipments:
            _shipment_event(shipment, "manifested", actor, message=f"On manifest {number}",
                            data={"manifest": manifest.pk})  # fmt: skip
    return manifest


# -- tracking -------------------------------------------------------------------------------------------------------


def _reachable() -> dict[str, frozenset[str]]:
    """For each status, every status a courier event may move it to: the transitions' closure, without the
    merchant-side moves (back to awb_assigned when a pickup is cancelled, to cancelled)."""
    edges = {status: {t for t in targets if t not in (S.AWB_ASSIGNED, S.CANCELLED, S.NEW)}
             for status, targets in SHIPMENT_TRANSITIONS.items()}  # fmt: skip
    closure = {}
    for start in edges:
        seen, todo = set(), list(edges[start])
        while todo:
            status = todo.pop()
            if status not in seen:
                seen.add(status)
                todo.extend(edges[status])
        closure[start] = frozenset(seen)
    return closure


#: A parcel is lost only once the courier has it: before pickup, "lost" is not a move.
COURIER_MOVES = {status: moves - {S.LOST} if status in PRE_PICKUP_STATUSES else moves
                 for status, moves in _reachable().items()}  # fmt: skip


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    orphans: int = 0
    applied: int = 0
    ignored: int = 0
    refused: int = 0
    errors: list[dict] = field(default_factory=list)


def event_key(update: TrackingUpdate) -> str:
    """The courier's event id with its AWB (couriers may number the scans of each parcel from 1), or without one
    a digest of what identifies the event."""
    if update.event_id:
        return f"{update.awb}|{update.event_id}"[:100]
    basis = f"{update.awb}|{update.code}|{update.occurred_at.isoformat()}|{update.location}|{update.description}"
    return "sha256:" + hashlib.sha256(basis.encode()).hexdigest()


#: How far a scan may be dated before its order was placed (clocks of shops and couriers differ a little).
ORDER_CLOCK_SLACK = timedelta(hours=1)


def tracking_ingest(*, courier: Courier, updates: list[TrackingUpdate], source: str, actor: str = "",
                    now: datetime | None = None) -> IngestResult:  # fmt: skip
    """Store courier events and move shipments along, each event in its own transaction under the shipment's lock.

    An event already received (same courier event id, or the same content) is a duplicate and changes nothing.
    An event for an AWB no shipment of this courier has is kept as an orphan. An event older than the latest
    applied one, or one that would move the shipment backwards, is stored in the timeline but does not change
    the status. A status change drives the order (picked up: shipped, the stock leaves; delivered; RTO;
    RTO delivered: restocked), opens or updates the NDR, and queues the customer's notifications.

    An event whose time cannot be true is refused (counted, not stored): before the year 2000, more than a day
    ahead of ``now`` (a poll's clock), or (for a shipment found) more than an hour before its order was placed."""
    result = IngestResult()
    actor = actor or f"courier:{courier.code}"
    now = now or timezone.now()
    for update in updates:
        if event_time_problem(update.occurred_at, now=now):
            result.refused += 1
            continue
        with transaction.atomic():
            live = Shipment.objects.filter(courier=courier, awb=update.awb).exclude(status=S.CANCELLED)
            found = live.values_list("pk", flat=True).first()
            if found is not None:
                _lock_order_of(found)
            shipment = (live.select_for_update(of=("self",)).select_related("order", "merchant").filter(pk=found)
                        .first() if found is not None else None)  # fmt: skip
            if shipment is not None and update.occurred_at < shipment.order.ordered_at - ORDER_CLOCK_SLACK:
                result.refused += 1
                continue
            status = status_for(courier, update.code)
            key = event_key(update)
            if TrackingEvent.objects.filter(courier=courier, event_key=key).exists():
                result.duplicates += 1
                continue
            try:
                with transaction.atomic():  # the same event delivered twice at once (an orphan has no shipment lock
                    event = TrackingEvent.objects.create(  # to order the two): the second is a duplicate
                        merchant_id=courier.merchant_id, courier=courier, shipment=shipment, awb=update.awb,
                        event_key=key, status=status or "", code=update.code[:40],
                        description=update.description[:500], location=update.location[:120],
                        occurred_at=update.occurred_at, source=source, raw=update.raw,
                    )  # fmt: skip
            except IntegrityError:
                result.duplicates += 1
                continue
            result.accepted += 1
            if shipment is None:
                result.orphans += 1
                continue
            if status and _apply_event(shipment, event, status, actor):
                result.applied += 1
            else:
                result.ignored += 1
    return result


def _apply_event(shipment: Shipment, event: TrackingEvent, status: str, actor: str) -> bool:
    """Move the locked shipment to ``status`` if the event is the newest and the move goes forward."""
    if shipment.last_event_at is not None and event.occurred_at < shipment.last_event_at:
        return False
    repeat_ndr = status == S.NDR == shipment.status
    if status == shipment.status and not repeat_ndr:
        return False  # a second scan of the same status (kept in the timeline)
    if status not in COURIER_MOVES[shipment.status] and not repeat_ndr:
        return False
    previous = shipment.status
    shipment.last_event_at = event.occurred_at
    if repeat_ndr:
        shipment.save(update_fields=["last_event_at", "updated_at"])
    else:
        _set_status(shipment, status, actor, at=event.occurred_at, message=event.description,
                    data={"tracking_event": event.pk, "code": event.code}, fields=("last_event_at",))  # fmt: skip
    TrackingEvent.objects.filter(pk=event.pk).update(applied=True)
    _ndr_follow(shipment, status, event, previous)
    _order_follow(shipment, status, actor)
    _notify(shipment, status, event)
    return True


def _ndr_follow(shipment: Shipment, status: str, event: TrackingEvent, previous: str) -> None:
    live = (
        NDR.objects.select_for_update()
        .filter(shipment=shipment, status__in=[NDRStatus.OPEN, NDRStatus.REATTEMPT])
        .first()
    )
    if status == S.NDR:
        reason = event.description or event.code
        if live is None:
            NDR.objects.create(merchant_id=shipment.merchant_id, shipment=shipment, reason=reason[:255],
                               first_attempt_at=event.occurred_at, last_attempt_at=event.occurred_at)  # fmt: skip
        else:
            NDR.objects.filter(pk=live.pk).update(attempts=F("attempts") + 1, last_attempt_at=event.occurred_at,
                                                  reason=reason[:255], status=NDRStatus.OPEN, action="",
                                                  reattempt_date=None)  # fmt: skip
        outbox.shipment_emit(shipment, "shipment.ndr")
        return
    if live is not None and status == S.DELIVERED:
        NDR.objects.filter(pk=live.pk).update(status=NDRStatus.DELIVERED, resolved_at=event.occurred_at)
    elif live is not None and status in RTO_STATUSES:
        NDR.objects.filter(pk=live.pk).update(status=NDRStatus.RTO, resolved_at=event.occurred_at)


def _order_follow(shipment: Shipment, status: str, actor: str) -> None:
    """Bring the order to where its parcel is (skipping none of the order's own steps)."""
    order = Order.objects.get(pk=shipment.order_id)
    if status in PICKED_UP_STATUSES and status != S.LOST:
        if order.status == OrderStatus.CONFIRMED:
            order = order_services.order_pack(order=order, actor=actor)
        if order.status == OrderStatus.PACKED:
            order = order_services.order_mark_shipped(order=order, actor=actor, awb=shipment.awb,
                                                      courier=shipment.courier.code)  # fmt: skip
    if status == S.DELIVERED and order.status == OrderStatus.SHIPPED:
        order_services.order_mark_delivered(order=order, actor=actor)
    if status in RTO_STATUSES and order.status == OrderStatus.SHIPPED:
        order = order_services.order_mark_rto(order=order, actor=actor, reason="Returned to origin")
    if status == S.RTO_DELIVERED and order.status == OrderStatus.RTO:
        order_services.order_mark_rto_delivered(order=order, actor=actor)


# -- NDR ------------------------------------------------------------------------------------------------------------


def ndr_action(*, ndr: NDR, action: str, actor: str, comment: str = "", reattempt_date: date | None = None,
               now: datetime | None = None) -> NDR:  # fmt: skip
    """The merchant's decision on a failed delivery: ``reattempt`` (on ``reattempt_date``, default tomorrow) or
    ``rto`` (the shipment returns to origin now). 409 when the NDR is resolved or already has that decision."""
    if action not in NDRAction.values:
        raise ValidationError({"action": [f"One of {', '.join(NDRAction.values)}."]})
    now = now or timezone.now()
    with transaction.atomic():
        shipment = _locked_shipment(ndr.shipment_id)  # its order, then the shipment, then the NDR, as tracking does
        locked = NDR.objects.select_for_update().get(pk=ndr.pk)
        if locked.status not in (NDRStatus.OPEN, NDRStatus.REATTEMPT):
            raise Conflict("ndr_resolved", f"NDR {locked.pk} is resolved ({locked.status}).", {"status": locked.status})
        if locked.status == NDRStatus.REATTEMPT and action == NDRAction.REATTEMPT:
            raise Conflict("ndr_action_taken", f"A reattempt on {locked.reattempt_date} is already requested.",
                           {"status": locked.status, "reattempt_date": str(locked.reattempt_date)})  # fmt: skip
        today = now.astimezone(shipment.merchant.tzinfo).date()
        if action == NDRAction.REATTEMPT:
            day = reattempt_date or today + timedelta(days=1)
            if day < today:
                raise ValidationError({"reattempt_date": ["The reattempt date is in the past."]})
        else:
            if S.RTO_INITIATED not in SHIPMENT_TRANSITIONS[shipment.status]:
                raise shipment_transition_refused(shipment, S.RTO_INITIATED)
            day = None
        adapter_for(shipment.courier).ndr_action(shipment, action=action, reattempt_date=day, comment=comment)
        locked.action, locked.action_comment, locked.action_by, locked.action_at = action, comment[:500], actor, now
        locked.reattempt_date = day
        locked.status = NDRStatus.REATTEMPT if action == NDRAction.REATTEMPT else NDRStatus.RTO
        if action == NDRAction.RTO:
            locked.resolved_at = now
        locked.save()
        _shipment_event(shipment, "ndr_action", actor, message=f"{action}" + (f" on {day}" if day else "")
                        + (f": {comment}" if comment else ""), data={"ndr": locked.pk, "action": action})  # fmt: skip
        if action == NDRAction.RTO:
            _set_status(shipment, S.RTO_INITIATED, actor, at=now, message="RTO requested by the merchant")
            _order_follow(shipment, S.RTO_INITIATED, actor)
            _notify(shipment, S.RTO_INITIATED, None)
    return locked


# -- notifications --------------------------------------------------------------------------------------------------


def _notify(shipment: Shipment, status: str, event: TrackingEvent | None) -> None:
    """Queue the customer's messages for this status (per the merchant's settings), sent after commit."""
    kind = NOTIFY_ON_STATUS.get(status)
    if kind is None:
        return
    setting = NotificationSetting.objects.filter(merchant_id=shipment.merchant_id).first() or NotificationSetting()
    if not setting.wants(kind):
        return
    address = shipment.order.shipping_address or {}
    email = shipment.order.customer.email if shipment.order.customer_id else ""
    recipients = []
    if setting.email_enabled and email:
        recipients.append(("email", email))
    if setting.sms_enabled and address.get("phone"):
        recipients.append(("sms", address["phone"]))
    for channel, recipient in recipients:
        notification = Notification.objects.create(merchant_id=shipment.merchant_id, shipment=shipment,
                                                   tracking_event=event, event=kind, channel=channel,
                                                   recipient=recipient)  # fmt: skip
        transaction.on_commit(lambda pk=notification.pk: _enqueue_notification(pk))


def _enqueue_notification(notification_id: int) -> None:
    from shipping.tasks import notify_send

    notify_send.delay(notification_id)


def notification_send(*, notification_id: int) -> Notification:
    """Send one queued notification; a notification already sent or failed is left alone (sent at most once)."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("shipment__order", "shipment__courier", "merchant")
            .get(pk=notification_id)
        )
        if notification.status != "queued":
            return notification
        try:
            notifications.deliver(notification)
        except notifications.TRANSIENT_ERRORS:
            raise  # still queued: the task retries with backoff
        except Exception as exc:  # a refusal (bad address, gateway error) is recorded, not retried
            logger.warning("Notification %s failed: %s", notification.pk, exc)
            notification.status, notification.error = "failed", str(exc)[:500]
        else:
            notification.status, notification.sent_at = "sent", timezone.now()
        notification.save(update_fields=["status", "error", "sent_at"])
    return notification


def notification_setting_set(*, merchant: Merchant, data: dict[str, Any]) -> NotificationSetting:
    setting, _ = NotificationSetting.objects.get_or_create(merchant=merchant)
    names = [f.name for f in NotificationSetting._meta.fields if f.name not in ("id", "merchant")]
    for name in names:
        if name in data:
            setattr(setting, name, bool(data[name]))
    setting.save()
    return setting


# -- tracking by hand, by CSV, by polling ---------------------------------------------------------------------------


def tracking_record(*, shipment: Shipment, code: str, actor: str, occurred_at: datetime | None = None,
                    description: str = "", location: str = "") -> IngestResult:  # fmt: skip
    """A scan entered by hand (offline couriers): stored and applied like a courier's event."""
    if not shipment.awb:  # an empty AWB would match another unbooked shipment of the courier
        raise ValidationError({"awb": ["The shipment has no AWB yet: assign one first."]})
    if status_for(shipment.courier, code) is None:
        raise ValidationError({"code": [f"{code!r} is not a status ShopOps knows for {shipment.courier.name}."]})
    occurred_at = occurred_at or timezone.now()
    if problem := event_time_problem(occurred_at) or (
        "The time is before the order was placed." if occurred_at < shipment.order.ordered_at - ORDER_CLOCK_SLACK
        else None
    ):  # fmt: skip
        raise ValidationError({"occurred_at": [problem]})
    update = TrackingUpdate(awb=shipment.awb, code=code, occurred_at=occurred_at,
                            description=description, location=location,
                            event_id=f"manual-{secrets.token_hex(8)}")  # fmt: skip
    return tracking_ingest(courier=shipment.courier, updates=[update], source="manual", actor=actor)


TRACKING_CSV_COLUMNS = ("awb", "status", "occurred_at", "description", "location", "event_id")


def tracking_import(*, courier: Courier, fileobj, actor: str) -> IngestResult:
    """Tracking updates from a CSV (awb, status, occurred_at ISO 8601; optional description, location, event_id).

    Checked whole first: a file with a bad row applies nothing and names up to 100 bad rows in ``errors``."""
    text = io.TextIOWrapper(fileobj, encoding="utf-8-sig", newline="")
    updates, errors = [], []
    try:
        reader = csv.DictReader(text)
        header = [(h or "").strip().lower() for h in reader.fieldnames or []]
        missing = [c for c in ("awb", "status", "occurred_at") if c not in header]
        if missing:
            raise ValidationError({"file": [f"Missing columns: {', '.join(missing)}."]})
        reader.fieldnames = header
        for number, row in enumerate(reader, start=2):
            cells = {k: (v or "").strip() for k, v in row.items() if k}
            if not any(cells.values()):
                continue
            problem, when = None, parse_datetime(cells["occurred_at"]) if cells["occurred_at"] else None
            if not cells["awb"]:
                problem = ("awb", "The AWB is missing.")
            elif status_for(courier, cells["status"]) is None:
                problem = ("status", f"{cells['status']!r} is not a status ShopOps knows for {courier.name}.")
            elif when is None or timezone.is_naive(when):
                problem = ("occurred_at", "A date and time with its offset, e.g. 2026-11-28T14:05:00+05:30.")
            elif late := event_time_problem(when):
                problem = ("occurred_at", late)
            if problem:
                if len(errors) < 100:
                    errors.append({"row": number, "column": problem[0], "value": cells.get(problem[0], ""),
                                   "message": problem[1]})  # fmt: skip
                continue
            updates.append(TrackingUpdate(awb=cells["awb"], code=cells["status"], occurred_at=when,
                                          description=cells.get("description", ""),
                                          location=cells.get("location", ""), event_id=cells.get("event_id", ""),
                                          raw=cells))  # fmt: skip
    except UnicodeDecodeError as exc:
        raise ValidationError({"file": ["The file is not UTF-8 CSV."]}) from exc
    except csv.Error as exc:
        raise ValidationError({"file": [f"The CSV is malformed: {exc}."]}) from exc
    finally:
        text.detach()
    if errors:
        return IngestResult(errors=errors)
    return tracking_ingest(courier=courier, updates=updates, source="csv", actor=actor)


#: Shipments polled for news: booked with the courier and not yet at a final status.
POLLED_STATUSES = [s for s in S.values if s not in (*FINAL_STATUSES, S.NEW)]


def tracking_poll(*, courier: Courier, now: datetime | None = None, limit: int | None = None) -> IngestResult:
    """Ask the courier's adapter for news of up to ``limit`` (default: its per-minute limit) live shipments, the
    longest unpolled first, in the adapter's batch size; stores and applies what comes back."""
    adapter = adapter_for(courier)
    result = IngestResult()
    if not adapter.polls:
        return result
    now = now or timezone.now()
    limit = courier.poll_limit_per_minute if limit is None else limit
    ids = list(
        Shipment.objects.filter(courier=courier, status__in=POLLED_STATUSES)
        .order_by(F("last_polled_at").asc(nulls_first=True), "id")
        .values_list("pk", flat=True)[:limit]
    )
    for start in range(0, len(ids), adapter.batch_size):
        batch = list(Shipment.objects.filter(pk__in=ids[start:start + adapter.batch_size])
                     .select_related("courier", "merchant", "order__pickup_location")
                     .prefetch_related("ndrs", "tracking_events").order_by("pk"))  # fmt: skip
        updates = adapter.fetch_tracking(batch, now=now)
        Shipment.objects.filter(pk__in=[s.pk for s in batch]).update(last_polled_at=now)
        part = tracking_ingest(courier=courier, updates=updates, source="poll", now=now)
        for name in ("accepted", "duplicates", "orphans", "applied", "ignored", "refused"):
            setattr(result, name, getattr(result, name) + getattr(part, name))
    return result


# -- courier performance --------------------------------------------------------------------------------------------

PERFORMANCE_WINDOW = timedelta(days=90)
#: Shipments' worth of weight the neutral prior keeps: a courier's own record takes over as its shipments grow.
PRIOR_WEIGHT = 20


def courier_performance_refresh(*, courier: Courier, now: datetime | None = None) -> Courier:
    """On-time and RTO rates and average transit days from the courier's shipments that ended in the last 90 days
    (delivered or returned), smoothed towards the neutral prior while they are few."""
    now = now or timezone.now()
    since = now - PERFORMANCE_WINDOW
    finished = Shipment.objects.filter(courier=courier).filter(
        Q(status=S.DELIVERED, delivered_at__gte=since) | Q(status__in=RTO_STATUSES, rto_initiated_at__gte=since)
    )
    delivered = finished.filter(status=S.DELIVERED)
    stats = finished.aggregate(total=Count("id"), rto=Count("id", filter=Q(status__in=RTO_STATUSES)))
    deliveries = list(delivered.values_list("shipped_at", "delivered_at", "expected_delivery_date"))
    tz = courier.merchant.tzinfo
    on_time = sum(1 for _, done, expected in deliveries
                  if expected is None or done.astimezone(tz).date() <= expected)  # fmt: skip
    transit = [(done - shipped).total_seconds() / 86400 for shipped, done, _ in deliveries if shipped]
    total, prior = stats["total"], Decimal(PRIOR_WEIGHT)
    on_time_rate = (PRIOR_ON_TIME_RATE * prior + on_time) / (prior + len(deliveries))
    rto_rate = (PRIOR_RTO_RATE * prior + stats["rto"]) / (prior + total)
    Courier.objects.filter(pk=courier.pk).update(
        on_time_rate=on_time_rate.quantize(Decimal("0.0001")), rto_rate=rto_rate.quantize(Decimal("0.0001")),
        avg_transit_days=Decimal(sum(transit) / len(transit)).quantize(Decimal("0.01")) if transit else None,
        performance_shipments=total, performance_updated_at=now,
    )  # fmt: skip
    courier.refresh_from_db()
    return courier


def tracking_refresh(*, shipments: list[Shipment], now: datetime | None = None) -> IngestResult:
    """Poll the couriers for news of these shipments now (the admin's "refresh tracking"), whatever their turn in
    the polling queue; shipments of couriers that do not poll, or at a final status, are left alone."""
    now = now or timezone.now()
    result = IngestResult()
    ids = sorted({s.pk for s in shipments})
    live = list(Shipment.objects.filter(pk__in=ids, status__in=POLLED_STATUSES)
                .select_related("courier", "merchant", "order__pickup_location")
                .prefetch_related("ndrs", "tracking_events").order_by("courier_id", "pk"))  # fmt: skip
    by_courier: dict[int, list[Shipment]] = {}
    for shipment in live:
        by_courier.setdefault(shipment.courier_id, []).append(shipment)
    for group in by_courier.values():
        courier = group[0].courier
        adapter = adapter_for(courier)
        if not adapter.polls:
            continue
        for start in range(0, len(group), adapter.batch_size):
            batch = group[start : start + adapter.batch_size]
            updates = adapter.fetch_tracking(batch, now=now)
            Shipment.objects.filter(pk__in=[s.pk for s in batch]).update(last_polled_at=now)
            part = tracking_ingest(courier=courier, updates=updates, source="poll", now=now)
            for name in ("accepted", "duplicates", "orphans", "applied", "ignored", "refused"):
                setattr(result, name, getattr(result, name) + getattr(part, name))
    return result


# -- documents ------------------------------------------------------------------------------------------------------


def invoice_for(*, order: Order, at: datetime | None = None) -> Invoice:
    """The order's tax invoice number: taken once from the merchant's gap-free sequence ("INV-000001", never reset:
    unique across financial years, 10 characters, within GST's 16) and kept for every reprint.

    The order's row lock serialises two requests for the same order; the counter's lock, held until commit,
    hands the numbers out in commit order, so numbers have no gaps and no duplicates."""
    existing = Invoice.objects.filter(order_id=order.pk).first()
    if existing:
        return existing
    with transaction.atomic():
        Order.objects.select_for_update().filter(pk=order.pk).values_list("pk", flat=True).get()
        existing = Invoice.objects.filter(order_id=order.pk).first()
        if existing:
            return existing
        number = counter_next(merchant=order.merchant, name="invoice")
        return Invoice.objects.create(merchant_id=order.merchant_id, order=order, number=f"INV-{number:06d}",
                                      issued_at=at or timezone.now())  # fmt: skip


# -- document jobs --------------------------------------------------------------------------------------------------

DOCUMENT_MAX_ITEMS = 500
#: A document still queued this long after it was asked for is asked for again (its task was lost).
DOCUMENT_QUEUED_LOST_AFTER = timedelta(hours=1)
#: The render task's hard time limit (s): a document still "rendering" after it lost its worker.
DOCUMENT_TIME_LIMIT = 600
#: kind -> (model the ids name, the formats it comes in, its default format)
DOCUMENT_KINDS = {
    DocumentKind.LABEL: ("shipment", ("4x6", "a4-4up"), "4x6"),
    DocumentKind.INVOICE: ("order", ("a4",), "a4"),
    DocumentKind.MANIFEST: ("manifest", ("a4",), "a4"),
    DocumentKind.PACKING_SLIP: ("order", ("a4", "a5"), "a4"),
}


def _document_objects(merchant: Merchant, kind: str, ids: list[int]) -> list:
    """The merchant's objects of the ids, loaded with everything the document shows; 404 naming the missing ids."""
    queryset = {
        DocumentKind.LABEL: documents.label_queryset,
        DocumentKind.INVOICE: documents.invoice_queryset,
        DocumentKind.MANIFEST: documents.manifest_queryset,
        DocumentKind.PACKING_SLIP: documents.packing_slip_queryset,
    }[kind]()
    found = {obj.pk: obj for obj in queryset.filter(merchant=merchant, pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        noun = DOCUMENT_KINDS[kind][0]
        raise NotFound(f"No {noun}s with ids {', '.join(map(str, missing))}.")
    return [found[i] for i in ids]


def document_request(*, merchant: Merchant, kind: str, ids: list[int], actor: str, format: str | None = None,
                     enqueue: bool = True) -> Document:  # fmt: skip
    """Queue a PDF of ``kind`` for the merchant's shipments (labels), orders (invoices, packing slips) or
    manifest, one page (or more) per item in id order. The same request on unchanged data returns the document
    already made (or being made).

    400 for no ids, more than 500, a format the kind does not come in, an invoice without the merchant's GSTIN;
    404 (for the whole request, nothing queued) when any id is not the merchant's."""
    noun, formats, default = DOCUMENT_KINDS[kind]
    ids = sorted({int(i) for i in ids})  # rendered in id order: the same ids in any order are the same document
    format = format or default
    if not ids:
        raise ValidationError({f"{noun}_ids": [f"Name at least one {noun}."]})
    if len(ids) > DOCUMENT_MAX_ITEMS:
        raise ValidationError({f"{noun}_ids": [f"At most {DOCUMENT_MAX_ITEMS} per document, not {len(ids)}."]})
    if format not in formats:
        raise ValidationError({"format": [f"One of {', '.join(formats)}."]})
    if kind == DocumentKind.INVOICE:
        try:
            documents.check_invoice_settings(merchant)
        except documents.MissingMerchantSetting as exc:
            raise ApiError(400, "missing_merchant_setting", str(exc), {"setting": exc.setting}) from exc
    objects = _document_objects(merchant, kind, ids)
    checksum = documents.data_checksum(kind, format, objects)
    with transaction.atomic():
        lost_before = timezone.now() - timedelta(seconds=DOCUMENT_TIME_LIMIT)  # its worker was killed: not reused
        never_sent = timezone.now() - DOCUMENT_QUEUED_LOST_AFTER  # its task never reached a worker (broker down)
        lost = Q(status=DocumentStatus.RENDERING, started_at__lt=lost_before) | Q(
            status=DocumentStatus.QUEUED, created_at__lt=never_sent)  # fmt: skip
        reusable = (Document.objects.select_for_update()
                    .filter(merchant=merchant, kind=kind, format=format, checksum=checksum)
                    .exclude(Q(status=DocumentStatus.FAILED) | lost).order_by("-id").first())  # fmt: skip
        file_lost = reusable is not None and reusable.status == DocumentStatus.DONE and not (
            reusable.file and reusable.file.storage.exists(reusable.file.name))  # fmt: skip
        if reusable is not None and not file_lost:
            return reusable
        document = Document.objects.create(merchant=merchant, kind=kind, format=format, checksum=checksum,
                                           requested_by=actor,
                                           manifest=objects[0] if kind == DocumentKind.MANIFEST else None)  # fmt: skip
        if kind == DocumentKind.LABEL:
            document.shipments.set(objects)
        elif kind in (DocumentKind.INVOICE, DocumentKind.PACKING_SLIP):
            document.orders.set(objects)
        else:
            document.shipments.set(objects[0].shipments.all())
        if enqueue:  # else the caller renders it (document_render) itself
            transaction.on_commit(lambda: _enqueue_document(document.pk))
    return document


def _enqueue_document(document_id: int) -> None:
    from shipping.tasks import document_render

    document_render.delay(document_id)


def document_render(*, document_id: int) -> Document:
    """Render a queued document to its PDF (a worker's job; run again it leaves a finished document alone)."""
    with transaction.atomic():
        document = Document.objects.select_for_update().select_related("merchant").get(pk=document_id)
        if document.status == DocumentStatus.DONE:
            return document
        document.status, document.started_at, document.error = DocumentStatus.RENDERING, timezone.now(), ""
        document.save(update_fields=["status", "started_at", "error"])
    merchant = document.merchant
    try:
        if document.kind == DocumentKind.LABEL:
            ids = list(document.shipments.order_by("id").values_list("id", flat=True))
            rendered = documents.render_labels(merchant=merchant, format=document.format,
                                               shipments=_document_objects(merchant, document.kind, ids))  # fmt: skip
        elif document.kind == DocumentKind.MANIFEST:
            manifest = documents.manifest_queryset().get(pk=document.manifest_id)
            rendered = documents.render_manifest(merchant=merchant, manifest=manifest)
        else:
            ids = list(document.orders.order_by("id").values_list("id", flat=True))
            orders = _document_objects(merchant, document.kind, ids)
            if document.kind == DocumentKind.INVOICE:
                rendered = documents.render_invoices(merchant=merchant, orders=orders)
            else:
                rendered = documents.render_packing_slips(merchant=merchant, orders=orders, format=document.format)
    except ValidationError as exc:
        return _document_failed(document, " ".join(exc.messages))
    if not rendered.page_count:
        return _document_failed(document, "Nothing to print: " + "; ".join(
            f"{item['id']}: {item['reason']}" for item in rendered.not_created[:20]), rendered.not_created)  # fmt: skip
    document.file.save(f"{document.kind}-{document.pk}.pdf", ContentFile(rendered.pdf), save=False)
    document.file_checksum = hashlib.sha256(rendered.pdf).hexdigest()
    document.page_count, document.not_created = rendered.page_count, rendered.not_created
    document.status, document.finished_at = DocumentStatus.DONE, timezone.now()
    with transaction.atomic():
        document.save(update_fields=["file", "file_checksum", "page_count", "not_created", "status", "finished_at"])
        outbox.document_emit(document)
    return document


def document_fail(*, document_id: int, error: str) -> Document | None:
    """Record that a document could not be rendered (its worker crashed on it or ran out of time); a document
    already done is left alone. A new request for the same data then makes a new document."""
    with transaction.atomic():
        document = Document.objects.select_for_update().filter(pk=document_id).first()
        if document is None or document.status == DocumentStatus.DONE:
            return document
        return _document_failed(document, error)


def _document_failed(document: Document, error: str, not_created: list | None = None) -> Document:
    document.status, document.error, document.finished_at = DocumentStatus.FAILED, error[:500], timezone.now()
    document.not_created = not_created or []
    document.save(update_fields=["status", "error", "finished_at", "not_created"])
    return document


# -- shipping in one call -------------------------------------------------------------------------------------------

SHIP_STEPS = ("order_created", "confirmed", "awb_assigned", "pickup_scheduled", "label_generated",
              "invoice_generated", "manifest_generated")  # fmt: skip
SHIP_SORTS = ("recommended", "cheapest", "fastest", "rating")


@dataclass(frozen=True)
class ShipOptions:
    courier: str = "recommended"  # a courier code, or "recommended" (the first by ``sort``)
    sort: str | None = None  # default: the merchant's own order
    request_pickup: bool = True
    pickup_date: date | None = None
    print_label: bool = True
    label_format: str = "4x6"
    print_invoice: bool = True
    generate_manifest: bool = False

    def as_json(self) -> dict:
        return {**self.__dict__, "pickup_date": self.pickup_date.isoformat() if self.pickup_date else None}

    @classmethod
    def from_json(cls, data: dict) -> "ShipOptions":
        day = data.get("pickup_date")
        return cls(**{**data, "pickup_date": date.fromisoformat(day) if day else None})


@dataclass
class ShipResult:
    order: Order | None = None
    shipment: Shipment | None = None
    pickup: PickupRequest | None = None
    documents: dict[str, Document | None] = field(default_factory=lambda: dict.fromkeys(("label", "invoice",
                                                                                            "manifest")))  # fmt: skip
    steps: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(SHIP_STEPS, False))
    error: dict | None = None  # {step, code, message, details}: the first step that failed


class ShipRefused(Exception):
    """The booking (order, confirmation, courier, AWB) failed at ``step``: nothing of it was kept."""

    def __init__(self, step: str, cause: Exception, result: ShipResult):
        super().__init__(str(cause))
        self.step, self.cause, self.result = step, cause, result


def _failure(step: str, exc: Exception) -> dict:
    if isinstance(exc, (DomainError, ApiError)):
        return {"step": step, "code": exc.code, "message": exc.message, "details": exc.details}
    if isinstance(exc, ValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return {"step": step, "code": "invalid", "message": " ".join(exc.messages), "details": details}
    return {"step": step, "code": "not_found", "message": str(exc), "details": {}}


REFUSALS = (DomainError, ApiError, ValidationError, NotFound)


def _ship_courier(merchant: Merchant, options: ShipOptions) -> Courier | None:
    if options.courier in ("", "recommended"):
        return None
    courier = Courier.objects.filter(merchant=merchant, code=options.courier).first()
    if courier is None:
        raise ValidationError({"courier": [f"Unknown courier {options.courier!r}."]})
    return courier


def _book(*, merchant: Merchant, actor: str, options: ShipOptions, result: ShipResult, order: Order | None = None,
          order_data: dict | None = None) -> None:  # fmt: skip
    """Create (or take) the order, confirm and pack it, book its courier and get its AWB, all in one transaction:
    a refusal at any step keeps nothing (no order, no AWB spent) and raises ShipRefused naming the step.
    An order that already has its AWB is taken as booked (a re-run does nothing twice)."""
    step = "order_created"
    try:
        with transaction.atomic():
            courier = _ship_courier(merchant, options)
            if order is None:
                order = order_services.order_create(merchant=merchant, data=order_data, actor=actor)
                result.steps["order_created"] = True
            step = "confirmed"
            order = Order.objects.select_for_update().get(pk=order.pk)
            if order.status == OrderStatus.NEW:
                order = order_services.order_confirm(order=order, actor=actor)
            if order.status == OrderStatus.CONFIRMED:
                order = order_services.order_pack(order=order, actor=actor)
            live = Shipment.objects.filter(order=order).exclude(status=S.CANCELLED).first()
            if order.status != OrderStatus.PACKED:  # shipped (picked up), delivered, cancelled...: refused
                raise order_services.transition_refused(order, OrderStatus.PACKED)
            result.steps["confirmed"] = True
            step = "awb_assigned"
            if live is None:
                live = shipment_create(order=order, courier=courier, sort=options.sort, actor=actor)
            if not live.awb:
                live = shipment_assign_awb(shipment=live, actor=actor)
            result.steps["awb_assigned"] = True
    except REFUSALS as exc:
        result.steps.update(dict.fromkeys(("order_created", "confirmed", "awb_assigned"), False))
        result.order = None if order_data is not None else order
        result.error = _failure(step, exc)
        raise ShipRefused(step, exc, result) from exc
    result.order, result.shipment = order, Shipment.objects.select_related("courier").get(pk=live.pk)


def _document(merchant: Merchant, kind: str, ids: list[int], actor: str, format: str | None = None) -> Document:
    """A PDF rendered now, in this process (the wrapper answers with it)."""
    document = document_request(merchant=merchant, kind=kind, ids=ids, actor=actor, format=format, enqueue=False)
    if document.status != DocumentStatus.DONE:
        document = document_render(document_id=document.pk)
    if document.status != DocumentStatus.DONE:
        raise ValidationError(document.error or "The document could not be rendered.")
    return document


def ship_order(*, merchant: Merchant, actor: str, options: ShipOptions, order: Order | None = None,
               order_data: dict | None = None) -> ShipResult:  # fmt: skip
    """Order to label in one call: create the order (from ``order_data``) or take ``order``, confirm, pack, book
    the courier and get the AWB (all or nothing: ShipRefused), then book the pickup and render the label, the
    invoice and the manifest as asked. A later step that fails is reported in ``error`` and leaves the AWB and the
    steps before it in place; the steps after it are still tried."""
    result = ShipResult()
    _book(merchant=merchant, actor=actor, options=options, result=result, order=order, order_data=order_data)
    shipment = result.shipment

    def attempt(step: str, work) -> None:
        try:
            work()
        except REFUSALS as exc:
            if result.error is None:
                result.error = _failure(step, exc)
        else:
            result.steps[step] = True

    if options.request_pickup:

        def pickup() -> None:
            if shipment.status == S.AWB_ASSIGNED:
                pickup_schedule(merchant=merchant, shipment_ids=[shipment.pk], pickup_date=options.pickup_date,
                                actor=actor)  # fmt: skip
            shipment.refresh_from_db()
            result.pickup = shipment.pickup
            if result.pickup is None:
                raise Conflict("shipments_not_ready", f"Shipment {shipment.pk} is {shipment.status}.",
                               {"status": shipment.status})  # fmt: skip

        attempt("pickup_scheduled", pickup)
    if options.print_label:
        attempt("label_generated", lambda: result.documents.update(
            label=_document(merchant, DocumentKind.LABEL, [shipment.pk], actor, options.label_format)))  # fmt: skip
    if options.print_invoice:
        attempt("invoice_generated", lambda: result.documents.update(
            invoice=_document(merchant, DocumentKind.INVOICE, [result.order.pk], actor)))  # fmt: skip
    if options.generate_manifest:

        def manifest() -> None:
            shipment.refresh_from_db()
            manifest_id = shipment.manifest_id or manifest_create(merchant=merchant, shipment_ids=[shipment.pk],
                                                                  actor=actor).pk  # fmt: skip
            result.documents["manifest"] = _document(merchant, DocumentKind.MANIFEST, [manifest_id], actor)

        attempt("manifest_generated", manifest)
    shipment.refresh_from_db()
    return result


# -- shipping in batches --------------------------------------------------------------------------------------------

SHIP_BATCH_MAX = 500
#: A running batch whose worker gave no sign of life for this long was lost: running it again takes over.
SHIP_BATCH_STALE_AFTER = timedelta(minutes=10)


def ship_batch_create(*, merchant: Merchant, order_ids: list[int], actor: str, options: ShipOptions) -> ShipBatch:
    """Queue "ship these orders" (up to 500 of the merchant's, 404 naming any other) as one resumable job."""
    ids = list(dict.fromkeys(int(i) for i in order_ids))
    if not ids:
        raise ValidationError({"order_ids": ["Name at least one order."]})
    if len(ids) > SHIP_BATCH_MAX:
        raise ValidationError({"order_ids": [f"At most {SHIP_BATCH_MAX} orders a batch, not {len(ids)}."]})
    known = set(Order.objects.filter(merchant=merchant, pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in known]
    if missing:
        raise NotFound(f"No orders with ids {', '.join(map(str, missing))}.")
    _ship_courier(merchant, options)
    with transaction.atomic():
        batch = ShipBatch.objects.create(merchant=merchant, order_ids=ids, options=options.as_json(), total=len(ids),
                                         created_by=actor)  # fmt: skip
        transaction.on_commit(lambda: _enqueue_batch(batch.pk))
    return batch


def ship_batch_resume(*, batch: ShipBatch) -> ShipBatch:
    """Queue a batch that is not done again (its worker was lost, it hit its time limit, it failed): the job
    resumes where it stopped. 409 ``batch_done`` for a finished batch."""
    if batch.status == ShipBatchStatus.DONE:
        raise Conflict("batch_done", f"Ship batch {batch.pk} is done; there is nothing left to run.",
                       {"status": batch.status})  # fmt: skip
    transaction.on_commit(lambda: _enqueue_batch(batch.pk))
    return batch


def _enqueue_batch(batch_id: int) -> None:
    from shipping.tasks import ship_batch_run

    ship_batch_run.delay(batch_id)


def ship_batch_run(*, batch_id: int) -> ShipBatch:
    """Run (or resume) a batch: book each order not yet booked, recording its outcome as it goes; then one pickup
    per courier and location, one label PDF and one invoice PDF for all, one manifest per courier and location.
    Run again, it skips what is done: booked orders keep their AWB, shipments their pickup and manifest, and the
    documents of unchanged data are the same documents."""
    now = timezone.now()
    with transaction.atomic():
        batch = ShipBatch.objects.select_for_update().select_related("merchant").get(pk=batch_id)
        if batch.status == ShipBatchStatus.DONE:
            return batch
        alive = batch.heartbeat_at is not None and batch.heartbeat_at > now - SHIP_BATCH_STALE_AFTER
        if batch.status == ShipBatchStatus.RUNNING and alive:
            return batch  # another worker is on it ("run again" while it runs, a duplicate delivery)
        batch.status, batch.started_at = ShipBatchStatus.RUNNING, batch.started_at or now  # the first start
        batch.heartbeat_at = now
        batch.save(update_fields=["status", "started_at", "heartbeat_at"])
    merchant, options = batch.merchant, ShipOptions.from_json(batch.options)
    orders = Order.objects.filter(merchant=merchant).in_bulk(batch.order_ids)
    for order_id in batch.order_ids:
        outcome = batch.results.get(str(order_id))
        if outcome and outcome["steps"]["awb_assigned"]:
            continue
        result = ShipResult()
        with contextlib.suppress(ShipRefused):  # the refusal is in the result
            _book(merchant=merchant, actor=batch.created_by, options=options, result=result, order=orders[order_id])
        batch.results[str(order_id)] = _batch_outcome(result)
        _batch_progress(batch)
    booked = list(Shipment.objects.filter(merchant=merchant, order_id__in=batch.order_ids)
                  .exclude(status=S.CANCELLED).exclude(awb="")
                  .select_related("order__pickup_location", "courier").order_by("order_id"))  # fmt: skip
    ShipBatch.objects.filter(pk=batch.pk).update(heartbeat_at=timezone.now())
    _batch_documents(batch, merchant, options, booked)
    batch.status, batch.finished_at = ShipBatchStatus.DONE, timezone.now()
    batch.save(update_fields=["status", "finished_at", "error", "results", "label_document", "invoice_document"])
    return batch


def _batch_outcome(result: ShipResult) -> dict:
    shipment = result.shipment
    return {"steps": {name: result.steps[name] for name in ("confirmed", "awb_assigned")},
            "shipment": shipment.pk if shipment else None, "awb": shipment.awb if shipment else "",
            "courier": shipment.courier.code if shipment else "", "error": result.error}  # fmt: skip


def _batch_progress(batch: ShipBatch) -> None:
    outcomes = batch.results.values()
    batch.processed = len(batch.results)
    batch.shipped = sum(1 for o in outcomes if o["steps"]["awb_assigned"])
    batch.failed = batch.processed - batch.shipped
    batch.heartbeat_at = timezone.now()
    batch.save(update_fields=["results", "processed", "shipped", "failed", "heartbeat_at"])


def _batch_documents(batch: ShipBatch, merchant: Merchant, options: ShipOptions, booked: list[Shipment]) -> None:
    """One pickup and one manifest per courier and location, then the batch's label and invoice PDFs; what fails
    is named in ``batch.error`` and the rest still done."""
    actor, problems = batch.created_by, []

    def attempt(what: str, work):
        try:
            return work()
        except REFUSALS as exc:
            problems.append(f"{what}: {_failure('', exc)['message']}")
            return None

    groups: dict[tuple[int, int], list[Shipment]] = {}
    for shipment in booked:
        groups.setdefault((shipment.courier_id, shipment.order.pickup_location_id), []).append(shipment)
    for group in groups.values():
        name = f"{group[0].courier.name} from {group[0].order.pickup_location.nickname}"
        waiting = [s.pk for s in group if s.status == S.AWB_ASSIGNED]
        if options.request_pickup and waiting:
            attempt(f"pickup of {name}", lambda ids=waiting: pickup_schedule(
                merchant=merchant, shipment_ids=ids, pickup_date=options.pickup_date, actor=actor))  # fmt: skip
        unlisted = [s.pk for s in group if not s.manifest_id]
        if options.generate_manifest and unlisted:
            attempt(f"manifest of {name}",
                    lambda ids=unlisted: manifest_create(merchant=merchant, shipment_ids=ids, actor=actor))  # fmt: skip
    placed = Shipment.objects.filter(pk__in=[s.pk for s in booked]).values_list("pickup_id", "manifest_id")
    batch.pickups.set({pickup for pickup, _ in placed if pickup})
    batch.manifests.set({manifest for _, manifest in placed if manifest})
    if options.generate_manifest:
        for manifest_id in sorted(batch.manifests.values_list("pk", flat=True)):
            render = lambda m=manifest_id: _document(merchant, DocumentKind.MANIFEST, [m], actor)  # noqa: E731
            document = attempt(f"manifest {manifest_id} PDF", render)
            if document is not None:
                batch.manifest_documents.add(document)
    if options.print_label and booked:
        batch.label_document = attempt("labels", lambda: _document(
            merchant, DocumentKind.LABEL, [s.pk for s in booked], actor, options.label_format))  # fmt: skip
    if options.print_invoice and booked:
        batch.invoice_document = attempt("invoices", lambda: _document(
            merchant, DocumentKind.INVOICE, [s.order_id for s in booked], actor))  # fmt: skip
    batch.error = "; ".join(problems)[:500]

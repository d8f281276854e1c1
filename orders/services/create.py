"""The one writer of new orders, for one order (the API) or thousands (an import chunk).

``order_create_many`` takes prepared orders (``orders.services.prepare``) and, in one transaction and set-based,
numbers them, matches their customers by phone, else email (creating the new ones) and adds the orders to their
counters, writes the orders, their lines and their ``created`` events, and puts ``order.created`` in the webhook
outbox (an import sends ``import.finished`` instead). It answers one result per item: created (id, number) or
refused with ``duplicate_order`` (the channel order id is an order already, in the database or earlier in the
batch). On PostgreSQL the rows stream to COPY (``shopops.bulk``); elsewhere they go through bulk_create.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from orders import outbox
from orders.errors import DUPLICATE_ORDER
from orders.models import Customer, Order, OrderEvent, OrderEventKind, OrderLine, OrderStatus
from orders.services.prepare import Catalog, PreparedOrder, order_prepare
from shopops.bulk import copy_rows, new_ids, pg_array, pg_cursor
from shopops.errors import DomainError
from shopops.models import Merchant
from shopops.services import counter_next

ORDER_NUMBER_PREFIX = "SO-"
MEMO_MAX = 50_000  # entries a memo holds before it starts again

ORDER_COLUMNS = (
    "id", "merchant_id", "number", "channel_id", "channel_order_id", "status", "payment_method", "payment_status",
    "customer_id", "is_returning_customer", "shipping_address", "billing_address", "subtotal", "discount_total",
    "shipping_charge", "cod_charge", "charges_tax_rate", "shipping_tax", "cod_tax", "tax_total", "lut_reference",
    "total", "currency", "weight_grams", "length_cm", "breadth_cm", "height_cm", "pickup_location_id", "notes",
    "ordered_at", "packed_at", "shipped_at", "delivered_at", "cancelled_at", "awb", "courier", "eway_bill_number",
    "created_at", "updated_at",
)  # fmt: skip
LINE_COLUMNS = ("merchant_id", "order_id", "product_id", "sku", "name", "quantity", "unit_price", "discount",
                "tax_rate", "tax_amount", "hsn_code", "uqc", "total")  # fmt: skip
EVENT_COLUMNS = ("merchant_id", "order_id", "kind", "to_status", "actor", "message", "data")


class BoundedMemo(dict):
    """A memo that starts again past MEMO_MAX entries, so memory stays flat whatever an import's size."""

    def remember(self, key, value):
        if len(self) >= MEMO_MAX:
            self.clear()
        self[key] = value
        return value


@dataclass
class WriteMemo:
    """What the writer may reuse across calls of one import: JSON already encoded (addresses, event data), and
    customers known to exist (``("phone" | "email", value) -> id``), filled by the caller once their chunk
    committed."""

    json: BoundedMemo = field(default_factory=BoundedMemo)
    customers: BoundedMemo = field(default_factory=BoundedMemo)


@dataclass
class CreateResult:
    id: int | None = None
    number: str | None = None
    customer_id: int | None = None
    error: DomainError | None = None
    #: the created order as an instance (not for imports, which write too many to build them)
    order: Order | None = None


def order_create(*, merchant: Merchant, data: dict[str, Any], actor: str, catalog: Catalog | None = None) -> Order:
    """One order from type-checked input (``OrderInput``): ValidationError, or ``duplicate_order``."""
    prepared = order_prepare(merchant=merchant, data=data, catalog=catalog)
    [result] = order_create_many(merchant=merchant, items=[prepared], actor=actor)
    if result.error is not None:
        raise result.error
    return result.order


@transaction.atomic
def order_create_many(*, merchant: Merchant, items: list[PreparedOrder], actor: str, imported: bool = False,
                      memo: WriteMemo | None = None) -> list[CreateResult]:  # fmt: skip
    """Write ``items`` (already validated) as new orders; one result per item, in order.

    ``imported``: the orders of a file import: their event reads "Imported from <channel>" and no
    ``order.created`` is sent. A channel order id taken concurrently (the unique constraint refuses the insert)
    is looked up again and its item refused; the others are written.
    """
    memo = memo or WriteMemo()
    refused: dict[int, DomainError] = {}
    for attempt in range(3):
        results = [CreateResult() for _ in items]
        try:
            with transaction.atomic():
                _write(merchant, items, actor, imported, memo, refused, results)
            return results
        except IntegrityError:
            taken = _taken_after_conflict(items, results, refused)
            if not taken or attempt == 2:
                raise
            refused.update(taken)
    raise AssertionError("unreachable")


def _write(merchant: Merchant, items: list[PreparedOrder], actor: str, imported: bool, memo: WriteMemo,
           refused: dict[int, DomainError], results: list[CreateResult]) -> None:  # fmt: skip
    existing = _existing_orders({(p.channel.pk, p.channel_order_id) for p in items if p.channel_order_id})
    fresh: list[int] = []
    first_of: dict[tuple[int, str], int] = {}
    repeats: list[tuple[int, int]] = []  # (item, the earlier item of the batch with its channel order id)
    for index, p in enumerate(items):
        key = (p.channel.pk, p.channel_order_id)
        if index in refused:
            results[index].error = refused[index]
        elif p.channel_order_id and key in existing:
            results[index].error = _duplicate(p, *existing[key])
        elif p.channel_order_id and key in first_of:
            repeats.append((index, first_of[key]))
        else:
            first_of.setdefault(key, index)
            fresh.append(index)
    if fresh:
        _insert(merchant, [(index, items[index]) for index in fresh], actor, imported, memo, results)
    for index, earlier in repeats:
        done = results[earlier]
        results[index].error = _duplicate(items[index], done.id, done.number, items[earlier].initial_status)


def _insert(merchant: Merchant, fresh: list[tuple[int, PreparedOrder]], actor: str, imported: bool,
            memo: WriteMemo, results: list[CreateResult]) -> None:  # fmt: skip
    first_number = counter_next(merchant=merchant, name="order", count=len(fresh))
    ids = new_ids(Order, len(fresh))
    customer_ids = _customers_for(merchant, [p for _, p in fresh], memo.customers)
    had_orders = _count_customers([(pk, p.total, p.ordered_at) for pk, (_, p) in zip(customer_ids, fresh,
                                                                                      strict=True)])  # fmt: skip
    now, merchant_id, cancelled = timezone.now(), merchant.pk, OrderStatus.CANCELLED
    orders, lines, events, instances = [], [], [], []
    seen_customers: set[int] = set()
    for order_id, number, customer_id, (index, p) in zip(
        ids, range(first_number, first_number + len(fresh)), customer_ids, fresh, strict=True
    ):
        returning = had_orders[customer_id] or customer_id in seen_customers
        seen_customers.add(customer_id)
        number = f"{ORDER_NUMBER_PREFIX}{number:06d}"
        shipping = _json(memo.json, p.shipping_address)
        billing = shipping if p.billing_address is p.shipping_address else _json(memo.json, p.billing_address)
        row = (
            order_id, merchant_id, number, p.channel.pk, p.channel_order_id or number, p.initial_status,
            p.payment_method, p.payment_status, customer_id, returning, shipping, billing, p.subtotal, p.discount_total,
            p.shipping_charge, p.cod_charge, p.charges_tax_rate, p.shipping_tax, p.cod_tax, p.tax_total,
            p.lut_reference, p.total, p.currency, p.weight_grams, p.length_cm, p.breadth_cm, p.height_cm,
            p.pickup_location.pk, p.notes, p.ordered_at, p.packed_at, p.shipped_at, p.delivered_at,
            p.ordered_at if p.initial_status == cancelled else None, p.awb, p.courier, p.eway_bill_number, now, now,
        )  # fmt: skip
        orders.append(row)
        unmapped = tuple(ln.sku for ln in p.lines if ln.product_id is None)
        event_key = ("event", returning, unmapped)
        event_data = memo.json.get(event_key) or memo.json.remember(
            event_key, json.dumps({"returning_customer": returning, "unmapped_skus": list(unmapped)}))  # fmt: skip
        if imported:
            message = f"Imported from {p.channel.name}"
        else:
            message = f"Created from {p.channel.name}" + (f"; unmapped SKUs: {', '.join(unmapped)}" if unmapped else "")
        events.append(
            (merchant_id, order_id, OrderEventKind.CREATED, p.initial_status, actor, message[:500], event_data)
        )
        for ln in p.lines:
            lines.append((merchant_id, order_id, ln.product_id, ln.sku, ln.name, ln.quantity, ln.unit_price,
                          ln.discount, ln.tax_rate, ln.tax_amount, ln.hsn_code, ln.uqc, ln.total))  # fmt: skip
        result = results[index]
        result.id, result.number, result.customer_id = order_id, number, customer_id
        if not imported:
            result.order = _instance(row, p)
            instances.append(result.order)
    copy_rows(Order, ORDER_COLUMNS, orders)
    copy_rows(OrderLine, LINE_COLUMNS, lines, return_ids=False)
    copy_rows(OrderEvent, EVENT_COLUMNS, events, return_ids=False)
    for order in instances:
        outbox.order_emit(order, created=True)


def _instance(row: tuple, prepared: PreparedOrder) -> Order:
    """The written order as a model instance, as loaded from the database (for the outbox and the caller)."""
    values = dict(zip(ORDER_COLUMNS, row, strict=True))
    values["shipping_address"], values["billing_address"] = prepared.shipping_address, prepared.billing_address
    order = Order(**values)
    order.channel, order.pickup_location = prepared.channel, prepared.pickup_location
    order._state.adding, order._state.db = False, connection.alias
    return order


def _json(memo: BoundedMemo, value: dict) -> str:
    """``value`` (a flat dict of strings, e.g. an address) as JSON, encoded once per distinct value."""
    key = ("json", *value.items())
    known = memo.get(key)
    return known if known is not None else memo.remember(key, json.dumps(value))


# -- channel order ids taken -----------------------------------------------------------


def _duplicate(prepared: PreparedOrder, pk: int, number: str, status: str) -> DomainError:
    channel_order_id = prepared.channel_order_id or number
    return DUPLICATE_ORDER(
        f"Channel order {channel_order_id!r} is already order {number} ({status}).",
        {"existing_order": pk, "number": number, "status": status, "channel": prepared.channel.channel_id,
         "channel_order_id": channel_order_id},
    )  # fmt: skip


def _existing_orders(keys: set[tuple[int, str]]) -> dict[tuple[int, str], tuple[int, str, str]]:
    """``(channel id, channel order id) -> (id, number, status)`` of those that are orders already."""
    if not keys:
        return {}
    channels, order_ids = {k[0] for k in keys}, {k[1] for k in keys}
    if connection.vendor != "postgresql":
        found = Order.objects.filter(channel_id__in=channels, channel_order_id__in=order_ids).values_list(
            "channel_id", "channel_order_id", "pk", "number", "status")  # fmt: skip
    else:
        o = Order._meta
        column = {name: o.get_field(name).column for name in ("channel", "channel_order_id", "number", "status")}
        with pg_cursor() as cursor:
            cursor.execute(
                f"SELECT {column['channel']}, {column['channel_order_id']}, {o.pk.column}, {column['number']}, "
                f"{column['status']} FROM {o.db_table} WHERE {column['channel']} = ANY(%s::bigint[]) "
                f"AND {column['channel_order_id']} = ANY(%s::text[])",
                [pg_array(channels), pg_array(order_ids)],
            )
            found = cursor.fetchall()
    return {
        (channel, coid): (pk, number, status) for channel, coid, pk, number, status in found if (channel, coid) in keys
    }


def _taken_after_conflict(items: list[PreparedOrder], attempt: list[CreateResult],
                          refused: dict[int, DomainError]) -> dict[int, DomainError]:  # fmt: skip
    """After the insert hit the unique constraint: the items whose channel order id (or, for those without one,
    the number they were given) another transaction wrote meanwhile, as refusals."""
    keys = {}
    for index, p in enumerate(items):
        if index not in refused:
            channel_order_id = p.channel_order_id or attempt[index].number
            if channel_order_id:
                keys[index] = (p.channel.pk, channel_order_id)
    existing = _existing_orders(set(keys.values()))
    return {index: _duplicate(items[index], *existing[key]) for index, key in keys.items() if key in existing}


# -- customers -------------------------------------------------------------------------


def _find_customers(merchant: Merchant, column: str, values: set[str]) -> dict[str, int]:
    """{phone or email: id} of the merchant's customers with these values of ``column`` (``phone``, ``email``)."""
    if not values:
        return {}
    if connection.vendor != "postgresql":
        found = Customer.objects.filter(merchant=merchant, **{f"{column}__in": values}).values_list(column, "id")
        return dict(found)
    c = Customer._meta
    name, merchant_column = c.get_field(column).column, c.get_field("merchant").column
    with pg_cursor() as cursor:  # the condition <> '' lets PostgreSQL use the partial unique index
        cursor.execute(f"SELECT {name}, {c.pk.column} FROM {c.db_table} "
                       f"WHERE {merchant_column} = %s AND {name} = ANY(%s::text[]) AND {name} <> ''",
                       [merchant.pk, pg_array(values)])  # fmt: skip
        return dict(cursor.fetchall())


def _customers_for(merchant: Merchant, prepared: list[PreparedOrder], known: BoundedMemo) -> list[int]:
    """Each order's customer id: matched by phone, else email; the new ones created (one per phone or email).

    ``known`` customers (``("phone" | "email", value) -> id``) are not looked up again.
    """
    phones = {p.customer["phone"] for p in prepared if p.customer.get("phone")}
    by_phone = {phone: known[("phone", phone)] for phone in phones if ("phone", phone) in known}
    by_phone.update(_find_customers(merchant, "phone", phones - by_phone.keys()))
    emails = {p.customer["email"] for p in prepared
              if p.customer.get("email") and p.customer.get("phone") not in by_phone}  # fmt: skip
    by_email = {email: known[("email", email)] for email in emails if ("email", email) in known}
    by_email.update(_find_customers(merchant, "email", emails - by_email.keys()))
    new: list[Customer] = []
    new_phones, new_emails = set(), set()
    for p in prepared:
        phone, email = p.customer.get("phone", ""), p.customer.get("email", "")
        if (phone and (phone in by_phone or phone in new_phones)) or (
            email and (email in by_email or email in new_emails)
        ):
            continue
        if phone:
            new_phones.add(phone)
        if email:
            new_emails.add(email)
        new.append(Customer(merchant=merchant, name=p.customer.get("name", ""), phone=phone, email=email))
    if new:
        # A customer created meanwhile by another order is skipped here and found below.
        Customer.objects.bulk_create(new, ignore_conflicts=True)
        by_phone.update(_find_customers(merchant, "phone", new_phones))
        by_email.update(_find_customers(merchant, "email", new_emails))
    result = []
    for p in prepared:
        phone, email = p.customer.get("phone", ""), p.customer.get("email", "")
        result.append((by_phone.get(phone) if phone else None) or by_email[email])
    return result


def _count_customers(orders: list[tuple[int, Decimal, datetime]]) -> dict[int, bool]:
    """Add the orders ((customer id, total, ordered at)) to their customers' counters in one statement; answers
    whether each customer had orders before."""
    totals: dict[int, list] = {}
    for pk, total, at in orders:
        known = totals.get(pk)
        if known is None:
            totals[pk] = [1, total, at, at]
        else:
            known[0] += 1
            known[1] += total
            known[2], known[3] = min(known[2], at), max(known[3], at)
    if connection.vendor == "postgresql":
        c = Customer._meta
        col = {name: c.get_field(name).column for name in ("orders_count", "total_spent", "first_order_at",
                                                             "last_order_at", "updated_at")}  # fmt: skip
        # Numbers and ISO times need no quoting in an array literal: joined as they are (pg_array quotes each).
        counts, spent, first, last = zip(*totals.values(), strict=True)
        columns = ["{" + ",".join(map(str, values)) + "}" for values in (totals, counts, spent)] + [
            "{" + ",".join(at.isoformat() for at in values) + "}" for values in (first, last)
        ]
        with pg_cursor() as cursor:
            cursor.execute(
                f"UPDATE {c.db_table} c SET {col['orders_count']} = c.{col['orders_count']} + v.n, "
                f"{col['total_spent']} = c.{col['total_spent']} + v.spent, "
                f"{col['first_order_at']} = LEAST(COALESCE(c.{col['first_order_at']}, v.first), v.first), "
                f"{col['last_order_at']} = GREATEST(COALESCE(c.{col['last_order_at']}, v.last), v.last), "
                f"{col['updated_at']} = now() "
                "FROM unnest(%s::bigint[], %s::int[], %s::numeric[], %s::timestamptz[], %s::timestamptz[]) "
                f"AS v(id, n, spent, first, last) WHERE c.{c.pk.column} = v.id "
                f"RETURNING c.{c.pk.column}, c.{col['orders_count']} - v.n > 0",
                columns,
            )
            return dict(cursor.fetchall())
    had_orders = {}
    for pk, (count, spent, first, last) in totals.items():
        customer = Customer.objects.select_for_update().get(pk=pk)
        had_orders[pk] = customer.orders_count > 0
        Customer.objects.filter(pk=pk).update(
            orders_count=F("orders_count") + count, total_spent=F("total_spent") + spent,
            first_order_at=min(filter(None, [customer.first_order_at, first])),
            last_order_at=max(filter(None, [customer.last_order_at, last])), updated_at=timezone.now(),
        )  # fmt: skip
    return had_orders

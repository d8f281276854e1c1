"""Reads of orders, with joins decided once for the API, the export and the admin."""

import re
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, Min, OuterRef, Prefetch, Q, QuerySet

from orders.models import (
    BulkImport,
    Channel,
    Customer,
    ImportRowError,
    Order,
    OrderLine,
    OrderStatus,
    Return,
    ReturnLine,
)
from shopops.counting import COUNT_CAP, COUNT_TIMEOUT_MS, capped_counts
from shopops.csvexport import csv_text
from shopops.validation import normalize_phone

EXPORT_COLUMNS = [
    "order_number", "channel", "channel_order_id", "status", "ordered_at", "payment_method", "payment_status",
    "customer_name", "customer_email", "customer_phone",
    "shipping_name", "shipping_phone", "shipping_line1", "shipping_line2", "shipping_city", "shipping_state",
    "shipping_postcode", "shipping_country",
    "sku", "name", "quantity", "unit_price", "discount", "tax_rate", "hsn_code", "uqc",
    "shipping_charge", "cod_charge", "total", "currency", "weight_grams", "length_cm", "breadth_cm", "height_cm",
    "pickup_location", "packed_at", "shipped_at", "delivered_at", "awb", "courier", "eway_bill_number",
]  # fmt: skip
EXPORT_CHUNK = 2000
#: An SKU on more lines than this is searched line by line for each listed order (EXISTS), a rarer one by the ids
#: of its orders.
COMMON_SKU_LINES = 1000
#: A search term read as a phone number: digits with optional +, spaces, dashes, dots and brackets.
PHONE_LIKE = re.compile(r"\+?[0-9][0-9 ().-]{6,22}")


def channel_queryset() -> QuerySet[Channel]:
    return Channel.objects.all()


def customer_queryset() -> QuerySet[Customer]:
    return Customer.objects.all()


def order_queryset() -> QuerySet[Order]:
    """Orders as model instances, with their channel, customer and lines (services, admin, export)."""
    return Order.objects.select_related("channel", "customer").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("id"))
    )


#: What the API shows of an order, read as plain rows: the order's columns and its channel's and customer's.
ORDER_ROW_FIELDS = [
    *(field.attname for field in Order._meta.concrete_fields),
    "channel__channel_id", "customer__name", "customer__email", "customer__phone",
]  # fmt: skip
LINE_ROW_FIELDS = ["id", "order_id", "sku", "product_id", "name", "quantity", "unit_price", "discount", "tax_rate",
                   "tax_amount", "hsn_code", "uqc", "total", "returned_quantity"]  # fmt: skip


@dataclass(frozen=True)
class OrderTab:
    """A working tab of the order list: a saved filter (``params``, the list's query string) and its condition."""

    key: str
    label: str
    params: dict[str, str]
    condition: Q


def _statuses(*statuses: str) -> str:
    return ",".join(statuses)


#: The order desk's working tabs, in the order of an order's life.
ORDER_TABS = [
    OrderTab("new", "New", {"status__in": OrderStatus.NEW}, Q(status=OrderStatus.NEW)),
    OrderTab("ready", "Ready to ship", {"status__in": _statuses(OrderStatus.CONFIRMED, OrderStatus.PACKED),
                                        "has_awb": "no"},
             Q(status__in=(OrderStatus.CONFIRMED, OrderStatus.PACKED), awb="")),
    OrderTab("pickups", "Pickups", {"status__in": _statuses(OrderStatus.CONFIRMED, OrderStatus.PACKED),
                                    "has_awb": "yes"},
             Q(status__in=(OrderStatus.CONFIRMED, OrderStatus.PACKED)) & ~Q(awb="")),
    OrderTab("in_transit", "In transit", {"status__in": OrderStatus.SHIPPED}, Q(status=OrderStatus.SHIPPED)),
    OrderTab("delivered", "Delivered", {"status__in": OrderStatus.DELIVERED}, Q(status=OrderStatus.DELIVERED)),
    OrderTab("rto", "RTO", {"status__in": _statuses(OrderStatus.RTO, OrderStatus.RTO_DELIVERED)},
             Q(status__in=(OrderStatus.RTO, OrderStatus.RTO_DELIVERED))),
    OrderTab("all", "All", {}, Q()),
]  # fmt: skip


def order_tab_counts(
    queryset: QuerySet[Order], cap: int = COUNT_CAP, timeout_ms: int | None = COUNT_TIMEOUT_MS
) -> dict[str, int] | None:
    """How many of ``queryset``'s orders each working tab holds, counted up to ``cap + 1`` (one query): a figure
    above ``cap`` means "more than ``cap``", so a merchant with a million orders is not counted on every page.
    None if counting takes longer than ``timeout_ms`` (PostgreSQL): the tabs are then shown without counts."""
    return capped_counts({tab.key: queryset.filter(tab.condition) for tab in ORDER_TABS}, cap, timeout_ms)


def order_search(queryset: QuerySet[Order], term: str, merchant_ids: list[int] | None = None) -> QuerySet[Order]:
    """The orders of ``queryset`` a merchant means by ``term``, each found through an index.

    An order number (any case), channel order id or AWB finds its order exactly; otherwise the term is an exact SKU
    (any case) of a line, and a customer's phone (read as an Indian number unless it has a country code), email or
    part of a name. Each kind is tried with an indexed look-up first, so a term that matches nothing costs a few
    index probes, not a scan of every order. ``merchant_ids`` narrows those look-ups (None: every merchant).
    """
    term = term.strip()
    if not term:
        return queryset
    identifiers = queryset.filter(
        Q(number__in={term, term.upper()}) | Q(channel_order_id=term) | Q(awb__in={term, term.upper()})
    )
    if identifiers.exists():
        return identifiers
    scope = {} if merchant_ids is None else {"merchant_id__in": merchant_ids}
    found = None
    lines = OrderLine.objects.filter(**scope, sku__iexact=term)
    matching_lines = lines.order_by()[: COMMON_SKU_LINES + 1].count()
    if matching_lines > COMMON_SKU_LINES:
        # A common SKU: its orders are dense in any ordering, so each listed order is checked through the lines'
        # order index (EXISTS), rather than first collecting a million order ids.
        found = Exists(OrderLine.objects.filter(order=OuterRef("pk"), sku__iexact=term))
    elif matching_lines:
        found = Q(pk__in=lines.values("order_id"))
    customers = matching_customers(term, merchant_ids)
    if customers is not None:
        found = Q(customer__in=customers) if found is None else Q(found) | Q(customer__in=customers)
    return queryset.none() if found is None else queryset.filter(found)


def matching_customers(term: str, merchant_ids: list[int] | None = None) -> QuerySet | None:
    """The ids of the customers ``term`` names (an email, a phone, or part of a name), None if there are none:
    one indexed probe, so a search for orders or shipments by customer never scans them to find nothing."""
    scope = {} if merchant_ids is None else {"merchant_id__in": merchant_ids}
    customers = Customer.objects.filter(**scope).filter(_customer_condition(term)).values("pk")
    return customers if customers.exists() else None


def _customer_condition(term: str) -> Q:
    """Customers by email (stored lower-case), phone (stored E.164) or part of the name (a trigram index on
    PostgreSQL)."""
    if "@" in term:
        return Q(email=term.lower())
    if PHONE_LIKE.fullmatch(term):
        with suppress(ValidationError):  # digits that are no phone number: read as part of a name
            return Q(phone=normalize_phone(term))
    return Q(name__icontains=term)


def customer_search(queryset: QuerySet[Customer], term: str) -> QuerySet[Customer]:
    """The customers of ``queryset`` a merchant means by ``term``: an email or a phone exactly (through the unique
    (merchant, email) and (merchant, phone) indexes), else part of the name (a trigram index on PostgreSQL)."""
    term = term.strip()
    return queryset.filter(_customer_condition(term)) if term else queryset


def customer_history(customer: Customer) -> dict:
    """The customer's orders with their merchant: how many, delivered, returned to origin, cancelled, and the first
    order's time (one query)."""
    return Order.objects.filter(merchant_id=customer.merchant_id, customer=customer).aggregate(
        orders=Count("pk"),
        delivered=Count("pk", filter=Q(status__in=(OrderStatus.DELIVERED, OrderStatus.PARTIALLY_RETURNED,
                                                   OrderStatus.RETURNED))),
        rto=Count("pk", filter=Q(status__in=(OrderStatus.RTO, OrderStatus.RTO_DELIVERED))),
        cancelled=Count("pk", filter=Q(status=OrderStatus.CANCELLED)),
        first_ordered_at=Min("ordered_at"),
    )  # fmt: skip


def order_rows(queryset: QuerySet[Order]) -> QuerySet:
    """The orders of ``queryset`` as dicts, one query, no model instances: lists are the API's busiest path."""
    return queryset.select_related(None).prefetch_related(None).values(*ORDER_ROW_FIELDS)


def with_lines(rows: list[dict]) -> list[dict]:
    """Attach each order row's lines (one query for all of them), in line order."""
    lines: dict[int, list[dict]] = {row["id"]: [] for row in rows}
    for line in OrderLine.objects.filter(order_id__in=list(lines)).order_by("id").values(*LINE_ROW_FIELDS):
        lines[line["order_id"]].append(line)
    for row in rows:
        row["lines"] = lines[row["id"]]
    return rows


def return_queryset() -> QuerySet[Return]:
    return Return.objects.select_related("order").prefetch_related(
        Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line").order_by("id"))
    )


def _iso(value) -> str:
    return value.isoformat() if value else ""


def order_export_rows(queryset: QuerySet[Order]) -> Iterator[list]:
    """The header, then one row per order line, read in chunks so memory stays flat.

    Text people typed is neutralised against spreadsheet formulas (a leading apostrophe); the import strips it.
    """
    yield EXPORT_COLUMNS
    queryset = (
        queryset.select_related("channel", "customer", "pickup_location")
        .prefetch_related(None)
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")))
    )
    for order in queryset.iterator(chunk_size=EXPORT_CHUNK):
        ship = order.shipping_address
        head = [
            order.number, csv_text(order.channel.name), csv_text(order.channel_order_id), order.status,
            _iso(order.ordered_at), order.payment_method, order.payment_status, csv_text(order.customer.name),
            csv_text(order.customer.email), order.customer.phone, csv_text(ship.get("name", "")),
            ship.get("phone", ""), csv_text(ship.get("line1", "")), csv_text(ship.get("line2", "")),
            csv_text(ship.get("city", "")), csv_text(ship.get("state", "")), csv_text(ship.get("postcode", "")),
            ship.get("country", ""),
        ]  # fmt: skip
        tail = [
            order.shipping_charge, order.cod_charge, order.total, order.currency, order.weight_grams, order.length_cm,
            order.breadth_cm, order.height_cm, order.pickup_location.nickname, _iso(order.packed_at),
            _iso(order.shipped_at), _iso(order.delivered_at), order.awb, order.courier, order.eway_bill_number,
        ]  # fmt: skip
        for line in order.lines.all():
            yield [*head, csv_text(line.sku), csv_text(line.name), line.quantity, line.unit_price, line.discount,
                   line.tax_rate, line.hsn_code, line.uqc, *tail]  # fmt: skip


IMPORT_ERROR_COLUMNS = ["row", "column", "value", "message"]


def import_error_rows(job: BulkImport) -> Iterator[list]:
    """A job's error report as CSV rows, header first, read in chunks (the API and the admin stream it)."""
    yield IMPORT_ERROR_COLUMNS
    cells = (ImportRowError.objects.filter(job=job).order_by("row", "id")
             .values_list("row", "column", "value", "message").iterator(chunk_size=2000))  # fmt: skip
    for row, column, value, message in cells:
        yield [row, column, csv_text(value), csv_text(message)]

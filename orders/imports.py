"""File imports of orders, products and inventory: the service behind /imports/, the admin and ``import_file``.

A file is read as a stream (CSV, UTF-8 with or without BOM, or XLSX), so
memory does not grow with its size. Each row is checked with the API's own
rules: the field definitions of the API serializers for types and limits,
then the order services' ``order_prepare`` for everything else. Orders are
written in chunks, each chunk in one transaction with set-based inserts, and
the job's resume point (``next_row``) is committed with it: a job whose worker
died starts again after its last committed chunk, and orders that already
exist (same channel order id) are skipped, never duplicated.
"""

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework import serializers

from catalog import services as catalog_services
from catalog.api.serializers import ProductInput
from catalog.models import Location, Product
from orders import outbox, services
from orders.api.serializers import AddressInput, CustomerInput, OrderInput, OrderLineInput
from orders.models import (
    BulkImport,
    Channel,
    ChannelKind,
    Customer,
    ErrorPolicy,
    ImportKind,
    ImportRowError,
    ImportStatus,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from orders.selectors import EXPORT_COLUMNS
from shopops.api.exceptions import ApiError
from shopops.bulk import copy_rows, new_ids, pg_array, pg_cursor
from shopops.errors import DomainError
from shopops.models import Merchant
from shopops.services import counter_next
from shopops.validation import as_id

CHUNK_ORDERS = 2000
MAX_ERRORS = 10_000  # a file this broken is reported up to here
HEARTBEAT = timedelta(seconds=30)

#: The order columns are the orders export's (one row per line), so an export imports as it is.
ORDER_COLUMNS = EXPORT_COLUMNS
ORDER_REQUIRED = ["channel_order_id", "payment_method", "shipping_name", "shipping_phone", "shipping_line1",
                  "shipping_city", "shipping_postcode", "sku", "quantity", "unit_price"]  # fmt: skip
#: Columns that belong to the order (the same on each of its rows), and the line's own.
LINE_COLUMNS = {"sku", "name", "quantity", "unit_price", "discount", "tax_rate", "hsn_code"}
#: Written by the export, ignored by the import: ShopOps numbers the orders it imports.
IGNORED_COLUMNS = {"order_number"}
#: Imported orders start new, or arrive as history: delivered or cancelled (stock is not touched).
IMPORT_STATUSES = (OrderStatus.NEW, OrderStatus.DELIVERED, OrderStatus.CANCELLED)

PRODUCT_COLUMNS = ["sku", "title", "description", "brand", "category", "hsn_code", "tax_rate", "mrp", "price",
                   "currency", "weight_grams", "length_cm", "breadth_cm", "height_cm", "barcode", "status"]  # fmt: skip
PRODUCT_REQUIRED = ["sku", "title", "price"]
INVENTORY_COLUMNS = ["sku", "location", "action", "quantity", "reason", "low_stock_threshold"]
INVENTORY_REQUIRED = ["sku", "location", "quantity"]

TEMPLATES = {
    ImportKind.ORDERS: (ORDER_COLUMNS, [
        ["", "Website", "WEB-10492", "new", "2026-11-28T10:15:00+05:30", "cod", "", "Priya Sharma",
         "priya@example.in", "+919812345678", "Priya Sharma", "+919812345678", "42 Residency Road", "",
         "Bengaluru", "Karnataka", "560025", "IN", "TEE-RED-M", "Cotton crew T-shirt (red, M)", "2", "499.00",
         "0.00", "5.00", "6109", "49.00", "1047.00", "INR", "", "", "", "", "blr-wh", "", "", "", "", ""],
    ]),
    ImportKind.PRODUCTS: (PRODUCT_COLUMNS, [
        ["TEE-GRN-M", "Cotton crew T-shirt (green, M)", "100% cotton", "Loomwear", "apparel", "6109", "5.00",
         "699.00", "499.00", "INR", "180", "28", "22", "2", "5901234123457", "active"],
    ]),
    ImportKind.INVENTORY: (INVENTORY_COLUMNS, [["TEE-GRN-M", "blr-wh", "set", "24", "Stock count 28 Nov", "5"]]),
}  # fmt: skip

ADDRESS_COLUMN = {"name": "shipping_name", "phone": "shipping_phone", "line1": "shipping_line1",
                  "line2": "shipping_line2", "city": "shipping_city", "state": "shipping_state",
                  "postcode": "shipping_postcode", "country": "shipping_country"}  # fmt: skip


class FileRejected(Exception):
    """The file as a whole cannot be imported (not CSV/XLSX, empty, required columns missing)."""


@dataclass
class RowError:
    row: int
    column: str
    value: str
    message: str


# -- reading --------------------------------------------------------------------------


def _normalise_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", (name or "").strip().lower().lstrip("\ufeff"))


def _unformula(value: str) -> str:
    """Undo the export's guard against spreadsheet formulas: a leading apostrophe before = + - @."""
    return value[1:] if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r" else value


def read_records(fileobj) -> Iterator:
    """The header's column names, then (line number, values) for each data row of a CSV or XLSX file.

    The header is line 1. Values are stripped and come one per column name, plus a trailing "": the value
    that a column the file does not have reads (see ``_Layout``). Blank rows are skipped. Lists, not dicts:
    an import of a few hundred thousand rows spends its time here otherwise.
    """
    head = fileobj.read(8192)
    fileobj.seek(0)
    if isinstance(head, str):
        head = head.encode()
    if head.startswith(b"PK\x03\x04"):
        yield from _xlsx_records(fileobj)
        return
    if not head.strip():
        raise FileRejected("The file is empty.")
    if b"\x00" in head:
        raise FileRejected("The file is not a CSV (UTF-8) or XLSX file.")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut at the end of the sample
            raise FileRejected("The file is not UTF-8 text; save it as CSV UTF-8 or XLSX.") from exc
    text = io.TextIOWrapper(fileobj, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text)
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise FileRejected("The file is empty.")
        names = [_normalise_header(h) for h in header]
        yield names
        yield from _records(names, enumerate(reader, start=2), unformula=True)
    except UnicodeDecodeError as exc:
        raise FileRejected("The file is not UTF-8 text; save it as CSV UTF-8 or XLSX.") from exc
    except csv.Error as exc:
        raise FileRejected(f"The CSV is malformed: {exc}.") from exc
    finally:
        if not fileobj.closed:
            text.detach()


def _records(names: list[str], rows, *, unformula: bool) -> Iterator[tuple[int, list[str]]]:
    width, strip = len(names), str.strip
    for number, cells in rows:
        values = list(map(strip, cells))
        if not any(values):
            continue
        if len(values) != width:
            values = values[:width] + [""] * (width - len(values))
        if unformula:
            joined = "\n".join(values)  # one search per row instead of one test per value
            if joined[:1] == "'" or "\n'" in joined:
                values = [_unformula(v) if v[:1] == "'" else v for v in values]
        values.append("")
        yield number, values


def read_rows(fileobj) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) for each data row of a CSV or XLSX file; the header is line 1."""
    records = read_records(fileobj)
    try:
        names = next(records)
        for number, values in records:
            yield number, {name: value for name, value in zip(names, values, strict=False) if name}
    finally:
        records.close()


def _xlsx_records(fileobj) -> Iterator:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(fileobj, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileRejected("The file is not a readable XLSX workbook.") from exc
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if not header or not any(header):
            raise FileRejected("The file is empty.")
        names = [_normalise_header(str(h or "")) for h in header]
        yield names
        cells = (
            (number, ["" if v is None else (v.isoformat() if isinstance(v, datetime) else str(v)) for v in values])
            for number, values in enumerate(rows, start=2)
        )
        yield from _records(names, cells, unformula=False)
    finally:
        workbook.close()


def import_file_problem(upload) -> str | None:
    """Why an uploaded file cannot be an import (empty, not CSV UTF-8 or XLSX, no data row), or None.

    Reads only the header and the first row; the rest (columns, values) is the job's to check row by row.
    """
    if upload.size == 0:
        return "The file is empty."
    rows = read_rows(upload)
    try:
        if next(rows, None) is None:
            return "The file has a header but no rows."
    except FileRejected as exc:
        return str(exc)
    finally:
        rows.close()
        upload.seek(0)
    return None


def check_columns(kind: str, columns: set[str]) -> None:
    required = {ImportKind.ORDERS: ORDER_REQUIRED, ImportKind.PRODUCTS: PRODUCT_REQUIRED,
                ImportKind.INVENTORY: INVENTORY_REQUIRED}[kind]  # fmt: skip
    missing = [name for name in required if name not in columns]
    if missing:
        raise FileRejected(f"Required columns are missing: {', '.join(missing)}.")


def file_checksum(fileobj) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: fileobj.read(1 << 20), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


# -- orders: rows to orders ---------------------------------------------------------------

#: The line's columns in the order ``_Layout.line`` reads them; the order's scalar columns as OrderInput names them.
LINE_FIELDS = ("sku", "name", "quantity", "unit_price", "discount", "tax_rate", "hsn_code")
ORDER_SCALARS = ("channel", "channel_order_id", "payment_method", "payment_status", "shipping_charge", "total",
                 "currency", "weight_grams", "length_cm", "breadth_cm", "height_cm", "pickup_location",
                 "ordered_at")  # fmt: skip
CUSTOMER_KEYS = ("name", "email", "phone")
REPEATED_ORDER = "The order appears again further down the file; keep its rows together."
MEMO_MAX = 50_000  # distinct addresses, customers, lines... an import remembers before it starts again


def _getter(indexes: list[int]) -> Callable[[list[str]], tuple]:
    """A function giving the values at ``indexes`` as a tuple (itemgetter gives a bare value for one index)."""
    if len(indexes) == 1:
        (index,) = indexes
        return lambda values: (values[index],)
    return itemgetter(*indexes) if indexes else lambda values: ()


class _Layout:
    """Where the columns of an orders file are in a row's values; a column the file lacks reads the trailing ""."""

    def __init__(self, names: list[str]):
        self.index: dict[str, int] = {}
        for position, name in enumerate(names):
            if name:
                self.index[name] = position  # a repeated name: the last one counts, as in a dict of the row
        self.missing = len(names)
        #: the order's own columns: the same on each of its rows
        self.head_names = [n for n in self.index if n not in LINE_COLUMNS and n not in IGNORED_COLUMNS]
        self.head = _getter([self.index[n] for n in self.head_names])
        self.key = _getter([self.at("channel"), self.at("channel_order_id")])
        self.line = _getter([self.at(n) for n in LINE_FIELDS])
        self.address = _getter([self.at(column) for column in ADDRESS_COLUMN.values()])
        self.customer = _getter([self.at(f"customer_{key}") for key in CUSTOMER_KEYS])
        self.scalars = [(name, self.index[name]) for name in ORDER_SCALARS if name in self.index]

    def at(self, name: str) -> int:
        return self.index.get(name, self.missing)


@dataclass
class ParsedOrder:
    first_row: int
    first: list[str]  # the values of its first row, where its order-level values are read
    head: tuple  # its order-level values (``_Layout.head``), which its other rows must repeat
    layout: _Layout
    rows: list[int] = field(default_factory=list)
    lines: list[tuple[int, tuple]] = field(default_factory=list)  # (row, values of LINE_FIELDS)
    inconsistent: bool = False  # its rows disagree on an order-level value: the order is not imported

    def value(self, column: str) -> str:
        return self.first[self.layout.at(column)]


def _group_orders(records, layout: _Layout, errors: list[RowError]) -> Iterator[ParsedOrder]:
    """Consecutive rows with the same channel and channel order id make one order."""
    current: ParsedOrder | None = None
    current_key = None
    seen: set[tuple[str, str]] = set()
    key_of, head_of, line_of = layout.key, layout.head, layout.line
    for number, values in records:
        key = key_of(values)
        if current is not None and key == current_key:
            head = head_of(values)
            if head != current.head:
                for name, value, first in zip(layout.head_names, head, current.head, strict=True):
                    if value != first:
                        errors.append(RowError(number, name, value, f"Differs from row {current.first_row} of the "
                                               f"same order ({first!r})."))  # fmt: skip
                current.inconsistent = True
            current.rows.append(number)
            current.lines.append((number, line_of(values)))
            continue
        if current is not None:
            yield current
        if key[1] and key in seen:
            errors.append(RowError(number, "channel_order_id", key[1], REPEATED_ORDER))
            current = current_key = None
            continue
        seen.add(key)
        current = ParsedOrder(number, values, head_of(values), layout, [number], [(number, line_of(values))])
        current_key = key
    if current is not None:
        yield current


_ORDER_FIELDS = OrderInput().fields
_LINE_FIELDS = OrderLineInput().fields
_ADDRESS_FIELDS = AddressInput().fields
_CUSTOMER_FIELDS = CustomerInput().fields


_converted: dict[tuple[int, str, str], tuple[bool, Any]] = {}


def _convert(fields, name: str, raw: str, row: int, column: str, errors: list[RowError]):
    """One CSV value through the API serializer field of the same name (types, limits, choices).

    Fields are pure functions of the value, and files repeat values (prices, quantities, methods,
    countries): results are remembered for the process, bounded in size.
    """
    key = (id(fields), name, raw)
    cached = _converted.get(key)
    if cached is None:
        try:
            cached = (True, fields[name].run_validation(raw))
        except serializers.ValidationError as exc:
            cached = (False, " ".join(str(m) for m in (exc.detail if isinstance(exc.detail, list) else [exc.detail])))
        if len(_converted) > 200_000:
            _converted.clear()
        _converted[key] = cached
    ok, value = cached
    if ok:
        return value
    errors.append(RowError(row, column, raw, value))
    return None


class _Memo(dict):
    """Values an import derived from a group of cells (an address, a customer, a line), by those cells.

    Files repeat them: each distinct group goes through the serializer fields once per file, not once a row.
    Bounded: past MEMO_MAX entries it starts again, so memory stays flat whatever the file's size.
    """

    def remember(self, key, value):
        if len(self) >= MEMO_MAX:
            self.clear()
        self[key] = value
        return value


def _convert_group(memo: _Memo, kind: str, fields, keys, columns, raw: tuple, required=()) -> tuple[dict, list]:
    """(converted {key: value}, [(column, value, message)]) of the cells ``raw`` of ``columns``."""
    known = memo.get((kind, raw))
    if known is None:
        problems: list[RowError] = []
        converted = {}
        for key, column, value in zip(keys, columns, raw, strict=True):
            if value != "":
                converted[key] = _convert(fields, key, value, 0, column, problems)
        found = [(e.column, e.value, e.message) for e in problems]
        found += [(key, "", "This field is required.") for key in required if key not in converted]
        known = memo.remember((kind, raw), (converted, found))
    return known


_ADDRESS_KEYS, _ADDRESS_COLUMNS = tuple(ADDRESS_COLUMN), tuple(ADDRESS_COLUMN.values())
_CUSTOMER_COLUMNS = tuple(f"customer_{key}" for key in CUSTOMER_KEYS)


def _order_data(parsed: ParsedOrder, errors: list[RowError], memo: _Memo) -> dict[str, Any] | None:
    """The dict OrderInput would give for this order, or None with the type errors recorded."""
    values, row, layout, before = parsed.first, parsed.first_row, parsed.layout, len(errors)
    data: dict[str, Any] = {}
    for name, index in layout.scalars:
        if values[index] != "":
            data[name] = _convert(_ORDER_FIELDS, name, values[index], row, name, errors)
    for name, fields, keys, columns, raw in (
        ("shipping_address", _ADDRESS_FIELDS, _ADDRESS_KEYS, _ADDRESS_COLUMNS, layout.address(values)),
        ("customer", _CUSTOMER_FIELDS, CUSTOMER_KEYS, _CUSTOMER_COLUMNS, layout.customer(values)),
    ):
        data[name], problems = _convert_group(memo, name, fields, keys, columns, raw)
        if problems:
            errors.extend(RowError(row, *problem) for problem in problems)
    lines = data["lines"] = []
    for number, raw in parsed.lines:
        line, problems = _convert_group(memo, "line", _LINE_FIELDS, LINE_FIELDS, LINE_FIELDS, raw,
                                        required=("sku", "quantity", "unit_price"))  # fmt: skip
        if problems:
            errors.extend(RowError(number, *problem) for problem in problems)
        lines.append(line)
    status = parsed.value("status") or OrderStatus.NEW
    if status not in IMPORT_STATUSES:
        errors.append(RowError(row, "status", status, "Import orders as new, delivered or cancelled; confirm and "
                               "pack them in ShopOps, where stock is reserved."))  # fmt: skip
    data["_status"] = status
    data["_awb"], data["_courier"] = parsed.value("awb")[:40], parsed.value("courier")[:40]
    for name in ("packed_at", "shipped_at", "delivered_at"):
        if raw := parsed.value(name):
            data[f"_{name}"] = _convert(_ORDER_FIELDS, "ordered_at", raw, row, name, errors)
    if data.get("_packed_at") and data.get("_shipped_at") and data["_packed_at"] > data["_shipped_at"]:
        errors.append(RowError(row, "packed_at", parsed.value("packed_at"), "Must not be after shipped_at."))
    return None if len(errors) > before else data


def _path_to_cell(path: str, parsed: ParsedOrder, data: dict) -> tuple[int, str, str]:
    """A validation error's field path (``lines.1.quantity``) as the file's (row, column, value)."""
    parts = path.split(".")
    if parts[0] == "lines" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(parsed.lines):
        row, raw = parsed.lines[int(parts[1])]
        column = parts[2] if len(parts) > 2 else "sku"
        return row, column, raw[LINE_FIELDS.index(column)] if column in LINE_FIELDS else ""
    if parts[0] == "shipping_address" and len(parts) > 1:
        column = ADDRESS_COLUMN.get(parts[1], parts[1])
    elif parts[0] == "customer" and len(parts) > 1:
        column = f"customer_{parts[1]}"
    else:
        column = parts[0]
    return parsed.first_row, column, parsed.value(column) if column not in LINE_COLUMNS else ""


# -- orders: set-based writes -----------------------------------------------------------


@dataclass
class ChunkResult:
    created: int = 0
    skipped_rows: int = 0


@dataclass
class ImportSession:
    """What one run of an import remembers between its chunks, each part bounded (MEMO_MAX entries)."""

    memo: _Memo = field(default_factory=_Memo)  # converted cells, encoded JSON
    #: ("phone" | "email", value) -> id of a customer that has orders, as of the last committed chunk
    customers: _Memo = field(default_factory=_Memo)
    pending: list[tuple[str, str, int]] = field(default_factory=list)  # (phone, email, id) of the open chunk

    def committed(self) -> None:
        """The chunk's customers have orders from now on: later chunks need not look them up."""
        for phone, email, pk in self.pending:
            if phone:
                self.customers.remember(("phone", phone), pk)
            if email:
                self.customers.remember(("email", email), pk)
        self.pending.clear()


ORDER_COPY_COLUMNS = (
    "id", "merchant_id", "number", "channel_id", "channel_order_id", "status", "payment_method", "payment_status",
    "customer_id", "is_returning_customer", "shipping_address", "billing_address", "subtotal", "discount_total",
    "shipping_charge", "tax_total", "total", "currency", "weight_grams", "length_cm", "breadth_cm", "height_cm",
    "pickup_location_id", "ordered_at", "packed_at", "shipped_at", "delivered_at", "cancelled_at", "awb", "courier",
)  # fmt: skip
LINE_COPY_COLUMNS = ("merchant_id", "order_id", "product_id", "sku", "name", "quantity", "unit_price", "discount",
                     "tax_rate", "tax_amount", "hsn_code", "total")  # fmt: skip
EVENT_COPY_COLUMNS = ("merchant_id", "order_id", "kind", "to_status", "actor", "message", "data")


def _json(memo: _Memo, value: dict) -> str:
    """``value`` (a flat dict of strings, e.g. an address) as JSON, encoded once per distinct value."""
    key = ("json", *value.items())
    known = memo.get(key)
    return known if known is not None else memo.remember(key, json.dumps(value))


def _write_orders(merchant: Merchant, batch: list[tuple[ParsedOrder, dict, services.PreparedOrder]], actor: str,
                  session: ImportSession | None = None) -> ChunkResult:  # fmt: skip
    """Insert a chunk of prepared orders with their lines, events and customer counters; skip existing ones.

    One COPY per table. Values repeated across orders (addresses, event data) are encoded once.
    """
    session = session or ImportSession()
    memo, result = session.memo, ChunkResult()
    existing = _existing_orders([(p.channel.pk, p.channel_order_id) for _, _, p in batch])
    fresh = []
    for parsed, data, prepared in batch:
        if (prepared.channel.pk, prepared.channel_order_id) in existing:
            result.skipped_rows += len(parsed.rows)
        else:
            fresh.append((parsed, data, prepared))
    if not fresh:
        return result
    customers = _customers_for(merchant, [prepared for _, _, prepared in fresh], session)
    first_number = counter_next(merchant=merchant, name="order", count=len(fresh))
    ids = new_ids(Order, len(fresh))
    orders, lines, events, counts = [], [], [], []
    seen_customers: set[int] = set()
    merchant_id, prefix, cancelled = merchant.pk, services.ORDER_NUMBER_PREFIX, OrderStatus.CANCELLED
    for order_id, number, (_, data, p), (customer_id, was_customer) in zip(
        ids, range(first_number, first_number + len(fresh)), fresh, customers, strict=True
    ):
        returning = was_customer or customer_id in seen_customers
        seen_customers.add(customer_id)
        status, shipped = data["_status"], data.get("_shipped_at")
        shipping = _json(memo, p.shipping_address)
        billing = shipping if p.billing_address is p.shipping_address else _json(memo, p.billing_address)
        orders.append((
            order_id, merchant_id, f"{prefix}{number:06d}", p.channel.pk, p.channel_order_id, status,
            p.payment_method, p.payment_status, customer_id, returning, shipping, billing, p.subtotal,
            p.discount_total, p.shipping_charge, p.tax_total, p.total, p.currency, p.weight_grams, p.length_cm,
            p.breadth_cm, p.height_cm, p.pickup_location.pk, p.ordered_at, data.get("_packed_at") or shipped, shipped,
            data.get("_delivered_at"), p.ordered_at if status == cancelled else None, data["_awb"], data["_courier"],
        ))  # fmt: skip
        unmapped = tuple(ln.sku for ln in p.lines if ln.product_id is None)
        event_key = ("event", returning, unmapped)
        event_data = memo.get(event_key) or memo.remember(
            event_key, json.dumps({"returning_customer": returning, "unmapped_skus": list(unmapped)}))  # fmt: skip
        events.append((merchant_id, order_id, "created", status, actor, f"Imported from {p.channel.name}", event_data))
        for ln in p.lines:
            lines.append((merchant_id, order_id, ln.product_id, ln.sku, ln.name, ln.quantity, ln.unit_price,
                          ln.discount, ln.tax_rate, ln.tax_amount, ln.hsn_code, ln.total))  # fmt: skip
        counts.append((customer_id, p.total, p.ordered_at))
    copy_rows(Order, ORDER_COPY_COLUMNS, orders)
    copy_rows(OrderLine, LINE_COPY_COLUMNS, lines)
    copy_rows(OrderEvent, EVENT_COPY_COLUMNS, events)
    _count_customers(counts)
    result.created = len(orders)
    return result


def _existing_orders(keys: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of these (channel id, channel order id) are orders already."""
    channels, order_ids = {k[0] for k in keys}, {k[1] for k in keys}
    if connection.vendor != "postgresql":
        return set(Order.objects.filter(channel_id__in=channels, channel_order_id__in=order_ids)
                   .values_list("channel_id", "channel_order_id"))  # fmt: skip
    with pg_cursor() as cursor:
        cursor.execute("SELECT channel_id, channel_order_id FROM orders_order "
                       "WHERE channel_id = ANY(%s::bigint[]) AND channel_order_id = ANY(%s::text[])",
                       [pg_array(channels), pg_array(order_ids)])  # fmt: skip
        return set(cursor.fetchall())


def _find_customers(merchant: Merchant, column: str, values: set[str]) -> dict[str, tuple[int, int]]:
    """{phone or email: (id, orders_count)} of the merchant's customers with these values of ``column``."""
    if not values:
        return {}
    if connection.vendor != "postgresql":
        found = Customer.objects.filter(merchant=merchant, **{f"{column}__in": values})
        return {value: (pk, n) for pk, value, n in found.values_list("id", column, "orders_count")}
    with pg_cursor() as cursor:  # the condition <> '' lets PostgreSQL use the partial unique index
        cursor.execute(f"SELECT {column}, id, orders_count FROM orders_customer "
                       f"WHERE merchant_id = %s AND {column} = ANY(%s::text[]) AND {column} <> ''",
                       [merchant.pk, pg_array(values)])  # fmt: skip
        return {value: (pk, n) for value, pk, n in cursor.fetchall()}


def _customers_for(merchant: Merchant, prepared: list[services.PreparedOrder],
                   session: ImportSession) -> list[tuple[int, bool]]:  # fmt: skip
    """Each order's (customer id, had orders before): matched by phone, else email, as order_create matches.

    Customers the import already gave orders to are remembered (after their chunk commits) and not looked up.
    """
    known = session.customers
    phones = {p.customer["phone"] for p in prepared if p.customer.get("phone")}
    by_phone = {phone: (known[("phone", phone)], 1) for phone in phones if ("phone", phone) in known}
    by_phone.update(_find_customers(merchant, "phone", phones - by_phone.keys()))
    emails = {
        p.customer["email"] for p in prepared if p.customer.get("email") and p.customer.get("phone") not in by_phone
    }
    by_email = {email: (known[("email", email)], 1) for email in emails if ("email", email) in known}
    by_email.update(_find_customers(merchant, "email", emails - by_email.keys()))
    rows: list[tuple] = []
    new_phone: dict[str, int] = {}
    new_email: dict[str, int] = {}
    for p in prepared:
        phone, email = p.customer.get("phone", ""), p.customer.get("email", "")
        if (phone and (phone in by_phone or phone in new_phone)) or (
            email and (email in by_email or email in new_email)
        ):
            continue
        if phone:
            new_phone[phone] = len(rows)
        if email:
            new_email[email] = len(rows)
        rows.append((merchant.pk, p.customer.get("name", ""), phone, email))
    ids = copy_rows(Customer, ("merchant_id", "name", "phone", "email"), rows)
    by_phone.update({phone: (ids[index], 0) for phone, index in new_phone.items()})
    by_email.update({email: (ids[index], 0) for email, index in new_email.items()})
    result = []
    for p in prepared:
        phone, email = p.customer.get("phone", ""), p.customer.get("email", "")
        pk, orders_count = (by_phone.get(phone) if phone else None) or by_email[email]
        result.append((pk, orders_count > 0))
        session.pending.append((phone, email, pk))  # remembered once the chunk commits (ImportSession.committed)
    return result


def _count_customers(orders: list[tuple[int, Decimal, datetime]]) -> None:
    """Add the chunk's orders ((customer id, total, ordered at)) to their customers' counters: one statement."""
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
        columns = [pg_array(totals), *(pg_array(column) for column in zip(*totals.values(), strict=True))]
        with pg_cursor() as cursor:
            cursor.execute(
                "UPDATE orders_customer c SET orders_count = c.orders_count + v.n, "
                "total_spent = c.total_spent + v.spent, "
                "first_order_at = LEAST(COALESCE(c.first_order_at, v.first), v.first), "
                "last_order_at = GREATEST(COALESCE(c.last_order_at, v.last), v.last), updated_at = now() "
                "FROM unnest(%s::bigint[], %s::int[], %s::numeric[], %s::timestamptz[], %s::timestamptz[]) "
                "AS v(id, n, spent, first, last) WHERE c.id = v.id",
                columns,
            )
        return
    for pk, (count, spent, first, last) in totals.items():
        customer = Customer.objects.get(pk=pk)
        Customer.objects.filter(pk=pk).update(
            orders_count=F("orders_count") + count, total_spent=F("total_spent") + spent,
            first_order_at=min(filter(None, [customer.first_order_at, first])),
            last_order_at=max(filter(None, [customer.last_order_at, last])),
        )  # fmt: skip


# -- running a job ---------------------------------------------------------------------------


def import_create(*, merchant: Merchant, kind: str, upload, file_name: str, dry_run: bool, error_policy: str,
                  actor: str) -> BulkImport:  # fmt: skip
    """Store the uploaded file and its job; the caller enqueues ``import_run`` on commit."""
    checksum = file_checksum(upload)
    job = BulkImport(merchant=merchant, kind=kind, file_name=file_name[:255], checksum=checksum, dry_run=dry_run,
                     error_policy=error_policy, created_by=actor)  # fmt: skip
    job.file.save(file_name, File(upload, name=file_name), save=False)
    job.save()
    return job


def import_run(*, job_id: int, on_progress=None) -> BulkImport:
    """Process (or resume) a job to the end. Idempotent: a finished job is left as it is.

    ``on_progress(processed_rows)`` is called after each committed chunk (the ``import_file`` progress bar).
    """
    job = BulkImport.objects.select_related("merchant").get(pk=job_id)
    job.on_progress = on_progress
    if job.status in (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.PARTIALLY_FAILED):
        return job
    if job.started_at is None:
        BulkImport.objects.filter(pk=job.pk).update(started_at=timezone.now())
    runner = {ImportKind.ORDERS: _run_orders, ImportKind.PRODUCTS: _run_products,
              ImportKind.INVENTORY: _run_inventory}[job.kind]  # fmt: skip
    try:
        with job.file.open("rb") as fileobj:
            runner(job, fileobj)
    except FileRejected as exc:
        _finish(job, ImportStatus.FAILED, error=str(exc))
    job.refresh_from_db()
    return job


def _finish(job: BulkImport, status: str | None = None, error: str = "") -> None:
    job.refresh_from_db()
    if status is None:
        status = ImportStatus.PARTIALLY_FAILED if job.failed_count else ImportStatus.DONE
    job.status, job.error, job.finished_at = status, error, timezone.now()
    with transaction.atomic():
        BulkImport.objects.filter(pk=job.pk).update(status=status, error=error, finished_at=job.finished_at,
                                                    updated_at=job.finished_at)  # fmt: skip
        outbox.import_emit(job)


def import_fail_stuck(*, older_than: timedelta) -> int:
    """Mark failed the running jobs whose worker stopped beating (time limit exceeded, lost worker)."""
    now, error = timezone.now(), "The import stopped making progress (worker lost or time limit)."
    with transaction.atomic():
        running = [ImportStatus.VALIDATING, ImportStatus.IMPORTING]
        silent = BulkImport.objects.filter(status__in=running, heartbeat_at__lt=now - older_than)
        stuck = list(silent.select_for_update())
        ids = [job.pk for job in stuck]
        BulkImport.objects.filter(pk__in=ids).update(status=ImportStatus.FAILED, error=error, finished_at=now)
        for job in stuck:
            job.status, job.error, job.finished_at = ImportStatus.FAILED, error, now
            outbox.import_emit(job)
    return len(stuck)


def _record_errors(job: BulkImport, errors: list[RowError]) -> None:
    if errors:
        ImportRowError.objects.bulk_create([
            ImportRowError(job=job, row=e.row, column=e.column[:100], value=str(e.value)[:255], message=e.message[:500])
            for e in errors
        ])  # fmt: skip


def _progress(job: BulkImport, **changes) -> None:
    now = timezone.now()
    BulkImport.objects.filter(pk=job.pk).update(heartbeat_at=now, updated_at=now, **changes)
    if getattr(job, "on_progress", None) and "processed_rows" in changes:
        job.on_progress(BulkImport.objects.values_list("processed_rows", flat=True).get(pk=job.pk))


def _orders_in(
    job: BulkImport, fileobj, catalog: services.Catalog, errors: list[RowError], start_row: int,
    session: ImportSession | None = None,
) -> Iterator[tuple[ParsedOrder, dict | None, services.PreparedOrder | None]]:  # fmt: skip
    """Each order of the file from ``start_row``: parsed, converted and prepared, or with its errors recorded."""
    memo = (session or ImportSession()).memo
    records = read_records(fileobj)
    try:
        names = next(records)
        first = next(records, None)
        if first is None:
            raise FileRejected("The file has a header but no rows.")
        check_columns(job.kind, {name for name in names if name})

        def all_records():
            yield first
            yield from records

        grouping: list[RowError] = []  # rows before start_row were reported with their chunk before a resume
        for parsed in _group_orders(all_records(), _Layout(names), grouping):
            if grouping:
                errors.extend(e for e in grouping if e.row >= start_row)
                grouping.clear()
            if parsed.first_row < start_row:
                continue
            data = _order_data(parsed, errors, memo)
            if parsed.inconsistent or data is None:
                yield parsed, None, None
                continue
            _extend_catalog(catalog, data)
            try:
                prepared = services.order_prepare(merchant=job.merchant, data=data, catalog=catalog)
            except ValidationError as exc:
                for path, messages in exc.message_dict.items():
                    row, column, value = _path_to_cell(path, parsed, data)
                    errors.extend(RowError(row, column, value, m) for m in messages)
                yield parsed, data, None
                continue
            if data.get("channel_order_id") is None:
                errors.append(RowError(parsed.first_row, "channel_order_id", "", "This field is required."))
                yield parsed, data, None
                continue
            yield parsed, data, prepared
        errors.extend(e for e in grouping if e.row >= start_row)
    finally:
        records.close()


def _extend_catalog(catalog: services.Catalog, data: dict) -> None:
    """Load the products this order names that the catalog cache has not seen yet."""
    products, unknown = catalog.products, catalog.unknown_skus
    if all(ln["sku"] in products or ln["sku"] in unknown for ln in data["lines"]):
        return
    missing = {ln["sku"] for ln in data["lines"]} - products.keys() - unknown
    found = Product.objects.filter(merchant=catalog.merchant, sku__in=missing, status="active")
    products.update({p.sku: p for p in found})
    unknown |= missing - {p.sku for p in found}


def _run_orders(job: BulkImport, fileobj) -> None:
    catalog = services.Catalog.for_orders(job.merchant, [])
    session = ImportSession()
    validate_first = job.dry_run or job.error_policy == ErrorPolicy.REJECT_FILE
    if validate_first and job.next_row == 0:
        _progress(job, status=ImportStatus.VALIDATING)
        ImportRowError.objects.filter(job=job).delete()
        errors: list[RowError] = []
        total, failed, seen = 0, set(), set()
        default_channel = Channel.objects.filter(merchant=job.merchant, is_default_api=True).first()
        catalog._default_channel = default_channel or Channel(
            merchant=job.merchant, name="API", kind=ChannelKind.API, is_default_api=True)  # fmt: skip
        for parsed, _, prepared in _orders_in(job, fileobj, catalog, errors, 0, session):
            total += len(parsed.rows)
            seen.update(parsed.rows)
            if prepared is None:
                failed.update(parsed.rows)
            if len(errors) >= MAX_ERRORS:
                break
            if total % 5000 < len(parsed.rows):
                _progress(job, processed_rows=total)
        failed_rows = len(failed | {e.row for e in errors})
        total = len(seen | {e.row for e in errors})  # rows of a repeated order id are only in errors
        _record_errors(job, errors)
        _progress(job, total_rows=total, processed_rows=total, failed_count=failed_rows)
        if errors and job.error_policy == ErrorPolicy.REJECT_FILE:
            error_rows = len({e.row for e in errors})
            _finish(job, ImportStatus.FAILED, error=f"{error_rows} row(s) have errors; nothing was imported.")
            return
        if job.dry_run:
            _finish(job)  # done, or partially_failed: what skip_failed_rows would do
            return
        catalog._default_channel = default_channel  # created on first use by the import, as order_create does
        fileobj.seek(0)
    _progress(job, status=ImportStatus.IMPORTING, **({"processed_rows": 0} if job.next_row == 0 else {}))
    job.refresh_from_db()
    batch, errors = [], []
    last_row = job.next_row - 1 if job.next_row else 0  # the last committed row
    failed_rows: set[int] = set()
    for parsed, data, prepared in _orders_in(job, fileobj, catalog, errors, job.next_row, session):
        last_row = parsed.rows[-1]
        if prepared is not None:
            batch.append((parsed, data, prepared))
        else:
            failed_rows.update(parsed.rows)
        if len(batch) >= CHUNK_ORDERS:
            _commit_chunk(job, batch, errors[:], failed_rows, last_row, session)
            batch = []
            errors.clear()  # the list _orders_in appends to: a new one would lose the next chunks' errors
            failed_rows = set()
    last_row = max([last_row, *(e.row for e in errors)])  # e.g. a repeated order on the file's last row
    _commit_chunk(job, batch, errors[:], failed_rows, last_row, session)
    _finish(job)


def _commit_chunk(job: BulkImport, batch: list, errors: list[RowError], failed: set[int], last_row: int,
                  session: ImportSession | None = None) -> None:  # fmt: skip
    """Write a chunk, its row errors and the job's counters and resume point in one transaction.

    ``failed``: the rows of the chunk's orders that are not imported; rows with errors count as failed too.
    """
    session = session or ImportSession()
    session.pending.clear()
    _write_chunk(job, batch, errors, failed, last_row, session)
    session.committed()


def _write_chunk(job: BulkImport, batch: list, errors: list[RowError], failed: set[int], last_row: int,
                 session: ImportSession) -> None:  # fmt: skip
    with transaction.atomic():
        locked = BulkImport.objects.select_for_update().get(pk=job.pk)
        if last_row and last_row < locked.next_row:
            return  # another worker already committed this chunk
        result = _write_orders(job.merchant, batch, job.created_by, session=session) if batch else ChunkResult()
        _record_errors(job, errors)
        written_rows = sum(len(parsed.rows) for parsed, _, _ in batch)
        failed_rows = len(failed | {e.row for e in errors})
        _progress(
            job,
            next_row=last_row + 1 if last_row else locked.next_row,
            processed_rows=F("processed_rows") + written_rows + failed_rows,
            created_count=F("created_count") + result.created,
            skipped_count=F("skipped_count") + result.skipped_rows,
            failed_count=F("failed_count") + failed_rows,
            total_rows=max(locked.total_rows, locked.processed_rows + written_rows + failed_rows),
        )


# -- products and inventory -----------------------------------------------------------------


_PRODUCT_FIELDS = ProductInput().fields


def _run_products(job: BulkImport, fileobj) -> None:
    """Products are upserted by SKU through product_bulk_upsert, 100 rows at a time."""
    _run_simple(job, fileobj, _product_chunk)


def _run_inventory(job: BulkImport, fileobj) -> None:
    """Each row adds, removes or sets (the default) the on-hand stock of a SKU at a location."""
    _run_simple(job, fileobj, _inventory_chunk)


def _run_simple(job: BulkImport, fileobj, handle_chunk) -> None:
    """Rows in chunks of 100 through ``handle_chunk``. A dry run or reject_file checks the whole file first,
    inside one transaction that is rolled back, and writes only if no row failed."""
    if (job.dry_run or job.error_policy == ErrorPolicy.REJECT_FILE) and job.next_row == 0:
        _progress(job, status=ImportStatus.VALIDATING)
        ImportRowError.objects.filter(job=job).delete()
        errors: list[RowError] = []
        total = 0
        with transaction.atomic():
            for chunk in _row_chunks(job, fileobj, 0):
                handle_chunk(job, chunk, errors)
                total += len(chunk)
            transaction.set_rollback(True)
        failed_rows = len({e.row for e in errors})
        _record_errors(job, errors)
        _progress(job, total_rows=total, processed_rows=total, failed_count=failed_rows)
        if errors and job.error_policy == ErrorPolicy.REJECT_FILE:
            _finish(job, ImportStatus.FAILED, error=f"{failed_rows} row(s) have errors; nothing was imported.")
            return
        if job.dry_run:
            _finish(job)  # done, or partially_failed: what skip_failed_rows would do
            return
        fileobj.seek(0)
    _progress(job, status=ImportStatus.IMPORTING, **({"processed_rows": 0} if job.next_row == 0 else {}))
    job.refresh_from_db()
    for chunk in _row_chunks(job, fileobj, job.next_row):
        _simple_commit(job, chunk, handle_chunk)
    _finish(job)


def _row_chunks(job: BulkImport, fileobj, start_row: int) -> Iterator[list[tuple[int, dict[str, str]]]]:
    rows = read_rows(fileobj)
    first = next(rows, None)
    if first is None:
        raise FileRejected("The file has a header but no rows.")
    check_columns(job.kind, set(first[1]))
    chunk = [first] if first[0] >= start_row else []
    for number, row in rows:
        if number < start_row:
            continue
        chunk.append((number, row))
        if len(chunk) >= 100:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _simple_commit(job: BulkImport, chunk: list, handle_chunk) -> None:
    """A chunk's writes, row errors, counters and resume point in one transaction."""
    with transaction.atomic():
        locked = BulkImport.objects.select_for_update().get(pk=job.pk)
        if chunk[-1][0] < locked.next_row:
            return  # another worker already committed this chunk
        errors: list[RowError] = []
        created, updated = handle_chunk(job, chunk, errors)
        _record_errors(job, errors)
        _progress(job, next_row=chunk[-1][0] + 1, processed_rows=F("processed_rows") + len(chunk),
                  total_rows=max(locked.total_rows, locked.processed_rows + len(chunk)),
                  failed_count=F("failed_count") + len({e.row for e in errors}),
                  created_count=F("created_count") + created, updated_count=F("updated_count") + updated)  # fmt: skip


def _product_chunk(job: BulkImport, chunk: list, errors: list[RowError]) -> tuple[int, int]:
    from catalog.models import Category

    categories = {c.slug: c for c in Category.objects.filter(merchant=job.merchant)}
    existing = set(Product.objects.filter(merchant=job.merchant, sku__in=[r.get("sku") for _, r in chunk])
                   .values_list("sku", flat=True))  # fmt: skip
    items, rows = [], []
    for number, row in chunk:
        before = len(errors)
        data = {}
        for name in PRODUCT_COLUMNS:
            raw = row.get(name, "")
            if raw == "" or name == "category":
                continue
            data[name] = _convert(_PRODUCT_FIELDS, name, raw, number, name, errors)
        if row.get("category"):
            category = categories.get(row["category"]) or next(
                (c for c in categories.values() if c.name == row["category"]), None)  # fmt: skip
            if category is None:
                errors.append(RowError(number, "category", row["category"], "Unknown category."))
            data["category"] = category
        if data.get("sku") not in existing:
            for name in PRODUCT_REQUIRED:
                if name not in data and not any(e.row == number and e.column == name for e in errors[before:]):
                    errors.append(RowError(number, name, "", "This field is required."))
        if len(errors) == before:
            items.append(data)
            rows.append(number)
    created = updated = 0
    for number, result in zip(rows, catalog_services.product_bulk_upsert(merchant=job.merchant, items=items),
                              strict=True):  # fmt: skip
        if result.status == "failed":
            for column, messages in (result.error or {}).get("details", {}).items():
                errors.extend(RowError(number, column, "", m) for m in messages)
            if not (result.error or {}).get("details"):
                errors.append(RowError(number, "", "", (result.error or {}).get("message", "Refused.")))
        elif result.status == "created":
            created += 1
        else:
            updated += 1
    return created, updated


def _inventory_chunk(job: BulkImport, chunk: list, errors: list[RowError]) -> tuple[int, int]:
    products = {p.sku: p for p in Product.objects.filter(merchant=job.merchant,
                                                         sku__in=[r.get("sku") for _, r in chunk])}  # fmt: skip
    locations = {}
    for location in Location.objects.filter(merchant=job.merchant):
        locations[location.nickname] = locations[str(location.pk)] = location
    updated = 0
    for number, row in chunk:
        product, location = products.get(row.get("sku", "")), locations.get(row.get("location", ""))
        action = (row.get("action") or "set").lower()
        quantity = row.get("quantity", "")
        problems = []
        if product is None:
            problems.append(("sku", row.get("sku", ""), "Unknown SKU."))
        if location is None:
            problems.append(("location", row.get("location", ""), "Unknown location."))
        if action not in ("add", "remove", "set"):
            problems.append(("action", action, "Use add, remove or set."))
        if not (quantity.isascii() and quantity.isdigit()):
            problems.append(("quantity", quantity, "A whole number of units, 0 or more."))
        if problems:
            errors.extend(RowError(number, c, v, m) for c, v, m in problems)
            continue
        try:
            with transaction.atomic():
                level = catalog_services.stock_adjust(
                    merchant=job.merchant, product=product, location=location, action=action, quantity=int(quantity),
                    reason=row.get("reason") or f"Import {job.pk}", actor=job.created_by, reference=f"import:{job.pk}",
                )  # fmt: skip
                if as_id(row.get("low_stock_threshold", "")) is not None:
                    catalog_services.stock_set_threshold(
                        level=level, low_stock_threshold=int(row["low_stock_threshold"])
                    )
            updated += 1
        except (DomainError, ApiError) as exc:
            errors.append(RowError(number, "quantity", quantity, exc.message))
        except ValidationError as exc:
            errors.extend(RowError(number, "quantity", quantity, m) for m in exc.messages)
    return 0, updated

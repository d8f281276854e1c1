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
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
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
from orders import services
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
from shopops.bulk import insert_rows
from shopops.models import Merchant
from shopops.services import counter_next

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


def read_rows(fileobj) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) for each data row of a CSV or XLSX file; the header is line 1."""
    head = fileobj.read(8192)
    fileobj.seek(0)
    if isinstance(head, str):
        head = head.encode()
    if head.startswith(b"PK\x03\x04"):
        yield from _xlsx_rows(fileobj)
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
        for number, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            row = {name: v.strip() for name, v in zip(names, values, strict=False) if name}
            for name, value in row.items():
                if value[:1] == "'":
                    row[name] = _unformula(value)
            yield number, row
    except UnicodeDecodeError as exc:
        raise FileRejected("The file is not UTF-8 text; save it as CSV UTF-8 or XLSX.") from exc
    except csv.Error as exc:
        raise FileRejected(f"The CSV is malformed: {exc}.") from exc
    finally:
        if not fileobj.closed:
            text.detach()


def _xlsx_rows(fileobj) -> Iterator[tuple[int, dict[str, str]]]:
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
        for number, values in enumerate(rows, start=2):
            cells = ["" if v is None else (v.isoformat() if isinstance(v, datetime) else str(v)) for v in values]
            if any(c.strip() for c in cells):
                yield number, {name: c.strip() for name, c in zip(names, cells, strict=False) if name}
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


@dataclass
class ParsedOrder:
    first_row: int
    rows: list[int] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    lines: list[dict[str, str]] = field(default_factory=list)
    inconsistent: bool = False  # its rows disagree on an order-level value: the order is not imported


def _group_orders(rows: Iterator[tuple[int, dict[str, str]]], errors: list[RowError]) -> Iterator[ParsedOrder]:
    """Consecutive rows with the same channel and channel order id make one order."""
    current: ParsedOrder | None = None
    seen: set[tuple[str, str]] = set()
    for number, row in rows:
        key = (row.get("channel", ""), row.get("channel_order_id", ""))
        if current is not None and key == (current.values.get("channel", ""), current.values.get("channel_order_id")):
            for name, value in row.items():
                if name not in LINE_COLUMNS and name not in IGNORED_COLUMNS and value != current.values.get(name, ""):
                    errors.append(RowError(number, name, value, f"Differs from row {current.first_row} of the same "
                                           f"order ({current.values.get(name, '')!r})."))  # fmt: skip
                    current.inconsistent = True
            current.rows.append(number)
            current.lines.append({k: v for k, v in row.items() if k in LINE_COLUMNS} | {"_row": number})
            continue
        if current is not None:
            yield current
        if key in seen and key[1]:
            errors.append(
                RowError(
                    number,
                    "channel_order_id",
                    key[1],
                    "The order appears again further down the file; keep its rows together.",
                )
            )
            current = None
            continue
        seen.add(key)
        current = ParsedOrder(
            first_row=number,
            rows=[number],
            values={k: v for k, v in row.items() if k not in LINE_COLUMNS},
            lines=[{k: v for k, v in row.items() if k in LINE_COLUMNS} | {"_row": number}],
        )
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


def _order_data(parsed: ParsedOrder, errors: list[RowError]) -> dict[str, Any] | None:
    """The dict OrderInput would give for this order, or None with the type errors recorded."""
    values, row, before = parsed.values, parsed.first_row, len(errors)
    data: dict[str, Any] = {}
    for name in ("channel", "channel_order_id", "payment_method", "payment_status", "shipping_charge", "total",
                 "currency", "weight_grams", "length_cm", "breadth_cm", "height_cm", "pickup_location",
                 "ordered_at"):  # fmt: skip
        if values.get(name, "") != "":
            data[name] = _convert(_ORDER_FIELDS, name, values[name], row, name, errors)
    address = {}
    for key, column in ADDRESS_COLUMN.items():
        if values.get(column, "") != "":
            address[key] = _convert(_ADDRESS_FIELDS, key, values[column], row, column, errors)
    data["shipping_address"] = address
    data["customer"] = {
        key: _convert(_CUSTOMER_FIELDS, key, values[f"customer_{key}"], row, f"customer_{key}", errors)
        for key in ("name", "email", "phone") if values.get(f"customer_{key}")
    }  # fmt: skip
    data["lines"] = []
    for line in parsed.lines:
        converted = {}
        for name in ("sku", "name", "quantity", "unit_price", "discount", "tax_rate", "hsn_code"):
            if line.get(name, "") != "":
                converted[name] = _convert(_LINE_FIELDS, name, line[name], line["_row"], name, errors)
        for name in ("sku", "quantity", "unit_price"):
            if name not in converted:
                errors.append(RowError(line["_row"], name, "", "This field is required."))
        data["lines"].append(converted)
    status = values.get("status", "") or OrderStatus.NEW
    if status not in IMPORT_STATUSES:
        errors.append(RowError(row, "status", status, "Import orders as new, delivered or cancelled; confirm and "
                               "pack them in ShopOps, where stock is reserved."))  # fmt: skip
    data["_status"] = status
    data["_awb"], data["_courier"] = values.get("awb", "")[:40], values.get("courier", "")[:40]
    for name in ("packed_at", "shipped_at", "delivered_at"):
        if values.get(name, ""):
            data[f"_{name}"] = _convert(_ORDER_FIELDS, "ordered_at", values[name], row, name, errors)
    if data.get("_packed_at") and data.get("_shipped_at") and data["_packed_at"] > data["_shipped_at"]:
        errors.append(RowError(row, "packed_at", values["packed_at"], "Must not be after shipped_at."))
    return None if len(errors) > before else data


def _path_to_cell(path: str, parsed: ParsedOrder, data: dict) -> tuple[int, str, str]:
    """A validation error's field path (``lines.1.quantity``) as the file's (row, column, value)."""
    parts = path.split(".")
    if parts[0] == "lines" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(parsed.lines):
        line = parsed.lines[int(parts[1])]
        column = parts[2] if len(parts) > 2 else "sku"
        return line["_row"], column, line.get(column, "")
    if parts[0] == "shipping_address" and len(parts) > 1:
        column = ADDRESS_COLUMN.get(parts[1], parts[1])
    elif parts[0] == "customer" and len(parts) > 1:
        column = f"customer_{parts[1]}"
    else:
        column = parts[0]
    return parsed.first_row, column, parsed.values.get(column, "")


# -- orders: set-based writes -----------------------------------------------------------


@dataclass
class ChunkResult:
    created: int = 0
    skipped_rows: int = 0


def _write_orders(merchant: Merchant, batch: list[tuple[ParsedOrder, dict, services.PreparedOrder]],
                  actor: str) -> ChunkResult:  # fmt: skip
    """Insert a chunk of prepared orders with their lines, events and customer counters; skip existing ones."""
    result = ChunkResult()
    keys = {(p.channel.pk, p.channel_order_id) for _, _, p in batch}
    existing = set(Order.objects.filter(channel_id__in={k[0] for k in keys},
                                        channel_order_id__in={k[1] for k in keys})
                   .values_list("channel_id", "channel_order_id"))  # fmt: skip
    fresh = []
    for parsed, data, prepared in batch:
        if (prepared.channel.pk, prepared.channel_order_id) in existing:
            result.skipped_rows += len(parsed.rows)
        else:
            fresh.append((parsed, data, prepared))
    if not fresh:
        return result
    customers = _customers_for(merchant, [prepared for _, _, prepared in fresh])
    first_number = counter_next(merchant=merchant, name="order", count=len(fresh))
    orders, seen_customers = [], set()
    for offset, (_, data, prepared) in enumerate(fresh):
        customer_id, was_customer = customers[offset]
        returning = was_customer or customer_id in seen_customers
        seen_customers.add(customer_id)
        status = data["_status"]
        shipped = data.get("_shipped_at")
        orders.append({
            "merchant_id": merchant.pk, "number": f"{services.ORDER_NUMBER_PREFIX}{first_number + offset:06d}",
            "channel_id": prepared.channel.pk, "channel_order_id": prepared.channel_order_id, "status": status,
            "payment_method": prepared.payment_method, "payment_status": prepared.payment_status,
            "customer_id": customer_id, "is_returning_customer": returning,
            "shipping_address": prepared.shipping_address, "billing_address": prepared.billing_address,
            "subtotal": prepared.subtotal, "discount_total": prepared.discount_total,
            "shipping_charge": prepared.shipping_charge, "tax_total": prepared.tax_total, "total": prepared.total,
            "currency": prepared.currency, "weight_grams": prepared.weight_grams, "length_cm": prepared.length_cm,
            "breadth_cm": prepared.breadth_cm, "height_cm": prepared.height_cm,
            "pickup_location_id": prepared.pickup_location.pk, "ordered_at": prepared.ordered_at,
            "packed_at": data.get("_packed_at") or shipped, "shipped_at": shipped,
            "delivered_at": data.get("_delivered_at"),
            "cancelled_at": prepared.ordered_at if status == OrderStatus.CANCELLED else None,
            "awb": data.get("_awb", ""), "courier": data.get("_courier", ""),
        })  # fmt: skip
    ids = insert_rows(Order, orders)
    insert_rows(OrderLine, [
        {"merchant_id": merchant.pk, "order_id": order_id, **line.__dict__}
        for order_id, (_, _, prepared) in zip(ids, fresh, strict=True) for line in prepared.lines
    ])  # fmt: skip
    insert_rows(OrderEvent, [
        {"merchant_id": merchant.pk, "order_id": order_id, "kind": "created", "to_status": order["status"],
         "actor": actor, "message": f"Imported from {prepared.channel.name}",
         "data": {"returning_customer": order["is_returning_customer"],
                  "unmapped_skus": [ln.sku for ln in prepared.lines if ln.product_id is None]}}
        for order_id, order, (_, _, prepared) in zip(ids, orders, fresh, strict=True)
    ])  # fmt: skip
    _count_customers(orders)
    result.created = len(orders)
    return result


def _customers_for(merchant: Merchant, prepared: list[services.PreparedOrder]) -> list[tuple[int, bool]]:
    """Each order's (customer id, had orders before): matched by phone, else email, as order_create matches."""
    phones = {p.customer["phone"] for p in prepared if p.customer.get("phone")}
    known = Customer.objects.filter(merchant=merchant)
    by_phone = {
        phone: (pk, n) for pk, phone, n in known.filter(phone__in=phones).values_list("id", "phone", "orders_count")
    }
    emails = {
        p.customer["email"] for p in prepared if p.customer.get("email") and p.customer.get("phone") not in by_phone
    }
    by_email = {
        email: (pk, n) for pk, email, n in known.filter(email__in=emails).values_list("id", "email", "orders_count")
    }
    rows: list[dict] = []
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
        rows.append({"merchant_id": merchant.pk, "name": p.customer.get("name", ""), "phone": phone, "email": email})
    ids = insert_rows(Customer, rows)
    by_phone.update({phone: (ids[index], 0) for phone, index in new_phone.items()})
    by_email.update({email: (ids[index], 0) for email, index in new_email.items()})
    result = []
    for p in prepared:
        phone, email = p.customer.get("phone", ""), p.customer.get("email", "")
        pk, orders_count = (by_phone.get(phone) if phone else None) or by_email[email]
        result.append((pk, orders_count > 0))
    return result


def _count_customers(orders: list[dict]) -> None:
    """Add the chunk's orders to their customers' counters: one statement on PostgreSQL."""
    totals: dict[int, tuple] = {}
    for order in orders:
        at = order["ordered_at"]
        count, spent, first, last = totals.get(order["customer_id"], (0, Decimal(0), at, at))
        totals[order["customer_id"]] = (count + 1, spent + order["total"], min(first, at), max(last, at))
    if connection.vendor == "postgresql":
        ids, counts, spent, firsts, lasts = (list(column) for column in zip(
            *((pk, n, s, f, la) for pk, (n, s, f, la) in totals.items()), strict=True))  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE orders_customer c SET orders_count = c.orders_count + v.n, "
                "total_spent = c.total_spent + v.spent, "
                "first_order_at = LEAST(COALESCE(c.first_order_at, v.first), v.first), "
                "last_order_at = GREATEST(COALESCE(c.last_order_at, v.last), v.last), updated_at = now() "
                "FROM unnest(%s::bigint[], %s::int[], %s::numeric[], %s::timestamptz[], %s::timestamptz[]) "
                "AS v(id, n, spent, first, last) WHERE c.id = v.id",
                [ids, counts, spent, firsts, lasts],
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
    BulkImport.objects.filter(pk=job.pk).update(status=status, error=error, finished_at=timezone.now(),
                                                updated_at=timezone.now())  # fmt: skip


def import_fail_stuck(*, older_than: timedelta) -> int:
    """Mark failed the running jobs whose worker stopped beating (time limit exceeded, lost worker)."""
    cutoff = timezone.now() - older_than
    return BulkImport.objects.filter(
        status__in=[ImportStatus.VALIDATING, ImportStatus.IMPORTING], heartbeat_at__lt=cutoff
    ).update(status=ImportStatus.FAILED, error="The import stopped making progress (worker lost or time limit).",
             finished_at=timezone.now())  # fmt: skip


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
    job: BulkImport, fileobj, catalog: services.Catalog, errors: list[RowError], start_row: int
) -> Iterator[tuple[ParsedOrder, dict | None, services.PreparedOrder | None]]:
    """Each order of the file from ``start_row``: parsed, converted and prepared, or with its errors recorded."""
    rows = read_rows(fileobj)
    first = next(rows, None)
    if first is None:
        raise FileRejected("The file has a header but no rows.")
    check_columns(job.kind, set(first[1]))

    def all_rows():
        yield first
        yield from rows

    grouping: list[RowError] = []  # rows before start_row were reported with their chunk before a resume
    for parsed in _group_orders(all_rows(), grouping):
        errors.extend(e for e in grouping if e.row >= start_row)
        grouping.clear()
        if parsed.first_row < start_row:
            continue
        data = _order_data(parsed, errors)
        if parsed.inconsistent:
            yield parsed, None, None
            continue
        if data is None:
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


def _extend_catalog(catalog: services.Catalog, data: dict) -> None:
    """Load the products this order names that the catalog cache has not seen yet."""
    missing = {ln["sku"] for ln in data["lines"]} - catalog.products.keys() - catalog.unknown_skus
    if missing:
        found = Product.objects.filter(merchant=catalog.merchant, sku__in=missing, status="active")
        catalog.products.update({p.sku: p for p in found})
        catalog.unknown_skus |= missing - {p.sku for p in found}


def _run_orders(job: BulkImport, fileobj) -> None:
    catalog = services.Catalog.for_orders(job.merchant, [])
    validate_first = job.dry_run or job.error_policy == ErrorPolicy.REJECT_FILE
    if validate_first and job.next_row == 0:
        _progress(job, status=ImportStatus.VALIDATING)
        ImportRowError.objects.filter(job=job).delete()
        errors: list[RowError] = []
        total, failed, seen = 0, set(), set()
        default_channel = Channel.objects.filter(merchant=job.merchant, is_default_api=True).first()
        catalog._default_channel = default_channel or Channel(
            merchant=job.merchant, name="API", kind=ChannelKind.API, is_default_api=True)  # fmt: skip
        for parsed, _, prepared in _orders_in(job, fileobj, catalog, errors, 0):
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
    for parsed, data, prepared in _orders_in(job, fileobj, catalog, errors, job.next_row):
        last_row = parsed.rows[-1]
        if prepared is not None:
            batch.append((parsed, data, prepared))
        else:
            failed_rows.update(parsed.rows)
        if len(batch) >= CHUNK_ORDERS:
            _commit_chunk(job, batch, errors, failed_rows, last_row)
            batch = []
            errors.clear()  # the list _orders_in appends to: a new one would lose the next chunks' errors
            failed_rows = set()
    last_row = max([last_row, *(e.row for e in errors)])  # e.g. a repeated order on the file's last row
    _commit_chunk(job, batch, errors, failed_rows, last_row)
    _finish(job)


def _commit_chunk(job: BulkImport, batch: list, errors: list[RowError], failed: set[int], last_row: int) -> None:
    """Write a chunk, its row errors and the job's counters and resume point in one transaction.

    ``failed``: the rows of the chunk's orders that are not imported; rows with errors count as failed too.
    """
    with transaction.atomic():
        locked = BulkImport.objects.select_for_update().get(pk=job.pk)
        if last_row and last_row < locked.next_row:
            return  # another worker already committed this chunk
        result = _write_orders(job.merchant, batch, job.created_by) if batch else ChunkResult()
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
        if not quantity.isdigit():
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
                if row.get("low_stock_threshold", "").isdigit():
                    catalog_services.stock_set_threshold(
                        level=level, low_stock_threshold=int(row["low_stock_threshold"])
                    )
            updated += 1
        except ApiError as exc:
            errors.append(RowError(number, "quantity", quantity, exc.message))
        except ValidationError as exc:
            errors.extend(RowError(number, "quantity", quantity, m) for m in exc.messages)
    return 0, updated

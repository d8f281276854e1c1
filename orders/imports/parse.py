"""Reading an import file as a stream (CSV, UTF-8 with or without BOM, or XLSX; tab-separated text too, as Amazon's
order reports are), so memory does not grow with its size, and grouping an orders file's rows into orders
(consecutive rows with the same channel order id)."""

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter

from orders.models import ImportKind, OrderStatus
from orders.selectors import EXPORT_COLUMNS

#: The order columns are the orders export's (one row per line), so an export imports as it is.
ORDER_COLUMNS = EXPORT_COLUMNS
ORDER_REQUIRED = ["channel_order_id", "payment_method", "shipping_name", "shipping_phone", "shipping_line1",
                  "shipping_city", "shipping_postcode", "sku", "quantity", "unit_price"]  # fmt: skip
#: Columns that belong to the order (the same on each of its rows), and the line's own.
LINE_COLUMNS = {"sku", "name", "quantity", "unit_price", "discount", "tax_rate", "hsn_code", "uqc"}
#: Written by the export, ignored by the import: ShopOps numbers the orders it imports.
IGNORED_COLUMNS = {"order_number"}
#: Imported orders start new, or arrive as history: delivered or cancelled (stock is not touched).
IMPORT_STATUSES = (OrderStatus.NEW, OrderStatus.DELIVERED, OrderStatus.CANCELLED)

PRODUCT_COLUMNS = ["sku", "title", "description", "brand", "category", "hsn_code", "tax_rate", "uqc", "mrp",
                   "price", "currency", "weight_grams", "length_cm", "breadth_cm", "height_cm", "barcode",
                   "status"]  # fmt: skip
PRODUCT_REQUIRED = ["sku", "title", "price"]
INVENTORY_COLUMNS = ["sku", "location", "action", "quantity", "reason", "low_stock_threshold"]
INVENTORY_REQUIRED = ["sku", "location", "quantity"]
SKU_MAPPING_COLUMNS = ["channel", "channel_sku", "sku"]
SKU_MAPPING_REQUIRED = SKU_MAPPING_COLUMNS

TEMPLATES = {
    ImportKind.ORDERS: (ORDER_COLUMNS, [
        ["", "Website", "WEB-10492", "new", "2026-11-28T10:15:00+05:30", "cod", "", "Priya Sharma",
         "priya@example.in", "+919812345678", "Priya Sharma", "+919812345678", "42 Residency Road", "",
         "Bengaluru", "Karnataka", "560025", "IN", "TEE-RED-M", "Cotton crew T-shirt (red, M)", "2", "499.00",
         "0.00", "5.00", "6109", "PCS", "49.00", "0.00", "1047.00", "INR", "", "", "", "", "blr-wh", "", "", "", "",
         "", ""],
    ]),
    ImportKind.PRODUCTS: (PRODUCT_COLUMNS, [
        ["TEE-GRN-M", "Cotton crew T-shirt (green, M)", "100% cotton", "Loomwear", "apparel", "6109", "5.00", "PCS",
         "699.00", "499.00", "INR", "180", "28", "22", "2", "5901234123457", "active"],
    ]),
    ImportKind.INVENTORY: (INVENTORY_COLUMNS, [["TEE-GRN-M", "blr-wh", "set", "24", "Stock count 28 Nov", "5"]]),
    ImportKind.SKU_MAPPINGS: (SKU_MAPPING_COLUMNS, [["Shopify", "shopify-variant-49148385", "TEE-GRN-M"]]),
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
    that a column the file does not have reads (see ``Layout``). Blank rows are skipped. Lists, not dicts:
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
        reader = csv.reader(text, delimiter=_delimiter(head))
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


def _delimiter(head: bytes) -> str:
    """A tab when the header line has tabs and no commas (Amazon's reports are tab-separated text), else a comma."""
    first_line = head.split(b"\n", 1)[0]
    return "\t" if b"\t" in first_line and b"," not in first_line else ","


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
                ImportKind.INVENTORY: INVENTORY_REQUIRED,
                ImportKind.SKU_MAPPINGS: SKU_MAPPING_REQUIRED}[kind]  # fmt: skip
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

#: The line's columns in the order ``Layout.line`` reads them; the order's scalar columns as OrderInput names them.
LINE_FIELDS = ("sku", "name", "quantity", "unit_price", "discount", "tax_rate", "hsn_code", "uqc")
ORDER_SCALARS = ("channel", "channel_order_id", "payment_method", "payment_status", "shipping_charge", "cod_charge",
                 "total", "currency", "weight_grams", "length_cm", "breadth_cm", "height_cm", "pickup_location",
                 "ordered_at", "eway_bill_number")  # fmt: skip
CUSTOMER_KEYS = ("name", "email", "phone")
REPEATED_ORDER = "The order appears again further down the file; keep its rows together."


def _getter(indexes: list[int]) -> Callable[[list[str]], tuple]:
    """A function giving the values at ``indexes`` as a tuple (itemgetter gives a bare value for one index)."""
    if len(indexes) == 1:
        (index,) = indexes
        return lambda values: (values[index],)
    return itemgetter(*indexes) if indexes else lambda values: ()


class Layout:
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
    head: tuple  # its order-level values (``Layout.head``), which its other rows must repeat
    layout: Layout
    rows: list[int] = field(default_factory=list)
    lines: list[tuple[int, tuple]] = field(default_factory=list)  # (row, values of LINE_FIELDS)
    inconsistent: bool = False  # its rows disagree on an order-level value: the order is not imported

    def value(self, column: str) -> str:
        return self.first[self.layout.at(column)]


def group_orders(records, layout: Layout, errors: list[RowError]) -> Iterator[ParsedOrder]:
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

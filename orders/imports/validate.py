"""An orders file's cells converted with the fields' own rules (``orders/validation.py``), the API's messages
word for word; each distinct value (and group of cells: an address, a customer, a line) is converted once."""

from typing import Any

from django.core.exceptions import ValidationError

from orders import validation
from orders.imports.parse import (
    ADDRESS_COLUMN,
    CUSTOMER_KEYS,
    IMPORT_STATUSES,
    LINE_COLUMNS,
    LINE_FIELDS,
    ParsedOrder,
    RowError,
)
from orders.models import OrderStatus
from orders.services.create import BoundedMemo

_converted: dict[tuple[int, str, str], tuple[bool, Any]] = {}


def convert(rules: dict, name: str, raw: str, row: int, column: str, errors: list[RowError]):
    """One cell through the rule of the field of the same name (types, limits, choices), as the API converts it.

    Rules are pure functions of the value, and files repeat values (prices, quantities, methods, countries):
    results are remembered for the process, bounded in size.
    """
    key = (id(rules), name, raw)
    cached = _converted.get(key)
    if cached is None:
        try:
            cached = (True, rules[name].convert(raw))
        except ValidationError as exc:
            cached = (False, " ".join(exc.messages))
        if len(_converted) > 200_000:
            _converted.clear()
        _converted[key] = cached
    ok, value = cached
    if ok:
        return value
    errors.append(RowError(row, column, raw, value))
    return None


def _convert_group(memo: BoundedMemo, kind: str, rules: dict, keys, columns, raw: tuple,
                   required=()) -> tuple[dict, list]:  # fmt: skip
    """(converted {key: value}, [(column, value, message)]) of the cells ``raw`` of ``columns``.

    Files repeat groups of cells (an address, a customer, a line): each distinct group is converted once per
    file, not once a row (the memo is bounded, so memory stays flat whatever the file's size)."""
    known = memo.get((kind, raw))
    if known is None:
        problems: list[RowError] = []
        converted = {}
        for key, column, value in zip(keys, columns, raw, strict=True):
            if value != "":
                converted[key] = convert(rules, key, value, 0, column, problems)
        found = [(e.column, e.value, e.message) for e in problems]
        found += [(key, "", validation.REQUIRED) for key in required if key not in converted]
        known = memo.remember((kind, raw), (converted, found))
    return known


_ADDRESS_KEYS, _ADDRESS_COLUMNS = tuple(ADDRESS_COLUMN), tuple(ADDRESS_COLUMN.values())
_CUSTOMER_COLUMNS = tuple(f"customer_{key}" for key in CUSTOMER_KEYS)


def order_data(parsed: ParsedOrder, errors: list[RowError], memo: BoundedMemo) -> dict[str, Any] | None:
    """The dict OrderInput would give for this order, or None with the type errors recorded."""
    values, row, layout, before = parsed.first, parsed.first_row, parsed.layout, len(errors)
    data: dict[str, Any] = {}
    for name, index in layout.scalars:
        if values[index] != "":
            data[name] = convert(validation.ORDER, name, values[index], row, name, errors)
    for name, rules, keys, columns, raw in (
        ("shipping_address", validation.ADDRESS, _ADDRESS_KEYS, _ADDRESS_COLUMNS, layout.address(values)),
        ("customer", validation.CUSTOMER, CUSTOMER_KEYS, _CUSTOMER_COLUMNS, layout.customer(values)),
    ):
        data[name], problems = _convert_group(memo, name, rules, keys, columns, raw)
        if problems:
            errors.extend(RowError(row, *problem) for problem in problems)
    lines = data["lines"] = []
    for number, raw in parsed.lines:
        line, problems = _convert_group(memo, "line", validation.LINE, LINE_FIELDS, LINE_FIELDS, raw,
                                        required=validation.LINE_REQUIRED)  # fmt: skip
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
            data[f"_{name}"] = convert(validation.ORDER, "ordered_at", raw, row, name, errors)
    if data.get("_packed_at") and data.get("_shipped_at") and data["_packed_at"] > data["_shipped_at"]:
        errors.append(RowError(row, "packed_at", parsed.value("packed_at"), "Must not be after shipped_at."))
    return None if len(errors) > before else data


def path_to_cell(path: str, parsed: ParsedOrder, data: dict) -> tuple[int, str, str]:
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

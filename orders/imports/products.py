"""Product, inventory and SKU-mapping jobs: rows in chunks of 100, each chunk in one transaction with its row
errors, counters and resume point. Products are upserted by SKU through ``product_bulk_upsert``; each inventory row
is a stock adjustment; each SKU-mapping row maps a channel's SKU to a catalog SKU (and the lines waiting for it)."""

from collections.abc import Iterator

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from catalog import services as catalog_services
from catalog.models import Category, Location, Product
from catalog.validation import PRODUCT
from orders.imports.parse import PRODUCT_COLUMNS, PRODUCT_REQUIRED, FileRejected, RowError, check_columns, read_rows
from orders.imports.progress import begin, finish, progress, record_errors
from orders.imports.validate import convert
from orders.models import BulkImport, ErrorPolicy, ImportRowError, ImportStatus
from orders.services.sku_mappings import sku_mapping_set
from shopops.errors import DomainError
from shopops.validation import as_id


def run_products(job: BulkImport, fileobj) -> None:
    """Products are upserted by SKU through product_bulk_upsert, 100 rows at a time."""
    _run_simple(job, fileobj, _product_chunk)


def run_inventory(job: BulkImport, fileobj) -> None:
    """Each row adds, removes or sets (the default) the on-hand stock of a SKU at a location."""
    _run_simple(job, fileobj, _inventory_chunk)


def run_sku_mappings(job: BulkImport, fileobj) -> None:
    """Each row maps a channel's SKU (``channel``: its name, channel_id or id) to a catalog SKU; a row for a
    mapping that exists replaces its product."""
    _run_simple(job, fileobj, _sku_mapping_chunk)


def _run_simple(job: BulkImport, fileobj, handle_chunk) -> None:
    """Rows in chunks of 100 through ``handle_chunk``. A dry run or reject_file checks the whole file first,
    inside one transaction that is rolled back, and writes only if no row failed."""
    if (job.dry_run or job.error_policy == ErrorPolicy.REJECT_FILE) and job.next_row == 0:
        if not begin(job, ImportStatus.VALIDATING):
            return  # the job ended meanwhile
        ImportRowError.objects.filter(job=job).delete()
        errors: list[RowError] = []
        total = 0
        with transaction.atomic():
            for chunk in _row_chunks(job, fileobj, 0):
                handle_chunk(job, chunk, errors)
                total += len(chunk)
            transaction.set_rollback(True)
        failed_rows = len({e.row for e in errors})
        record_errors(job, errors)
        progress(job, total_rows=total, processed_rows=total, failed_count=failed_rows)
        if errors and job.error_policy == ErrorPolicy.REJECT_FILE:
            finish(job, ImportStatus.FAILED, error=f"{failed_rows} row(s) have errors; nothing was imported.")
            return
        if job.dry_run:
            finish(job)  # done, or partially_failed: what skip_failed_rows would do
            return
        fileobj.seek(0)
    if not begin(job, ImportStatus.IMPORTING, **({"processed_rows": 0} if job.next_row == 0 else {})):
        return  # the job ended meanwhile
    job.refresh_from_db()
    for chunk in _row_chunks(job, fileobj, job.next_row):
        _simple_commit(job, chunk, handle_chunk)
    finish(job)


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
        record_errors(job, errors)
        progress(job, next_row=chunk[-1][0] + 1, processed_rows=F("processed_rows") + len(chunk),
                  total_rows=max(locked.total_rows, locked.processed_rows + len(chunk)),
                  failed_count=F("failed_count") + len({e.row for e in errors}),
                  created_count=F("created_count") + created, updated_count=F("updated_count") + updated)  # fmt: skip


def _product_chunk(job: BulkImport, chunk: list, errors: list[RowError]) -> tuple[int, int]:
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
            data[name] = convert(PRODUCT, name, raw, number, name, errors)
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
        except DomainError as exc:
            errors.append(RowError(number, "quantity", quantity, exc.message))
        except ValidationError as exc:
            errors.extend(RowError(number, "quantity", quantity, m) for m in exc.messages)
    return 0, updated


def _sku_mapping_chunk(job: BulkImport, chunk: list, errors: list[RowError]) -> tuple[int, int]:
    created = updated = 0
    for number, row in chunk:
        try:
            result = sku_mapping_set(merchant=job.merchant, channel=row.get("channel", ""), sku=row.get("sku", ""),
                                     channel_sku=row.get("channel_sku", ""), actor=f"import:{job.pk}")  # fmt: skip
        except ValidationError as exc:
            errors.extend(RowError(number, column, row.get(column, ""), message)
                          for column, messages in exc.message_dict.items() for message in messages)  # fmt: skip
            continue
        created, updated = (created + 1, updated) if result.created else (created, updated + 1)
    return created, updated

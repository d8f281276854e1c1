"""An orders job: the file's orders parsed, converted, prepared, then written chunk by chunk through the one order
writer (``orders.services.create.order_create_many``), each chunk in one transaction with its row errors, the
job's counters and its resume point (``next_row``): a job whose worker died starts again after its last
committed chunk, and orders that already exist (same channel order id) are skipped, never duplicated.
"""

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.db.models import F

from catalog.models import Product
from orders.errors import DUPLICATE_ORDER
from orders.imports import presets
from orders.imports.parse import FileRejected, Layout, ParsedOrder, RowError, check_columns, group_orders, read_records
from orders.imports.progress import begin, finish, progress, record_errors
from orders.imports.validate import order_data, path_to_cell
from orders.models import BulkImport, Channel, ChannelKind, ErrorPolicy, ImportKind, ImportRowError, ImportStatus
from orders.services.channels import channel_get_or_create, default_api_channel
from orders.services.create import BoundedMemo, WriteMemo, order_create_many
from orders.services.prepare import Catalog, PreparedOrder, order_prepare
from orders.validation import REQUIRED

CHUNK_ORDERS = 2000
MAX_ERRORS = 10_000  # a file this broken is reported up to here


@dataclass
class ChunkResult:
    created: int = 0
    skipped_rows: int = 0


@dataclass
class ImportSession:
    """What one run of an import remembers between its chunks, each part bounded."""

    cells: BoundedMemo = field(default_factory=BoundedMemo)  # converted groups of cells
    #: the writer's: encoded JSON, and customers that have orders as of the last committed chunk
    written: WriteMemo = field(default_factory=WriteMemo)
    pending: list[tuple[str, str, int]] = field(default_factory=list)  # (phone, email, id) of the open chunk
    #: channels standing in, while the file is validated, for those ``create_channels`` creates when it imports
    stand_ins: set[str] = field(default_factory=set)

    def committed(self) -> None:
        """The chunk's customers have orders from now on: later chunks need not look them up."""
        for phone, email, pk in self.pending:
            if phone:
                self.written.customers.remember(("phone", phone), pk)
            if email:
                self.written.customers.remember(("email", email), pk)
        self.pending.clear()


def _orders_in(
    job: BulkImport, fileobj, catalog: Catalog, errors: list[RowError], start_row: int,
    session: ImportSession | None = None, validating: bool = False,
) -> Iterator[tuple[ParsedOrder, PreparedOrder | None]]:  # fmt: skip
    """Each order of the file from ``start_row``: parsed, converted and prepared, or with its errors recorded.

    A channel's export is read through its preset (``presets``): the one chosen, or the one its header shows."""
    session = session or ImportSession()
    memo = session.cells
    records = read_records(fileobj)
    try:
        names = next(records)
        first = next(records, None)
        if first is None:
            raise FileRejected("The file has a header but no rows.")
        preset = presets.detect(job.preset, names) if job.kind == ImportKind.ORDERS else ""
        if preset and preset != job.preset:
            BulkImport.objects.filter(pk=job.pk).update(preset=preset)
            job.preset = preset
        if not preset:
            check_columns(job.kind, {name for name in names if name})

        def all_records():
            yield first
            yield from records

        grouping: list[RowError] = []  # rows before start_row were reported with their chunk before a resume
        names, rows = presets.convert(preset, names, all_records(), grouping)
        for parsed in group_orders(rows, Layout(names), grouping):
            if grouping:
                errors.extend(e for e in grouping if e.row >= start_row)
                grouping.clear()
            if parsed.first_row < start_row:
                continue
            data = order_data(parsed, errors, memo)
            if parsed.inconsistent or data is None:
                yield parsed, None
                continue
            _extend_catalog(catalog, data)
            if job.create_channels:
                _create_channel(job, catalog, str(data.get("channel") or ""), session, validating)
            try:
                prepared = order_prepare(merchant=job.merchant, data=data, catalog=catalog)
            except ValidationError as exc:
                for path, messages in exc.message_dict.items():
                    row, column, value = path_to_cell(path, parsed, data)
                    errors.extend(RowError(row, column, value, m) for m in messages)
                yield parsed, None
                continue
            if data.get("channel_order_id") is None:
                errors.append(RowError(parsed.first_row, "channel_order_id", "", REQUIRED))
                yield parsed, None
                continue
            _as_history(prepared, data)
            yield parsed, prepared
        errors.extend(e for e in grouping if e.row >= start_row)
    finally:
        records.close()


def _create_channel(job: BulkImport, catalog: Catalog, name: str, session: ImportSession, validating: bool) -> None:
    """The channel ``name`` (the default API channel for none) the merchant lacks, created for ``create_channels``.

    Once per import: the catalog knows it from then on. While the file is only validated, an unsaved channel stands
    in (a dry run creates nothing). Its name goes to the job's ``created_channels``."""
    if not name:
        if catalog._default_channel is not None or validating:
            return
        existed = Channel.objects.filter(merchant=job.merchant, is_default_api=True).exists()
        catalog._default_channel = default_api_channel(job.merchant)
        if not existed:
            _created(job, catalog._default_channel.name)
        return
    if name in catalog.channels or len(name) > Channel._meta.get_field("name").max_length:
        return  # known, or a name no channel can have: the row's "Unknown channel"
    kind = presets.channel_kind(job.preset)
    if validating:
        catalog.channels[name] = Channel(merchant=job.merchant, name=name, kind=kind)
        session.stand_ins.add(name)
        return
    channel, created = channel_get_or_create(merchant=job.merchant, name=name, kind=kind)
    catalog.channels[name] = channel
    if created:
        _created(job, name)


def _created(job: BulkImport, name: str) -> None:
    job.created_channels = [*job.created_channels, name]
    BulkImport.objects.filter(pk=job.pk).update(created_channels=job.created_channels)


def _as_history(prepared: PreparedOrder, data: dict) -> None:
    """An imported order's status (new, delivered or cancelled), dates, AWB and courier, as the file gives them."""
    shipped = data.get("_shipped_at")
    prepared.initial_status, prepared.awb, prepared.courier = data["_status"], data["_awb"], data["_courier"]
    prepared.packed_at, prepared.shipped_at = data.get("_packed_at") or shipped, shipped
    prepared.delivered_at = data.get("_delivered_at")


def _extend_catalog(catalog: Catalog, data: dict) -> None:
    """Load the products this order names that the catalog cache has not seen yet."""
    products, unknown = catalog.products, catalog.unknown_skus
    if all(ln["sku"] in products or ln["sku"] in unknown for ln in data["lines"]):
        return
    missing = {ln["sku"] for ln in data["lines"]} - products.keys() - unknown
    found = Product.objects.filter(merchant=catalog.merchant, sku__in=missing, status="active")
    products.update({p.sku: p for p in found})
    unknown |= missing - {p.sku for p in found}


def run_orders(job: BulkImport, fileobj) -> None:
    catalog = Catalog.for_orders(job.merchant, [])
    session = ImportSession()
    validate_first = job.dry_run or job.error_policy == ErrorPolicy.REJECT_FILE
    if validate_first and job.next_row == 0:
        if not begin(job, ImportStatus.VALIDATING):
            return  # the job ended meanwhile
        ImportRowError.objects.filter(job=job).delete()
        errors: list[RowError] = []
        total, failed, seen = 0, set(), set()
        default_channel = Channel.objects.filter(merchant=job.merchant, is_default_api=True).first()
        catalog._default_channel = default_channel or Channel(
            merchant=job.merchant, name="API", kind=ChannelKind.API, is_default_api=True)  # fmt: skip
        for parsed, prepared in _orders_in(job, fileobj, catalog, errors, 0, session, validating=True):
            total += len(parsed.rows)
            seen.update(parsed.rows)
            if prepared is None:
                failed.update(parsed.rows)
            if len(errors) >= MAX_ERRORS:
                break
            if total % 5000 < len(parsed.rows):
                progress(job, processed_rows=total)
        failed_rows = len(failed | {e.row for e in errors})
        total = len(seen | {e.row for e in errors})  # rows of a repeated order id are only in errors
        record_errors(job, errors)
        progress(job, total_rows=total, processed_rows=total, failed_count=failed_rows)
        if errors and job.error_policy == ErrorPolicy.REJECT_FILE:
            error_rows = len({e.row for e in errors})
            finish(job, ImportStatus.FAILED, error=f"{error_rows} row(s) have errors; nothing was imported.")
            return
        if job.dry_run:
            finish(job)  # done, or partially_failed: what skip_failed_rows would do
            return
        catalog._default_channel = default_channel  # created on first use by the import, as order_create does
        for name in session.stand_ins:  # the import creates them
            catalog.channels.pop(name, None)
        fileobj.seek(0)
    if not begin(job, ImportStatus.IMPORTING, **({"processed_rows": 0} if job.next_row == 0 else {})):
        return  # the job ended meanwhile
    job.refresh_from_db()
    batch, errors = [], []
    last_row = job.next_row - 1 if job.next_row else 0  # the last committed row
    failed_rows: set[int] = set()
    with _ChunkWriter() as writer:
        for parsed, prepared in _orders_in(job, fileobj, catalog, errors, job.next_row, session):
            last_row = parsed.rows[-1]
            if prepared is not None:
                batch.append((parsed, prepared))
            else:
                failed_rows.update(parsed.rows)
            if len(batch) >= CHUNK_ORDERS:
                writer.submit(job, batch, errors[:], failed_rows, last_row, session)
                batch = []
                errors.clear()  # the list _orders_in appends to: a new one would lose the next chunks' errors
                failed_rows = set()
        last_row = max([last_row, *(e.row for e in errors)])  # e.g. a repeated order on the file's last row
        writer.submit(job, batch, errors[:], failed_rows, last_row, session)
    finish(job)


class _ChunkWriter:
    """Commits the chunks, in order, each in its own transaction (``_commit_chunk``).

    On PostgreSQL, outside a transaction, it does so on a thread of its own (with its own connection) while the
    next chunk is read, converted and prepared: the database's work on one chunk overlaps Python's on the next
    (the import benchmark's main gain). At most one chunk waits, so memory stays flat; the first failure stops
    the import, and what was committed before it stays, as without the thread. Inside a transaction (tests) the
    chunks are committed in line: another connection would not see its rows.
    """

    def __init__(self):
        self.threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
        self.error: BaseException | None = None
        if self.threaded:
            self.queue: queue.Queue = queue.Queue(maxsize=1)
            self.thread = threading.Thread(target=self._run, name="import-writer", daemon=True)
            self.thread.start()

    def submit(self, *chunk) -> None:
        if not self.threaded:
            _commit_chunk(*chunk)
            return
        if self.error is not None:
            raise self.error
        self.queue.put(chunk)

    def _run(self) -> None:
        try:
            while (chunk := self.queue.get()) is not None:
                if self.error is None:
                    try:
                        _commit_chunk(*chunk)
                    except BaseException as exc:  # handed to the reading thread, which raises it
                        self.error = exc
        finally:
            connections.close_all()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.threaded:
            return
        self.queue.put(None)
        self.thread.join()
        if exc is None and self.error is not None:
            raise self.error


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
        result = write_orders(job.merchant, batch, job.created_by, session) if batch else ChunkResult()
        record_errors(job, errors)
        written_rows = sum(len(parsed.rows) for parsed, _ in batch)
        failed_rows = len(failed | {e.row for e in errors})
        progress(
            job,
            next_row=last_row + 1 if last_row else locked.next_row,
            processed_rows=F("processed_rows") + written_rows + failed_rows,
            created_count=F("created_count") + result.created,
            skipped_count=F("skipped_count") + result.skipped_rows,
            failed_count=F("failed_count") + failed_rows,
            total_rows=max(locked.total_rows, locked.processed_rows + written_rows + failed_rows),
        )


def write_orders(merchant, batch: list[tuple[ParsedOrder, PreparedOrder]], actor: str,
                 session: ImportSession) -> ChunkResult:  # fmt: skip
    """A chunk's orders through the one order writer; those whose channel order id exists already are skipped."""
    results = order_create_many(merchant=merchant, items=[prepared for _, prepared in batch], actor=actor,
                                imported=True, memo=session.written)  # fmt: skip
    chunk = ChunkResult()
    for (parsed, prepared), result in zip(batch, results, strict=True):
        if result.error is None:
            chunk.created += 1
            customer = prepared.customer
            session.pending.append((customer.get("phone", ""), customer.get("email", ""), result.customer_id))
        elif result.error.code == DUPLICATE_ORDER:
            chunk.skipped_rows += len(parsed.rows)
        else:
            raise result.error  # the writer refuses nothing else
    return chunk

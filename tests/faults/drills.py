"""The fault drills: a dependency of ShopOps goes down while partners call the API and jobs wait, then comes back.

Each drill runs on a ``Stack`` (tests/faults/stack.py), sends real HTTP requests, each within ``BUDGET`` seconds,
watches ``/healthz`` four times a second throughout, and returns a ``Report``: every answer (status and time), the
moment the service went down and the moment it was brought back, what became of each job, and the facts the drill
checks, read from the database. tests/faults/test_drills.py asserts on the reports, bench/faults.py prints their
figures; the rules (what counts as a bad answer, a healthz that does not tell the truth, a stranded job) are here,
once.

1. ``broker_imports``: the broker is killed; file imports are uploaded (202, queued); the broker comes back empty
   and the jobs-requeue sweep sends the jobs again: each import finishes once, its orders counted exactly.
2. ``broker_labels``: the same with label requests: each document is rendered once.
3. ``cache``: the cache's Redis is killed during order lists, creates and confirmations: no 500, throttling goes on
   per process (a client gets between one and two budgets from two processes); once Redis is back, one shared
   budget again.
4. ``database_import`` and ``database_batch``: PostgreSQL is stopped for a few seconds while an import of many
   chunks, or a ship batch, is being worked on and partners keep calling: answers are 2xx, 4xx or 503, the
   processes reconnect by themselves, and the job finishes with nothing written twice or lost.
"""

import io
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.faults.seed import order_data
from tests.faults.stack import REQUEUE_AFTER, REQUEUE_EVERY, THROTTLE_RATE, Stack

logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise

BUDGET = 5.0  # seconds any request may take, answer included: more is a hang
OUTAGE = 3.0  # seconds a service stays down, at least
JOBS_DEADLINE = 45.0  # seconds after the service is back within which every job must have finished
RECOVERY_DEADLINE = 20.0  # seconds after the service is back within which /healthz must say ok and the API answer
CACHE_RETRY_SECONDS = 10  # shopops.cache.RETRY_SECONDS: a process tries Redis again this long after a failure
IMPORT_CHUNK = 2000  # orders.imports.write.CHUNK_ORDERS: the database drill waits for the first committed chunk
FINISHED = {"imports": ("done", "partially_failed", "failed"), "documents": ("done", "failed"),
            "batches": ("done", "failed")}  # fmt: skip


@dataclass(frozen=True)
class Sample:
    what: str  # "healthz", or what the request does ("import upload", "orders list", ...)
    status: int  # 0: no answer within the budget, or the connection failed
    started: float  # time.monotonic()
    seconds: float
    health: tuple[str, dict[str, str]] | None = None  # /healthz: its status and each dependency's state
    note: str = ""  # why there was no answer

    @property
    def ended(self) -> float:
        return self.started + self.seconds

    @property
    def status_class(self) -> str:
        if self.status == 0:
            return "none"
        return "503" if self.status == 503 else f"{self.status // 100}xx"


@dataclass
class Report:
    """What one drill saw. ``going_at``: the service was being taken down; ``down_at``: it was down (killed, or
    stopped); ``up_at``: it was being started again; ``back_at``: it answered again. Times are
    ``time.monotonic()``."""

    name: str
    service: str  # "broker", "cache" or "database"
    samples: list[Sample] = field(default_factory=list)
    going_at: float = 0.0
    down_at: float = 0.0
    up_at: float = 0.0
    back_at: float = 0.0
    jobs: dict[str, str] = field(default_factory=dict)  # "import 7" -> its status at the end
    jobs_done_at: float | None = None
    facts: dict[str, object] = field(default_factory=dict)  # what the drill found, for the printouts
    expected: list[tuple[str, object, object]] = field(default_factory=list)  # (what, found, expected)
    invariants: list[str] = field(default_factory=list)  # broken database invariants (stock, AWBs, events)
    alive: dict[str, bool] = field(default_factory=dict)  # each ShopOps process, still the one started
    gunicorn_boots: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def expect(self, what: str, found: object, expected: object) -> None:
        """Record one of the drill's own checks: ``found`` must equal ``expected``."""
        self.expected.append((what, found, expected))

    # -- the rules --------------------------------------------------------------------------------------------------

    @property
    def mismatches(self) -> list[str]:
        """The drill's own checks (``expect``) that failed."""
        return [f"{what}: found {found!r}, expected {expected!r}" for what, found, expected in self.expected
                if found != expected]  # fmt: skip

    @property
    def bad_answers(self) -> list[str]:
        """Answers other than 2xx, 4xx and 503 (a 500, no answer) and answers slower than the budget."""
        return [f"{s.what}: {s.status or s.note} in {s.seconds:.2f} s" for s in self.samples
                if s.status_class not in ("2xx", "4xx", "503") or s.seconds > BUDGET]  # fmt: skip

    @property
    def healthz_lies(self) -> list[str]:
        """/healthz answers that did not tell the truth: while the service was down (asked after it went and
        answered before it was started again), anything but the expected answer; after it first said ok once the
        service was back, anything but ok."""
        expected = (503, "down", "database") if self.service == "database" else (200, "degraded", self.service)
        code, status, dependency = expected
        lies, recovered = [], self.healthz_ok_at
        for s in self.samples:
            if s.what != "healthz" or s.health is None:  # no answer at all: a bad answer already
                continue
            answer = (s.status, s.health[0], s.health[1].get(dependency))
            if self.down_at < s.started and s.ended < self.up_at:
                if answer != (code, status, "down"):
                    lies.append(f"during the outage: {s.status} {s.health}")
            elif recovered is not None and s.started > recovered and answer[:2] != (200, "ok"):
                lies.append(f"after recovery: {s.status} {s.health}")
        return lies

    @property
    def healthz_during_outage(self) -> int:
        """How many /healthz answers were asked for and given while the service was down."""
        return sum(1 for s in self.samples if s.what == "healthz" and self.down_at < s.started and s.ended < self.up_at)

    @property
    def stranded(self) -> list[str]:
        """The jobs not finished ``JOBS_DEADLINE`` after the service came back."""
        return [f"{job} ({status})" for job, status in self.jobs.items() if status not in _ALL_FINISHED]

    def failed_checks(self) -> list[str]:
        """The rules above that this drill broke, named (empty: it survived)."""
        failed = [f"{len(found)} {name}" for name, found in (
            ("bad answers", self.bad_answers), ("healthz lies", self.healthz_lies), ("stranded jobs", self.stranded),
            ("broken invariants", self.invariants), ("unexpected facts", self.mismatches)) if found]  # fmt: skip
        if not self.healthz_during_outage:
            failed.append("no healthz answer during the outage")
        if self.healthz_ok_at is None or self.first_2xx_at is None:
            failed.append("not recovered")
        if not all(self.alive.values()) or self.gunicorn_boots != 2:
            failed.append(f"processes: {self.alive}, {self.gunicorn_boots} gunicorn workers booted")
        return failed

    # -- the figures ------------------------------------------------------------------------------------------------

    def by_class(self) -> dict[str, int]:
        counts = Counter(s.status_class for s in self.samples)
        return {name: counts[name] for name in ("2xx", "4xx", "503", "5xx", "none") if counts[name]}

    @property
    def worst_during_outage(self) -> float:
        """The slowest answer to a request sent from the moment the service was being taken down until it answered
        again (seconds)."""
        return max((s.seconds for s in self.samples if self.going_at <= s.started < self.back_at), default=0.0)

    @property
    def healthz_ok_at(self) -> float | None:
        return min((s.ended for s in self.samples if s.what == "healthz" and s.started >= self.up_at
                    and s.health and s.health[0] == "ok"), default=None)  # fmt: skip

    def steady_seconds(self) -> list[float]:
        """The answer times outside the outage: asked before the service went down or after /healthz said ok."""
        recovered = self.healthz_ok_at or float("inf")
        return [s.seconds for s in self.samples if s.started < self.down_at or s.started > recovered]

    def after_up(self, moment: float | None) -> float | None:
        return None if moment is None else moment - self.up_at

    @property
    def first_2xx_at(self) -> float | None:
        """The first API request sent after the service was back that answered 2xx, when it answered."""
        return min((s.ended for s in self.samples if s.what != "healthz" and s.started >= self.up_at
                    and s.status_class == "2xx"), default=None)  # fmt: skip


_ALL_FINISHED = {status for statuses in FINISHED.values() for status in statuses}


# -- talking to ShopOps ------------------------------------------------------------------------------------------------


class Partner:
    """A partner application's client: every request recorded in the report, with the budget as its timeout."""

    def __init__(self, stack: Stack, report: Report, name: str):
        self.stack, self.report, self.token = stack, report, stack.tokens[name]

    def call(self, what: str, method: str, path: str, **kwargs) -> httpx.Response | None:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return _call(self.stack, self.report, what, method, path, headers=headers, **kwargs)


def _call(stack: Stack, report: Report, what: str, method: str, path: str, **kwargs) -> httpx.Response | None:
    started = time.monotonic()
    try:
        response = httpx.request(method, stack.base + path, timeout=BUDGET, **kwargs)
    except httpx.HTTPError as exc:
        report.add(Sample(what, 0, started, time.monotonic() - started, note=f"{type(exc).__name__}: {exc}"))
        return None
    health = None
    if what == "healthz" and response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        health = (body["status"], {name: check["state"] for name, check in body["checks"].items()})
    report.add(Sample(what, response.status_code, started, time.monotonic() - started, health))
    return response


@contextmanager
def watching_health(stack: Stack, report: Report, every: float = 0.25) -> Iterator[None]:
    """/healthz asked every ``every`` seconds, in a thread, while the block runs."""
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            _call(stack, report, "healthz", "GET", "/healthz")
            stop.wait(every)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _until(condition: Callable[[], object], deadline: float, every: float = 0.1):
    """``condition()`` until it is truthy (returned) or ``deadline`` (monotonic) passes (None). Database errors
    count as not yet: the drills' own queries run across restarts too."""
    import psycopg

    while True:
        try:
            value = condition()
        except psycopg.OperationalError:
            value = None
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


def _outage(report: Report, down: Callable[[], None], up: Callable[[], None], during: Callable[[], None]) -> None:
    """The service taken down, ``during()`` run, then held down for at least ``OUTAGE`` seconds, brought back."""
    report.going_at = time.monotonic()
    down()
    report.down_at = time.monotonic()
    during()
    time.sleep(max(0.0, report.down_at + OUTAGE - time.monotonic()))
    report.up_at = time.monotonic()
    up()
    report.back_at = time.monotonic()


def _recovered(stack: Stack, report: Report, partner: Partner) -> None:
    """Until /healthz says ok (the watcher) and an API request answers 2xx, each at most RECOVERY_DEADLINE."""
    deadline = report.up_at + RECOVERY_DEADLINE
    _until(lambda: report.healthz_ok_at, deadline)

    def answered() -> bool:
        partner.call("orders list", "GET", "/api/v1/orders/?page_size=1")
        return report.first_2xx_at is not None

    _until(answered, deadline, every=0.2)


def _finish(stack: Stack, report: Report, kind: str, ids: list[int], label: str) -> None:
    """Wait for the jobs ``ids`` of ``kind`` to finish (at most JOBS_DEADLINE after the service is back) and
    record their statuses and the moment the last one finished."""
    table = {"imports": "orders_bulkimport", "documents": "shipping_document", "batches": "shipping_shipbatch"}[kind]

    def statuses() -> dict[int, str]:
        return dict(stack.query(f"SELECT id, status FROM {table} WHERE id = ANY(%s)", [ids]))

    def finished() -> bool:
        found = statuses()
        return len(found) == len(ids) and all(status in FINISHED[kind] for status in found.values())

    if not ids:  # none was accepted: the drill's expectations say so
        return
    if _until(finished, report.up_at + JOBS_DEADLINE, every=0.2):
        report.jobs_done_at = time.monotonic()
    found = _until(statuses, time.monotonic() + 10) or {}
    report.jobs = {f"{label} {pk}": found.get(pk, "missing") for pk in ids}


def _wrap_up(stack: Stack, report: Report) -> None:
    """The processes' state and the database invariants, after the drill."""
    report.alive, report.gunicorn_boots = stack.alive(), stack.gunicorn_boots()
    report.invariants = invariants(stack)


# -- what the database must say after every drill ----------------------------------------------------------------------

ON_HAND_KINDS = ("receipt", "adjustment", "shipment", "return", "rto")
RESERVING = ("confirmed", "packed")  # orders whose units are reserved (nothing is picked up in the drills)


def invariants(stack: Stack) -> list[str]:
    """What must hold whatever happened: no order twice, each reserving order reserved once per line and nothing
    else reserved, each stock level's ledger summing to it, no order with two live shipments, every AWB the pool
    handed out on exactly one shipment, and each finished job's event written once."""
    problems = []
    for channel, channel_order_id, count in stack.query(
        "SELECT channel_id, channel_order_id, COUNT(*) FROM orders_order GROUP BY 1, 2 HAVING COUNT(*) > 1"
    ):
        problems.append(f"order {channel_order_id} of channel {channel} written {count} times")  # fmt: skip
    for reference, sku, lines, movements, expected, reserved in stack.query("""
            WITH expected AS (
                SELECT 'order:' || o.number AS reference, l.sku, COUNT(*) AS lines, SUM(l.quantity) AS quantity
                FROM orders_order o JOIN orders_orderline l ON l.order_id = o.id
                WHERE o.status = ANY(%s) GROUP BY 1, 2),
            reserved AS (
                SELECT m.reference, p.sku, COUNT(*) AS movements, SUM(m.quantity) AS quantity
                FROM catalog_stockmovement m JOIN catalog_product p ON p.id = m.product_id
                WHERE m.kind = 'reservation' GROUP BY 1, 2)
            SELECT reference, sku, e.lines, r.movements, e.quantity, r.quantity
            FROM expected e FULL JOIN reserved r USING (reference, sku)
            WHERE e.lines IS DISTINCT FROM r.movements OR e.quantity IS DISTINCT FROM r.quantity""",
            [list(RESERVING)]):  # fmt: skip
        problems.append(f"{reference} {sku}: {lines} line(s) of {expected} unit(s) reserved by {movements} "
                        f"movement(s) of {reserved}")  # fmt: skip
    for sku, on_hand, ledger, reserved, ordered in stack.query("""
            SELECT l.sku, l.on_hand,
                   (SELECT COALESCE(SUM(m.quantity), 0) FROM catalog_stockmovement m
                    WHERE m.stock_level_id = l.id AND m.kind = ANY(%s)),
                   l.reserved,
                   (SELECT COALESCE(SUM(ol.quantity), 0) FROM orders_orderline ol
                    JOIN orders_order o ON o.id = ol.order_id WHERE ol.product_id = l.product_id
                    AND o.status = ANY(%s))
            FROM catalog_stocklevel l ORDER BY l.sku""", [list(ON_HAND_KINDS), list(RESERVING)]):  # fmt: skip
        if (on_hand, reserved) != (ledger, ordered):
            problems.append(f"stock of {sku}: on hand {on_hand} (ledger {ledger}), reserved {reserved} "
                            f"(orders {ordered})")  # fmt: skip
    for (order_id,) in stack.query("SELECT order_id FROM shipping_shipment WHERE status <> 'cancelled' "
                                   "GROUP BY order_id HAVING COUNT(*) > 1"):  # fmt: skip
        problems.append(f"order id {order_id} has more than one live shipment")
    [(handed_out, on_shipments, distinct)] = stack.query("""
        SELECT (SELECT SUM(next_number - range_start) FROM shipping_awbpool),
               COUNT(*), COUNT(DISTINCT awb) FROM shipping_shipment WHERE awb <> ''""")
    if not handed_out == on_shipments == distinct:
        problems.append(f"AWBs: {handed_out} handed out by the pool, {on_shipments} on shipments, {distinct} "
                        f"distinct")  # fmt: skip
    for object_key, events in (
        stack.query("""
            SELECT object_key, COUNT(DISTINCT event_id) FROM shopops_webhookdelivery
            WHERE event_type IN ('import.finished', 'document.ready') GROUP BY 1 HAVING COUNT(DISTINCT event_id) > 1""")
    ):
        problems.append(f"{object_key} finished {events} times (events)")
    return problems


def retries(stack: Stack, table: str, pk: int) -> int:
    """How many times the task that claimed the job (its id is the claim) was retried after an error, as the
    worker logged it."""
    [(claim,)] = stack.query(f"SELECT claimed_by FROM {table} WHERE id = %s", [pk])
    return sum(1 for line in stack.log("worker").splitlines() if claim and f"[{claim}] retry:" in line)


def events(stack: Stack, kind: str, ids: list[int]) -> dict[int, int]:
    """How many finished events (``import.finished``, ``document.ready``) each job wrote."""
    keys = [f"{kind}:{pk}" for pk in ids]
    found = dict(stack.query("SELECT object_key, COUNT(DISTINCT event_id) FROM shopops_webhookdelivery "
                             "WHERE object_key = ANY(%s) GROUP BY 1", [keys]))  # fmt: skip
    return {pk: found.get(f"{kind}:{pk}", 0) for pk in ids}


# -- the drills --------------------------------------------------------------------------------------------------------

IMPORT_COLUMNS = ("channel_order_id,payment_method,shipping_name,shipping_phone,shipping_line1,shipping_city,"
                  "shipping_state,shipping_postcode,sku,quantity,unit_price")  # fmt: skip


def orders_csv(prefix: str, count: int) -> bytes:
    """An orders import file of ``count`` one-line orders ``<prefix>-<n>``."""
    out = io.StringIO()
    out.write(IMPORT_COLUMNS + "\n")
    for n in range(count):
        data = order_data(f"{prefix}-{n}", n)
        address, line = data["shipping_address"], data["lines"][0]
        out.write(f"{data['channel_order_id']},{data['payment_method']},{address['name']},{address['phone']},"
                  f"{address['line1']},{address['city']},{address['state']},{address['postcode']},{line['sku']},"
                  f"{line['quantity']},{line['unit_price']}\n")  # fmt: skip
    return out.getvalue().encode()


def _upload(partner: Partner, prefix: str, count: int, error_policy: str = "reject_file") -> httpx.Response | None:
    return partner.call("import upload", "POST", "/api/v1/imports/",
                        files={"file": (f"{prefix}.csv", orders_csv(prefix, count), "text/csv")},
                        data={"kind": "orders", "error_policy": error_policy})  # fmt: skip


def _imported(stack: Stack, ids: list[int], prefix: str) -> dict:
    rows = stack.query("SELECT id, status, total_rows, created_count, skipped_count, failed_count FROM "
                       "orders_bulkimport WHERE id = ANY(%s) ORDER BY id", [ids])  # fmt: skip
    [(orders, distinct)] = stack.query("SELECT COUNT(*), COUNT(DISTINCT channel_order_id) FROM orders_order "
                                       "WHERE channel_order_id LIKE %s", [f"{prefix}%"])  # fmt: skip
    return {"jobs": {pk: rest for pk, *rest in rows}, "orders": orders, "distinct orders": distinct,
            "events": events(stack, "import", ids)}  # fmt: skip


def broker_imports(stack: Stack, *, imports: int = 4, orders_each: int = 25) -> Report:
    report = Report("broker down during imports", "broker")
    partner = Partner(stack, report, "imports")
    answers, ids = [], []

    def upload_all():
        for n in range(imports):
            response = _upload(partner, f"BI{n}", orders_each)
            answers.append((response.status_code, response.json()["status"]) if response else None)
            if response is not None and response.status_code == 202:
                ids.append(response.json()["id"])

    with watching_health(stack, report):
        _outage(report, stack.broker.down, stack.broker.up, upload_all)
        _recovered(stack, report, partner)
        _finish(stack, report, "imports", ids, "import")
    report.facts = found = {"answers": answers, **_imported(stack, ids, "BI")}
    report.expect("answers while the broker was down", answers, [(202, "queued")] * imports)
    report.expect("imports (status, total_rows, created, skipped, failed)", list(found["jobs"].values()),
                  [["done", orders_each, orders_each, 0, 0]] * imports)  # fmt: skip
    report.expect("orders imported (all, distinct)", (found["orders"], found["distinct orders"]),
                  (imports * orders_each,) * 2)  # fmt: skip
    report.expect("import.finished events per import", list(found["events"].values()), [1] * imports)
    _wrap_up(stack, report)
    return report


def broker_labels(stack: Stack, *, requests: int = 4) -> Report:
    report = Report("broker down during label requests", "broker")
    partner = Partner(stack, report, "labels")
    shipments = stack.seed["label_shipments"]
    answers, ids = [], []

    def request_all():
        for n in range(requests):
            response = partner.call("labels", "POST", "/api/v1/documents/labels/",
                                    json={"shipment_ids": shipments[2 * n: 2 * n + 2], "format": "4x6"})  # fmt: skip
            answers.append((response.status_code, response.json()["status"]) if response else None)
            if response is not None and response.status_code == 202:
                ids.append(response.json()["id"])

    with watching_health(stack, report):
        _outage(report, stack.broker.down, stack.broker.up, request_all)
        _recovered(stack, report, partner)
        _finish(stack, report, "documents", ids, "document")
    rows = stack.query("SELECT id, status, page_count FROM shipping_document WHERE id = ANY(%s) ORDER BY id", [ids])
    downloads = []
    for pk in ids:
        response = partner.call("label download", "GET", f"/api/v1/documents/{pk}/download/")
        downloads.append((response.status_code, response.content[:5]) if response else None)
    report.facts = found = {"answers": answers, "documents": {pk: rest for pk, *rest in rows},
                            "events": events(stack, "document", ids), "downloads": downloads}  # fmt: skip
    report.expect("answers while the broker was down", answers, [(202, "queued")] * requests)
    report.expect("documents (status, page_count)", list(found["documents"].values()), [["done", 2]] * requests)
    report.expect("document.ready events per document", list(found["events"].values()), [1] * requests)
    report.expect("downloads (status, first bytes)", downloads, [(200, b"%PDF-")] * requests)
    _wrap_up(stack, report)
    return report


def _throttle_budget(partner: Partner, most: int) -> tuple[int, int]:
    """Requests sent back to back until the first 429 (at most ``most``): how many were answered 2xx first, and
    the status of the last."""
    allowed = 0
    for _ in range(most):
        response = partner.call("throttle probe", "GET", "/api/v1/me/")
        if response is None or response.status_code != 200:
            return allowed, response.status_code if response else 0
        allowed += 1
    return allowed, 200


def cache(stack: Stack, *, orders: int = 6) -> Report:
    report = Report("cache down during API traffic", "cache")
    traffic = Partner(stack, report, "traffic")
    creates, confirms, lists = [], [], []
    throttled: dict[str, tuple[int, int]] = {}

    def traffic_and_throttle():
        for n in range(orders):
            body = order_data(f"CACHE-{n}", n)
            response = traffic.call("order create", "POST", "/api/v1/orders/", json=body,
                                    headers={"Idempotency-Key": f"cache-{n}"})  # fmt: skip
            creates.append(response.status_code if response else 0)
            if response is not None and response.status_code == 201:
                confirmed = traffic.call("order confirm", "POST", f"/api/v1/orders/{response.json()['id']}/confirm/")
                confirms.append(confirmed.status_code if confirmed else 0)
            listed = traffic.call("orders list", "GET", "/api/v1/orders/?page_size=10")
            lists.append(listed.status_code if listed else 0)
        # Two processes counting in their own memory: one budget each at most.
        throttled["down"] = _throttle_budget(Partner(stack, report, "throttle_down"), 2 * THROTTLE_RATE + 1)

    with watching_health(stack, report):
        _outage(report, stack.cache.down, stack.cache.up, traffic_and_throttle)
        listening = time.monotonic()
        _recovered(stack, report, traffic)
        # Each process leaves Redis alone for CACHE_RETRY_SECONDS after its last failure: lists meanwhile.
        while time.monotonic() < listening + CACHE_RETRY_SECONDS + 0.5:
            traffic.call("orders list", "GET", "/api/v1/orders/?page_size=10")
            time.sleep(0.5)
        throttled["up"] = _throttle_budget(Partner(stack, report, "throttle_up"), THROTTLE_RATE + 1)
    [(made, distinct, confirmed)] = stack.query(
        "SELECT COUNT(*), COUNT(DISTINCT channel_order_id), COUNT(*) FILTER (WHERE status = 'confirmed') "
        "FROM orders_order WHERE channel_order_id LIKE 'CACHE-%%'")  # fmt: skip
    report.facts = {"creates": creates, "confirms": confirms, "lists": lists, "orders": made,
                    "distinct orders": distinct, "confirmed": confirmed, "throttled": throttled}  # fmt: skip
    report.expect("answers while the cache was down (creates, confirms, lists)", (creates, confirms, lists),
                  ([201] * orders, [200] * orders, [200] * orders))  # fmt: skip
    report.expect("orders (all, distinct, confirmed)", (made, distinct, confirmed), (orders,) * 3)
    # While Redis is away each of the two processes counts in its own memory: one budget each at most ...
    allowed, last = throttled["down"]
    report.expect("throttled while down: within one and two budgets, then 429",
                  (THROTTLE_RATE <= allowed <= 2 * THROTTLE_RATE, last), (True, 429))  # fmt: skip
    # ... and once it is back, one budget shared by both.
    report.expect("throttled once back: one budget, then 429", throttled["up"], (THROTTLE_RATE, 429))
    _wrap_up(stack, report)
    return report


class _Traffic:
    """Partners calling while the database goes away and comes back, in a thread: order lists, and new orders each
    sent with an Idempotency-Key and sent again with the same key until the answer is final: anything but no
    answer, a 503 or a 409 ``idempotency_key_in_use`` (the key held by a request whose answer never came)."""

    def __init__(self, stack: Stack, report: Report, name: str, prefix: str):
        self.partner, self.prefix = Partner(stack, report, name), prefix
        self.stop, self.pending = threading.Event(), {}  # Idempotency-Key -> order number n
        self.outcomes: dict[str, list[str]] = {}  # each key's answers, in order ("201", "503", "409 <code>"...)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def create(self, key: str, n: int) -> None:
        body = order_data(f"{self.prefix}-{n}", n)
        response = self.partner.call("order create", "POST", "/api/v1/orders/", json=body,
                                     headers={"Idempotency-Key": key})  # fmt: skip
        answer = str(response.status_code) if response is not None else "none"
        if answer == "409":
            answer += " " + response.json()["code"]
        self.outcomes.setdefault(key, []).append(answer)
        if answer in ("none", "503", "409 idempotency_key_in_use"):
            self.pending[key] = n
        else:
            self.pending.pop(key, None)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            for key, k in list(self.pending.items()):
                self.create(key, k)
            self.create(f"{self.prefix}-{n}-{uuid.uuid4().hex[:8]}", n)
            n += 1
            self.partner.call("orders list", "GET", "/api/v1/orders/?page_size=5")
            self.stop.wait(0.3)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def settle(self, deadline: float) -> None:
        """The creates still waiting for a final answer, sent again until they have one or ``deadline`` passes."""
        while self.pending and time.monotonic() < deadline:
            for key, n in list(self.pending.items()):
                self.create(key, n)
            time.sleep(0.5)

    def check(self, stack: Stack, report: Report) -> dict:
        """Each order asked for exists once: its last answer was 201, or 409 ``duplicate_order`` when an attempt
        whose answer was lost had made it. Returns the facts."""
        final = Counter(statuses[-1] for statuses in self.outcomes.values())
        [(made, distinct)] = stack.query("SELECT COUNT(*), COUNT(DISTINCT channel_order_id) FROM orders_order "
                                         "WHERE channel_order_id LIKE %s", [f"{self.prefix}-%"])  # fmt: skip
        report.expect("order creates left without a final answer", sorted(self.pending), [])
        report.expect("final answers to order creates are 201 or 409 duplicate_order",
                      set(final) <= {"201", "409 duplicate_order"}, True)  # fmt: skip
        report.expect("orders asked for (all, distinct)", (made, distinct), (len(self.outcomes),) * 2)
        return {"creates": len(self.outcomes), "final answers": dict(final), "orders": made}


def database_import(stack: Stack, *, orders: int = 5 * IMPORT_CHUNK) -> Report:
    report = Report("database restarted during an import", "database")
    partner = Partner(stack, report, "db_import")
    response = _upload(partner, "DBI", orders, error_policy="skip_failed_rows")
    answer = (response.status_code, response.json()["status"]) if response else None
    job = response.json()["id"] if response is not None and response.status_code == 202 else 0

    def importing():  # a chunk committed, more to come
        [(status, created)] = stack.query("SELECT status, created_count FROM orders_bulkimport WHERE id = %s", [job])
        return (status, created) if status == "importing" and created >= IMPORT_CHUNK else None

    status, created = _until(importing, time.monotonic() + 60, every=0.05) or (None, None)
    with watching_health(stack, report), _Traffic(stack, report, "db_traffic", "DBT") as traffic:
        _outage(report, stack.postgres.down, stack.postgres.up, lambda: None)
        _recovered(stack, report, partner)
    traffic.settle(report.up_at + RECOVERY_DEADLINE)
    _finish(stack, report, "imports", [job], "import")
    report.facts = found = {"answer": answer, "status at the outage": status, "orders before the outage": created,
                            **_imported(stack, [job], "DBI"), "task retries": retries(stack, "orders_bulkimport", job),
                            "traffic": traffic.check(stack, report)}  # fmt: skip
    report.expect("answer", answer, (202, "queued"))
    report.expect("import status at the outage (a chunk committed, four to come)", status, "importing")
    report.expect("the import's task retried after the outage broke into it", found["task retries"] >= 1, True)
    report.expect("import (status, total_rows, created, skipped, failed)", list(found["jobs"].values()),
                  [["done", orders, orders, 0, 0]])  # fmt: skip
    report.expect("orders imported (all, distinct)", (found["orders"], found["distinct orders"]), (orders, orders))
    report.expect("import.finished events", list(found["events"].values()), [1])
    _wrap_up(stack, report)
    return report


def database_batch(stack: Stack) -> Report:
    report = Report("database restarted during a ship batch", "database")
    partner = Partner(stack, report, "db_batch")
    orders = stack.seed["batch_orders"]
    response = partner.call("ship batch", "POST", "/api/v1/ship/batch/", json={
        "order_ids": orders, "options": {"courier": stack.seed["courier"], "print_invoice": False}})  # fmt: skip
    answer = (response.status_code, response.json()["status"]) if response else None
    batch = response.json()["id"] if response is not None and response.status_code == 202 else 0

    def running():  # some orders booked, more to come
        [(status, processed)] = stack.query("SELECT status, processed FROM shipping_shipbatch WHERE id = %s", [batch])
        return (status, processed) if status == "running" and 0 < processed < len(orders) else None

    status, processed = _until(running, time.monotonic() + 60, every=0.02) or (None, None)
    with watching_health(stack, report), _Traffic(stack, report, "db_traffic_batch", "DBB") as traffic:
        _outage(report, stack.postgres.down, stack.postgres.up, lambda: None)
        _recovered(stack, report, partner)
    traffic.settle(report.up_at + RECOVERY_DEADLINE)
    _finish(stack, report, "batches", [batch], "ship batch")
    [(status_now, processed_now, shipped, failed, label)] = stack.query(
        "SELECT status, processed, shipped, failed, label_document_id FROM shipping_shipbatch WHERE id = %s",
        [batch])  # fmt: skip
    shipments = stack.query("SELECT s.order_id, s.status, s.awb FROM shipping_shipment s WHERE s.order_id = ANY(%s) "
                            "AND s.status <> 'cancelled' ORDER BY s.order_id", [orders])  # fmt: skip
    label_pages = stack.query("SELECT status, page_count FROM shipping_document WHERE id = %s", [label or 0])
    [(results,)] = stack.query("SELECT results FROM shipping_shipbatch WHERE id = %s", [batch])
    report.facts = found = {
        "answer": answer, "status at the outage": status, "orders booked before the outage": processed,
        "batch": (status_now, processed_now, shipped, failed),
        "task retries": retries(stack, "shipping_shipbatch", batch),
        "orders with a shipment": len({order for order, _, _ in shipments}),
        "shipments": len(shipments), "distinct AWBs": len({awb for _, _, awb in shipments if awb}),
        "shipment statuses": dict(Counter(s for _, s, _ in shipments)),
        "order statuses": dict(stack.query("SELECT status, COUNT(*) FROM orders_order WHERE id = ANY(%s) GROUP BY 1",
                                           [orders])),
        "label": label_pages[0] if label_pages else None,
        "label events": list(events(stack, "document", [label]).values()) if label else [],
        "refused": {order: outcome["error"]["code"] for order, outcome in results.items() if outcome["error"]},
        "traffic": traffic.check(stack, report),
    }  # fmt: skip
    count = len(orders)
    report.expect("answer", answer, (202, "queued"))
    report.expect("batch status at the outage (orders booked, more to come)", status, "running")
    report.expect("the batch's task retried after the outage broke into it", found["task retries"] >= 1, True)
    report.expect("batch (status, processed, shipped, failed)", found["batch"], ("done", count, count, 0))
    report.expect("orders refused", found["refused"], {})
    report.expect("orders with a shipment, shipments, distinct AWBs", (found["orders with a shipment"],
                  found["shipments"], found["distinct AWBs"]), (count, count, count))  # fmt: skip
    report.expect("shipment statuses", found["shipment statuses"], {"pickup_scheduled": count})
    report.expect("order statuses", found["order statuses"], {"packed": count})
    report.expect("label document (status, pages)", found["label"], ("done", count))
    report.expect("document.ready events of the label", found["label events"], [1])
    _wrap_up(stack, report)
    return report


#: Every drill, in the order they run (the database last: the others need it steady).
DRILLS: list[Callable[[Stack], Report]] = [broker_imports, broker_labels, cache, database_import, database_batch]
#: The sweep's timing the drills run with (for the printouts).
SWEEP = f"jobs-requeue every {REQUEUE_EVERY} s for jobs waiting over {REQUEUE_AFTER} s"

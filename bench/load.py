"""Load: gunicorn on this machine under a mixed partner workload, against the same requests to a bare Django view.

Starts gunicorn (``BENCH_LOAD_WORKERS`` workers, default 3, of ``BENCH_LOAD_WORKER_CLASS``, default sync) on
127.0.0.1 with the production settings (DEBUG off, the throttle's counters in Redis at ``BENCH_CACHE_URL``, persistent
database connections) plus a bench-only URL conf (``bench.load_urls``) that adds a bare JSON view.
``BENCH_LOAD_CLIENTS`` client threads (default twice the workers) send requests back to back over the loopback, each
phase bounded by ``BENCH_LOAD_SECONDS`` (default 20) and ``BENCH_LOAD_REQUESTS`` (default 20,000), after an
unmeasured warm-up of ``BENCH_LOAD_WARMUP_SECONDS`` (default 3). The two phases take turns in ROUNDS slices, so that
the machine's other load weighs on both alike:

1. the floor: every request of the workload (same method, headers, query string and body) sent to the bare view;
2. the mix, as a partner integration calls ShopOps (weights in MIX): order lists with filters, new orders, rate
   quotes, tracking of 50 AWBs and one-call shipping of a new order. POSTs carry an ``Idempotency-Key``.

Prints, per operation and overall: requests, throughput, p50 and p99 latency seen by the client, the error rate and
the count of 5xx; exits non-zero on any 5xx. The one-call shipping books the pickup and renders the 4x6 label (drawn
with ReportLab) but asks for no invoice (``print_invoice: false``): the invoice is a WeasyPrint render that would
dominate the mix by itself; partners can ask for it apart (``POST /documents/invoices/``, rendered by workers).

The data (kept between runs, made through the services and the demo seeds): the demo merchant's catalog, couriers
(rate cards, serviceability over 251 pincodes) and orders, plus ``BENCH_LOAD_ORDERS`` (default 3,000) orders spread
over 90 days in every status, and 500 shipments of the simulated courier tracked along their journeys. Stock and
AWB pools are topped up each run. The partner application is made afresh each run and its token fetched from
``/o/token/`` (client credentials).
"""

import contextlib
import http.client
import itertools
import json
import math
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from bench import load_data

WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", 3))
CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", 2 * WORKERS))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", 20))
REQUESTS = int(os.environ.get("BENCH_LOAD_REQUESTS", 20_000))
WARMUP_SECONDS = float(os.environ.get("BENCH_LOAD_WARMUP_SECONDS", 3))
ROUNDS = 4  # each phase runs in this many slices, taking turns with the other
WORKER_CLASS = os.environ.get("BENCH_LOAD_WORKER_CLASS", "sync")
CACHE_URL = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/1")
CONN_MAX_AGE = os.environ.get("BENCH_LOAD_CONN_MAX_AGE", "60")
# A per-second budget keeps DRF's throttle history (one timestamp per request in the window, read and written
# whole on each request) as short as a production client's while never refusing the load.
THROTTLE_RATE = "10000/s"
SLUG = "bench-load"
APP_NAME = "Load bench partner"
SCOPES = ["orders:read", "orders:write", "shipping:read", "shipping:write"]
BASE_DIR = Path(__file__).resolve().parent.parent

#: The partner's mix: operation -> weight (percent of the requests).
MIX = {"list_orders": 30, "create_order": 20, "quote": 25, "track_50": 15, "ship": 10}
#: What each operation does, for the printout.
DESCRIPTIONS = {
    "list_orders": "GET /orders/ (status, ship/order date range, ordering; 50 a page)",
    "create_order": "POST /orders/ (unique channel_order_id, Idempotency-Key)",
    "quote": "GET /serviceability/ (7 couriers ranked)",
    "track_50": "POST /tracking/ with 50 AWBs",
    "ship": "POST /ship/ a new order (pickup + 4x6 label; no invoice)",
}


# -- figures (pure: tested in tests/bench/test_load.py) ----------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100) by linear interpolation between the closest ranks (numpy's default);
    NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Sample:
    operation: str
    status: int  # 0: no answer (connection error, timeout)
    ms: float
    size: int = 0  # bytes of the answer's body


@dataclass(frozen=True)
class Figures:
    requests: int
    per_second: float
    p50: float
    p99: float
    errors: int  # no answer, or an answer of 400 or more
    server_errors: int  # 5xx
    mean_kb: float = 0.0  # mean size of the answers' bodies

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


def figures(samples: Sequence[Sample], seconds: float) -> Figures:
    timings = [s.ms for s in samples]
    return Figures(
        requests=len(samples),
        per_second=len(samples) / seconds if seconds > 0 else math.nan,
        p50=percentile(timings, 50),
        p99=percentile(timings, 99),
        errors=sum(1 for s in samples if s.status == 0 or s.status >= 400),
        server_errors=sum(1 for s in samples if s.status >= 500),
        mean_kb=sum(s.size for s in samples) / len(samples) / 1024 if samples else 0.0,
    )


def figures_by_operation(samples: Sequence[Sample], seconds: float) -> dict[str, Figures]:
    """Each operation's figures (its throughput over the whole phase), in order of first appearance."""
    grouped: dict[str, list[Sample]] = {}
    for sample in samples:
        grouped.setdefault(sample.operation, []).append(sample)
    return {operation: figures(group, seconds) for operation, group in grouped.items()}


# -- the data ----------------------------------------------------------------------------------------------------------


@dataclass
class Setup:
    merchant: object
    skus: list[tuple[str, str]]  # (sku, price) of products in stock
    awbs: list[str]  # AWBs of tracked shipments
    pincodes: list[str]  # delivery pincodes for quotes
    order_count: int


def _setup() -> Setup:
    from django.core.management.base import OutputWrapper

    from catalog import demo as catalog_demo
    from catalog.models import Product
    from orders import demo as orders_demo
    from orders.models import Order
    from shipping import demo as shipping_demo
    from shipping.models import Shipment
    from shipping.services.notifications import notification_setting_set
    from shopops.models import Merchant
    from shopops.services import merchant_create

    started = time.perf_counter()
    merchant = Merchant.objects.filter(slug=SLUG).first() or merchant_create(
        name="Load bench store", slug=SLUG, legal_name="Load Bench Store Private Limited", tax_id="29ABCDE1234F1Z5",
        email="ops@load-bench.example", phone="+918041234567", line1="12 MG Road", city="Bengaluru",
        state="Karnataka", postcode="560001", country="IN",
    )  # fmt: skip
    out = OutputWrapper(sys.stdout)
    catalog_demo.seed(merchant=merchant, stdout=out)
    orders_demo.seed(merchant=merchant, stdout=out)
    shipping_demo.seed(merchant=merchant, stdout=out)
    # Customers of the bench are not messaged (the demo seed turns notifications on when it is done).
    notification_setting_set(merchant=merchant, data={"email_enabled": False, "sms_enabled": False})
    load_data.top_up(merchant)
    load_data.listed_orders(merchant)
    load_data.tracked_shipments(merchant)
    awbs = list(
        Shipment.objects.filter(merchant=merchant, order__channel_order_id__startswith="LBT-")
        .exclude(awb="")
        .values_list("awb", flat=True)
    )
    products = Product.objects.filter(merchant=merchant, status="active").order_by("sku")
    print(f"setup: {time.perf_counter() - started:.1f} s", flush=True)
    return Setup(
        merchant=merchant,
        skus=[(p.sku, str(p.price)) for p in products],
        awbs=awbs,
        pincodes=shipping_demo.PINCODES,
        order_count=Order.objects.filter(merchant=merchant).count(),
    )


def _partner_token(merchant, base_url: str) -> str:
    """A fresh partner application (the last run's is deleted) and its access token from /o/token/."""
    from django.conf import global_settings
    from django.test import override_settings

    from shopops.models import PartnerApplication
    from shopops.services import partner_application_create

    PartnerApplication.objects.filter(merchant=merchant, name=APP_NAME).delete()
    # This process runs with the test settings (a fast MD5 hasher); the server checks the secret with the
    # production hashers.
    with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):
        credentials = partner_application_create(merchant=merchant, name=APP_NAME, scopes=SCOPES)
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": credentials.client_id,
                                   "client_secret": credentials.client_secret, "scope": " ".join(SCOPES)})  # fmt: skip
    status, data = _call(base_url, "POST", "/o/token/", body.encode(),
                         {"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    if status != 200:
        raise RuntimeError(f"/o/token/ answered {status}: {data[:300]!r}")
    return json.loads(data)["access_token"]


# -- the server --------------------------------------------------------------------------------------------------------


PROXY_HEADERS = {"X-Forwarded-Proto": "https"}  # as the TLS proxy in front of gunicorn sets it


def _call(base_url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    host, port = base_url.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, path, body, {**PROXY_HEADERS, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _gunicorn(workdir: Path):
    """gunicorn on a free loopback port, in a session of its own; its whole process group is stopped on the way out
    (an error, Ctrl-C or a TERM)."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.load_settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "SHOPOPS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "DATABASE_CONN_MAX_AGE": CONN_MAX_AGE,
        "CACHE_URL": CACHE_URL,
        "API_THROTTLE_RATE": THROTTLE_RATE,
        "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_MEDIA_ROOT": str(workdir / "media"),
        "DJANGO_PRIVATE_MEDIA_ROOT": str(workdir / "private"),
    }
    env.pop("CELERY_BROKER_URL", None)  # tasks eager: nothing the workload calls enqueues work
    log_path = workdir / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", "shopops.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", str(WORKERS), "--worker-class", WORKER_CLASS, "--timeout", "60",
               "--graceful-timeout", "5", "--log-level", "warning"]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
    base_url = f"127.0.0.1:{port}"
    previous = signal.signal(signal.SIGTERM, _terminate)  # a TERM to the benchmark stops its server too
    try:
        _wait_ready(process, base_url, log_path)
        yield base_url, log_path
    finally:
        _stop(process)
        signal.signal(signal.SIGTERM, previous)


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def _wait_ready(process, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{_tail(log_path)}")
        with contextlib.suppress(OSError):
            if _call(base_url, "GET", "/healthz")[0] == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /healthz within 60 s:\n{_tail(log_path)}")


def _stop(process) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# -- the workload ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    operation: str
    method: str
    path: str
    body: bytes | None
    headers: dict


@dataclass
class Workload:
    """Builds the partner's requests: ``next_call`` picks an operation by weight and makes its request."""

    setup: Setup
    token: str
    run_id: str
    today: date
    operations: list[str] = field(default_factory=lambda: list(MIX))
    weights: list[int] = field(default_factory=lambda: list(MIX.values()))
    numbers: Iterator[int] = field(default_factory=itertools.count)  # unique channel order ids across phases

    def next_call(self, rng: random.Random, client: int, n: int) -> Call:
        operation = rng.choices(self.operations, self.weights)[0]
        return getattr(self, operation)(rng, client, n)

    def _headers(self, post: bool = False, key: str = "") -> dict:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json", **PROXY_HEADERS}
        if post:
            headers["Content-Type"] = "application/json"
        if key:
            headers["Idempotency-Key"] = key
        return headers

    def list_orders(self, rng: random.Random, client: int, n: int) -> Call:
        month_ago, week_ago = self.today - timedelta(days=30), self.today - timedelta(days=7)
        query = rng.choice([
            {"status": "shipped,delivered", "ship_date_after": month_ago, "ship_date_before": self.today,
             "ordering": "-pack_date"},
            {"status": "confirmed,packed", "ordering": "-pack_date"},
            {"order_date_after": week_ago, "order_date_before": self.today, "payment_method": "cod",
             "ordering": "-order_date"},
        ])  # fmt: skip
        path = "/api/v1/orders/?" + urllib.parse.urlencode({**query, "page_size": 50})
        return Call("list_orders", "GET", path, None, self._headers())

    def _new_order(self, prefix: str, rng: random.Random, client: int, n: int, **extra) -> dict:
        from orders.demo import CUSTOMERS

        data = load_data.order_data(prefix, n, self.setup.skus, rng.choice(CUSTOMERS), **extra)
        data["channel_order_id"] = f"{prefix}{self.run_id}-{next(self.numbers)}"
        return data

    def create_order(self, rng: random.Random, client: int, n: int) -> Call:
        data = self._new_order("LB-", rng, client, n)
        return Call("create_order", "POST", "/api/v1/orders/", json.dumps(data).encode(),
                    self._headers(post=True, key=data["channel_order_id"]))  # fmt: skip

    def quote(self, rng: random.Random, client: int, n: int) -> Call:
        query = {"pickup_postcode": "562114", "delivery_postcode": rng.choice(self.setup.pincodes),
                 "weight_grams": rng.choice([300, 800, 1500, 4200]), "cod": rng.choice(["true", "false"]),
                 "declared_value": "1499.00", "length_cm": 30, "breadth_cm": 20, "height_cm": 10}  # fmt: skip
        return Call("quote", "GET", "/api/v1/serviceability/?" + urllib.parse.urlencode(query), None, self._headers())

    def track_50(self, rng: random.Random, client: int, n: int) -> Call:
        body = json.dumps({"awbs": rng.sample(self.setup.awbs, 50)}).encode()
        return Call("track_50", "POST", "/api/v1/tracking/", body, self._headers(post=True))

    def ship(self, rng: random.Random, client: int, n: int) -> Call:
        data = self._new_order("LBS-", rng, client, n, options={"print_invoice": False})
        return Call("ship", "POST", "/api/v1/ship/", json.dumps(data).encode(),
                    self._headers(post=True, key=data["channel_order_id"]))  # fmt: skip


@dataclass
class Phase:
    samples: list[Sample]
    seconds: float
    failures: list[str]  # the first few refused or failed requests, for the printout

    @classmethod
    def joined(cls, parts: list["Phase"]) -> "Phase":
        return cls(samples=[s for p in parts for s in p.samples], seconds=sum(p.seconds for p in parts),
                   failures=[f for p in parts for f in p.failures][:5])  # fmt: skip


def run_phase(base_url: str, next_call: Callable[[random.Random, int, int], Call], *, clients: int, seconds: float,
              max_requests: int, bare: bool, seed: int) -> Phase:  # fmt: skip
    """``clients`` threads, each on its own connection, send calls back to back until ``seconds`` have passed or
    ``max_requests`` have been sent in all. ``bare``: to the bare view, with the same method, query, headers and
    body."""
    host, port = base_url.rsplit(":", 1)
    samples: list[Sample] = []
    failures: list[str] = []
    budget = itertools.count()
    started = time.perf_counter()
    deadline = started + seconds

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        n = 0
        while time.perf_counter() < deadline and next(budget) < max_requests:
            n += 1
            call = next_call(rng, index, n)
            path = call.path
            if bare:
                path = f"/bench/bare/{call.operation.replace('_', '-')}/" + (
                    "?" + path.split("?", 1)[1] if "?" in path else "")  # fmt: skip
            sent = time.perf_counter()
            try:
                conn.request(call.method, path, call.body, call.headers)
                response = conn.getresponse()
                data = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                status, data = 0, repr(exc).encode()
            samples.append(Sample(call.operation, status, (time.perf_counter() - sent) * 1000, len(data)))
            if (status == 0 or status >= 400) and len(failures) < 5:
                failures.append(f"{call.operation} {call.method} {path} -> {status}: {data[:300]!r}")
        conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Phase(samples, time.perf_counter() - started, failures)


# -- the run -----------------------------------------------------------------------------------------------------------


def _row(name: str, f: Figures, floor: Figures | None = None) -> str:
    ratio = f"{f.p50 / floor.p50:6.1f}x" if floor and floor.p50 else ""
    return (f"  {name:<14} {f.requests:>8,} {f.per_second:>8.1f} {f.p50:>8.1f} {f.p99:>8.1f} "
            f"{f.error_rate * 100:>7.2f}% {f.server_errors:>5} {f.mean_kb:>6.1f} {ratio:>8}")  # fmt: skip


def run() -> str:
    from django.utils import timezone

    from bench import BenchFailure
    from orders.models import Order

    setup = _setup()
    print(f"data: {setup.order_count:,} orders, {len(setup.awbs)} tracked AWBs, {len(setup.skus)} products, "
          f"{len(setup.pincodes)} delivery pincodes")  # fmt: skip
    print(f"load: gunicorn {WORKERS} {WORKER_CLASS} workers, {CLIENTS} client threads back to back on 127.0.0.1, "
          f"each phase {SECONDS:g} s or {REQUESTS:,} requests in {ROUNDS} turns after a {WARMUP_SECONDS:g} s warm-up; "
          f"DATABASE_CONN_MAX_AGE={CONN_MAX_AGE}, throttle {THROTTLE_RATE} in {CACHE_URL}")  # fmt: skip
    print("  ship: pickup booked and the 4x6 label rendered in the request; no invoice (print_invoice=false)")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="shopops-load-") as workdir, _gunicorn(Path(workdir)) as (url, log):
        run_id = secrets.token_hex(3)
        today = timezone.now().astimezone(setup.merchant.tzinfo).date()
        workload = Workload(setup=setup, token=_partner_token(setup.merchant, url), run_id=run_id, today=today)
        for bare in (True, False):
            run_phase(url, workload.next_call, clients=CLIENTS, seconds=WARMUP_SECONDS, max_requests=REQUESTS,
                      bare=bare, seed=0)  # fmt: skip
        # The floor and the mix take turns (ROUNDS slices each), so that a change in the machine's other load
        # weighs on both alike.
        slices: dict[str, list[Phase]] = {"bare view": [], "mix": []}
        for round_ in range(1, ROUNDS + 1):
            for name, bare in (("bare view", True), ("mix", False)):
                slices[name].append(run_phase(url, workload.next_call, clients=CLIENTS, seconds=SECONDS / ROUNDS,
                                              max_requests=REQUESTS // ROUNDS, bare=bare, seed=round_))  # fmt: skip
        phases = {name: Phase.joined(parts) for name, parts in slices.items()}
        server_log = _tail(log)
        load_after = os.getloadavg()[0]
    created = Order.objects.filter(merchant=setup.merchant, channel_order_id__startswith=f"LB-{run_id}-").count()
    shipped = Order.objects.filter(merchant=setup.merchant, channel_order_id__startswith=f"LBS-{run_id}-",
                                   status="packed").exclude(awb="").count()  # fmt: skip

    bare, mix = phases["bare view"], phases["mix"]
    floor, total = figures(bare.samples, bare.seconds), figures(mix.samples, mix.seconds)
    floor_ops = figures_by_operation(bare.samples, bare.seconds)
    mix_ops = figures_by_operation(mix.samples, mix.seconds)
    print(f"  {'':<14} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>8} {'5xx':>5} "
          f"{'kB':>6} {'p50/bare':>8}")  # fmt: skip
    print(_row("bare view", floor))
    print(_row("mix", total, floor))
    for operation in MIX:
        if operation in mix_ops:
            print(_row(operation, mix_ops[operation], floor_ops.get(operation)) + f"  {DESCRIPTIONS[operation]}")
    print(f"  orders made by the mix (warm-up included): {created:,} by POST /orders/, {shipped:,} by POST /ship/")
    print(f"  machine load (1-minute average, {os.cpu_count()} CPUs): {load_before:.1f} before the server started, "
          f"{load_after:.1f} at the end of the mix")  # fmt: skip
    for phase_name, phase in phases.items():
        for failure in phase.failures:
            print(f"  {phase_name} failure: {failure}")
    ratio = floor.per_second / total.per_second
    summary = (f"bench load: {total.per_second:.1f} req/s, p50 {total.p50:.1f} ms, p99 {total.p99:.1f} ms, "
               f"errors {total.error_rate * 100:.2f}%, 5xx {total.server_errors + floor.server_errors}; "
               f"ratio {ratio:.1f}x vs the bare Django view ({floor.per_second:.0f} req/s, p50 {floor.p50:.1f} ms; "
               f"p50 ratio {total.p50 / floor.p50:.1f}x)")  # fmt: skip
    if total.server_errors or floor.server_errors:
        print(f"server log (last lines):\n{server_log}")
        raise BenchFailure(summary + " FAILED: 5xx answers")
    return summary

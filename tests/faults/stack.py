"""ShopOps on throwaway services, for the fault drills (tests/faults/, ``make bench BENCH=faults``).

``Stack`` starts, in a temporary directory, a PostgreSQL cluster of its own (``initdb``, ``pg_ctl``; run as the
``postgres`` user when we are root), two Redis servers (the broker, the cache) and a webhook receiver, each on a
free loopback port; migrates and seeds a database (tests/faults/seed.py); then runs ShopOps on them as production
does, as separate processes: gunicorn (2 workers), a Celery worker on every queue and Celery beat, with the
jobs-requeue sweep every 2 s for jobs waiting over 3 s. Each service can be taken down and brought back while
ShopOps runs. Everything it started (process groups, the cluster, the directory) is stopped and removed on the way
out, whatever happens.
"""

import contextlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests import live

PG_BIN = Path(os.environ.get("FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = os.environ.get("FAULTS_REDIS_SERVER", "redis-server")
#: Every client of the drills has its own partner application: the throttle counts per application.
CLIENTS = (
    "imports",
    "labels",
    "traffic",
    "throttle_down",
    "throttle_up",
    "db_import",
    "db_batch",
    "db_traffic",
    "db_traffic_batch",
)
THROTTLE_RATE = 60  # requests a minute per application (API_THROTTLE_RATE)
REQUEUE_AFTER = 3  # seconds a job waits before the sweep sends it again (JOB_REQUEUE_AFTER_SECONDS)
REQUEUE_EVERY = 2  # seconds between sweeps (JOBS_REQUEUE_EVERY_SECONDS)
QUEUES = "default,imports,documents,notifications,webhooks"


def missing() -> str:
    """Why the drills cannot run here ("" when they can): the PostgreSQL server binaries or redis-server."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        return f"the PostgreSQL server binaries are not in {PG_BIN} (set FAULTS_PG_BIN)"
    if shutil.which(REDIS_SERVER) is None:
        return f"{REDIS_SERVER} is not on the PATH (set FAULTS_REDIS_SERVER)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root needs runuser to start PostgreSQL as the postgres user"
    return ""


def _wait_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f} s")


class Redis:
    """A redis-server without persistence: what it held is gone after ``down()``, as after a crash."""

    def __init__(self, workdir: Path, name: str):
        self.name, self.port, self.log = name, live.free_port(), workdir / f"redis-{name}.log"
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def up(self) -> None:
        with self.log.open("a") as log:
            self.process = live.start([REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--daemonize", "no"],
                                      stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        _wait_port(self.port, 10, f"redis-server ({self.name})")

    def down(self) -> None:
        """Killed (SIGKILL): no goodbye to its clients, its queues lost."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def close(self) -> None:
        if self.process is not None:
            live.stop(self.process, timeout=5)


class Postgres:
    """A PostgreSQL cluster in ``workdir`` (trust authentication, no fsync: thrown away after the drills)."""

    def __init__(self, workdir: Path):
        self.dir = workdir / "postgres"
        self.dir.mkdir()
        self.port = live.free_port()
        self.as_owner: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root
            shutil.chown(self.dir, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.started = False

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self.as_owner, *args], check=True, capture_output=True, timeout=timeout)

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), *args)

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        self.up()

    def up(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c synchronous_commit=off")  # fmt: skip
        self._pg_ctl("-o", options, "-l", str(self.dir / "server.log"), "-w", "start")
        self.started = True

    def down(self) -> None:
        """Stopped (fast: every session is told to end and rolled back), as in a restart or a failover."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def close(self) -> None:
        if self.started:
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                self._pg_ctl("-m", "immediate", "-w", "stop")


class WebhookReceiver:
    """A partner's webhook endpoint: answers 204 to every POST, in a thread of this process."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Stack:
    workdir: Path
    postgres: Postgres
    broker: Redis
    cache: Redis
    base: str  # http://127.0.0.1:<port> of gunicorn
    database_url: str
    tokens: dict[str, str]  # client name -> bearer token
    seed: dict
    env: dict[str, str]  # the environment the ShopOps processes run with
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        """Rows of ``sql`` on the drills' database (a connection of its own, so it works across restarts)."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True, connect_timeout=2) as connection:
            return connection.execute(sql, params).fetchall()

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def alive(self) -> dict[str, bool]:
        """Whether each ShopOps process is still the one started (none restarted or exited)."""
        return {name: process.poll() is None for name, process in self.processes.items()}

    def gunicorn_boots(self) -> int:
        """How many gunicorn workers were started: 2 unless one died and was replaced."""
        return self.log("gunicorn").count("Booting worker with pid")


def _drills_env(stack_dir: Path, database_url: str, broker: Redis, cache: Redis, webhook_url: str) -> dict:
    return live.server_env(
        database_url=database_url, files=stack_dir,
        CELERY_BROKER_URL=broker.url(0), CACHE_URL=cache.url(0),
        API_THROTTLE_RATE=f"{THROTTLE_RATE}/min",
        JOB_REQUEUE_AFTER_SECONDS=str(REQUEUE_AFTER), JOBS_REQUEUE_EVERY_SECONDS=str(REQUEUE_EVERY),
        DATABASE_CONN_MAX_AGE="60",  # connections kept between requests: reconnecting after a restart is tested
        WEBHOOKS_ALLOW_PRIVATE_URLS="1", FAULTS_WEBHOOK_URL=webhook_url, FAULTS_CLIENTS=",".join(CLIENTS),
    )  # fmt: skip


def _run(command: list[str], env: dict, log: Path, timeout: float) -> str:
    with log.open("a") as err:
        result = subprocess.run(command, cwd=live.ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True,
                                timeout=timeout)  # fmt: skip
    if result.returncode:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n{log.read_text()[-3000:]}")
    return result.stdout


def _wait_log(path: Path, text: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{path.name}: the process exited with {process.returncode}:\n{path.read_text()[-3000:]}"
            )
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{path.name} did not say {text!r} within {timeout:.0f} s")


@contextlib.contextmanager
def running_stack(log=print) -> Iterator[Stack]:
    """The whole stack, up and seeded, with a token for each client; stopped and removed on the way out."""
    workdir = Path(tempfile.mkdtemp(prefix="shopops-faults-"))
    os.chmod(workdir, 0o755)  # the postgres user reaches its directory inside
    postgres, broker, cache = Postgres(workdir), Redis(workdir, "broker"), Redis(workdir, "cache")
    processes: dict[str, subprocess.Popen] = {}
    started = time.monotonic()
    try:
        with WebhookReceiver() as receiver:
            postgres.init()
            broker.up()
            cache.up()
            database_url = postgres.url("shopops_drills")
            live.recreate_database(database_url)
            env = _drills_env(workdir, database_url, broker, cache, receiver.url)
            _run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], env, workdir / "setup.log", 300)
            seed = json.loads(_run([sys.executable, "-m", "tests.faults.seed"], env, workdir / "setup.log", 300))
            log(f"services up, database migrated and seeded in {time.monotonic() - started:.1f} s")
            port = live.free_port()
            commands = {
                "gunicorn": [sys.executable, "-m", "gunicorn", "shopops.wsgi", "--bind", f"127.0.0.1:{port}",
                             "--workers", "2", "--timeout", "60", "--graceful-timeout", "5", "--no-control-socket"],
                "worker": [sys.executable, "-m", "celery", "-A", "shopops", "worker", "-Q", QUEUES, "--concurrency",
                           "2", "--without-gossip", "--without-mingle", "-n", "drills@%h", "--loglevel", "INFO"],
                "beat": [sys.executable, "-m", "celery", "-A", "shopops", "beat", "--loglevel", "INFO",
                         "--schedule", str(workdir / "celerybeat-schedule")],
            }  # fmt: skip
            for name, command in commands.items():
                with (workdir / f"{name}.log").open("a") as out:
                    processes[name] = live.start(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            base = f"http://127.0.0.1:{port}"
            live.wait_for(f"{base}/healthz", processes["gunicorn"], timeout=60)
            _wait_log(workdir / "worker.log", " ready.", processes["worker"], timeout=60)
            tokens = {name: live.fetch_token(base, *credentials) for name, credentials in seed["clients"].items()}
            log(f"ShopOps up (gunicorn, worker, beat) after {time.monotonic() - started:.1f} s")
            yield Stack(workdir=workdir, postgres=postgres, broker=broker, cache=cache, base=base,
                        database_url=database_url, tokens=tokens, seed=seed, env=env, processes=processes)  # fmt: skip
    finally:
        for process in reversed(processes.values()):
            live.stop(process)
        broker.close()
        cache.close()
        postgres.close()
        if os.environ.get("FAULTS_KEEP_DIR"):
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

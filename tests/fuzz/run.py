"""The schema fuzzing gate: Schemathesis against a live ShopOps on PostgreSQL.

    .venv/bin/python tests/fuzz/run.py            # or: make fuzz

Creates a fresh database (``FUZZ_DATABASE_URL``, default ``shopops_fuzz`` on the local PostgreSQL), migrates
and seeds it (tests/fuzz/seed.py), starts gunicorn with DEBUG off and eager Celery, takes a client-credentials
token with every scope from ``/o/token/``, and runs ``schemathesis run`` on the served ``/api/schema/`` with
the settings in tests/fuzz/schemathesis.toml (phases, checks, examples per operation) and a fixed seed.
Exits with Schemathesis's status: non-zero on any 5xx or any response that disagrees with the schema, and
non-zero when Schemathesis runs past ``FUZZ_TIMEOUT``. Every process it starts (its process group) is stopped
on every exit. Reports (JUnit, NDJSON) and the server log go to ``FUZZ_REPORT_DIR`` (default ``.fuzz-report/``).
"""

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: the project's packages (tests.live) importable
    sys.path.insert(0, str(ROOT))

from tests import live  # noqa: E402

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
CHILDREN: list[subprocess.Popen] = []


def log(message: str) -> None:
    print(f"[fuzz {time.strftime('%H:%M:%S')}] {message}", flush=True)


def start(command: list[str], **kwargs) -> subprocess.Popen:
    """A child in a process group of its own, stopped (with its children) by stop_all()."""
    child = live.start(command, **kwargs)
    CHILDREN.append(child)
    return child


def run(command: list[str], *, timeout: float, **kwargs) -> int:
    child = start(command, **kwargs)
    try:
        return child.wait(timeout=timeout)
    finally:
        live.stop(child)


def stop_all(*_args) -> None:
    for child in reversed(CHILDREN):
        live.stop(child)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url", default=os.environ.get("FUZZ_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shopops_fuzz")
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("FUZZ_PORT", "8790")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "20261128")))
    parser.add_argument("--timeout", type=int, default=int(os.environ.get("FUZZ_TIMEOUT", "900")),
                        help="Stop Schemathesis (and fail) after this many seconds.")  # fmt: skip
    parser.add_argument("--workers", type=int, default=int(os.environ.get("FUZZ_WORKERS", "2")))
    parser.add_argument("--report-dir", default=os.environ.get("FUZZ_REPORT_DIR", str(ROOT / ".fuzz-report")))
    parser.add_argument("schemathesis_args", nargs="*", help="Extra arguments for `schemathesis run` (after --).")
    options = parser.parse_args()

    report_dir = Path(options.report_dir).resolve()
    report_dir.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{options.port}"
    # Tasks (documents, imports) run eagerly in the server process: no broker, no worker to start. One client
    # sends everything: never throttled.
    env = live.server_env(
        database_url=options.database_url, files=report_dir, API_THROTTLE_RATE="1000000/min", SHOPOPS_PUBLIC_URL=base
    )

    def on_signal(signum, _frame):
        stop_all()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    try:
        log(f"database {options.database_url}: recreate, migrate, seed")
        live.recreate_database(options.database_url)
        if run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], env=env, timeout=300):
            raise SystemExit("migrate failed")
        seed_file = report_dir / "credentials.json"
        with seed_file.open("w") as out:
            if run([sys.executable, "-m", "tests.fuzz.seed"], env=env, stdout=out, timeout=300):
                raise SystemExit("seeding failed")
        credentials = json.loads(seed_file.read_text())
        seed_file.unlink()

        with (report_dir / "server.log").open("w") as server_log:
            server = start(
                [str(BIN / "gunicorn"), "shopops.wsgi", "--bind", f"127.0.0.1:{options.port}", "--workers", "2",
                 "--timeout", "120", "--graceful-timeout", "5"],
                env=env, stdout=server_log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            live.wait_for(f"{base}/healthz", server, timeout=60)
        except RuntimeError as exc:
            raise SystemExit(str(exc)) from exc
        token = live.fetch_token(base, credentials["client_id"], credentials["client_secret"])
        log(f"server up on {base} after {time.monotonic() - started:.0f} s; fuzzing (at most {options.timeout} s)")
        command = [
            str(BIN / "schemathesis"), "--config-file", str(HERE / "schemathesis.toml"),
            "run", f"{base}/api/schema/",
            "--header", f"Authorization: Bearer {token}",
            "--seed", str(options.seed),
            "--workers", str(options.workers),
            "--report", "junit,ndjson",
            "--report-dir", str(report_dir),
            "--no-color",
            *options.schemathesis_args,
        ]  # fmt: skip
        try:
            status = run(command, env=env, timeout=options.timeout)
        except subprocess.TimeoutExpired:
            log(f"Schemathesis did not finish within {options.timeout} s")
            status = 1
    finally:
        stop_all()
    server_log = (report_dir / "server.log").read_text()
    tracebacks = server_log.count("Traceback (most recent call last)")
    if tracebacks:  # what the server said about its first 5xx, for the CI log
        first = min(i for i in (server_log.find("Internal Server Error"), server_log.find("Traceback")) if i >= 0)
        print("\n".join(server_log[first:].splitlines()[:200]))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    log(f"done in {time.monotonic() - started:.0f} s, {usage.ru_utime + usage.ru_stime:.0f} CPU s (setup, server, "
        f"Schemathesis): exit {status}; {tracebacks} tracebacks in {report_dir / 'server.log'}")  # fmt: skip
    return status


if __name__ == "__main__":
    sys.exit(main())

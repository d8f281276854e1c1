"""Run ShopOps benchmarks: ``python -m bench [name ...]`` (``make bench BENCH=orders_list``).

Benchmarks run on PostgreSQL in their own database (``BENCH_DATABASE_URL``,
default ``postgres://postgres@127.0.0.1:5432/shopops_bench``, created if
missing) and keep their generated data between runs. Each prints absolute
figures and ends with one line ``bench <name>: <figures>; ratio <x> vs <floor>``. A benchmark that breaks a
rule (the load benchmark on any 5xx) still prints its line, and the command exits 1.
"""

import importlib
import os
import sys
import time

BENCHMARKS = ["orders_list", "admin", "imports", "rate_quote", "labels", "load", "faults", "channels"]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/shopops_bench"


def _prepare_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    _prepare_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.pop("CELERY_BROKER_URL", None)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench import BenchFailure

    summaries, failed = [], False
    for name in names:
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        try:
            summaries.append(module.run())
        except BenchFailure as failure:
            summaries.append(str(failure))
            failed = True
        print(f"({name} took {time.perf_counter() - started:.0f} s in all)")
    print()
    for line in summaries:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

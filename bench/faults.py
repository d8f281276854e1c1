"""Fault drills: the broker, the cache and the database go down under real traffic and come back.

The drills of tests/faults/ (tests/faults/drills.py), on the same throwaway stack (tests/faults/stack.py): a
PostgreSQL cluster and two Redis servers of their own, gunicorn with 2 workers, a Celery worker on every queue and
Celery beat, the jobs-requeue sweep shortened to every 2 s for jobs waiting over 3 s. Needs the PostgreSQL server
binaries (``FAULTS_PG_BIN``, default /usr/lib/postgresql/15/bin) and redis-server; the bench database is not used.

Prints, for each drill: the requests by status class (2xx, 4xx, 503, other 5xx, no answer within the 5 s budget),
the slowest answer to a request sent while the service was down, how long after the service was back the first
API request answered 2xx, /healthz said ok and the last job finished, the jobs stranded (not finished 45 s after),
and the rules broken (none: "ok"). The floor is the median answer outside the outages. Exits non-zero when a drill
breaks a rule (a 500, a hang, a healthz that lies, a job stranded, a broken invariant, a restarted process).
"""

import statistics
from collections import Counter


def _short(value: object, width: int = 90) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def run() -> str:
    from bench import BenchFailure
    from tests.faults import drills, stack

    reason = stack.missing()
    if reason:
        raise BenchFailure(f"bench faults: not run: {reason}")
    with stack.running_stack(log=lambda line: print(f"  {line}", flush=True)) as running:
        reports = []
        for drill in drills.DRILLS:
            report = drill(running)
            print(f"  {report.name}: {', '.join(report.failed_checks()) or 'ok'}", flush=True)
            reports.append(report)

    print(f"faults: {len(reports)} drills; {drills.SWEEP}; each request within {drills.BUDGET:g} s; services down "
          f"{drills.OUTAGE:g} s at least")  # fmt: skip
    print(f"  {'drill':<42} {'requests':>8} {'2xx':>5} {'4xx':>5} {'503':>5} {'5xx':>4} {'none':>4} {'worst down':>10} "
          f"{'first 2xx':>9} {'healthz ok':>10} {'jobs done':>9} {'stranded':>8}  checks")  # fmt: skip
    for r in reports:
        counts = r.by_class()
        print(f"  {r.name:<42} {len(r.samples):>8} {counts.get('2xx', 0):>5} {counts.get('4xx', 0):>5} "
              f"{counts.get('503', 0):>5} {counts.get('5xx', 0):>4} {counts.get('none', 0):>4} "
              f"{_seconds(r.worst_during_outage):>10} {_seconds(r.after_up(r.first_2xx_at)):>9} "
              f"{_seconds(r.after_up(r.healthz_ok_at)):>10} {_seconds(r.after_up(r.jobs_done_at)):>9} "
              f"{len(r.stranded):>3} of {len(r.jobs):<2}  {', '.join(r.failed_checks()) or 'ok'}")  # fmt: skip
        print("      " + "; ".join(f"{name}: {_short(value)}" for name, value in r.facts.items()))
        for line in (*r.mismatches, *r.bad_answers[:3], *r.healthz_lies[:3], *r.stranded[:3], *r.invariants[:3]):
            print(f"      FAILED {line}")
    total = sum((Counter(r.by_class()) for r in reports), start=Counter())
    steady = statistics.median(s for r in reports for s in r.steady_seconds())
    worst = max(r.worst_during_outage for r in reports)
    recovered = max((r.after_up(r.healthz_ok_at) or float("inf")) for r in reports)
    done = [r.after_up(r.jobs_done_at) for r in reports if r.jobs]
    stranded = sum(len(r.stranded) for r in reports)
    jobs = sum(len(r.jobs) for r in reports)
    summary = (f"bench faults: {len(reports)} drills, {sum(total.values())} requests (2xx {total['2xx']}, "
               f"4xx {total['4xx']}, 503 {total['503']}, other 5xx {total['5xx']}, unanswered {total['none']}), "
               f"worst answer while down {worst:.2f} s, healthz ok within {recovered:.2f} s of the return, jobs done "
               f"within {max((d for d in done if d is not None), default=0):.1f} s, {stranded} of {jobs} jobs "
               f"stranded; ratio {worst / steady:.0f}x vs the median answer outside the outages "
               f"({steady * 1000:.0f} ms)")  # fmt: skip
    failed = [f"{r.name}: {', '.join(r.failed_checks())}" for r in reports if r.failed_checks()]
    if failed:
        raise BenchFailure(f"{summary} FAILED: {'; '.join(failed)}")
    return summary

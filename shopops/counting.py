"""Counting rows without reading them all: exact up to a cap and within a time limit, else an estimate said as one.

At a million orders an exact ``COUNT(*)`` takes a second; a list needs to say "about 1,000,000" (PostgreSQL's
estimate from the query plan) or "more than 10,000", and a tab "10,000+".
"""

import json
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import OperationalError, connections, transaction
from django.db.models import QuerySet
from django.utils.formats import number_format

#: Rows counted exactly; past this many a list shows an estimate.
COUNT_CAP = 10_000
#: How long a list's count may take (PostgreSQL) before the estimate is shown instead.
COUNT_TIMEOUT_MS = 100
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout


@dataclass(frozen=True)
class ResultCount:
    """How many rows a list holds: ``exact``, an ``estimate`` from the query plan, or ``at_least`` (the cap)."""

    number: int
    kind: str = "exact"

    def label(self, singular: str, plural: str) -> str:
        noun = singular if self.number == 1 and self.kind == "exact" else plural
        shown = number_format(self.number, force_grouping=True)
        if self.kind == "estimate":
            return f"about {shown} {noun} (estimated)"
        if self.kind == "at_least":
            return f"more than {shown} {noun}"
        return f"{shown} {noun}"


def capped_counts(querysets: dict[str, QuerySet], cap: int = COUNT_CAP, timeout_ms: int | None = None) -> dict | None:
    """How many rows each queryset holds, counting at most ``cap + 1`` of each (one query for all of them).

    A figure above ``cap`` means "more than ``cap``". With ``timeout_ms`` (PostgreSQL), None when the query takes
    longer than that."""
    if not querysets:
        return {}
    parts, params, db = [], [], None
    for n, queryset in enumerate(querysets.values()):
        db = queryset.db
        try:
            sql, part_params = queryset.order_by().values("pk")[: cap + 1].query.sql_with_params()
        except EmptyResultSet:  # a condition that holds for no row (``none()``, ``pk__in=[]``)
            parts.append("0")
            continue
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped_{n})")
        params += part_params

    def count(cursor):
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        return dict(zip(querysets, cursor.fetchone(), strict=True))

    return _within(db, timeout_ms, count)


def _within(using: str, timeout_ms: int | None, read):
    """``read(cursor)``, cancelled by PostgreSQL after ``timeout_ms`` (None is then returned).

    The limit is local to a transaction of its own, or, inside the caller's transaction, to a savepoint after which
    the caller's own limit is put back (a cancelled statement rolls the savepoint back, and the setting with it)."""
    connection = connections[using]
    if timeout_ms is None or connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            return read(cursor)
    nested = connection.in_atomic_block
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)",
                           [f"{timeout_ms}ms"])  # fmt: skip
            before = cursor.fetchone()[0]
            result = read(cursor)
            if nested:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])
            return result
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != QUERY_CANCELED:
            raise
        return None  # cancelled at the time limit


def plan_estimate(queryset: QuerySet) -> int:
    """PostgreSQL's estimate of the rows ``queryset`` returns, from its query plan (no rows are read)."""
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def bounded_count(queryset: QuerySet, cap: int = COUNT_CAP, timeout_ms: int = COUNT_TIMEOUT_MS) -> ResultCount:
    """The rows of ``queryset``: exact up to ``cap`` rows and ``timeout_ms``; past them, PostgreSQL's estimate
    from the query plan when it is above ``cap``, else (and on other databases) "more than ``cap``"."""
    counted = (capped_counts({"rows": queryset}, cap, timeout_ms) or {}).get("rows")
    if counted is not None and counted <= cap:
        return ResultCount(counted)
    if connections[queryset.db].vendor == "postgresql" and (estimate := plan_estimate(queryset)) > cap:
        return ResultCount(estimate, "estimate")
    return ResultCount(cap, "at_least")  # more than the cap (or not counted in time), and no better estimate

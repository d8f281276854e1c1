"""Set-based inserts for imports: COPY on PostgreSQL, bulk_create elsewhere.

Model instances and bulk_create cost tens of microseconds a row in Python;
an import of a few hundred thousand rows goes through ``insert_rows`` (plain
dicts) or, faster still, ``new_ids`` and ``copy_rows`` (tuples in a fixed column
order, JSON already encoded), which stream them to ``COPY``.
"""

import json
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

import psycopg
from django.db import connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb


def insert_rows(model: type[models.Model], rows: list[dict]) -> list[int]:
    """Insert ``rows`` ({attname: value}; missing fields take their defaults) and return their new ids."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        created = model.objects.bulk_create([model(**row) for row in rows])
        return [obj.pk for obj in created]
    table = model._meta.db_table
    fields = _fields(model)
    defaults = _defaults(fields)
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    ids = new_ids(model, len(rows))
    with connection.cursor() as cursor:
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN") as copy:
            for pk, row in zip(ids, rows, strict=True):
                values = []
                for f in fields:
                    value = pk if f.primary_key else row.get(f.attname, defaults[f.attname])
                    values.append(Jsonb(value) if f.attname in json_fields and value is not None else value)
                copy.write_row(values)
    return ids


def new_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` ids reserved from the table's sequence, for rows that ``copy_rows`` writes with their id.

    PostgreSQL: ``nextval``. SQLite (the embedded default): Django's id columns are AUTOINCREMENT, so the block is
    reserved by moving the table's ``sqlite_sequence`` row on, in one statement that takes the write lock."""
    if count <= 0:
        return []
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [table, pk, count])  # fmt: skip
            return [row[0] for row in cursor.fetchall()]
        cursor.execute("UPDATE sqlite_sequence SET seq = seq + %s WHERE name = %s RETURNING seq", [count, table])
        row = cursor.fetchone()
        if row is None:  # no row was ever inserted: the sequence starts after the ids already there (none)
            quote = connection.ops.quote_name
            cursor.execute(f"SELECT COALESCE(MAX({quote(pk)}), 0) + %s FROM {quote(table)}", [count])
            row = cursor.fetchone()
            cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, row[0]])
        return list(range(row[0] - count + 1, row[0] + 1))


def copy_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[tuple], *,
              return_ids: bool = True) -> list[int]:  # fmt: skip
    """Insert ``rows``, tuples of the values of ``columns`` (attnames), and return their ids.

    With ``"id"`` among the columns the rows carry their ids (from ``new_ids``) and the result is empty; with
    ``return_ids=False`` the database numbers them and the result is empty too (one round trip less).
    Fields not named take their defaults. JSON fields take their value already encoded (``json.dumps``):
    imports repeat addresses and event data, and encode each distinct one once.
    On PostgreSQL the rows stream to ``COPY``; elsewhere they go through ``bulk_create``.
    """
    if not rows:
        return []
    fields = {f.attname: f for f in _fields(model)}
    rest = [f for name, f in fields.items() if name not in columns and not f.primary_key]
    if connection.vendor != "postgresql":
        json_fields = [i for i, name in enumerate(columns) if isinstance(fields[name], models.JSONField)]
        objects = []
        for row in rows:
            values = dict(zip(columns, row, strict=True))
            for i in json_fields:
                values[columns[i]] = json.loads(row[i]) if row[i] is not None else None
            objects.append(model(**values))
        created = model.objects.bulk_create(objects)
        return [] if "id" in columns or not return_ids else [obj.pk for obj in created]
    tail = tuple(Jsonb(value) if isinstance(f, models.JSONField) and value is not None else value
                 for f, value in zip(rest, _defaults(rest).values(), strict=True))  # fmt: skip
    names = [*columns, *(f.attname for f in rest)]
    ids: list[int] = []
    if "id" not in columns and return_ids:
        ids = new_ids(model, len(rows))
        names.insert(0, "id")
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(fields[n].column) for n in names)}) FROM STDIN"
    if ids:
        rows = [(pk, *row) for pk, row in zip(ids, rows, strict=True)]
    # Django's error wrapper: a unique violation is django.db.IntegrityError, as from the ORM
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        tail_text = "".join("\t" + _copy_text(value) for value in tail)
        for start in range(0, len(rows), 1000):
            copy.write(
                "".join("\t".join(map(_copy_text, row)) + tail_text + "\n" for row in rows[start : start + 1000])
            )
    return ids


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


def _copy_text(value) -> str:
    """``value`` as a field of COPY's text format (psycopg's ``write_row`` does the same, several times slower:
    the imports' writer spends its time here)."""
    kind = type(value)
    if kind is str:
        return value.translate(_COPY_ESCAPES) if _NEEDS_ESCAPE.search(value) else value
    if value is None:
        return "\\N"
    if kind is bool:
        return "t" if value else "f"
    if kind is int or kind is Decimal:
        return str(value)
    if kind is datetime or kind is date:
        return value.isoformat()
    if kind is Jsonb:
        return _copy_text(json.dumps(value.obj))
    if isinstance(value, str):
        return _copy_text(str(value))
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"no COPY text for {kind.__name__}")


def pg_cursor() -> psycopg.Cursor:
    """A cursor on Django's PostgreSQL connection (in its transaction) that binds parameters on the server.

    Django's own cursor renders parameters into the SQL text in Python, which for arrays of thousands of
    values costs more than the query; ``= ANY(%s)`` with a list is sent as one array here.
    """
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not f.generated]


def _defaults(fields: list[models.Field]) -> dict:
    now = timezone.now()
    defaults = {}
    for f in fields:
        auto = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        defaults[f.attname] = now if auto else f.get_default()  # "" for text fields without a default
    return defaults


def pg_array(values) -> str:
    """A PostgreSQL array literal of ``values`` (their ``str()``), to pass as one text parameter cast to an array.

    psycopg dumps a Python list element by element in Python; a few thousand ids, totals or order ids go
    faster as one string (``%s::bigint[]``).
    """
    return "{" + ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"

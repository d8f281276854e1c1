"""Descending, nulls-last twins of the pack/ship date indexes, on PostgreSQL only.

``ordering=-pack_date`` sorts ``packed_at DESC NULLS LAST, id DESC``; a plain
ascending index scanned backwards yields NULLS FIRST, so PostgreSQL gets these
matching indexes. SQLite has no NULLS LAST in index definitions and does not need them.
"""

from django.db import migrations

INDEXES = {
    "order_merchant_packed_desc": "packed_at",
    "order_merchant_shipped_desc": "shipped_at",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("orders", "Order")._meta.db_table
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} (merchant_id, {column} DESC NULLS LAST, id DESC)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]

"""The customer list, most recent buyers first, at a million customers per merchant and ten million in the table: on
PostgreSQL, descending nulls-last indexes of the last order's time, per merchant and (for superusers) over every
merchant's customers.

The list sorts ``last_order_at DESC NULLS LAST, id DESC``; the ascending (merchant, last_order_at, id) index scanned
backwards yields NULLS FIRST, so without these PostgreSQL reads and sorts every customer listed for each page. SQLite
has no NULLS LAST in index definitions and does not need them.
"""

from django.db import migrations

INDEXES = {
    "customer_merchant_last_order_desc": "merchant_id, last_order_at DESC NULLS LAST, id DESC",
    "customer_last_order_desc": "last_order_at DESC NULLS LAST, id DESC",  # every merchant's, for superusers
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("orders", "Customer")._meta.db_table
    for name, columns in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("orders", "0021_search_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]

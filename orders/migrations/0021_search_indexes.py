"""Indexes for the order list at a million orders: the order search (channel order ids, SKUs in any case and, on
PostgreSQL, parts of customer names through a trigram index from the pg_trgm extension, serving
``UPPER(name) LIKE UPPER('%term%')``) the "Pickups" tab (booked orders not yet picked up) and every merchant's orders newest first (superusers)."""

import django.db.models.functions.text
from django.db import migrations, models

TRIGRAM_INDEX = "customer_name_trigram"


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite: name search stays a plain LIKE over the merchant's customers
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON orders_customer USING gin (UPPER(name::text) gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_verbose_names"),
        ("orders", "0020_verbose_names"),
        ("shopops", "0008_verbose_names"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["ordered_at", "id"], name="order_ordered"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["merchant", "channel_order_id"], name="order_merchant_channel_ref"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                condition=models.Q(("status__in", ["confirmed", "packed"]), models.Q(("awb", ""), _negated=True)),
                fields=["merchant", "ordered_at", "id"],
                name="order_awaiting_pickup",
            ),
        ),
        migrations.AddIndex(
            model_name="orderline",
            index=models.Index(
                django.db.models.functions.text.Upper("sku"), models.F("merchant"), name="orderline_sku_any_case"
            ),
        ),
        migrations.RunPython(create_trigram_index, drop_trigram_index, elidable=False),
    ]

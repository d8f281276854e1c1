# Each shipment gets an unguessable token for the customer's tracking link; scans dated before the year 2000
# (which no courier sends, and which could not be shown in a time zone) are removed.

import datetime
import secrets

from django.db import migrations, models

import shipping.models

EARLIEST_EVENT = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def fill_tokens(apps, schema_editor):
    Shipment = apps.get_model("shipping", "Shipment")
    batch = []
    for shipment in Shipment.objects.only("pk").iterator(chunk_size=2000):
        shipment.tracking_token = secrets.token_urlsafe(16)
        batch.append(shipment)
        if len(batch) == 2000:
            Shipment.objects.bulk_update(batch, ["tracking_token"])
            batch = []
    Shipment.objects.bulk_update(batch, ["tracking_token"])


def drop_impossible_scans(apps, schema_editor):
    apps.get_model("shipping", "TrackingEvent").objects.filter(occurred_at__lt=EARLIEST_EVENT).delete()
    apps.get_model("shipping", "Shipment").objects.filter(last_event_at__lt=EARLIEST_EVENT).update(last_event_at=None)


class Migration(migrations.Migration):

    dependencies = [
        ("shipping", "0010_shipment_ordering_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="shipment",
            name="tracking_token",
            field=models.CharField(editable=False, max_length=32, null=True),
        ),
        migrations.RunPython(fill_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="shipment",
            name="tracking_token",
            field=models.CharField(
                default=shipping.models.new_tracking_token,
                editable=False,
                help_text="The unguessable key in the customer's tracking link (/track/<awb>/<token>/).",
                max_length=32,
                unique=True,
            ),
        ),
        migrations.RunPython(drop_impossible_scans, migrations.RunPython.noop),
    ]

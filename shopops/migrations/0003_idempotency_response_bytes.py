# Stored responses become the bytes sent: any content is storable, and a replay sends the same bytes.

import json

from django.db import migrations, models


def body_to_bytes(apps, schema_editor):
    IdempotencyKey = apps.get_model("shopops", "IdempotencyKey")
    for record in IdempotencyKey.objects.exclude(response_body=None).iterator():
        record.response_content = json.dumps(record.response_body).encode()
        record.response_headers = {**record.response_headers, "Content-Type": "application/json"}
        record.save(update_fields=["response_content", "response_headers"])


class Migration(migrations.Migration):

    dependencies = [
        ("shopops", "0002_counter"),
    ]

    operations = [
        migrations.AddField(
            model_name="idempotencykey",
            name="response_content",
            field=models.BinaryField(
                blank=True,
                help_text="The response body exactly as it was sent (bytes: any content is storable).",
                null=True,
            ),
        ),
        migrations.RunPython(body_to_bytes, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="idempotencykey",
            name="response_body",
        ),
    ]

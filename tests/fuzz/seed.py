"""Seed the fuzzing database: the demo merchant and its data, a partner application with every scope, and a
second merchant with a catalog of its own (its ids must answer 404 to the first merchant's token).

Run by tests/fuzz/run.py as ``python -m tests.fuzz.seed``; prints the application's credentials as JSON.
"""

import io
import json
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopops.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from catalog import demo as catalog_demo
    from orders.models import ChannelKind
    from orders.services.channels import channel_create
    from shopops.models import Merchant
    from shopops.services import merchant_create, partner_application_create

    call_command("seed_demo", stdout=io.StringIO())
    merchant = Merchant.objects.get(slug="demo")
    credentials = partner_application_create(merchant=merchant, name="Schema fuzzer")

    other = merchant_create(name="Other Store", slug="other", email="ops@other-store.example", country="IN")
    catalog_demo.seed(merchant=other, stdout=io.StringIO())
    channel_create(merchant=other, name="Other website", kind=ChannelKind.CUSTOM)

    json.dump({"client_id": credentials.client_id, "client_secret": credentials.client_secret}, sys.stdout)


if __name__ == "__main__":
    main()

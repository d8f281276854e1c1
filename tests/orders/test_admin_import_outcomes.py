"""An upload's outcome told in its own colour: a file that imported is a success, one with refused rows a warning,
one that imported nothing an error (the job runs when the upload commits, eager Celery, so the message tells how it
ended)."""

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.models import BulkImport
from tests.catalog.factories import LocationFactory, ProductFactory
from tests.orders.test_admin_imports import ORDERS_CSV, UPLOAD

pytestmark = pytest.mark.django_db(transaction=True)

#: WEB-2 names a SKU the catalog does not have.
ONE_BAD_ORDER = ORDERS_CSV.replace(b"7 Park Street,Kolkata,West Bengal,700016,TEE-RED-M",
                                   b"7 Park Street,Kolkata,West Bengal,700016,TEE-NONE")  # fmt: skip


@pytest.fixture
def desk(client, owner, merchant):
    LocationFactory(merchant=merchant, nickname="blr-wh", is_default=True)
    ProductFactory(merchant=merchant, sku="TEE-RED-M")
    ProductFactory(merchant=merchant, sku="TEE-BLU-L")
    client.force_login(owner)
    return client


def upload(desk, content: bytes, policy: str) -> list[tuple[int, str]]:
    response = desk.post(UPLOAD, {"kind": "orders", "file": SimpleUploadedFile("orders.csv", content),
                                  "error_policy": policy}, follow=True)  # fmt: skip
    return [(message.level, str(message)) for message in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(
    ("content", "policy", "level", "ending"),
    [
        (ORDERS_CSV, "reject_file", messages.SUCCESS, "is Done."),
        (ONE_BAD_ORDER, "skip_failed_rows", messages.WARNING, "is Partially failed: some rows were refused, listed "
                                                              "on its page."),
        (ONE_BAD_ORDER, "reject_file", messages.ERROR, "is Failed: nothing was imported, the reasons are on its "
                                                       "page."),
    ],
)  # fmt: skip
def test_the_upload_message_says_how_the_import_ended(desk, content, policy, level, ending):
    told = upload(desk, content, policy)

    job = BulkImport.objects.get()
    assert told == [(level, f"Uploaded orders.csv: import {job.pk} {ending}")]

"""The documents API: a request answers 202 with the job (rendered by the time the answer comes: without a broker
the task runs in-process when the request commits, so these tests commit), reprints reuse the document, any foreign
id refuses the whole request, the PDF is served only through the scoped download, and each kind needs its scopes."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from orders.services.orders import order_update
from shipping.models import Document, DocumentKind, DocumentStatus, Invoice, Manifest, ShipmentStatus
from shipping.services.manifests import manifest_create
from shipping.services.shipments import shipment_assign_awb
from tests.api import NOT_FOUND, invalid
from tests.conftest import client_for
from tests.shipping.documents_helpers import SIZE_4X6, SIZE_A4, SIZE_A5, gst_merchant, page_size, pdf_pages, same_size
from tests.shipping.factories import make_shipment, shipping_courier

# The requests enqueue the render on commit: the tests commit for real, as a production request does.
pytestmark = pytest.mark.django_db(transaction=True)

DOCUMENTS = "/api/v1/documents/"
NO_AWB = "The shipment has no AWB yet: assign one first."


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def bluedart(merchant):
    return shipping_courier(merchant)


def iso(value) -> str | None:
    return serializers.DateTimeField().to_representation(value) if value else None


def body_of(document: Document, **expected) -> dict:
    """The job's body: ``expected`` gives the fields a test decides (status, pages, ids...), the row the rest."""
    document.refresh_from_db()
    done = document.status == DocumentStatus.DONE
    return {
        "id": document.pk, "kind": document.kind, "format": document.format, "status": document.status,
        "page_count": document.page_count, "not_created": document.not_created, "error": document.error,
        "manifest": document.manifest_id, "shipment_ids": [], "order_ids": [], "credit_note_ids": [],
        "download_url": f"http://testserver{DOCUMENTS}{document.pk}/download/" if done else None,
        "created_at": iso(document.created_at), "started_at": iso(document.started_at),
        "finished_at": iso(document.finished_at), **expected,
    }  # fmt: skip


def download(client, document_id: int) -> bytes:
    response = client.get(f"{DOCUMENTS}{document_id}/download/")
    assert response.status_code == 200, response.content[:300]
    return b"".join(response.streaming_content)


def labelled(merchant, count: int) -> list:
    return [make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED) for _ in range(count)]


# -- labels --------------------------------------------------------------------------------------------------------


def test_labels_for_three_shipments_are_one_merged_4x6_pdf(api, merchant, bluedart):
    shipments = labelled(merchant, 3)
    ids = [s.pk for s in shipments]

    response = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": ids, "format": "4x6"}, format="json")

    assert response.status_code == 202, response.json()
    document = Document.objects.get()
    assert response.json() == body_of(document, kind="label", format="4x6", status="done", page_count=3,
                                      not_created=[], error="", shipment_ids=sorted(ids))  # fmt: skip
    assert document.requested_by == f"app:{api.application.client_id}"
    pdf = download(api, document.pk)
    pages = pdf_pages(pdf)
    assert len(pages) == 3
    assert all(same_size(page_size(page), SIZE_4X6) for page in pages)
    texts = [page.extract_text() for page in pages]
    assert [[s.awb for s in shipments if s.awb in text] for text in texts] == [[s.awb] for s in shipments]


def test_labels_a4_4up_put_four_to_a_sheet(api, merchant, bluedart):
    ids = [s.pk for s in labelled(merchant, 5)]

    response = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": ids, "format": "a4-4up"}, format="json")

    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["format"], body["page_count"], body["not_created"]) == ("done", "a4-4up", 2, [])
    pages = pdf_pages(download(api, response.json()["id"]))
    assert len(pages) == 2
    assert all(same_size(page_size(page), SIZE_A4) for page in pages)


def test_a_reprint_of_unchanged_labels_returns_the_same_document_without_rendering(api, merchant, bluedart):
    ids = [s.pk for s in labelled(merchant, 2)]
    first = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": ids}, format="json")
    document = Document.objects.get()
    rendered = (document.file.name, document.file_checksum, document.started_at, document.finished_at)
    pdf = download(api, document.pk)

    again = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": ids, "format": "4x6"}, format="json")
    reordered = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": [ids[1], ids[0], ids[1]]}, format="json")

    assert again.status_code == 202, again.json()
    assert again.json() == reordered.json() == first.json()
    assert Document.objects.count() == 1
    document.refresh_from_db()
    assert (document.file.name, document.file_checksum, document.started_at, document.finished_at) == rendered
    assert download(api, document.pk) == pdf


def test_a_document_whose_file_was_lost_is_a_409_and_asking_again_renders_it_afresh(api, merchant, bluedart):
    ids = [s.pk for s in labelled(merchant, 1)]
    first = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": ids}, format="json").json()
    lost = Document.objects.get()
    lost.file.storage.delete(lost.file.name)

    response = api.get(f"{DOCUMENTS}{lost.pk}/download/")
    again = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": ids}, format="json").json()

    assert response.status_code == 409
    assert response.json() == {"code": "document_file_missing", "message": f"The PDF of document {lost.pk} is no "
                               "longer stored; request the document again.", "details": {"status": "done"}}  # fmt: skip
    assert again["id"] != first["id"]
    assert (again["status"], again["page_count"]) == ("done", 1)
    assert download(api, again["id"]).startswith(b"%PDF")


def test_a_document_still_queued_is_the_same_document_when_asked_for_again(api, merchant, bluedart):
    ids = [s.pk for s in labelled(merchant, 1)]
    first = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": ids}, format="json").json()
    # As if its message never reached a worker (the broker was down): still queued an hour later.
    Document.objects.filter(pk=first["id"]).update(status=DocumentStatus.QUEUED,
                                                   queued_at=timezone.now() - timedelta(hours=1))  # fmt: skip

    again = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": ids}, format="json").json()

    assert (again["id"], again["status"]) == (first["id"], "queued")  # the sweep sends it again (test_dispatch.py)
    assert Document.objects.count() == 1


def test_labels_of_a_changed_order_are_a_new_document(api, merchant, bluedart):
    first, second = labelled(merchant, 2)
    ids = [first.pk, second.pk]
    old = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": ids}, format="json").json()
    order_update(order=first.order, data={"shipping_address": {**first.order.shipping_address, "name": "Rahul Verma"}},
                 actor="test")  # fmt: skip

    response = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": ids}, format="json")

    assert response.status_code == 202, response.json()
    assert response.json()["id"] != old["id"]
    assert Document.objects.count() == 2
    new = Document.objects.get(pk=response.json()["id"])
    assert (new.status, new.page_count) == (DocumentStatus.DONE, 2)
    assert "Rahul Verma" in pdf_pages(download(api, new.pk))[0].extract_text()
    assert "Rahul Verma" not in pdf_pages(download(api, old["id"]))[0].extract_text()


def test_another_merchants_shipment_among_the_ids_is_a_404_for_the_whole_request(api, merchant, other_merchant,
                                                                                  bluedart):  # fmt: skip
    mine = labelled(merchant, 2)
    theirs = make_shipment(other_merchant, ShipmentStatus.AWB_ASSIGNED)

    response = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": [mine[0].pk, theirs.pk, mine[1].pk]}, format="json")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": f"No shipments with ids {theirs.pk}.", "details": {}}
    assert Document.objects.count() == 0


def test_more_than_500_ids_no_ids_and_an_unknown_format_are_400(api, merchant, bluedart):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)

    too_many = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": list(range(1, 502))}, format="json")
    none = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": []}, format="json")
    missing = api.post(f"{DOCUMENTS}labels/", {"format": "4x6"}, format="json")
    a3 = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": [shipment.pk], "format": "a3"}, format="json")
    slips_4x6 = api.post(f"{DOCUMENTS}packing-slips/", {"order_ids": [shipment.order_id], "format": "4x6"},
                         format="json")  # fmt: skip

    assert (too_many.status_code, too_many.json()) == (400, invalid(
        {"shipment_ids": ["Ensure this field has no more than 500 elements."]}))  # fmt: skip
    assert (none.status_code, none.json()) == (400, invalid({"shipment_ids": ["This list may not be empty."]}))
    assert (missing.status_code, missing.json()) == (400, invalid({"shipment_ids": ["This field is required."]}))
    assert (a3.status_code, a3.json()) == (400, invalid({"format": ['"a3" is not a valid choice.']}))
    assert (slips_4x6.status_code, slips_4x6.json()) == (400, invalid({"format": ['"4x6" is not a valid choice.']}))
    assert Document.objects.count() == 0


def test_exactly_500_ids_are_accepted_up_to_the_merchant_check(api, merchant, bluedart):
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    ids = [shipment.pk, *range(10_000, 10_499)]

    response = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": ids}, format="json")

    assert response.status_code == 404  # past the limit check: the 499 unknown ids are refused, nothing queued
    assert response.json()["message"] == f"No shipments with ids {', '.join(map(str, range(10_000, 10_499)))}."
    assert Document.objects.count() == 0


def test_shipments_without_an_awb_are_listed_in_not_created_and_the_rest_rendered(api, merchant, bluedart):
    first = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED)
    new = make_shipment(merchant, ShipmentStatus.NEW)
    cancelled = make_shipment(merchant, ShipmentStatus.CANCELLED)
    last = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    ids = [first.pk, new.pk, cancelled.pk, last.pk]

    response = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": ids}, format="json")

    assert response.status_code == 202, response.json()
    not_created = [{"id": new.pk, "reason": NO_AWB}, {"id": cancelled.pk, "reason": "The shipment is cancelled."}]
    assert response.json() == body_of(Document.objects.get(), status="done", page_count=2, not_created=not_created,
                                      shipment_ids=sorted(ids))  # fmt: skip
    texts = [page.extract_text() for page in pdf_pages(download(api, response.json()["id"]))]
    assert [first.awb in texts[0], last.awb in texts[1]] == [True, True]


def test_labels_with_no_shipment_printable_fail_with_the_reasons(api, merchant, bluedart):
    one, two = make_shipment(merchant, ShipmentStatus.NEW), make_shipment(merchant, ShipmentStatus.NEW)

    response = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": [one.pk, two.pk]}, format="json")

    assert response.status_code == 202, response.json()
    error = f"Nothing to print: {one.pk}: {NO_AWB}; {two.pk}: {NO_AWB}"
    assert response.json() == body_of(Document.objects.get(), status="failed", page_count=0, error=error,
                                      not_created=[{"id": one.pk, "reason": NO_AWB}, {"id": two.pk, "reason": NO_AWB}],
                                      shipment_ids=[one.pk, two.pk], download_url=None)  # fmt: skip
    refused = api.get(f"{DOCUMENTS}{response.json()['id']}/download/")
    assert refused.status_code == 409
    assert refused.json() == {"code": "document_not_ready", "message": f"Document {response.json()['id']} is failed.",
                              "details": {"status": "failed", "error": error}}  # fmt: skip


def test_a_failed_document_is_not_reused_once_the_shipments_have_awbs(api, merchant, bluedart):
    shipment = make_shipment(merchant, ShipmentStatus.NEW)
    failed = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": [shipment.pk]}, format="json").json()
    shipment_assign_awb(shipment=shipment, actor="test")

    response = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": [shipment.pk]}, format="json")

    assert failed["status"] == "failed"
    assert (response.json()["status"], response.json()["page_count"]) == ("done", 1)
    assert response.json()["id"] != failed["id"]


# -- invoices, packing slips, manifests ----------------------------------------------------------------------------


def test_invoices_for_two_orders(api, merchant, bluedart):
    gst_merchant(merchant)
    first, second = labelled(merchant, 2)
    ids = [second.order_id, first.order_id]

    response = api.post(f"{DOCUMENTS}invoices/", {"order_ids": ids}, format="json")

    assert response.status_code == 202, response.json()
    document = Document.objects.get()
    assert response.json() == body_of(document, kind="invoice", format="a4", status="done", page_count=2,
                                      not_created=[], order_ids=sorted(ids))  # fmt: skip
    numbers = dict(Invoice.objects.values_list("order_id", "number"))
    assert numbers == {first.order_id: "INV-000001", second.order_id: "INV-000002"}  # rendered in id order
    pages = pdf_pages(download(api, document.pk))
    assert len(pages) == 2
    assert ["INV-000001" in pages[0].extract_text(), "INV-000002" in pages[1].extract_text()] == [True, True]


def test_a_reprint_of_invoices_returns_the_same_document_and_numbers(api, merchant, bluedart):
    gst_merchant(merchant)
    [shipment] = labelled(merchant, 1)
    first = api.post(f"{DOCUMENTS}invoices/", {"order_ids": [shipment.order_id]}, format="json").json()

    again = api.post(f"{DOCUMENTS}invoices/", {"order_ids": [shipment.order_id]}, format="json")

    assert again.json() == first
    assert Document.objects.count() == 1
    assert list(Invoice.objects.values_list("number", flat=True)) == ["INV-000001"]


def test_invoices_without_the_merchants_gstin_are_refused_naming_the_setting(api, merchant, bluedart):
    [shipment] = labelled(merchant, 1)
    assert merchant.tax_id == ""

    response = api.post(f"{DOCUMENTS}invoices/", {"order_ids": [shipment.order_id]}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "missing_merchant_setting",
        "message": "Set the merchant's GSTIN / tax id (Merchant.tax_id) before issuing tax invoices.",
        "details": {"setting": "tax_id"},
    }
    assert (Document.objects.count(), Invoice.objects.count()) == (0, 0)


def test_invoices_without_the_merchants_address_are_refused_naming_the_setting(api, merchant, bluedart):
    gst_merchant(merchant, city="", postcode="")
    [shipment] = labelled(merchant, 1)

    response = api.post(f"{DOCUMENTS}invoices/", {"order_ids": [shipment.order_id]}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "missing_merchant_setting",
        "message": "Set the merchant's address (Merchant.city, Merchant.postcode) before issuing tax invoices.",
        "details": {"setting": "city"},
    }
    assert Document.objects.count() == 0


def test_packing_slips_a5(api, merchant, bluedart):
    shipments = labelled(merchant, 2)
    ids = [s.order_id for s in shipments]

    response = api.post(f"{DOCUMENTS}packing-slips/", {"order_ids": ids, "format": "a5"}, format="json")

    assert response.status_code == 202, response.json()
    assert response.json() == body_of(Document.objects.get(), kind="packing_slip", format="a5", status="done",
                                      page_count=2, order_ids=sorted(ids))  # fmt: skip
    pages = pdf_pages(download(api, response.json()["id"]))
    assert len(pages) == 2
    assert all(same_size(page_size(page), SIZE_A5) for page in pages)


def test_a_manifest_by_its_id(api, merchant, bluedart):
    shipments = labelled(merchant, 3)
    manifest = manifest_create(merchant=merchant, actor="test", shipment_ids=[s.pk for s in shipments])

    response = api.post(f"{DOCUMENTS}manifests/", {"manifest_id": manifest.pk}, format="json")

    assert response.status_code == 202, response.json()
    assert response.json() == body_of(Document.objects.get(), kind="manifest", format="a4", status="done",
                                      page_count=1, manifest=manifest.pk,
                                      shipment_ids=sorted(s.pk for s in shipments))  # fmt: skip
    [page] = pdf_pages(download(api, response.json()["id"]))
    assert same_size(page_size(page), SIZE_A4)
    assert manifest.number in page.extract_text()
    assert all(s.awb in page.extract_text() for s in shipments)


def test_a_manifest_of_shipments_creates_the_manifest_first(api, merchant, bluedart):
    shipments = labelled(merchant, 2)
    ids = [s.pk for s in shipments]

    response = api.post(f"{DOCUMENTS}manifests/", {"shipment_ids": ids}, format="json")

    assert response.status_code == 202, response.json()
    manifest = Manifest.objects.get()
    assert sorted(manifest.shipments.values_list("pk", flat=True)) == sorted(ids)
    assert response.json() == body_of(Document.objects.get(), kind="manifest", status="done", page_count=1,
                                      manifest=manifest.pk, shipment_ids=sorted(ids))  # fmt: skip
    assert manifest.number in pdf_pages(download(api, response.json()["id"]))[0].extract_text()


def test_a_manifest_request_names_either_the_manifest_or_shipments(api, merchant, bluedart):
    [shipment] = labelled(merchant, 1)
    manifest = manifest_create(merchant=merchant, actor="test", shipment_ids=[shipment.pk])

    both = api.post(f"{DOCUMENTS}manifests/", {"manifest_id": manifest.pk, "shipment_ids": [shipment.pk]},
                    format="json")  # fmt: skip
    neither = api.post(f"{DOCUMENTS}manifests/", {}, format="json")

    message = ["Give either manifest_id or shipment_ids."]
    assert (both.status_code, both.json()) == (400, invalid({"manifest_id": message}))
    assert (neither.status_code, neither.json()) == (400, invalid({"manifest_id": message}))
    assert Document.objects.count() == 0


def test_another_merchants_manifest_or_order_is_a_404(api, merchant, other_merchant, bluedart):
    gst_merchant(merchant)
    theirs = make_shipment(other_merchant, ShipmentStatus.AWB_ASSIGNED)
    their_manifest = manifest_create(merchant=other_merchant, actor="test", shipment_ids=[theirs.pk])
    [mine] = labelled(merchant, 1)

    manifest = api.post(f"{DOCUMENTS}manifests/", {"manifest_id": their_manifest.pk}, format="json")
    invoices = api.post(f"{DOCUMENTS}invoices/", {"order_ids": [mine.order_id, theirs.order_id]}, format="json")
    slips = api.post(f"{DOCUMENTS}packing-slips/", {"order_ids": [theirs.order_id]}, format="json")

    assert (manifest.status_code, manifest.json()["message"]) == (404, f"No manifests with ids {their_manifest.pk}.")
    assert (invoices.status_code, invoices.json()["message"]) == (404, f"No orders with ids {theirs.order_id}.")
    assert (slips.status_code, slips.json()["message"]) == (404, f"No orders with ids {theirs.order_id}.")
    assert (Document.objects.count(), Invoice.objects.count()) == (0, 0)


# -- reading and downloading ----------------------------------------------------------------------------------------


def test_the_download_is_the_pdf_as_an_attachment(api, merchant, bluedart):
    [shipment] = labelled(merchant, 1)
    document_id = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": [shipment.pk]}, format="json").json()["id"]

    response = api.get(f"{DOCUMENTS}{document_id}/download/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="label-{document_id}.pdf"'
    assert response["Cache-Control"] == "private, max-age=3600"
    pdf = b"".join(response.streaming_content)
    assert pdf.startswith(b"%PDF")
    assert len(pdf_pages(pdf)) == 1


def test_another_merchants_document_is_not_found(api, other_api, merchant, bluedart):
    [shipment] = labelled(merchant, 1)
    document_id = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": [shipment.pk]}, format="json").json()["id"]

    detail = other_api.get(f"{DOCUMENTS}{document_id}/")
    pdf = other_api.get(f"{DOCUMENTS}{document_id}/download/")

    assert (detail.status_code, detail.json()) == (404, NOT_FOUND)
    assert (pdf.status_code, pdf.json()) == (404, NOT_FOUND)


def test_a_document_not_done_yet_is_a_409_document_not_ready(api, merchant, bluedart):
    [shipment] = labelled(merchant, 1)
    queued = Document.objects.create(merchant=merchant, kind=DocumentKind.LABEL, format="4x6", checksum="0" * 64,
                                     requested_by="test")  # fmt: skip
    queued.shipments.set([shipment])

    detail = api.get(f"{DOCUMENTS}{queued.pk}/")
    response = api.get(f"{DOCUMENTS}{queued.pk}/download/")

    assert detail.status_code == 200
    assert detail.json() == body_of(queued, status="queued", shipment_ids=[shipment.pk], download_url=None)
    assert response.status_code == 409
    assert response.json() == {"code": "document_not_ready", "message": f"Document {queued.pk} is queued.",
                               "details": {"status": "queued", "error": ""}}  # fmt: skip


def test_reading_a_document_costs_the_same_queries_whatever_it_covers(api, merchant, bluedart):
    small = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": [s.pk for s in labelled(merchant, 1)]},
                     format="json").json()["id"]  # fmt: skip
    big = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": [s.pk for s in labelled(merchant, 8)]},
                   format="json").json()["id"]  # fmt: skip

    counts = []
    for document_id in (small, big):
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"{DOCUMENTS}{document_id}/")
        assert response.status_code == 200
        counts.append(len(queries))

    assert len(api.get(f"{DOCUMENTS}{big}/").json()["shipment_ids"]) == 8
    # the token, the merchant, the row (its kind decides the scope), its shipment, order and credit note ids
    assert counts == [6, 6]


# -- scopes -----------------------------------------------------------------------------------------------------------


def test_labels_need_shipping_write(merchant, bluedart):
    [shipment] = labelled(merchant, 1)
    orders_only = client_for(merchant, scopes=["orders:read", "orders:write"])

    response = orders_only.post(f"{DOCUMENTS}labels/", {"shipment_ids": [shipment.pk]}, format="json")

    assert response.status_code == 403
    assert response.json() == {"code": "missing_scope", "message": "This request needs the scope shipping:write.",
                               "details": {"required_scopes": ["shipping:write"],
                                           "missing_scopes": ["shipping:write"]}}  # fmt: skip
    assert Document.objects.count() == 0


def test_invoices_and_packing_slips_need_orders_write(merchant, bluedart):
    gst_merchant(merchant)
    [shipment] = labelled(merchant, 1)
    shipping_only = client_for(merchant, scopes=["shipping:read", "shipping:write"])

    invoices = shipping_only.post(f"{DOCUMENTS}invoices/", {"order_ids": [shipment.order_id]}, format="json")
    slips = shipping_only.post(f"{DOCUMENTS}packing-slips/", {"order_ids": [shipment.order_id]}, format="json")
    manifest = client_for(merchant, scopes=["orders:write"]).post(
        f"{DOCUMENTS}manifests/", {"shipment_ids": [shipment.pk]}, format="json"
    )

    for response in (invoices, slips):
        assert response.status_code == 403
        assert response.json()["details"] == {"required_scopes": ["orders:write"], "missing_scopes": ["orders:write"]}
    assert manifest.status_code == 403
    assert manifest.json()["details"]["required_scopes"] == ["shipping:write"]
    assert (Document.objects.count(), Manifest.objects.count()) == (0, 0)


def test_reading_a_document_needs_the_read_scope_of_its_kind(api, merchant, bluedart):
    gst_merchant(merchant)
    [shipment] = labelled(merchant, 1)
    invoice = api.post(f"{DOCUMENTS}invoices/", {"order_ids": [shipment.order_id]}, format="json").json()["id"]
    label = api.post(f"{DOCUMENTS}labels/", {"shipment_ids": [shipment.pk]}, format="json").json()["id"]
    shipping_reader = client_for(merchant, scopes=["shipping:read"])
    orders_reader = client_for(merchant, scopes=["orders:read"])

    denied = shipping_reader.get(f"{DOCUMENTS}{invoice}/")
    denied_pdf = shipping_reader.get(f"{DOCUMENTS}{invoice}/download/")
    denied_label = orders_reader.get(f"{DOCUMENTS}{label}/download/")

    assert denied.status_code == 403
    assert denied.json() == {
        "code": "missing_scope",
        "message": "This request needs the scope orders:read.",
        "details": {"required_scopes": ["orders:read"], "missing_scopes": ["orders:read"]},
    }
    assert (denied_pdf.status_code, denied_pdf.json()["details"]["required_scopes"]) == (403, ["orders:read"])
    assert (denied_label.status_code, denied_label.json()["details"]["required_scopes"]) == (403, ["shipping:read"])
    assert shipping_reader.get(f"{DOCUMENTS}{label}/").status_code == 200
    assert orders_reader.get(f"{DOCUMENTS}{invoice}/download/").status_code == 200

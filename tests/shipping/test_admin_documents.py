"""Printing from the admin: the print actions on shipments, orders and manifests make one document each and message a
link to its PDF; the documents are listed on the shipment and order pages; the PDF is served only to the merchant's
users. Without a broker the render runs in-process when the action's request commits, so these tests commit."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages

from shipping.models import Document, DocumentKind, DocumentStatus, Invoice, ShipmentStatus
from shipping.services.documents import document_render, document_request
from shipping.services.manifests import manifest_create
from tests.orders.factories import make_order
from tests.shipping.documents_helpers import SIZE_4X6, SIZE_A4, SIZE_A5, gst_merchant, page_size, pdf_pages, same_size
from tests.shipping.factories import make_shipment, shipping_courier
from tests.shopops.factories import MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)

S = ShipmentStatus
SHIPMENTS = "/admin/shipping/shipment/"
ORDERS = "/admin/orders/order/"
MANIFESTS = "/admin/shipping/manifest/"
DOCUMENTS = "/admin/shipping/document/"
NO_AWB = "The shipment has no AWB yet: assign one first."


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def desk(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def bluedart(merchant):
    return shipping_courier(merchant)


def act(client, url: str, action: str, objects):
    """Post an action from the changelist, as the browser does."""
    return client.post(url, {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], "index": 0})


def messages_of(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def link(document: Document, noun: str) -> str:
    return (f'<a href="{DOCUMENTS}{document.pk}/download/">{noun} PDF ({document.page_count} '
            f'page{"" if document.page_count == 1 else "s"})</a>')  # fmt: skip


def pdf_of(client, document: Document) -> bytes:
    response = client.get(f"{DOCUMENTS}{document.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    return b"".join(response.streaming_content)


# -- shipments ------------------------------------------------------------------------------------------------------


def test_print_labels_4x6_from_the_shipments_changelist(desk, owner, merchant, bluedart):
    shipments = [make_shipment(merchant, S.AWB_ASSIGNED) for _ in range(3)]

    response = act(desk, SHIPMENTS, "print_label_4x6_direct", shipments)

    assert response.status_code == 302
    document = Document.objects.get()
    assert (document.kind, document.format, document.status, document.page_count) == ("label", "4x6", "done", 3)
    assert sorted(document.shipments.values_list("pk", flat=True)) == [s.pk for s in shipments]
    assert document.requested_by == f"user:{owner.pk}"
    assert messages_of(response) == [("success", f"Shipping labels for 3 items: {link(document, 'Shipping labels')}")]
    pages = pdf_pages(pdf_of(desk, document))
    assert len(pages) == 3
    assert all(same_size(page_size(page), SIZE_4X6) for page in pages)


def test_print_labels_a4_and_the_shipments_left_out(desk, merchant, bluedart):
    printable = [make_shipment(merchant, S.AWB_ASSIGNED) for _ in range(5)]
    new = make_shipment(merchant, S.NEW)

    response = act(desk, SHIPMENTS, "print_label_a4_4up_direct", [*printable, new])

    document = Document.objects.get()
    assert (document.format, document.status, document.page_count) == ("a4-4up", "done", 2)
    assert document.not_created == [{"id": new.pk, "reason": NO_AWB}]
    assert messages_of(response) == [
        ("warning", f"Shipping labels for 6 items: {link(document, 'Shipping labels')}. Left out: {new.pk}: {NO_AWB}")
    ]
    pages = pdf_pages(pdf_of(desk, document))
    assert len(pages) == 2
    assert all(same_size(page_size(page), SIZE_A4) for page in pages)


def test_printing_the_same_labels_again_links_the_same_document(desk, merchant, bluedart):
    shipments = [make_shipment(merchant, S.AWB_ASSIGNED) for _ in range(2)]
    act(desk, SHIPMENTS, "print_label_4x6_direct", shipments)

    act(desk, SHIPMENTS, "print_label_4x6_direct", shipments)
    desk.get(SHIPMENTS)  # the changelist shows the message, and drops it

    response = act(desk, SHIPMENTS, "print_label_4x6_direct", shipments)

    document = Document.objects.get()
    assert messages_of(response) == [("success", f"Shipping labels for 2 items: {link(document, 'Shipping labels')}")]


def test_labels_of_shipments_without_awbs_fail_with_a_link_to_the_job(desk, merchant, bluedart):
    new = make_shipment(merchant, S.NEW)

    response = act(desk, SHIPMENTS, "print_label_4x6_direct", [new])

    document = Document.objects.get()
    error = f"Nothing to print: {new.pk}: {NO_AWB}"
    assert (document.status, document.error) == (DocumentStatus.FAILED, error)
    job = f'<a href="{DOCUMENTS}{document.pk}/change/">Shipping labels: failed ({error})</a>'
    assert messages_of(response) == [("warning", f"Shipping labels for 1 item: {job}. Left out: {new.pk}: {NO_AWB}")]


# -- orders ---------------------------------------------------------------------------------------------------------


def test_print_invoices_from_the_orders_changelist(desk, merchant, bluedart):
    gst_merchant(merchant)
    orders = [make_order(merchant, "packed") for _ in range(2)]

    response = act(desk, ORDERS, "print_invoice_default_direct", orders)

    document = Document.objects.get()
    assert (document.kind, document.format, document.status, document.page_count) == ("invoice", "a4", "done", 2)
    assert sorted(document.orders.values_list("pk", flat=True)) == [o.pk for o in orders]
    assert messages_of(response) == [("success", f"Tax invoices for 2 items: {link(document, 'Tax invoices')}")]
    assert sorted(Invoice.objects.values_list("number", flat=True)) == ["INV-000001", "INV-000002"]
    assert len(pdf_pages(pdf_of(desk, document))) == 2


def test_invoices_without_the_merchants_gstin_print_nothing_and_name_the_setting(desk, merchant, bluedart):
    order = make_order(merchant, "packed")

    response = act(desk, ORDERS, "print_invoice_default_direct", [order])

    assert messages_of(response) == [
        ("error", "Nothing printed: Set the merchant's GSTIN / tax id (Merchant.tax_id) before issuing tax invoices.")
    ]
    assert (Document.objects.count(), Invoice.objects.count()) == (0, 0)


@pytest.mark.parametrize(("action", "format", "size"), [("print_packing_slip_a4_direct", "a4", SIZE_A4),
                                                        ("print_packing_slip_a5_direct", "a5", SIZE_A5)])  # fmt: skip
def test_print_packing_slips_from_the_orders_changelist(desk, merchant, bluedart, action, format, size):
    orders = [make_order(merchant, "confirmed") for _ in range(3)]

    response = act(desk, ORDERS, action, orders)

    document = Document.objects.get()
    assert (document.kind, document.format, document.status, document.page_count) == ("packing_slip", format,
                                                                                       "done", 3)  # fmt: skip
    assert messages_of(response) == [("success", f"Packing slips for 3 items: {link(document, 'Packing slips')}")]
    pages = pdf_pages(pdf_of(desk, document))
    assert len(pages) == 3
    assert all(same_size(page_size(page), size) for page in pages)


def test_print_labels_of_orders_prints_their_live_shipments(desk, merchant, bluedart):
    shipped = [make_shipment(merchant, S.AWB_ASSIGNED) for _ in range(2)]
    cancelled = make_shipment(merchant, S.CANCELLED)
    unshipped = make_order(merchant, "packed")

    response = act(desk, ORDERS, "print_label_4x6_shipments", [*(s.order for s in shipped), cancelled.order,
                                                               unshipped])  # fmt: skip

    document = Document.objects.get()
    assert (document.kind, document.page_count, document.not_created) == ("label", 2, [])
    assert sorted(document.shipments.values_list("pk", flat=True)) == [s.pk for s in shipped]
    assert messages_of(response) == [("success", f"Shipping labels for 2 items: {link(document, 'Shipping labels')}")]


def test_print_labels_of_orders_without_shipments_says_so(desk, merchant, bluedart):
    response = act(desk, ORDERS, "print_label_4x6_shipments", [make_order(merchant, "packed")])

    assert messages_of(response) == [("error", "None of the selected orders has a shipment.")]
    assert Document.objects.count() == 0


# -- manifests ------------------------------------------------------------------------------------------------------


def test_print_manifests_makes_one_document_each(desk, merchant, bluedart):
    manifests = [
        manifest_create(merchant=merchant, actor="test",
                        shipment_ids=[make_shipment(merchant, S.AWB_ASSIGNED).pk for _ in range(count)])
        for count in (1, 2)
    ]  # fmt: skip

    response = act(desk, MANIFESTS, "print_manifests_selected", manifests)

    documents = list(Document.objects.order_by("pk"))
    assert [(d.kind, d.manifest_id, d.status, d.page_count) for d in documents] == [
        ("manifest", manifests[0].pk, "done", 1),
        ("manifest", manifests[1].pk, "done", 1),
    ]
    assert [sorted(d.shipments.values_list("pk", flat=True)) for d in documents] == [
        sorted(m.shipments.values_list("pk", flat=True)) for m in manifests
    ]
    assert messages_of(response) == [("success", f"Manifest for 1 item: {link(d, 'Manifest')}") for d in documents]
    assert manifests[1].number in pdf_pages(pdf_of(desk, documents[1]))[0].extract_text()


# -- the documents on the shipment and order pages; the download ---------------------------------------------------


def test_the_shipment_and_order_pages_list_their_documents(desk, merchant, bluedart):
    gst_merchant(merchant)
    shipment = make_shipment(merchant, S.AWB_ASSIGNED)
    act(desk, SHIPMENTS, "print_label_4x6_direct", [shipment])
    act(desk, ORDERS, "print_invoice_default_direct", [shipment.order])
    desk.get(ORDERS)  # the changelist shows the messages, and drops them
    label = Document.objects.get(kind=DocumentKind.LABEL)
    invoice = Document.objects.get(kind=DocumentKind.INVOICE)

    shipment_page = desk.get(f"{SHIPMENTS}{shipment.pk}/change/").content.decode()
    order_page = desk.get(f"{ORDERS}{shipment.order_id}/change/").content.decode()

    assert link(label, "Shipping labels") in shipment_page
    assert link(invoice, "Tax invoices") not in shipment_page
    assert link(invoice, "Tax invoices") in order_page
    assert link(label, "Shipping labels") not in order_page
    # each row of the inlines is named by its document, not "Document_shipments object (1)"
    assert f"Shipping labels {label.pk}, shipment {shipment.pk}" in shipment_page
    assert f"Tax invoices {invoice.pk}, order {shipment.order_id}" in order_page
    assert " object (" not in shipment_page + order_page


def test_the_download_serves_the_merchants_users_only(client, desk, merchant, other_merchant, bluedart):
    shipment = make_shipment(merchant, S.AWB_ASSIGNED)
    act(desk, SHIPMENTS, "print_label_4x6_direct", [shipment])
    document = Document.objects.get()

    response = desk.get(f"{DOCUMENTS}{document.pk}/download/")
    assert response["Content-Disposition"] == f'inline; filename="label-{document.pk}.pdf"'
    assert b"".join(response.streaming_content).startswith(b"%PDF")

    client.force_login(MembershipFactory(merchant=other_merchant, role="owner").user)
    assert client.get(f"{DOCUMENTS}{document.pk}/download/").status_code == 404
    assert client.get(f"{DOCUMENTS}{document.pk}/change/").status_code == 302  # not theirs: back to the index


def test_a_viewer_sees_the_pdf_but_cannot_print(client, merchant, bluedart):
    shipment = make_shipment(merchant, S.AWB_ASSIGNED)
    client.force_login(MembershipFactory(merchant=merchant, role="viewer").user)

    response = act(client, SHIPMENTS, "print_label_4x6_direct", [shipment])
    orders = act(client, ORDERS, "print_packing_slip_a4_direct", [shipment.order])
    offered = [name for name, _ in client.get(ORDERS).context["action_form"].fields["action"].choices]

    assert response.status_code == 200  # the changelist again: a viewer has no shipment actions
    assert response.context["action_form"] is None
    assert (orders.status_code, messages_of(orders)) == (302, [("warning", "No action selected.")])
    assert [name for name in offered if name.startswith("print_")] == []
    assert Document.objects.count() == 0
    document = document_render(document_id=document_request(
        merchant=merchant, kind="label", ids=[shipment.pk], actor="test").pk)  # fmt: skip
    assert client.get(f"{DOCUMENTS}{document.pk}/download/").status_code == 200


def test_a_document_not_done_yet_redirects_to_its_page(desk, merchant, bluedart):
    shipment = make_shipment(merchant, S.AWB_ASSIGNED)
    queued = Document.objects.create(merchant=merchant, kind=DocumentKind.LABEL, format="4x6", checksum="0" * 64,
                                     requested_by="test")  # fmt: skip
    queued.shipments.set([shipment])

    response = desk.get(f"{DOCUMENTS}{queued.pk}/download/")

    assert (response.status_code, response["Location"]) == (302, f"{DOCUMENTS}{queued.pk}/change/")


def test_the_documents_changelist_lists_the_merchants_documents_in_bounded_queries(
    desk, merchant, other_merchant, bluedart, django_assert_max_num_queries
):
    mine = [document_request(merchant=merchant, kind="label", ids=[make_shipment(merchant).pk], actor="t")
            for _ in range(3)]  # fmt: skip
    theirs = document_request(merchant=other_merchant, kind="label",
                              ids=[make_shipment(other_merchant).pk], actor="t")  # fmt: skip
    with django_assert_max_num_queries(20) as few:
        response = desk.get(DOCUMENTS)
    assert sorted(obj.pk for obj in response.context["cl"].result_list) == sorted(d.pk for d in mine)
    assert theirs.pk not in [obj.pk for obj in response.context["cl"].result_list]

    mine += [document_request(merchant=merchant, kind="label", ids=[make_shipment(merchant).pk], actor="t")
             for _ in range(30)]  # fmt: skip
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = desk.get(DOCUMENTS)

    assert response.context["cl"].result_count == 33

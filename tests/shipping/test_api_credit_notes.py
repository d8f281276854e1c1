"""The credit notes API: list (filters, constant queries), detail, issue by hand or ask for a return's note; bad
input is a 400 naming the field, a state conflict a 409, another merchant's note or order a 404 or 400, and nothing
is written."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import OrderStatus
from orders.services.orders import order_cancel
from shipping.models import CreditNote, Document
from tests.api import NOT_FOUND, invalid, walk
from tests.conftest import client_for
from tests.orders.factories import make_order
from tests.shipping.documents_helpers import gst_merchant
from tests.shipping.test_credit_notes import MUMBAI, invoiced_order, received_return

pytestmark = pytest.mark.django_db
URL = "/api/v1/credit-notes/"
EITHER = "Give either order (with lines or charges) or return_request."


def _line(order, sku: str) -> int:
    return order.lines.get(sku=sku).pk


def test_a_cancellations_note_reads_in_full(api, merchant):
    order = invoiced_order(merchant, OrderStatus.PACKED, address=MUMBAI, cod="45.00")
    order_cancel(order=order, reason="Customer changed their mind", actor="system")
    note = CreditNote.objects.get()
    tee, mug = _line(order, "TEE"), _line(order, "MUG")

    response = api.get(f"{URL}{note.pk}/")

    assert response.status_code == 200
    body = response.json()
    lines = body.pop("lines")
    assert body == {
        "id": note.pk, "number": "CN-000001", "order": order.pk, "order_number": order.number,
        "invoice_number": "INV-000001", "invoice_date": body["invoice_date"], "return_request": None,
        "reason": "cancellation", "note": "Customer changed their mind", "issued_at": body["issued_at"],
        "intra_state": False, "taxable_value": "1332.01", "cgst": "0.00", "sgst": "0.00", "igst": "212.97",
        "total": "1544.98", "currency": "INR", "created_by": "system",
    }  # fmt: skip
    assert [(ln["kind"], ln["order_line"], ln["uqc"], ln["quantity"], ln["rate"], ln["taxable_value"], ln["igst"],
             ln["total"]) for ln in lines] == [
        ("item", tee, "PCS", 3, "18.00", "847.45", "152.54", "999.99"),
        ("item", mug, "NOS", 2, "12.00", "446.42", "53.57", "499.99"),
        ("cod", None, "", None, "18.00", "38.14", "6.86", "45.00"),
    ]  # fmt: skip


def test_a_note_by_hand_credits_units_and_charges_in_proportion(api, merchant):
    order = invoiced_order(merchant, shipping="59.00")

    response = api.post(URL, {"order": order.pk, "lines": [{"line_id": _line(order, "MUG"), "quantity": 1}],
                              "charges": ["shipping"], "note": "Chipped mug"}, format="json")  # fmt: skip

    assert response.status_code == 201, response.json()
    body = response.json()
    # half the mugs: 250.00 (249.995 up), CGST 26.79 / 2 = 13.40 (13.395 up), SGST 26.78 / 2 = 13.39; the shipping
    # whole: 59.00, 9.00 of GST at 18%
    assert (body["number"], body["reason"], body["note"], body["taxable_value"], body["cgst"], body["sgst"],
            body["total"]) == ("CN-000001", "other", "Chipped mug", "273.21", "17.90", "17.89", "309.00")  # fmt: skip
    assert [(ln["kind"], ln["quantity"], ln["taxable_value"], ln["cgst"], ln["sgst"], ln["total"])
            for ln in body["lines"]] == [
        ("item", 1, "223.21", "13.40", "13.39", "250.00"), ("shipping", None, "50.00", "4.50", "4.50", "59.00"),
    ]  # fmt: skip


def test_asking_for_a_returns_note_answers_the_one_issued_at_receipt(api, merchant):
    order = invoiced_order(merchant)
    ret = received_return(order, {"TEE": 2})

    response = api.post(URL, {"return_request": ret.pk}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["return_request"], response.json()["total"]) == (ret.pk, "666.66")
    assert CreditNote.objects.count() == 1


def test_the_list_filters_and_costs_constant_queries(api, merchant):
    orders = [invoiced_order(merchant, OrderStatus.CONFIRMED) for _ in range(5)]
    for order in orders:
        order_cancel(order=order, reason="Out of stock", actor="system")
    returned = invoiced_order(merchant)
    ret = received_return(returned, {"TEE": 1})

    ids, sizes = walk(api, URL, {"page_size": 2})
    with CaptureQueriesContext(connection) as one:
        api.get(URL, {"page_size": 1})
    with CaptureQueriesContext(connection) as six:
        api.get(URL, {"page_size": 6})
    by_return = api.get(URL, {"return_request": ret.pk}).json()["results"]
    by_reason = api.get(URL, {"reason": "cancellation", "order": orders[0].pk}).json()["results"]
    by_invoice = api.get(URL, {"invoice_number": "INV-000006"}).json()["results"]

    assert (len(ids), sizes) == (6, [2, 2, 2])
    assert len(one.captured_queries) == len(six.captured_queries)  # notes, their lines: not one query a note
    assert [n["number"] for n in by_return] == ["CN-000006"]
    assert [n["number"] for n in by_reason] == ["CN-000001"]
    assert [n["order"] for n in by_invoice] == [returned.pk]


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, {"order": [EITHER]}),
        ({"order": 1, "return_request": 1}, {"order": [EITHER]}),
        ({"order": 1}, {"lines": ["Name at least one line or charge to credit."]}),
        ({"order": 1, "charges": ["gift_wrap"]}, {"charges.0": ['"gift_wrap" is not a valid choice.']}),
        (
            {"order": 1, "lines": [{"line_id": 1, "quantity": 0}]},
            {"lines.0.quantity": ["Ensure this value is greater than or equal to 1."]},
        ),
        ({"order": "one", "charges": ["cod"]}, {"order": ["A valid integer is required."]}),
        (
            {"order": 1, "charges": ["cod"], "reason": "cancellation"},
            {"reason": ['"cancellation" is not a valid choice.']},
        ),
    ],
    ids=["nothing", "both", "no-lines", "unknown-charge", "zero-units", "order-not-a-number", "manual-cancellation"],
)
def test_bad_input_is_400_and_writes_nothing(api, merchant, body, details):
    invoiced_order(merchant)

    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == invalid(details)
    assert CreditNote.objects.count() == 0


def test_units_beyond_what_is_left_a_line_of_another_order_and_an_unknown_order_are_400(api, merchant):
    order, other = invoiced_order(merchant), invoiced_order(merchant)
    tee = _line(order, "TEE")

    too_many = api.post(URL, {"order": order.pk, "lines": [{"line_id": tee, "quantity": 4}]}, format="json")
    elsewhere = api.post(URL, {"order": order.pk, "lines": [{"line_id": _line(other, "TEE"), "quantity": 1}]},
                         format="json")  # fmt: skip
    unknown = api.post(URL, {"order": 10**9, "charges": ["cod"]}, format="json")

    assert too_many.json() == invalid({"lines.0.quantity": ["At most 3 of TEE can be credited: 3 invoiced."]})
    assert elsewhere.json() == invalid({"lines.0.line_id": [f"Order {order.number} has no line "
                                                            f"{_line(other, 'TEE')}."]})  # fmt: skip
    assert unknown.json() == invalid({"order": [f"Unknown order {10**9}."]})
    assert CreditNote.objects.count() == 0


def test_an_uninvoiced_order_a_charge_it_lacks_and_a_line_credited_in_full_are_refused(api, merchant):
    plain = make_order(merchant, OrderStatus.DELIVERED)
    order = invoiced_order(merchant)
    api.post(URL, {"order": order.pk, "lines": [{"line_id": _line(order, "TEE"), "quantity": 3}]}, format="json")

    uninvoiced = api.post(URL, {"order": plain.pk, "lines": [{"line_id": plain.lines.get().pk, "quantity": 1}]},
                          format="json")  # fmt: skip
    no_shipping = api.post(URL, {"order": order.pk, "charges": ["shipping"]}, format="json")
    again = api.post(URL, {"order": order.pk, "lines": [{"line_id": _line(order, "TEE"), "quantity": 1}]},
                     format="json")  # fmt: skip

    assert (uninvoiced.status_code, uninvoiced.json()["code"]) == (409, "order_not_invoiced")
    assert no_shipping.json() == invalid({"charges.0": ["Invoice INV-000001 has no shipping to credit."]})
    assert (again.status_code, again.json()["code"]) == (409, "credit_exceeds_invoice")
    assert CreditNote.objects.count() == 1


def test_another_merchants_note_and_order_are_not_found_and_nothing_changes(api, other_merchant, merchant):
    gst_merchant(merchant)
    theirs = invoiced_order(other_merchant)
    order_cancel(order=invoiced_order(other_merchant, OrderStatus.PACKED), reason="x", actor="system")
    their_note = CreditNote.objects.get()

    detail = api.get(f"{URL}{their_note.pk}/")
    listed = api.get(URL).json()["results"]
    credit = api.post(URL, {"order": theirs.pk, "lines": [{"line_id": _line(theirs, "TEE"), "quantity": 1}]},
                      format="json")  # fmt: skip
    printed = api.post("/api/v1/documents/credit-notes/", {"credit_note_ids": [their_note.pk]}, format="json")

    assert (detail.status_code, detail.json()) == (404, NOT_FOUND)
    assert listed == []
    assert credit.json() == invalid({"order": [f"Unknown order {theirs.pk}."]})
    assert printed.status_code == 404
    assert (CreditNote.objects.count(), Document.objects.count()) == (1, 0)


def test_issuing_needs_orders_write_and_reading_orders_read(merchant):
    order = invoiced_order(merchant)
    reader = client_for(merchant, scopes=["orders:read"])
    shipper = client_for(merchant, scopes=["shipping:read", "shipping:write"])

    write = reader.post(URL, {"order": order.pk, "charges": ["cod"]}, format="json")
    read = shipper.get(URL)

    assert (write.status_code, write.json()["code"]) == (403, "missing_scope")
    assert (read.status_code, read.json()["code"]) == (403, "missing_scope")
    assert reader.get(URL).status_code == 200


def test_the_pdf_is_a_document_job(api, merchant, django_capture_on_commit_callbacks):
    order = invoiced_order(merchant, OrderStatus.PACKED)
    order_cancel(order=order, reason="Out of stock", actor="system")
    note = CreditNote.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/documents/credit-notes/", {"credit_note_ids": [note.pk]}, format="json")
    job = api.get(f"/api/v1/documents/{response.json()['id']}/").json()

    assert response.status_code == 202
    assert (job["kind"], job["status"], job["page_count"], job["credit_note_ids"]) == (
        "credit_note", "done", 1, [note.pk])  # fmt: skip
    pdf = api.get(f"/api/v1/documents/{job['id']}/download/")
    assert pdf["Content-Type"] == "application/pdf"
    assert Decimal(CreditNote.objects.get().total) == order.total

"""Credit notes in the admin: the list (scoped, filters, search, bounded queries), the note's page with its lines,
issuing from the order desk and from received returns, printing the PDF."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages

from orders.models import OrderStatus
from orders.services.orders import order_cancel
from shipping.models import CreditNote, Document
from tests.shipping.test_credit_notes import invoiced_order, received_return
from tests.shopops.factories import MembershipFactory

pytestmark = pytest.mark.django_db
NOTES = "/admin/shipping/creditnote/"


@pytest.fixture
def desk(client, owner):
    client.force_login(owner)
    return client


def _action(client, url, action, objects):
    return client.post(url, {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], "index": 0},
                       follow=True)  # fmt: skip


def _messages(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def _cancelled(merchant):
    order = invoiced_order(merchant, OrderStatus.PACKED)
    order_cancel(order=order, reason="Out of stock", actor="system")
    return order


def test_the_list_is_scoped_filters_searches_and_its_queries_are_bounded(desk, merchant, other_merchant,
                                                                         django_assert_max_num_queries):  # fmt: skip
    _cancelled(other_merchant)
    _cancelled(merchant)
    with django_assert_max_num_queries(25) as small:
        desk.get(NOTES)
    orders = [_cancelled(merchant) for _ in range(3)]
    received_return(invoiced_order(merchant), {"TEE": 1})

    with django_assert_max_num_queries(len(small.captured_queries)):
        response = desk.get(NOTES)
    by_reason = desk.get(NOTES, {"reason__exact": "return"})
    by_order = desk.get(NOTES, {"q": orders[1].number})

    mine = CreditNote.objects.filter(merchant=merchant)
    assert sorted(n.pk for n in response.context["cl"].result_list) == sorted(n.pk for n in mine)
    assert [n.reason for n in by_reason.context["cl"].result_list] == ["return"]
    assert [n.order_id for n in by_order.context["cl"].result_list] == [orders[1].pk]


def test_the_notes_page_shows_its_lines(desk, merchant):
    _cancelled(merchant)
    note = CreditNote.objects.get()

    response = desk.get(f"{NOTES}{note.pk}/change/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "CN-000001" in content and "INV-000001" in content and "999.99" in content and "499.99" in content


def test_the_order_desk_credits_the_rest_of_an_invoice_once(desk, merchant):
    order = invoiced_order(merchant, shipping="59.00")
    received_return(order, {"TEE": 1})

    first = _action(desk, "/admin/orders/order/", "credit_rest_of_invoice_selected", [order])
    second = _action(desk, "/admin/orders/order/", "credit_rest_of_invoice_selected", [order])

    rest = CreditNote.objects.get(reason="other")
    order.refresh_from_db()
    assert sum(n.total for n in CreditNote.objects.all()) == order.total
    assert [(line.sku, line.quantity) for line in rest.lines.all()] == [("TEE", 2), ("MUG", 2), ("", None)]
    assert _messages(first)[-1] == ("success", "Credited 1 order.")
    refusal = f"Credited 0 orders; refused 1: {order.number} (its invoice is already credited in full)."
    assert _messages(second)[-1] == ("error", refusal)


def test_the_returns_action_finds_a_received_returns_note(desk, merchant):
    ret = received_return(invoiced_order(merchant), {"MUG": 1})

    response = _action(desk, "/admin/orders/return/", "credit_returns_selected", [ret])

    assert CreditNote.objects.filter(return_request=ret).count() == 1
    assert _messages(response)[-1] == ("success", "Credited 1 return.")


def test_printing_credit_notes_makes_a_document_and_a_viewer_cannot(desk, client, merchant,
                                                                    django_capture_on_commit_callbacks):  # fmt: skip
    _cancelled(merchant)
    note = CreditNote.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        response = _action(desk, NOTES, "print_credit_note_default_direct", [note])
    document = Document.objects.get()
    client.force_login(MembershipFactory(merchant=merchant, role="viewer").user)
    viewer = client.get(NOTES)

    assert (document.kind, list(document.credit_notes.all())) == ("credit_note", [note])
    assert "Credit notes for 1 item" in _messages(response)[-1][1]
    assert "print_credit_note_default_direct" not in viewer.context["cl"].model_admin.get_actions(viewer.wsgi_request)

"""Credit notes: the whole invoice for an order cancelled after it was invoiced, the returned quantities for a
return received (in proportion to the invoice, to the paisa, the last units what is left), by hand; once per return
or cancellation, never more than was invoiced, numbered CN-000001... per merchant."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from catalog.models import UQC, Product
from orders.models import OrderEvent, OrderStatus, ReturnStatus
from orders.services.orders import order_cancel
from orders.services.returns import return_create, return_transition
from shipping.documents.data import credit_note_queryset, invoice_queryset
from shipping.documents.render import render_credit_notes
from shipping.errors import CREDIT_EXCEEDS_INVOICE, ORDER_NOT_INVOICED
from shipping.models import CreditNote, CreditNoteLine
from shipping.services.credit_notes import (
    Credit,
    credit_note_for_cancellation,
    credit_note_for_return,
    credit_note_issue,
)
from shipping.services.documents import document_request, invoices_issue
from shopops.errors import DomainError
from tests.catalog.factories import ProductFactory, stock
from tests.orders.factories import ADDRESS, default_location, make_order
from tests.shipping.documents_helpers import SIZE_A4, gst_merchant, page_size, page_texts, pdf_pages
from tests.shipping.documents_helpers import same_size as same

pytestmark = pytest.mark.django_db
D = Decimal
MUMBAI = {**ADDRESS, "line1": "7 Linking Road", "city": "Mumbai", "state": "Maharashtra", "postcode": "400050"}
AMOUNTS = ("taxable_value", "cgst", "sgst", "igst", "total")


def invoiced_order(merchant, status=OrderStatus.DELIVERED, address=ADDRESS, shipping="0.00", cod="0.00"):
    """3 x TEE at 333.33 (999.99 at 18%: 152.54 GST, CGST 76.27 + SGST 76.27) and 2 x MUG at 250.00 less 0.01
    (499.99 at 12%: 53.57 GST, CGST 26.79 + SGST 26.78); invoiced."""
    gst_merchant(merchant)
    location = default_location(merchant)
    for sku, rate, uqc in (("TEE", "18", UQC.PCS), ("MUG", "12", UQC.NOS)):
        if not Product.objects.filter(merchant=merchant, sku=sku).exists():
            stock(ProductFactory(merchant=merchant, sku=sku, title=sku.title(), mrp=None, tax_rate=D(rate),
                                 hsn_code="6109", uqc=uqc), location, 100)  # fmt: skip
    lines = [{"sku": "TEE", "quantity": 3, "unit_price": D("333.33")},
             {"sku": "MUG", "quantity": 2, "unit_price": D("250.00"), "discount": D("0.01")}]  # fmt: skip
    order = make_order(merchant, status, products=[], lines=lines, shipping_address=dict(address),
                       shipping_charge=D(shipping), cod_charge=D(cod), payment_method="cod")  # fmt: skip
    invoices_issue(merchant=merchant, orders=list(invoice_queryset().filter(pk=order.pk)))
    return order


def received_return(order, quantities: dict[str, int]):
    lines = {line.sku: line.pk for line in order.lines.all()}
    ret = return_create(order=order, lines=[{"line_id": lines[sku], "quantity": q} for sku, q in quantities.items()],
                        reason="Too small", actor="system")  # fmt: skip
    ret = return_transition(return_request=ret, to_status=ReturnStatus.APPROVED, actor="system")
    return return_transition(return_request=ret, to_status=ReturnStatus.RECEIVED, actor="system")


def amounts(obj) -> tuple:
    return tuple(getattr(obj, name) for name in AMOUNTS)


def line_amounts(note) -> list[tuple]:
    return [(line.kind, line.sku, line.quantity, *amounts(line)) for line in note.lines.order_by("id")]


def test_a_cancellation_after_invoicing_credits_the_whole_invoice(merchant):
    order = invoiced_order(merchant, OrderStatus.PACKED, shipping="59.00", cod="45.00")

    order_cancel(order=order, reason="Customer changed their mind", actor="user:7")

    note = CreditNote.objects.get()
    # shipping and COD at the principal supply's 18% (the tees, 847.45 taxable): 9.00 and 6.86 of GST
    assert line_amounts(note) == [
        ("item", "TEE", 3, D("847.45"), D("76.27"), D("76.27"), D("0.00"), D("999.99")),
        ("item", "MUG", 2, D("446.42"), D("26.79"), D("26.78"), D("0.00"), D("499.99")),
        ("shipping", "", None, D("50.00"), D("4.50"), D("4.50"), D("0.00"), D("59.00")),
        ("cod", "", None, D("38.14"), D("3.43"), D("3.43"), D("0.00"), D("45.00")),
    ]
    assert (note.number, note.reason, note.invoice.number, note.note, note.created_by) == (
        "CN-000001", "cancellation", "INV-000001", "Customer changed their mind", "user:7")  # fmt: skip
    assert amounts(note) == (D("1382.01"), D("110.99"), D("110.98"), D("0.00"), D("1603.98"))
    order.refresh_from_db()
    assert note.total == order.total and note.cgst + note.sgst + note.igst == order.tax_total
    assert (
        OrderEvent.objects.filter(order=order, kind="credit_note_issued").values_list("message", flat=True).get()
        == "Credit note CN-000001 against invoice INV-000001: 1603.98"
    )


def test_a_cancellation_before_invoicing_issues_nothing(merchant):
    gst_merchant(merchant)
    order = make_order(merchant, OrderStatus.PACKED)

    order_cancel(order=order, reason="Duplicate", actor="system")

    assert CreditNote.objects.count() == 0


def test_a_partial_return_credits_its_share_and_the_second_return_the_rest_to_the_paisa(merchant):
    order = invoiced_order(merchant, address=MUMBAI)  # IGST: 152.54 and 53.57

    first = received_return(order, {"TEE": 1, "MUG": 1})
    second = received_return(order, {"TEE": 2, "MUG": 1})

    one, two = CreditNote.objects.order_by("number")
    assert (one.return_request, two.return_request, one.number, two.number) == (first, second, "CN-000001",
                                                                                "CN-000002")  # fmt: skip
    # a third of the tees: 999.99 / 3 = 333.33, IGST 152.54 / 3 = 50.85; half the mugs: 250.00 (249.995 up),
    # IGST 26.79 (26.785 up)
    assert line_amounts(one) == [
        ("item", "TEE", 1, D("282.48"), D("0.00"), D("0.00"), D("50.85"), D("333.33")),
        ("item", "MUG", 1, D("223.21"), D("0.00"), D("0.00"), D("26.79"), D("250.00")),
    ]
    # the rest of each line: what the invoice charged less the first note
    assert line_amounts(two) == [
        ("item", "TEE", 2, D("564.97"), D("0.00"), D("0.00"), D("101.69"), D("666.66")),
        ("item", "MUG", 1, D("223.21"), D("0.00"), D("0.00"), D("26.78"), D("249.99")),
    ]
    order.refresh_from_db()
    assert tuple(a + b for a, b in zip(amounts(one), amounts(two), strict=True)) == (
        D("1293.87"), D("0.00"), D("0.00"), D("206.11"), D("1499.98"))  # fmt: skip
    assert one.total + two.total == order.total and one.igst + two.igst == order.tax_total
    assert order.status == OrderStatus.RETURNED


def test_a_return_never_gets_two_credit_notes(merchant):
    order = invoiced_order(merchant)
    ret = received_return(order, {"TEE": 1})

    again = credit_note_for_return(return_request=ret, actor="system")
    ret = return_transition(return_request=ret, to_status=ReturnStatus.REFUNDED, actor="system")

    assert again == CreditNote.objects.get()
    assert CreditNote.objects.count() == 1 and CreditNoteLine.objects.count() == 1


def test_a_cancellation_never_gets_two_credit_notes(merchant):
    order = invoiced_order(merchant, OrderStatus.CONFIRMED)
    order_cancel(order=order, reason="Out of stock", actor="system")

    again = credit_note_for_cancellation(order=order, actor="system")

    assert again == CreditNote.objects.get()


def test_a_note_by_hand_cannot_exceed_the_invoice_and_a_return_credits_only_what_is_left(merchant):
    order = invoiced_order(merchant, shipping="59.00")
    tee = order.lines.get(sku="TEE")
    by_hand = credit_note_issue(order=order, credits=[Credit("item", tee.pk, 2), Credit("shipping")],
                                reason="other", note="Damaged in transit", actor="system")  # fmt: skip

    with pytest.raises(ValidationError) as too_many:
        credit_note_issue(order=order, credits=[Credit("item", tee.pk, 2)], reason="other", actor="system")
    with pytest.raises(DomainError) as charge_again:
        credit_note_issue(order=order, credits=[Credit("shipping")], reason="other", actor="system")
    returned = received_return(order, {"TEE": 3})

    assert by_hand.number == "CN-000001" and by_hand.total == D("725.66")  # 666.66 of tees and 59.00 of shipping
    assert too_many.value.message_dict == {"lines.0.quantity": ["At most 1 of TEE can be credited: 3 invoiced."]}
    assert charge_again.value.code == CREDIT_EXCEEDS_INVOICE
    [note] = CreditNote.objects.filter(return_request=returned)
    assert (note.number, line_amounts(note)) == ("CN-000002", [
        ("item", "TEE", 1, D("282.49"), D("25.42"), D("25.42"), D("0.00"), D("333.33"))])  # fmt: skip
    assert sum(n.total for n in CreditNote.objects.all()) == D("1058.99")  # 999.99 + 59.00: tees and shipping


def test_an_order_without_an_invoice_cannot_be_credited_by_hand(merchant):
    order = make_order(merchant, OrderStatus.DELIVERED)

    with pytest.raises(DomainError) as caught:
        credit_note_issue(order=order, credits=[Credit("item", order.lines.first().pk, 1)], reason="other",
                          actor="system")  # fmt: skip

    assert caught.value.code == ORDER_NOT_INVOICED
    assert CreditNote.objects.count() == 0


# -- the PDF ---------------------------------------------------------------------------------------------------------


def _loaded_notes(*notes):
    return list(credit_note_queryset().filter(pk__in=[n.pk for n in notes]).order_by("pk"))


def test_the_pdf_names_the_invoice_the_reason_the_lines_and_the_tax_credited(merchant):
    cancelled = invoiced_order(merchant, OrderStatus.PACKED, shipping="59.00")
    order_cancel(order=cancelled, reason="Customer changed their mind", actor="system")
    returned = invoiced_order(merchant, address=MUMBAI)
    received_return(returned, {"TEE": 1})

    result = render_credit_notes(merchant=merchant, credit_notes=_loaded_notes(*CreditNote.objects.all()))

    assert (result.page_count, result.not_created) == (2, [])
    assert [same(page_size(p), SIZE_A4) for p in pdf_pages(result.pdf)] == [True, True]
    first, second = page_texts(result.pdf)
    for text in (first, second):
        assert "CREDIT NOTE" in text and "GSTIN: 29ABCDE1234F1Z5" in text
        assert "Tax payable on reverse charge: No" in text
    assert "CN-000001" in first and "Against tax invoice INV-000001" in first and cancelled.number in first
    assert "REASON: Order cancelled after it was invoiced: Customer changed their mind" in first
    assert "3 PCS" in first and "2 NOS" in first and "Shipping charges" in first
    assert "CGST credited 107.56" in first and "₹1,558.98" in first  # CGST 76.27 + 26.79 + 4.50
    assert "Rupees one thousand, five hundred and fifty-eight and ninety-eight paise only" in first
    assert "CN-000002" in second and "Against tax invoice INV-000002" in second
    assert "REASON: Goods returned: Return RET-000001: Too small" in second
    assert "1 PCS" in second and "IGST" in second and "50.85" in second and "₹333.33" in second
    assert "Maharashtra (27)" in second


def test_credit_notes_print_through_the_documents_machinery_in_constant_queries(
    merchant, django_assert_num_queries, django_capture_on_commit_callbacks
):
    orders = [invoiced_order(merchant, OrderStatus.CONFIRMED) for _ in range(4)]
    for order in orders:
        order_cancel(order=order, reason="Out of stock", actor="system")
    notes = list(CreditNote.objects.order_by("pk"))

    for count in (1, 4):
        with django_assert_num_queries(2):  # credit notes with merchant, invoice, order, return; their lines
            render_credit_notes(merchant=merchant, credit_notes=_loaded_notes(*notes[:count]))

    with django_capture_on_commit_callbacks(execute=True):  # the render task, run eagerly
        document = document_request(merchant=merchant, kind="credit_note", ids=[n.pk for n in notes], actor="system")
    document.refresh_from_db()
    again = document_request(merchant=merchant, kind="credit_note", ids=[n.pk for n in notes], actor="system")
    assert (document.status, document.page_count, again.pk) == ("done", 4, document.pk)
    texts = page_texts(document.file.read())
    assert [text.count("CN-00000") for text in texts] == [2, 2, 2, 2]  # the number, and the page footer
    assert ["CN-000001" in texts[0], "CN-000004" in texts[3]] == [True, True]


def test_an_invoice_of_free_goods_is_cancelled_without_a_credit_note(merchant):
    gst_merchant(merchant)
    free = ProductFactory(merchant=merchant, sku="FREE", mrp=None, price=D("0.00"))
    stock(free, default_location(merchant), 5)
    order = make_order(merchant, OrderStatus.PACKED, products=[(free, 1)])
    invoices_issue(merchant=merchant, orders=list(invoice_queryset().filter(pk=order.pk)))

    order_cancel(order=order, reason="Gift withdrawn", actor="system")

    order.refresh_from_db()
    assert (order.status, CreditNote.objects.count()) == (OrderStatus.CANCELLED, 0)
    with pytest.raises(ValidationError) as caught:
        credit_note_issue(order=order, credits=[Credit("item", order.lines.get().pk, 1)], reason="other",
                          actor="system")  # fmt: skip
    assert caught.value.message_dict == {"lines": ["What is named was invoiced at 0.00: there is nothing to credit."]}

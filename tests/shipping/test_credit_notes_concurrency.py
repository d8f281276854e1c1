"""Credit notes under concurrent issuance (PostgreSQL, real threads): gap-free numbers, one note per cancellation,
never more credited than was invoiced."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from orders.models import OrderStatus
from shipping.models import CreditNote
from shipping.services.credit_notes import Credit, credit_note_for_cancellation, credit_note_issue
from shopops.errors import DomainError
from tests.shipping.test_credit_notes import invoiced_order
from tests.shipping.test_documents_concurrency import _run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real row locks: set DATABASE_URL (CI does)")


def test_20_credit_notes_issued_from_10_threads_get_numbers_1_to_20(merchant):
    orders = [invoiced_order(merchant) for _ in range(20)]

    def credit(order):
        line = order.lines.get(sku="TEE")
        return credit_note_issue(order=order, credits=[Credit("item", line.pk, 1)], reason="other",
                                 actor="system").number  # fmt: skip

    numbers = _run_at_once(credit, orders)

    assert sorted(numbers) == [f"CN-{n:06d}" for n in range(1, 21)]
    assert dict(CreditNote.objects.values_list("order_id", "number")) == {
        o.pk: n for o, n in zip(orders, numbers, strict=True)}  # fmt: skip


def test_the_same_cancellation_credited_from_10_threads_gets_one_note(merchant):
    order = invoiced_order(merchant, OrderStatus.PACKED)

    numbers = _run_at_once(lambda _: credit_note_for_cancellation(order=order, actor="system").number, range(10))

    assert numbers == ["CN-000001"] * 10
    assert CreditNote.objects.count() == 1


def test_10_threads_crediting_one_unit_of_a_3_unit_line_credit_exactly_3(merchant):
    order = invoiced_order(merchant)
    tee = order.lines.get(sku="TEE")

    def credit(_):
        try:
            return credit_note_issue(order=order, credits=[Credit("item", tee.pk, 1)], reason="other",
                                     actor="system").number  # fmt: skip
        except (ValidationError, DomainError):
            return None

    numbers = _run_at_once(credit, range(10))

    assert sorted(n for n in numbers if n) == ["CN-000001", "CN-000002", "CN-000003"]
    assert sum(note.total for note in CreditNote.objects.all()) == tee.total

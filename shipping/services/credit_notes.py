"""Credit notes: issued against an order's invoice for an order cancelled after it was invoiced (the whole of what
is left), for a return received (its quantities), or by hand (lines and charges).

The amounts are the invoice's, in proportion: ``q`` of a line's ``Q`` invoiced units credit ``round(amount x q /
Q)`` of each of its taxable value's parts (total, CGST, SGST, IGST; the taxable value is the total less the tax), and
the note that credits a line's last units credits exactly what is left of each, so a line's notes add up to the
invoice's line to the paisa, however it was split. A charge (shipping, COD) is credited whole, once.

Serialised per order by the order's row lock: two requests never credit the same units twice, and nothing credits
more than was invoiced. Numbers come from the merchant's own gap-free series ("CN-000001"), taken in the issuing
transaction (``counter_next``): a note that is not written gives its number back. Idempotent: a return, or an
order's cancellation, has at most one credit note (also held by unique constraints); asking again answers it.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from orders.models import Order, OrderEventKind, OrderLine, Return, ReturnStatus, order_event
from orders.services.extensions import order_service_extensions
from shipping.documents.data import invoice_queryset
from shipping.documents.gst import InvoiceLine, invoice_lines, is_intra_state
from shipping.errors import CREDIT_EXCEEDS_INVOICE, ORDER_NOT_INVOICED, RETURN_NOT_RECEIVED
from shipping.models import CreditNote, CreditNoteLine, CreditNoteLineKind, CreditNoteReason, Invoice
from shopops.money import round_money
from shopops.services import counter_next

CREDIT_NOTE_PREFIX = "CN-"
ZERO = Decimal("0.00")
AMOUNTS = ("taxable_value", "cgst", "sgst", "igst", "total")
#: Statuses of a return whose goods were received.
RECEIVED_STATUSES = (ReturnStatus.RECEIVED, ReturnStatus.REFUNDED, ReturnStatus.CLOSED)


@dataclass(frozen=True)
class Credit:
    """What a request credits: ``quantity`` units of an order line, or a charge (``order_line_id`` None)."""

    kind: str
    order_line_id: int | None = None
    quantity: int | None = None


@dataclass
class _Left:
    """What is left to credit of an invoice line: units and each amount."""

    quantity: int | None
    amounts: dict[str, Decimal]


def _key(kind: str, order_line_id: int | None) -> tuple[str, int | None]:
    return kind, order_line_id


def _left(order: Order, invoiced: list[InvoiceLine]) -> dict[tuple, _Left]:
    """Each invoice line's units and amounts not yet credited by the order's credit notes."""
    left = {_key(line.kind, line.order_line_id): _Left(1 if line.quantity is None else line.quantity,
                                                       {name: getattr(line, name) for name in AMOUNTS})
            for line in invoiced}  # a charge counts as one unit  # fmt: skip
    credited = (CreditNoteLine.objects.filter(credit_note__order=order).values("kind", "order_line_id")
                .annotate(units=Sum("quantity"), **{name: Sum(name) for name in AMOUNTS}))  # fmt: skip
    for row in credited:
        known = left.get(_key(row["kind"], row["order_line_id"]))
        if known is None:
            continue
        known.quantity -= row["units"] or 1  # a charge (no units) is credited once, whole
        for name in AMOUNTS:
            known.amounts[name] -= row[name]
    return left


def _share(line: InvoiceLine, left: _Left, quantity: int | None) -> dict[str, Decimal]:
    """The amounts ``quantity`` units of ``line`` credit: the invoice's in proportion, the last units what is left."""
    if line.quantity is None or quantity == left.quantity:
        return dict(left.amounts)
    parts = {name: round_money(getattr(line, name) * quantity / line.quantity) for name in ("cgst", "sgst", "igst")}
    total = round_money(line.total * quantity / line.quantity)
    return {"total": total, **parts, "taxable_value": total - parts["cgst"] - parts["sgst"] - parts["igst"]}


def _locked_invoiced(order: Order) -> tuple[Order, Invoice]:
    """The order, locked and loaded with what its invoice shows, and its invoice (``order_not_invoiced``)."""
    Order.objects.select_for_update().filter(pk=order.pk).values_list("pk", flat=True).get()
    locked = invoice_queryset().get(pk=order.pk)
    try:
        return locked, locked.invoice
    except Invoice.DoesNotExist:
        raise ORDER_NOT_INVOICED(f"Order {locked.number} has no tax invoice: there is nothing to credit.",
                                 {"order": locked.pk}) from None  # fmt: skip


def credit_note_issue(*, order: Order, credits: list[Credit], reason: str, actor: str, note: str = "",
                      return_request: Return | None = None, at: datetime | None = None,
                      partial: bool = False) -> CreditNote | None:  # fmt: skip
    """Issue a credit note against ``order``'s invoice for ``credits``.

    ``partial``: credit what is left of each (a return received after a note by hand credited some of its
    units), and issue nothing (None) when nothing is left; otherwise a credit beyond what is left is refused:
    field errors (``lines.<i>.quantity``) or ``credit_exceeds_invoice`` (409) for a charge or a line already
    credited in full. ``order_not_invoiced`` (409) when the order has no invoice."""
    with transaction.atomic():
        locked, invoice = _locked_invoiced(order)
        invoiced = {_key(line.kind, line.order_line_id): line for line in invoice_lines(locked)}
        left = _left(locked, list(invoiced.values()))
        wanted, errors, exhausted = [], {}, []
        for index, credit in enumerate(credits):
            key = _key(credit.kind, credit.order_line_id)
            line = invoiced.get(key)
            if line is None and partial:  # a charge the invoice does not have
                continue
            if line is None:
                what = f"line {credit.order_line_id}" if credit.kind == CreditNoteLineKind.ITEM else credit.kind
                errors[f"lines.{index}.line_id" if credit.order_line_id else f"charges.{index}"] = [
                    f"Invoice {invoice.number} has no {what} to credit."]  # fmt: skip
                continue
            remaining = left[key]
            quantity = credit.quantity if line.quantity is not None else None
            if line.quantity is not None and partial:
                quantity = min(quantity, remaining.quantity)
            if (remaining.quantity or 0) <= 0 or quantity == 0:
                if not partial:
                    exhausted.append(line.name)
                continue
            if quantity is not None and quantity > remaining.quantity:
                errors[f"lines.{index}.quantity"] = [f"At most {remaining.quantity} of {line.sku} can be credited: "
                                                     f"{line.quantity} invoiced."]  # fmt: skip
                continue
            amounts = _share(line, remaining, quantity)
            remaining.quantity = (remaining.quantity - quantity) if quantity is not None else 0
            for name in AMOUNTS:
                remaining.amounts[name] -= amounts[name]
            wanted.append((line, quantity, amounts))
        if errors:
            raise ValidationError(errors)
        if exhausted:
            raise CREDIT_EXCEEDS_INVOICE(f"Invoice {invoice.number} is already credited in full for "
                                         f"{', '.join(exhausted)}.", {"invoice": invoice.number,
                                                                      "lines": exhausted})  # fmt: skip
        if not wanted:
            if partial:
                return None
            raise ValidationError({"lines": ["Name at least one line or charge to credit."]})
        totals = {name: sum((amounts[name] for _, _, amounts in wanted), ZERO) for name in AMOUNTS}
        if not totals["total"]:  # free goods only: nothing of value to give back
            if partial:
                return None
            raise ValidationError({"lines": ["What is named was invoiced at 0.00: there is nothing to credit."]})
        number = f"{CREDIT_NOTE_PREFIX}{counter_next(merchant=locked.merchant, name='credit_note'):06d}"
        credit_note = CreditNote.objects.create(
            merchant_id=locked.merchant_id, number=number, invoice=invoice, order=locked, reason=reason,
            return_request=return_request, note=note[:255], issued_at=at or timezone.now(),
            intra_state=is_intra_state(locked.merchant, locked.shipping_address or {}), currency=locked.currency,
            created_by=actor, **totals,
        )  # fmt: skip
        CreditNoteLine.objects.bulk_create([
            CreditNoteLine(merchant_id=locked.merchant_id, credit_note=credit_note, kind=line.kind,
                           order_line_id=line.order_line_id, name=line.name, sku=line.sku, hsn_code=line.hsn,
                           uqc=line.uqc, quantity=quantity, rate=line.rate, **amounts)
            for line, quantity, amounts in wanted
        ])  # fmt: skip
        order_event(locked, OrderEventKind.CREDIT_NOTE_ISSUED, actor,
                    message=f"Credit note {number} against invoice {invoice.number}: {totals['total']}",
                    data={"credit_note": number, "invoice": invoice.number, "reason": reason,
                          "total": str(totals["total"])})  # fmt: skip
    return credit_note


def credit_note_for_cancellation(*, order: Order, actor: str) -> CreditNote | None:
    """The credit note of an invoiced order that was cancelled: whatever of its invoice is not yet credited. Once per
    order (asked again: the same note); None when the order has no invoice or nothing is left to credit."""
    with transaction.atomic():
        if not Invoice.objects.filter(order_id=order.pk).exists():
            return None
        Order.objects.select_for_update().filter(pk=order.pk).values_list("pk", flat=True).get()
        existing = CreditNote.objects.filter(order_id=order.pk, reason=CreditNoteReason.CANCELLATION).first()
        if existing is not None:
            return existing
        lines = OrderLine.objects.filter(order_id=order.pk).order_by("id").values_list("pk", "quantity")
        credits = [Credit(CreditNoteLineKind.ITEM, pk, quantity) for pk, quantity in lines]
        credits += [Credit(CreditNoteLineKind.SHIPPING), Credit(CreditNoteLineKind.COD)]
        return credit_note_issue(order=order, credits=credits, reason=CreditNoteReason.CANCELLATION, actor=actor,
                                 note=order.cancel_reason, partial=True)  # fmt: skip


def credit_note_for_return(*, return_request: Return, actor: str, received: bool = False) -> CreditNote | None:
    """The credit note of a received return of an invoiced order: its quantities (less what a note by hand already
    credited). Once per return (asked again: the same note); None when the order has no invoice or nothing is
    left. ``return_not_received`` (409) before its goods are received (``received``: the caller is receiving them,
    in this transaction)."""
    with transaction.atomic():
        existing = CreditNote.objects.filter(return_request_id=return_request.pk).first()
        if existing is not None:
            return existing
        if not Invoice.objects.filter(order_id=return_request.order_id).exists():
            return None
        status = Return.objects.filter(pk=return_request.pk).values_list("status", flat=True).get()
        if status not in RECEIVED_STATUSES and not received:
            raise RETURN_NOT_RECEIVED(f"Return {return_request.number} is {status}: credit it once its goods are "
                                      "received.", {"status": status})  # fmt: skip
        order = Order.objects.select_for_update().get(pk=return_request.order_id)
        existing = CreditNote.objects.filter(return_request_id=return_request.pk).first()  # under the order's lock
        if existing is not None:
            return existing
        credits = [Credit(CreditNoteLineKind.ITEM, line.order_line_id, line.quantity)
                   for line in return_request.lines.order_by("order_line_id")]  # fmt: skip
        return credit_note_issue(order=order, credits=credits, reason=CreditNoteReason.RETURN, actor=actor,
                                 note=f"Return {return_request.number}: {return_request.reason}"[:255],
                                 return_request=return_request, partial=True)  # fmt: skip


def _on_cancelled(order: Order, actor: str) -> None:
    credit_note_for_cancellation(order=order, actor=actor)


def _on_return_received(return_request: Return, actor: str) -> None:
    credit_note_for_return(return_request=return_request, actor=actor, received=True)


def register() -> None:
    """Issue credit notes as orders are cancelled and returns received (called by ``ShippingConfig.ready``)."""
    order_service_extensions.register_on_cancelled(_on_cancelled)
    order_service_extensions.register_on_return_received(_on_return_received)

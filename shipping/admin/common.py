"""What the shipping pages share: a shipment status inside a sentence, a shipping service's refusal as a short
phrase for an action's message, and the warning of bookings that need an e-way bill."""

from django.contrib import messages

from shipping.documents.data import money
from shipping.errors import AWB_ALREADY_ASSIGNED, ORDER_NOT_SHIPPABLE, SHIPMENT_EXISTS
from shipping.eway import eway_bill_required, eway_bill_threshold
from shipping.models import ShipmentStatus
from shopops.admin import refusal_reason
from shopops.errors import TRANSITION_NOT_ALLOWED, DomainError

STATUS_LABELS = dict(ShipmentStatus.choices)


def status_phrase(status: str) -> str:
    """A status label inside a sentence: "AWB assigned", "picked up", "delivery failed (NDR)"."""
    label = str(STATUS_LABELS.get(status, status))
    first = label.split()[0]
    return label if first.isupper() else label[0].lower() + label[1:]


def shipment_refusal(exc: Exception) -> str:
    """A shipping service's refusal as a short phrase for an action's message."""
    if isinstance(exc, DomainError):
        details = exc.details or {}
        if exc.code == TRANSITION_NOT_ALLOWED.code:
            return f"is {status_phrase(details['status'])}"
        if exc.code == ORDER_NOT_SHIPPABLE.code:
            return f"is {details['status']}"
        if exc.code == SHIPMENT_EXISTS.code:
            return f"already has shipment {details['shipment']} ({status_phrase(details['status'])})"
        if exc.code == AWB_ALREADY_ASSIGNED.code:
            return f"already has AWB {details['awb']}"
    return refusal_reason(exc)


def warn_eway_bills(model_admin, request, orders) -> None:
    """One warning message naming the booked ``orders`` that need an e-way bill they lack (none: no message)."""
    needing = [order for order in orders if eway_bill_required(order)]
    if not needing:
        return
    named = ", ".join(f"{order.number} ({money(order.total)})" for order in needing[:20])
    if len(needing) > 20:
        named += f" and {len(needing) - 20} more"
    model_admin.message_user(request, f"E-way bill required: {named} {'is' if len(needing) == 1 else 'are'} worth "
                             f"over {money(eway_bill_threshold())}. Booked all the same: add each order's e-way bill "
                             "number (order page, Shipping) before the courier picks it up.",
                             messages.WARNING)  # fmt: skip

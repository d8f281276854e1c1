"""What the shipping pages share: a shipment status inside a sentence, and a shipping service's refusal as a
short phrase for an action's message."""

from shipping.errors import AWB_ALREADY_ASSIGNED, ORDER_NOT_SHIPPABLE, SHIPMENT_EXISTS
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

"""What the shipping pages share: a shipment status inside a sentence, and a shipping service's refusal as a
short phrase for an action's message."""

from shipping.models import (
    ShipmentStatus,
)
from shopops.admin import (
    refusal_reason,
)
from shopops.api.exceptions import ApiError
from shopops.errors import DomainError

STATUS_LABELS = dict(ShipmentStatus.choices)


def status_phrase(status: str) -> str:
    """A status label inside a sentence: "AWB assigned", "picked up", "delivery failed (NDR)"."""
    label = str(STATUS_LABELS.get(status, status))
    first = label.split()[0]
    return label if first.isupper() else label[0].lower() + label[1:]


def shipment_refusal(exc: Exception) -> str:
    """A shipping service's refusal as a short phrase for an action's message."""
    if isinstance(exc, (DomainError, ApiError)):
        details = exc.details or {}
        if exc.code == "transition_not_allowed":
            return f"is {status_phrase(details['status'])}"
        if exc.code == "order_not_shippable":
            return f"is {details['status']}"
        if exc.code == "shipment_exists":
            return f"already has shipment {details['shipment']} ({status_phrase(details['status'])})"
        if exc.code == "awb_already_assigned":
            return f"already has AWB {details['awb']}"
    return refusal_reason(exc)

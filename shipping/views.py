"""The public tracking page, ``/track/<awb>/``: no login, and nothing personal.

Customers reach it from the links in their notifications. It shows what the courier's own page would: the
status, the courier, the expected delivery date and the scans, with places no finer than a city (the
destination city and the scans' locations). The order, its customer, address and amounts are never read,
so they cannot leak. An AWB shared by several merchants' (or couriers') shipments shows each of them.
"""

from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.dateformat import format as date_format
from django.views.decorators.http import require_safe

from shipping.models import FINAL_STATUSES, RTO_STATUSES, ShipmentStatus
from shipping.tracking import public_shipments

#: Seconds browsers and proxies may reuse the page (scans arrive every few hours at most).
CACHE_SECONDS = 60
#: The milestones drawn as the progress bar, and how far along each status is.
MILESTONES = (ShipmentStatus.PICKED_UP, ShipmentStatus.IN_TRANSIT, ShipmentStatus.OUT_FOR_DELIVERY,
              ShipmentStatus.DELIVERED)  # fmt: skip
PROGRESS = {
    ShipmentStatus.NEW: 0, ShipmentStatus.AWB_ASSIGNED: 0, ShipmentStatus.PICKUP_SCHEDULED: 0,
    ShipmentStatus.PICKED_UP: 1, ShipmentStatus.IN_TRANSIT: 2, ShipmentStatus.OUT_FOR_DELIVERY: 3,
    ShipmentStatus.NDR: 3, ShipmentStatus.DELIVERED: 4,
}  # fmt: skip


def _when(moment, tz) -> str:
    local = timezone.localtime(moment, tz)
    return f"{date_format(local, 'D, j M Y, H:i')} {local.tzname()}"


def _parcel(shipment) -> dict:
    """What the page may show of one shipment (plain values: the template sees nothing else)."""
    tz = shipment.merchant.tzinfo
    status = ShipmentStatus(shipment.status)
    done = PROGRESS.get(status)
    return {
        "merchant": shipment.merchant.name,
        "courier": shipment.courier.name,
        "status": status.value,
        "status_label": status.label,
        "destination_city": shipment.destination_city or "",
        "expected_delivery_date": (
            shipment.expected_delivery_date if status not in (*FINAL_STATUSES, *RTO_STATUSES) else None
        ),
        "milestones": (
            [{"label": ShipmentStatus(m).label, "done": i < done} for i, m in enumerate(MILESTONES)]
            if done is not None
            else []
        ),
        "events": [
            {
                "label": ShipmentStatus(event.status).label if event.status else event.code,
                "description": event.description,
                "location": event.location,
                "when": _when(event.occurred_at, tz),
            }
            for event in reversed(shipment.tracking_events.all())  # newest first
        ],
    }


@require_safe
def track_page(request, awb: str):
    shipments = public_shipments(awb.strip())
    if shipments:
        response = render(request, "tracking/track.html", {"awb": awb, "parcels": [_parcel(s) for s in shipments]})
    else:
        response = render(request, "tracking/not_found.html", {"awb": awb}, status=404)
    patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
    return response

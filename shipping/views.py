"""The public tracking pages: no login, and nothing personal.

Customers reach a shipment's page, ``/track/<awb>/<token>/``, from the links in their notifications: the token
is the shipment's own and unguessable, so the page shows that shipment and no other (another merchant's
shipment with the same AWB never shows there). ``/track/<awb>/`` asks for a second proof (the order number or
the phone's last four digits) before it leads to a page. It shows what the courier's own page would: the
status, the courier, the expected delivery date and the scans, with places no finer than a city (the
destination city and the scans' locations). The order, its customer, address and amounts are never read,
so they cannot leak.
"""

from django import forms
from django.conf import settings
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.dateformat import format as date_format
from django.views.decorators.http import require_http_methods, require_safe
from rest_framework.throttling import SimpleRateThrottle

from shipping.models import FINAL_STATUSES, RTO_STATUSES, ShipmentStatus
from shipping.tracking import public_awb_possible, public_lookup, public_shipment

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


class TrackingLookupThrottle(SimpleRateThrottle):
    """Lookups by AWB per visitor address (the proxy-aware address DRF's throttles use), in the Django cache."""

    scope = "tracking_lookup"

    def get_rate(self) -> str:
        return settings.TRACKING_LOOKUP_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def _private(response):
    patch_cache_control(response, private=True, max_age=CACHE_SECONDS)
    return response


@require_safe
def track_page(request, awb: str, token: str):
    """One shipment, by the link in the customer's messages: ``/track/<awb>/<token>/``."""
    shipment = public_shipment(awb=awb.strip(), token=token)
    if shipment is None:
        return _private(render(request, "tracking/not_found.html", {"awb": awb}, status=404))
    return _private(render(request, "tracking/track.html", {"awb": awb, "parcels": [_parcel(shipment)]}))


class LookupForm(forms.Form):
    awb = forms.CharField(label="Tracking number (AWB)", max_length=40)
    reference = forms.CharField(label="Order number, or the last 4 digits of your phone number", max_length=64)


@require_http_methods(["GET", "HEAD", "POST"])
def track_lookup(request, awb: str = ""):
    """``/track/`` and ``/track/<awb>/``: a tracking number alone shows nothing (AWBs are sequential, so they can
    be guessed); with the order number or the phone's last four digits it leads to that shipment's page. The
    answer is the same whether or not the AWB exists; lookups are throttled per visitor address."""
    status = 200
    if request.method == "POST":
        throttle = TrackingLookupThrottle()
        if not throttle.allow_request(request, None):
            wait = int(throttle.wait() or 1)
            response = render(request, "tracking/lookup.html", {"form": LookupForm(), "throttled": wait}, status=429)
            response["Retry-After"] = str(wait)
            return response
        form, status = LookupForm(request.POST), 400
        if form.is_valid():
            awb = form.cleaned_data["awb"].strip()
            token = public_lookup(awb=awb, reference=form.cleaned_data["reference"])
            if token is not None:
                return redirect("track", awb=awb, token=token)
            form.add_error(None, "No parcel matches this tracking number and order number or phone digits.")
            status = 404
    else:
        form = LookupForm(initial={"awb": awb.strip() if public_awb_possible(awb.strip()) else ""})
    response = render(request, "tracking/lookup.html", {"form": form}, status=status)
    patch_cache_control(response, private=True, no_store=True)
    return response

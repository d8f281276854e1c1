"""Reads behind tracking: a merchant's shipments by AWB for the API, one shipment by its link for the public page.

Each read is two queries whatever the number of AWBs: the shipments (with their courier), then their courier
scans (``TrackingEvent`` rows in ``occurred_at`` order; orphan events have no shipment and never show).
"""

from django.db.models import BooleanField, Case, Prefetch, Q, Value, When, prefetch_related_objects
from django.db.models.fields.json import KeyTextTransform

from shipping.models import Shipment, ShipmentStatus, TrackingEvent
from shopops.models import Merchant

#: What a tracking answer shows of each scan.
EVENT_FIELDS = ("id", "shipment_id", "status", "code", "description", "location", "occurred_at")


def _events() -> Prefetch:
    return Prefetch("tracking_events", queryset=TrackingEvent.objects.only(*EVENT_FIELDS).order_by("occurred_at", "id"))


def _live_first(queryset):
    """Live shipments before cancelled ones, then the most recent first."""
    cancelled = Case(When(status=ShipmentStatus.CANCELLED, then=Value(True)), default=Value(False),
                     output_field=BooleanField())  # fmt: skip
    return queryset.alias(cancelled=cancelled).order_by("cancelled", "-created_at", "-id")


def tracked_shipments(*, merchant: Merchant, awbs: list[str]) -> dict[str, Shipment]:
    """The merchant's shipment for each AWB it has: when the AWB is with two of its couriers, the most recent
    live one (a cancelled shipment only when the AWB has no live one)."""
    chosen: dict[str, Shipment] = {}
    awbs = {awb for awb in awbs if _storable(awb)}
    for shipment in _live_first(Shipment.objects.filter(merchant=merchant, awb__in=awbs)
                                .select_related("courier")):  # fmt: skip
        chosen.setdefault(shipment.awb, shipment)
    prefetch_related_objects(list(chosen.values()), _events())  # only the chosen shipments' scans
    return chosen


def _storable(awb: str) -> bool:
    """Whether ``awb`` could be a stored AWB at all (40 characters at most, no NUL, which PostgreSQL refuses)."""
    return 0 < len(awb) <= 40 and "\x00" not in awb


def public_awb_possible(awb: str) -> bool:
    """Whether ``awb`` could be an AWB at all (the lookup form offers nothing else back)."""
    return _storable(awb)


def public_shipment(*, awb: str, token: str) -> Shipment | None:
    """The shipment behind a customer's tracking link (its AWB and its token), with what the public page may show:
    the merchant's name and time zone, the courier, the destination city (annotated: the order and its customer
    are never loaded) and the scans. One shipment, so one merchant: never another's with the same AWB."""
    if not _storable(awb) or not 0 < len(token) <= 32:
        return None
    return (
        Shipment.objects.filter(awb=awb, tracking_token=token)
        .select_related("courier", "merchant")
        .only("id", "awb", "status", "expected_delivery_date", "created_at", "merchant__name", "merchant__time_zone",
              "courier__code", "courier__name", "courier__tracking_url_template")
        .annotate(destination_city=KeyTextTransform("city", "order__shipping_address"))
        .prefetch_related(_events())
        .first()
    )  # fmt: skip


def public_lookup(*, awb: str, reference: str) -> str | None:
    """The tracking token of the one shipment with this AWB whose order the visitor can name: by its order number
    or the shop's order id (any case), or by the last four digits of the phone it is addressed to. None when no
    shipment matches, or when shipments of more than one merchant do (the link in the customer's message is then
    the only way in). One query; nothing but the token is read."""
    reference = reference.strip()
    if not _storable(awb) or not 0 < len(reference) <= 64 or "\x00" in reference:
        return None
    named = Q(order__number__iexact=reference) | Q(order__channel_order_id__iexact=reference)
    if len(reference) == 4 and reference.isascii() and reference.isdigit():
        named |= Q(order__shipping_address__phone__endswith=reference)
    found = list(_live_first(Shipment.objects.filter(named, awb=awb)).values_list("tracking_token", "merchant_id")[:10])
    if len({merchant for _, merchant in found}) != 1:
        return None
    return found[0][0]

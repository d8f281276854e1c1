"""Manifests: the hand-over list of shipments for the courier."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from shipping.errors import ALREADY_MANIFESTED, SHIPMENTS_NOT_READY
from shipping.models import Manifest, PickupRequest, Shipment
from shipping.models import ShipmentStatus as S
from shipping.services.pickups import one_courier_and_location
from shipping.services.shipments import locked_shipments, record_event
from shopops.models import Merchant
from shopops.services import counter_next

MANIFESTABLE_STATUSES = (S.AWB_ASSIGNED, S.PICKUP_SCHEDULED)


def manifest_create(*, merchant: Merchant, actor: str, shipment_ids: list[int] | None = None,
                    pickup: PickupRequest | None = None) -> Manifest:  # fmt: skip
    """The hand-over list of shipments (given, or those of ``pickup``): one courier, one location, each shipment in
    one manifest only."""
    with transaction.atomic():
        if pickup is not None:
            shipment_ids = list(pickup.shipments.values_list("pk", flat=True))
            if not shipment_ids:
                raise ValidationError({"pickup": ["The pickup has no shipments."]})
        if not shipment_ids:
            raise ValidationError({"shipment_ids": ["Name at least one shipment, or a pickup."]})
        shipments = locked_shipments(merchant, shipment_ids)
        courier, origin = one_courier_and_location(shipments)
        refused = {str(s.pk): s.status for s in shipments if s.status not in MANIFESTABLE_STATUSES}
        if refused:
            raise SHIPMENTS_NOT_READY("Only shipments with an AWB, not yet picked up, go on a manifest.",
                                      {"shipments": refused})  # fmt: skip
        listed = {str(s.pk): s.manifest.number for s in shipments if s.manifest_id}
        if listed:
            raise ALREADY_MANIFESTED("Some shipments are already on a manifest.", {"shipments": listed})
        number = f"MAN-{counter_next(merchant=merchant, name='manifest'):06d}"
        pickups = {s.pickup_id for s in shipments}
        manifest = Manifest.objects.create(merchant=merchant, number=number, courier=courier, location=origin,
                                           pickup_id=pickups.pop() if len(pickups) == 1 else None,
                                           created_by=actor)  # fmt: skip
        Shipment.objects.filter(pk__in=[s.pk for s in shipments]).update(manifest=manifest, updated_at=timezone.now())
        for shipment in shipments:
            record_event(shipment, "manifested", actor, message=f"On manifest {number}",
                         data={"manifest": manifest.pk})  # fmt: skip
    return manifest

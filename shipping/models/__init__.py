"""Shipping's models, by subdomain; every model class is importable from ``shipping.models``, as Django expects.

- ``couriers``: couriers, rate cards, serviceable and blocked pincodes, ranking preferences, zone rules.
- ``shipments``: shipments and their state machine, events, AWB pools, pickups, manifests.
- ``tracking``: courier scans, NDRs, customer notifications.
- ``documents``: printed documents, invoice numbers, ship batches.
"""

from shipping.models.couriers import (
    Adapter,
    BlockedPincode,
    Courier,
    CourierMode,
    PostcodeZone,
    RateCard,
    ServiceablePincode,
    ShippingPreference,
)
from shipping.models.documents import (
    Document,
    DocumentFormat,
    DocumentKind,
    DocumentStatus,
    Invoice,
    ShipBatch,
    ShipBatchStatus,
)
from shipping.models.shipments import (
    FINAL_STATUSES,
    PICKED_UP_STATUSES,
    PRE_PICKUP_STATUSES,
    RTO_STATUSES,
    SHIPMENT_TRANSITIONS,
    AWBNumber,
    AWBPool,
    AWBPoolKind,
    Manifest,
    PickupRequest,
    PickupStatus,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
    new_tracking_token,
)
from shipping.models.tracking import (
    NDR,
    NOTIFY_ON_STATUS,
    NDRAction,
    NDRStatus,
    Notification,
    NotificationEvent,
    NotificationSetting,
    TrackingEvent,
)

__all__ = [
    "CourierMode",
    "Adapter",
    "Courier",
    "RateCard",
    "ServiceablePincode",
    "BlockedPincode",
    "ShippingPreference",
    "PostcodeZone",
    "ShipmentStatus",
    "SHIPMENT_TRANSITIONS",
    "PRE_PICKUP_STATUSES",
    "PICKED_UP_STATUSES",
    "RTO_STATUSES",
    "FINAL_STATUSES",
    "AWBPoolKind",
    "AWBPool",
    "AWBNumber",
    "PickupStatus",
    "PickupRequest",
    "Manifest",
    "new_tracking_token",
    "Shipment",
    "ShipmentEvent",
    "TrackingEvent",
    "NDRStatus",
    "NDRAction",
    "NDR",
    "NotificationEvent",
    "NOTIFY_ON_STATUS",
    "NotificationSetting",
    "Notification",
    "DocumentKind",
    "DocumentFormat",
    "DocumentStatus",
    "Document",
    "Invoice",
    "ShipBatchStatus",
    "ShipBatch",
]

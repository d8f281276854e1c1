"""The merchant dashboard for shipping, a module per subdomain: couriers (rate cards, serviceability, the rate
calculator, pincodes, zone rules), shipments, AWB pools, pickups and manifests, the NDR queue, tracking events,
customer notifications, calls to couriers, documents and ship batches; ``orders`` adds shipping's actions and inline
to the order desk.

Every admin derives from ``MerchantScopedAdmin`` and writes only through ``shipping.services``; a refusal is a form
error or a message, never a 500.
"""

from shipping.admin import (  # noqa: F401  (each registers its pages)
    accounts,
    awb_pools,
    courier_calls,
    couriers,
    credit_notes,
    documents,
    ndr,
    notifications,
    orders,
    pickups,
    ship_batches,
    shipments,
    tracking,
)

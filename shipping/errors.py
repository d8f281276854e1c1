"""Shipping's error codes: couriers, AWB pools, shipments, pickups, manifests, NDRs, documents and ship batches.

Raise one by calling it: ``raise AWB_POOL_EXHAUSTED(message, details)``. A shipment move its state table does not
allow is ``shopops.errors.state_refusal`` (``transition_not_allowed``); ids that are not the merchant's are
``shopops.errors.NOT_FOUND``.
"""

from django.core.exceptions import ValidationError

from shopops.errors import DomainError, ErrorCode, ErrorKind

C = ErrorKind.CONFLICT

DUPLICATE_COURIER = ErrorCode("duplicate_courier", C, "Another courier of the merchant has this code.")
DUPLICATE_COURIER_ACCOUNT = ErrorCode(
    "duplicate_courier_account", C, "Another courier account of the merchant has this name."
)
NOT_SERVICEABLE = ErrorCode("not_serviceable", C, "No courier of the merchant can carry the order.")
COURIER_NOT_AVAILABLE = ErrorCode(
    "courier_not_available", C, "The courier named cannot carry the order; `details.reason` says why."
)
ORDER_NOT_SHIPPABLE = ErrorCode("order_not_shippable", C, "Only confirmed or packed orders are shipped.")
SHIPMENT_EXISTS = ErrorCode("shipment_exists", C, "The order already has a shipment that is not cancelled.")
SHIPMENT_CANCELLED = ErrorCode("shipment_cancelled", C, "The shipment is cancelled; create a new one.")
AWB_ALREADY_ASSIGNED = ErrorCode("awb_already_assigned", C, "The shipment already has its AWB.")
AWB_POOL_EXHAUSTED = ErrorCode("awb_pool_exhausted", C, "No AWB numbers are left for the courier: add a pool.")
AWB_POOL_OVERLAP = ErrorCode("awb_pool_overlap", C, "The range overlaps another pool of the courier.")
DUPLICATE_AWB_POOL = ErrorCode("duplicate_awb_pool", C, "Another pool of the merchant has this name.")
SHIPMENTS_NOT_READY = ErrorCode(
    "shipments_not_ready", C, "A shipment is not at a status this step takes (an AWB, not yet picked up)."
)
PICKUP_CANCELLED = ErrorCode("pickup_cancelled", C, "The pickup is already cancelled.")
PICKUP_IN_PROGRESS = ErrorCode("pickup_in_progress", C, "Some shipments of the pickup are already picked up.")
ALREADY_MANIFESTED = ErrorCode("already_manifested", C, "Some shipments are already on a manifest.")
ORDER_NOT_INVOICED = ErrorCode("order_not_invoiced", C, "The order has no tax invoice: there is nothing to credit.")
CREDIT_EXCEEDS_INVOICE = ErrorCode(
    "credit_exceeds_invoice", C, "The invoice is already credited in full for a line or charge named."
)
NOTHING_TO_CREDIT = ErrorCode("nothing_to_credit", C, "Nothing is left to credit.")
RETURN_NOT_RECEIVED = ErrorCode("return_not_received", C, "A return is credited once its goods are received.")
NDR_RESOLVED = ErrorCode("ndr_resolved", C, "The NDR is resolved (delivered or returned).")
NDR_ACTION_TAKEN = ErrorCode("ndr_action_taken", C, "A reattempt is already requested for the NDR.")
COURIER_CALL_FAILED = ErrorCode(
    "courier_call_failed",
    C,
    "The courier refused the call or did not answer; the call is recorded (failed) and is "
    "retried by making the same request again (the courier is given the same idempotency key).",
)
COURIER_CALL_IN_PROGRESS = ErrorCode(
    "courier_call_in_progress", C, "A call to the courier for this is under way; ask again in a few minutes."
)
COURIER_CREDENTIALS_REJECTED = ErrorCode(
    "courier_credentials_rejected", C, "The courier service rejected the account's credentials (401 or 403)."
)
COURIER_REFUSED = ErrorCode(
    "courier_refused", C, "The courier service refused the request; `details.service_errors` gives its reason."
)
COURIER_UNAVAILABLE = ErrorCode(
    "courier_unavailable",
    C,
    "The courier service did not answer (timeouts, 429, 5xx) or its circuit is open; "
    "`details.retry_after` says when to try again.",
)
COURIER_OUTCOME_UNKNOWN = ErrorCode(
    "courier_outcome_unknown",
    C,
    "The courier service got the request but its answer was lost: it may have acted. "
    "Asked again, ShopOps first asks the service what it did.",
)
COURIER_BAD_RESPONSE = ErrorCode(
    "courier_bad_response", C, "The courier service answered something unreadable (HTML, an empty body, broken JSON)."
)
COURIER_CALL_DONE = ErrorCode("courier_call_done", C, "The call to the courier succeeded already.")
BATCH_DONE = ErrorCode("batch_done", C, "The ship batch is done; nothing is left to run.")
MISSING_MERCHANT_SETTING = ErrorCode(
    "missing_merchant_setting",
    ErrorKind.INVALID,
    "A document needs a merchant setting that is blank (GSTIN, address); `details.setting` names it.",
)

#: What a step of a shipping flow (one-call shipping, a batch) takes as a refusal to report rather than a bug: domain
#: errors and field errors.
REFUSALS = (DomainError, ValidationError)

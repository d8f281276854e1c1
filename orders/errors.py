"""The refusals of the orders app, declared once: raise them by calling the constant (see ``shopops/errors.py``).

A move the order or return state table does not allow is ``shopops.errors.state_refusal``
(``transition_not_allowed``); stock shortages are the catalog's (``insufficient_stock``).
"""

from shopops.errors import ErrorCode, ErrorKind

DUPLICATE_CHANNEL = ErrorCode(
    "duplicate_channel", ErrorKind.CONFLICT, "The merchant already has a channel of this name."
)
CHANNEL_IN_USE = ErrorCode(
    "channel_in_use", ErrorKind.CONFLICT, "The channel has orders and cannot be deleted; deactivate it instead."
)
DUPLICATE_ORDER = ErrorCode(
    "duplicate_order",
    ErrorKind.CONFLICT,
    "The channel order id is already an order on this channel; `details` names it (`existing_order`, `number`).",
)
UNMAPPED_LINES = ErrorCode(
    "unmapped_lines", ErrorKind.CONFLICT, "Lines whose SKU is not mapped to a product; `details.skus` names them."
)
ORDER_HAS_AWB = ErrorCode(
    "order_has_awb", ErrorKind.CONFLICT, "The order is booked with a courier; cancel its shipment first."
)
ORDER_NOT_EDITABLE = ErrorCode(
    "order_not_editable", ErrorKind.CONFLICT, "The order's status no longer allows this change."
)
ORDER_NOT_RETURNABLE = ErrorCode(
    "order_not_returnable", ErrorKind.CONFLICT, "Only delivered (or partially returned) orders can be returned."
)
CHANNEL_ADDRESS_REFUSED = ErrorCode(
    "channel_address_refused",
    ErrorKind.CONFLICT,
    "The store URL may not be called: not https, or it names or resolves to a private, loopback or link-local address.",
)
CHANNEL_CREDENTIALS_REJECTED = ErrorCode(
    "channel_credentials_rejected", ErrorKind.CONFLICT, "The store rejected the channel's credentials (401 or 403)."
)
CHANNEL_NOT_CONFIGURED = ErrorCode(
    "channel_not_configured",
    ErrorKind.CONFLICT,
    "The channel lacks what the call needs (its store URL or credentials); `details.missing` names them.",
)
CHANNEL_REFUSED = ErrorCode(
    "channel_refused", ErrorKind.CONFLICT, "The store refused the request; `details.service_message` gives its reason."
)
CHANNEL_UNAVAILABLE = ErrorCode(
    "channel_unavailable",
    ErrorKind.CONFLICT,
    "The store did not answer (timeouts, 429, 5xx) or the channel's circuit is open; `details.retry_after` may say "
    "when to try again.",
)
CHANNEL_OUTCOME_UNKNOWN = ErrorCode(
    "channel_outcome_unknown",
    ErrorKind.CONFLICT,
    "The store got the request but its answer was lost: it may have acted.",
)
CHANNEL_BAD_RESPONSE = ErrorCode(
    "channel_bad_response",
    ErrorKind.CONFLICT,
    "The store answered something unreadable (HTML, an empty body, broken JSON, a redirect).",
)
PAYMENT_ALREADY_MATCHED = ErrorCode(
    "payment_already_matched", ErrorKind.CONFLICT, "The payment is already matched to an order."
)
PAYMENT_CURRENCY_MISMATCH = ErrorCode(
    "payment_currency_mismatch", ErrorKind.CONFLICT, "The payment and the order are in different currencies."
)

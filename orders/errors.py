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

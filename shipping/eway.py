"""E-way bills: which consignments need one, and the warning a booking without one answers.

Under GST a consignment worth more than a threshold (50,000 rupees; ``settings.EWAY_BILL_THRESHOLD``) moves with an
e-way bill. ShopOps takes the consignment's value to be the order's total (what its tax invoice and its label
show) and compares it in rupees, so the rule applies to orders in INR: a total equal to the threshold needs none, a
paisa more needs one. The merchant generates the e-way bill on the GST portal and records its number on the order
(``Order.eway_bill_number``); a booking without it is not refused (the bill is often generated once the parcel is
booked), it answers a warning and records it on the shipment's and the order's timelines.
"""

from decimal import Decimal

from django.conf import settings

from orders.models import Order
from shipping.documents.data import money

EWAY_BILL_REQUIRED = "eway_bill_required"
EWAY_BILL_CURRENCY = "INR"


def eway_bill_threshold() -> Decimal:
    return settings.EWAY_BILL_THRESHOLD


def eway_bill_required(order: Order) -> bool:
    """Whether the order's consignment needs an e-way bill it does not have yet: an INR order whose total is over
    the threshold, without an e-way bill number."""
    return (order.currency == EWAY_BILL_CURRENCY and order.total > eway_bill_threshold()
            and not order.eway_bill_number)  # fmt: skip


def eway_bill_message(order: Order) -> str:
    return (f"E-way bill required: order {order.number} is worth {money(order.total)}, over the "
            f"{money(eway_bill_threshold())} threshold; add its e-way bill number (12 digits) to the order before "
            "the courier picks it up.")  # fmt: skip


def booking_warnings(order: Order) -> list[dict]:
    """What a booking of ``order`` warns about (``[{code, message}]``, empty for most): an e-way bill required."""
    if eway_bill_required(order):
        return [{"code": EWAY_BILL_REQUIRED, "message": eway_bill_message(order)}]
    return []

"""What shipping adds to the order desk (orders knows nothing of shipping): its order actions, the documents and
credit notes inlines, and the returns' credit note action, registered with ``orders.admin.extensions`` in the order
the desk shows them."""

from django.urls import reverse

from orders.admin.extensions import order_admin_extensions, return_admin_extensions
from orders.models import OrderStatus
from shipping.admin.credit_notes import OrderCreditNoteInline, credit_rest_of_invoice_selected, credit_returns_selected
from shipping.admin.documents import OrderDocumentInline, print_action
from shipping.admin.ship_batches import ship_selected
from shipping.admin.shipments import create_shipments_selected
from shipping.choices import LabelFormat, PackingSlipFormat
from shipping.models import DocumentKind, Shipment, ShipmentStatus
from shipping.notifications import tracking_url
from shipping.services.shipments import SHIPPABLE_ORDER_STATUSES

print_invoices = print_action(DocumentKind.INVOICE, "Print tax invoices")
print_slips = print_action(DocumentKind.PACKING_SLIP, "Print packing slips (A4)", PackingSlipFormat.A4)
print_labels = print_action(DocumentKind.LABEL, "Print shipping labels (4x6 in)", LabelFormat.LABEL_4X6,
                            through="shipments")  # fmt: skip
for action in (
    create_shipments_selected,
    print_invoices,
    print_slips,
    print_action(DocumentKind.PACKING_SLIP, "Print packing slips (A5)", PackingSlipFormat.A5),
    print_labels,
    ship_selected,
    credit_rest_of_invoice_selected,
):
    order_admin_extensions.register_action(action)


def order_tools(request, order) -> list[dict]:
    """The order page's shipping buttons: Ship… (no AWB yet), the label (with an AWB), the invoice and the packing
    slip; the AWB linked to its shipment and the customer's tracking page (one query for the live shipment)."""
    shipment = (Shipment.objects.filter(order=order).exclude(status=ShipmentStatus.CANCELLED)
                .select_related("courier").first())  # fmt: skip
    booked = shipment is not None and bool(shipment.awb)
    tools = []
    if order.status in (OrderStatus.NEW, *SHIPPABLE_ORDER_STATUSES) and not booked:  # a batch confirms new ones
        tools.append({"label": "Ship…", "action": ship_selected.__name__})
    if booked:
        tools.append({"label": "Print label", "action": print_labels.__name__})
    if order.status != OrderStatus.CANCELLED:
        tools += [{"label": "Print invoice", "action": print_invoices.__name__},
                  {"label": "Print packing slip", "action": print_slips.__name__}]  # fmt: skip
    if booked:
        page = reverse("admin:shipping_shipment_change", args=[shipment.pk])
        tools += [{"label": f"AWB {shipment.awb}", "url": page},
                  {"label": "Tracking page", "url": tracking_url(shipment, request), "external": True}]  # fmt: skip
    return tools


order_admin_extensions.register_tools(order_tools)
order_admin_extensions.register_inline(OrderDocumentInline)
order_admin_extensions.register_inline(OrderCreditNoteInline)
return_admin_extensions.register_action(credit_returns_selected)

"""What shipping adds to the order desk (orders knows nothing of shipping): its order actions, the documents and
credit notes inlines, and the returns' credit note action, registered with ``orders.admin.extensions`` in the order
the desk shows them."""

from orders.admin.extensions import order_admin_extensions, return_admin_extensions
from shipping.admin.credit_notes import OrderCreditNoteInline, credit_rest_of_invoice_selected, credit_returns_selected
from shipping.admin.documents import OrderDocumentInline, print_action
from shipping.admin.ship_batches import ship_selected
from shipping.admin.shipments import create_shipments_selected
from shipping.choices import LabelFormat, PackingSlipFormat
from shipping.models import DocumentKind

for action in (
    create_shipments_selected,
    print_action(DocumentKind.INVOICE, "Print tax invoices"),
    print_action(DocumentKind.PACKING_SLIP, "Print packing slips (A4)", PackingSlipFormat.A4),
    print_action(DocumentKind.PACKING_SLIP, "Print packing slips (A5)", PackingSlipFormat.A5),
    print_action(DocumentKind.LABEL, "Print shipping labels (4x6 in)", LabelFormat.LABEL_4X6, through="shipments"),
    ship_selected,
    credit_rest_of_invoice_selected,
):
    order_admin_extensions.register_action(action)
order_admin_extensions.register_inline(OrderDocumentInline)
order_admin_extensions.register_inline(OrderCreditNoteInline)
return_admin_extensions.register_action(credit_returns_selected)

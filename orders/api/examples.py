"""OpenAPI examples of the orders API: real requests and what the demo data answers to them.

tests/shopops/test_schema.py checks each against its schema; the examples phase of tests/fuzz/ sends the requests.
"""

from drf_spectacular.utils import OpenApiExample

ADDRESS = {
    "name": "Priya Sharma",
    "phone": "+919812345678",
    "line1": "42 Residency Road",
    "line2": "Shanthala Nagar",
    "city": "Bengaluru",
    "state": "Karnataka",
    "postcode": "560025",
    "country": "IN",
}

ORDER_REQUEST = {
    "channel_order_id": "10492",
    "payment_method": "cod",
    "customer": {"name": "Priya Sharma", "email": "priya@example.in", "phone": "+919812345678"},
    "shipping_address": ADDRESS,
    "lines": [{"sku": "TEE-RED-M", "quantity": 2, "unit_price": "499.00"}],
    "shipping_charge": "49.00",
    "pickup_location": "blr-wh",
}

ORDER = {
    "id": 219,
    "number": "SO-000219",
    "channel": "ch_198c748cd75d1ebf",
    "channel_order_id": "10492",
    "status": "new",
    "payment_method": "cod",
    "payment_status": "pending",
    "customer": {"id": 1, "name": "Priya Sharma", "email": "priya@example.in", "phone": "+919812345678"},
    "is_returning_customer": True,
    "shipping_address": ADDRESS,
    "billing_address": ADDRESS,
    "lines": [
        {
            "id": 367,
            "sku": "TEE-RED-M",
            "product": 1,
            "name": "Cotton crew T-shirt (red, M)",
            "quantity": 2,
            "unit_price": "499.00",
            "discount": "0.00",
            "tax_rate": "5.00",
            "tax_amount": "47.52",
            "total": "998.00",
            "hsn_code": "6109",
            "uqc": "PCS",
            "returned_quantity": 0,
        }
    ],
    "subtotal": "998.00",
    "discount_total": "0.00",
    "shipping_charge": "49.00",
    "cod_charge": "0.00",
    "charges_tax_rate": "5.00",
    "shipping_tax": "2.33",
    "cod_tax": "0.00",
    "tax_total": "49.85",
    "lut_reference": "",
    "total": "1047.00",
    "currency": "INR",
    "weight_grams": 360,
    "length_cm": "28.0",
    "breadth_cm": "22.0",
    "height_cm": "4.0",
    "pickup_location": 1,
    "notes": "",
    "ordered_at": "2026-12-03T15:42:41.983054+05:30",
    "confirmed_at": None,
    "packed_at": None,
    "shipped_at": None,
    "delivered_at": None,
    "cancelled_at": None,
    "cancel_reason": "",
    "awb": "",
    "courier": "",
    "eway_bill_number": "",
    "created_at": "2026-12-03T15:42:42.051296+05:30",
    "updated_at": "2026-12-03T15:42:42.051310+05:30",
}
CONFIRMED = {
    **ORDER,
    "status": "confirmed",
    "confirmed_at": "2026-12-03T15:42:42.255083+05:30",
    "updated_at": "2026-12-03T15:42:42.255101+05:30",
}
PACKED = {
    **CONFIRMED,
    "status": "packed",
    "packed_at": "2026-12-03T16:05:10.481220+05:30",
    "updated_at": "2026-12-03T16:05:10.481236+05:30",
}
CANCELLED = {
    **CONFIRMED,
    "status": "cancelled",
    "cancelled_at": "2026-12-03T16:10:02.118404+05:30",
    "cancel_reason": "Customer asked to cancel",
    "updated_at": "2026-12-03T16:10:02.118420+05:30",
}
ACTOR = "app:Ci8En82lmVYpswsraO0qum2ZHpJAHMkmO8XOwD4j"


def _response(name: str, value, status: str = "200", summary: str = "") -> OpenApiExample:
    return OpenApiExample(name, value=value, summary=summary, response_only=True, status_codes=[status])


ORDER_CREATE = [
    OpenApiExample(
        "A cash-on-delivery order",
        summary="Two T-shirts to Bengaluru, shipped from the Bengaluru warehouse",
        value=ORDER_REQUEST,
        request_only=True,
    ),
    _response("Created", ORDER, "201"),
]
ORDER_LIST = [_response("New orders", ORDER, summary="GET /api/v1/orders/?status=new: one order, one page")]
ORDER_DETAIL = [_response("An order", ORDER)]
ORDER_UPDATE = [
    OpenApiExample(
        "Ship from another location",
        value={"pickup_location": "mum-store", "notes": "Gift wrap"},
        request_only=True,
    ),
    OpenApiExample(
        "Record the e-way bill",
        summary="Its number from the GST portal (12 digits), for an order over 50,000 rupees",
        value={"eway_bill_number": "331001234567"},
        request_only=True,
    ),
    _response("Updated", {**ORDER, "pickup_location": 2, "notes": "Gift wrap"}),
]
ORDER_CONFIRM = [_response("Confirmed (stock reserved)", CONFIRMED)]
ORDER_PACK = [_response("Packed", PACKED)]
ORDER_CANCEL = [
    OpenApiExample("A reason", value={"reason": "Customer asked to cancel"}, request_only=True),
    _response("Cancelled (reservation released)", CANCELLED),
]
ORDER_EVENTS = [
    _response(
        "Created by a partner app",
        {
            "id": 897,
            "kind": "created",
            "from_status": "",
            "to_status": "new",
            "actor": ACTOR,
            "message": "Created from API",
            "data": {"unmapped_skus": [], "returning_customer": True},
            "created_at": "2026-12-03T15:42:42.054828+05:30",
        },
        summary="The timeline's first event; each status change follows as `status_changed` (from, to, actor)",
    )
]
IMPORT_CREATE = [
    OpenApiExample(
        "Check an orders file",
        summary="Multipart: the file (CSV or XLSX) with kind, dry_run and error_policy",
        value={
            "file": "channel_order_id,payment_method,shipping_name,shipping_phone,shipping_line1,shipping_city,"
            "shipping_state,shipping_postcode,sku,quantity,unit_price\n"
            "W-2001,prepaid,Asha Rao,+919845012345,5 Park Street,Kolkata,West Bengal,700016,TEE-RED-M,1,499.00\n",
            "kind": "orders",
            "dry_run": True,
            "error_policy": "skip_failed_rows",
        },
        request_only=True,
        media_type="multipart/form-data",
    ),
    _response(
        "Queued",
        {
            "id": 7,
            "kind": "orders",
            "status": "queued",
            "file_name": "orders.csv",
            "dry_run": True,
            "error_policy": "skip_failed_rows",
            "preset": "",
            "create_channels": False,
            "created_channels": [],
            "total_rows": 0,
            "processed_rows": 0,
            "created_count": 0,
            "updated_count": 0,
            "skipped_count": 0,
            "failed_count": 0,
            "errors_url": None,
            "error": "",
            "started_at": None,
            "finished_at": None,
            "created_at": "2026-12-03T15:44:26.168737+05:30",
        },
        "202",
    ),
]

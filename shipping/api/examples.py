"""OpenAPI examples of the shipping API: real requests and what the demo data answers to them.

tests/shopops/test_schema.py checks each against its schema; the examples phase of tests/fuzz/ sends the requests.
"""

from drf_spectacular.utils import OpenApiExample

BASE = "https://shop.example.in"
CHARGES = {"freight": "37.00", "cod": "29.00", "fuel_surcharge": "4.07", "tax": "12.61", "total": "82.68",
           "currency": "INR"}  # fmt: skip
SHIPMENT = {
    "id": 19,
    "order": 219,
    "order_number": "SO-000219",
    "courier": "xpressbees",
    "courier_name": "Xpressbees",
    "awb": "",
    "routing_code": "",
    "status": "new",
    "zone": "within_state",
    "applied_weight_grams": 500,
    "charges": CHARGES,
    "cod_amount": "1047.00",
    "pickup": None,
    "manifest": None,
    "label": None,
    "shipped_at": None,
    "delivered_at": None,
    "expected_delivery_date": "2026-12-06",
    "cancelled_at": None,
    "cancel_reason": "",
    "tracking_url": None,
    "created_at": "2026-12-03T15:42:42.740235+05:30",
    "updated_at": "2026-12-03T15:42:42.740251+05:30",
}
WITH_AWB = {
    **SHIPMENT,
    "awb": "XPB14000000",
    "status": "awb_assigned",
    "tracking_url": f"{BASE}/track/XPB14000000/",
    "updated_at": "2026-12-03T15:42:42.879209+05:30",
}
TRACKING = {
    "awb": "DX41000001",
    "status": "delivered",
    "courier": "demo-express",
    "courier_name": "Demo Express (simulated)",
    "expected_delivery_date": "2026-11-23",
    "tracking_url": f"{BASE}/track/DX41000001/",
    "events": [
        {"status": "picked_up", "code": "picked_up", "description": "Shipment picked up", "location": "Bengaluru",
         "occurred_at": "2026-11-21T15:00:00+05:30"},
        {"status": "in_transit", "code": "in_transit", "description": "In transit to the destination hub",
         "location": "Sort centre, Bengaluru", "occurred_at": "2026-11-21T21:00:00+05:30"},
        {"status": "out_for_delivery", "code": "out_for_delivery", "description": "Out for delivery",
         "location": "Bengaluru", "occurred_at": "2026-11-23T03:00:00+05:30"},
        {"status": "delivered", "code": "delivered", "description": "Delivered", "location": "Bengaluru",
         "occurred_at": "2026-11-23T07:00:00+05:30"},
    ],
}  # fmt: skip
LABEL = {
    "id": 2,
    "kind": "label",
    "format": "4x6",
    "status": "done",
    "page_count": 1,
    "not_created": [],
    "error": "",
    "manifest": None,
    "shipment_ids": [20],
    "order_ids": [],
    "credit_note_ids": [],
    "download_url": f"{BASE}/api/v1/documents/2/download/",
    "created_at": "2026-12-03T15:44:18.290490+05:30",
    "started_at": "2026-12-03T15:44:18.319962+05:30",
    "finished_at": "2026-12-03T15:44:19.241164+05:30",
}
INVOICE = {
    **LABEL,
    "id": 3,
    "kind": "invoice",
    "format": "a4",
    "shipment_ids": [],
    "order_ids": [221],
    "download_url": f"{BASE}/api/v1/documents/3/download/",
    "created_at": "2026-12-03T15:44:19.295907+05:30",
    "started_at": "2026-12-03T15:44:19.323527+05:30",
    "finished_at": "2026-12-03T15:44:25.597618+05:30",
}
PREPAID_CHARGES = {"freight": "35.00", "cod": "0.00", "fuel_surcharge": "3.50", "tax": "6.93", "total": "45.43",
                   "currency": "INR"}  # fmt: skip


def _quote(courier_id, code, name, freight, cod, fuel, tax, total, days, etd, score):
    return {"courier_id": courier_id, "code": code, "name": name, "zone": "within_state",
            "chargeable_weight_grams": 500, "freight_charge": freight, "cod_charge": cod, "fuel_surcharge": fuel,
            "tax": tax, "total_charge": total, "estimated_delivery_days": days, "etd": etd, "rating": "4.05",
            "score": score, "live_quote": False}  # fmt: skip


def _response(name: str, value, status: str = "200", summary: str = "") -> OpenApiExample:
    return OpenApiExample(name, value=value, summary=summary, response_only=True, status_codes=[status])


SERVICEABILITY = [
    _response(
        "COD parcel within Karnataka",
        {
            "zone": "within_state",
            "recommended_courier_id": 5,
            "couriers": [
                _quote(
                    5, "xpressbees", "Xpressbees", "37.00", "29.00", "4.07", "12.61", "82.68", 2, "2026-12-06", "0.9587"
                ),
                _quote(
                    1,
                    "delhivery-surface",
                    "Delhivery Surface",
                    "38.00",
                    "30.00",
                    "4.56",
                    "13.06",
                    "85.62",
                    2,
                    "2026-12-06",
                    "0.9416",
                ),
            ],  # fmt: skip
            "blocked": [
                {"courier_id": 3, "reason": "no COD at the delivery pincode"},
                {"courier_id": 6, "reason": "no COD"},
            ],
        },
        summary="GET /api/v1/serviceability/?pickup_postcode=562114&delivery_postcode=560025&weight_grams=500"
        "&cod=true&declared_value=998.00",
    )
]
EWAY_BILL_WARNING = {
    "code": "eway_bill_required",
    "message": "E-way bill required: order SO-000219 is worth ₹64,500.00, over the ₹50,000.00 threshold; add its "
    "e-way bill number (12 digits) to the order before the courier picks it up.",
}
SHIPMENT_CREATE = [
    OpenApiExample("The recommended courier", value={"order": 219}, request_only=True),
    OpenApiExample("A named courier", value={"order": 219, "courier": "xpressbees"}, request_only=True),
    _response("Created", {**SHIPMENT, "warnings": []}, "201"),
]
SHIPMENT_DETAIL = [_response("With its AWB", WITH_AWB)]
SHIPMENT_ASSIGN_AWB = [
    OpenApiExample("From the shipment's courier", value={}, request_only=True),
    _response("AWB assigned", {**WITH_AWB, "warnings": []}),
    _response(
        "AWB assigned, the e-way bill still to add",
        {**WITH_AWB, "cod_amount": "64500.00", "warnings": [EWAY_BILL_WARNING]},
    ),  # fmt: skip
]
SHIPMENT_CANCEL = [
    OpenApiExample("A reason", value={"reason": "Customer cancelled before pickup"}, request_only=True),
    _response(
        "Cancelled",
        {
            **WITH_AWB,
            "status": "cancelled",
            "cancelled_at": "2026-12-03T16:20:00.412007+05:30",
            "cancel_reason": "Customer cancelled before pickup",
            "updated_at": "2026-12-03T16:20:00.412022+05:30",
        },
    ),  # fmt: skip
]
TRACKING_DETAIL = [_response("Delivered, with the courier's scans", TRACKING)]
TRACKING_BATCH = [
    OpenApiExample("Two AWBs", value={"awbs": ["DX41000001", "XPB99999999"]}, request_only=True),
    _response(
        "One found, one not",
        {
            "results": [
                TRACKING,
                {"awb": "XPB99999999", "error": {"code": "not_found", "message": "No shipment has this AWB."}},
            ]
        },
    ),  # fmt: skip
]
SHIP = [
    OpenApiExample(
        "An existing order",
        summary="Confirm, book the recommended courier, schedule the pickup, render the label and the invoice",
        value={"order_id": 221},
        request_only=True,
    ),
    _response(
        "Shipped in one call",
        {
            "order": {"id": 221, "number": "SO-000221", "status": "packed"},
            "shipment": {
                **SHIPMENT,
                "id": 20,
                "order": 221,
                "order_number": "SO-000221",
                "courier": "shadowfax",
                "courier_name": "Shadowfax",
                "awb": "SFX90000000",
                "status": "pickup_scheduled",
                "charges": PREPAID_CHARGES,
                "cod_amount": "0.00",
                "pickup": {"id": 12, "token": "PU-20261204-ADB82884", "pickup_date": "2026-12-04"},
                "label": {
                    "id": 2,
                    "format": "4x6",
                    "page_count": 1,
                    "download_url": f"{BASE}/api/v1/documents/2/download/",
                },
                "tracking_url": f"{BASE}/track/SFX90000000/",
                "created_at": "2026-12-03T15:44:17.928377+05:30",
                "updated_at": "2026-12-03T15:44:18.142888+05:30",
            },  # fmt: skip
            "awb": "SFX90000000",
            "courier": "shadowfax",
            "charges": PREPAID_CHARGES,
            "pickup": {"id": 12, "pickup_token": "PU-20261204-ADB82884", "pickup_date": "2026-12-04"},
            "documents": {"label": LABEL, "invoice": INVOICE, "manifest": None},
            "steps": {
                "order_created": False,
                "confirmed": True,
                "awb_assigned": True,
                "pickup_scheduled": True,
                "label_generated": True,
                "invoice_generated": True,
                "manifest_generated": False,
            },
            "error": None,
            "warnings": [],
        },
        "201",
    ),
]
LABELS = [
    OpenApiExample("Two shipments, 4x6", value={"shipment_ids": [19, 20], "format": "4x6"}, request_only=True),
    _response(
        "Queued",
        {
            **LABEL,
            "id": 5,
            "status": "queued",
            "page_count": 0,
            "shipment_ids": [19, 20],
            "started_at": None,
            "finished_at": None,
            "download_url": None,
            "created_at": "2026-12-03T16:30:00.104519+05:30",
        },
        "202",
    ),  # fmt: skip
]
DOCUMENT_DETAIL = [_response("Rendered", LABEL)]

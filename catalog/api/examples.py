"""OpenAPI examples of the catalog API: real requests and what the demo data answers to them.

tests/shopops/test_schema.py checks each against its schema; the examples phase of tests/fuzz/ sends the requests.
"""

from drf_spectacular.utils import OpenApiExample

PRODUCT_REQUEST = {
    "sku": "TEE-GRN-M",
    "title": "Cotton crew T-shirt (green, M)",
    "description": "100% cotton, regular fit.",
    "brand": "Loomwear",
    "price": "499.00",
    "mrp": "699.00",
    "tax_rate": "5.00",
    "hsn_code": "6109",
    "weight_grams": 180,
    "length_cm": "28.0",
    "breadth_cm": "22.0",
    "height_cm": "2.0",
    "specs": {"colour": "green", "size": "M"},
}
PRODUCT = {
    "id": 31,
    **PRODUCT_REQUEST,
    "category": None,
    "currency": "INR",
    "barcode": "",
    "images": [],
    "status": "active",
    "created_at": "2026-12-03T15:42:42.473670+05:30",
    "updated_at": "2026-12-03T15:42:42.473703+05:30",
}

PRODUCT_CREATE = [
    OpenApiExample("A T-shirt variant", value=PRODUCT_REQUEST, request_only=True),
    OpenApiExample("Created", value=PRODUCT, response_only=True, status_codes=["201"]),
]
PRODUCT_LIST = [
    OpenApiExample(
        "Active products",
        summary="GET /api/v1/products/?status=active&sku=TEE-GRN-M: one product, one page",
        value=PRODUCT,
        response_only=True,
        status_codes=["200"],
    )
]
PRODUCT_DETAIL = [OpenApiExample("A product", value=PRODUCT, response_only=True, status_codes=["200"])]
INVENTORY_ADJUST = [
    OpenApiExample(
        "Receive a purchase order",
        value={"location": "blr-wh", "action": "add", "quantity": 24, "reason": "PO 1182 received"},
        request_only=True,
    ),
    OpenApiExample(
        "Stock count, only if nothing moved since",
        value={"location": "blr-wh", "action": "set", "quantity": 20, "reason": "Cycle count", "expected_on_hand": 24},
        request_only=True,
    ),
    OpenApiExample(
        "The SKU's stock after the change",
        value={
            "sku": "TEE-GRN-M",
            "product": 31,
            "total_on_hand": 24,
            "total_reserved": 0,
            "total_available": 24,
            "locations": [
                {
                    "location": 1,
                    "nickname": "blr-wh",
                    "on_hand": 24,
                    "reserved": 0,
                    "available": 24,
                    "low_stock_threshold": 0,
                }
            ],
        },
        response_only=True,
        status_codes=["200"],
    ),
]

"""The field rules of products, declared once: the API's ``ProductInput`` takes its explicit fields from them
and the product file import converts its cells through them (the other fields follow the model, as the
serializer's do; ``tests/shopops/test_fields.py`` holds both to the same answers)."""

from catalog.models import UQC, Product, ProductStatus
from shopops.fields import Choice, Decimal, Integer, Money, Pattern, Text
from shopops.validation import validate_gtin


def _length(name: str) -> int | None:
    return Product._meta.get_field(name).max_length


#: Rules that orders apply to the same things (a line's HSN code and tax rate, a parcel's size and weight).
HSN_CODE = Pattern(regex=r"^\d{4,8}$", allow_blank=True)
#: A unit quantity code of GST's list (NOS, PCS, KGS...).
UQC_CODE = Choice(choices=tuple(UQC.choices))
TAX_RATE = Decimal(max_digits=5, decimal_places=2, min_value=0, max_value=100)
CURRENCY = Pattern(regex=r"^[A-Z]{3}$")
CENTIMETRES = Decimal(max_digits=7, decimal_places=1, min_value=0)
#: A parcel's weight and size, a product's or an order's
PARCEL = {
    "weight_grams": Integer(min_value=0, max_value=1_000_000),
    "length_cm": CENTIMETRES,
    "breadth_cm": CENTIMETRES,
    "height_cm": CENTIMETRES,
}

PRODUCT = {
    "sku": Text(max_length=_length("sku")),
    "title": Text(max_length=_length("title")),
    "description": Text(allow_blank=True),
    "brand": Text(max_length=_length("brand"), allow_blank=True),
    "hsn_code": HSN_CODE,
    "tax_rate": TAX_RATE,
    "uqc": UQC_CODE,
    "mrp": Money(min_value=0),
    "price": Money(min_value=0),
    "currency": CURRENCY,
    **PARCEL,
    "barcode": Text(max_length=_length("barcode"), allow_blank=True, validators=(validate_gtin,)),
    "status": Choice(choices=tuple(ProductStatus.choices)),
}

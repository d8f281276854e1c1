"""The catalog's error codes: categories, products, locations and stock."""

from typing import Any

from shopops.errors import DomainError, ErrorCode, ErrorKind

C = ErrorKind.CONFLICT

DUPLICATE_SLUG = ErrorCode("duplicate_slug", C, "Another category of the merchant has this slug.")
CATEGORY_HAS_CHILDREN = ErrorCode("category_has_children", C, "A category with sub-categories cannot be deleted.")
DUPLICATE_SKU = ErrorCode("duplicate_sku", C, "Another product of the merchant has this SKU.")
DUPLICATE_NICKNAME = ErrorCode("duplicate_nickname", C, "Another location of the merchant has this nickname.")
LOCATION_IN_USE = ErrorCode("location_in_use", C, "Stock records or orders use the location; deactivate it instead.")
LOCATION_IS_DEFAULT = ErrorCode("location_is_default", C, "The default location cannot be deleted.")
INSUFFICIENT_STOCK = ErrorCode(
    "insufficient_stock", C, "Not enough stock is available; `details.lines` names each short SKU and location."
)
STOCK_CONFLICT = ErrorCode("stock_conflict", C, "On hand changed since it was read (`expected_on_hand`); reload.")
NOT_RESERVED = ErrorCode("not_reserved", C, "Less stock is reserved than the request releases or ships.")


class InsufficientStock(DomainError):
    """Not enough stock for the lines in ``shortages`` (each ``{sku, location, requested, available}``)."""

    def __init__(self, shortages: list[dict[str, Any]]):
        skus = ", ".join(s["sku"] for s in shortages)
        super().__init__(INSUFFICIENT_STOCK.code, f"Not enough stock for {skus}.", {"lines": shortages},
                         kind=INSUFFICIENT_STOCK.kind)  # fmt: skip

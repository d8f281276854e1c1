"""Every write of the catalog and inventory.

Stock changes lock the affected StockLevel rows in primary-key order (so two
calls touching the same levels never deadlock), change counters with F()
expressions and write their ledger rows in the same transaction. The database
constraints 0 <= reserved <= on_hand are the last line of defence.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError, Q
from django.utils import timezone
from django.utils.text import slugify

from catalog.errors import (
    CATEGORY_HAS_CHILDREN,
    DUPLICATE_NICKNAME,
    DUPLICATE_SKU,
    DUPLICATE_SLUG,
    LOCATION_IN_USE,
    LOCATION_IS_DEFAULT,
    NOT_RESERVED,
    STOCK_CONFLICT,
    InsufficientStock,
)
from catalog.models import (
    PRODUCT_STATES,
    Category,
    Location,
    MovementKind,
    Product,
    ProductImage,
    ProductStatus,
    StockLevel,
    StockMovement,
)
from shopops.errors import DomainError
from shopops.models import Merchant
from shopops.transitions import transition
from shopops.validation import as_id

PRODUCT_FIELDS = (
    "sku", "title", "description", "brand", "category", "specs", "hsn_code", "tax_rate", "uqc", "mrp", "price",
    "currency", "weight_grams", "length_cm", "breadth_cm", "height_cm", "barcode", "status",
)  # fmt: skip
LOCATION_FIELDS = (
    "nickname", "name", "contact_name", "phone", "email", "line1", "line2", "city", "state", "postcode", "country",
    "is_active",
)  # fmt: skip


def _apply(instance, data: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Unknown field."))
    for name, value in data.items():
        setattr(instance, name, value)


def _clean(instance, exclude: list[str] | None = None) -> None:
    instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=True)


# -- categories ----------------------------------------------------------------------


def category_create(*, merchant: Merchant, name: str, slug: str = "", parent: Category | None = None) -> Category:
    slug = slug or slugify(name)[:140] or slugify(name, allow_unicode=True)[:140]
    category = Category(merchant=merchant, name=name, slug=slug, parent=parent)
    _category_check(category)
    category.save()
    return category


def category_update(*, category: Category, data: dict[str, Any]) -> Category:
    _apply(category, data, ("name", "slug", "parent"))
    _category_check(category)
    category.save()
    return category


def _category_check(category: Category) -> None:
    if category.parent_id is not None and category.parent.merchant_id != category.merchant_id:
        raise ValidationError({"parent": "Unknown category."})
    ancestor = category.parent
    while ancestor is not None:
        if ancestor.pk == category.pk:
            raise ValidationError({"parent": "A category cannot be its own ancestor."})
        ancestor = ancestor.parent
    existing = Category.objects.filter(merchant_id=category.merchant_id, slug=category.slug).exclude(pk=category.pk)
    if existing.exists():
        raise DUPLICATE_SLUG(
            f"A category with slug {category.slug!r} already exists.",
            {"existing_id": existing.values_list("pk", flat=True).first(), "slug": category.slug},
        )
    _clean(category)


def category_delete(*, category: Category) -> None:
    """Delete a leaf category; its products keep existing without a category."""
    if category.children.exists():
        raise CATEGORY_HAS_CHILDREN("Move or delete the sub-categories first.", {"category": category.pk})
    category.delete()


# -- products ------------------------------------------------------------------------


def _duplicate_sku(merchant_id: int, sku: str, exclude_pk: int | None = None) -> DomainError | None:
    existing = Product.objects.filter(merchant_id=merchant_id, sku=sku).exclude(pk=exclude_pk).values("pk").first()
    if existing is None:
        return None
    return DUPLICATE_SKU(
        f"A product with SKU {sku!r} already exists (id {existing['pk']}).",
        {"sku": sku, "existing_id": existing["pk"]},
    )


def _product_check(product: Product) -> None:
    if product.category_id is not None and product.category.merchant_id != product.merchant_id:
        raise ValidationError({"category": "Unknown category."})
    if not isinstance(product.specs, dict):
        raise ValidationError({"specs": "Must be a JSON object."})
    _clean(product)


def product_create(*, merchant: Merchant, data: dict[str, Any]) -> Product:
    product = Product(merchant=merchant, currency=merchant.default_currency)
    _apply(product, data, PRODUCT_FIELDS)
    if conflict := _duplicate_sku(merchant.pk, product.sku):
        raise conflict
    _product_check(product)
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError as exc:  # a concurrent create of the same SKU won the race
        if conflict := _duplicate_sku(merchant.pk, product.sku):
            raise conflict from exc
        raise
    return product


@transaction.atomic
def product_update(*, product: Product, data: dict[str, Any]) -> Product:
    old_sku = product.sku
    _apply(product, data, PRODUCT_FIELDS)
    if product.sku != old_sku and (conflict := _duplicate_sku(product.merchant_id, product.sku, product.pk)):
        raise conflict
    _product_check(product)
    product.save()
    if product.sku != old_sku:
        StockLevel.objects.filter(product=product).update(sku=product.sku)
    return product


def product_archive(*, product: Product) -> Product:
    if product.status == ProductStatus.ARCHIVED:
        return product
    return transition(PRODUCT_STATES, product, ProductStatus.ARCHIVED)


@dataclass(frozen=True)
class BulkResult:
    index: int
    sku: str
    status: str  # created, updated or failed
    id: int | None = None
    error: dict | None = None


def product_bulk_upsert(*, merchant: Merchant, items: list[dict[str, Any]]) -> list[BulkResult]:
    """Create or update each item by SKU, each in its own transaction; one item's failure spares the others."""
    existing = {p.sku: p for p in Product.objects.filter(merchant=merchant, sku__in=[i.get("sku") for i in items])}
    results = []
    for index, item in enumerate(items):
        sku = item.get("sku", "")
        try:
            with transaction.atomic():
                if sku in existing:
                    product = product_update(product=existing[sku], data=item)
                    results.append(BulkResult(index, sku, "updated", product.pk))
                else:
                    product = product_create(merchant=merchant, data=item)
                    existing[sku] = product
                    results.append(BulkResult(index, sku, "created", product.pk))
        except ValidationError as exc:
            results.append(BulkResult(index, sku, "failed", error=_error_of(exc)))
        except DomainError as exc:
            results.append(BulkResult(index, sku, "failed", error=exc.as_dict()))
    return results


def _error_of(exc: ValidationError) -> dict:
    details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return {"code": "invalid", "message": "The item has invalid fields; see details.", "details": details}


def product_image_add(
    *, product: Product, image=None, url: str = "", position: int | None = None, alt: str = ""
) -> ProductImage:
    if bool(image) == bool(url):
        raise ValidationError({"image": "Give either an uploaded image or a url, not both."})
    if image is not None:
        content_type = getattr(image, "content_type", "")
        if content_type not in ProductImage.CONTENT_TYPES:
            raise ValidationError({"image": f"Upload a JPEG, PNG, WebP or GIF image, not {content_type or 'this'}."})
        if image.size > ProductImage.MAX_BYTES:
            raise ValidationError({"image": f"The image is larger than {ProductImage.MAX_BYTES // (1024 * 1024)} MB."})
    if position is None:
        position = (product.images.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    product_image = ProductImage(
        merchant_id=product.merchant_id, product=product, image=image or "", url=url, position=position, alt=alt
    )
    _clean(product_image)
    product_image.save()
    Product.objects.filter(pk=product.pk).update(updated_at=timezone.now())
    return product_image


def product_image_delete(*, image: ProductImage) -> None:
    stored = image.image.name
    image.delete()
    if stored:
        image.image.storage.delete(stored)


# -- locations -----------------------------------------------------------------------


def _location_check(location: Location) -> None:
    from shopops.validation import normalize_address, normalize_phone

    errors: dict[str, Any] = {}
    try:
        address = normalize_address(
            country=location.country,
            state=location.state,
            city=location.city,
            postcode=location.postcode,
            line1=location.line1,
            line2=location.line2,
        )
        for name, value in address.items():
            setattr(location, name, value)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if location.phone:
        try:
            location.phone = normalize_phone(location.phone, location.country or "IN")
        except ValidationError as exc:
            errors["phone"] = exc.messages
    if errors:
        raise ValidationError(errors)
    existing = Location.objects.filter(merchant_id=location.merchant_id, nickname=location.nickname)
    if existing.exclude(pk=location.pk).exists():
        raise DUPLICATE_NICKNAME(
            f"A location named {location.nickname!r} already exists.",
            {"nickname": location.nickname, "existing_id": existing.values_list("pk", flat=True).first()},
        )
    _clean(location)


@transaction.atomic
def location_create(*, merchant: Merchant, data: dict[str, Any], is_default: bool = False) -> Location:
    """The merchant's first location becomes the default; ``is_default`` moves the default here."""
    Merchant.objects.select_for_update().get(pk=merchant.pk)  # serialise default changes per merchant
    location = Location(merchant=merchant)
    _apply(location, data, LOCATION_FIELDS)
    _location_check(location)
    has_default = Location.objects.filter(merchant=merchant, is_default=True).exists()
    if (is_default or not has_default) and not location.is_active:
        field = "is_default" if is_default else "is_active"
        raise ValidationError(
            {field: "The default location must be active (a merchant's first location is its default)."}
        )
    if is_default or not has_default:
        Location.objects.filter(merchant=merchant, is_default=True).update(is_default=False)
        location.is_default = True
    location.save()
    return location


@transaction.atomic
def location_update(*, location: Location, data: dict[str, Any], is_default: bool | None = None) -> Location:
    Merchant.objects.select_for_update().get(pk=location.merchant_id)
    _apply(location, data, LOCATION_FIELDS)
    if location.is_default and not location.is_active:
        raise ValidationError({"is_active": "The default location cannot be deactivated; make another the default."})
    if is_default and not location.is_active:
        raise ValidationError({"is_default": "An inactive location cannot be the default; activate it first."})
    if is_default is False and location.is_default:
        raise ValidationError({"is_default": "Make another location the default instead."})
    _location_check(location)
    if is_default and not location.is_default:
        Location.objects.filter(merchant_id=location.merchant_id, is_default=True).update(is_default=False)
        location.is_default = True
    location.save()
    return location


def location_delete(*, location: Location) -> None:
    if location.stock_levels.exists():
        raise LOCATION_IN_USE("The location holds stock records; deactivate it instead.", {"location": location.pk})
    if (
        location.is_default
        and Location.objects.filter(merchant_id=location.merchant_id).exclude(pk=location.pk).exists()
    ):
        raise LOCATION_IS_DEFAULT("Make another location the default first.", {"location": location.pk})
    try:
        with transaction.atomic():
            location.delete()
    except ProtectedError as exc:
        raise LOCATION_IN_USE(
            "Orders or stock records use this location; deactivate it instead.",
            {"location": location.pk},
        ) from exc


def location_resolve(*, merchant: Merchant, ref: str | int) -> Location:
    """A location named by id or nickname, as every request that names one accepts."""
    ref = str(ref).strip()
    locations = Location.objects.filter(merchant=merchant)
    location = locations.filter(pk=as_id(ref)).first() if as_id(ref) is not None else None
    if location is None:
        location = locations.filter(nickname=ref).first()
    if location is None:
        raise ValidationError({"location": f"Unknown location {ref!r}."})
    return location


# -- stock ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StockLine:
    product_id: int
    location_id: int
    quantity: int


def _lock_levels(merchant_id: int, keys: Iterable[tuple[int, int]], create: bool) -> dict[tuple[int, int], StockLevel]:
    """Lock the levels of (product_id, location_id) pairs in primary-key order, creating missing ones."""
    keys = sorted(set(keys))
    if create:
        skus = dict(Product.objects.filter(pk__in={p for p, _ in keys}).values_list("pk", "sku"))
        StockLevel.objects.bulk_create(
            [StockLevel(merchant_id=merchant_id, product_id=p, location_id=loc, sku=skus[p]) for p, loc in keys],
            ignore_conflicts=True,
        )
    pairs = Q()
    for product_id, location_id in keys:
        pairs |= Q(product_id=product_id, location_id=location_id)
    levels = StockLevel.objects.select_for_update().filter(pairs, merchant_id=merchant_id).order_by("pk")
    return {(level.product_id, level.location_id): level for level in levels}


def _move(
    level: StockLevel,
    *,
    kind: str,
    on_hand_delta: int,
    reserved_delta: int,
    ledger_quantity: int,
    reason: str,
    reference: str,
    actor: str,
) -> StockMovement:
    """Apply deltas to a locked level with F() and return its (unsaved) ledger row."""
    StockLevel.objects.filter(pk=level.pk).update(
        on_hand=F("on_hand") + on_hand_delta, reserved=F("reserved") + reserved_delta, updated_at=timezone.now()
    )
    level.on_hand += on_hand_delta
    level.reserved += reserved_delta
    level.available = level.on_hand - level.reserved
    return StockMovement(
        merchant_id=level.merchant_id, stock_level=level, product_id=level.product_id, location_id=level.location_id,
        kind=kind, quantity=ledger_quantity, on_hand_after=level.on_hand, reserved_after=level.reserved,
        reason=reason[:255], reference=reference[:100], actor=actor[:100],
    )  # fmt: skip


def _shortage(level: StockLevel | None, line: StockLine, have: int) -> dict[str, Any]:
    sku = level.sku if level else Product.objects.filter(pk=line.product_id).values_list("sku", flat=True).first()
    return {"sku": sku, "product": line.product_id, "location": line.location_id, "requested": line.quantity,
            "available": have}  # fmt: skip


def _check_lines(lines: list[StockLine]) -> None:
    for line in lines:
        if not isinstance(line.quantity, int) or line.quantity <= 0:
            raise ValidationError({"quantity": "Quantities must be positive integers."})


@transaction.atomic
def stock_adjust(
    *,
    merchant: Merchant,
    product: Product,
    location: Location,
    action: str,
    quantity: int,
    reason: str,
    actor: str,
    expected_on_hand: int | None = None,
    reference: str = "",
) -> StockLevel:
    """Add, remove or set on-hand stock; with ``expected_on_hand``, only if on_hand still has that value."""
    if product.merchant_id != merchant.pk or location.merchant_id != merchant.pk:
        raise ValidationError("The product and location must belong to the merchant.")
    if action not in ("add", "remove", "set"):
        raise ValidationError({"action": "Must be add, remove or set."})
    if not isinstance(quantity, int) or quantity < 0 or (quantity == 0 and action != "set"):
        raise ValidationError({"quantity": "Must be a positive integer (zero only with set)."})
    level = _lock_levels(merchant.pk, [(product.pk, location.pk)], create=True)[(product.pk, location.pk)]
    if expected_on_hand is not None and expected_on_hand != level.on_hand:
        raise STOCK_CONFLICT(
            f"On hand is {level.on_hand}, not the expected {expected_on_hand}; reload and retry.",
            {"expected_on_hand": expected_on_hand, "on_hand": level.on_hand, "sku": product.sku},
        )
    delta = {"add": quantity, "remove": -quantity, "set": quantity - level.on_hand}[action]
    if level.on_hand + delta < level.reserved:
        raise InsufficientStock(
            [
                {
                    "sku": product.sku,
                    "product": product.pk,
                    "location": location.pk,
                    "requested": quantity,
                    "available": level.available,
                    "reserved": level.reserved,
                }
            ]  # fmt: skip
        )
    if delta:
        kind = MovementKind.RECEIPT if action == "add" else MovementKind.ADJUSTMENT
        _move(level, kind=kind, on_hand_delta=delta, reserved_delta=0, ledger_quantity=delta, reason=reason,
              reference=reference, actor=actor).save()  # fmt: skip
    return level


def stock_set_threshold(*, level: StockLevel, low_stock_threshold: int) -> StockLevel:
    StockLevel.objects.filter(pk=level.pk).update(low_stock_threshold=low_stock_threshold, updated_at=timezone.now())
    level.low_stock_threshold = low_stock_threshold
    return level


@transaction.atomic
def stock_reserve(*, merchant: Merchant, lines: list[StockLine], reference: str, actor: str) -> list[StockLevel]:
    """Reserve every line or none: 409 insufficient_stock names each short line."""
    _check_lines(lines)
    levels = _lock_levels(merchant.pk, [(ln.product_id, ln.location_id) for ln in lines], create=False)
    wanted: dict[tuple[int, int], int] = {}
    for line in lines:
        wanted[(line.product_id, line.location_id)] = wanted.get((line.product_id, line.location_id), 0) + line.quantity
    shortages = []
    for line in lines:
        level = levels.get((line.product_id, line.location_id))
        have = level.available if level else 0
        if wanted[(line.product_id, line.location_id)] > have:
            shortages.append(_shortage(level, line, have))
    if shortages:
        raise InsufficientStock(shortages)
    movements = [
        _move(levels[(ln.product_id, ln.location_id)], kind=MovementKind.RESERVATION, on_hand_delta=0,
              reserved_delta=ln.quantity, ledger_quantity=ln.quantity, reason="", reference=reference, actor=actor)
        for ln in lines
    ]  # fmt: skip
    StockMovement.objects.bulk_create(movements)
    return [levels[(ln.product_id, ln.location_id)] for ln in lines]


def _consume(
    merchant: Merchant,
    lines: list[StockLine],
    *,
    kind: str,
    on_hand_sign: int,
    reserved_sign: int,
    reference: str,
    actor: str,
    reason: str = "",
) -> list[StockLevel]:
    _check_lines(lines)
    keys = [(ln.product_id, ln.location_id) for ln in lines]
    levels = _lock_levels(merchant.pk, keys, create=on_hand_sign > 0)
    movements = []
    for line in lines:
        level = levels.get((line.product_id, line.location_id))
        if reserved_sign < 0 and (level is None or level.reserved < line.quantity):
            raise NOT_RESERVED(
                "Less stock is reserved than the request releases or ships.",
                {"lines": [_shortage(level, line, level.reserved if level else 0)]},
            )
        movements.append(
            _move(
                level,
                kind=kind,
                on_hand_delta=on_hand_sign * line.quantity,
                reserved_delta=reserved_sign * line.quantity,
                ledger_quantity=(on_hand_sign or reserved_sign) * line.quantity,
                reason=reason,
                reference=reference,
                actor=actor,
            )  # fmt: skip
        )
    StockMovement.objects.bulk_create(movements)
    return [levels[(ln.product_id, ln.location_id)] for ln in lines]


@transaction.atomic
def stock_release(*, merchant: Merchant, lines: list[StockLine], reference: str, actor: str) -> list[StockLevel]:
    """Give reserved stock back to available (an order cancelled before shipping)."""
    return _consume(merchant, lines, kind=MovementKind.RELEASE, on_hand_sign=0, reserved_sign=-1,
                    reference=reference, actor=actor)  # fmt: skip


@transaction.atomic
def stock_ship(*, merchant: Merchant, lines: list[StockLine], reference: str, actor: str) -> list[StockLevel]:
    """Reserved stock leaves the building (courier pickup): on_hand and reserved both drop."""
    return _consume(merchant, lines, kind=MovementKind.SHIPMENT, on_hand_sign=-1, reserved_sign=-1,
                    reference=reference, actor=actor)  # fmt: skip


@transaction.atomic
def stock_restock(
    *, merchant: Merchant, lines: list[StockLine], kind: str, reference: str, actor: str, reason: str = ""
) -> list[StockLevel]:
    """Stock comes back: a received return (kind return) or a delivered RTO (kind rto)."""
    if kind not in (MovementKind.RETURN, MovementKind.RTO, MovementKind.RECEIPT):
        raise ValueError(f"stock_restock cannot record {kind!r}")
    return _consume(merchant, lines, kind=kind, on_hand_sign=1, reserved_sign=0, reference=reference, actor=actor,
                    reason=reason)  # fmt: skip

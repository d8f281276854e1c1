"""Catalog and inventory: categories, products, locations, stock levels and the stock ledger."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper

from shopops.models import Merchant
from shopops.transitions import declare
from shopops.validation import money_field, validate_gtin


class Category(models.Model):
    # db_index=False: the unique (merchant, slug) serves lookups by merchant
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="categories", db_index=False, verbose_name="merchant"
    )
    name = models.CharField("name", max_length=120)
    slug = models.SlugField(
        "slug",
        max_length=140,
        allow_unicode=True,
        help_text="Unique per merchant: how the API and imports name the category.",
    )
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name="parent category"
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["merchant", "slug"], name="category_unique_slug")]

    def __str__(self) -> str:
        return self.name


class UQC(models.TextChoices):
    """Unit quantity codes: the units GST invoices, returns (GSTR-1's HSN summary) and e-way bills count goods in.
    The GST portal's list (the customs list it took over); a litre is 1000 MLT, a unit without a code is OTH."""

    BAG = "BAG", "BAG - bags"
    BAL = "BAL", "BAL - bale"
    BDL = "BDL", "BDL - bundles"
    BKL = "BKL", "BKL - buckles"
    BOU = "BOU", "BOU - billions of units"
    BOX = "BOX", "BOX - box"
    BTL = "BTL", "BTL - bottles"
    BUN = "BUN", "BUN - bunches"
    CAN = "CAN", "CAN - cans"
    CBM = "CBM", "CBM - cubic metres"
    CCM = "CCM", "CCM - cubic centimetres"
    CMS = "CMS", "CMS - centimetres"
    CTN = "CTN", "CTN - cartons"
    DOZ = "DOZ", "DOZ - dozens"
    DRM = "DRM", "DRM - drums"
    GGR = "GGR", "GGR - great gross"
    GMS = "GMS", "GMS - grammes"
    GRS = "GRS", "GRS - gross"
    GYD = "GYD", "GYD - gross yards"
    KGS = "KGS", "KGS - kilogrammes"
    KLR = "KLR", "KLR - kilolitres"
    KME = "KME", "KME - kilometres"
    MLT = "MLT", "MLT - millilitres"
    MTR = "MTR", "MTR - metres"
    MTS = "MTS", "MTS - metric tons"
    NOS = "NOS", "NOS - numbers"
    OTH = "OTH", "OTH - others"
    PAC = "PAC", "PAC - packs"
    PCS = "PCS", "PCS - pieces"
    PRS = "PRS", "PRS - pairs"
    QTL = "QTL", "QTL - quintals"
    ROL = "ROL", "ROL - rolls"
    SET = "SET", "SET - sets"
    SQF = "SQF", "SQF - square feet"
    SQM = "SQM", "SQM - square metres"
    SQY = "SQY", "SQY - square yards"
    TBS = "TBS", "TBS - tablets"
    TGM = "TGM", "TGM - ten grammes"
    THD = "THD", "THD - thousands"
    TON = "TON", "TON - tonnes"
    TUB = "TUB", "TUB - tubes"
    UGS = "UGS", "UGS - US gallons"
    UNT = "UNT", "UNT - units"
    YDS = "YDS", "YDS - yards"


class ProductStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


class Product(models.Model):
    # db_index=False: the unique (merchant, sku) serves lookups by merchant
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="products", db_index=False, verbose_name="merchant"
    )
    sku = models.CharField("SKU", max_length=64)
    title = models.CharField("title", max_length=255)
    description = models.TextField("description", blank=True)
    brand = models.CharField("brand", max_length=120, blank=True)
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="products", verbose_name="category"
    )
    specs = models.JSONField(
        "specs", default=dict, blank=True, help_text='Attributes as a JSON object, e.g. {"colour": "red"}.'
    )
    hsn_code = models.CharField("HSN code", max_length=8, blank=True)
    tax_rate = models.DecimalField(
        "tax rate",
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="GST rate in percent.",
    )
    uqc = models.CharField("UQC", max_length=3, choices=UQC.choices, default=UQC.NOS, db_default=UQC.NOS,
                           help_text="The unit quantity code invoices count it in.")  # fmt: skip
    mrp = money_field(
        null=True,
        blank=True,
        verbose_name="MRP",
        help_text="Maximum retail price, GST included; the price may not exceed it.",
    )
    price = money_field(verbose_name="price", help_text="Selling price, GST included.")
    currency = models.CharField("currency", max_length=3, default="INR", help_text="ISO 4217 code.")
    weight_grams = models.PositiveIntegerField("weight (g)", default=0)
    length_cm = models.DecimalField("length (cm)", max_digits=7, decimal_places=1, default=0)
    breadth_cm = models.DecimalField("breadth (cm)", max_digits=7, decimal_places=1, default=0)
    height_cm = models.DecimalField("height (cm)", max_digits=7, decimal_places=1, default=0)
    barcode = models.CharField(
        "barcode", max_length=14, blank=True, validators=[validate_gtin], help_text="GTIN/EAN/UPC."
    )
    status = models.CharField("status", max_length=10, choices=ProductStatus.choices, default=ProductStatus.ACTIVE)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sku"], name="product_unique_sku"),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(condition=Q(mrp__isnull=True) | Q(mrp__gte=F("price")), name="product_price_le_mrp"),
            models.CheckConstraint(condition=Q(tax_rate__gte=0, tax_rate__lte=100), name="product_tax_rate_range"),
            models.CheckConstraint(condition=Q(status__in=ProductStatus.values), name="product_status_valid"),
            models.CheckConstraint(condition=Q(uqc__in=UQC.values), name="product_uqc_valid"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="product_currency_iso4217"),
        ]
        indexes = [
            models.Index(fields=["merchant", "updated_at", "id"], name="product_merchant_updated"),
            models.Index(fields=["merchant", "created_at", "id"], name="product_merchant_created"),
            models.Index(fields=["merchant", "price", "id"], name="product_merchant_price"),
            models.Index(fields=["merchant", "title", "id"], name="product_merchant_title"),
            models.Index(fields=["merchant", "barcode"], name="product_merchant_barcode"),
            # An SKU in any case (``sku__iexact``: the stock ledger's search).
            models.Index(Upper("sku"), F("merchant"), name="product_sku_any_case"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} — {self.title}"


#: Archiving hides a product from new orders; it can be made active again.
PRODUCT_STATES = declare(
    Product, {ProductStatus.ACTIVE: {ProductStatus.ARCHIVED}, ProductStatus.ARCHIVED: {ProductStatus.ACTIVE}}
)


class ProductImage(models.Model):
    MAX_BYTES = 5 * 1024 * 1024
    CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images", verbose_name="product")
    image = models.ImageField(
        "image", upload_to="products/%Y/%m/", blank=True, help_text="An uploaded image file; or give a URL instead."
    )
    url = models.URLField(
        "URL",
        max_length=500,
        blank=True,
        help_text="The address of an image on the web, used instead of an uploaded file.",
    )
    position = models.PositiveSmallIntegerField(
        "position", default=0, help_text="Images are shown in increasing position."
    )
    alt = models.CharField(
        "alt text", max_length=255, blank=True, help_text="What the image shows, for screen readers and search engines."
    )
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(image="") & ~Q(url="")) | (~Q(image="") & Q(url="")),
                name="productimage_file_or_url",
            ),
        ]

    def __str__(self) -> str:
        return self.alt or self.url or self.image.name


class Location(models.Model):
    """A warehouse or pickup location. Exactly one per merchant is the default."""

    # db_index=False: the unique (merchant, nickname) serves lookups by merchant
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="locations", db_index=False, verbose_name="merchant"
    )
    nickname = models.SlugField("nickname", max_length=60, help_text="Short unique name used by the API and imports.")
    name = models.CharField("name", max_length=200)
    contact_name = models.CharField("contact name", max_length=120, blank=True)
    phone = models.CharField("phone", max_length=20, blank=True, help_text="E.164.")
    email = models.EmailField("email", blank=True)
    line1 = models.CharField("address line 1", max_length=200)
    line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField("city", max_length=100)
    state = models.CharField("state", max_length=100, blank=True)
    postcode = models.CharField("postcode", max_length=20)
    country = models.CharField("country", max_length=2, default="IN", help_text="ISO 3166-1 alpha-2 code.")
    is_default = models.BooleanField(
        "default location", default=False, help_text="Orders ship from it unless they name another location."
    )
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["nickname"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "nickname"], name="location_unique_nickname"),
            models.UniqueConstraint(
                fields=["merchant"], condition=Q(is_default=True), name="location_one_default_per_merchant"
            ),
            models.CheckConstraint(condition=Q(is_default=False) | Q(is_active=True), name="location_default_active"),
        ]

    def __str__(self) -> str:
        return self.nickname


class StockLevel(models.Model):
    # db_index=False on merchant and product: the (merchant, sku, id) index and the unique (product, location)
    # serve lookups by them
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name="merchant"
    )
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="stock_levels", db_index=False, verbose_name="product"
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="stock_levels", verbose_name="location"
    )
    sku = models.CharField(
        "SKU", max_length=64, help_text="The product's SKU, kept in step for filtering and ordering."
    )
    on_hand = models.IntegerField("on hand", default=0, help_text="Units at the location.")
    reserved = models.IntegerField("reserved", default=0, help_text="Units held for confirmed orders not yet shipped.")
    available = models.GeneratedField(
        expression=F("on_hand") - F("reserved"),
        output_field=models.IntegerField(),
        db_persist=True,
        verbose_name="available",
        help_text="On hand minus reserved.",
    )
    low_stock_threshold = models.PositiveIntegerField(
        "low-stock threshold", default=0, help_text="Low on stock when available falls to this or below."
    )
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["sku", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "location"], name="stocklevel_unique_product_location"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stocklevel_reserved_not_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="stocklevel_reserved_le_on_hand"),
        ]
        indexes = [
            models.Index(fields=["merchant", "sku", "id"], name="stocklevel_merchant_sku"),
            models.Index(fields=["merchant", "on_hand", "id"], name="stocklevel_merchant_on_hand"),
            models.Index(fields=["merchant", "updated_at", "id"], name="stocklevel_merchant_updated"),
            models.Index(fields=["merchant", "available", "id"], name="stocklevel_merchant_available"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} at location {self.location_id}: {self.on_hand} on hand, {self.reserved} reserved"


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    ADJUSTMENT = "adjustment", "Adjustment"
    RESERVATION = "reservation", "Reservation"
    RELEASE = "release", "Release"
    SHIPMENT = "shipment", "Shipment"
    RETURN = "return", "Return"
    RTO = "rto", "Return to origin"


#: Kinds whose ``quantity`` changes on_hand; reservation and release change ``reserved`` only.
ON_HAND_KINDS = (
    MovementKind.RECEIPT,
    MovementKind.ADJUSTMENT,
    MovementKind.SHIPMENT,
    MovementKind.RETURN,
    MovementKind.RTO,
)


class StockMovement(models.Model):
    """Append-only ledger. The on-hand kinds' quantities of a level sum to its on_hand."""

    # db_index=False: the (merchant, created_at, id) index serves lookups by merchant
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name="merchant"
    )
    stock_level = models.ForeignKey(
        StockLevel, on_delete=models.PROTECT, related_name="movements", verbose_name="stock level"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+", verbose_name="product")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+", verbose_name="location")
    kind = models.CharField("kind", max_length=12, choices=MovementKind.choices)
    quantity = models.IntegerField(
        "quantity", help_text="Signed: + in, - out (of on_hand; of reserved for reservations)."
    )
    on_hand_after = models.IntegerField("on hand after")
    reserved_after = models.IntegerField("reserved after")
    reason = models.CharField("reason", max_length=255, blank=True)
    reference = models.CharField("reference", max_length=100, blank=True, help_text="e.g. order:123, import:7.")
    actor = models.CharField("actor", max_length=100, help_text="user:<id>, app:<client_id> or system.")
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=MovementKind.values), name="stockmovement_kind_valid"),
            models.CheckConstraint(condition=~Q(quantity=0), name="stockmovement_quantity_not_zero"),
        ]
        indexes = [
            models.Index(fields=["merchant", "created_at", "id"], name="stockmove_merchant_created"),
            models.Index(fields=["created_at", "id"], name="stockmove_created"),  # every merchant's, for superusers
            models.Index(fields=["merchant", "product", "id"], name="stockmove_merchant_product"),
            models.Index(fields=["merchant", "reference"], name="stockmove_merchant_reference"),  # search
        ]

    def __str__(self) -> str:
        return self.kind if self.quantity is None else f"{self.kind} {self.quantity:+d}"

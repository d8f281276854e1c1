from rest_framework import serializers

from catalog.models import Category, Location, MovementKind, Product, ProductImage, StockLevel, StockMovement
from catalog.validation import PRODUCT
from shopops.api.fields import api_field
from shopops.api.serializers import StrictInputMixin
from shopops.validation import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS

BULK_MAX_ITEMS = 100


class MerchantRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key limited to the request's merchant: another merchant's id is 'does not exist'."""

    def get_queryset(self):
        return super().get_queryset().filter(merchant=self.context["merchant"])


def money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


# -- categories ----------------------------------------------------------------------


class CategoryOutput(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug", "parent", "created_at", "updated_at"]


class CategoryInput(StrictInputMixin, serializers.ModelSerializer):
    parent = MerchantRelatedField(queryset=Category.objects.all(), allow_null=True, required=False)
    slug = serializers.SlugField(max_length=140, required=False, allow_unicode=True)

    class Meta:
        model = Category
        fields = ["name", "slug", "parent"]


# -- products ------------------------------------------------------------------------


class ProductImageOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = ["id", "url", "position", "alt"]

    def get_url(self, obj: ProductImage) -> str:
        if obj.url:
            return obj.url
        request = self.context.get("request")
        return request.build_absolute_uri(obj.image.url) if request else obj.image.url


class ProductImageInput(StrictInputMixin, serializers.Serializer):
    image = serializers.ImageField(required=False, help_text="An uploaded JPEG, PNG, WebP or GIF, at most 5 MB.")
    url = serializers.URLField(required=False, max_length=500)
    position = serializers.IntegerField(required=False, min_value=0, max_value=32767)
    alt = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")

    def validate(self, attrs):
        if bool(attrs.get("image")) == bool(attrs.get("url")):
            raise serializers.ValidationError({"image": ["Give either an uploaded image or a url, not both."]})
        return attrs


class ProductOutput(serializers.ModelSerializer):
    images = ProductImageOutput(many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "id", "sku", "title", "description", "brand", "category", "specs", "hsn_code", "tax_rate", "uqc", "mrp",
            "price", "currency", "weight_grams", "length_cm", "breadth_cm", "height_cm", "barcode", "images", "status",
            "created_at", "updated_at",
        ]  # fmt: skip


class ProductInput(StrictInputMixin, serializers.ModelSerializer):
    tolerated_fields = frozenset({"id", "images", "created_at", "updated_at"})

    category = MerchantRelatedField(queryset=Category.objects.all(), allow_null=True, required=False)
    specs = serializers.DictField(required=False, help_text="Attributes as a JSON object.")
    mrp = api_field(PRODUCT["mrp"], allow_null=True, required=False)
    price = api_field(PRODUCT["price"])
    currency = api_field(PRODUCT["currency"], required=False, help_text="ISO 4217; the merchant's by default.")
    weight_grams = api_field(PRODUCT["weight_grams"], required=False)
    hsn_code = api_field(PRODUCT["hsn_code"], required=False, help_text="4 to 8 digits.")
    uqc = api_field(PRODUCT["uqc"], required=False, help_text="GST unit quantity code (NOS, PCS, KGS...); NOS.")

    class Meta:
        model = Product
        fields = [
            "sku", "title", "description", "brand", "category", "specs", "hsn_code", "tax_rate", "uqc", "mrp",
            "price", "currency", "weight_grams", "length_cm", "breadth_cm", "height_cm", "barcode", "status",
        ]  # fmt: skip
        extra_kwargs = {
            "length_cm": {"min_value": 0},
            "breadth_cm": {"min_value": 0},
            "height_cm": {"min_value": 0},
            "tax_rate": {"min_value": 0, "max_value": 100},
        }

    def validate(self, attrs):
        mrp = attrs.get("mrp", getattr(self.instance, "mrp", None))
        price = attrs.get("price", getattr(self.instance, "price", None))
        if mrp is not None and price is not None and price > mrp:
            raise serializers.ValidationError({"price": ["Must not exceed the MRP."]})
        return attrs


class ProductBulkInput(StrictInputMixin, serializers.Serializer):
    products = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=BULK_MAX_ITEMS,
        help_text=f"Up to {BULK_MAX_ITEMS} products, matched by sku: existing ones are updated, new ones created.",
    )


class BulkItemResult(serializers.Serializer):
    index = serializers.IntegerField()
    sku = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=["created", "updated", "failed"])
    id = serializers.IntegerField(allow_null=True)
    error = serializers.DictField(allow_null=True, help_text="{code, message, details} when failed.")


class ProductBulkOutput(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BulkItemResult(many=True)


# -- locations -----------------------------------------------------------------------


class LocationOutput(serializers.ModelSerializer):
    class Meta:
        model = Location
        fields = [
            "id", "nickname", "name", "contact_name", "phone", "email", "line1", "line2", "city", "state", "postcode",
            "country", "is_default", "is_active", "created_at", "updated_at",
        ]  # fmt: skip


class LocationInput(StrictInputMixin, serializers.ModelSerializer):
    is_default = serializers.BooleanField(required=False, help_text="Make this the merchant's default location.")
    country = serializers.RegexField(r"^[A-Z]{2}$", required=False, help_text="ISO 3166-1 alpha-2.")

    class Meta:
        model = Location
        fields = [
            "nickname", "name", "contact_name", "phone", "email", "line1", "line2", "city", "state", "postcode",
            "country", "is_default", "is_active",
        ]  # fmt: skip


# -- inventory -----------------------------------------------------------------------


class StockLevelOutput(serializers.ModelSerializer):
    class Meta:
        model = StockLevel
        fields = [
            "id", "sku", "product", "location", "on_hand", "reserved", "available", "low_stock_threshold", "updated_at",
        ]  # fmt: skip


class InventoryLocationOutput(serializers.Serializer):
    location = serializers.IntegerField()
    nickname = serializers.CharField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
    low_stock_threshold = serializers.IntegerField()


class InventoryOutput(serializers.Serializer):
    sku = serializers.CharField()
    product = serializers.IntegerField()
    total_on_hand = serializers.IntegerField()
    total_reserved = serializers.IntegerField()
    total_available = serializers.IntegerField()
    locations = InventoryLocationOutput(many=True)


class StockAdjustInput(StrictInputMixin, serializers.Serializer):
    location = serializers.CharField(help_text="Location id or nickname.")
    action = serializers.ChoiceField(choices=["add", "remove", "set"])
    quantity = serializers.IntegerField(min_value=0, max_value=10_000_000)
    reason = serializers.CharField(max_length=255)
    expected_on_hand = serializers.IntegerField(
        required=False, min_value=0, help_text="Apply only if on_hand still equals this (else 409 stock_conflict)."
    )
    low_stock_threshold = serializers.IntegerField(required=False, min_value=0, max_value=10_000_000)


class StockMovementOutput(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")
    location_nickname = serializers.CharField(source="location.nickname")
    kind = serializers.ChoiceField(choices=MovementKind.choices)

    class Meta:
        model = StockMovement
        fields = [
            "id", "sku", "product", "location", "location_nickname", "kind", "quantity", "on_hand_after",
            "reserved_after", "reason", "reference", "actor", "created_at",
        ]  # fmt: skip

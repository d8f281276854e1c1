from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from orders import validation as v
from orders.models import (
    BulkImport,
    Channel,
    ChannelKind,
    ChannelPush,
    ChannelWebhookDelivery,
    Customer,
    ErrorPolicy,
    ImportKind,
    ImportPreset,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    PaymentEvent,
    Return,
    SkuMapping,
)
from orders.services.channel_webhooks import ORDER_TOPICS
from orders.services.channels import CREDENTIAL_FIELDS
from shopops.api.exceptions import PayloadTooLarge
from shopops.api.fields import api_field
from shopops.api.serializers import StrictInputMixin

BULK_MAX_ORDERS = 100
MAX_LINES = v.MAX_LINES
EWAY_BILL_HELP = (
    "The consignment's e-way bill number: 12 digits. Needed when the order's total is over "
    "EWAY_BILL_THRESHOLD (50,000 rupees by default): booking without it answers a warning."
)


# -- channels and customers ----------------------------------------------------------


CHANNEL_CREDENTIALS_HELP = "; ".join(f"{kind}: {', '.join(fields)}" for kind, fields in CREDENTIAL_FIELDS.items())


class ChannelOutput(serializers.ModelSerializer):
    credentials_set = serializers.SerializerMethodField(
        help_text="The names of the credentials stored (never their values: they are not shown again)."
    )
    webhook_url = serializers.SerializerMethodField(
        help_text="Shopify and WooCommerce: give this address to the store for its order webhooks; null otherwise."
    )

    class Meta:
        model = Channel
        fields = ["id", "channel_id", "name", "kind", "is_active", "is_default_api", "store_url", "marketplace_id",
                  "credentials_set", "webhook_url", "connection_status", "status_message", "failing_since",
                  "sync_cursor", "last_synced_at", "pickup_location", "payment_mapping", "options", "created_at",
                  "updated_at"]  # fmt: skip

    def get_credentials_set(self, channel) -> list[str]:
        return sorted(channel.credentials)

    def get_webhook_url(self, channel) -> str | None:
        if channel.kind not in ORDER_TOPICS:
            return None
        path = reverse("channel-webhook", args=[channel.webhook_id])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class ChannelInput(StrictInputMixin, serializers.Serializer):
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=ChannelKind.choices, default=ChannelKind.CUSTOM)
    is_active = serializers.BooleanField(default=True)
    store_url = serializers.URLField(max_length=200, required=False, allow_blank=True,
                                     help_text="The store's address: https://acme.myshopify.com, the WordPress "
                                               "site, Magento's base URL.")  # fmt: skip
    marketplace_id = serializers.CharField(max_length=20, required=False, allow_blank=True,
                                           help_text="Amazon's marketplace id (A21TJRUUN4KGV: Amazon.in).")  # fmt: skip
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=2000), required=False,
        write_only=True, help_text=f"Write-only, stored encrypted, never shown again. {CHANNEL_CREDENTIALS_HELP}. "
                                   "A credential left out or blank keeps the stored one.",
    )  # fmt: skip
    pickup_location = serializers.CharField(required=False, allow_null=True, allow_blank=True,
                                            help_text="Location id or nickname the channel's orders ship from; "
                                                      "null: the default location.")  # fmt: skip
    options = serializers.DictField(
        required=False, allow_null=True,
        help_text="Write-back settings, merged (null removes one): Shopify `location_id` (where stock is set), "
                  "WooCommerce `shipped_status` (`completed`, the default, or `processing`), Magento `source_code` "
                  "(`default` when unset), Amazon `seller_id` (the Merchant Token, for listing quantities).",
    )  # fmt: skip
    payment_mapping = serializers.DictField(
        child=serializers.ChoiceField(choices=["prepaid", "cod"]), required=False,
        help_text='Payment gateway or method names and what they mean, e.g. {"Cash on Delivery (COD)": "cod"}.',
    )  # fmt: skip


class SkuMappingOutput(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", help_text="The merchant's catalog SKU.")

    class Meta:
        model = SkuMapping
        fields = ["id", "channel", "channel_sku", "product", "sku", "created_at", "updated_at"]


class SkuMappingInput(StrictInputMixin, serializers.Serializer):
    channel = serializers.CharField(help_text="The channel's id, channel_id or name.")
    channel_sku = serializers.CharField(max_length=100, help_text="The SKU (or variant id) the channel sends.")
    sku = serializers.CharField(max_length=64, help_text="The merchant's catalog SKU it is.")


class SkuMappingBulkInput(StrictInputMixin, serializers.Serializer):
    mappings = SkuMappingInput(many=True, allow_empty=False, max_length=100)


class ChannelPushOutput(serializers.ModelSerializer):
    class Meta:
        model = ChannelPush
        fields = ["id", "kind", "order", "mapping", "data", "status", "attempts", "next_attempt_at", "last_error",
                  "sent_at", "created_at", "updated_at"]  # fmt: skip


class ChannelWebhookDeliveryOutput(serializers.ModelSerializer):
    class Meta:
        model = ChannelWebhookDelivery
        fields = ["id", "delivery_id", "topic", "status", "order", "result", "error", "attempts", "received_at",
                  "processed_at"]  # fmt: skip


class CustomerOutput(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "email", "phone", "orders_count", "total_spent", "first_order_at", "last_order_at",
                  "created_at", "updated_at"]  # fmt: skip


# -- orders --------------------------------------------------------------------------


class AddressInput(StrictInputMixin, serializers.Serializer):
    name = api_field(v.ADDRESS["name"])
    phone = api_field(v.ADDRESS["phone"], required=False)
    line1 = api_field(v.ADDRESS["line1"])
    line2 = api_field(v.ADDRESS["line2"], required=False, default="")
    city = api_field(v.ADDRESS["city"])
    state = api_field(v.ADDRESS["state"], required=False, default="")
    postcode = api_field(v.ADDRESS["postcode"])
    country = api_field(v.ADDRESS["country"], default="IN", help_text="ISO 3166-1 alpha-2.")


class AddressOutput(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()
    line1 = serializers.CharField()
    line2 = serializers.CharField()
    city = serializers.CharField()
    state = serializers.CharField()
    postcode = serializers.CharField()
    country = serializers.CharField()


class CustomerInput(StrictInputMixin, serializers.Serializer):
    name = api_field(v.CUSTOMER["name"], required=False)
    email = api_field(v.CUSTOMER["email"], required=False)
    phone = api_field(v.CUSTOMER["phone"], required=False)


class OrderLineInput(StrictInputMixin, serializers.Serializer):
    sku = api_field(v.LINE["sku"])
    name = api_field(v.LINE["name"], required=False, help_text="Defaults to the product's title.")
    quantity = api_field(v.LINE["quantity"])
    unit_price = api_field(v.LINE["unit_price"], help_text="Selling price per unit, GST included.")
    discount = api_field(v.LINE["discount"], required=False, help_text="Discount on the whole line.")
    tax_rate = api_field(v.LINE["tax_rate"], required=False, help_text="GST %; defaults to the product's.")
    hsn_code = api_field(v.LINE["hsn_code"], required=False)
    uqc = api_field(v.LINE["uqc"], required=False, help_text="GST unit quantity code; defaults to the product's (NOS).")


class OrderInput(StrictInputMixin, serializers.Serializer):
    channel = api_field(v.ORDER["channel"], required=False,
                        help_text="channel_id, id or name; the default API channel if omitted.")  # fmt: skip
    channel_order_id = api_field(v.ORDER["channel_order_id"], required=False,
                                 help_text="Unique per channel; the order number if omitted.")  # fmt: skip
    payment_method = api_field(v.ORDER["payment_method"])
    payment_status = api_field(v.ORDER["payment_status"], required=False)
    customer = CustomerInput(required=False, help_text="Defaults to the shipping name and phone.")
    shipping_address = AddressInput()
    billing_address = AddressInput(required=False, help_text="Defaults to the shipping address.")
    lines = OrderLineInput(many=True, allow_empty=False, max_length=MAX_LINES)
    shipping_charge = api_field(v.ORDER["shipping_charge"], required=False, help_text="GST included.")
    cod_charge = api_field(v.ORDER["cod_charge"], required=False,
                           help_text="The cash-on-delivery fee charged to the buyer, GST included.")  # fmt: skip
    total = api_field(v.ORDER["total"], required=False, help_text="If given, must equal the computed total (else 400).")
    currency = api_field(v.ORDER["currency"], required=False)
    weight_grams = api_field(v.ORDER["weight_grams"], required=False,
                             help_text="0 or omitted: the sum of the products' weights.")  # fmt: skip
    length_cm = api_field(v.ORDER["length_cm"], required=False)
    breadth_cm = api_field(v.ORDER["breadth_cm"], required=False)
    height_cm = api_field(v.ORDER["height_cm"], required=False)
    pickup_location = api_field(v.ORDER["pickup_location"], required=False,
                                help_text="Location id or nickname; the default one.")  # fmt: skip
    ordered_at = api_field(v.ORDER["ordered_at"], required=False)
    notes = api_field(v.ORDER["notes"], required=False)
    eway_bill_number = api_field(v.ORDER["eway_bill_number"], required=False, help_text=EWAY_BILL_HELP)


class OrderUpdateInput(StrictInputMixin, serializers.Serializer):
    shipping_address = AddressInput(required=False)
    billing_address = AddressInput(required=False)
    notes = api_field(v.ORDER["notes"], required=False)
    weight_grams = api_field(v.ORDER["weight_grams"], required=False,
                             help_text="0 or omitted: the sum of the products' weights.")  # fmt: skip
    length_cm = api_field(v.ORDER["length_cm"], required=False)
    breadth_cm = api_field(v.ORDER["breadth_cm"], required=False)
    height_cm = api_field(v.ORDER["height_cm"], required=False)
    pickup_location = api_field(v.ORDER["pickup_location"], required=False, help_text="Only while the order is new.")
    payment_method = api_field(v.ORDER["payment_method"], required=False, help_text="Only while the order is new.")
    payment_status = api_field(v.ORDER["payment_status"], required=False)
    eway_bill_number = api_field(v.ORDER["eway_bill_number"], required=False,
                                 help_text=f"{EWAY_BILL_HELP} Blank clears it.")  # fmt: skip


class OrderLineOutput(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["id", "sku", "product", "name", "quantity", "unit_price", "discount", "tax_rate", "tax_amount",
                  "hsn_code", "uqc", "total", "returned_quantity"]  # fmt: skip


class OrderCustomerOutput(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "email", "phone"]


ADDRESS_KEYS = ("name", "phone", "line1", "line2", "city", "state", "postcode", "country")
ORDER_MONEY = ("subtotal", "discount_total", "shipping_charge", "cod_charge", "charges_tax_rate", "shipping_tax",
               "cod_tax", "tax_total", "total")  # fmt: skip
ORDER_TIMES = ("ordered_at", "confirmed_at", "packed_at", "shipped_at", "delivered_at", "cancelled_at", "created_at",
               "updated_at")  # fmt: skip
LINE_MONEY = ("unit_price", "discount", "tax_rate", "tax_amount", "total")


def _decimal(value) -> str:
    return format(value, "f")


class OrderOutput(serializers.ModelSerializer):
    """An order with its lines.

    The API reads orders as plain rows (``orders.selectors.order_rows``) and
    shapes them here by hand: order lists are the busiest endpoint, and model
    instances plus DRF's generic path cost about 1 ms per order. The declared
    fields define the schema, and a model instance still takes the generic
    path; tests/orders/test_output.py checks that both give the same JSON.
    """

    channel = serializers.CharField(source="channel.channel_id")
    customer = OrderCustomerOutput()
    shipping_address = AddressOutput()
    billing_address = AddressOutput()
    lines = OrderLineOutput(many=True)

    def to_representation(self, instance):
        if not isinstance(instance, dict):
            return super().to_representation(instance)
        row, datetime_field = instance, serializers.DateTimeField()
        data = {
            "id": row["id"], "number": row["number"], "channel": row["channel__channel_id"],
            "channel_order_id": row["channel_order_id"], "status": row["status"],
            "payment_method": row["payment_method"], "payment_status": row["payment_status"],
            "customer": {"id": row["customer_id"], "name": row["customer__name"], "email": row["customer__email"],
                         "phone": row["customer__phone"]},
            "is_returning_customer": row["is_returning_customer"],
            "shipping_address": {key: row["shipping_address"].get(key, "") for key in ADDRESS_KEYS},
            "billing_address": {key: row["billing_address"].get(key, "") for key in ADDRESS_KEYS},
            "lines": [
                {"id": ln["id"], "sku": ln["sku"], "product": ln["product_id"], "name": ln["name"],
                 "quantity": ln["quantity"], **{key: _decimal(ln[key]) for key in LINE_MONEY},
                 "hsn_code": ln["hsn_code"], "uqc": ln["uqc"], "returned_quantity": ln["returned_quantity"]}
                for ln in row["lines"]
            ],
            **{key: _decimal(row[key]) for key in ORDER_MONEY},
            "lut_reference": row["lut_reference"], "currency": row["currency"], "weight_grams": row["weight_grams"],
            "length_cm": _decimal(row["length_cm"]), "breadth_cm": _decimal(row["breadth_cm"]),
            "height_cm": _decimal(row["height_cm"]), "pickup_location": row["pickup_location_id"],
            "notes": row["notes"], "cancel_reason": row["cancel_reason"], "awb": row["awb"], "courier": row["courier"],
            "eway_bill_number": row["eway_bill_number"],
            **{key: datetime_field.to_representation(row[key]) for key in ORDER_TIMES},
        }  # fmt: skip
        return {name: data[name] for name in self.Meta.fields}

    class Meta:
        model = Order
        fields = [
            "id", "number", "channel", "channel_order_id", "status", "payment_method", "payment_status", "customer",
            "is_returning_customer", "shipping_address", "billing_address", "lines", "subtotal", "discount_total",
            "shipping_charge", "cod_charge", "charges_tax_rate", "shipping_tax", "cod_tax", "tax_total",
            "lut_reference", "total", "currency", "weight_grams", "length_cm", "breadth_cm", "height_cm",
            "pickup_location", "notes", "ordered_at", "confirmed_at", "packed_at", "shipped_at", "delivered_at",
            "cancelled_at", "cancel_reason", "awb", "courier", "eway_bill_number", "created_at", "updated_at",
        ]  # fmt: skip


class CancelInput(StrictInputMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class LineQuantityInput(StrictInputMixin, serializers.Serializer):
    line_id = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)


class ReturnCreateInput(StrictInputMixin, serializers.Serializer):
    lines = LineQuantityInput(many=True, allow_empty=False, max_length=MAX_LINES)
    reason = serializers.CharField(max_length=255)
    location = serializers.CharField(required=False, help_text="Where to restock; the pickup location by default.")


class AddInventoryLineInput(LineQuantityInput):
    location = serializers.CharField(required=False, help_text="Location id or nickname; the pickup location.")


class AddInventoryInput(StrictInputMixin, serializers.Serializer):
    lines = AddInventoryLineInput(many=True, allow_empty=False, max_length=MAX_LINES)


class MapLineInput(StrictInputMixin, serializers.Serializer):
    line_id = serializers.IntegerField()
    sku = serializers.CharField(max_length=64, help_text="The catalog SKU the line is for.")


class MapLinesInput(StrictInputMixin, serializers.Serializer):
    lines = MapLineInput(many=True, allow_empty=False, max_length=MAX_LINES)


class OrderBulkInput(StrictInputMixin, serializers.Serializer):
    orders = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=BULK_MAX_ORDERS)


class BulkCancelInput(StrictInputMixin, serializers.Serializer):
    order_ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=BULK_MAX_ORDERS)
    reason = serializers.CharField(max_length=255)


class OrderBulkItemResult(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "cancelled", "failed"])
    id = serializers.IntegerField(allow_null=True)
    number = serializers.CharField(allow_null=True)
    error = serializers.DictField(allow_null=True)


class OrderBulkOutput(serializers.Serializer):
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = OrderBulkItemResult(many=True)


class OrderEventOutput(serializers.ModelSerializer):
    kind = serializers.CharField(max_length=30)  # its value (OrderEventKind), a string in the schema as ever

    class Meta:
        model = OrderEvent
        fields = ["id", "kind", "from_status", "to_status", "actor", "message", "data", "created_at"]


# -- returns -------------------------------------------------------------------------


class ReturnLineOutput(serializers.Serializer):
    line_id = serializers.IntegerField(source="order_line_id")
    sku = serializers.CharField(source="order_line.sku")
    quantity = serializers.IntegerField()


class ReturnOutput(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number")
    lines = ReturnLineOutput(many=True)

    class Meta:
        model = Return
        fields = ["id", "number", "order", "order_number", "status", "reason", "location", "refund_amount", "lines",
                  "received_at", "created_at", "updated_at"]  # fmt: skip


# -- file imports ----------------------------------------------------------------------


class ImportInput(StrictInputMixin, serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV (UTF-8, with or without BOM) or XLSX (first sheet); header on the first line. "
        "At most API_MAX_UPLOAD_BYTES (50 MiB by default)."
    )
    kind = serializers.ChoiceField(
        choices=ImportKind.choices,
        help_text="What the file holds. Needs orders:write for orders, catalog:write for products, "
        "inventory:write for inventory.",
    )
    dry_run = serializers.BooleanField(default=False, help_text="Check every row and write nothing.")
    error_policy = serializers.ChoiceField(
        choices=ErrorPolicy.choices,
        default=ErrorPolicy.REJECT_FILE,
        help_text="reject_file: if any row has an error, nothing is written. "
        "skip_failed_rows: the good rows are written and the others reported.",
    )
    preset = serializers.ChoiceField(
        choices=ImportPreset.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="The layout of an orders file: shopops (the orders export's columns), or a channel's own order "
        "export: shopify, woocommerce, amazon (tab-separated report), opencart. Blank: detected from the header.",
    )
    create_channels = serializers.BooleanField(
        default=False,
        help_text="Create the channels the file names that the merchant lacks (the preset's kind, else custom), "
        "instead of refusing their rows as an unknown channel.",
    )

    def validate(self, attrs):
        if attrs.get("preset") not in ("", ImportPreset.SHOPOPS) and attrs.get("kind") != ImportKind.ORDERS:
            raise serializers.ValidationError({"preset": ["A channel's preset reads orders files only."]})
        return attrs

    def validate_file(self, upload):
        from orders.imports.parse import import_file_problem

        if upload.size > settings.API_MAX_UPLOAD_BYTES:
            raise PayloadTooLarge(settings.API_MAX_UPLOAD_BYTES)
        problem = import_file_problem(upload)
        if problem:
            raise serializers.ValidationError(problem)
        return upload


class ImportOutput(serializers.ModelSerializer):
    errors_url = serializers.SerializerMethodField(
        help_text="The error report (CSV: row, column, value, message); null when no row has an error."
    )
    preset = serializers.ChoiceField(
        choices=ImportPreset.choices, allow_blank=True, read_only=True,
        help_text="The layout the orders file is read in: the one chosen, else the one detected from its header once "
        "the job runs (blank until then, and for products and inventory).",
    )  # fmt: skip
    created_channels = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="The names of the channels the import created (create_channels).",
    )  # fmt: skip

    class Meta:
        model = BulkImport
        fields = ["id", "kind", "status", "file_name", "dry_run", "error_policy", "preset", "create_channels",
                  "created_channels", "total_rows", "processed_rows", "created_count", "updated_count", "skipped_count",
                  "failed_count", "errors_url", "error", "started_at", "finished_at", "created_at"]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {"error": {"help_text": "Why the job failed as a whole."}}

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_errors_url(self, job: BulkImport) -> str | None:
        if not job.failed_count:  # every recorded row error counts its row as failed
            return None
        return reverse("import-errors", kwargs={"pk": job.pk}, request=self.context.get("request"))


# -- payments --------------------------------------------------------------------------


class PaymentEventOutput(serializers.ModelSerializer):
    class Meta:
        model = PaymentEvent
        fields = ["id", "event_id", "event_type", "outcome", "received_at"]


class PaymentOutput(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number", default=None, read_only=True)

    class Meta:
        model = Payment
        fields = ["id", "gateway", "connection", "payment_id", "gateway_order_id", "reference", "order",
                  "order_number", "method", "amount", "amount_refunded", "currency", "status", "last_event_at",
                  "created_at", "updated_at"]  # fmt: skip


class PaymentDetailOutput(PaymentOutput):
    events = PaymentEventOutput(many=True, read_only=True)

    class Meta(PaymentOutput.Meta):
        fields = [*PaymentOutput.Meta.fields, "events"]

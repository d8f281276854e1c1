"""Orders: channels, customers, orders and their lines, the event timeline, returns."""

import secrets

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils import timezone

from catalog.models import UQC, Location, Product
from shopops.crypto import EncryptedJSONField
from shopops.jobs import Job
from shopops.models import Merchant
from shopops.storage import PrivateStorage
from shopops.transitions import declare
from shopops.validation import money_field, validate_eway_bill_number


class ChannelKind(models.TextChoices):
    MANUAL = "manual", "Manual"
    API = "api", "API"
    CUSTOM = "custom", "Custom"
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    MAGENTO = "magento", "Magento"
    OPENCART = "opencart", "OpenCart"
    AMAZON = "amazon", "Amazon"


class ConnectionStatus(models.TextChoices):
    NOT_CONNECTED = "not_connected", "Not connected"
    UNVERIFIED = "unverified", "Not checked yet"
    CONNECTED = "connected", "Connected"
    FAILING = "failing", "Failing"
    PAUSED = "paused", "Paused"


#: The kinds whose channel is a live connection (webhooks in, pulls, write-back).
CONNECTED_KINDS = (ChannelKind.SHOPIFY, ChannelKind.WOOCOMMERCE, ChannelKind.MAGENTO, ChannelKind.AMAZON)


def new_channel_webhook_id() -> str:
    """The unguessable part of a channel's webhook address."""
    return secrets.token_hex(16)


class Channel(models.Model):
    """Where orders come from. ``channel_id`` is public and unique across ShopOps.

    A channel of a store (Shopify, WooCommerce, Magento, Amazon) is also a connection: its credentials (encrypted at
    rest, never shown again), its webhook address and secrets, how the connection fares, the cursor of its pulls,
    where its orders ship from and how its payment methods map to prepaid or cash on delivery."""

    # db_index=False: the unique (merchant, name) serves lookups by merchant
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="channels", db_index=False, verbose_name="merchant"
    )
    channel_id = models.CharField(
        "channel ID",
        max_length=32,
        unique=True,
        editable=False,
        help_text="Public identifier of the channel, unique across ShopOps.",
    )
    name = models.CharField("name", max_length=120)
    kind = models.CharField("kind", max_length=12, choices=ChannelKind.choices, default=ChannelKind.CUSTOM)
    is_active = models.BooleanField("active", default=True)
    is_default_api = models.BooleanField(
        "default for API orders", default=False, help_text="Orders created through the API without a channel go here."
    )
    store_url = models.URLField("store URL", blank=True,
                                help_text="The store's address: https://acme.myshopify.com, the WordPress site, "
                                          "Magento's base URL.")  # fmt: skip
    marketplace_id = models.CharField("marketplace ID", max_length=20, blank=True,
                                      help_text="Amazon's marketplace id, e.g. A21TJRUUN4KGV (Amazon.in).")  # fmt: skip
    credentials = EncryptedJSONField("credentials", blank=True, help_text="Encrypted; never shown again after saving.")
    webhook_id = models.CharField("webhook ID", max_length=32, unique=True, default=new_channel_webhook_id,
                                  editable=False,
                                  help_text="The unguessable part of this channel's webhook address.")  # fmt: skip
    connection_status = models.CharField("connection status", max_length=14, choices=ConnectionStatus.choices,
                                         default=ConnectionStatus.NOT_CONNECTED)  # fmt: skip
    status_message = models.CharField(
        "status message",
        max_length=500,
        blank=True,
        help_text="What the store said when the connection was last checked or used.",
    )
    failing_since = models.DateTimeField(
        "failing since", null=True, blank=True, help_text="When calls to the store started failing."
    )
    sync_cursor = models.CharField("sync cursor", max_length=200, blank=True, help_text="Where the next pull starts.")
    last_synced_at = models.DateTimeField("last synced", null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField("consecutive failures", default=0,
                                                       help_text="Transient failures in a row of calls to the "
                                                                 "store.")  # fmt: skip
    circuit_open_until = models.DateTimeField(
        "circuit open until", null=True, blank=True, help_text="Calls to the store wait until then."
    )
    pickup_location = models.ForeignKey(Location, on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+", verbose_name="pickup location",
                                        help_text="Where this channel's orders ship from; blank: "
                                                  "the default location.")  # fmt: skip
    options = models.JSONField("options", default=dict, blank=True,
                               help_text="Write-back settings: Shopify's location_id (stock), WooCommerce's "
                                         "shipped_status (completed, processing), Magento's source_code, Amazon's "
                                         "seller_id (listing quantities).")  # fmt: skip
    payment_mapping = models.JSONField("payment mapping", default=dict, blank=True,
                                       help_text='Payment gateway or method names and what they mean, e.g. '
                                                 '{"Cash on Delivery (COD)": "cod", "Razorpay": "prepaid"}; '
                                                 "the channel's own names are known already.")  # fmt: skip
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="channel_unique_name"),
            models.CheckConstraint(
                condition=Q(connection_status__in=ConnectionStatus.values), name="channel_connection_status_valid"
            ),  # fmt: skip
            models.UniqueConstraint(
                fields=["merchant"], condition=Q(is_default_api=True), name="channel_one_default_api"
            ),
            models.CheckConstraint(condition=Q(kind__in=ChannelKind.values), name="channel_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class ChannelHttpLog(models.Model):
    """One HTTP exchange with a store (a connection test, a pull), for support: what was asked, what came back, how
    long it took. Bodies are stored redacted (credentials, tokens and secrets replaced) and cut to a few kilobytes."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="http_logs", verbose_name="channel")
    operation = models.CharField("operation", max_length=40, help_text="What ShopOps was doing, e.g. check, pull.")
    method = models.CharField("method", max_length=8)
    url = models.CharField("URL", max_length=500, help_text="Host and path, with secret query values redacted.")
    attempt = models.PositiveSmallIntegerField("attempt", default=1)
    status_code = models.PositiveSmallIntegerField("status code", null=True, blank=True, help_text="Blank: no answer.")
    duration_ms = models.PositiveIntegerField("duration (ms)", default=0)
    error = models.CharField(
        "error", max_length=300, blank=True, help_text="Timeout, refused connection, refused address."
    )
    request_body = models.TextField("request body", blank=True)
    response_body = models.TextField("response body", blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "channel HTTP log"
        verbose_name_plural = "channel HTTP logs"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "created_at"], name="channelhttplog_merchant"),
            models.Index(fields=["channel", "created_at"], name="channelhttplog_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.url} -> {self.status_code or self.error}"


class SkuMapping(models.Model):
    """A channel's SKU for one of the merchant's products: a channel's order line with ``channel_sku`` is a line of
    ``product``. A channel SKU without a mapping that is also a catalog SKU needs none."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name="merchant"
    )
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="sku_mappings", verbose_name="channel")
    channel_sku = models.CharField(
        "channel SKU", max_length=100, help_text="The SKU (or variant id) the channel sends."
    )
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="channel_skus", verbose_name="product")
    pushed_quantity = models.IntegerField("pushed quantity", null=True, blank=True, editable=False,
                                          help_text="The available quantity last sent to the store.")  # fmt: skip
    pushed_at = models.DateTimeField("pushed", null=True, blank=True, editable=False)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        verbose_name = "SKU mapping"
        verbose_name_plural = "SKU mappings"
        ordering = ["channel_id", "channel_sku"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "channel_sku"], name="skumapping_unique_channel_sku"),
        ]
        indexes = [models.Index(fields=["merchant", "product"], name="skumapping_merchant_product")]

    def __str__(self) -> str:
        return f"channel SKU {self.channel_sku} -> product {self.product_id}"


class ChannelWebhookDelivery(models.Model):
    """A channel's webhook request, stored as received (its signature verified first) and processed by a worker:
    the inbox. ``delivery_id`` is the channel's own delivery id (Shopify's X-Shopify-Webhook-Id) or what makes an
    event unique (WooCommerce: webhook, order and modification time), so a repeated delivery is stored once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="webhook_deliveries", verbose_name="channel"
    )
    delivery_id = models.CharField(
        "delivery ID", max_length=200, help_text="The channel's delivery ID, or what makes the event unique."
    )
    topic = models.CharField("topic", max_length=60, blank=True, help_text="orders/create, order.updated...")
    body = models.TextField("body", help_text="The request body as received.")
    status = models.CharField("status", max_length=10, choices=Status.choices, default=Status.PENDING)
    order = models.ForeignKey(
        "Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="order"
    )
    result = models.CharField("result", max_length=500, blank=True, help_text="What processing did, in a sentence.")
    error = models.JSONField(
        "error", default=dict, blank=True, help_text="Why the order could not be taken in, by field."
    )
    attempts = models.PositiveSmallIntegerField("attempts", default=0)
    received_at = models.DateTimeField("received", auto_now_add=True)
    queued_at = models.DateTimeField("queued", auto_now_add=True, help_text="When it was last handed to a worker.")
    processed_at = models.DateTimeField("processed", null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "channel webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["channel", "delivery_id"], name="channelwebhook_unique_delivery"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "processed", "ignored", "failed"]),
                name="channelwebhook_status_valid",
            ),  # fmt: skip
        ]
        indexes = [models.Index(fields=["status", "received_at"], name="channelwebhook_status")]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.delivery_id}"


#: A stored webhook is processed once (an order taken in or updated), ignored (nothing to take in), or fails (the
#: payload is not an order the writer accepts) and may be processed again.
CHANNEL_WEBHOOK_STATES = declare(ChannelWebhookDelivery, {
    ChannelWebhookDelivery.Status.PENDING: {ChannelWebhookDelivery.Status.PROCESSED,
                                            ChannelWebhookDelivery.Status.IGNORED,
                                            ChannelWebhookDelivery.Status.FAILED},
    ChannelWebhookDelivery.Status.FAILED: {ChannelWebhookDelivery.Status.PENDING},
    ChannelWebhookDelivery.Status.PROCESSED: set(),
    ChannelWebhookDelivery.Status.IGNORED: set(),
})  # fmt: skip


class ChannelPush(models.Model):
    """A write-back to a store (the outbox): ShopOps tells the channel a shipment's AWB and tracking (``fulfilment``,
    written in the same transaction as the AWB) or a mapped SKU's available stock (``stock``). A worker sends it,
    step by step (``known``: what the store's answers taught, so a retry does not repeat a step that took), with
    retries and backoff; ``failed`` when the store refuses for good or the retries run out."""

    class Kind(models.TextChoices):
        FULFILMENT = "fulfilment", "Fulfilment and tracking"
        STOCK = "stock", "Stock level"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="pushes", verbose_name="channel")
    kind = models.CharField("kind", max_length=12, choices=Kind.choices)
    order = models.ForeignKey(
        "Order", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name="order"
    )
    mapping = models.ForeignKey(
        SkuMapping, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="SKU mapping"
    )
    key = models.CharField(
        "key", max_length=120, help_text="fulfilment:<order>:<awb> or stock:<mapping>; one pending each."
    )
    data = models.JSONField("data", default=dict, help_text="What to tell the store.")
    known = models.JSONField(
        "known", default=dict, blank=True, help_text="What the store's answers taught (ids, steps done)."
    )
    status = models.CharField("status", max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField("attempts", default=0)
    next_attempt_at = models.DateTimeField("next attempt", default=timezone.now)
    last_error = models.CharField("last error", max_length=500, blank=True)
    sent_at = models.DateTimeField("sent", null=True, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        verbose_name = "channel push"
        verbose_name_plural = "channel pushes"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "key"], condition=Q(status="pending"), name="channelpush_one_pending_per_key"
            ),  # fmt: skip
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sent", "failed"]), name="channelpush_status_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=["fulfilment", "stock"]), name="channelpush_kind_valid"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="channelpush_due")]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.key}"


#: A push is sent once; a failed one may be sent again (its cause fixed); a pending one's stock figure is replaced by
#: a newer one in place.
CHANNEL_PUSH_STATES = declare(ChannelPush, {
    ChannelPush.Status.PENDING: {ChannelPush.Status.SENT, ChannelPush.Status.FAILED},
    ChannelPush.Status.FAILED: {ChannelPush.Status.PENDING},
    ChannelPush.Status.SENT: set(),
})  # fmt: skip


class Customer(models.Model):
    """A buyer, matched per merchant by E.164 phone, else by email. Counters kept by the order services."""

    # db_index=False: the (merchant, last_order_at, id) index serves lookups by merchant
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="customers", db_index=False, verbose_name="merchant"
    )
    name = models.CharField("name", max_length=200)
    email = models.EmailField("email", blank=True)
    phone = models.CharField("phone", max_length=20, blank=True, help_text="E.164.")
    orders_count = models.PositiveIntegerField("number of orders", default=0)
    total_spent = money_field(default=0, verbose_name="total spent")
    first_order_at = models.DateTimeField("first order", null=True, blank=True)
    last_order_at = models.DateTimeField("last order", null=True, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "phone"], condition=~Q(phone=""), name="customer_unique_phone"),
            models.UniqueConstraint(fields=["merchant", "email"], condition=~Q(email=""), name="customer_unique_email"),
        ]
        indexes = [
            # PostgreSQL also gets (merchant, last_order_at DESC NULLS LAST, id DESC) and, for superusers, the same
            # without the merchant: migration 0022.
            models.Index(fields=["merchant", "last_order_at", "id"], name="customer_merchant_last_order"),
        ]

    def __str__(self) -> str:
        return self.name


class OrderStatus(models.TextChoices):
    NEW = "new", "New"
    CONFIRMED = "confirmed", "Confirmed"
    PACKED = "packed", "Packed"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    RTO = "rto", "Return to origin"
    RTO_DELIVERED = "rto_delivered", "RTO delivered"
    PARTIALLY_RETURNED = "partially_returned", "Partially returned"
    RETURNED = "returned", "Returned"


#: The order state machine (DESIGN.md section 6): status -> statuses it may move to.
ORDER_TRANSITIONS: dict[str, tuple[str, ...]] = {
    OrderStatus.NEW: (OrderStatus.CONFIRMED, OrderStatus.CANCELLED),
    OrderStatus.CONFIRMED: (OrderStatus.PACKED, OrderStatus.CANCELLED),
    OrderStatus.PACKED: (OrderStatus.SHIPPED, OrderStatus.CANCELLED),
    OrderStatus.SHIPPED: (OrderStatus.DELIVERED, OrderStatus.RTO),
    OrderStatus.DELIVERED: (OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED),
    OrderStatus.PARTIALLY_RETURNED: (OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED),
    OrderStatus.RTO: (OrderStatus.RTO_DELIVERED,),
    OrderStatus.RTO_DELIVERED: (),
    OrderStatus.CANCELLED: (),
    OrderStatus.RETURNED: (),
}
#: Statuses in which the order may still be edited (PATCH).
EDITABLE_STATUSES = (OrderStatus.NEW, OrderStatus.CONFIRMED, OrderStatus.PACKED)


class PaymentMethod(models.TextChoices):
    PREPAID = "prepaid", "Prepaid"
    COD = "cod", "Cash on delivery"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"


class Order(models.Model):
    # db_index=False on merchant and channel: the indexes of Meta lead with them
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="orders", db_index=False, verbose_name="merchant"
    )
    number = models.CharField("number", max_length=32, help_text="The merchant's order number, e.g. SO-000123.")
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="orders", db_index=False, verbose_name="channel"
    )
    channel_order_id = models.CharField("channel order ID", max_length=100, help_text="The order's id on its channel.")
    status = models.CharField("status", max_length=20, choices=OrderStatus.choices, default=OrderStatus.NEW)
    payment_method = models.CharField("payment method", max_length=10, choices=PaymentMethod.choices)
    payment_status = models.CharField(
        "payment status", max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders", verbose_name="customer")
    is_returning_customer = models.BooleanField(
        "returning customer", default=False, help_text="The customer had ordered before."
    )
    shipping_address = models.JSONField(
        "shipping address", help_text="{name, phone, line1, line2, city, state, postcode, country}"
    )
    billing_address = models.JSONField(
        "billing address", help_text="{name, phone, line1, line2, city, state, postcode, country}"
    )
    subtotal = money_field(default=0, verbose_name="subtotal", help_text="The lines' totals, GST included.")
    discount_total = money_field(default=0, verbose_name="discount total")
    shipping_charge = money_field(
        default=0, help_text="GST included, taxed at charges_tax_rate.", verbose_name="shipping charge"
    )
    cod_charge = money_field(
        default=0,
        db_default=0,
        help_text="The cash-on-delivery fee charged to the buyer, GST included.",
        verbose_name="COD charge",
    )
    charges_tax_rate = models.DecimalField(
        "charges tax rate", max_digits=5, decimal_places=2, default=0, db_default=0,
        help_text="GST % of the shipping and COD charges: the principal supply's rate (orders.gst).",
    )  # fmt: skip
    shipping_tax = money_field(
        default=0, db_default=0, help_text="GST contained in shipping_charge.", verbose_name="shipping tax"
    )
    cod_tax = money_field(default=0, db_default=0, help_text="GST contained in cod_charge.", verbose_name="COD tax")
    tax_total = money_field(
        default=0, help_text="GST included in the prices: the lines' and the charges'.", verbose_name="tax total"
    )
    lut_reference = models.CharField(
        "LUT reference", max_length=50, blank=True, db_default="",
        help_text="An export zero-rated under this Letter of Undertaking: no IGST ('' otherwise).",
    )  # fmt: skip
    total = money_field(default=0, verbose_name="total")
    currency = models.CharField("currency", max_length=3, default="INR", help_text="ISO 4217 code.")
    weight_grams = models.PositiveIntegerField("weight (g)", default=0)
    length_cm = models.DecimalField("length (cm)", max_digits=7, decimal_places=1, default=0)
    breadth_cm = models.DecimalField("breadth (cm)", max_digits=7, decimal_places=1, default=0)
    height_cm = models.DecimalField("height (cm)", max_digits=7, decimal_places=1, default=0)
    pickup_location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name="pickup location",
        help_text="Where the order ships from.",
    )
    notes = models.TextField("notes", blank=True)
    ordered_at = models.DateTimeField("ordered")
    confirmed_at = models.DateTimeField("confirmed", null=True, blank=True)
    packed_at = models.DateTimeField("packed", null=True, blank=True)
    shipped_at = models.DateTimeField("shipped", null=True, blank=True)
    delivered_at = models.DateTimeField("delivered", null=True, blank=True)
    cancelled_at = models.DateTimeField("cancelled", null=True, blank=True)
    cancel_reason = models.CharField("cancellation reason", max_length=255, blank=True)
    awb = models.CharField("AWB", max_length=40, blank=True, help_text="Set by shipping.")
    courier = models.CharField("courier", max_length=40, blank=True, help_text="Courier code, set by shipping.")
    eway_bill_number = models.CharField(
        "e-way bill number", max_length=12, blank=True, validators=[validate_eway_bill_number],
        help_text="The consignment's e-way bill (12 digits): needed when the order's total is over "
                  "EWAY_BILL_THRESHOLD.",
    )  # fmt: skip
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["-ordered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "number"], name="order_unique_number"),
            models.UniqueConstraint(fields=["channel", "channel_order_id"], name="order_unique_channel_order_id"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_valid"),
            models.CheckConstraint(condition=Q(payment_method__in=PaymentMethod.values), name="order_payment_valid"),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(condition=Q(cod_charge__gte=0), name="order_cod_charge_not_negative"),
            models.CheckConstraint(
                condition=Q(eway_bill_number="") | Q(eway_bill_number__regex=r"^[0-9]{12}$"),
                name="order_eway_bill_number_12_digits",
            ),  # fmt: skip
            models.CheckConstraint(
                condition=Q(shipped_at__isnull=True) | Q(packed_at__isnull=False, packed_at__lte=F("shipped_at")),
                name="order_packed_before_shipped",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "ordered_at", "id"], name="order_merchant_ordered"),
            models.Index(fields=["ordered_at", "id"], name="order_ordered"),  # every merchant's, for superusers
            # PostgreSQL also gets (merchant, x DESC NULLS LAST, id DESC) twins: migration 0002.
            models.Index(fields=["merchant", "packed_at", "id"], name="order_merchant_packed"),
            models.Index(fields=["merchant", "shipped_at", "id"], name="order_merchant_shipped"),
            models.Index(fields=["merchant", "status", "ordered_at"], name="order_merchant_status"),
            models.Index(fields=["merchant", "updated_at", "id"], name="order_merchant_updated"),
            models.Index(fields=["merchant", "total", "id"], name="order_merchant_total"),
            models.Index(fields=["merchant", "awb"], name="order_merchant_awb"),
            models.Index(fields=["merchant", "channel_order_id"], name="order_merchant_channel_ref"),
            # The "Pickups" working tab (booked, not yet picked up): few rows, which the planner cannot guess from
            # the status and AWB columns' statistics.
            models.Index(fields=["merchant", "ordered_at", "id"], name="order_awaiting_pickup",
                         condition=Q(status__in=[OrderStatus.CONFIRMED, OrderStatus.PACKED]) & ~Q(awb="")),
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    # db_index=False: the (merchant, sku) index serves lookups by merchant
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name="merchant"
    )
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name="order")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name="product",
                                help_text="Null while the SKU is not mapped to a product.")  # fmt: skip
    sku = models.CharField("SKU", max_length=64)
    name = models.CharField("name", max_length=255)
    quantity = models.PositiveIntegerField("quantity")
    unit_price = money_field(help_text="Selling price per unit, GST included.", verbose_name="unit price")
    discount = money_field(default=0, help_text="Discount on the whole line.", verbose_name="discount")
    tax_rate = models.DecimalField(
        "tax rate", max_digits=5, decimal_places=2, default=0, help_text="GST rate in percent."
    )
    tax_amount = money_field(default=0, help_text="GST contained in the line total.", verbose_name="tax amount")
    hsn_code = models.CharField("HSN code", max_length=8, blank=True)
    uqc = models.CharField("UQC", max_length=3, choices=UQC.choices, default=UQC.NOS, db_default=UQC.NOS,
                           help_text="Unit quantity code, from the product.")  # fmt: skip
    total = money_field(help_text="quantity x unit_price - discount.", verbose_name="total")
    returned_quantity = models.PositiveIntegerField("returned quantity", default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderline_quantity_positive"),
            models.CheckConstraint(condition=Q(returned_quantity__lte=F("quantity")), name="orderline_returned_le_qty"),
            models.CheckConstraint(condition=Q(total__gte=0), name="orderline_total_not_negative"),
            models.CheckConstraint(condition=Q(uqc__in=UQC.values), name="orderline_uqc_valid"),
        ]
        indexes = [
            models.Index(fields=["merchant", "sku"], name="orderline_merchant_sku"),
            # The order search's "exact SKU, any case" (UPPER(sku) = UPPER(term)).
            models.Index(Upper("sku"), F("merchant"), name="orderline_sku_any_case"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class OrderEventKind(models.TextChoices):
    CREATED = "created", "Created"
    STATUS_CHANGED = "status_changed", "Status changed"
    UPDATED = "updated", "Updated"
    AWB_ASSIGNED = "awb_assigned", "AWB assigned"
    AWB_CLEARED = "awb_cleared", "AWB cleared"
    LINES_MAPPED = "lines_mapped", "Lines mapped"
    INVENTORY_ADDED = "inventory_added", "Inventory added"
    RETURN_REQUESTED = "return_requested", "Return requested"
    RETURN_STATUS_CHANGED = "return_status_changed", "Return status changed"
    EWAY_BILL_REQUIRED = "eway_bill_required", "E-way bill required"
    CREDIT_NOTE_ISSUED = "credit_note_issued", "Credit note issued"
    CHANNEL_UPDATE = "channel_update", "Changed by the channel"
    CHANNEL_CONFLICT = "channel_conflict", "Channel change not applied"
    PAYMENT = "payment", "Payment"


class OrderEvent(models.Model):
    """The order's timeline: creation, every status change, edits, mappings, notes, its returns' moves."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    # db_index=False: the (order, id) index serves lookups by order
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="events", db_index=False, verbose_name="order"
    )
    kind = models.CharField("kind", max_length=30, choices=OrderEventKind.choices)
    from_status = models.CharField("from status", max_length=20, blank=True)
    to_status = models.CharField("to status", max_length=20, blank=True)
    actor = models.CharField("actor", max_length=100, help_text="user:<id>, app:<client_id> or system.")
    message = models.CharField("message", max_length=500, blank=True)
    data = models.JSONField("data", default=dict, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["order", "id"], name="orderevent_order")]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status}"


def order_event(order: Order, kind: OrderEventKind, actor: str, *, from_status: str = "", to_status: str = "",
                message: str = "", data: dict | None = None) -> OrderEvent:  # fmt: skip
    """A row of ``order``'s timeline."""
    return OrderEvent.objects.create(merchant_id=order.merchant_id, order=order, kind=kind, from_status=from_status,
                                     to_status=to_status, actor=actor, message=message[:500],
                                     data=data or {})  # fmt: skip


#: The timestamp a move to each status sets.
ORDER_STAMPS = {
    OrderStatus.CONFIRMED: "confirmed_at",
    OrderStatus.PACKED: "packed_at",
    OrderStatus.SHIPPED: "shipped_at",
    OrderStatus.DELIVERED: "delivered_at",
    OrderStatus.CANCELLED: "cancelled_at",
}


def _order_stamps(order: Order, to_status: str, at) -> list[str]:
    """The move's time in the status's timestamp (confirmed_at, packed_at...), set on every move to it."""
    name = ORDER_STAMPS.get(to_status)
    if name is None:
        return []
    setattr(order, name, at)
    return [name]


def _record_order_move(order: Order, *, from_status: str, to_status: str, actor: str, message: str = "",
                       data: dict | None = None) -> None:  # fmt: skip
    """The move's ``status_changed`` event and its webhook (order.cancelled or order.updated)."""
    from orders import outbox  # the outbox reads the models

    order_event(order, OrderEventKind.STATUS_CHANGED, actor, from_status=from_status, to_status=to_status,
                message=message, data=data)  # fmt: skip
    outbox.order_emit(order, previous_status=from_status)


def record_order_edit(order: Order, *, actor: str, message: str = "", data: dict | None = None, from_status: str = "",
                      to_status: str = "") -> None:  # fmt: skip
    """An edit's ``updated`` event (``data``: {"fields": [...]}) and its webhook (order.updated naming them); the
    payment status table's record (the payment status changes by an edit)."""
    from orders import outbox  # the outbox reads the models

    order_event(order, OrderEventKind.UPDATED, actor, message=message, data=data)
    outbox.order_emit(order, changed=(data or {}).get("fields", []))


#: The order's state table: ORDER_TRANSITIONS.
ORDER_STATES = declare(Order, ORDER_TRANSITIONS, stamper=_order_stamps, record=_record_order_move,
                       noun=lambda order: f"Order {order.number}")  # fmt: skip
#: The payment status is the merchant's (or the channel's) word, changed by an edit (order_update): any status may
#: follow any other. The edit's event is written by the move.
PAYMENT_STATES = declare(Order, {status: tuple(PaymentStatus) for status in PaymentStatus}, field="payment_status",
                         record=record_order_edit, noun=lambda order: f"Order {order.number}")  # fmt: skip


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    PICKUP_SCHEDULED = "pickup_scheduled", "Pickup scheduled"
    IN_TRANSIT = "in_transit", "In transit"
    RECEIVED = "received", "Received"
    REFUNDED = "refunded", "Refunded"
    CLOSED = "closed", "Closed"


RETURN_TRANSITIONS: dict[str, tuple[str, ...]] = {
    ReturnStatus.REQUESTED: (ReturnStatus.APPROVED, ReturnStatus.REJECTED),
    ReturnStatus.APPROVED: (ReturnStatus.PICKUP_SCHEDULED, ReturnStatus.IN_TRANSIT, ReturnStatus.RECEIVED),
    ReturnStatus.PICKUP_SCHEDULED: (ReturnStatus.IN_TRANSIT, ReturnStatus.RECEIVED),
    ReturnStatus.IN_TRANSIT: (ReturnStatus.RECEIVED,),
    ReturnStatus.RECEIVED: (ReturnStatus.REFUNDED, ReturnStatus.CLOSED),
    ReturnStatus.REFUNDED: (ReturnStatus.CLOSED,),
    ReturnStatus.REJECTED: (ReturnStatus.CLOSED,),
    ReturnStatus.CLOSED: (),
}


class Return(models.Model):
    # db_index=False: the unique (merchant, number) serves lookups by merchant
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="returns", db_index=False, verbose_name="merchant"
    )
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns", verbose_name="order")
    number = models.CharField("number", max_length=32)
    status = models.CharField("status", max_length=20, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED)
    reason = models.CharField("reason", max_length=255)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+", verbose_name="location",
                                 help_text="Where the returned goods are restocked.")  # fmt: skip
    refund_amount = money_field(default=0, verbose_name="refund amount")
    received_at = models.DateTimeField("received", null=True, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "number"], name="return_unique_number"),
            models.CheckConstraint(condition=Q(status__in=ReturnStatus.values), name="return_status_valid"),
        ]
        indexes = [models.Index(fields=["merchant", "created_at", "id"], name="return_merchant_created")]

    def __str__(self) -> str:
        return self.number


def _record_return_move(return_request: Return, *, from_status: str, to_status: str, actor: str, message: str = "",
                        data: dict | None = None) -> None:  # fmt: skip
    """A return's move shows on its order's timeline (``return_status_changed``)."""
    order_event(return_request.order, OrderEventKind.RETURN_STATUS_CHANGED, actor, from_status=from_status,
                to_status=to_status, message=f"Return {return_request.number}: {from_status} -> {to_status}",
                data={"return": return_request.number})  # fmt: skip


#: The return's state table: RETURN_TRANSITIONS; receiving sets received_at.
RETURN_STATES = declare(Return, RETURN_TRANSITIONS, stamp_fields={ReturnStatus.RECEIVED: "received_at"},
                        record=_record_return_move, noun=lambda ret: f"Return {ret.number}")  # fmt: skip


class ReturnLine(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name="merchant")
    return_request = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines", verbose_name="return")
    order_line = models.ForeignKey(
        OrderLine, on_delete=models.PROTECT, related_name="return_lines", verbose_name="order line"
    )
    quantity = models.PositiveIntegerField("quantity")

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="returnline_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} x order line {self.order_line_id}"


class ImportKind(models.TextChoices):
    ORDERS = "orders", "Orders"
    PRODUCTS = "products", "Products"
    INVENTORY = "inventory", "Inventory"
    SKU_MAPPINGS = "sku_mappings", "SKU mappings"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    VALIDATING = "validating", "Validating"
    IMPORTING = "importing", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    PARTIALLY_FAILED = "partially_failed", "Partially failed"


class ErrorPolicy(models.TextChoices):
    REJECT_FILE = "reject_file", "Reject the file if any row fails"
    SKIP_FAILED_ROWS = "skip_failed_rows", "Import the good rows, report the others"


class ImportPreset(models.TextChoices):
    """The layout an orders file is read in: ShopOps's own (the orders export's) or a channel's order export."""

    SHOPOPS = "shopops", "ShopOps (the orders export)"
    SHOPIFY = "shopify", "Shopify orders export"
    WOOCOMMERCE = "woocommerce", "WooCommerce orders export"
    AMAZON = "amazon", "Amazon order report"
    OPENCART = "opencart", "OpenCart orders (ShopOps's columns)"


class BulkImport(Job):
    """A file import job: orders, products or inventory from CSV or XLSX, processed by a worker.

    Work is committed chunk by chunk together with ``next_row``, so a job whose
    worker died resumes where its last committed chunk ended.
    """

    # db_index=False: the (merchant, created_at, id) index serves lookups by merchant
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="imports", db_index=False, verbose_name="merchant"
    )
    kind = models.CharField("kind", max_length=12, choices=ImportKind.choices)
    file = models.FileField("file", upload_to="imports/%Y/%m/", storage=PrivateStorage())
    file_name = models.CharField("file name", max_length=255)
    checksum = models.CharField("checksum", max_length=64, help_text="SHA-256 of the file.")
    status = models.CharField("status", max_length=20, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    dry_run = models.BooleanField(
        "dry run", default=False, help_text="Check the file and report its errors without importing anything."
    )
    error_policy = models.CharField(
        "error policy", max_length=20, choices=ErrorPolicy.choices, default=ErrorPolicy.REJECT_FILE
    )
    preset = models.CharField("preset", max_length=12, choices=ImportPreset.choices, blank=True,
                              help_text="The file's layout; blank until detected from the header.")  # fmt: skip
    create_channels = models.BooleanField(
        "create channels", default=False, help_text="Create the channels the file names that are missing."
    )
    created_channels = models.JSONField(
        "created channels", default=list, blank=True, help_text="The names of the channels it created."
    )
    total_rows = models.PositiveIntegerField("total rows", default=0)
    processed_rows = models.PositiveIntegerField("processed rows", default=0)
    created_count = models.PositiveIntegerField("created count", default=0)
    updated_count = models.PositiveIntegerField("updated count", default=0)
    skipped_count = models.PositiveIntegerField(
        "skipped count", default=0, help_text="Rows of orders that already existed."
    )
    failed_count = models.PositiveIntegerField(
        "failed count", default=0, help_text="Rows not imported because of an error."
    )
    next_row = models.PositiveIntegerField(
        "next row", default=0, help_text="The first data row not yet committed (resume point)."
    )
    created_by = models.CharField("created by", max_length=100, help_text="user:<id>, app:<client_id> or system.")
    heartbeat_at = models.DateTimeField(
        "last heartbeat", null=True, blank=True, help_text="Last sign of life of the worker running it."
    )
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ImportKind.values), name="bulkimport_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=ImportStatus.values), name="bulkimport_status_valid"),
            models.CheckConstraint(condition=Q(preset__in=["", *ImportPreset.values]), name="bulkimport_preset_valid"),
        ]
        indexes = [
            models.Index(fields=["merchant", "created_at", "id"], name="bulkimport_merchant_created"),
            models.Index(fields=["queued_at"], condition=Q(status="queued"), name="bulkimport_waiting"),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.kind}, {self.status})"


#: The statuses a job ends in.
IMPORT_ENDED = (ImportStatus.DONE, ImportStatus.PARTIALLY_FAILED, ImportStatus.FAILED)


def _record_import_move(job: BulkImport, *, from_status: str, to_status: str, actor: str, message: str = "",
                        data: dict | None = None) -> None:  # fmt: skip
    """A job that ended sends import.finished."""
    from orders import outbox  # the outbox reads the models

    if to_status in IMPORT_ENDED:
        outbox.import_emit(job)


#: A worker takes a queued job to validating (a dry run, or reject_file: the whole file checked first) or straight
#: to importing; a resumed run takes it there again. It ends done, partially_failed or failed, or failed before its
#: end (lost worker, time limit). An ended job is final.
IMPORT_STATES = declare(BulkImport, {
    ImportStatus.QUEUED: (ImportStatus.VALIDATING, ImportStatus.IMPORTING, ImportStatus.FAILED),
    ImportStatus.VALIDATING: (ImportStatus.VALIDATING, ImportStatus.IMPORTING, *IMPORT_ENDED),
    ImportStatus.IMPORTING: (ImportStatus.IMPORTING, *IMPORT_ENDED),
    **dict.fromkeys(IMPORT_ENDED, ()),
}, stamp_fields=dict.fromkeys(IMPORT_ENDED, "finished_at"), record=_record_import_move)  # fmt: skip


class ImportRowError(models.Model):
    """One problem of one row of an import: the error report is these rows as CSV."""

    # db_index=False: the (job, row, id) index serves lookups by job
    job = models.ForeignKey(
        BulkImport, on_delete=models.CASCADE, related_name="row_errors", db_index=False, verbose_name="import"
    )
    row = models.PositiveIntegerField("row", help_text="Line in the file, the header being line 1.")
    column = models.CharField("column", max_length=100, blank=True)
    value = models.CharField("value", max_length=255, blank=True)
    message = models.CharField("message", max_length=500)

    class Meta:
        ordering = ["row", "id"]
        # One import's errors by row; every import's, newest import first (the row-error list's order).
        indexes = [models.Index(fields=["-job", "row", "id"], name="importrowerror_job_row_id")]

    def __str__(self) -> str:
        return f"row {self.row} {self.column}: {self.message}"


# -- payments ----------------------------------------------------------------------------------------------------


class PaymentGateway(models.TextChoices):
    RAZORPAY = "razorpay", "Razorpay"
    STRIPE = "stripe", "Stripe"


class GatewayPaymentStatus(models.TextChoices):
    CREATED = "created", "Created"
    AUTHORIZED = "authorized", "Authorized"
    CAPTURED = "captured", "Captured"
    FAILED = "failed", "Failed"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"


class PaymentMethodKind(models.TextChoices):
    CARD = "card", "Card"
    UPI = "upi", "UPI"
    NETBANKING = "netbanking", "Net banking"
    WALLET = "wallet", "Wallet"
    COD = "cod", "Cash on delivery"
    EMI = "emi", "EMI"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    OTHER = "other", "Other"


class GatewayConnection(models.Model):
    """A merchant's account at a payment gateway: credentials encrypted at rest (never shown again), and the
    webhook address (unguessable, one per connection) the gateway sends payment and refund events to."""

    # db_index=False: the unique (merchant, name) serves lookups by merchant
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="gateway_connections", db_index=False,
        verbose_name="merchant",
    )  # fmt: skip
    name = models.CharField("name", max_length=120)
    gateway = models.CharField("gateway", max_length=20, choices=PaymentGateway.choices)
    is_live = models.BooleanField("live mode", default=False, help_text="Off: the gateway's test mode.")
    credentials = EncryptedJSONField(
        "credentials", blank=True,
        help_text="Encrypted; never shown again after saving. Razorpay: key_id, key_secret; Stripe: secret_key; "
        "both: webhook_secret and, while changing it, previous_webhook_secret.",
    )  # fmt: skip
    webhook_id = models.CharField("webhook ID", max_length=32, unique=True, default=new_channel_webhook_id,
                                  editable=False, help_text="The unguessable part of the webhook address.")  # fmt: skip
    is_active = models.BooleanField("active", default=True, help_text="Off: its webhooks are refused (404).")
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        verbose_name = "payment gateway"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="gatewayconnection_unique_name"),
            models.CheckConstraint(condition=Q(gateway__in=PaymentGateway.values), name="gatewayconnection_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def webhook_path(self) -> str:
        return f"/api/v1/webhooks/payments/{self.webhook_id}/"


class Payment(models.Model):
    """A payment at a gateway, as its events tell it: status, amounts (in the currency's units), method, and the
    order it pays for (None until matched: the unmatched queue)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="payments", db_index=False,
                                 verbose_name="merchant")  # fmt: skip
    connection = models.ForeignKey(GatewayConnection, on_delete=models.PROTECT, related_name="payments",
                                   db_index=False, verbose_name="gateway")  # fmt: skip
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="payments",
                              verbose_name="order")  # fmt: skip
    gateway = models.CharField("gateway", max_length=20, choices=PaymentGateway.choices)
    payment_id = models.CharField(
        "gateway payment ID", max_length=100, help_text="pay_... (Razorpay), pi_... (Stripe)."
    )
    gateway_order_id = models.CharField(
        "gateway order ID", max_length=100, blank=True,
        help_text="order_... (Razorpay order), cs_... (Stripe Checkout Session).",
    )  # fmt: skip
    reference = models.CharField("order reference", max_length=100, blank=True,
                                 help_text="The ShopOps order number the storefront set on the payment.")  # fmt: skip
    method = models.CharField("method", max_length=20, choices=PaymentMethodKind.choices,
                              default=PaymentMethodKind.OTHER)  # fmt: skip
    amount = money_field(verbose_name="amount")
    amount_refunded = money_field(verbose_name="refunded", default=0)
    currency = models.CharField("currency", max_length=3)
    status = models.CharField("status", max_length=20, choices=GatewayPaymentStatus.choices,
                              default=GatewayPaymentStatus.CREATED)  # fmt: skip
    last_event_at = models.DateTimeField("last event", null=True, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "payment_id"], name="payment_unique_gateway_id"),
            models.CheckConstraint(condition=Q(status__in=GatewayPaymentStatus.values), name="payment_status_valid"),
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(amount_refunded__gte=0) & Q(amount_refunded__lte=F("amount")),
                name="payment_amounts_valid",
            ),  # fmt: skip
        ]
        indexes = [
            models.Index(fields=["merchant", "created_at", "id"], name="payment_merchant_created"),
            models.Index(
                fields=["merchant", "created_at", "id"], condition=Q(order__isnull=True), name="payment_unmatched"
            ),  # fmt: skip
            models.Index(fields=["connection", "gateway_order_id"], name="payment_gateway_order"),
        ]

    def __str__(self) -> str:
        return self.payment_id


class PaymentEvent(models.Model):
    """One event a gateway sent, verified and stored once (a retry of it is recognised by its id), with what it
    did to its payment."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="payment_events", db_index=False,
                                 verbose_name="merchant")  # fmt: skip
    connection = models.ForeignKey(GatewayConnection, on_delete=models.CASCADE, related_name="events",
                                   db_index=False, verbose_name="gateway")  # fmt: skip
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, null=True, blank=True, related_name="events",
                                verbose_name="payment")  # fmt: skip
    event_id = models.CharField("event ID", max_length=200)
    event_type = models.CharField("event", max_length=60)
    payload = models.JSONField("payload", help_text="The event as the gateway sent it.")
    outcome = models.CharField("outcome", max_length=300, blank=True, help_text="What the event did.")
    received_at = models.DateTimeField("received", auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "event_id"], name="paymentevent_unique_event"),
        ]
        indexes = [models.Index(fields=["merchant", "received_at", "id"], name="paymentevent_merchant_received")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


#: A payment's status as its gateway's events tell it, only ever forward (orders.services.payments): authorized or
#: failed before the capture (a failed attempt may still be authorized or captured), then refunds.
GATEWAY_PAYMENT_STATES = declare(Payment, {
    GatewayPaymentStatus.CREATED: (GatewayPaymentStatus.AUTHORIZED, GatewayPaymentStatus.FAILED,
                                   GatewayPaymentStatus.CAPTURED, GatewayPaymentStatus.PARTIALLY_REFUNDED,
                                   GatewayPaymentStatus.REFUNDED),
    GatewayPaymentStatus.AUTHORIZED: (GatewayPaymentStatus.FAILED, GatewayPaymentStatus.CAPTURED,
                                      GatewayPaymentStatus.PARTIALLY_REFUNDED, GatewayPaymentStatus.REFUNDED),
    GatewayPaymentStatus.FAILED: (GatewayPaymentStatus.AUTHORIZED, GatewayPaymentStatus.CAPTURED,
                                  GatewayPaymentStatus.PARTIALLY_REFUNDED, GatewayPaymentStatus.REFUNDED),
    GatewayPaymentStatus.CAPTURED: (GatewayPaymentStatus.PARTIALLY_REFUNDED, GatewayPaymentStatus.REFUNDED),
    GatewayPaymentStatus.PARTIALLY_REFUNDED: (GatewayPaymentStatus.REFUNDED,),
    GatewayPaymentStatus.REFUNDED: (),
}, noun=lambda payment: f"Payment {payment.payment_id}")  # fmt: skip

"""The tenancy matrix harness.

It walks a URL conf and finds every DRF endpoint. Each one must derive from
the merchant-bound base classes (shopops.api.base) or be listed in OPT_OUT
with a reason. For every endpoint and method it checks:

- anonymous: 401;
- a token of the right merchant without the required scope: 403 missing_scope;
- on object endpoints, another merchant's token with every scope: 404, and the
  object and its table are unchanged;
- on list endpoints, another merchant's token: the object is not listed;
- the owner's token: 2xx (writes use the example requests in OWNER_REQUESTS).

A new endpoint is covered without editing the test; an object endpoint needs
its model in FACTORIES, and a write needs an example request in OWNER_REQUESTS
(a JSON body, or ``(body, "multipart")`` for a file upload).
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.views import APIView

from catalog.models import StockMovement
from orders.imports.jobs import import_create
from orders.models import SkuMapping
from shopops.api.base import MerchantContextMixin
from shopops.api.permissions import required_scopes
from tests.catalog.factories import CategoryFactory, LocationFactory, ProductFactory, stock
from tests.conftest import client_for
from tests.orders.factories import (
    ChannelFactory,
    default_location,
    make_order,
    make_payment,
    make_return,
    order_data,
)
from tests.shipping.adapters.conftest import make_account
from tests.shipping.factories import make_shipment, shipping_courier
from tests.shopops.factories import MembershipFactory
from tests.shopops.webhooks import WebhookEndpointFactory, make_delivery

#: DRF views that are deliberately not merchant-bound, with the reason.
OPT_OUT: dict[str, str] = {
    SpectacularAPIView.__qualname__: "public OpenAPI schema",
    SpectacularSwaggerView.__qualname__: "public Swagger UI",
    SpectacularRedocView.__qualname__: "public ReDoc",
    "ProbeEntryList": "test-only pagination probe without tenancy",
    "CourierWebhookView": "signed by the courier (HMAC), not OAuth",
    "CourierAccountWebhookView": "proved by the courier service's token or signature, bound to one account's address",
    "ChannelWebhookView": "signed by the store (HMAC), bound to one channel's address",
    "PaymentWebhookView": "signed by the payment gateway (HMAC), bound to one gateway connection's address",
}

#: How to create an object of a model for a merchant.
FACTORIES: dict[str, Callable] = {
    "shopops.Membership": lambda merchant: MembershipFactory(merchant=merchant, role="staff"),
    "catalog.Category": lambda merchant: CategoryFactory(merchant=merchant),
    "catalog.Product": lambda merchant: ProductFactory(merchant=merchant),
    "catalog.Location": lambda merchant: LocationFactory(merchant=merchant),
    "catalog.StockLevel": lambda merchant: stock(
        ProductFactory(merchant=merchant), LocationFactory(merchant=merchant, nickname="main"), 10
    ),
    "orders.Channel": lambda merchant: ChannelFactory(merchant=merchant),
    "orders.SkuMapping": lambda merchant: SkuMapping.objects.create(
        merchant=merchant,
        channel=ChannelFactory(merchant=merchant),
        channel_sku="CH-1",
        product=ProductFactory(merchant=merchant),
    ),
    "orders.Customer": lambda merchant: make_order(merchant).customer,
    "orders.Order": lambda merchant: make_order(merchant, "new"),
    "orders.Return": lambda merchant: make_return(merchant, "requested"),
    "catalog.StockMovement": lambda merchant: StockMovement.objects.get(
        stock_level=stock(ProductFactory(merchant=merchant), LocationFactory(merchant=merchant, nickname="main"), 10)
    ),
    "orders.BulkImport": lambda merchant: _import_job(merchant),
    "orders.Payment": lambda merchant: make_payment(merchant),
    "shipping.Courier": lambda merchant: _courier(merchant),
    "shipping.CourierAccount": lambda merchant: make_account(merchant, "delhivery"),
    "shipping.Shipment": lambda merchant: make_shipment(merchant),
    "shipping.AWBPool": lambda merchant: shipping_courier(merchant).awb_pools.get(),
    "shipping.PickupRequest": lambda merchant: make_shipment(merchant, "pickup_scheduled").pickup,
    "shipping.Manifest": lambda merchant: _manifest(merchant),
    "shipping.NDR": lambda merchant: make_shipment(merchant, "ndr").ndrs.get(),
    "shipping.Document": lambda merchant: _label_document(merchant),
    "shipping.ShipBatch": lambda merchant: _ship_batch(merchant),
    "shipping.CreditNote": lambda merchant: _credit_note(merchant),
    "shopops.WebhookEndpoint": lambda merchant: WebhookEndpointFactory(merchant=merchant),
    "shopops.WebhookDelivery": lambda merchant: make_delivery(WebhookEndpointFactory(merchant=merchant)),
}

#: Objects for routes whose action needs a particular state: url name -> merchant -> object.
ROUTE_FACTORIES: dict[str, Callable] = {
    "order-confirm": lambda merchant: make_order(merchant, "new"),
    "order-pack": lambda merchant: make_order(merchant, "confirmed"),
    "order-cancel": lambda merchant: make_order(merchant, "confirmed"),
    "order-create-return": lambda merchant: make_order(merchant, "delivered"),
    "order-add-inventory": lambda merchant: make_order(merchant, "new"),
    "order-map-lines": lambda merchant: _order_with_unmapped_line(merchant),
    # a store on a loopback address: the test is answered (failing, the address refused) without any request
    "channel-test": lambda merchant: ChannelFactory(
        merchant=merchant, store_url="https://127.0.0.1", credentials={"access_token": "shpat_tenancy_0001"}
    ),
    "return-approve": lambda merchant: make_return(merchant, "requested"),
    "return-reject": lambda merchant: make_return(merchant, "requested"),
    "return-schedule-pickup": lambda merchant: make_return(merchant, "approved"),
    "return-in-transit": lambda merchant: make_return(merchant, "approved"),
    "return-receive": lambda merchant: make_return(merchant, "approved"),
    "return-refund": lambda merchant: make_return(merchant, "received"),
    "return-close": lambda merchant: make_return(merchant, "rejected"),
    "shipment-cancel": lambda merchant: make_shipment(merchant, "awb_assigned"),
    "tracking-detail": lambda merchant: _tracked_shipment(merchant),
    "ship": lambda merchant: _shippable_order(merchant),
    "ship-batch-list": lambda merchant: _shippable_order(merchant),
    "tracking-batch": lambda merchant: _tracked_shipment(merchant),
    "webhook-delivery-resend": lambda merchant: make_delivery(
        WebhookEndpointFactory(merchant=merchant), status="succeeded"
    ),
}


def _courier(merchant):
    from shipping.services.couriers import courier_create

    return courier_create(
        merchant=merchant,
        data={"code": "tenancy-surface", "name": "Tenancy Surface"},
        rate_cards=[{"zone": "metro", "first_slab_price": Decimal("40.00"), "additional_slab_price": Decimal("35.00")}],
    )


def _tracked_shipment(merchant):
    from tests.shipping.factories import make_shipment

    return make_shipment(merchant, "in_transit")


def _manifest(merchant):
    from shipping.services.manifests import manifest_create

    shipment = make_shipment(merchant, "awb_assigned")
    return manifest_create(merchant=merchant, actor="system", shipment_ids=[shipment.pk])


def _shippable_order(merchant):
    """A packed order of ``merchant``'s that the test courier can carry."""
    shipping_courier(merchant)
    return make_order(merchant, "packed")


def _ship_batch(merchant):
    """A finished batch of one packed order of ``merchant``'s, shipped with the test courier."""
    from shipping.services.batches import ship_batch_create
    from shipping.services.ship import ShipOptions

    shipping_courier(merchant)
    order = make_order(merchant, "packed")
    options = ShipOptions(print_invoice=False)
    return ship_batch_create(merchant=merchant, order_ids=[order.pk], actor="system", options=options)


def _label_document(merchant):
    """A rendered label document of ``merchant``'s; the merchant is set up to issue tax invoices too."""
    from shipping.services.documents import document_render, document_request
    from tests.shipping.documents_helpers import gst_merchant

    gst_merchant(merchant)
    shipment = make_shipment(merchant, "awb_assigned")
    document = document_request(merchant=merchant, kind="label", ids=[shipment.pk], actor="system")
    return document_render(document_id=document.pk)


def _credit_note(merchant):
    """A credit note of ``merchant``'s for 1 of the 2 units of its invoiced, delivered order (1 more may be
    credited)."""
    from shipping.documents.data import invoice_queryset
    from shipping.services.credit_notes import Credit, credit_note_issue
    from shipping.services.documents import invoices_issue
    from tests.shipping.documents_helpers import gst_merchant

    gst_merchant(merchant)
    order = make_order(merchant, "delivered")
    invoices_issue(merchant=merchant, orders=list(invoice_queryset().filter(pk=order.pk)))
    line = order.lines.get()
    return credit_note_issue(order=order, credits=[Credit("item", line.pk, 1)], reason="other", actor="system")


def _serviceability_csv() -> SimpleUploadedFile:
    return SimpleUploadedFile("pincodes.csv", b"pincode,pickup,delivery,cod\n560001,Y,Y,Y\n", content_type="text/csv")


def _order_with_unmapped_line(merchant):
    from orders.services.create import order_create

    data = order_data(merchant)
    data["lines"].append({"sku": "LEGACY-1", "name": "Old listing", "quantity": 1, "unit_price": Decimal("10.00")})
    ProductFactory(merchant=merchant, sku="MAPPED-1")
    return order_create(merchant=merchant, data=data, actor="system")


def _orders_csv(merchant, channel_order_id: str = "CSV-1") -> SimpleUploadedFile:
    """A one-order CSV file of ``merchant``'s (a product stocked at its default location), as an upload."""
    product = ProductFactory(merchant=merchant)
    default_location(merchant)
    content = (
        "channel_order_id,payment_method,shipping_name,shipping_phone,shipping_line1,shipping_city,"
        "shipping_postcode,sku,quantity,unit_price\n"
        f"{channel_order_id},prepaid,Priya Sharma,+919812345678,42 Residency Road,Bengaluru,560025,"
        f"{product.sku},1,499.00\n"
    )
    return SimpleUploadedFile("orders.csv", content.encode(), content_type="text/csv")


def _import_job(merchant):
    """A queued orders import of ``merchant``'s (the worker has not run it)."""
    return import_create(merchant=merchant, kind="orders", upload=_orders_csv(merchant), file_name="orders.csv",
                         dry_run=False, error_policy="reject_file", actor="system")  # fmt: skip


#: URL kwargs that are not the object's lookup field: url name -> obj -> kwargs.
URL_KWARGS: dict[str, Callable] = {
    "product-delete-image": lambda obj: {
        "pk": obj.pk,
        "image_id": obj.images.create(merchant=obj.merchant, url="https://cdn.example.com/a.jpg").pk,
    },
    "import-templates": lambda obj: {"kind": "orders"},
    "tracking-detail": lambda obj: {"awb": obj.awb},
}

#: Routes whose URL kwargs name no object of the merchant: every merchant gets the same answer (not a 404).
SHARED_ROUTES = {"import-templates"}

#: Example owner requests for writes: (url name, METHOD) -> obj (or None) -> request body.
OWNER_REQUESTS: dict[tuple[str, str], Callable] = {
    ("probe-notes", "POST"): lambda obj: {"note": "tenancy"},
    ("probe-member-detail", "PATCH"): lambda obj: {"role": "manager"},
    ("probe-member-detail", "PUT"): lambda obj: {"role": "manager"},
    ("probe-member-detail", "DELETE"): lambda obj: None,
    ("category-list", "POST"): lambda obj: {"name": "Shirts"},
    ("category-detail", "PATCH"): lambda obj: {"name": "Renamed"},
    ("category-detail", "DELETE"): lambda obj: None,
    ("product-list", "POST"): lambda obj: {"sku": "NEW-1", "title": "New", "price": "10.00"},
    ("product-detail", "PUT"): lambda obj: {"sku": obj.sku, "title": "Renamed", "price": "10.00"},
    ("product-detail", "PATCH"): lambda obj: {"title": "Renamed"},
    ("product-detail", "DELETE"): lambda obj: None,
    ("product-bulk", "POST"): lambda obj: {"products": [{"sku": obj.sku, "title": "Renamed"}]},
    ("product-add-image", "POST"): lambda obj: {"url": "https://cdn.example.com/b.jpg"},
    ("product-delete-image", "DELETE"): lambda obj: None,
    ("location-list", "POST"): lambda obj: {
        "nickname": "new",
        "name": "New",
        "line1": "1 Road",
        "city": "Pune",
        "state": "Maharashtra",
        "postcode": "411001",
    },
    ("location-detail", "PATCH"): lambda obj: {"name": "Renamed"},
    ("location-detail", "DELETE"): lambda obj: None,
    ("channel-list", "POST"): lambda obj: {"name": "Shopify store", "kind": "shopify"},
    ("channel-detail", "PATCH"): lambda obj: {"name": "Renamed"},
    ("channel-detail", "DELETE"): lambda obj: None,
    ("channel-pause", "POST"): lambda obj: None,
    ("channel-test", "POST"): lambda obj: None,
    ("channel-resume", "POST"): lambda obj: None,
    ("sku-mapping-list", "POST"): lambda obj: {
        "channel": obj.channel_id,
        "channel_sku": "CH-2",
        "sku": obj.product.sku,
    },
    ("sku-mapping-bulk", "POST"): lambda obj: {
        "mappings": [{"channel": obj.channel.channel_id, "channel_sku": "CH-3", "sku": obj.product.sku}]
    },
    ("sku-mapping-detail", "DELETE"): lambda obj: None,
    ("order-list", "POST"): lambda obj: _api_order(obj.merchant),
    ("order-bulk", "POST"): lambda obj: {"orders": [_api_order(obj.merchant)]},
    ("order-bulk-cancel", "POST"): lambda obj: {"order_ids": [obj.pk], "reason": "duplicate"},
    ("order-detail", "PATCH"): lambda obj: {"notes": "Leave at the gate"},
    ("order-confirm", "POST"): lambda obj: None,
    ("order-pack", "POST"): lambda obj: None,
    ("order-cancel", "POST"): lambda obj: {"reason": "customer asked"},
    ("order-create-return", "POST"): lambda obj: {
        "lines": [{"line_id": obj.lines.first().pk, "quantity": 1}],
        "reason": "too small",
    },
    ("order-add-inventory", "POST"): lambda obj: {"lines": [{"line_id": obj.lines.first().pk, "quantity": 1}]},
    ("order-map-lines", "POST"): lambda obj: {
        "lines": [{"line_id": obj.lines.get(sku="LEGACY-1").pk, "sku": "MAPPED-1"}]
    },
    **{
        (f"return-{name}", "POST"): (lambda obj: None)
        for name in ("approve", "reject", "schedule-pickup", "in-transit", "receive", "refund", "close")
    },
    ("inventory-adjust", "POST"): lambda obj: {"location": "main", "action": "add", "quantity": 1, "reason": "count"},
    ("courier-list", "POST"): lambda obj: {"code": "new-courier", "name": "New courier"},
    ("courier-account-list", "POST"): lambda obj: {
        "name": "Tenancy",
        "service": "easypost",
        "credentials": {"api_key": "EZTK-tenancy-key"},
    },  # fmt: skip
    ("courier-account-detail", "PATCH"): lambda obj: {"name": "Renamed"},
    # the owner's check reaches no service (tests point every service at a closed local port): 200, "failing"
    ("courier-account-test", "POST"): lambda obj: None,
    ("courier-detail", "PATCH"): lambda obj: {"name": "Renamed"},
    ("courier-detail", "DELETE"): lambda obj: None,
    ("courier-serviceability-import", "POST"): lambda obj: ({"file": _serviceability_csv()}, "multipart"),
    ("shipment-list", "POST"): lambda obj: {"order": make_order(obj.merchant, "packed").pk},
    ("shipment-assign-awb", "POST"): lambda obj: {},
    ("shipment-cancel", "POST"): lambda obj: {"reason": "customer asked"},
    ("awb-pool-list", "POST"): lambda obj: {
        "kind": "list",
        "courier": obj.courier.code,
        "name": "tenancy list",
        "numbers": ["TEN0001"],
    },
    ("awb-pool-detail", "PATCH"): lambda obj: {"is_active": False},
    ("pickup-list", "POST"): lambda obj: {"shipment_ids": [make_shipment(obj.merchant, "awb_assigned").pk]},
    ("pickup-cancel", "POST"): lambda obj: None,
    ("manifest-list", "POST"): lambda obj: {"shipment_ids": [make_shipment(obj.merchant, "awb_assigned").pk]},
    ("ndr-action", "POST"): lambda obj: {"action": "reattempt", "comment": "customer will be home"},
    ("notification-settings", "PATCH"): lambda obj: {"on_delivered": False},
    # obj: a done label document (FACTORIES "shipping.Document"); the owner's labels request is its reprint.
    ("ship", "POST"): lambda obj: {"order_id": obj.pk, "options": {"print_invoice": False}},
    ("ship-batch-list", "POST"): lambda obj: {"order_ids": [obj.pk]},
    ("document-labels", "POST"): lambda obj: {"shipment_ids": [s.pk for s in obj.shipments.all()], "format": "4x6"},
    ("document-invoices", "POST"): lambda obj: {"order_ids": [s.order_id for s in obj.shipments.all()]},
    ("document-packing-slips", "POST"): lambda obj: {"order_ids": [s.order_id for s in obj.shipments.all()]},
    ("document-manifests", "POST"): lambda obj: {"manifest_id": _manifest(obj.merchant).pk},
    ("document-credit-notes", "POST"): lambda obj: {"credit_note_ids": [_credit_note(obj.merchant).pk]},
    # obj: a credit note for 1 of its order's 2 units; the owner credits the other
    ("credit-note-list", "POST"): lambda obj: {
        "order": obj.order_id,
        "lines": [{"line_id": obj.lines.get().order_line_id, "quantity": 1}],
    },
    # Another merchant's AWB gives a 200 with a per-AWB not_found (tests/shipping/test_tracking_api.py); the
    # harness treats the route as a non-object write and checks that the shipment is unchanged.
    ("tracking-batch", "POST"): lambda obj: {"awbs": [obj.awb]},
    # a public address literal (no DNS); nothing is sent: the test's transaction never commits
    ("webhook-endpoint-list", "POST"): lambda obj: {"url": "https://93.184.216.34/hooks", "events": ["order.created"]},
    ("webhook-endpoint-detail", "PATCH"): lambda obj: {"description": "ERP", "events": ["shipment.ndr"]},
    ("webhook-endpoint-detail", "DELETE"): lambda obj: None,
    ("webhook-endpoint-rotate-secret", "POST"): lambda obj: {},
    ("webhook-endpoint-ping", "POST"): lambda obj: None,
    ("webhook-delivery-resend", "POST"): lambda obj: None,
    ("import-list", "POST"): lambda obj: (
        {"file": _orders_csv(obj.merchant, "CSV-2"), "kind": "orders", "dry_run": "false"},
        "multipart",
    ),
}

#: Query strings the owner's GET needs for a 2xx on routes that require parameters: url name -> obj -> params.
OWNER_QUERY: dict[str, Callable] = {
    "serviceability": lambda obj: {"pickup_postcode": "560001", "delivery_postcode": "400050", "weight_grams": 500},
}

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _api_order(merchant) -> dict:
    """An order body as a partner would send it (JSON-ready)."""
    data = order_data(merchant)
    data["lines"] = [{**line, "unit_price": str(line["unit_price"])} for line in data["lines"]]
    return data


@dataclass
class Case:
    route: str
    name: str
    method: str
    view_class: type
    initkwargs: dict
    action: str | None
    url_kwargs: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        readable = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", self.route)
        readable = re.sub(r"(^|/)\^", r"\1", readable).replace("$", "")
        return f"{self.method} /{readable}"

    @property
    def is_object(self) -> bool:
        return bool(self.url_kwargs) and self.name not in SHARED_ROUTES

    def scopes(self) -> list[str]:
        view = self.view_class(**self.initkwargs)
        view.action = self.action
        return required_scopes(view, SimpleNamespace(method=self.method))

    def model_label(self) -> str | None:
        view = self.view_class(**self.initkwargs)
        get_base_queryset = getattr(view, "get_base_queryset", None)
        return get_base_queryset().model._meta.label if get_base_queryset else None


def _walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        else:
            yield prefix + str(pattern.pattern), namespace + (pattern.name or ""), pattern


def discover(urlconf: str) -> tuple[list[Case], list[str]]:
    """All cases of merchant-bound endpoints, and the DRF views that are neither bound nor opted out."""
    cases, unbound = [], []
    for route, name, pattern in _walk(get_resolver(urlconf).url_patterns):
        view_class = getattr(pattern.callback, "cls", None)
        if view_class is None or not issubclass(view_class, APIView):
            continue
        if not issubclass(view_class, MerchantContextMixin):
            if view_class.__qualname__ not in OPT_OUT:
                unbound.append(f"{route} ({view_class.__qualname__})")
            continue
        if "format" in pattern.pattern.regex.groupindex:
            continue  # the same view again with a .json suffix
        actions = getattr(pattern.callback, "actions", None)
        if actions:
            methods = [(m.upper(), a) for m, a in actions.items() if m not in ("head", "options")]
        else:
            methods = [(m.upper(), None) for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)]
        for method, action in methods:
            cases.append(
                Case(
                    route=route,
                    name=name,
                    method=method,
                    view_class=view_class,
                    initkwargs=getattr(pattern.callback, "initkwargs", {}),
                    action=action,
                    url_kwargs=list(pattern.pattern.regex.groupindex),
                )
            )
    return cases, unbound


def _send(client, case: Case, url: str, body=None):
    body, format = body if isinstance(body, tuple) else (body, "json")
    for value in (body or {}).values() if format == "multipart" else ():
        if hasattr(value, "seek"):
            value.seek(0)  # the same upload is sent once per probe
    return getattr(client, case.method.lower())(url, body, format=format)


def _snapshot(obj):
    """The object as stored, and how many rows of its model its merchant has."""
    model = type(obj)
    row = model._default_manager.filter(pk=obj.pk).first()
    count = model._default_manager.filter(merchant_id=obj.merchant_id).count()
    return count, model_to_dict(row) if row is not None else None


def check_endpoint(case: Case, merchant, other_merchant, urlconf: str) -> None:
    """Run every tenancy check on one endpoint and method; fail with a precise message."""
    obj = None
    if case.name in ROUTE_FACTORIES:
        obj = ROUTE_FACTORIES[case.name](merchant)
    elif case.is_object:
        label = case.model_label()
        assert label in FACTORIES, f"{case.id}: add a factory for {label} to tests/tenancy.py FACTORIES"
        obj = FACTORIES[label](merchant)
    elif case.model_label() in FACTORIES:
        obj = FACTORIES[case.model_label()](merchant)
    url_kwargs = {}
    if case.name in URL_KWARGS:
        url_kwargs = URL_KWARGS[case.name](obj)
    elif case.is_object:
        lookup = case.view_class.lookup_field
        url_kwargs = {kwarg: getattr(obj, lookup) for kwarg in case.url_kwargs}
    url = reverse(case.name, urlconf=urlconf, kwargs=url_kwargs)
    body = {}
    if case.method in WRITE_METHODS:
        key = (case.name, case.method)
        assert key in OWNER_REQUESTS, f"{case.id}: add an example request for {key} to OWNER_REQUESTS"
        body = OWNER_REQUESTS[key](obj)
    elif case.name in OWNER_QUERY:
        body = OWNER_QUERY[case.name](obj)

    from rest_framework.test import APIClient

    response = _send(APIClient(), case, url, body)
    assert response.status_code == 401, f"{case.id} anonymous: {response.status_code}"

    needed = case.scopes()
    if needed:
        other_scopes = [scope for scope in settings.API_SCOPES if scope not in needed]
        response = _send(client_for(merchant, scopes=other_scopes), case, url, body)
        assert response.status_code == 403, f"{case.id} without scope: {response.status_code}"
        assert response.json()["code"] == "missing_scope"
        assert response.json()["details"]["required_scopes"] == needed

    if obj is not None:
        before = _snapshot(obj)
        response = _send(client_for(other_merchant), case, url, body)
        if case.is_object:
            assert response.status_code == 404, f"{case.id} other merchant: {response.status_code}"
            assert response.json()["code"] == "not_found"
        elif case.method == "GET":
            assert response.status_code == 200, f"{case.id} other merchant: {response.status_code}"
            if response["Content-Type"].startswith("text/csv"):
                exported = b"".join(response.streaming_content).decode()
                assert str(obj) not in exported, f"{case.id}: another merchant's row is exported"
            else:
                listed = {row.get("id") for row in response.json()["results"]}
                assert obj.pk not in listed, f"{case.id}: another merchant's row is listed"
        assert _snapshot(obj) == before, f"{case.id}: another merchant's request changed the object"

    response = _send(client_for(merchant), case, url, body)
    assert 200 <= response.status_code < 300, f"{case.id} owner: {response.status_code} {response.content[:300]}"

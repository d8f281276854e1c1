"""Scopes fail closed and are data: every API view declares them (the start-up check refuses one that does not),
each route needs a scope or is explicitly PUBLIC, and per-action scopes answer 403 ``missing_scope`` naming them."""

import inspect
import re
import types
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import include, path
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from orders.models import Order
from shipping.models import Document
from shipping.services.documents import document_render, document_request
from shopops.api.base import MerchantAPIView, MerchantScopedGenericViewSet
from shopops.api.checks import api_endpoints, scope_errors
from shopops.api.permissions import required_scopes
from shopops.api.scopes import PUBLIC, is_public
from shopops.models import Membership
from tests.conftest import client_for
from tests.orders.factories import make_order
from tests.shipping.documents_helpers import gst_merchant
from tests.shipping.factories import make_shipment, shipping_courier
from tests.shopops.factories import MembershipFactory
from tests.tenancy import _api_order, discover


def token_without(merchant, *scopes: str):
    """A client whose token holds every scope but ``scopes``."""
    return client_for(merchant, scopes=[scope for scope in settings.API_SCOPES if scope not in scopes])


# -- throwaway views for the start-up check ------------------------------------------------------------------------


class Forgetful(MerchantAPIView):
    """Declares no scope: an open door before, a configuration error now."""

    def get(self, request):
        return Response({"ok": True})


class HalfDeclared(mixins.ListModelMixin, MerchantScopedGenericViewSet):
    """Declares the scopes of one action only; its list (and OPTIONS) have none."""

    queryset = Membership.objects.all()
    action_scopes = {"bulk": ["catalog:write"]}

    @action(detail=False, methods=["post"])
    def bulk(self, request):
        return Response({})


class Unbound(APIView):
    """A DRF view under /api/ that is neither merchant-bound nor marked PUBLIC."""

    def get(self, request):
        return Response({})


class Bypassing(MerchantAPIView):
    """Declares its scope but swaps the scope check for bare authentication."""

    scope_object = "catalog"
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({})


class Declared(MerchantAPIView):
    scope_object = "catalog"

    def get(self, request):
        return Response({})


class Hook(APIView):
    scope_object = PUBLIC
    authentication_classes = []
    permission_classes = []

    def post(self, request):
        return Response({})


def urlconf(*patterns) -> types.ModuleType:
    module = types.ModuleType("throwaway_urls")
    module.urlpatterns = list(patterns)
    return module


def throwaway_urls() -> types.ModuleType:
    router = SimpleRouter()
    router.register("half", HalfDeclared, basename="half")
    return urlconf(
        path("api/v1/forgetful/", Forgetful.as_view()),
        path("api/v1/unbound/", Unbound.as_view()),
        path("api/v1/bypassing/", Bypassing.as_view()),
        path("api/v1/declared/", Declared.as_view()),
        path("api/v1/hook/", Hook.as_view()),
        path("elsewhere/", Unbound.as_view()),  # outside /api/: not the check's business
        path("api/v1/", include(router.urls)),
    )


def test_the_start_up_check_names_each_view_without_declared_scopes():
    errors = scope_errors(throwaway_urls())

    assert [(error.id, error.msg) for error in errors] == [
        ("shopops.E103", "GET /api/v1/forgetful/ (tests.shopops.test_scopes.Forgetful, action 'get') declares no "
                         "scope."),
        ("shopops.E103", "OPTIONS /api/v1/forgetful/ (tests.shopops.test_scopes.Forgetful, action 'options') "
                         "declares no scope."),
        ("shopops.E101", "tests.shopops.test_scopes.Unbound (/api/v1/unbound/) is not a merchant-bound API view and "
                         "is not marked PUBLIC."),
        ("shopops.E102", "tests.shopops.test_scopes.Bypassing (/api/v1/bypassing/) does not check scopes: its "
                         "permission_classes leave out HasMerchantScope."),
        ("shopops.E103", "GET /api/v1/half/ (tests.shopops.test_scopes.HalfDeclared, action 'list') declares no "
                         "scope."),
        ("shopops.E103", "OPTIONS /api/v1/half/ (tests.shopops.test_scopes.HalfDeclared, action 'metadata') "
                         "declares no scope."),
        ("shopops.E103", "OPTIONS /api/v1/half/bulk/ (tests.shopops.test_scopes.HalfDeclared, action 'metadata') "
                         "declares no scope."),
    ]  # fmt: skip


def test_manage_py_check_refuses_to_start_with_a_view_that_declares_no_scope(settings):
    settings.ROOT_URLCONF = urlconf(path("api/v1/forgetful/", Forgetful.as_view()))

    with pytest.raises(SystemCheckError, match=r"shopops\.E103.*GET /api/v1/forgetful/"):
        call_command("check", stdout=StringIO(), stderr=StringIO())


def test_the_start_up_check_passes_on_the_real_url_conf():
    out = StringIO()

    call_command("check", stdout=out)

    assert scope_errors() == []
    assert out.getvalue() == "System check identified no issues (0 silenced).\n"


def test_a_view_that_declares_no_scope_is_refused_at_runtime_too(merchant, settings, caplog):
    settings.ROOT_URLCONF = urlconf(path("api/v1/forgetful/", Forgetful.as_view()))

    response = client_for(merchant).get("/api/v1/forgetful/")

    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "Forgetful declares no scope for 'get'" in caplog.text


# -- declarations are checked when the class is created -----------------------------------------------------------


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ({"required_scopes": property(lambda self: ["catalog:read"])}, "defines required_scopes; declare scopes as "
                                                                       "data"),
        ({"scope_object": "order"}, "names an unknown scope family 'order'"),
        ({"scope_object": "catalog", "action_scopes": {"get": ["catalog:delete"]}}, "names unknown scopes: "
                                                                                    "catalog:delete"),
        ({"scope_object": "catalog", "action_scopes": {"post": ["catalog:write"]}}, "names 'post', which is not an "
                                                                                    "action of the view"),
        ({"scope_object": "catalog", "action_scopes": {"get": []}}, "must be a non-empty list of scopes"),
        ({"scope_object": PUBLIC, "action_scopes": {"get": ["catalog:read"]}}, "is PUBLIC and also declares "
                                                                               "action_scopes"),
    ],
)  # fmt: skip
def test_a_malformed_declaration_is_refused_when_the_class_is_created(declaration, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        type("Malformed", (MerchantAPIView,), {"get": lambda self, request: Response({}), **declaration})


# -- every route needs a scope, or is PUBLIC on purpose ------------------------------------------------------------


def test_every_api_v1_route_needs_a_scope_or_is_explicitly_public():
    scopes = {}
    for endpoint in api_endpoints():
        if endpoint.route.startswith("api/v1/"):
            scopes[str(endpoint)] = required_scopes(endpoint.view, SimpleNamespace(method=endpoint.method))

    public = sorted(name for name, needed in scopes.items() if not needed)
    assert public == [
        "GET /api/v1/me/",
        "OPTIONS /api/v1/couriers/<slug:code>/webhook/",
        "OPTIONS /api/v1/me/",
        "OPTIONS /api/v1/webhooks/channels/<str:webhook_id>/",
        "OPTIONS /api/v1/webhooks/couriers/<str:webhook_id>/",
        "OPTIONS /api/v1/webhooks/payments/<str:webhook_id>/",
        "POST /api/v1/couriers/<slug:code>/webhook/",
        "POST /api/v1/webhooks/channels/<str:webhook_id>/",
        "POST /api/v1/webhooks/couriers/<str:webhook_id>/",
        "POST /api/v1/webhooks/payments/<str:webhook_id>/",
    ]
    assert all(is_public(endpoint.view) for endpoint in api_endpoints() if str(endpoint) in public)
    # the walk finds every endpoint the tenancy matrix finds (a walk of its own)
    walked = {(type(e.view), getattr(e.view, "action", None), e.method) for e in api_endpoints()}
    cases, _ = discover("shopops.urls")
    assert {(case.view_class, case.action, case.method) for case in cases} <= walked
    assert {name: scopes[name] for name in (
        "POST /api/v1/orders/bulk/", "GET /api/v1/orders/export/", "POST /api/v1/documents/labels/",
        "POST /api/v1/documents/invoices/", "POST /api/v1/documents/manifests/",
        "POST /api/v1/documents/packing-slips/", "GET /api/v1/documents/(?P<pk>[^/.]+)/",
        "GET /api/v1/documents/(?P<pk>[^/.]+)/download/", "POST /api/v1/imports/", "POST /api/v1/ship/",
        "POST /api/v1/ship/batch/", "GET /api/v1/ship/batch/(?P<pk>[^/.]+)/", "POST /api/v1/tracking/",
    )} == {
        "POST /api/v1/orders/bulk/": ["orders:write"],
        "GET /api/v1/orders/export/": ["orders:read"],
        "POST /api/v1/documents/labels/": ["shipping:write"],
        "POST /api/v1/documents/invoices/": ["orders:write"],
        "POST /api/v1/documents/manifests/": ["shipping:write"],
        "POST /api/v1/documents/packing-slips/": ["orders:write"],
        "GET /api/v1/documents/(?P<pk>[^/.]+)/": ["shipping:read"],
        "GET /api/v1/documents/(?P<pk>[^/.]+)/download/": ["shipping:read"],
        "POST /api/v1/imports/": ["orders:write"],
        "POST /api/v1/ship/": ["orders:write", "shipping:write"],
        "POST /api/v1/ship/batch/": ["orders:write", "shipping:write"],
        "GET /api/v1/ship/batch/(?P<pk>[^/.]+)/": ["orders:read", "shipping:read"],
        "POST /api/v1/tracking/": ["shipping:read"],
    }  # fmt: skip


#: A query of a model filtered by a merchant named by hand (``merchant=self.merchant``, ``merchant=merchant``...).
HAND_FILTER = re.compile(r"\b(filter|exclude|get|get_object_or_404)\([^)]*\bmerchant(_id)?=")


def test_no_api_view_filters_by_merchant_by_hand():
    root = Path(settings.BASE_DIR)
    modules = {Path(inspect.getsourcefile(type(endpoint.view))) for endpoint in api_endpoints()}
    modules = sorted(module.relative_to(root) for module in modules  # not DRF's own, even in a virtualenv under root
                     if module.is_relative_to(root) and "site-packages" not in module.parts)  # fmt: skip

    found = [
        f"{module}:{number}: {line.strip()}"
        for module in modules
        for number, line in enumerate((root / module).read_text().splitlines(), 1)
        if HAND_FILTER.search(line)
    ]

    assert {module.parts[0] for module in modules} == {"catalog", "orders", "shipping", "shopops"}
    assert found == []


# -- per-action scopes --------------------------------------------------------------------------------------------


def test_orders_bulk_needs_orders_write(merchant):
    body = {"orders": [_api_order(merchant)]}

    refused = token_without(merchant, "orders:write").post("/api/v1/orders/bulk/", body, format="json")
    allowed = client_for(merchant, scopes=["orders:write"]).post("/api/v1/orders/bulk/", body, format="json")

    assert refused.status_code == 403
    assert refused.json() == {
        "code": "missing_scope",
        "message": "This request needs the scope orders:write.",
        "details": {"required_scopes": ["orders:write"], "missing_scopes": ["orders:write"]},
    }
    assert 200 <= allowed.status_code < 300
    assert Order.objects.filter(merchant=merchant).count() == 1


def test_a_write_needs_a_role_that_writes_and_a_lookup_by_post_does_not(merchant):
    viewer = MembershipFactory(merchant=merchant, role="viewer").user
    shipment = make_shipment(merchant, "in_transit")

    write = client_for(merchant, user=viewer).post("/api/v1/orders/bulk/", {"orders": [_api_order(merchant)]},
                                                   format="json")  # fmt: skip
    lookup = client_for(merchant, scopes=["shipping:read"], user=viewer).post(
        "/api/v1/tracking/", {"awbs": [shipment.awb]}, format="json"
    )

    assert (write.status_code, write.json()["code"]) == (403, "role_forbidden")
    assert lookup.status_code == 200
    assert [row["awb"] for row in lookup.json()["results"]] == [shipment.awb]
    assert Order.objects.filter(merchant=merchant).count() == 1  # the shipment's order only


def test_shipping_in_one_call_needs_both_write_scopes(merchant):
    shipping_courier(merchant)
    order = make_order(merchant, "packed")

    response = client_for(merchant, scopes=["orders:write"]).post("/api/v1/ship/", {"order_id": order.pk},
                                                                  format="json")  # fmt: skip

    assert response.status_code == 403
    assert response.json()["details"] == {"required_scopes": ["orders:write", "shipping:write"],
                                          "missing_scopes": ["shipping:write"]}  # fmt: skip
    order.refresh_from_db()
    assert order.status == "packed"


def test_labels_need_shipping_write_and_invoices_orders_write(merchant):
    gst_merchant(merchant)
    shipping_courier(merchant)
    shipment = make_shipment(merchant, "awb_assigned")
    labels = {"shipment_ids": [shipment.pk]}
    invoices = {"order_ids": [shipment.order_id]}

    refused_labels = token_without(merchant, "shipping:write").post("/api/v1/documents/labels/", labels,
                                                                    format="json")  # fmt: skip
    refused_invoices = token_without(merchant, "orders:write").post("/api/v1/documents/invoices/", invoices,
                                                                    format="json")  # fmt: skip
    assert Document.objects.count() == 0
    allowed_labels = client_for(merchant, scopes=["shipping:write"]).post("/api/v1/documents/labels/", labels,
                                                                          format="json")  # fmt: skip
    allowed_invoices = client_for(merchant, scopes=["orders:write"]).post("/api/v1/documents/invoices/", invoices,
                                                                          format="json")  # fmt: skip

    assert (refused_labels.status_code, refused_labels.json()["code"]) == (403, "missing_scope")
    assert refused_labels.json()["details"] == {"required_scopes": ["shipping:write"],
                                                "missing_scopes": ["shipping:write"]}  # fmt: skip
    assert (refused_invoices.status_code, refused_invoices.json()["code"]) == (403, "missing_scope")
    assert refused_invoices.json()["details"] == {"required_scopes": ["orders:write"],
                                                  "missing_scopes": ["orders:write"]}  # fmt: skip
    assert (allowed_labels.status_code, allowed_invoices.status_code) == (202, 202)
    assert sorted(Document.objects.values_list("kind", flat=True)) == ["invoice", "label"]


def test_reading_a_document_needs_the_read_scope_of_its_kind_decided_by_the_document_itself(merchant):
    gst_merchant(merchant)
    shipping_courier(merchant)
    shipment = make_shipment(merchant, "awb_assigned")
    invoice = document_request(merchant=merchant, kind="invoice", ids=[shipment.order_id], actor="system")
    document_render(document_id=invoice.pk)
    orders_reader = client_for(merchant, scopes=["orders:read"])
    shipping_reader = client_for(merchant, scopes=["shipping:read"])

    refused = shipping_reader.get(f"/api/v1/documents/{invoice.pk}/")
    allowed = orders_reader.get(f"/api/v1/documents/{invoice.pk}/")
    missing_for_orders_reader = orders_reader.get("/api/v1/documents/999999/")
    missing_for_shipping_reader = shipping_reader.get("/api/v1/documents/999999/")

    assert refused.status_code == 403
    assert refused.json()["details"] == {"required_scopes": ["orders:read"], "missing_scopes": ["orders:read"]}
    assert (allowed.status_code, allowed.json()["kind"]) == (200, "invoice")
    # A document the merchant does not have: the action's default scope (shipping:read) first, then 404.
    assert missing_for_orders_reader.status_code == 403
    assert missing_for_orders_reader.json()["details"]["required_scopes"] == ["shipping:read"]
    assert (missing_for_shipping_reader.status_code, missing_for_shipping_reader.json()["code"]) == (404, "not_found")

"""OpenAPI generation: the error format, the Idempotency-Key header, the scopes on every operation and the
operations' tags (Swagger UI's and ReDoc's sections), by resource."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from shopops.api.idempotency import HEADER, MAX_KEY_LENGTH, METHODS
from shopops.api.permissions import required_scopes
from shopops.api.serializers import StrictInputMixin


class ApiErrorOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case error code, e.g. `missing_scope`.")
    message = serializers.CharField(help_text="A human sentence.")
    details = serializers.DictField(help_text="Context; field errors as `{field: [messages]}`.")


ERRORS = {
    "400": "Invalid input: field errors in `details`.",
    "401": "No or invalid credentials.",
    "403": "Missing scope (`missing_scope`, the scopes named in `details`) or role.",
    "404": "Not found, or another merchant's.",
    "409": "State conflict, or `idempotency_key_in_use`.",
    "413": "Request body too large.",
    "422": "`idempotency_key_reused`: the key was used with another request.",
    "429": "Throttled; see the `Retry-After` header.",
}


#: The path every API operation is under.
API_PREFIX = "/api/v1/"
#: The sections of the API docs, in order: tag -> (what it holds, the resources in it: the path segments after
#: API_PREFIX). Each operation's tag comes from its path (postprocess_tags), whatever its view or schema class.
API_TAGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "account": ("Who is calling: the user or partner application, its merchant and scopes.", ("me",)),
    "products": ("Products, their images, and categories.", ("products", "categories")),
    "inventory": ("Stock levels per SKU and location, adjustments, the stock ledger, and locations.",
                  ("inventory", "stock-movements", "locations")),
    "orders": ("Orders: create, change, confirm, pack, cancel, return; bulk actions, export and timeline.",
               ("orders",)),
    "customers": ("Customers and their order totals.", ("customers",)),
    "returns": ("Returns, from request to refund.", ("returns",)),
    "imports": ("File imports of orders, products and stock, as jobs with per-row errors.", ("imports",)),
    "payments": ("Payments at the merchant's gateways (Razorpay, Stripe), as their events told them.", ("payments",)),
    "channels": ("Sales channels (stores and marketplaces), what ShopOps told them, and SKU mappings.",
                 ("channels", "sku-mappings")),
    "couriers": ("Couriers, rate quotes and serviceability, courier accounts and AWB pools.",
                 ("couriers", "courier-accounts", "awb-pools", "serviceability")),
    "shipments": ("Shipments, shipping in one call, pickups, manifests and NDRs.",
                  ("shipments", "ship", "pickups", "manifests", "ndr")),
    "tracking": ("Parcels' status and scans by AWB.", ("tracking",)),
    "documents": ("PDF jobs (labels, invoices, packing slips, manifests, credit notes), and credit notes.",
                  ("documents", "credit-notes")),
    "notifications": ("Which shipment events send customers an email or SMS.", ("notification-settings",)),
    "webhooks": ("Endpoints ShopOps sends events to, and the delivery log.",
                 ("webhook-endpoints", "webhook-deliveries")),
    "inbound webhooks": ("Where stores, courier services and payment gateways send their events (signed by the "
                         "sender).",
                         ("webhooks",)),
}  # fmt: skip
#: Path segment after API_PREFIX -> its tag.
RESOURCE_TAGS = {segment: tag for tag, (_, segments) in API_TAGS.items() for segment in segments}


class ShopOpsAutoSchema(AutoSchema):
    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method in METHODS:
            parameters.append(
                OpenApiParameter(
                    HEADER,
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description=(
                        f"Up to {MAX_KEY_LENGTH} characters. The same key and request within 24 hours replays "
                        "the stored response with `Idempotent-Replayed: true`."
                    ),
                )
            )
        return parameters

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        strict = isinstance(force_instance(serializer), StrictInputMixin)
        if direction == "request" and strict and schema.get("type") == "object":
            schema["additionalProperties"] = False  # a key it does not declare is a 400 `Unknown field.`
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["401", "403", "429"]
        paginated = self._is_list_view() and self._get_paginator() is not None
        if self.method in METHODS or self.method == "PUT" or paginated or self.get_filter_backends():
            codes.append("400")
        if self.method in METHODS or self.method == "PUT":
            codes += ["409", "413", "422"]
        if "{" in self.path:
            codes.append("404")
        for code in sorted(codes):
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ApiErrorOutput, description=ERRORS[code]), code
                )
        return responses


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    """OAuth2 with the scopes each operation requires."""

    target_class = "shopops.api.authentication.PartnerTokenAuthentication"
    name = "oauth2"

    def get_security_requirement(self, auto_schema):
        view = auto_schema.view

        class _Request:
            method = auto_schema.method

        return {self.name: required_scopes(view, _Request)}

    def get_security_definition(self, auto_schema):
        from drf_spectacular.settings import spectacular_settings

        flows = {
            "clientCredentials": {"tokenUrl": spectacular_settings.OAUTH2_TOKEN_URL},
            "authorizationCode": {
                "authorizationUrl": spectacular_settings.OAUTH2_AUTHORIZATION_URL,
                "tokenUrl": spectacular_settings.OAUTH2_TOKEN_URL,
            },
        }
        for flow in flows.values():
            flow["refreshUrl"] = spectacular_settings.OAUTH2_REFRESH_URL
            flow["scopes"] = spectacular_settings.OAUTH2_SCOPES
        return {"type": "oauth2", "flows": flows}


# -- OpenAPI links ------------------------------------------------------------------------------------------------
# What a response leads to, so generated clients and stateful fuzzers (tests/fuzz/) can chain calls:
# create -> read, change, act; a step of a flow -> the next one (order -> shipment -> pickup, label).

#: Beyond the resource's own operations: (method, path, status) -> [(method, path, parameters, requestBody)].
FLOW_LINKS = {
    ("post", "/api/v1/orders/", "201"): [
        ("post", "/api/v1/shipments/", {}, {"order": "$response.body#/id"}),
        ("post", "/api/v1/ship/", {}, {"order_id": "$response.body#/id"}),
        ("post", "/api/v1/documents/invoices/", {}, {"order_ids": ["$response.body#/id"]}),
        ("post", "/api/v1/documents/packing-slips/", {}, {"order_ids": ["$response.body#/id"]}),
    ],
    ("post", "/api/v1/orders/{id}/confirm/", "200"): [
        ("post", "/api/v1/shipments/", {}, {"order": "$request.path.id"}),
        ("post", "/api/v1/ship/", {}, {"order_id": "$request.path.id"}),
    ],
    ("post", "/api/v1/orders/{id}/return/", "201"): [
        ("get", "/api/v1/returns/{id}/", {"id": "$response.body#/id"}, None),
        ("post", "/api/v1/returns/{id}/approve/", {"id": "$response.body#/id"}, None),
        ("post", "/api/v1/returns/{id}/reject/", {"id": "$response.body#/id"}, None),
    ],
    ("post", "/api/v1/returns/{id}/approve/", "200"): [
        ("post", "/api/v1/returns/{id}/schedule-pickup/", {"id": "$request.path.id"}, None),
        ("post", "/api/v1/returns/{id}/in-transit/", {"id": "$request.path.id"}, None),
        ("post", "/api/v1/returns/{id}/receive/", {"id": "$request.path.id"}, None),
    ],
    ("post", "/api/v1/returns/{id}/receive/", "200"): [
        ("post", "/api/v1/returns/{id}/refund/", {"id": "$request.path.id"}, None),
        ("post", "/api/v1/returns/{id}/close/", {"id": "$request.path.id"}, None),
    ],
    ("post", "/api/v1/products/", "201"): [
        ("get", "/api/v1/inventory/{sku}/", {"sku": "$response.body#/sku"}, None),
        ("post", "/api/v1/inventory/{sku}/adjust/", {"sku": "$response.body#/sku"}, None),
    ],
    ("post", "/api/v1/products/{id}/images/", "201"): [
        (
            "delete",
            "/api/v1/products/{id}/images/{image_id}/",
            {"id": "$request.path.id", "image_id": "$response.body#/id"},
            None,
        ),
    ],  # fmt: skip
    ("post", "/api/v1/shipments/", "201"): [
        ("post", "/api/v1/pickups/", {}, {"shipment_ids": ["$response.body#/id"]}),
        ("post", "/api/v1/manifests/", {}, {"shipment_ids": ["$response.body#/id"]}),
        ("post", "/api/v1/documents/labels/", {}, {"shipment_ids": ["$response.body#/id"]}),
    ],
    ("post", "/api/v1/shipments/{id}/assign-awb/", "200"): [
        ("get", "/api/v1/tracking/{awb}/", {"awb": "$response.body#/awb"}, None),
        ("post", "/api/v1/tracking/", {}, {"awbs": ["$response.body#/awb"]}),
        ("post", "/api/v1/pickups/", {}, {"shipment_ids": ["$request.path.id"]}),
        ("post", "/api/v1/documents/labels/", {}, {"shipment_ids": ["$request.path.id"]}),
    ],
    ("post", "/api/v1/ship/", "201"): [
        ("get", "/api/v1/orders/{id}/", {"id": "$response.body#/order"}, None),
        ("get", "/api/v1/orders/{id}/events/", {"id": "$response.body#/order"}, None),
        ("get", "/api/v1/shipments/{id}/", {"id": "$response.body#/shipment"}, None),
        ("post", "/api/v1/shipments/{id}/cancel/", {"id": "$response.body#/shipment"}, None),
        ("get", "/api/v1/tracking/{awb}/", {"awb": "$response.body#/awb"}, None),
    ],
}
for _kind in ("labels", "invoices", "manifests", "packing-slips"):
    FLOW_LINKS[("post", f"/api/v1/documents/{_kind}/", "202")] = [
        ("get", "/api/v1/documents/{id}/", {"id": "$response.body#/id"}, None),
        ("get", "/api/v1/documents/{id}/download/", {"id": "$response.body#/id"}, None),
    ]
OPERATIONS = ("get", "put", "patch", "delete", "post")


def _body_properties(result: dict, response: dict) -> set[str]:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    name = schema.get("$ref", "").rpartition("/")[2]
    return set(result["components"]["schemas"].get(name, {}).get("properties", {}))


def _path_parameters(operation: dict) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}


def _success(operation: dict) -> str | None:
    return next((code for code in sorted(operation["responses"]) if code.startswith("2")), None)


def postprocess_links(result, generator, request, public):
    """Add OpenAPI links to the success responses.

    A resource's own operations follow its list (by the first row's ``id``), its creation (``POST /orders/`` ->
    ``/orders/{id}/`` and each action under it, by the new ``id``) and each of its changes and actions
    (``/orders/{id}/confirm/`` -> the others, by the same path ``id``); FLOW_LINKS adds the steps that cross
    resources.
    """
    paths = result["paths"]
    links: dict[tuple[str, str, str], list] = {}
    for path, item in paths.items():
        for method, operation in item.items():
            status = _success(operation) if method in OPERATIONS else None
            if status is None or method == "delete":
                continue
            body = _body_properties(result, operation["responses"][status])
            if method == "get":
                if _path_parameters(operation) or body != {"next", "previous", "results"}:
                    continue
                prefix, expression = f"{path}{{id}}/", "$response.body#/results/0/id"  # a list: its first row
            elif _path_parameters(operation) == set() and "id" in body:
                prefix, expression = f"{path}{{id}}/", "$response.body#/id"  # a creation: its new id
            elif _path_parameters(operation) == {"id"} and path.count("{") == 1:
                prefix, expression = path[: path.index("{id}/") + 5], "$request.path.id"  # an action on a resource
            else:
                continue
            for target_path, target_item in paths.items():
                if not target_path.startswith(prefix):
                    continue
                for target_method, target in target_item.items():
                    if target_method in OPERATIONS and _path_parameters(target) == {"id"} and target is not operation:
                        entry = (target_method, target_path, {"id": expression}, None)
                        links.setdefault((method, path, status), []).append(entry)
    for source, targets in FLOW_LINKS.items():
        links.setdefault(source, []).extend(targets)

    for (method, path, status), targets in links.items():
        response = paths[path][method]["responses"][status]
        for target_method, target_path, parameters, body in targets:
            target = paths[target_path][target_method]
            link = {"operationId": target["operationId"]}
            if parameters:
                link["parameters"] = parameters
            if body is not None:
                link["requestBody"] = body
            response.setdefault("links", {})[target["operationId"]] = link
    return result


ERROR_CODE_APPS = ("shopops", "catalog", "orders", "shipping", "marketing")


def declared_error_codes() -> list:
    """Every ``ErrorCode`` the apps declare in their ``errors.py``, sorted by code."""
    import importlib
    import importlib.util

    from shopops.errors import REGISTRY

    for app in ERROR_CODE_APPS:
        if importlib.util.find_spec(f"{app}.errors") is not None:
            importlib.import_module(f"{app}.errors")
    return sorted(REGISTRY.values(), key=lambda error: (error.code, error.kind))


def postprocess_error_codes(result, generator, request, public):
    """List every domain error code, its HTTP status and its meaning on the error body's ``code``."""
    from shopops.api.exceptions import STATUS_FOR_KIND

    rows = [f"- `{error.code}` ({STATUS_FOR_KIND[error.kind]}): {error.meaning}" for error in declared_error_codes()]
    code = result["components"]["schemas"]["ApiErrorOutput"]["properties"]["code"]
    code["description"] = f"{code['description']}\n\nCodes the services answer with:\n\n" + "\n".join(rows)
    return result


def postprocess_tags(result, generator, request, public):
    """Tag each operation under API_PREFIX with its resource's tag (RESOURCE_TAGS; a path segment it lacks is its
    own tag), and describe the tags in API_TAGS's order (one it lacks comes last, undescribed)."""
    used = set()
    for path, item in result["paths"].items():
        for operation in item.values():
            if path.startswith(API_PREFIX):
                segment = path.removeprefix(API_PREFIX).split("/", 1)[0]
                operation["tags"] = [RESOURCE_TAGS.get(segment, segment)]
            used.update(operation.get("tags", ()))
    described = [{"name": tag, "description": description} for tag, (description, _) in API_TAGS.items() if tag in used]
    result["tags"] = described + [{"name": tag} for tag in sorted(used - API_TAGS.keys())]
    return result

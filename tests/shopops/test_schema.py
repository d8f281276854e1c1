"""The OpenAPI schema tells the truth about what the API answers (tests/fuzz/ checks it against a live server)."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator, FormatChecker


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_order_timeline_is_a_bare_array_without_list_parameters(schema):
    operation = schema["paths"]["/api/v1/orders/{id}/events/"]["get"]

    assert [p["name"] for p in operation["parameters"]] == ["id"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/OrderEventOutput"},
    }
    assert "400" not in operation["responses"]


@pytest.mark.parametrize(
    ("path", "codes"),
    [
        ("/api/v1/channels/{id}/", "`channel_in_use`"),
        ("/api/v1/locations/{id}/", "`location_in_use`"),
        ("/api/v1/categories/{id}/", "`category_has_children`"),
    ],
)
def test_a_delete_refused_while_in_use_documents_its_409(schema, path, codes):
    responses = schema["paths"][path]["delete"]["responses"]

    assert sorted(responses) == ["204", "401", "403", "404", "409", "429"]
    assert responses["409"]["description"].startswith(codes)


def test_the_pickup_cutoff_is_documented_as_a_local_time_not_an_rfc3339_time(schema):
    for name in ("CourierOutput", "CourierInputRequest", "PatchedCourierInputRequest"):
        field = schema["components"]["schemas"][name]["properties"]["pickup_cutoff"]

        assert "format" not in field, name
        assert re.fullmatch(field["pattern"], "14:00:00")
        assert re.fullmatch(field["pattern"], "09:30")
        assert not re.fullmatch(field["pattern"], "14:00:00+05:30")
        assert not re.fullmatch(field["pattern"], "24:00:00")


def test_path_parameters_carry_the_characters_their_url_converter_matches(schema):
    webhook = schema["paths"]["/api/v1/couriers/{code}/webhook/"]["post"]
    tracking = schema["paths"]["/api/v1/tracking/{awb}/"]["get"]

    assert [p["schema"] for p in webhook["parameters"] if p["in"] == "path"] == [
        {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}
    ]
    assert [p["schema"] for p in tracking["parameters"] if p["in"] == "path"] == [
        {"type": "string", "pattern": "^[^/]+$"}
    ]


def _json_schema(node):
    """OpenAPI 3.0 schema objects as JSON Schema: ``nullable`` becomes a null alternative."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


def _examples(schema):
    """(operation, where, media type schema, example name, value) of every example in the schema."""
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            bodies = [("request", operation.get("requestBody", {}))]
            bodies += [(f"response {code}", response) for code, response in operation["responses"].items()]
            for where, body in bodies:
                for media_type, content in body.get("content", {}).items():
                    for name, example in content.get("examples", {}).items():
                        yield f"{method.upper()} {path}", f"{where} {media_type}", content["schema"], name, example


def test_the_main_operations_have_request_and_response_examples(schema):
    described = {(operation, where.split(" ")[0]) for operation, where, *_ in _examples(schema)}

    for operation in [
        "POST /api/v1/orders/",
        "PATCH /api/v1/orders/{id}/",
        "POST /api/v1/orders/{id}/cancel/",
        "POST /api/v1/products/",
        "POST /api/v1/inventory/{sku}/adjust/",
        "POST /api/v1/shipments/",
        "POST /api/v1/shipments/{id}/assign-awb/",
        "POST /api/v1/tracking/",
        "POST /api/v1/ship/",
        "POST /api/v1/documents/labels/",
        "POST /api/v1/imports/",
    ]:
        assert {(operation, "request"), (operation, "response")} <= described, operation
    for operation in [
        "GET /api/v1/orders/",
        "GET /api/v1/orders/{id}/",
        "POST /api/v1/orders/{id}/confirm/",
        "POST /api/v1/orders/{id}/pack/",
        "GET /api/v1/orders/{id}/events/",
        "GET /api/v1/products/",
        "GET /api/v1/serviceability/",
        "GET /api/v1/shipments/{id}/",
        "GET /api/v1/tracking/{awb}/",
        "GET /api/v1/documents/{id}/",
    ]:
        assert (operation, "response") in described, operation


def test_every_example_matches_its_schema(schema):
    components = _json_schema(schema["components"])
    checked = 0
    for operation, where, media_schema, name, example in _examples(schema):
        validator = Draft202012Validator(
            {"allOf": [_json_schema(media_schema)], "components": components}, format_checker=FormatChecker()
        )
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(example["value"])]
        assert errors == [], f"{operation} {where} example {name!r}"
        checked += 1
    assert checked >= 35


def test_a_creation_links_to_its_resource_and_the_next_steps(schema):
    links = schema["paths"]["/api/v1/orders/"]["post"]["responses"]["201"]["links"]

    assert links["v1_orders_confirm_create"] == {
        "operationId": "v1_orders_confirm_create",
        "parameters": {"id": "$response.body#/id"},
    }
    own = {"v1_orders_retrieve", "v1_orders_partial_update", "v1_orders_cancel_create", "v1_orders_events_list"}
    assert own <= set(links)
    assert links["v1_shipments_create"] == {
        "operationId": "v1_shipments_create",
        "requestBody": {"order": "$response.body#/id"},
    }
    confirm = schema["paths"]["/api/v1/orders/{id}/confirm/"]["post"]["responses"]["200"]["links"]
    assert confirm["v1_orders_pack_create"]["parameters"] == {"id": "$request.path.id"}
    listed = schema["paths"]["/api/v1/ndr/"]["get"]["responses"]["200"]["links"]
    assert listed["v1_ndr_action_create"]["parameters"] == {"id": "$response.body#/results/0/id"}


def test_every_link_names_an_operation_and_its_path_parameters(schema):
    operations = {
        operation["operationId"]: operation
        for item in schema["paths"].values()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    }
    count = 0
    for item in schema["paths"].values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                for name, link in response.get("links", {}).items():
                    target = operations[link["operationId"]]
                    path_parameters = {p["name"] for p in target.get("parameters", []) if p["in"] == "path"}
                    assert set(link.get("parameters", {})) == path_parameters, name
                    count += 1
    assert count >= 200


def test_strict_inputs_are_closed_objects(schema, api):
    order = schema["components"]["schemas"]["OrderInputRequest"]
    line = schema["components"]["schemas"]["OrderLineInputRequest"]

    response = api.post("/api/v1/orders/", {"payment_method": "cod", "colour": "red"}, format="json")

    assert (order["additionalProperties"], line["additionalProperties"]) == (False, False)
    assert response.status_code == 400
    assert response.json()["details"]["colour"] == ["Unknown field."]

"""The OpenAPI schema tells the truth about what the API answers (tests/fuzz/ checks it against a live server)."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator


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

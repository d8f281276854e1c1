"""The locations API: address and phone validation, exactly one default, and safe deletion."""

import pytest

from catalog.models import Location
from tests.api import invalid
from tests.catalog.factories import LocationFactory, ProductFactory, stock

LOCATIONS = "/api/v1/locations/"


def location_body(**changes) -> dict:
    return {
        "nickname": "blr-main",
        "name": "Bengaluru warehouse",
        "contact_name": "Asha Rao",
        "phone": "98123 45678",
        "email": "ops@acme.example",
        "line1": "12 MG Road",
        "line2": "Ashok Nagar",
        "city": "Bengaluru",
        "state": "Karnataka",
        "postcode": "560001",
        "country": "IN",
        **changes,
    }


def defaults(merchant) -> list[int]:
    return list(Location.objects.filter(merchant=merchant, is_default=True).values_list("pk", flat=True))


def snapshot(merchant) -> list[tuple]:
    return list(Location.objects.filter(merchant=merchant).order_by("pk").values_list())


def test_create_the_first_location_makes_it_the_default_and_normalises_the_phone(api, merchant):
    # when
    response = api.post(LOCATIONS, location_body(), format="json")

    # then
    assert response.status_code == 201
    location = Location.objects.get(merchant=merchant)
    body = response.json()
    assert {key: value for key, value in body.items() if key not in ("created_at", "updated_at")} == {
        "id": location.pk,
        "nickname": "blr-main",
        "name": "Bengaluru warehouse",
        "contact_name": "Asha Rao",
        "phone": "+919812345678",
        "email": "ops@acme.example",
        "line1": "12 MG Road",
        "line2": "Ashok Nagar",
        "city": "Bengaluru",
        "state": "Karnataka",
        "postcode": "560001",
        "country": "IN",
        "is_default": True,
        "is_active": True,
    }
    assert body["created_at"].endswith("+05:30")
    assert (location.phone, location.is_default) == ("+919812345678", True)


def test_country_defaults_to_india_and_the_state_is_spelled_as_the_country_spells_it(api, merchant):
    # given a body without a country, the state in lower case
    body = location_body(state="karnataka")
    del body["country"]

    # when
    response = api.post(LOCATIONS, body, format="json")

    # then
    assert response.status_code == 201
    assert (response.json()["country"], response.json()["state"]) == ("IN", "Karnataka")


@pytest.mark.parametrize(
    ("changes", "details"),
    [
        ({"postcode": "56001"}, {"postcode": ["Not valid for this country."]}),
        ({"postcode": "ABCDEF"}, {"postcode": ["Not valid for this country."]}),
        ({"state": "Atlantis"}, {"state": ["Not valid for this country."]}),
        ({"state": ""}, {"state": ["This field is required for this country."]}),
        ({"phone": "12345"}, {"phone": ["'12345' is not a valid phone number for IN."]}),
        ({"phone": "call me"}, {"phone": ["'call me' is not a phone number."]}),
        ({"country": "in"}, {"country": ["This value does not match the required pattern."]}),
        ({"email": "not-an-email"}, {"email": ["Enter a valid email address."]}),
        (
            {"nickname": "Main Warehouse"},
            {"nickname": ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.']},
        ),
        ({"line1": ""}, {"line1": ["This field may not be blank."]}),
    ],
    ids=[
        "short-postcode",
        "letters-postcode",
        "unknown-state",
        "missing-state",
        "short-phone",
        "text-phone",
        "lower-case-country",
        "bad-email",
        "nickname-not-a-slug",
        "blank-line1",
    ],
)
def test_bad_location_field_answers_400_and_writes_nothing(api, merchant, changes, details):
    # when
    response = api.post(LOCATIONS, location_body(**changes), format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid(details)
    assert Location.objects.count() == 0


def test_required_fields_missing_answer_400(api, merchant):
    # when
    response = api.post(LOCATIONS, {}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid(
        {
            "nickname": ["This field is required."],
            "name": ["This field is required."],
            "line1": ["This field is required."],
            "city": ["This field is required."],
            "postcode": ["This field is required."],
        }
    )
    assert Location.objects.count() == 0


def test_a_second_location_is_not_the_default_unless_asked(api, merchant):
    # given a first location
    first = api.post(LOCATIONS, location_body(nickname="first"), format="json").json()

    # when
    second = api.post(LOCATIONS, location_body(nickname="second"), format="json")

    # then
    assert second.status_code == 201
    assert second.json()["is_default"] is False
    assert defaults(merchant) == [first["id"]]


def test_creating_with_is_default_moves_the_default(api, merchant):
    # given two locations, the first the default
    first = api.post(LOCATIONS, location_body(nickname="first"), format="json").json()
    api.post(LOCATIONS, location_body(nickname="second"), format="json")

    # when a third is created as the default
    third = api.post(LOCATIONS, location_body(nickname="third", is_default=True), format="json")

    # then exactly one default: the third
    assert third.status_code == 201
    assert third.json()["is_default"] is True
    assert defaults(merchant) == [third.json()["id"]]
    assert api.get(f"{LOCATIONS}{first['id']}/").json()["is_default"] is False


def test_patch_is_default_true_moves_the_default(api, merchant):
    # given
    first = api.post(LOCATIONS, location_body(nickname="first"), format="json").json()
    second = api.post(LOCATIONS, location_body(nickname="second"), format="json").json()

    # when
    response = api.patch(f"{LOCATIONS}{second['id']}/", {"is_default": True}, format="json")

    # then
    assert response.status_code == 200
    assert response.json()["is_default"] is True
    assert defaults(merchant) == [second["id"]]
    assert Location.objects.get(pk=first["id"]).is_default is False


def test_patch_is_default_false_on_the_default_answers_400(api, merchant):
    # given
    first = api.post(LOCATIONS, location_body(nickname="first"), format="json").json()
    api.post(LOCATIONS, location_body(nickname="second"), format="json")
    before = snapshot(merchant)

    # when
    response = api.patch(f"{LOCATIONS}{first['id']}/", {"is_default": False}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid({"is_default": ["Make another location the default instead."]})
    assert snapshot(merchant) == before


def test_deactivating_the_default_answers_400(api, merchant):
    # given
    first = api.post(LOCATIONS, location_body(nickname="first"), format="json").json()
    before = snapshot(merchant)

    # when
    response = api.patch(f"{LOCATIONS}{first['id']}/", {"is_active": False}, format="json")

    # then
    assert response.status_code == 400
    assert response.json() == invalid(
        {"is_active": ["The default location cannot be deactivated; make another the default."]}
    )
    assert snapshot(merchant) == before


def test_patch_validates_and_normalises_like_create(api, merchant):
    # given
    location = api.post(LOCATIONS, location_body(), format="json").json()
    before = snapshot(merchant)

    # when
    bad = api.patch(f"{LOCATIONS}{location['id']}/", {"postcode": "5600"}, format="json")
    good = api.patch(f"{LOCATIONS}{location['id']}/", {"phone": "080 2222 3333", "city": "Bangalore"}, format="json")

    # then
    assert bad.status_code == 400
    assert bad.json() == invalid({"postcode": ["Not valid for this country."]})
    assert good.status_code == 200
    assert (good.json()["phone"], good.json()["city"], good.json()["postcode"]) == (
        "+918022223333",
        "Bangalore",
        "560001",
    )
    assert snapshot(merchant) != before


def test_duplicate_nickname_answers_409(api, merchant):
    # given
    existing = api.post(LOCATIONS, location_body(nickname="main"), format="json").json()
    before = snapshot(merchant)

    # when
    response = api.post(LOCATIONS, location_body(nickname="main", name="Another"), format="json")

    # then
    assert response.status_code == 409
    assert response.json() == {
        "code": "duplicate_nickname",
        "message": "A location named 'main' already exists.",
        "details": {"nickname": "main", "existing_id": existing["id"]},
    }
    assert snapshot(merchant) == before


def test_renaming_to_a_taken_nickname_answers_409(api, merchant):
    # given
    taken = api.post(LOCATIONS, location_body(nickname="taken"), format="json").json()
    free = api.post(LOCATIONS, location_body(nickname="free"), format="json").json()
    before = snapshot(merchant)

    # when
    response = api.patch(f"{LOCATIONS}{free['id']}/", {"nickname": "taken"}, format="json")

    # then
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_nickname"
    assert response.json()["details"] == {"nickname": "taken", "existing_id": taken["id"]}
    assert snapshot(merchant) == before


def test_the_same_nickname_at_another_merchant_is_allowed(api, merchant, other_merchant):
    # given
    LocationFactory(merchant=other_merchant, nickname="main", is_default=True)

    # when
    response = api.post(LOCATIONS, location_body(nickname="main"), format="json")

    # then the merchant's first location, and its default, whatever the other merchant has
    assert response.status_code == 201
    assert response.json()["is_default"] is True


def test_delete_a_location_holding_stock_answers_409(api, merchant):
    # given a non-default location with a stock record
    api.post(LOCATIONS, location_body(nickname="main"), format="json")
    spare = api.post(LOCATIONS, location_body(nickname="spare"), format="json").json()
    stock(ProductFactory(merchant=merchant), Location.objects.get(pk=spare["id"]), 0)

    # when
    response = api.delete(f"{LOCATIONS}{spare['id']}/")

    # then
    assert response.status_code == 409
    assert response.json() == {
        "code": "location_in_use",
        "message": "The location holds stock records; deactivate it instead.",
        "details": {"location": spare["id"]},
    }
    assert Location.objects.filter(pk=spare["id"]).exists()


def test_delete_the_default_while_others_exist_answers_409(api, merchant):
    # given
    main = api.post(LOCATIONS, location_body(nickname="main"), format="json").json()
    api.post(LOCATIONS, location_body(nickname="spare"), format="json")
    before = snapshot(merchant)

    # when
    response = api.delete(f"{LOCATIONS}{main['id']}/")

    # then
    assert response.status_code == 409
    assert response.json() == {
        "code": "location_is_default",
        "message": "Make another location the default first.",
        "details": {"location": main["id"]},
    }
    assert snapshot(merchant) == before


def test_delete_an_unused_location_answers_204(api, merchant):
    # given
    main = api.post(LOCATIONS, location_body(nickname="main"), format="json").json()
    spare = api.post(LOCATIONS, location_body(nickname="spare"), format="json").json()

    # when
    response = api.delete(f"{LOCATIONS}{spare['id']}/")

    # then
    assert response.status_code == 204
    assert list(Location.objects.filter(merchant=merchant).values_list("pk", flat=True)) == [main["id"]]


def test_delete_the_only_location_answers_204_and_the_next_becomes_the_default(api, merchant):
    # given
    only = api.post(LOCATIONS, location_body(nickname="only"), format="json").json()

    # when
    response = api.delete(f"{LOCATIONS}{only['id']}/")
    following = api.post(LOCATIONS, location_body(nickname="next"), format="json")

    # then
    assert response.status_code == 204
    assert following.json()["is_default"] is True
    assert defaults(merchant) == [following.json()["id"]]


def test_another_merchants_location_is_404_and_unchanged(api, other_merchant):
    # given
    theirs = LocationFactory(merchant=other_merchant, nickname="theirs", is_default=True)
    before = snapshot(other_merchant)

    # when
    responses = [
        api.get(f"{LOCATIONS}{theirs.pk}/"),
        api.patch(f"{LOCATIONS}{theirs.pk}/", {"name": "Mine"}, format="json"),
        api.delete(f"{LOCATIONS}{theirs.pk}/"),
    ]

    # then
    assert [r.status_code for r in responses] == [404, 404, 404]
    assert snapshot(other_merchant) == before


def test_locations_are_listed_by_nickname_with_filters(api, merchant, other_merchant):
    # given
    main = api.post(LOCATIONS, location_body(nickname="main", city="Bengaluru"), format="json").json()
    depot = api.post(
        LOCATIONS,
        location_body(nickname="depot", city="Mumbai", state="Maharashtra", postcode="400001"),
        format="json",
    ).json()
    closed = api.post(LOCATIONS, location_body(nickname="closed"), format="json").json()
    api.patch(f"{LOCATIONS}{closed['id']}/", {"is_active": False}, format="json")
    LocationFactory(merchant=other_merchant, nickname="aaa")

    def listed(params=None):
        return [row["id"] for row in api.get(LOCATIONS, params or {}).json()["results"]]

    # then
    assert listed() == [closed["id"], depot["id"], main["id"]]
    assert listed({"is_active": "false"}) == [closed["id"]]
    assert listed({"is_default": "true"}) == [main["id"]]
    assert listed({"q": "mumbai"}) == [depot["id"]]
    assert listed({"ordering": "-nickname"}) == [main["id"], depot["id"], closed["id"]]


def test_an_inactive_location_cannot_become_the_default(api, merchant):
    # given an active default and an inactive location
    api.post(LOCATIONS, location_body(nickname="main"), format="json")
    closed = api.post(LOCATIONS, location_body(nickname="closed", is_active=False), format="json").json()
    before = snapshot(merchant)
    api.raise_request_exception = False

    # when
    response = api.patch(f"{LOCATIONS}{closed['id']}/", {"is_default": True}, format="json")

    # then
    assert response.status_code == 400
    assert (response.json()["code"], list(response.json()["details"])) == ("invalid", ["is_default"])
    assert snapshot(merchant) == before


@pytest.mark.parametrize(
    ("first", "changes", "field"),
    [(True, {"is_active": False, "is_default": True}, "is_default"), (False, {"is_active": False}, "is_active")],
    ids=["inactive-asked-default", "inactive-first-location"],
)
def test_creating_an_inactive_default_answers_400(api, merchant, first, changes, field):
    # given an active default unless this is the first location
    if first:
        api.post(LOCATIONS, location_body(nickname="main"), format="json")
    before = snapshot(merchant)
    api.raise_request_exception = False

    # when
    response = api.post(LOCATIONS, location_body(nickname="closed", **changes), format="json")

    # then
    assert response.status_code == 400
    assert (response.json()["code"], list(response.json()["details"])) == ("invalid", [field])
    assert snapshot(merchant) == before

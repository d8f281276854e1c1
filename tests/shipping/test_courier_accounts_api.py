"""Courier accounts in the API: connected with write-only credentials (never answered back, never in an error),
changed without retyping them, scoped to their merchant, with their HTTP log; and couriers booked through them."""

import json

import pytest

from shipping.models import AccountHealth, CourierAccount, CourierHttpLog
from tests.api import invalid
from tests.shipping.adapters.conftest import CREDENTIALS, make_account

URL = "/api/v1/courier-accounts/"
SECRETS = [value for values in CREDENTIALS.values() for value in values.values()]


def no_secret_in(text: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert leaked == []


def test_connect_an_account_the_credentials_are_never_answered(api, merchant):
    response = api.post(
        URL,
        {
            "name": "Delhivery B2C",
            "service": "delhivery",
            "environment": "sandbox",
            "credentials": CREDENTIALS["delhivery"],
            "options": {"client_name": "ACME", "pickup_location": "Acme WH"},
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    account = CourierAccount.objects.get(merchant=merchant)
    assert {k: body[k] for k in ("id", "name", "service", "environment", "is_active", "options", "credentials_set",
                                 "status", "status_message", "failing_since", "circuit_open")} == {
        "id": account.pk, "name": "Delhivery B2C", "service": "delhivery", "environment": "sandbox",
        "is_active": True, "options": {"client_name": "ACME", "pickup_location": "Acme WH"},
        "credentials_set": ["api_token", "webhook_token"], "status": "unverified", "status_message": "",
        "failing_since": None, "circuit_open": False}  # fmt: skip
    assert body["webhook_url"] == f"http://testserver/api/v1/webhooks/couriers/{account.webhook_id}/"
    assert len(account.webhook_id) == 32
    assert "credentials" not in body
    no_secret_in(response.content.decode())
    no_secret_in(api.get(URL).content.decode())
    no_secret_in(api.get(f"{URL}{account.pk}/").content.decode())
    assert account.credentials == CREDENTIALS["delhivery"]


def test_a_change_keeps_the_credentials_left_out_and_new_ones_start_afresh(api, merchant):
    account = make_account(merchant, "shiprocket")
    CourierAccount.objects.filter(pk=account.pk).update(health=AccountHealth.REJECTED, health_message="401",
                                                        session={"token": "old-session-token"})  # fmt: skip

    renamed = api.patch(f"{URL}{account.pk}/", {"name": "Shiprocket main", "credentials": {"password": ""},
                                                "options": {"pickup_location": "Home"}}, format="json")  # fmt: skip
    account.refresh_from_db()
    assert renamed.status_code == 200, renamed.json()
    assert (account.name, account.credentials, account.health, account.options) == (
        "Shiprocket main", CREDENTIALS["shiprocket"], AccountHealth.REJECTED, {"pickup_location": "Home"})  # fmt: skip

    new_password = api.patch(f"{URL}{account.pk}/", {"credentials": {"password": "n3w-Passw0rd"}}, format="json")
    account.refresh_from_db()
    assert new_password.status_code == 200
    assert new_password.json()["status"] == "unverified"
    assert account.credentials["password"] == "n3w-Passw0rd"
    assert (account.session, account.health_message) == ({}, "")
    assert "n3w-Passw0rd" not in new_password.content.decode()


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"name": "X", "service": "delhivery", "credentials": {}},
         {"credentials.api_token": ["This credential is required."]}),
        ({"name": "X", "service": "delhivery", "credentials": {"api_token": "t0ken-value", "password": "pw-secret"}},
         {"credentials.password": ["Not a delhivery credential; these are: api_token, webhook_token."]}),
        ({"name": "X", "service": "shiprocket", "credentials": {"email": "a@b.example"}},
         {"credentials.password": ["This credential is required."]}),
        ({"name": "X", "service": "easypost", "credentials": {"api_key": "EZTK-value"}, "options": {"colour": "red"}},
         {"options.colour": ["Not a easypost option; these are: carrier_accounts."]}),
        ({"name": "X", "service": "fedex", "credentials": {"api_key": "k"}},
         {"service": ['"fedex" is not a valid choice.']}),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field_and_never_echoing_a_credential(api, merchant, body, details):
    response = api.post(URL, body, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["details"] == details
    for value in (body.get("credentials") or {}).values():
        assert value not in response.content.decode()
    assert not CourierAccount.objects.exists()


def test_two_accounts_of_a_merchant_cannot_share_a_name(api, merchant, other_merchant):
    make_account(merchant, "delhivery", name="Main")
    make_account(other_merchant, "delhivery", name="Main")

    response = api.post(URL, {"name": "Main", "service": "easypost", "credentials": CREDENTIALS["easypost"]},
                        format="json")  # fmt: skip

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_courier_account"


def test_another_merchants_account_is_not_found_nor_usable_for_a_courier(api, other_api, merchant, other_merchant):
    mine = make_account(merchant, "delhivery")
    theirs = make_account(other_merchant, "delhivery")

    assert [a["id"] for a in api.get(URL).json()["results"]] == [mine.pk]
    assert other_api.get(f"{URL}{mine.pk}/").status_code == 404
    assert other_api.patch(f"{URL}{mine.pk}/", {"name": "taken"}, format="json").status_code == 404
    assert other_api.get(f"{URL}{mine.pk}/log/").status_code == 404
    assert other_api.post(f"{URL}{mine.pk}/test/").status_code == 404

    # a courier names its merchant's own account only; another merchant's id reads as no account at all
    for account_id in (theirs.pk, 999_999):
        response = api.post(
            "/api/v1/couriers/",
            {
                "code": "dlv",
                "name": "Delhivery",
                "adapter": "delhivery",
                "account": account_id,
                "service_code": "Surface",
            },
            format="json",
        )
        assert (response.status_code, response.json()) == (
            400, invalid({"account": [f"You have no courier account with id {account_id}."]}))  # fmt: skip


def test_a_courier_of_a_service_is_booked_through_an_account_of_that_service(api, merchant):
    delhivery, easypost = make_account(merchant, "delhivery"), make_account(merchant, "easypost")

    created = api.post(
        "/api/v1/couriers/",
        {
            "code": "dlv",
            "name": "Delhivery",
            "adapter": "delhivery",
            "account": delhivery.pk,
            "service_code": "Surface",
        },
        format="json",
    )
    wrong = api.post("/api/v1/couriers/", {"code": "dlv2", "name": "Delhivery 2", "adapter": "delhivery",
                                           "account": easypost.pk}, format="json")  # fmt: skip
    without = api.post("/api/v1/couriers/", {"code": "dlv3", "name": "Delhivery 3", "adapter": "delhivery"},
                       format="json")  # fmt: skip
    offline = api.post("/api/v1/couriers/", {"code": "own", "name": "Own fleet", "account": delhivery.pk},
                       format="json")  # fmt: skip

    assert created.status_code == 201, created.json()
    assert (created.json()["account"], created.json()["service_code"]) == (delhivery.pk, "Surface")
    assert (wrong.status_code, wrong.json()) == (400, invalid(
        {"account": ["The account 'easypost account' is a EasyPost account, not delhivery."]}))  # fmt: skip
    assert (without.status_code, without.json()) == (
        400,
        invalid(
            {"account": ["A Delhivery courier is booked through one of the merchant's Delhivery courier accounts."]}
        ),
    )
    assert (offline.status_code, offline.json()) == (
        400,
        invalid({"account": ["Only couriers of a courier service (Shiprocket, Delhivery, EasyPost) have an account."]}),
    )


def test_the_http_log_is_the_accounts_own_newest_first(api, merchant, other_merchant):
    account, other = make_account(merchant, "delhivery"), make_account(other_merchant, "delhivery")
    for n, acc in enumerate((account, account, other)):
        CourierHttpLog.objects.create(merchant_id=acc.merchant_id, account=acc, operation="track", method="GET",
                                      url=f"https://delhivery.test/api/v1/packages/json/?n={n}", attempt=1,
                                      status_code=200, duration_ms=12, response_body=json.dumps({"n": n}))  # fmt: skip

    response = api.get(f"{URL}{account.pk}/log/")

    assert response.status_code == 200
    assert [row["url"][-3:] for row in response.json()["results"]] == ["n=1", "n=0"]
    assert response.json()["results"][0]["response_body"] == '{"n": 1}'


def test_the_accounts_need_the_shipping_write_scope(merchant):
    from tests.conftest import client_for

    account = make_account(merchant, "delhivery")
    reader = client_for(merchant, scopes=["shipping:read"])

    assert reader.get(URL).status_code == 403
    assert reader.get(f"{URL}{account.pk}/").status_code == 403
    assert reader.post(f"{URL}{account.pk}/test/").status_code == 403


def test_a_webhook_address_never_holds_what_shiprocket_refuses_in_one(api, merchant):
    """Shiprocket refuses a webhook URL containing "shiprocket", "kartrocket", "sr" or "kr"."""
    for n in range(50):
        account = make_account(merchant, "shiprocket", name=f"Shiprocket {n}")
        path = api.get(f"{URL}{account.pk}/").json()["webhook_url"].removeprefix("http://testserver")
        assert [word for word in ("shiprocket", "kartrocket", "sr", "kr") if word in path.lower()] == []

"""Courier accounts in the merchant dashboard: credentials typed once and never shown again, health and circuit
at a glance, "Test connection", the HTTP log, and scoping to the merchant."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from shipping.models import AccountHealth, CourierAccount, CourierHttpLog
from tests.shipping.adapters.conftest import CREDENTIALS, make_account

ADMIN = "/admin/shipping"


@pytest.fixture
def staff_client(client, owner):
    client.force_login(owner)
    return client


def account_form(merchant, **overrides) -> dict:
    data = {"merchant": str(merchant.pk), "name": "Delhivery B2C", "service": "delhivery", "environment": "sandbox",
            "is_active": "on", "credential_api_token": CREDENTIALS["delhivery"]["api_token"],
            "option_client_name": "ACME", "option_pickup_location": "Acme WH"}  # fmt: skip
    return {**data, **overrides}


def test_connect_an_account_the_credentials_are_never_shown_again(staff_client, merchant):
    response = staff_client.post(f"{ADMIN}/courieraccount/add/", account_form(merchant))

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else None
    account = CourierAccount.objects.get(merchant=merchant)
    assert (account.credentials, account.options, account.environment) == (
        {"api_token": "dlv-token-4f0c9a77e1"},
        {"client_name": "ACME", "pickup_location": "Acme WH"},
        "sandbox",
    )
    page = staff_client.get(f"{ADMIN}/courieraccount/{account.pk}/change/").content.decode()
    assert "dlv-token-4f0c9a77e1" not in page
    assert "(stored; leave blank to keep it)" in page
    assert f"/api/v1/webhooks/couriers/{account.webhook_id}/" in page
    assert "dlv-token-4f0c9a77e1" not in staff_client.get(f"{ADMIN}/courieraccount/").content.decode()


def test_a_change_with_blank_credentials_keeps_them(staff_client, merchant):
    account = make_account(merchant, "delhivery", name="Delhivery B2C")

    response = staff_client.post(f"{ADMIN}/courieraccount/{account.pk}/change/",
                                 account_form(merchant, name="Delhivery main", credential_api_token=""))  # fmt: skip

    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.name, account.credentials) == ("Delhivery main", CREDENTIALS["delhivery"])


def test_a_missing_credential_is_a_form_error_and_nothing_is_saved(staff_client, merchant):
    response = staff_client.post(f"{ADMIN}/courieraccount/add/", account_form(merchant, credential_api_token=""))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"__all__": ["Credentials.api token: This credential is "
                                                                     "required."]}  # fmt: skip
    assert not CourierAccount.objects.exists()


def test_the_list_shows_health_and_an_open_circuit(staff_client, merchant):
    since = timezone.now() - timedelta(minutes=3)
    account = make_account(merchant, "delhivery", name="Delhivery B2C")
    CourierAccount.objects.filter(pk=account.pk).update(
        health=AccountHealth.FAILING,
        failing_since=since,
        consecutive_failures=5,
        circuit_open_until=timezone.now() + timedelta(seconds=60),
        health_message="Delhivery answered 503.",
    )

    page = staff_client.get(f"{ADMIN}/courieraccount/").content.decode()

    assert "Failing" in page and "Delhivery answered 503." in page
    assert "(circuit open)" in page
    assert f"/admin/shipping/courierhttplog/?account__id__exact={account.pk}" in page


def test_test_connection_reports_the_answer(staff_client, merchant):
    account = make_account(merchant, "delhivery", name="Delhivery B2C")

    response = staff_client.post(
        f"{ADMIN}/courieraccount/", {"action": "test_connection", "_selected_action": [account.pk]}, follow=True
    )

    account.refresh_from_db()
    assert account.health == AccountHealth.FAILING  # tests point every service at a closed local port
    assert account.last_checked_at is not None
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert len(messages) == 1 and messages[0].startswith("Delhivery B2C: Failing. ")
    assert CourierHttpLog.objects.filter(account=account, error__startswith="not sent").exists()


def test_another_merchants_accounts_and_log_are_not_shown(staff_client, merchant, other_merchant):
    theirs = make_account(other_merchant, "delhivery", name="Their Delhivery")
    CourierHttpLog.objects.create(merchant=other_merchant, account=theirs, operation="track", method="GET",
                                  url="https://delhivery.test/their-call", attempt=1)  # fmt: skip

    assert "Their Delhivery" not in staff_client.get(f"{ADMIN}/courieraccount/").content.decode()
    assert "their-call" not in staff_client.get(f"{ADMIN}/courierhttplog/").content.decode()
    assert staff_client.get(f"{ADMIN}/courieraccount/{theirs.pk}/change/").status_code == 302  # "doesn't exist"

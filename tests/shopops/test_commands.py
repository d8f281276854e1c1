"""The management commands: seed_demo and create_partner_app."""

import base64
from io import StringIO
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from django.test import Client

from shopops.models import Membership, Merchant, PartnerApplication

User = get_user_model()


def run(command: str, *args, **options) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, **options)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "merchants": Merchant.objects.count(),
        "users": User.objects.count(),
        "memberships": Membership.objects.count(),
        "applications": PartnerApplication.objects.count(),
    }


def lines_starting(output: str, prefix: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip().startswith(prefix)]


def client_credentials_token(client_id: str, client_secret: str):
    pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return Client().post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(pair.encode()).decode(),
    )


# -- seed_demo -----------------------------------------------------------------------


def test_seed_demo_creates_the_demo_merchant_owner_and_app(db):
    # when
    output = run("seed_demo")

    # then
    assert counts() == {"merchants": 1, "users": 1, "memberships": 1, "applications": 1}
    merchant = Merchant.objects.get()
    assert merchant.slug == "demo"
    user = User.objects.get()
    assert user.username == "demo"
    assert user.is_staff is True
    assert user.check_password("shopops-demo") is True
    assert Membership.objects.filter(merchant=merchant, user=user, role="owner").count() == 1
    application = PartnerApplication.objects.get()
    assert application.merchant == merchant
    assert application.name == "Demo storefront"

    assert "Demo login:    demo / shopops-demo" in output.splitlines()
    assert lines_starting(output, "Partner app:") == [f"Partner app:   client_id {application.client_id}"]
    [secret_line] = lines_starting(output, "client_secret")
    secret = secret_line.split()[1]
    assert secret_line.strip() == f"client_secret {secret}  (shown once; stored hashed)"
    assert client_credentials_token(application.client_id, secret).status_code == 200


def test_seed_demo_twice_creates_nothing_new(db):
    # given
    run("seed_demo")
    before = counts()
    application = PartnerApplication.objects.get()
    stored_secret = application.client_secret

    # when
    output = run("seed_demo")

    # then
    assert before == {"merchants": 1, "users": 1, "memberships": 1, "applications": 1}
    assert counts() == before
    assert User.objects.get(username="demo").check_password("shopops-demo") is True
    assert Membership.objects.get().role == "owner"
    application.refresh_from_db()
    assert application.client_secret == stored_secret
    assert "Demo login:    demo / shopops-demo" in output.splitlines()
    assert lines_starting(output, "Partner app:") == [f"Partner app:   client_id {application.client_id}"]
    assert lines_starting(output, "client_secret") == []


# -- create_partner_app -------------------------------------------------------------


def test_create_partner_app_prints_the_secret_once_and_it_authenticates(merchant):
    # when
    output = run("create_partner_app", merchant="acme", name="My ERP", scopes="orders:read orders:write catalog:read")

    # then
    application = PartnerApplication.objects.get()
    assert application.merchant == merchant
    assert application.name == "My ERP"
    assert application.authorization_grant_type == "client-credentials"
    assert application.allowed_scopes == "orders:read orders:write catalog:read"

    assert lines_starting(output, "client_id:") == [f"client_id:     {application.client_id}"]
    [secret_line] = lines_starting(output, "client_secret:")
    secret = secret_line.removeprefix("client_secret:").strip()
    assert output.count(secret) == 1
    assert lines_starting(output, "scopes:") == ["scopes:        orders:read orders:write catalog:read"]
    assert application.client_secret != secret
    assert check_password(secret, application.client_secret) is True

    response = client_credentials_token(application.client_id, secret)
    assert response.status_code == 200
    assert response.json()["scope"] == "orders:read orders:write catalog:read"


def test_create_partner_app_authorization_code_with_redirect_uri(merchant):
    # when
    output = run(
        "create_partner_app",
        "--merchant=acme",
        "--name=Storefront",
        "--grant=authorization-code",
        "--redirect-uri=https://app.example.com/callback",
    )

    # then
    application = PartnerApplication.objects.get()
    assert application.authorization_grant_type == "authorization-code"
    assert application.redirect_uris == "https://app.example.com/callback"
    assert application.allowed_scopes == ""
    assert lines_starting(output, "Partner application") == [
        "Partner application 'Storefront' for acme (authorization-code)"
    ]


def test_create_partner_app_unknown_merchant_is_an_error(merchant):
    # when / then
    with pytest.raises(CommandError) as excinfo:
        run("create_partner_app", merchant="nope", name="My ERP")

    assert str(excinfo.value) == "No merchant with slug 'nope'."
    assert PartnerApplication.objects.count() == 0


def test_create_partner_app_unknown_scope_is_an_error_naming_it(merchant):
    # when / then
    with pytest.raises(CommandError) as excinfo:
        run("create_partner_app", merchant="acme", name="My ERP", scopes="orders:read bogus:read")

    assert str(excinfo.value) == "allowed_scopes: Unknown scopes: bogus:read."
    assert PartnerApplication.objects.count() == 0


def test_create_partner_app_authorization_code_without_redirect_uri_is_an_error(merchant):
    # when / then
    with pytest.raises(CommandError) as excinfo:
        run("create_partner_app", merchant="acme", name="Storefront", grant="authorization-code")

    assert str(excinfo.value) == "redirect_uris: redirect_uris cannot be empty with grant_type authorization-code"
    assert PartnerApplication.objects.count() == 0

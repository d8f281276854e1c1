"""OAuth2 end to end through the real /o/token/ and /o/authorize/ endpoints (django-oauth-toolkit)."""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, identify_hasher
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from shopops.models import Membership, PartnerApplication, Role
from shopops.services import partner_application_create
from tests.shopops.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.urls("tests.urls")

AccessToken = get_access_token_model()
Grant = get_grant_model()
RefreshToken = get_refresh_token_model()

REDIRECT_URI = "https://partner.example.com/cb"
USER_PASSWORD = "correct-horse-battery"  # set by UserFactory


def basic_auth(client_id: str, client_secret: str) -> str:
    """HTTP Basic client authentication as RFC 6749 §2.3.1 spells it (form-encoded id and secret)."""
    pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def sha256_hex(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_request(credentials, **data):
    return Client().post(
        "/o/token/", data, HTTP_AUTHORIZATION=basic_auth(credentials.client_id, credentials.client_secret)
    )


def api_get(path: str, access_token: str):
    return Client().get(path, HTTP_AUTHORIZATION=f"Bearer {access_token}")


def code_app(merchant, scopes=("orders:read",)):
    """An authorization-code application of ``merchant`` that skips the consent screen."""
    credentials = partner_application_create(
        merchant=merchant,
        name="Partner app",
        grant_type=PartnerApplication.GRANT_AUTHORIZATION_CODE,
        scopes=list(scopes),
        redirect_uris=REDIRECT_URI,
    )
    credentials.application.skip_authorization = True
    credentials.application.save(update_fields=["skip_authorization"])
    return credentials


def authorize_params(credentials, verifier: str, **overrides) -> dict:
    params = {
        "response_type": "code",
        "client_id": credentials.client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        "scope": "orders:read",
    }
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


def authorize(user, credentials, verifier: str) -> str:
    """Log ``user`` in, go through /o/authorize/ with an S256 challenge and return the code."""
    browser = Client()
    browser.force_login(user)
    response = browser.get("/o/authorize/", authorize_params(credentials, verifier))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert sorted(query) == ["code", "iss"]
    assert query["iss"] == ["http://testserver"]  # RFC 9207 issuer identification
    return query["code"][0]


def exchange_code(credentials, code: str, verifier: str):
    return token_request(
        credentials,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )


# -- client credentials ----------------------------------------------------------


def test_client_credentials_token_carries_the_apps_scopes_and_merchant(merchant):
    # given
    credentials = partner_application_create(
        merchant=merchant, name="ERP", scopes=["orders:read", "orders:write", "catalog:read"]
    )

    # when
    response = token_request(credentials, grant_type="client_credentials")

    # then
    assert response.status_code == 200
    body = response.json()
    assert sorted(body) == ["access_token", "expires_in", "scope", "token_type"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "orders:read orders:write catalog:read"

    me = api_get("/api/v1/me/", body["access_token"])
    assert me.status_code == 200
    assert me.json()["merchant"]["slug"] == "acme"
    assert me.json()["client"] == f"app:{credentials.client_id}"
    assert me.json()["application"] == "ERP"
    assert me.json()["user"] is None
    assert me.json()["role"] is None
    assert me.json()["scopes"] == ["catalog:read", "orders:read", "orders:write"]


def test_client_credentials_scope_beyond_allowed_scopes_is_refused(merchant):
    # given
    credentials = partner_application_create(merchant=merchant, name="ERP", scopes=["orders:read"])

    # when
    response = token_request(credentials, grant_type="client_credentials", scope="orders:read orders:write")

    # then
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert AccessToken.objects.count() == 0


def test_client_credentials_wrong_secret_is_refused(merchant):
    # given
    credentials = partner_application_create(merchant=merchant, name="ERP", scopes=["orders:read"])

    # when
    response = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(credentials.client_id, "not-the-secret"),
    )

    # then
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
    assert AccessToken.objects.count() == 0


# -- authorization code with PKCE ------------------------------------------------------


def test_authorization_code_with_pkce_s256_then_refresh_rotates(merchant):
    # given
    credentials = code_app(merchant)
    user = MembershipFactory(merchant=merchant, role=Role.MANAGER).user
    verifier = secrets.token_urlsafe(48)
    code = authorize(user, credentials, verifier)
    assert Grant.objects.filter(application=credentials.application, user=user).count() == 1

    # when
    response = exchange_code(credentials, code, verifier)

    # then
    assert response.status_code == 200
    issued = response.json()
    assert sorted(issued) == ["access_token", "expires_in", "refresh_token", "scope", "token_type"]
    assert issued["token_type"] == "Bearer"
    assert issued["scope"] == "orders:read"
    assert Grant.objects.count() == 0

    me = api_get("/api/v1/me/", issued["access_token"])
    assert me.status_code == 200
    assert me.json()["merchant"]["slug"] == "acme"
    assert me.json()["client"] == f"app:{credentials.client_id}"
    assert me.json()["user"] == user.username
    assert me.json()["role"] == "manager"
    assert me.json()["scopes"] == ["orders:read"]

    # when the refresh token is used
    refreshed = token_request(credentials, grant_type="refresh_token", refresh_token=issued["refresh_token"])

    # then a new pair is issued and the old refresh token is spent
    assert refreshed.status_code == 200
    renewed = refreshed.json()
    assert renewed["access_token"] != issued["access_token"]
    assert renewed["refresh_token"] != issued["refresh_token"]
    assert renewed["scope"] == "orders:read"
    assert api_get("/api/v1/me/", renewed["access_token"]).json()["user"] == user.username

    # when the old refresh token is presented again
    reused = token_request(credentials, grant_type="refresh_token", refresh_token=issued["refresh_token"])

    # then
    assert reused.status_code == 400
    assert reused.json() == {"error": "invalid_grant"}


def test_authorization_code_reuse_of_refresh_token_revokes_the_rotated_one(merchant):
    # given: REFRESH_TOKEN_REUSE_PROTECTION is on
    credentials = code_app(merchant)
    user = MembershipFactory(merchant=merchant).user
    verifier = secrets.token_urlsafe(48)
    issued = exchange_code(credentials, authorize(user, credentials, verifier), verifier).json()
    renewed = token_request(credentials, grant_type="refresh_token", refresh_token=issued["refresh_token"]).json()

    # when the spent refresh token is replayed
    replayed = token_request(credentials, grant_type="refresh_token", refresh_token=issued["refresh_token"])

    # then the whole family is revoked: the newest refresh token no longer works either
    assert replayed.status_code == 400
    legit = token_request(credentials, grant_type="refresh_token", refresh_token=renewed["refresh_token"])
    assert legit.status_code == 400
    assert legit.json() == {"error": "invalid_grant"}
    assert RefreshToken.objects.filter(application=credentials.application, revoked__isnull=True).count() == 0


def test_pkce_plain_method_is_refused(merchant):
    # given
    credentials = code_app(merchant)
    browser = Client()
    browser.force_login(MembershipFactory(merchant=merchant).user)
    verifier = secrets.token_urlsafe(48)

    # when
    response = browser.get(
        "/o/authorize/", authorize_params(credentials, verifier, code_challenge=verifier, code_challenge_method="plain")
    )

    # then
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    assert parse_qs(location.query) == {
        "error": ["invalid_request"],
        "error_description": ['Unsupported "plain" code_challenge_method; use "S256".'],
    }
    assert Grant.objects.count() == 0


def test_pkce_missing_code_challenge_is_refused(merchant):
    # given
    credentials = code_app(merchant)
    browser = Client()
    browser.force_login(MembershipFactory(merchant=merchant).user)

    # when
    response = browser.get(
        "/o/authorize/",
        authorize_params(credentials, "unused", code_challenge=None, code_challenge_method=None),
    )

    # then
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    assert parse_qs(location.query) == {
        "error": ["invalid_request"],
        "error_description": ["Code challenge required."],
    }
    assert Grant.objects.count() == 0


def test_authorization_code_with_wrong_verifier_is_refused(merchant):
    # given
    credentials = code_app(merchant)
    user = MembershipFactory(merchant=merchant).user
    verifier = secrets.token_urlsafe(48)
    code = authorize(user, credentials, verifier)

    # when
    response = exchange_code(credentials, code, secrets.token_urlsafe(48))

    # then
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant"}
    assert AccessToken.objects.count() == 0


def test_authorization_code_of_a_non_member_cannot_be_exchanged(merchant):
    # given: an outsider (not a member of the app's merchant) authorizes the app
    credentials = code_app(merchant)
    outsider = UserFactory()
    verifier = secrets.token_urlsafe(48)
    code = authorize(outsider, credentials, verifier)
    assert Grant.objects.filter(user=outsider).count() == 1

    # when
    response = exchange_code(credentials, code, verifier)

    # then PartnerOAuth2Validator.validate_code refuses
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant"}
    assert AccessToken.objects.count() == 0
    assert RefreshToken.objects.count() == 0


# -- refused grants -------------------------------------------------------------


@pytest.mark.parametrize("grant_type", ["client-credentials", "authorization-code"])
def test_password_grant_is_refused(merchant, grant_type):
    # given a member with a known password
    user = MembershipFactory(merchant=merchant).user
    if grant_type == "authorization-code":
        credentials = code_app(merchant)
    else:
        credentials = partner_application_create(merchant=merchant, name="ERP")

    # when
    response = token_request(credentials, grant_type="password", username=user.username, password=USER_PASSWORD)

    # then
    assert response.status_code == 400
    assert response.json() == {"error": "unauthorized_client"}
    assert AccessToken.objects.count() == 0


def test_password_grant_does_not_reveal_whether_a_password_is_right(merchant):
    # given
    user = MembershipFactory(merchant=merchant).user
    credentials = partner_application_create(merchant=merchant, name="ERP")

    # when
    right = token_request(credentials, grant_type="password", username=user.username, password=USER_PASSWORD)
    wrong = token_request(credentials, grant_type="password", username=user.username, password="wrong-password")

    # then
    assert (right.status_code, right.json()) == (wrong.status_code, wrong.json())


def test_password_grant_type_cannot_be_saved_on_an_application(merchant):
    # given
    application = PartnerApplication(
        merchant=merchant,
        name="Legacy",
        client_type=PartnerApplication.CLIENT_CONFIDENTIAL,
        authorization_grant_type=PartnerApplication.GRANT_PASSWORD,
        algorithm="",
    )

    # when / then: model validation refuses it
    with pytest.raises(ValidationError) as excinfo:
        application.full_clean()
    assert excinfo.value.message_dict == {
        "authorization_grant_type": ["Only client credentials and authorization code are allowed."]
    }

    # when / then: so does the database
    with pytest.raises(IntegrityError, match="partnerapplication_grant_type_allowed"), transaction.atomic():
        application.save()
    assert PartnerApplication.objects.count() == 0


def test_implicit_grant_is_refused(merchant):
    # given
    credentials = code_app(merchant)
    browser = Client()
    browser.force_login(MembershipFactory(merchant=merchant).user)

    # when
    response = browser.get(
        "/o/authorize/",
        {
            "response_type": "token",
            "client_id": credentials.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "orders:read",
        },
    )

    # then
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    assert parse_qs(location.query) == {"error": ["unauthorized_client"]}
    assert location.fragment == ""
    assert AccessToken.objects.count() == 0
    assert Grant.objects.count() == 0


# -- storage ------------------------------------------------------------------------


def test_tokens_and_client_secret_are_not_stored_in_clear(merchant):
    # given
    credentials = code_app(merchant)
    user = MembershipFactory(merchant=merchant).user
    verifier = secrets.token_urlsafe(48)

    # when
    issued = exchange_code(credentials, authorize(user, credentials, verifier), verifier).json()

    # then
    access = AccessToken.objects.get()
    assert access.token == ""
    assert access.token_checksum == sha256_hex(issued["access_token"])
    refresh = RefreshToken.objects.get()
    assert refresh.token == ""
    assert refresh.token_checksum == sha256_hex(issued["refresh_token"])
    assert refresh.access_token_id == access.pk

    stored_secret = PartnerApplication.objects.values_list("client_secret", flat=True).get(
        pk=credentials.application.pk
    )
    assert stored_secret != credentials.client_secret
    assert identify_hasher(stored_secret).algorithm == "md5"  # tests.settings.PASSWORD_HASHERS
    assert check_password(credentials.client_secret, stored_secret) is True


def test_client_credentials_token_is_stored_as_checksum_only(merchant):
    # given
    credentials = partner_application_create(merchant=merchant, name="ERP", scopes=["orders:read"])

    # when
    raw = token_request(credentials, grant_type="client_credentials").json()["access_token"]

    # then
    assert list(AccessToken.objects.values_list("token", "token_checksum")) == [("", sha256_hex(raw))]


# -- using a token --------------------------------------------------------------------


def test_token_of_an_inactive_merchant_is_refused(merchant):
    # given
    credentials = partner_application_create(merchant=merchant, name="ERP", scopes=["orders:read"])
    raw = token_request(credentials, grant_type="client_credentials").json()["access_token"]
    assert api_get("/api/v1/me/", raw).status_code == 200

    # when
    merchant.is_active = False
    merchant.save(update_fields=["is_active"])
    response = api_get("/api/v1/me/", raw)

    # then
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_inactive_merchant_cannot_get_a_token(merchant):
    # given
    credentials = partner_application_create(merchant=merchant, name="ERP", scopes=["orders:read"])
    merchant.is_active = False
    merchant.save(update_fields=["is_active"])

    # when
    response = token_request(credentials, grant_type="client_credentials")

    # then
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
    assert AccessToken.objects.count() == 0


def test_token_of_a_user_removed_from_the_merchant_is_forbidden(merchant):
    # given
    credentials = code_app(merchant)
    membership = MembershipFactory(merchant=merchant, role=Role.STAFF)
    verifier = secrets.token_urlsafe(48)
    issued = exchange_code(credentials, authorize(membership.user, credentials, verifier), verifier).json()
    assert api_get("/api/v1/me/", issued["access_token"]).status_code == 200

    # when
    Membership.objects.filter(pk=membership.pk).delete()
    response = api_get("/api/v1/me/", issued["access_token"])

    # then
    assert response.status_code == 403
    assert response.json()["code"] == "not_a_member"


def test_token_of_a_deactivated_user_is_refused(merchant):
    # given
    credentials = code_app(merchant)
    user = MembershipFactory(merchant=merchant, role=Role.OWNER).user
    verifier = secrets.token_urlsafe(48)
    issued = exchange_code(credentials, authorize(user, credentials, verifier), verifier).json()
    assert api_get("/api/v1/me/", issued["access_token"]).status_code == 200

    # when
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    response = api_get("/api/v1/me/", issued["access_token"])

    # then
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_refresh_token_of_a_deactivated_user_is_refused(merchant):
    # given
    credentials = code_app(merchant)
    user = MembershipFactory(merchant=merchant).user
    verifier = secrets.token_urlsafe(48)
    issued = exchange_code(credentials, authorize(user, credentials, verifier), verifier).json()

    # when
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    response = token_request(credentials, grant_type="refresh_token", refresh_token=issued["refresh_token"])

    # then
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant"}
    assert AccessToken.objects.filter(user=user).count() == 1

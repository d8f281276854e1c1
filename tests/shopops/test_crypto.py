"""Credentials at rest: encrypted with the newest key, readable with any listed key, rotated by a command, never
shown by a repr, and refused loudly when no key opens them."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection

from shipping.models import CourierAccount
from shopops.crypto import CredentialsUnreadable, Secrets, decrypt, encrypt, encrypted_fields

KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()
CREDENTIALS = {"api_token": "dlv-token-4f0c9a77e1", "webhook_token": "dlv-hook-93mQ"}


def stored_token(account: CourierAccount) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM shipping_courieraccount WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def account(merchant, settings):
    settings.SHOPOPS_CREDENTIALS_KEYS = [KEY_A]
    return CourierAccount.objects.create(merchant=merchant, service="delhivery", name="Delhivery",
                                         credentials=dict(CREDENTIALS))  # fmt: skip


@pytest.mark.django_db
def test_credentials_are_stored_encrypted_and_read_back(account):
    token = stored_token(account)
    assert "dlv-token" not in token and "api_token" not in token
    assert Fernet(KEY_A.encode()).decrypt(token.encode()) == (
        b'{"api_token": "dlv-token-4f0c9a77e1", "webhook_token": "dlv-hook-93mQ"}'
    )
    assert CourierAccount.objects.get(pk=account.pk).credentials == CREDENTIALS


@pytest.mark.django_db
def test_a_repr_names_the_credentials_never_their_values(account):
    loaded = CourierAccount.objects.get(pk=account.pk).credentials
    assert isinstance(loaded, Secrets)
    assert repr(loaded) == str(loaded) == "Secrets(['api_token', 'webhook_token'])"
    assert f"{loaded}" == "Secrets(['api_token', 'webhook_token'])"


def test_an_altered_token_is_refused_not_misread(settings):
    settings.SHOPOPS_CREDENTIALS_KEYS = [KEY_A]
    token = encrypt({"api_key": "k"})
    altered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(CredentialsUnreadable, match="cannot be decrypted"):
        decrypt(altered)


def test_with_debug_off_a_key_is_required(settings):
    settings.SHOPOPS_CREDENTIALS_KEYS, settings.DEBUG = [], False
    with pytest.raises(ImproperlyConfigured, match="SHOPOPS_CREDENTIALS_KEYS must be set"):
        encrypt({"api_key": "k"})
    settings.SHOPOPS_CREDENTIALS_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="32 url-safe base64-encoded bytes"):
        encrypt({"api_key": "k"})


def test_every_encrypted_field_is_known_to_the_rotation():
    assert ("shipping.CourierAccount", "credentials") in {(m._meta.label, f) for m, f in encrypted_fields()}
    assert ("shipping.CourierAccount", "session") in {(m._meta.label, f) for m, f in encrypted_fields()}


@pytest.mark.django_db
def test_rotation_moves_every_value_to_the_newest_key(account, settings):
    CourierAccount.objects.filter(pk=account.pk).update(session={"token": "bearer-abc"})
    settings.SHOPOPS_CREDENTIALS_KEYS = [KEY_B]  # the old key dropped too early: unreadable
    with pytest.raises(CredentialsUnreadable):
        CourierAccount.objects.get(pk=account.pk)
    with pytest.raises(CommandError, match="Put the key it was written with back"):
        call_command("credentials_rotate", stdout=io.StringIO())

    settings.SHOPOPS_CREDENTIALS_KEYS = [KEY_B, KEY_A]  # the new key first, the old one still listed
    assert CourierAccount.objects.get(pk=account.pk).credentials == CREDENTIALS  # readable with either
    out = io.StringIO()
    call_command("credentials_rotate", stdout=out)
    assert "shipping.CourierAccount.credentials: 1 re-encrypted" in out.getvalue().splitlines()
    assert "shipping.CourierAccount.session: 1 re-encrypted" in out.getvalue().splitlines()

    settings.SHOPOPS_CREDENTIALS_KEYS = [KEY_B]  # now the old key can go
    again = CourierAccount.objects.get(pk=account.pk)
    assert again.credentials == CREDENTIALS and again.session == {"token": "bearer-abc"}
    assert Fernet(KEY_B.encode()).decrypt(stored_token(account).encode())

"""Credentials encrypted at rest: the secrets ShopOps keeps for other services (courier accounts, sales channels,
payment gateways).

Encryption is ``cryptography``'s Fernet (AES-128-CBC with an HMAC-SHA256 over the token, a timestamp, a random
IV): a maintained, audited library whose tokens authenticate what they carry, so a value altered in the
database fails to decrypt instead of decrypting to garbage. ``MultiFernet`` over a list of keys gives rotation:
the first key encrypts, every key decrypts, and ``manage.py credentials_rotate`` re-encrypts what is stored with
the first key, after which the old key can be dropped.

The keys come from the environment, ``SHOPOPS_CREDENTIALS_KEYS`` (comma-separated, newest first; make one with
``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``). With DEBUG on and
no keys set, one key is derived from SECRET_KEY so the demo runs; with DEBUG off the variable is required.
"""

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models

UNREADABLE = "The stored credentials cannot be decrypted with SHOPOPS_CREDENTIALS_KEYS."
#: The longest credential accepted (a token or key; a longer value is a paste gone wrong).
CREDENTIAL_MAX_LENGTH = 2000


class CredentialsUnreadable(Exception):
    """Stored credentials no configured key can decrypt (a key was dropped too early, or the value was altered)."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("SHOPOPS_CREDENTIALS_KEYS: each key is 32 url-safe base64-encoded bytes, as "
                                   "Fernet.generate_key() makes them.") from exc  # fmt: skip


def credentials_keys() -> tuple[str, ...]:
    keys = tuple(settings.SHOPOPS_CREDENTIALS_KEYS)
    if keys:
        return keys
    if settings.DEBUG:  # the demo's key: derived from the development secret, never used with DEBUG off
        return (base64.urlsafe_b64encode(hashlib.sha256(b"credentials:" + settings.SECRET_KEY.encode()).digest())
                .decode(),)  # fmt: skip
    raise ImproperlyConfigured("SHOPOPS_CREDENTIALS_KEYS must be set when DJANGO_DEBUG is off.")


def encrypt(plain: dict) -> str:
    """``plain`` (a JSON object) as a Fernet token, with the newest key."""
    return _fernet(credentials_keys()).encrypt(json.dumps(plain, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict:
    """The JSON object in ``token``; ``CredentialsUnreadable`` when no key opens it."""
    if not token:
        return {}
    try:
        return json.loads(_fernet(credentials_keys()).decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsUnreadable(UNREADABLE) from exc


def rotate(token: str) -> str:
    """``token`` re-encrypted with the newest key (unchanged content); ``CredentialsUnreadable`` when no key opens
    it."""
    if not token:
        return token
    try:
        return _fernet(credentials_keys()).rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialsUnreadable(UNREADABLE) from exc


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) that keeps credentials encrypted."""
    from django.apps import apps

    return [(model, field.name) for model in apps.get_models() for field in model._meta.concrete_fields
            if isinstance(field, EncryptedJSONField)]  # fmt: skip


def rotate_field(model: type[models.Model], field: str, *, batch: int = 500) -> int:
    """Re-encrypt ``field`` of every row of ``model`` with the newest key (``credentials_rotate``); a row changed
    meanwhile is left to its writer, who encrypted it with the newest key already. Returns the rows rewritten."""
    from django.db.models import TextField
    from django.db.models.functions import Cast

    rows = model.objects.exclude(**{field: ""}).annotate(token=Cast(field, TextField())).order_by("pk")
    rewritten, last = 0, None
    while True:
        page = rows.filter(pk__gt=last) if last is not None else rows
        chunk = list(page.values_list("pk", "token")[:batch])
        if not chunk:
            return rewritten
        for pk, token in chunk:
            new = rotate(token)
            if new != token:
                rewritten += model.objects.filter(pk=pk, **{field: token}).update(**{field: new})
        last = chunk[-1][0]


class Secrets(dict):
    """Decrypted credentials: a dict whose repr names the keys only, so a log line, a traceback's locals or an
    error message that shows one never shows the values."""

    def __repr__(self) -> str:
        return f"Secrets({sorted(self)})"

    __str__ = __repr__


class EncryptedJSONField(models.TextField):
    """A JSON object stored as a Fernet token; read back as ``Secrets``. Not searchable, not orderable."""

    def from_db_value(self, value, expression, connection):
        return Secrets(decrypt(value)) if value else Secrets()

    def to_python(self, value):
        if isinstance(value, dict):
            return Secrets(value)
        return Secrets(decrypt(value)) if value else Secrets()

    def get_prep_value(self, value):
        if value is None:
            return ""
        if isinstance(value, str):  # already a token (a rotation writes tokens)
            return value
        return encrypt(dict(value)) if value else ""

    def value_to_string(self, obj):  # dumpdata never writes the plain secrets
        return self.get_prep_value(self.value_from_object(obj))


def merge_credentials(fields: dict[str, bool], given: dict[str, Any] | None, stored: dict[str, str], *,
                      kind: str) -> dict[str, str]:  # fmt: skip
    """Credentials after a change: ``fields`` names the ``kind``'s credentials (name -> required); a value given
    replaces the stored one, a blank or missing one keeps it (a form never shows the stored values, so it cannot
    send them back). Field errors (``credentials.<name>``) for unknown names, non-strings, and required ones
    missing."""
    errors = {}
    merged = dict(stored)
    for name, value in (given or {}).items():
        if name not in fields:
            errors[f"credentials.{name}"] = [f"Not a {kind} credential; these are: {', '.join(fields)}."]
        elif not isinstance(value, str) or len(value) > CREDENTIAL_MAX_LENGTH:
            errors[f"credentials.{name}"] = [f"A string of at most {CREDENTIAL_MAX_LENGTH} characters."]
        elif value.strip():
            merged[name] = value.strip()
    for name, required in fields.items():
        if required and not merged.get(name) and f"credentials.{name}" not in errors:
            errors[f"credentials.{name}"] = ["This credential is required."]
    if errors:
        raise ValidationError(errors)
    return {name: merged[name] for name in fields if merged.get(name)}

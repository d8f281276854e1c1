"""Writes of the core: merchants, members, partner applications, idempotency keys."""

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_id

from shopops.models import Counter, IdempotencyKey, Membership, Merchant, PartnerApplication, Role


def merchant_create(
    *, name: str, slug: str, time_zone: str = "Asia/Kolkata", default_currency: str = "INR", **fields
) -> Merchant:
    merchant = Merchant(name=name, slug=slug, time_zone=time_zone, default_currency=default_currency, **fields)
    merchant.full_clean()
    merchant.save()
    return merchant


def membership_add(*, merchant: Merchant, user, role: str = Role.STAFF) -> Membership:
    """Add ``user`` to ``merchant`` (or change their role). Members use the admin, so they are staff users."""
    membership, _ = Membership.objects.update_or_create(merchant=merchant, user=user, defaults={"role": role})
    if not user.is_staff:
        get_user_model().objects.filter(pk=user.pk).update(is_staff=True)
        user.is_staff = True
    return membership


@dataclass(frozen=True)
class PartnerCredentials:
    application: PartnerApplication
    client_id: str
    client_secret: str


def partner_application_create(
    *,
    merchant: Merchant,
    name: str,
    grant_type: str = PartnerApplication.GRANT_CLIENT_CREDENTIALS,
    scopes: list[str] | None = None,
    redirect_uris: str = "",
    user=None,
) -> PartnerCredentials:
    """Create a partner application; the returned secret is the only clear copy (it is stored hashed)."""
    client_secret = secrets.token_urlsafe(48)
    application = PartnerApplication(
        merchant=merchant,
        name=name,
        client_id=generate_client_id(),
        client_secret=client_secret,
        client_type=PartnerApplication.CLIENT_CONFIDENTIAL,
        authorization_grant_type=grant_type,
        redirect_uris=redirect_uris,
        allowed_scopes=" ".join(scopes or []),
        algorithm="",
        user=user,
    )
    application.full_clean()
    application.save()
    return PartnerCredentials(application=application, client_id=application.client_id, client_secret=client_secret)


def counter_next(*, merchant: Merchant, name: str, count: int = 1) -> int:
    """Reserve ``count`` consecutive numbers of a sequence; returns the first.

    Runs inside the caller's transaction and holds the counter's row lock until
    it commits, so numbers are gap-free: a rolled-back caller gives its numbers back.
    """
    if count < 1:
        raise ValueError("count must be positive")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("counter_next must run inside the transaction that uses the numbers")
    Counter.objects.get_or_create(merchant=merchant, name=name)
    counter = Counter.objects.select_for_update().get(merchant=merchant, name=name)
    first = counter.value + 1
    Counter.objects.filter(pk=counter.pk).update(value=counter.value + count)
    return first


# -- idempotency -------------------------------------------------------------------


@dataclass(frozen=True)
class IdempotencyClaim:
    """The outcome of presenting a key: ``claimed`` (go ahead), ``replay``, ``mismatch`` or ``in_flight``."""

    outcome: str
    record: IdempotencyKey


def idempotency_key_claim(*, merchant: Merchant, client: str, key: str, fingerprint: str) -> IdempotencyClaim:
    """Claim ``key`` for one request, atomically across processes.

    The unique constraint on (merchant, client, key) decides the race: exactly
    one concurrent insert wins. A completed record older than the TTL, or an
    in-flight one whose lock expired (its process died), is taken over by a
    conditional UPDATE that only one caller can win.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            record = IdempotencyKey.objects.create(
                merchant=merchant, client=client, key=key, fingerprint=fingerprint, locked_at=now
            )
        return IdempotencyClaim("claimed", record)
    except IntegrityError:
        pass
    record = IdempotencyKey.objects.get(merchant=merchant, client=client, key=key)
    expired = record.created_at < now - settings.IDEMPOTENCY_KEY_TTL
    abandoned = record.status == IdempotencyKey.Status.IN_FLIGHT and (
        record.locked_at < now - settings.IDEMPOTENCY_LOCK_TIMEOUT
    )
    if expired or abandoned:
        taken = IdempotencyKey.objects.filter(pk=record.pk, locked_at=record.locked_at, status=record.status).update(
            fingerprint=fingerprint,
            status=IdempotencyKey.Status.IN_FLIGHT,
            response_status=None,
            response_content=None,
            response_headers={},
            locked_at=now,
            created_at=now,
        )
        record.refresh_from_db()
        if taken:
            return IdempotencyClaim("claimed", record)
    if record.fingerprint != fingerprint:
        return IdempotencyClaim("mismatch", record)
    if record.status == IdempotencyKey.Status.IN_FLIGHT:
        return IdempotencyClaim("in_flight", record)
    return IdempotencyClaim("replay", record)


def idempotency_key_complete(*, record: IdempotencyKey, status: int, content: bytes, headers: dict[str, str]) -> None:
    """Store the response sent for ``record``'s request, byte for byte (a replay sends the same bytes)."""
    IdempotencyKey.objects.filter(pk=record.pk, locked_at=record.locked_at).update(
        status=IdempotencyKey.Status.COMPLETED, response_status=status, response_content=content,
        response_headers=headers,
    )  # fmt: skip


def idempotency_key_release(*, record: IdempotencyKey) -> None:
    """Forget a key whose request failed with a server error, so the client may retry it."""
    IdempotencyKey.objects.filter(
        pk=record.pk, locked_at=record.locked_at, status=IdempotencyKey.Status.IN_FLIGHT
    ).delete()


def idempotency_keys_prune(*, now: datetime | None = None) -> int:
    """Delete keys past their 24 h retention. Returns how many were deleted."""
    cutoff = (now or timezone.now()) - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted

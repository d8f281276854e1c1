"""Writes of the core: merchants, members and invitations, partner applications, idempotency keys."""

import logging
import re
import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.generators import generate_client_id

from shopops.dispatch import send_on_commit
from shopops.errors import ACCOUNT_EXISTS, INVITATION_ACCEPTED, INVITATION_PENDING, INVITATION_WAS_REVOKED, LAST_OWNER
from shopops.models import (
    IDEMPOTENCY_KEY_STATES,
    Counter,
    IdempotencyKey,
    Invitation,
    InvitationStatus,
    Membership,
    Merchant,
    PartnerApplication,
    Role,
)
from shopops.public_urls import public_url
from shopops.selectors import invitation_for_token, invitation_refusal, invitation_token_digest
from shopops.transitions import transition_where

logger = logging.getLogger(__name__)


def merchant_create(
    *, name: str, slug: str, time_zone: str = "Asia/Kolkata", default_currency: str = "INR", **fields
) -> Merchant:
    merchant = Merchant(name=name, slug=slug, time_zone=time_zone, default_currency=default_currency, **fields)
    merchant.full_clean()
    merchant.save()
    return merchant


# -- members -------------------------------------------------------------------------


def _validate_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": [f"{role!r} is not a role: choose one of {', '.join(Role.values)}."]})


def _lock_merchant(merchant_id: int) -> None:
    """Serialise one merchant's membership changes: its row is the lock (two owners demoting each other)."""
    list(Merchant.objects.select_for_update().filter(pk=merchant_id).values_list("pk", flat=True))


def _keep_an_owner(membership: Membership) -> None:
    """Refuse to take the owner role from the merchant's last owner (called with the merchant locked)."""
    others = Membership.objects.filter(merchant_id=membership.merchant_id, role=Role.OWNER).exclude(pk=membership.pk)
    if not others.exists():
        raise LAST_OWNER(
            "A merchant must keep at least one owner: make another member an owner first.",
            {"membership": membership.pk},
        )


def membership_add(*, merchant: Merchant, user, role: str = Role.STAFF) -> Membership:
    """Add ``user`` to ``merchant`` (or change their role). Members use the admin, so they are staff users.

    Members join by invitation (``invitation_accept``); only superusers add an existing user directly.
    """
    _validate_role(role)
    with transaction.atomic():
        _lock_merchant(merchant.pk)
        membership = Membership.objects.filter(merchant=merchant, user=user).first()
        if membership is None:
            membership = Membership.objects.create(merchant=merchant, user=user, role=role)
        elif membership.role != role:
            if membership.role == Role.OWNER:
                _keep_an_owner(membership)
            membership.role = role
            membership.save(update_fields=["role", "updated_at"])
        if not user.is_staff:
            get_user_model().objects.filter(pk=user.pk).update(is_staff=True)
            user.is_staff = True
    return membership


def membership_role_change(*, membership: Membership, role: str) -> Membership:
    """Give a member another role; the merchant's last owner keeps theirs (409 ``last_owner``)."""
    _validate_role(role)
    with transaction.atomic():
        _lock_merchant(membership.merchant_id)
        current = Membership.objects.get(pk=membership.pk)
        if current.role == Role.OWNER and role != Role.OWNER:
            _keep_an_owner(current)
        if current.role != role:
            current.role = role
            current.save(update_fields=["role", "updated_at"])
    return current


def membership_remove(*, membership: Membership) -> None:
    """Remove a member from the merchant; the last owner cannot be removed (409 ``last_owner``)."""
    with transaction.atomic():
        _lock_merchant(membership.merchant_id)
        current = Membership.objects.filter(pk=membership.pk).first()
        if current is None:
            return
        if current.role == Role.OWNER:
            _keep_an_owner(current)
        current.delete()


# -- invitations -----------------------------------------------------------------------

#: Failures worth another try: the invitation's send task retries with backoff.
TRANSIENT_EMAIL_ERRORS = (ConnectionError, TimeoutError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)


def _normalised_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": exc.messages}) from exc
    return email


def _send_after_commit(invitation: Invitation) -> None:
    send_on_commit("shopops.tasks.notify_invitation", invitation.pk)


def invitation_create(*, merchant: Merchant, email: str, role: str = Role.STAFF, invited_by=None) -> Invitation:
    """Invite ``email`` to join ``merchant`` as ``role``; the email with the link is sent after commit.

    Nothing here depends on whether an account with that address exists. An address that is already a member
    of the merchant is refused; so is a second invitation while one is pending (409 ``invitation_pending``:
    resend or revoke it). An expired invitation to the address is renewed: new link, new expiry, this role.
    """
    email = _normalised_email(email)
    _validate_role(role)
    if Membership.objects.filter(merchant=merchant, user__email__iexact=email).exists():
        raise ValidationError({"email": [f"{email} is already a member of {merchant.name}."]})
    now = timezone.now()
    pending = INVITATION_PENDING(f"An invitation to {email} is pending: resend it or revoke it.", {"email": email})
    try:
        with transaction.atomic():
            invitation = (
                Invitation.objects.select_for_update()
                .filter(merchant=merchant, email=email, accepted_at__isnull=True, revoked_at__isnull=True)
                .first()
            )
            if invitation is not None and invitation.expires_at > now:
                raise pending
            invitation = invitation or Invitation(merchant=merchant, email=email)
            invitation.role, invitation.invited_by = role, invited_by
            invitation.expires_at = now + settings.SHOPOPS_INVITATION_TTL
            invitation.token_digest = None  # sending issues the link
            invitation.save()
    except IntegrityError as exc:  # a concurrent invitation to the same address was saved first
        raise pending from exc
    _send_after_commit(invitation)
    return invitation


def invitation_resend(*, invitation: Invitation) -> Invitation:
    """Send a new link with a new expiry; the previous link stops working at once."""
    with transaction.atomic():
        current = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if current.accepted_at is not None:
            raise INVITATION_ACCEPTED(f"The invitation to {current.email} was accepted already.")
        if current.revoked_at is not None:
            raise INVITATION_WAS_REVOKED(f"The invitation to {current.email} was revoked: invite them again.")
        current.expires_at = timezone.now() + settings.SHOPOPS_INVITATION_TTL
        current.token_digest = None
        current.save(update_fields=["expires_at", "token_digest", "updated_at"])
    _send_after_commit(current)
    return current


def invitation_revoke(*, invitation: Invitation) -> Invitation:
    """Withdraw an invitation: its link answers "withdrawn" from now on. Revoking twice changes nothing."""
    with transaction.atomic():
        current = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if current.accepted_at is not None:
            raise INVITATION_ACCEPTED(
                f"The invitation to {current.email} was accepted already: remove the member instead.",
            )
        if current.revoked_at is None:
            current.revoked_at = timezone.now()
            current.save(update_fields=["revoked_at", "updated_at"])
    return current


def invitation_send(*, invitation_id: int) -> Invitation | None:
    """Issue a new link for a pending invitation and email it (the task behind create and resend).

    The token is made here, in the worker, and only its digest is stored: no queue or table holds a usable
    link. A transient failure is noted and re-raised (the task retries with a new link); any other is noted.
    """
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("merchant", "invited_by")
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None or invitation.status != InvitationStatus.PENDING:
            return invitation
        invitation.token_digest = invitation_token_digest(token)
        invitation.save(update_fields=["token_digest", "updated_at"])
    merchant = invitation.merchant
    inviter = invitation.invited_by
    context = {
        "merchant": merchant.name,
        "role": Role(invitation.role).label,
        "inviter": (inviter.get_full_name() or inviter.get_username()) if inviter else "",
        "url": public_url(reverse("invitation", kwargs={"token": token})),
        "expires_at": timezone.localtime(invitation.expires_at, merchant.tzinfo),
    }
    subject = " ".join(render_to_string("emails/invitation_subject.txt", context).split())
    body = render_to_string("emails/invitation.txt", context)
    sent = Invitation.objects.filter(pk=invitation.pk)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])
    except TRANSIENT_EMAIL_ERRORS as exc:
        sent.update(send_error=f"Not sent yet, retrying: {exc}"[:500], updated_at=timezone.now())
        raise
    except Exception as exc:  # a refusal (bad address, server says no) is kept for the admin; "resend" tries again
        logger.warning("Invitation %s not sent: %s", invitation.pk, exc)
        sent.update(send_error=str(exc)[:500] or type(exc).__name__, updated_at=timezone.now())
    else:
        sent.update(sent_at=timezone.now(), send_error="", updated_at=timezone.now())
    invitation.refresh_from_db()
    return invitation


def _accept(invitation: Invitation, user) -> Membership:
    """Make ``user`` a member (a member already keeps their role) and close the invitation; all checked."""
    membership = Membership.objects.filter(merchant_id=invitation.merchant_id, user=user).first()
    if membership is None:
        membership = membership_add(merchant=invitation.merchant, user=user, role=invitation.role)
    if invitation.accepted_at is None:
        invitation.accepted_at, invitation.accepted_by = timezone.now(), user
        invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    return membership


def invitation_accept(*, user, token: str) -> Membership:
    """Accept an invitation as the logged-in ``user``, whose email must be the invited address (any case).

    Refusals (see ``shopops.selectors.invitation_refusal``): 404 unknown link, 410 expired, revoked or used by
    someone else, 403 another address. Accepting again as the same user returns the membership. A user who is
    already a member keeps their role.
    """
    with transaction.atomic():
        invitation = invitation_for_token(token, lock=True)
        if refusal := invitation_refusal(invitation, user):
            raise refusal
        return _accept(invitation, user)


def _username_for(email: str) -> str:
    """A free username for a new account: the address itself when it is a valid username."""
    base = re.sub(r"[^\w.@+-]", "", email)[:140] or "member"
    username = base
    User = get_user_model()
    while User.objects.filter(username__iexact=username).exists():
        username = f"{base}-{secrets.token_hex(3)}"
    return username


def invitation_sign_up(*, token: str, password: str, first_name: str = "", last_name: str = "") -> Membership:
    """Create an account for the invited address and accept the invitation with it, in one transaction.

    The link proves the address. An address that already has an account is refused (409 ``account_exists``:
    log in instead); this only tells the holder of a valid link about the invited address itself.
    The password must pass Django's password validators.
    """
    User = get_user_model()
    with transaction.atomic():
        invitation = invitation_for_token(token, lock=True)
        if refusal := invitation_refusal(invitation):
            raise refusal
        email = invitation.email
        if User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).exists():
            raise ACCOUNT_EXISTS(f"An account for {email} exists already: log in with it to accept the invitation.")
        username = _username_for(email)
        candidate = User(username=username, email=email, first_name=first_name, last_name=last_name)
        try:
            validate_password(password, user=candidate)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        user = User.objects.create_user(
            username=username, email=email, password=password, first_name=first_name, last_name=last_name
        )
        return _accept(invitation, user)


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
        mine = IdempotencyKey.objects.filter(pk=record.pk, locked_at=record.locked_at, status=record.status)
        taken = transition_where(
            IDEMPOTENCY_KEY_STATES,
            mine,
            IdempotencyKey.Status.IN_FLIGHT,
            fingerprint=fingerprint,
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
    mine = IdempotencyKey.objects.filter(pk=record.pk, locked_at=record.locked_at)
    transition_where(IDEMPOTENCY_KEY_STATES, mine, IdempotencyKey.Status.COMPLETED, response_status=status,
                     response_content=content, response_headers=headers)  # fmt: skip


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

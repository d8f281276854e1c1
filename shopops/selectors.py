"""Reads of the core: invitations as their links see them."""

import hashlib

from shopops.errors import (
    INVITATION_EMAIL_MISMATCH,
    INVITATION_EXPIRED,
    INVITATION_NOT_FOUND,
    INVITATION_REVOKED,
    INVITATION_USED,
    DomainError,
)
from shopops.models import Invitation

#: Longest token a link may carry (ours have 43 characters); anything longer is not looked up.
INVITATION_TOKEN_MAX_LENGTH = 128


def invitation_token_digest(token: str) -> str:
    """The SHA-256 digest stored for a link's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_for_token(token: str, *, lock: bool = False) -> Invitation:
    """The invitation a link's token names (locked with ``lock``, inside a transaction).

    An unknown token, or one whose merchant is inactive, is a 404 ``invitation_not_found`` that says nothing
    about any merchant or user.
    """
    invitation = None
    if token and len(token) <= INVITATION_TOKEN_MAX_LENGTH and token.isascii():
        invitations = Invitation.objects.select_related("merchant")
        if lock:
            invitations = invitations.select_for_update(of=("self",))
        invitation = invitations.filter(token_digest=invitation_token_digest(token)).first()
    if invitation is None or not invitation.merchant.is_active:
        raise INVITATION_NOT_FOUND(
            "This invitation link is not valid: check that you opened the whole link from the email.",
        )
    return invitation


def invitation_refusal(invitation: Invitation, user=None) -> DomainError | None:
    """Why ``invitation`` cannot be accepted (by ``user``, when given), or None.

    410 ``invitation_used`` (accepted by someone else: the same user accepting again is fine),
    ``invitation_revoked`` or ``invitation_expired``; 403 ``invitation_email_mismatch`` when the user's email
    is not the invited address (compared without case).
    """
    if invitation.accepted_at is not None:
        if user is not None and invitation.accepted_by_id == user.pk:
            return None
        return INVITATION_USED("This invitation has been used already.")
    if invitation.revoked_at is not None:
        return INVITATION_REVOKED("This invitation was withdrawn by the person who sent it.")
    if invitation.status == "expired":
        return INVITATION_EXPIRED("This invitation has expired: ask the person who sent it for a new one.")
    if user is not None and (user.email or "").strip().lower() != invitation.email:
        return INVITATION_EMAIL_MISMATCH(
            "This invitation was sent to another email address than your account's: log in with the account of "
            "the invited address, or create one.",
        )
    return None

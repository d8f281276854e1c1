"""Invitations: created, sent, resent, revoked and accepted through services; owners manage them in the admin."""

import re
import smtplib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from shopops import tasks
from shopops.api.exceptions import status_for
from shopops.celery import app
from shopops.errors import DomainError
from shopops.models import Invitation, Membership
from shopops.selectors import invitation_token_digest
from shopops.services import (
    invitation_accept,
    invitation_create,
    invitation_resend,
    invitation_revoke,
    invitation_send,
    invitation_sign_up,
)
from tests.shopops.factories import InvitationFactory, MembershipFactory, UserFactory, invitation_with_link

INVITATIONS_URL = "/admin/shopops/invitation/"
LINK = re.compile(r"http://127\.0\.0\.1:8000/invitations/([A-Za-z0-9_-]+)/")


def sent_tokens() -> list[str]:
    return [token for message in mail.outbox for token in LINK.findall(message.body)]


def invite(merchant, email, role="staff", invited_by=None, capture=None) -> tuple[Invitation, str]:
    with capture(execute=True):
        invitation = invitation_create(merchant=merchant, email=email, role=role, invited_by=invited_by)
    invitation.refresh_from_db()
    return invitation, sent_tokens()[-1]


class RefusingBackend:
    """An email server that refuses every recipient."""

    def __init__(self, **kwargs):
        pass

    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"No such mailbox")})


class UnreachableBackend(RefusingBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("Connection refused")


# -- creating and sending ------------------------------------------------------------------------------------


def test_an_invitation_is_emailed_with_a_link_whose_token_is_stored_only_as_a_digest(
    merchant, owner, django_capture_on_commit_callbacks
):
    owner.first_name, owner.last_name = "Asha", "Rao"
    owner.save()
    started = timezone.now()

    invitation, token = invite(merchant, "  New.Person@Example.COM ", "manager", owner,
                               django_capture_on_commit_callbacks)  # fmt: skip

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@example.com"]
    assert message.subject == "Asha Rao invited you to join Acme Retail on ShopOps"
    assert "join Acme Retail on ShopOps as manager." in message.body
    expires = timezone.localtime(invitation.expires_at, merchant.tzinfo)
    assert f"The link works until {expires:%A}, {expires.day} {expires:%B %Y, %H:%M} (IST) and only once." in (
        message.body
    )
    assert f"http://127.0.0.1:8000/invitations/{token}/\n" in message.body
    assert invitation.email == "new.person@example.com"
    assert (invitation.role, invitation.invited_by, invitation.status) == ("manager", owner, "pending")
    assert invitation.token_digest == invitation_token_digest(token)
    assert token not in str(Invitation.objects.filter(pk=invitation.pk).values().get())
    assert timedelta(days=7) <= invitation.expires_at - started <= timedelta(days=7, seconds=60)
    assert invitation.sent_at is not None and invitation.send_error == ""


def test_the_expiry_is_a_setting(merchant, settings, django_capture_on_commit_callbacks):
    settings.SHOPOPS_INVITATION_TTL = timedelta(days=2)

    invitation, _ = invite(merchant, "a@example.com", capture=django_capture_on_commit_callbacks)

    assert timedelta(days=1, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=2)


def test_inviting_an_address_with_an_account_elsewhere_looks_the_same(
    merchant, other_merchant, django_capture_on_commit_callbacks
):
    MembershipFactory(merchant=other_merchant, user__email="boss@other.example")

    known, _ = invite(merchant, "boss@other.example", capture=django_capture_on_commit_callbacks)
    unknown, _ = invite(merchant, "nobody@nowhere.example", capture=django_capture_on_commit_callbacks)

    first, second = mail.outbox
    assert LINK.sub("LINK", first.body) == LINK.sub("LINK", second.body)
    assert first.subject == second.subject
    assert (known.status, unknown.status) == ("pending", "pending")
    assert not Membership.objects.filter(merchant=merchant).exclude(role="owner").exists()


def test_a_second_invitation_while_one_is_pending_is_a_conflict_in_any_case(merchant, owner):
    invitation_create(merchant=merchant, email="a@example.com")

    with pytest.raises(DomainError) as conflict:
        invitation_create(merchant=merchant, email="A@Example.com", role="viewer")

    assert (status_for(conflict.value), conflict.value.code) == (409, "invitation_pending")
    assert list(Invitation.objects.values_list("email", "role")) == [("a@example.com", "staff")]


def test_an_expired_invitation_is_renewed_by_inviting_again(merchant, django_capture_on_commit_callbacks):
    old, old_token = invitation_with_link(merchant=merchant, email="a@example.com",
                                          expires_at=timezone.now() - timedelta(hours=1))  # fmt: skip

    renewed, token = invite(merchant, "a@example.com", "viewer", capture=django_capture_on_commit_callbacks)

    assert renewed.pk == old.pk
    assert (renewed.role, renewed.status) == ("viewer", "pending")
    assert token != old_token
    assert Invitation.objects.count() == 1


def test_members_and_bad_addresses_are_refused(merchant, owner):
    with pytest.raises(ValidationError) as member:
        invitation_create(merchant=merchant, email=owner.email.upper())
    with pytest.raises(ValidationError) as bad:
        invitation_create(merchant=merchant, email="not an address")
    with pytest.raises(ValidationError) as role:
        invitation_create(merchant=merchant, email="a@example.com", role="admin")

    assert member.value.message_dict == {"email": [f"{owner.email} is already a member of Acme Retail."]}
    assert bad.value.message_dict == {"email": ["Enter a valid email address."]}
    assert role.value.message_dict == {"role": ["'admin' is not a role: choose one of owner, manager, staff, viewer."]}
    assert Invitation.objects.count() == 0


def test_resending_issues_a_new_link_and_ends_the_old_one(merchant, owner, django_capture_on_commit_callbacks):
    invitation, first = invite(merchant, "a@example.com", capture=django_capture_on_commit_callbacks)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() + timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        invitation_resend(invitation=invitation)
    second = sent_tokens()[-1]

    invitation.refresh_from_db()
    assert len(mail.outbox) == 2
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    with pytest.raises(DomainError) as old_link:
        invitation_accept(user=UserFactory(email="a@example.com"), token=first)
    assert old_link.value.code == "invitation_not_found"
    assert invitation_accept(user=UserFactory(email="a@example.com"), token=second).merchant == merchant


def test_revoking_ends_the_link_and_forbids_a_resend(merchant):
    invitation, token = invitation_with_link(merchant=merchant, email="a@example.com")

    invitation_revoke(invitation=invitation)
    invitation_revoke(invitation=invitation)  # twice changes nothing
    with pytest.raises(DomainError) as resend:
        invitation_resend(invitation=invitation)
    with pytest.raises(DomainError) as accept:
        invitation_accept(user=UserFactory(email="a@example.com"), token=token)

    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    assert (resend.value.code, status_for(accept.value), accept.value.code) == (
        "invitation_revoked", 410, "invitation_revoked"
    )  # fmt: skip
    assert Membership.objects.filter(merchant=merchant).count() == 0


def test_a_refused_email_is_recorded_and_a_transient_failure_retried(merchant, settings):
    invitation = InvitationFactory(merchant=merchant)

    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    refused = invitation_send(invitation_id=invitation.pk)
    settings.EMAIL_BACKEND = f"{__name__}.UnreachableBackend"
    with pytest.raises(ConnectionRefusedError):
        invitation_send(invitation_id=invitation.pk)

    assert refused.sent_at is None
    assert refused.send_error.startswith("{'x@example.com': (550, b'No such mailbox')}")
    invitation.refresh_from_db()
    assert invitation.send_error == "Not sent yet, retrying: Connection refused"
    assert issubclass(ConnectionRefusedError, tasks.notify_invitation.autoretry_for)


def test_the_send_task_sends_only_pending_invitations_on_the_notifications_queue(merchant):
    pending = InvitationFactory(merchant=merchant)
    revoked = InvitationFactory(merchant=merchant, revoked_at=timezone.now())

    assert tasks.notify_invitation(pending.pk) == "pending"
    assert tasks.notify_invitation(revoked.pk) == "revoked"
    assert tasks.notify_invitation(0) == "missing"
    assert [m.to for m in mail.outbox] == [[pending.email]]
    assert app.amqp.router.route({}, tasks.notify_invitation.name)["queue"].name == "notifications"


# -- accepting ------------------------------------------------------------------------------------------------


def test_accepting_makes_a_member_with_the_invited_role(merchant):
    invitation, token = invitation_with_link(merchant=merchant, email="a@example.com", role="manager")
    user = UserFactory(email="A@Example.com", is_staff=False)

    membership = invitation_accept(user=user, token=token)
    again = invitation_accept(user=user, token=token)

    user.refresh_from_db()
    invitation.refresh_from_db()
    assert (membership.merchant, membership.user, membership.role) == (merchant, user, "manager")
    assert again.pk == membership.pk
    assert user.is_staff is True
    assert (invitation.status, invitation.accepted_by) == ("accepted", user)
    assert Membership.objects.filter(merchant=merchant).count() == 1


def test_an_existing_member_keeps_their_role(merchant, owner):
    _, token = invitation_with_link(merchant=merchant, email=owner.email, role="viewer")

    membership = invitation_accept(user=owner, token=token)

    assert membership.role == "owner"


@pytest.mark.parametrize(
    ("fields", "user_email", "status", "code"),
    [
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "a@example.com", 410, "invitation_expired"),
        ({"revoked_at": timezone.now()}, "a@example.com", 410, "invitation_revoked"),
        ({}, "someone.else@example.com", 403, "invitation_email_mismatch"),
        ({}, "", 403, "invitation_email_mismatch"),
    ],
)
def test_refused_acceptances_change_nothing(merchant, fields, user_email, status, code):
    invitation, token = invitation_with_link(merchant=merchant, email="a@example.com", **fields)

    with pytest.raises(DomainError) as refused:
        invitation_accept(user=UserFactory(email=user_email), token=token)

    assert (status_for(refused.value), refused.value.code) == (status, code)
    assert Membership.objects.count() == 0
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_a_used_link_is_refused_to_anyone_else(merchant):
    _, token = invitation_with_link(merchant=merchant, email="a@example.com")
    invitation_accept(user=UserFactory(email="a@example.com"), token=token)

    with pytest.raises(DomainError) as refused:
        invitation_accept(user=UserFactory(email="a@example.com"), token=token)

    assert (status_for(refused.value), refused.value.code) == (410, "invitation_used")
    assert Membership.objects.count() == 1


@pytest.mark.parametrize("token", ["", "x", "a" * 129, "ü" * 43, "../../admin"])
def test_unknown_tokens_are_not_found(merchant, token):
    invitation_with_link(merchant=merchant, email="a@example.com")

    with pytest.raises(DomainError) as refused:
        invitation_accept(user=UserFactory(email="a@example.com"), token=token)

    assert (status_for(refused.value), refused.value.code) == (404, "invitation_not_found")


def test_an_inactive_merchants_invitation_is_not_found(merchant):
    _, token = invitation_with_link(merchant=merchant, email="a@example.com")
    merchant.is_active = False
    merchant.save()

    with pytest.raises(DomainError) as refused:
        invitation_accept(user=UserFactory(email="a@example.com"), token=token)

    assert refused.value.code == "invitation_not_found"


def test_signing_up_creates_the_account_for_the_invited_address(merchant):
    _, token = invitation_with_link(merchant=merchant, email="new@example.com", role="viewer")

    membership = invitation_sign_up(token=token, password="a-Long-enough-phrase", first_name="Ravi")

    user = membership.user
    assert (user.username, user.email, user.first_name, user.is_staff) == ("new@example.com", "new@example.com",
                                                                           "Ravi", True)  # fmt: skip
    assert user.check_password("a-Long-enough-phrase")
    assert (membership.merchant, membership.role) == (merchant, "viewer")


def test_signing_up_refuses_weak_passwords_and_existing_accounts(merchant):
    _, token = invitation_with_link(merchant=merchant, email="new@example.com")

    with pytest.raises(ValidationError) as weak:
        invitation_sign_up(token=token, password="password")
    UserFactory(username="someone", email="NEW@example.com")
    with pytest.raises(DomainError) as exists:
        invitation_sign_up(token=token, password="a-Long-enough-phrase")

    assert weak.value.message_dict == {"password": ["This password is too common."]}
    assert (status_for(exists.value), exists.value.code) == (409, "account_exists")
    assert Membership.objects.count() == 0


def test_an_address_that_is_no_valid_username_or_a_taken_one_gets_a_free_username(merchant):
    UserFactory(username="obrien@example.com", email="")
    _, token = invitation_with_link(merchant=merchant, email="o'brien@example.com")

    user = invitation_sign_up(token=token, password="a-Long-enough-phrase").user

    assert re.fullmatch(r"obrien@example\.com-[0-9a-f]{6}", user.username)
    assert user.email == "o'brien@example.com"


# -- the Invitations admin ---------------------------------------------------------------------------------


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def test_an_owner_invites_from_the_admin(owner_client, owner, merchant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"{INVITATIONS_URL}add/", {"merchant": merchant.pk, "email": "New@Example.com",
                                                                "role": "manager"})  # fmt: skip

    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.merchant, invitation.email, invitation.role, invitation.invited_by) == (
        merchant, "new@example.com", "manager", owner
    )  # fmt: skip
    assert [m.to for m in mail.outbox] == [["new@example.com"]]


def test_a_forged_invitation_post_sets_only_the_address_and_role(owner_client, owner, merchant, other_merchant):
    outsider = MembershipFactory(merchant=other_merchant).user

    owner_client.post(f"{INVITATIONS_URL}add/", {"merchant": merchant.pk, "email": "a@example.com", "role": "staff",
                                                 "invited_by": outsider.pk, "accepted_by": outsider.pk,
                                                 "accepted_at": "2030-01-01 00:00", "token_digest": "0" * 64,
                                                 "user": outsider.pk})  # fmt: skip
    other = owner_client.post(f"{INVITATIONS_URL}add/", {"merchant": other_merchant.pk, "email": "b@example.com",
                                                         "role": "owner"})  # fmt: skip

    invitation = Invitation.objects.get()
    assert (invitation.invited_by, invitation.accepted_by, invitation.accepted_at, invitation.token_digest) == (
        owner, None, None, None
    )  # fmt: skip
    assert other.status_code == 200
    assert list(other.context["adminform"].form.errors) == ["merchant"]
    assert not Membership.objects.filter(user=outsider, merchant=merchant).exists()


def test_a_pending_duplicate_is_shown_on_the_email_field(owner_client, merchant):
    InvitationFactory(merchant=merchant, email="a@example.com")

    response = owner_client.post(f"{INVITATIONS_URL}add/", {"merchant": merchant.pk, "email": "A@example.com",
                                                            "role": "staff"})  # fmt: skip

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "email": ["An invitation to a@example.com is pending: resend it or revoke it."]
    }


def test_the_list_shows_each_status_and_filters_by_it(owner_client, merchant, other_merchant):
    now = timezone.now()
    InvitationFactory(merchant=merchant, email="pending@example.com")
    InvitationFactory(merchant=merchant, email="expired@example.com", expires_at=now - timedelta(days=1))
    InvitationFactory(merchant=merchant, email="accepted@example.com", accepted_at=now)
    InvitationFactory(merchant=merchant, email="revoked@example.com", revoked_at=now)
    InvitationFactory(merchant=other_merchant, email="theirs@example.com")

    listed = owner_client.get(INVITATIONS_URL)
    expired = owner_client.get(INVITATIONS_URL, {"status": "expired"})

    rows = {i.email: listed.context["cl"].model_admin.status_label(i) for i in listed.context["cl"].result_list}
    assert rows == {"pending@example.com": "Pending", "expired@example.com": "Expired",
                    "accepted@example.com": "Accepted", "revoked@example.com": "Revoked"}  # fmt: skip
    assert [i.email for i in expired.context["cl"].result_list] == ["expired@example.com"]


def test_resend_and_revoke_actions(owner_client, merchant, django_capture_on_commit_callbacks):
    pending = InvitationFactory(merchant=merchant, email="pending@example.com")
    accepted = InvitationFactory(merchant=merchant, email="accepted@example.com", accepted_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        resent = owner_client.post(
            INVITATIONS_URL, {"action": "resend_selected", "_selected_action": [pending.pk, accepted.pk]}, follow=True
        )
    revoked = owner_client.post(INVITATIONS_URL, {"action": "revoke_selected", "_selected_action": [pending.pk]},
                                follow=True)  # fmt: skip

    assert [str(m) for m in resent.context["messages"]] == [
        "Resent 1 invitation; refused 1: accepted@example.com to Acme Retail (The invitation to "
        "accepted@example.com was accepted already)."
    ]
    assert [m.to for m in mail.outbox] == [["pending@example.com"]]
    assert [str(m) for m in revoked.context["messages"]] == ["Revoked 1 invitation."]
    pending.refresh_from_db()
    assert pending.status == "revoked"


def test_only_owners_see_invitations(client, merchant):
    InvitationFactory(merchant=merchant)
    manager = MembershipFactory(merchant=merchant, role="manager").user
    client.force_login(manager)

    assert client.get(INVITATIONS_URL).status_code == 403
    assert client.get(f"{INVITATIONS_URL}add/").status_code == 403
    assert client.post(f"{INVITATIONS_URL}add/", {"merchant": merchant.pk, "email": "x@example.com",
                                                  "role": "owner"}).status_code == 403  # fmt: skip
    assert Invitation.objects.count() == 1


def test_an_invitation_page_is_read_only_and_another_merchants_is_hidden(owner_client, merchant, other_merchant):
    ours = InvitationFactory(merchant=merchant)
    theirs = InvitationFactory(merchant=other_merchant)

    page = owner_client.get(f"{INVITATIONS_URL}{ours.pk}/change/")
    changed = owner_client.post(f"{INVITATIONS_URL}{ours.pk}/change/", {"role": "owner"})
    hidden = owner_client.get(f"{INVITATIONS_URL}{theirs.pk}/change/")

    assert page.status_code == 200
    assert changed.status_code == 403
    assert hidden.status_code == 302
    ours.refresh_from_db()
    assert ours.role == "staff"


def test_invitations_changelist_query_count_does_not_grow(owner_client, owner, merchant,
                                                          django_assert_max_num_queries):  # fmt: skip
    InvitationFactory.create_batch(5, merchant=merchant, invited_by=owner)
    with django_assert_max_num_queries(12) as small:
        owner_client.get(INVITATIONS_URL)
    InvitationFactory.create_batch(120, merchant=merchant, invited_by=owner)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = owner_client.get(INVITATIONS_URL)
    assert response.context["cl"].result_count == 125


# -- concurrency (PostgreSQL) ----------------------------------------------------------------------------


def _run_concurrently(count, work):
    barrier = Barrier(count)

    def call(index):
        barrier.wait()
        try:
            return work(index)
        except Exception as exc:  # collected and asserted by the test
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


def _require_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real row locks: set DATABASE_URL (CI does)")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_invitations_to_one_address_make_one(merchant):
    _require_postgres()

    results = _run_concurrently(
        8, lambda i: invitation_create(merchant=merchant, email="A@Example.com" if i % 2 else "a@example.com")
    )

    assert sorted(type(r).__name__ for r in results) == ["DomainError"] * 7 + ["Invitation"]
    assert {r.code for r in results if isinstance(r, DomainError)} == {"invitation_pending"}
    assert list(Invitation.objects.values_list("email", flat=True)) == ["a@example.com"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_link_used_at_once_by_several_people_makes_one_member(merchant):
    _require_postgres()
    _, token = invitation_with_link(merchant=merchant, email="a@example.com")
    _, sign_up_token = invitation_with_link(merchant=merchant, email="b@example.com")
    accounts = UserFactory.create_batch(4, email="a@example.com")

    accepted = _run_concurrently(4, lambda i: invitation_accept(user=accounts[i], token=token))
    signed_up = _run_concurrently(4, lambda i: invitation_sign_up(token=sign_up_token, password=f"a-Long-phrase-{i}"))

    for results in (accepted, signed_up):
        assert sorted(type(r).__name__ for r in results) == ["DomainError"] * 3 + ["Membership"]
        assert {r.code for r in results if isinstance(r, DomainError)} == {"invitation_used"}
    assert sorted(Membership.objects.values_list("user__email", flat=True)) == ["a@example.com", "b@example.com"]
    assert get_user_model().objects.filter(email="b@example.com").count() == 1
    for invitation in Invitation.objects.all():
        assert invitation.accepted_by.memberships.get().merchant == merchant

"""The invitation page, /invitations/<token>/: log in or sign up, then accept; refusals are 4xx and say nothing
about other merchants or users."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from shopops.models import Membership
from tests.shopops.factories import MembershipFactory, UserFactory, invitation_with_link

PASSWORD = "correct-horse-battery"  # the factories' password


@pytest.fixture
def link(merchant, owner):
    invitation, token = invitation_with_link(merchant=merchant, email="new@example.com", role="manager",
                                             invited_by=owner)  # fmt: skip
    return invitation, f"/invitations/{token}/"


def text(response) -> str:
    return response.content.decode()


def test_a_visitor_sees_the_merchant_and_role_and_both_forms(client, link):
    _, url = link

    response = client.get(url)

    assert response.status_code == 200
    assert "<h1>Join Acme Retail on ShopOps</h1>" in text(response)
    assert "as <strong>manager</strong>" in text(response)
    assert 'name="action" value="login"' in text(response)
    assert 'name="action" value="signup"' in text(response)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response.headers["Cache-Control"]


def test_a_visitor_creates_an_account_and_joins(client, link, merchant):
    invitation, url = link

    response = client.post(url, {"action": "signup", "first_name": "Nia", "last_name": "",
                                 "password1": "a-Long-enough-phrase", "password2": "a-Long-enough-phrase"})  # fmt: skip

    assert (response.status_code, response.headers["Location"]) == (302, "/admin/")
    user = get_user_model().objects.get(email="new@example.com")
    assert Membership.objects.get(user=user).merchant == merchant
    assert Membership.objects.get(user=user).role == "manager"
    dashboard = client.get("/admin/")
    assert dashboard.context["user"] == user
    assert [str(m) for m in dashboard.context["messages"]] == [
        "You joined Acme Retail as manager. Your username is new@example.com."
    ]


def test_sign_up_errors_stay_on_the_page(client, link):
    _, url = link

    differ = client.post(url, {"action": "signup", "password1": "a-Long-enough-phrase", "password2": "another-one"})
    weak = client.post(url, {"action": "signup", "password1": "12345678", "password2": "12345678"})

    assert differ.status_code == 200
    assert differ.context["sign_up_form"].errors == {"password2": ["The two passwords differ."]}
    assert weak.status_code == 200
    assert weak.context["sign_up_form"].errors == {"password1": ["This password is too common.",
                                                                 "This password is entirely numeric."]}  # fmt: skip
    assert get_user_model().objects.filter(email="new@example.com").count() == 0


def test_a_visitor_whose_address_has_an_account_is_asked_to_log_in(client, link):
    _, url = link
    UserFactory(username="nia", email="New@Example.com")

    response = client.post(url, {"action": "signup", "password1": "a-Long-enough-phrase",
                                 "password2": "a-Long-enough-phrase"})  # fmt: skip

    assert response.status_code == 200
    assert response.context["sign_up_form"].non_field_errors() == [
        "An account for new@example.com exists already: log in with it to accept the invitation."
    ]
    assert Membership.objects.filter(user__username="nia").count() == 0


def test_a_visitor_logs_in_then_accepts(client, link, merchant):
    _, url = link
    user = UserFactory(username="nia", email="new@example.com", is_staff=False)

    wrong = client.post(url, {"action": "login", "username": "nia", "password": "wrong"})
    logged_in = client.post(url, {"action": "login", "username": "nia", "password": PASSWORD})
    page = client.get(url)
    accepted = client.post(url, {"action": "accept"})

    assert wrong.status_code == 200
    assert wrong.context["login_form"].non_field_errors() == [
        "Please enter a correct username and password. Note that both fields may be case-sensitive."
    ]
    assert (logged_in.status_code, logged_in.headers["Location"]) == (302, url)
    assert "Accept and join Acme Retail" in text(page)
    assert (accepted.status_code, accepted.headers["Location"]) == (302, "/admin/")
    membership = Membership.objects.get(user=user)
    assert (membership.merchant, membership.role) == (merchant, "manager")
    user.refresh_from_db()
    assert user.is_staff is True
    assert client.get("/admin/shopops/membership/").status_code == 200


def test_the_invited_user_accepts_and_reopening_the_link_says_they_are_a_member(client, link, merchant):
    _, url = link
    user = UserFactory(email="NEW@example.com")
    client.force_login(user)

    client.post(url, {"action": "accept"})
    again = client.get(url)

    assert again.status_code == 200
    assert "You are a member of Acme Retail." in text(again)
    assert Membership.objects.filter(user=user, merchant=merchant).count() == 1


def test_accepting_needs_the_csrf_token(link):
    _, url = link
    user = UserFactory(email="new@example.com")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    refused = client.post(url, {"action": "accept"})
    page = client.get(url)
    accepted = client.post(url, {"action": "accept", "csrfmiddlewaretoken": page.context["csrf_token"]})

    assert refused.status_code == 403
    assert accepted.status_code == 302
    assert Membership.objects.filter(user=user).count() == 1


def test_another_logged_in_user_is_told_to_switch_accounts_and_cannot_accept(client, link, other_merchant):
    _, url = link
    outsider = MembershipFactory(merchant=other_merchant, user__email="boss@other.example").user
    client.force_login(outsider)

    page = client.get(url)
    forced = client.post(url, {"action": "accept"})

    assert page.status_code == 403
    assert "sent to another email address than your account" in text(page)
    assert 'action="/admin/logout/"' in text(page)
    assert "new@example.com" not in text(page)
    assert "Other Shop" not in text(page)
    assert forced.status_code == 403
    assert list(outsider.memberships.values_list("merchant__slug", flat=True)) == ["other"]


@pytest.mark.parametrize(
    ("fields", "status", "sentence"),
    [
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, 410, "This invitation has expired"),
        ({"revoked_at": timezone.now()}, 410, "This invitation was withdrawn"),
        ({"accepted_at": timezone.now()}, 410, "This invitation has been used already."),
    ],
)
def test_closed_links_get_a_clear_page_naming_nobody(client, merchant, fields, status, sentence):
    _, token = invitation_with_link(merchant=merchant, email="new@example.com", **fields)
    client.force_login(UserFactory(email="new@example.com"))

    shown = client.get(f"/invitations/{token}/")
    posted = client.post(f"/invitations/{token}/", {"action": "accept"})

    assert (shown.status_code, posted.status_code) == (status, status)
    assert sentence in text(shown)
    assert "Acme Retail" not in text(shown) and "new@example.com" not in text(shown)
    assert Membership.objects.filter(user__email="new@example.com").count() == 0


@pytest.mark.parametrize("token", ["nope", "a" * 5000, "%C3%BC%00", "abc%00", "a!b'c(d)*e"])
def test_bad_links_are_404_pages_never_500s(client, merchant, token):
    invitation_with_link(merchant=merchant, email="new@example.com")

    get = client.get(f"/invitations/{token}/")
    post = client.post(f"/invitations/{token}/", {"action": "signup", "password1": "x", "password2": "x"})

    assert (get.status_code, post.status_code) == (404, 404)
    assert "This invitation link is not valid" in text(get)
    assert "Acme Retail" not in text(get)


def test_other_methods_are_refused(client, link):
    _, url = link

    assert client.put(url).status_code == 405

"""The merchant's team in the admin: owners cannot attach users, searches reveal nobody outside the merchant,
roles change and members leave through services that keep an owner."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from shopops.errors import DomainError
from shopops.models import Membership
from shopops.services import membership_add, membership_remove, membership_role_change
from tests.shopops.factories import MembershipFactory, UserFactory

MEMBERS_URL = "/admin/shopops/membership/"
AUTOCOMPLETE_URL = "/admin/autocomplete/"


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def outsider(other_merchant):
    """The owner of another merchant."""
    return MembershipFactory(merchant=other_merchant, role="owner", user__email="boss@other.example").user


def memberships() -> list[tuple[str, str, str]]:
    return sorted(Membership.objects.values_list("merchant__slug", "user__username", "role"))


# -- the audit's defects ----------------------------------------------------------------------------------


def test_an_owner_cannot_attach_another_merchants_owner_with_a_forged_post(owner_client, owner, merchant, outsider):
    before = memberships()

    page = owner_client.get(f"{MEMBERS_URL}add/")
    forged = owner_client.post(f"{MEMBERS_URL}add/", {"user": outsider.pk, "merchant": merchant.pk, "role": "owner"})

    assert page.status_code == 403
    assert forged.status_code == 403
    assert memberships() == before
    assert list(outsider.memberships.values_list("merchant__slug", "role")) == [("other", "owner")]


def test_a_forged_user_on_a_members_change_form_is_ignored(owner_client, merchant, outsider):
    member = MembershipFactory(merchant=merchant, role="staff")

    response = owner_client.post(f"{MEMBERS_URL}{member.pk}/change/", {"user": outsider.pk, "role": "manager"})

    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.user_id, member.merchant_id, member.role) == (member.user.pk, merchant.pk, "manager")
    assert not Membership.objects.filter(merchant=merchant, user=outsider).exists()


def test_searching_members_for_an_outsiders_email_finds_nothing_even_after_a_forged_add(
    owner_client, merchant, outsider
):
    owner_client.post(f"{MEMBERS_URL}add/", {"user": outsider.pk, "merchant": merchant.pk, "role": "staff"})

    response = owner_client.get(MEMBERS_URL, {"q": outsider.email})

    assert response.status_code == 200
    assert response.context["cl"].result_count == 0
    assert not Membership.objects.filter(user=outsider, merchant=merchant).exists()


def test_the_member_search_answers_alike_for_an_outsider_and_for_nobody(owner_client, outsider):
    found = owner_client.get(MEMBERS_URL, {"q": outsider.email})
    nobody = owner_client.get(MEMBERS_URL, {"q": "nobody@nowhere.example"})

    assert (found.status_code, nobody.status_code) == (200, 200)
    assert found.context["cl"].result_count == nobody.context["cl"].result_count == 0


def test_the_user_autocomplete_is_closed_to_owners_whatever_the_term(owner_client, outsider):
    params = {"app_label": "shopops", "model_name": "membership", "field_name": "user"}

    existing = owner_client.get(AUTOCOMPLETE_URL, {**params, "term": outsider.email})
    missing = owner_client.get(AUTOCOMPLETE_URL, {**params, "term": "nobody@nowhere.example"})

    assert (existing.status_code, missing.status_code) == (403, 403)
    assert existing.content == missing.content


def test_the_user_admin_is_closed_to_owners(owner_client, outsider):
    assert owner_client.get("/admin/auth/user/", {"q": outsider.email}).status_code == 403
    assert owner_client.get(f"/admin/auth/user/{outsider.pk}/change/").status_code == 403
    assert owner_client.get("/admin/auth/user/", {"_popup": "1", "_to_field": "id"}).status_code == 403


def test_a_member_granted_user_permissions_still_sees_only_their_merchants_members(client, merchant, outsider):
    owner = MembershipFactory(merchant=merchant, role="owner", user__username="granted").user
    colleague = MembershipFactory(merchant=merchant, role="staff", user__username="colleague").user
    owner.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client.force_login(owner)
    params = {"app_label": "shopops", "model_name": "membership", "field_name": "user"}

    listed = client.get("/admin/auth/user/")
    searched = client.get("/admin/auth/user/", {"q": outsider.email})
    outsiders_page = client.get(f"/admin/auth/user/{outsider.pk}/change/")
    suggested = client.get(AUTOCOMPLETE_URL, {**params, "term": ""})
    suggested_outsider = client.get(AUTOCOMPLETE_URL, {**params, "term": outsider.email})

    assert sorted(u.username for u in listed.context["cl"].result_list) == ["colleague", "granted"]
    assert searched.context["cl"].result_count == 0
    assert outsiders_page.status_code == 302  # the admin's "does not exist" redirect
    assert sorted(r["text"] for r in suggested.json()["results"]) == ["colleague", "granted"]
    assert suggested_outsider.json()["results"] == []
    assert colleague.pk in {int(r["id"]) for r in suggested.json()["results"]}


def test_the_api_answers_alike_for_another_merchant_and_for_none(client, owner, other_merchant):
    client.force_login(owner)

    other = client.get("/api/v1/me/", HTTP_X_MERCHANT="other")
    missing = client.get("/api/v1/me/", HTTP_X_MERCHANT="no-such-shop")

    assert (other.status_code, missing.status_code) == (403, 403)
    assert other.json() == {"code": "not_a_member", "message": "You are not a member of merchant 'other'.",
                            "details": {}}  # fmt: skip
    assert missing.json()["message"] == "You are not a member of merchant 'no-such-shop'."


# -- roles and removal --------------------------------------------------------------------------------------


def test_an_owner_changes_a_members_role(owner_client, merchant):
    member = MembershipFactory(merchant=merchant, role="viewer")

    response = owner_client.post(f"{MEMBERS_URL}{member.pk}/change/", {"role": "manager"})

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.role == "manager"


def test_the_last_owner_cannot_be_demoted_from_the_admin(owner_client, owner, merchant):
    membership = owner.memberships.get()

    response = owner_client.post(f"{MEMBERS_URL}{membership.pk}/change/", {"role": "manager"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "role": ["A merchant must keep at least one owner: make another member an owner first."]
    }
    membership.refresh_from_db()
    assert membership.role == "owner"


def test_an_owner_removes_a_member_but_not_the_last_owner(owner_client, owner, merchant):
    member = MembershipFactory(merchant=merchant, role="staff")
    mine = owner.memberships.get()

    removed = owner_client.post(f"{MEMBERS_URL}{member.pk}/delete/", {"post": "yes"})
    kept = owner_client.post(f"{MEMBERS_URL}{mine.pk}/delete/", {"post": "yes"}, follow=True)

    assert removed.status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert [str(m) for m in kept.context["messages"]][-1] == (
        "A merchant must keep at least one owner: make another member an owner first."
    )
    assert Membership.objects.filter(pk=mine.pk, role="owner").exists()


def test_the_remove_action_names_what_it_refused(owner_client, owner, merchant):
    member = MembershipFactory(merchant=merchant, role="staff")
    mine = owner.memberships.get()

    response = owner_client.post(MEMBERS_URL, {"action": "remove_selected", "_selected_action": [member.pk, mine.pk]},
                                 follow=True)  # fmt: skip

    assert [str(m) for m in response.context["messages"]] == [
        f"Removed 1 member; refused 1: {mine} (A merchant must keep at least one owner: make another member an "
        "owner first)."
    ]
    assert list(Membership.objects.filter(merchant=merchant).values_list("pk", flat=True)) == [mine.pk]


def test_managers_read_the_team_but_do_not_change_it(client, merchant):
    manager = MembershipFactory(merchant=merchant, role="manager").user
    member = MembershipFactory(merchant=merchant, role="staff")
    client.force_login(manager)

    listed = client.get(MEMBERS_URL)
    promoted = client.post(f"{MEMBERS_URL}{member.pk}/change/", {"role": "owner"})
    self_promoted = client.post(f"{MEMBERS_URL}{manager.memberships.get().pk}/change/", {"role": "owner"})
    removed = client.post(f"{MEMBERS_URL}{member.pk}/delete/", {"post": "yes"})

    assert listed.status_code == 200
    assert (promoted.status_code, self_promoted.status_code, removed.status_code) == (403, 403, 403)
    assert sorted(Membership.objects.values_list("role", flat=True)) == ["manager", "staff"]


def test_an_owner_cannot_touch_another_merchants_members(owner_client, outsider):
    theirs = outsider.memberships.get()

    changed = owner_client.post(f"{MEMBERS_URL}{theirs.pk}/change/", {"role": "viewer"})
    removed = owner_client.post(f"{MEMBERS_URL}{theirs.pk}/delete/", {"post": "yes"})

    assert (changed.status_code, removed.status_code) == (302, 302)  # "does not exist" redirects
    theirs.refresh_from_db()
    assert theirs.role == "owner"


def test_a_superuser_may_still_attach_an_existing_user(client, merchant, outsider):
    client.force_login(UserFactory(is_superuser=True))

    response = client.post(f"{MEMBERS_URL}add/", {"user": outsider.pk, "merchant": merchant.pk, "role": "viewer"})

    assert response.status_code == 302
    assert Membership.objects.get(merchant=merchant, user=outsider).role == "viewer"


def test_members_changelist_query_count_does_not_grow(owner_client, merchant, django_assert_max_num_queries):
    MembershipFactory.create_batch(5, merchant=merchant, role="staff")
    with django_assert_max_num_queries(12) as small:
        owner_client.get(MEMBERS_URL)
    MembershipFactory.create_batch(120, merchant=merchant, role="staff")
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = owner_client.get(MEMBERS_URL)
    assert response.context["cl"].result_count == 126


# -- the services --------------------------------------------------------------------------------------------


def test_membership_add_makes_the_user_staff_and_keeps_an_owner(merchant, owner):
    user = UserFactory(is_staff=False)

    membership = membership_add(merchant=merchant, user=user, role="viewer")
    with pytest.raises(DomainError) as refused:
        membership_add(merchant=merchant, user=owner, role="staff")

    user.refresh_from_db()
    assert (membership.role, user.is_staff) == ("viewer", True)
    assert refused.value.code == "last_owner"
    assert owner.memberships.get().role == "owner"


def test_a_second_owner_lets_the_first_step_down(merchant, owner):
    second = MembershipFactory(merchant=merchant, role="owner")

    membership_role_change(membership=owner.memberships.get(), role="manager")
    with pytest.raises(DomainError):
        membership_remove(membership=second)

    assert sorted(Membership.objects.values_list("role", flat=True)) == ["manager", "owner"]


def _run_concurrently(works):
    barrier = Barrier(len(works))

    def call(work):
        barrier.wait()
        try:
            return work()
        except Exception as exc:  # collected and asserted by the test
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(works)) as pool:
        return list(pool.map(call, works))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_owners_stepping_down_at_once_leave_one_owner(merchant):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real row locks: set DATABASE_URL (CI does)")
    for _ in range(10):
        Membership.objects.filter(merchant=merchant).delete()
        first, second = MembershipFactory.create_batch(2, merchant=merchant, role="owner")

        results = _run_concurrently([lambda m=first: membership_role_change(membership=m, role="manager"),
                                     lambda m=second: membership_remove(membership=m)])  # fmt: skip

        refused = [r for r in results if isinstance(r, DomainError)]
        assert [r.code for r in refused] == ["last_owner"]
        assert Membership.objects.filter(merchant=merchant, role="owner").count() == 1

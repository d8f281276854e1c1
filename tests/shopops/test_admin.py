"""The merchant dashboard: every admin page scoped to the user's merchants, rights by role."""

import pytest
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured

from shopops.admin import MerchantScopedAdmin
from shopops.models import PartnerApplication
from tests.shopops.factories import MembershipFactory, PartnerApplicationFactory, UserFactory

APPS_URL = "/admin/shopops/partnerapplication/"


@pytest.fixture
def staff_client(client, merchant):
    member = MembershipFactory(merchant=merchant, role="owner")
    client.force_login(member.user)
    return client


def changelist_names(response) -> list[str]:
    return sorted(obj.name for obj in response.context["cl"].result_list)


def test_members_see_only_their_merchants_rows(staff_client, merchant, other_merchant):
    PartnerApplicationFactory(merchant=merchant, name="Ours")
    PartnerApplicationFactory(merchant=other_merchant, name="Theirs")

    response = staff_client.get(APPS_URL)

    assert response.status_code == 200
    assert changelist_names(response) == ["Ours"]


def test_another_merchants_object_is_not_reachable(staff_client, other_merchant):
    theirs = PartnerApplicationFactory(merchant=other_merchant, name="Theirs")

    view = staff_client.get(f"{APPS_URL}{theirs.pk}/change/")
    delete = staff_client.post(f"{APPS_URL}{theirs.pk}/delete/", {"post": "yes"})

    assert view.status_code == 302  # the admin's "does not exist" redirect
    assert delete.status_code == 302
    assert PartnerApplication.objects.filter(pk=theirs.pk).exists()


def test_merchant_choices_are_only_the_users_merchants(staff_client, merchant, other_merchant):
    response = staff_client.get(f"{APPS_URL}add/")

    choices = list(response.context["adminform"].form.fields["merchant"].queryset)
    assert choices == [merchant]


def test_a_viewer_reads_but_cannot_change(client, merchant):
    viewer = MembershipFactory(merchant=merchant, role="viewer").user
    app = PartnerApplicationFactory(merchant=merchant, name="Ours")
    client.force_login(viewer)

    assert client.get(APPS_URL).status_code == 200
    assert client.get(f"{APPS_URL}add/").status_code == 403
    response = client.post(f"{APPS_URL}{app.pk}/change/", {"name": "Changed"})
    assert response.status_code == 403
    app.refresh_from_db()
    assert app.name == "Ours"


def test_staff_role_cannot_manage_partner_applications(client, merchant):
    staff = MembershipFactory(merchant=merchant, role="staff").user
    client.force_login(staff)

    assert client.get(f"{APPS_URL}add/").status_code == 403


def test_a_user_without_membership_sees_no_merchant_data(client, merchant):
    PartnerApplicationFactory(merchant=merchant)
    client.force_login(UserFactory(is_staff=True))

    assert client.get(APPS_URL).status_code == 403


def test_superuser_sees_every_merchant(client, merchant, other_merchant):
    PartnerApplicationFactory(merchant=merchant, name="Ours")
    PartnerApplicationFactory(merchant=other_merchant, name="Theirs")
    client.force_login(UserFactory(is_superuser=True))

    assert changelist_names(client.get(APPS_URL)) == ["Ours", "Theirs"]


def test_merchant_page_lists_only_the_members_merchant(staff_client, merchant, other_merchant):
    response = staff_client.get("/admin/shopops/merchant/")

    assert [m.slug for m in response.context["cl"].result_list] == ["acme"]
    assert staff_client.get(f"/admin/shopops/merchant/{other_merchant.pk}/change/").status_code == 302


def test_changelist_query_count_does_not_grow_with_rows(staff_client, merchant, django_assert_max_num_queries):
    PartnerApplicationFactory.create_batch(5, merchant=merchant)
    with django_assert_max_num_queries(12) as small:
        staff_client.get(APPS_URL)
    PartnerApplicationFactory.create_batch(120, merchant=merchant)  # more than one page of 100
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = staff_client.get(APPS_URL)
    assert response.context["cl"].result_count == 125


def test_a_scoped_admin_cannot_override_get_queryset():
    with pytest.raises(ImproperlyConfigured, match="implement get_base_queryset"):

        class Leaky(MerchantScopedAdmin):
            def get_queryset(self, request):
                return super().get_queryset(request)


def test_the_site_is_titled_for_shopops():
    assert admin.site.site_header == "ShopOps"


def test_an_owner_edits_their_merchant_without_touching_its_slug(staff_client, merchant):
    url = f"/admin/shopops/merchant/{merchant.pk}/change/"

    page = staff_client.get(url)
    saved = staff_client.post(url, {"name": "Acme Retail India", "legal_name": "", "time_zone": "Asia/Kolkata",
                                    "default_currency": "INR", "country": "IN", "tax_id": "", "email": "",
                                    "phone": "", "line1": "", "line2": "", "city": "", "state": "",
                                    "postcode": ""})  # fmt: skip

    assert page.status_code == 200
    assert saved.status_code == 302
    merchant.refresh_from_db()
    assert (merchant.name, merchant.slug) == ("Acme Retail India", "acme")


def test_the_merchant_form_turns_phone_masking_on_labels_on_and_me_shows_it(staff_client, merchant, api):
    url = f"/admin/shopops/merchant/{merchant.pk}/change/"
    fields = {"name": "Acme Retail", "legal_name": "", "time_zone": "Asia/Kolkata", "default_currency": "INR",
              "country": "IN", "tax_id": "", "email": "", "phone": "", "line1": "", "line2": "", "city": "",
              "state": "", "postcode": ""}  # fmt: skip
    assert api.get("/api/v1/me/").json()["merchant"]["mask_phone_on_label"] is False  # off by default

    page = staff_client.get(url)
    saved = staff_client.post(url, {**fields, "mask_phone_on_label": "on"})

    assert "mask_phone_on_label" in page.context["adminform"].form.fields
    assert saved.status_code == 302
    merchant.refresh_from_db()
    assert merchant.mask_phone_on_label is True
    assert api.get("/api/v1/me/").json()["merchant"]["mask_phone_on_label"] is True

"""The tenancy matrix over every API endpoint of the URL conf (see tests/tenancy.py)."""

import pytest

from tests.tenancy import check_endpoint, discover

ROOT_CASES, ROOT_UNBOUND = discover("shopops.urls")
PROBE_CASES, _ = discover("tests.urls")
PROBE_CASES = [case for case in PROBE_CASES if "_probe/" in case.route]


def test_every_api_view_is_merchant_bound_or_opted_out():
    assert ROOT_UNBOUND == []


def test_the_matrix_finds_the_probe_endpoints():
    found = sorted(case.id for case in PROBE_CASES)
    assert found == [
        "DELETE /api/v1/_probe/members/{pk}/",
        "GET /api/v1/_probe/members/",
        "GET /api/v1/_probe/members/{pk}/",
        "PATCH /api/v1/_probe/members/{pk}/",
        "POST /api/v1/_probe/notes/",
        "PUT /api/v1/_probe/members/{pk}/",
    ]


@pytest.mark.parametrize("case", ROOT_CASES, ids=[case.id for case in ROOT_CASES])
def test_tenancy(case, merchant, other_merchant):
    check_endpoint(case, merchant, other_merchant, "shopops.urls")


@pytest.mark.urls("tests.urls")
@pytest.mark.parametrize("case", PROBE_CASES, ids=[case.id for case in PROBE_CASES])
def test_tenancy_of_the_probe_endpoints(case, merchant, other_merchant):
    check_endpoint(case, merchant, other_merchant, "tests.urls")

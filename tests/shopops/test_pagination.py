"""Keyset pagination over an ordering with a nullable column, through a probe list endpoint."""

import pytest
from django.contrib.admin.models import LogEntry
from rest_framework.test import APIClient

from tests.shopops.factories import UserFactory

pytestmark = pytest.mark.urls("tests.urls")

URL = "/api/v1/_probe/entries/"
OBJECT_IDS = [
    "b",
    None,
    "a",
    "c",
    None,
    "b",
    "a",
    None,
    "d",
    "b",
    "c",
    "a",
    None,
    "e",
    "b",
    "a",
    "d",
    None,
    "c",
    "a",
    "b",
    "e",
    None,
]


@pytest.fixture
def entries(db):
    user = UserFactory()
    return [
        LogEntry.objects.create(user=user, action_flag=1, object_id=object_id, object_repr="x")
        for object_id in OBJECT_IDS
    ]


def walk(client, url):
    """Follow `next` links; return the ids in order and the last page's body."""
    ids, body = [], None
    while url:
        body = client.get(url).json()
        ids += [row["id"] for row in body["results"]]
        url = body["next"]
    return ids, body


def walk_back(client, url):
    ids = []
    while url:
        body = client.get(url).json()
        ids = [row["id"] for row in body["results"]] + ids
        url = body["previous"]
    return ids


def expected(entries, descending: bool) -> list[int]:
    present = [e for e in entries if e.object_id is not None]
    nulls = [e for e in entries if e.object_id is None]
    present.sort(key=lambda e: (e.object_id, e.pk), reverse=descending)
    nulls.sort(key=lambda e: e.pk, reverse=descending)
    return [e.pk for e in present + nulls]


@pytest.mark.parametrize("ordering", ["object_id", "-object_id"])
def test_pages_cover_every_row_once_in_order_with_nulls_last(entries, ordering):
    client = APIClient()

    ids, last_page = walk(client, f"{URL}?ordering={ordering}&page_size=4")

    assert ids == expected(entries, descending=ordering.startswith("-"))
    assert len(last_page["results"]) == 3  # 23 rows in pages of 4
    assert last_page["next"] is None


@pytest.mark.parametrize("ordering", ["object_id", "-object_id"])
def test_previous_links_walk_back_to_the_first_page(entries, ordering):
    client = APIClient()
    url, last = f"{URL}?ordering={ordering}&page_size=4", None
    while url:
        last = client.get(url).json()
        url = last["next"]

    ids = walk_back(client, last["previous"]) + [row["id"] for row in last["results"]]

    assert ids == expected(entries, descending=ordering.startswith("-"))


def test_default_ordering_is_newest_first_and_first_page_has_no_previous(entries):
    body = APIClient().get(f"{URL}?page_size=5").json()

    assert [row["id"] for row in body["results"]] == sorted((e.pk for e in entries), reverse=True)[:5]
    assert body["previous"] is None
    assert body["next"].startswith("http://testserver/api/v1/_probe/entries/?")


def test_a_deep_page_costs_the_same_queries_as_the_first(entries, django_assert_num_queries):
    client = APIClient()
    first = client.get(f"{URL}?ordering=object_id&page_size=3").json()
    deep_url = first["next"]
    for _ in range(3):
        deep_url = client.get(deep_url).json()["next"]  # page 5: rows 13-15, all with an object_id

    with django_assert_num_queries(1):
        client.get(f"{URL}?ordering=object_id&page_size=3")
    with django_assert_num_queries(1):
        client.get(deep_url)


def test_the_page_where_dated_rows_end_adds_one_query_for_the_undated_ones(entries, django_assert_num_queries):
    client = APIClient()
    url = f"{URL}?ordering=object_id&page_size=3"
    for _ in range(5):
        url = client.get(url).json()["next"]  # page 6: the last 2 rows with an object_id, then the first null

    with django_assert_num_queries(2):
        page = client.get(url).json()

    assert [row["object_id"] for row in page["results"]] == ["e", "e", None]


@pytest.mark.parametrize("page_size", ["0", "201", "abc"])
def test_page_size_out_of_range_is_400(entries, page_size):
    response = APIClient().get(f"{URL}?page_size={page_size}")

    assert response.status_code == 400
    assert response.json()["details"] == {"page_size": ["Must be an integer from 1 to 200."]}


def test_page_size_200_is_allowed(entries):
    response = APIClient().get(f"{URL}?page_size=200")

    assert response.status_code == 200
    assert len(response.json()["results"]) == len(OBJECT_IDS)


@pytest.mark.parametrize("cursor", ["not-base64!", "eyJwIjpbMV19", "W10"])
def test_a_tampered_cursor_is_400(entries, cursor):
    response = APIClient().get(f"{URL}?cursor={cursor}")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


def test_a_cursor_of_another_ordering_is_400(entries):
    client = APIClient()
    next_url = client.get(f"{URL}?ordering=object_id&page_size=3").json()["next"]

    response = client.get(next_url.replace("ordering=object_id", "ordering=-object_id"))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"

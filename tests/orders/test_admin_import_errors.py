"""The row errors of an import, every one of them: a list paged by keyset over the (import, row) index, scoped to
the import's merchant, reached from the import's page, a constant number of queries per page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.admin.bulk_imports import ImportRowErrorAdmin
from orders.models import BulkImport, ImportRowError

ERRORS = "/admin/orders/importrowerror/"
IMPORTS = "/admin/orders/bulkimport/"
#: Queries of one page: session, user, memberships, the merchants' time zones, the page (errors with their
#: import), its count, the user's permissions (two). On PostgreSQL the count runs under a time limit: in a test's
#: transaction that is SAVEPOINT, set the limit, the count, put the limit back, RELEASE.
PAGE_QUERIES = 8


@pytest.fixture
def desk(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(ImportRowErrorAdmin, "list_per_page", 3)


def job_with_errors(merchant, rows: list[int]) -> BulkImport:
    job = BulkImport.objects.create(merchant=merchant, kind="orders", file_name="orders.csv", checksum="x",
                                    created_by="system", failed_count=len(rows))  # fmt: skip
    ImportRowError.objects.bulk_create(
        [ImportRowError(job=job, row=row, column="quantity", value=str(row), message="A valid integer is required.")
         for row in rows]
    )  # fmt: skip
    return job


def queries_of(client, url: str) -> tuple[int, object]:
    """The queries of one request, counted before the next request resets Django's query log."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response


def listed(response) -> list[tuple[int, int]]:
    return [(error.job_id, error.row) for error in response.context["cl"].result_list]


def test_an_import_s_errors_page_by_row_each_once_with_the_same_queries(desk, merchant, small_pages):
    job = job_with_errors(merchant, [9, 2, 5, 7, 3, 4, 8])
    job_with_errors(merchant, [1, 2])  # another import of the merchant: not in this list
    url = f"{ERRORS}?job__id__exact={job.pk}"

    first_queries, first = queries_of(desk, url)
    second_queries, second = queries_of(desk, ERRORS + first.context["cl"].next_url)
    third = desk.get(ERRORS + second.context["cl"].next_url)

    rows = [row for page in (first, second, third) for _, row in listed(page)]
    assert rows == [2, 3, 4, 5, 7, 8, 9]
    assert third.context["cl"].next_url == ""
    limit = 4 if connection.vendor == "postgresql" else 0
    assert first_queries == second_queries == PAGE_QUERIES + limit


def test_unfiltered_the_newest_import_s_errors_come_first(desk, merchant):
    older = job_with_errors(merchant, [4, 2])
    newer = job_with_errors(merchant, [3])

    assert listed(desk.get(ERRORS)) == [(newer.pk, 3), (older.pk, 2), (older.pk, 4)]


def test_another_merchant_s_errors_are_never_listed(desk, merchant, other_merchant):
    theirs = job_with_errors(other_merchant, [2, 3])
    job_with_errors(merchant, [5])

    assert listed(desk.get(f"{ERRORS}?job__id__exact={theirs.pk}")) == []
    assert [job for job, _ in listed(desk.get(ERRORS))] == [BulkImport.objects.get(merchant=merchant).pk]


def test_the_import_page_links_to_its_row_errors(desk, merchant):
    job = job_with_errors(merchant, [2])

    page = desk.get(IMPORTS).content.decode()

    assert f'href="{ERRORS}?job__id__exact={job.pk}"' in page


def test_errors_are_read_only(desk, merchant):
    job_with_errors(merchant, [2])

    page = desk.get(ERRORS)

    assert page.context["cl"].list_display_links == (None,) or not page.context["cl"].list_display_links
    assert desk.get(f"{ERRORS}add/").status_code == 403

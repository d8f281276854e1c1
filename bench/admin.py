"""The merchant's order list in the admin at 1M orders, against the API's order list on the same data.

Logs in as the owner of the ``orders_list`` benchmark's merchant (1,000,000 orders, created by that benchmark if
missing) and times, through the whole Django stack (sessions, middleware, the changelist, template rendering):
the first page, page 5,000 (by its keyset cursor), an exact order number, a number that does not exist, a
customer's name, phone and an SKU, a status filter and a ship-date range; then a superuser's first page over every
merchant's orders. Each is printed with its query count.
The floor is the API's order list (``GET /api/v1/orders/``, first page of 100) in the same run. Targets (issue 20):
every page <= 300 ms and <= 10x the API list, constant queries per page.
"""

import re
import statistics
import time

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.orders_list import PAGE_SIZE, _setup, _token

RUNS = 9
DEEP_PAGE = 5000
ORDERS_URL = "/admin/orders/order/"
TARGET_MS = 300
TARGET_RATIO = 10  # times the API's order list


def _analyze() -> None:
    """Fresh planner statistics, as autovacuum keeps them on a live database: the expression and partial indexes
    the migrations added after the data was loaded have none until the tables are analysed."""
    from orders.models import Customer, Order, OrderLine

    with connection.cursor() as cursor:
        for model in (Order, OrderLine, Customer):
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def _owner(merchant):
    from django.contrib.auth import get_user_model

    from shopops.models import Membership

    user, _ = get_user_model().objects.get_or_create(username="bench-owner", defaults={"is_staff": True})
    Membership.objects.get_or_create(user=user, merchant=merchant, defaults={"role": "owner"})
    return user


def _superuser():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench-superuser", defaults={"is_staff": True, "is_superuser": True}
    )
    return user


def _deep_cursor(merchant) -> str:
    """The cursor of page DEEP_PAGE of the default ordering (newest first), found by hand-written SQL."""
    from orders.models import Order
    from shopops.keyset import Keyset

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ordered_at, id FROM {Order._meta.db_table} WHERE merchant_id = %s "
            "ORDER BY ordered_at DESC, id DESC OFFSET %s LIMIT 1",
            [merchant.pk, (DEEP_PAGE - 1) * 100 - 1],
        )
        ordered_at, order_id = cursor.fetchone()
    return Keyset.encode_cursor(["-ordered_at", "-id"], [ordered_at, order_id])


def _time(client, url, headers=None) -> tuple[float, int, int]:
    """Median milliseconds over RUNS (after two warm-ups), queries of one more request, and the status code."""
    headers = headers or {}
    for _ in range(2):
        client.get(url, **headers)
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url, **headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, **headers)
    return statistics.median(timings), len(queries.captured_queries), response


def _page(response) -> tuple[int, str]:
    """The rows of a changelist page and the count it shows, read from the HTML."""
    html = response.content.decode()
    count = re.search(r"on this page of ([^<]+)</span>", html)
    return html.count('name="_selected_action"'), count.group(1).strip() if count else "?"


def run() -> str:
    from orders.models import Order

    merchant = _setup()
    _analyze()
    last = Order.objects.filter(merchant=merchant).order_by("-id").values_list("number", flat=True)[0]
    api = Client()
    api_ms, api_queries, _ = _time(
        api, f"/api/v1/orders/?page_size={PAGE_SIZE}", {"HTTP_AUTHORIZATION": f"Bearer {_token(merchant)}"}
    )
    desk = Client()
    desk.force_login(_owner(merchant))
    cases = [
        ("first page", ""),
        (f"page {DEEP_PAGE:,}", f"?cursor={_deep_cursor(merchant)}"),
        (f"number {last}", f"?q={last}"),
        ("missing number", "?q=B-9999999"),
        ("name 'Customer 123'", "?q=Customer+123"),
        ("phone 98000 00123", "?q=98000+00123"),
        ("SKU b-1 (every order)", "?q=b-1"),
        ("status confirmed", "?status__in=confirmed"),
        ("ship date 90 days", "?ship_date_after=2025-04-01&ship_date_before=2025-06-29"),
    ]
    results = []
    print(f"orders: {Order.objects.filter(merchant=merchant).count():,} of merchant {merchant.slug}; "
          f"API order list (first page of {PAGE_SIZE}): median {api_ms:.1f} ms, {api_queries} queries")  # fmt: skip
    for label, query in cases:
        ms, queries, response = _time(desk, ORDERS_URL + query)
        rows, count = _page(response)
        results.append((label, ms, queries))
        print(f"  {label:<26} median {ms:7.1f} ms  {queries:2d} queries  {rows:3d} rows  "
              f"{ms / api_ms:5.1f}x API  ({count})")  # fmt: skip
    superuser = Client()
    superuser.force_login(_superuser())
    ms, queries, response = _time(superuser, ORDERS_URL)
    rows, count = _page(response)
    results.append(("superuser, every merchant", ms, queries))
    print(f"  {'superuser, every merchant':<26} median {ms:7.1f} ms  {queries:2d} queries  {rows:3d} rows  "
          f"{ms / api_ms:5.1f}x API  ({count})")  # fmt: skip
    worst = max(results, key=lambda r: r[1])
    query_counts = sorted({r[2] for r in results})
    over = [label for label, ms, _ in results if ms > TARGET_MS or ms > TARGET_RATIO * api_ms]
    print(f"  slowest: {worst[0]} {worst[1]:.1f} ms (target <= {TARGET_MS} ms and <= {TARGET_RATIO}x API); "
          f"over target: {', '.join(over) or 'none'}")  # fmt: skip
    return (
        f"bench admin: first page {results[0][1]:.1f} ms, page {DEEP_PAGE:,} {results[1][1]:.1f} ms, "
        f"number {results[2][1]:.1f} ms, name {results[4][1]:.1f} ms, slowest {worst[0]} {worst[1]:.1f} ms, "
        f"queries {'/'.join(map(str, query_counts))}; ratio {worst[1] / api_ms:.1f}x vs API order list "
        f"({api_ms:.1f} ms)"
    )

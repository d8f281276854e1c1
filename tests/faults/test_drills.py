"""Fault drills: the broker, the cache and the database go down under real traffic and come back (``make faults``).

Each test runs one drill of tests/faults/drills.py on the shared stack and asserts what it saw: every request
answered within its budget with 2xx, 4xx or 503; /healthz truthful while the service was down and ok after; every
job finished once; no order, stock movement, AWB or document lost or written twice; no ShopOps process restarted;
and the drill's own exact expectations (``Report.expect``: the answers, each job's counts, the orders, the events),
listed in tests/faults/drills.py with the drill.
"""

import pytest

from tests.faults import drills

pytestmark = pytest.mark.faults

PROCESSES = {"gunicorn": True, "worker": True, "beat": True}


def assert_survived(report: drills.Report) -> None:
    assert report.mismatches == []
    assert report.bad_answers == []
    assert report.healthz_during_outage > 0  # /healthz was asked while the service was down
    assert report.healthz_lies == []
    assert report.healthz_ok_at is not None  # ok again within RECOVERY_DEADLINE
    assert report.first_2xx_at is not None
    assert report.stranded == []
    assert report.invariants == []
    assert (report.alive, report.gunicorn_boots) == (PROCESSES, 2)


def test_broker_down_during_imports_each_import_finishes_once_after_it_returns(stack):
    # 4 uploads of 25 orders while the broker is down: 202 queued; after it returns, 100 orders, each once
    assert_survived(drills.broker_imports(stack, imports=4, orders_each=25))


def test_broker_down_during_label_requests_each_document_is_rendered_once_after_it_returns(stack):
    # 4 label requests of 2 shipments while the broker is down: 202 queued; after it returns, 4 PDFs of 2 pages
    assert_survived(drills.broker_labels(stack, requests=4))


def test_cache_down_during_api_traffic_no_500_and_throttling_resumes_when_it_returns(stack):
    # 6 orders created and confirmed, 6 lists, a throttled client while the cache is down; one budget once back
    assert_survived(drills.cache(stack, orders=6))


def test_database_restarted_during_an_import_the_import_finishes_with_every_order_once(stack):
    # 10,000 orders, the database stopped for 3 s after the first chunk of 2,000, partners calling throughout
    assert_survived(drills.database_import(stack, orders=5 * drills.IMPORT_CHUNK))


def test_database_restarted_during_a_ship_batch_each_order_is_booked_once(stack):
    # 40 orders, the database stopped for 3 s after the first is booked, partners calling throughout
    assert_survived(drills.database_batch(stack))

"""The fault drills share one stack (tests/faults/stack.py) for the session: starting it (a PostgreSQL cluster
migrated and seeded, two Redis servers, gunicorn, a Celery worker and beat) is most of the suite's time."""

import os
import sys

import pytest

from tests.faults import stack as faults_stack


@pytest.fixture(scope="session")
def stack():
    reason = faults_stack.missing()
    if reason and os.environ.get("FAULTS_REQUIRED"):  # CI: a machine without them is a failure, not a skip
        pytest.fail(f"the fault drills need their own services: {reason}")
    if reason:
        pytest.skip(f"the fault drills need their own services: {reason}")
    with faults_stack.running_stack(log=lambda line: print(f"[faults] {line}", file=sys.stderr)) as running:
        yield running

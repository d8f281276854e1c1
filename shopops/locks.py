"""Named locks that are not row locks: held across a call to another service (which must not run inside a
transaction, so cannot hold a row lock), e.g. while one process logs in to a service for everyone.

On PostgreSQL a session-level advisory lock (``pg_advisory_lock``), so processes on every machine agree; on SQLite
(one machine, the demo) a lock per process.
"""

import threading
import zlib
from collections import defaultdict
from contextlib import contextmanager

from django.db import connection

_local_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_guard = threading.Lock()


def _lock_id(name: str) -> int:
    """A 63-bit signed id for the name (advisory locks take a bigint)."""
    return (zlib.crc32(name.encode()) | zlib.adler32(name.encode()) << 32) & 0x7FFFFFFFFFFFFFFF


@contextmanager
def named_lock(name: str):
    """Hold the lock called ``name`` for the block; waits while another process or thread holds it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_lock_id(name)])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_lock_id(name)])
        return
    with _guard:
        lock = _local_locks[name]
    with lock:
        yield

"""Calls to other services (couriers, SMS and email gateways) never run while a database transaction is open.

A call over the network may take seconds or time out; made inside a transaction it would hold the transaction's
row locks (an order, its shipment, a pickup) all that time, and its answer could be lost to a rollback after
the other service acted on it. So a service records its intent in a short transaction, makes the call after
commit with no transaction open, and records the outcome in another short transaction (see README, "Calls to
other services"). ``outside_transaction`` is the check each service makes right before such a call.
"""

from django.db import DEFAULT_DB_ALIAS, transaction


class TransactionOpen(RuntimeError):
    """A call to another service was attempted while a database transaction was open."""


def in_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether an atomic block is open on the connection, not counting the blocks a test case wraps each test in
    (Django marks those ``_from_testcase``): a test that runs in its test case's transaction checks the code
    under test as it runs in production."""
    connection = transaction.get_connection(using)
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def outside_transaction(what: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Raise ``TransactionOpen`` if a transaction is open: ``what`` (e.g. "book shipment 7 with Blue Dart") is
    about to call another service."""
    if in_transaction(using):
        raise TransactionOpen(f"{what}: a call to another service must not run inside a database transaction; "
                              "record the intent, call after commit, record the outcome.")  # fmt: skip

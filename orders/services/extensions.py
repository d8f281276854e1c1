"""What other apps do when an order's goods come back: steps of the order services that another app supplies.

orders comes before shipping and knows nothing of it; shipping issues the credit note of an invoiced order that is
cancelled, or whose return is received. It registers those steps here as it loads (``ShippingConfig.ready``), and
the order services call them explicitly, in the same transaction as the move, under the same row locks: the
cancellation and its credit note commit together or not at all.
"""

from collections.abc import Callable

from orders.models import Order, Return


class OrderServiceExtensions:
    def __init__(self) -> None:
        #: ``step(locked_order, actor)`` after an order moved to cancelled.
        self.on_cancelled: list[Callable[[Order, str], None]] = []
        #: ``step(locked_return, actor)`` after a return was received (its goods restocked, its order moved).
        self.on_return_received: list[Callable[[Return, str], None]] = []

    @staticmethod
    def _add(steps: list, step: Callable) -> Callable:
        names = [(known.__module__, known.__qualname__) for known in steps]
        if (step.__module__, step.__qualname__) not in names:  # a module imported twice registers once
            steps.append(step)
        return step

    def register_on_cancelled(self, step: Callable[[Order, str], None]) -> Callable:
        return self._add(self.on_cancelled, step)

    def register_on_return_received(self, step: Callable[[Return, str], None]) -> Callable:
        return self._add(self.on_return_received, step)


order_service_extensions = OrderServiceExtensions()

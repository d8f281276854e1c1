"""A fake store for write-back tests: canned answers per (method, path), given out in order, and the requests sent."""

from orders.channels.writeback import Request


class FakeStore:
    """Stands in for a store's HTTP API: each (method, path) has a queue of answers (a body, or ``LOST``)."""

    def __init__(self, answers: dict[tuple[str, str], list]):
        self.answers = {key: list(queue) for key, queue in answers.items()}
        self.sent: list[Request] = []

    def send(self, request: Request):
        self.sent.append(request)
        queue = self.answers.get((request.method, request.path))
        if not queue:
            raise AssertionError(f"the store has no answer left for {request.method} {request.path}")
        return queue.pop(0)

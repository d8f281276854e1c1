"""Webhook test kit: endpoints and deliveries, a receiving HTTP server on 127.0.0.1, and a DNS table."""

import http.server
import socket
import threading
from collections import deque
from dataclasses import dataclass, field

import factory
import pytest
from django.utils import timezone

from shopops.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.shopops.factories import MerchantFactory

SECRET = "whsec_test-secret-0123456789"


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    """An endpoint stored as it is (no URL check): nothing is sent to it unless a test runs the deliveries."""

    class Meta:
        model = WebhookEndpoint

    merchant = factory.SubFactory(MerchantFactory)
    url = "https://hooks.partner.example/shopops"
    events = factory.LazyFunction(lambda: ["*"])
    secret = SECRET
    created_by = "system"


def make_delivery(endpoint: WebhookEndpoint, *, event_type: str = "order.updated", object_key: str = "order:1",
                  status: str = "pending", data: dict | None = None, **fields) -> WebhookDelivery:  # fmt: skip
    now = timezone.now()
    return WebhookDelivery.objects.create(
        merchant_id=endpoint.merchant_id, endpoint=endpoint, event_id=f"evt_{WebhookDelivery.objects.count() + 1:032x}",
        event_type=event_type, object_key=object_key, data=data or {"n": 1}, event_created_at=now,
        next_attempt_at=fields.pop("next_attempt_at", now), queued_at=now, status=status, **fields,
    )  # fmt: skip


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers the next status of ``statuses`` (200 when
    none is left)."""

    server: http.server.ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    statuses: deque = field(default_factory=deque)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"


@pytest.fixture
def receiver(settings):
    """A local receiver; private addresses (and http) are allowed for the test."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    holder: dict[str, Receiver] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            me = holder["receiver"]
            me.requests.append(Received(self.path, dict(self.headers.items()), body))
            status = me.statuses.popleft() if me.statuses else 200
            answer = f'{{"received": {len(me.requests)}}}'.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["receiver"] = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield holder["receiver"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dns(monkeypatch):
    """A DNS table for the test: names in it resolve to the given addresses, others as the system resolves them
    (no test resolves a name on the internet)."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in table[host]]  # fmt: skip
        if host in ("localhost", "127.0.0.1", "::1"):
            return real(host, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table

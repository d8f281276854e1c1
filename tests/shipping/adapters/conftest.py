"""Courier services' adapters, tested against recorded answers: an account of each service on a local base URL
(no test reaches the internet), a courier booked through it, and the waits between attempts recorded instead of
slept."""

import pytest

from shipping.adapters import http
from shipping.models import CourierAccount
from tests.shipping.factories import shipping_courier

#: Where the tests' accounts send their requests (respx and responses answer there; nothing listens).
BASE_URLS = {
    "shiprocket": "https://shiprocket.test/v1/external",
    "delhivery": "https://delhivery.test",
    "easypost": "https://easypost.test/v2",
}
#: Credentials of the tests' accounts; each is searched for in logs, responses and the HTTP log.
CREDENTIALS = {
    "shiprocket": {"email": "api-user@shop.example", "password": "sr-pass-Z7q!x9", "webhook_token": "sr-hook-8Kp2"},
    "delhivery": {"api_token": "dlv-token-4f0c9a77e1", "webhook_token": "dlv-hook-93mQ"},
    "easypost": {"api_key": "EZTKtestkey0123456789", "webhook_secret": "sécret"},
}


@pytest.fixture(autouse=True)
def courier_hosts(settings):
    settings.COURIER_BASE_URLS = {f"{service}.{env}": url for service, url in BASE_URLS.items()
                                  for env in ("sandbox", "live")}  # fmt: skip
    settings.COURIER_MAX_ATTEMPTS = 3
    settings.COURIER_CIRCUIT_FAILURES = 5
    settings.COURIER_CIRCUIT_SECONDS = 60


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The backoff waits the client would have slept, in order (nothing sleeps)."""
    recorded: list[float] = []
    monkeypatch.setattr(http, "sleep", recorded.append)
    return recorded


def make_account(merchant, service: str, *, name: str = "", options: dict | None = None,
                 environment: str = "sandbox") -> CourierAccount:  # fmt: skip
    return CourierAccount.objects.create(merchant=merchant, service=service, name=name or f"{service} account",
                                         environment=environment, credentials=dict(CREDENTIALS[service]),
                                         options=options or {})  # fmt: skip


def account_courier(merchant, account: CourierAccount, *, code: str = "", service_code: str = "", **data):
    """A courier booked through ``account`` that carries the test orders (560001 -> 560025), without an AWB pool."""
    return shipping_courier(merchant, code=code or account.service, name=data.pop("name", account.service.title()),
                            adapter=account.service, pool=None, account=account, service_code=service_code,
                            **data)  # fmt: skip

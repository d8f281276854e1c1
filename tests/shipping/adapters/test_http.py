"""The HTTP policy every courier adapter uses: timeouts, bounded retries with backoff only where they are safe,
the circuit breaker per account, the call log with redacted bodies, one login for everyone."""

import logging
import threading
from datetime import timedelta

import httpx
import pytest
import respx
from django.db import connection, transaction
from django.utils import timezone

from shipping.adapters.http import CourierClient, account_session, backoff
from shipping.models import AccountHealth, CourierAccount, CourierHttpLog
from shopops.errors import DomainError
from shopops.integrations import TransactionOpen
from tests.shipping.adapters.conftest import BASE_URLS, CREDENTIALS, make_account

BASE = BASE_URLS["delhivery"]
SECRET = CREDENTIALS["delhivery"]["api_token"]


@pytest.fixture
def account(merchant):
    return make_account(merchant, "delhivery")


def call(account, method="GET", path="/api/ping", *, idempotent=True, **kwargs):
    with CourierClient(account, operation="test", reference="REF-1") as client:
        return client.request(method, path, idempotent=idempotent, headers={"Authorization": f"Token {SECRET}"},
                              **kwargs)  # fmt: skip


def statuses(account) -> list:
    return list(CourierHttpLog.objects.filter(account=account).order_by("id").values_list("status_code", flat=True))


@respx.mock
def test_an_idempotent_call_is_retried_on_5xx_with_growing_jittered_waits(account, waits):
    route = respx.get(f"{BASE}/api/ping").mock(side_effect=[httpx.Response(503), httpx.Response(502),
                                                             httpx.Response(200, json={"ok": True})])  # fmt: skip

    assert call(account) == {"ok": True}

    assert route.call_count == 3
    assert statuses(account) == [503, 502, 200]
    assert len(waits) == 2 and 0 <= waits[0] <= 0.5 and 0 <= waits[1] <= 1.0
    account.refresh_from_db()
    assert (account.health, account.consecutive_failures, account.failing_since) == (AccountHealth.CONNECTED, 0, None)


@respx.mock
def test_a_429_waits_as_long_as_retry_after_says(account, waits):
    route = respx.get(f"{BASE}/api/ping").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "2"}, json={"message": "You have exceeded the API call rate"}),
        httpx.Response(200, json={"ok": 1})])  # fmt: skip

    assert call(account) == {"ok": 1}
    assert (route.call_count, waits) == (2, [2.0])


@respx.mock
def test_a_retry_after_beyond_the_longest_wait_gives_up_at_once(account, waits):
    route = respx.get(f"{BASE}/api/ping").mock(return_value=httpx.Response(429, headers={"Retry-After": "120"}))

    with pytest.raises(DomainError) as caught:
        call(account)

    assert (caught.value.code, caught.value.details) == ("courier_unavailable", {"attempts": 1, "retry_after": 120})
    assert (route.call_count, waits) == (1, [])


@respx.mock
def test_an_idempotent_call_gives_up_after_the_attempts_allowed(account, waits):
    route = respx.get(f"{BASE}/api/ping").mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(DomainError) as caught:
        call(account)

    assert caught.value.code == "courier_unavailable"
    assert "did not answer in time" in caught.value.message and caught.value.details == {"attempts": 3}
    assert (route.call_count, len(waits)) == (3, 2)
    assert statuses(account) == [None, None, None]


@respx.mock
def test_a_write_that_timed_out_is_not_sent_again(account, waits):
    route = respx.post(f"{BASE}/api/create").mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(DomainError) as caught:
        call(account, "POST", "/api/create", idempotent=False, json_body={"order": "SO-1"})

    assert caught.value.code == "courier_outcome_unknown"
    assert (route.call_count, waits) == (1, [])


@respx.mock
def test_a_write_answered_5xx_may_have_acted_and_is_not_sent_again(account, waits):
    route = respx.post(f"{BASE}/api/create").mock(return_value=httpx.Response(500, text="Internal error"))

    with pytest.raises(DomainError) as caught:
        call(account, "POST", "/api/create", idempotent=False)

    assert caught.value.code == "courier_outcome_unknown"
    assert (route.call_count, waits) == (1, [])


@respx.mock
def test_a_write_whose_connection_failed_never_left_and_is_sent_again(account, waits):
    route = respx.post(f"{BASE}/api/create").mock(side_effect=[httpx.ConnectError("refused"),
                                                               httpx.Response(200, json={"id": 7})])  # fmt: skip

    assert call(account, "POST", "/api/create", idempotent=False) == {"id": 7}
    assert (route.call_count, len(waits)) == (2, 1)


@respx.mock
def test_rejected_credentials_are_said_plainly_and_shown_on_the_account(account, waits):
    route = respx.get(f"{BASE}/api/ping").mock(return_value=httpx.Response(401, json={"detail": "Invalid token"}))

    with pytest.raises(DomainError) as caught:
        call(account)

    assert caught.value.code == "courier_credentials_rejected"
    assert caught.value.message == (
        "Delhivery (delhivery account) rejected the account's credentials (401: Invalid token)."
    )
    assert (route.call_count, waits) == (1, [])
    account.refresh_from_db()
    assert account.health == AccountHealth.REJECTED and account.failing_since is not None


@respx.mock
def test_a_refusal_passes_the_services_reason_and_field_errors_through(account):
    respx.post(f"{BASE}/api/create").mock(
        return_value=httpx.Response(
            422,
            json={
                "message": "Oops! Invalid Data.",
                "errors": {"billing_pincode": ["The billing pincode must be 6 digits."]},
            },
        )
    )

    with pytest.raises(DomainError) as caught:
        call(account, "POST", "/api/create", idempotent=False)

    assert caught.value.code == "courier_refused"
    assert caught.value.message == "Delhivery (delhivery account) refused: Oops! Invalid Data.."
    assert caught.value.details == {
        "status": 422,
        "service_message": "Oops! Invalid Data.",
        "service_errors": {"billing_pincode": ["The billing pincode must be 6 digits."]},
    }


@pytest.mark.parametrize(("body", "what"), [
    (b"<html><body>502 Bad Gateway</body></html>", "an HTML page"),
    (b"", "an empty body"),
    (b'{"packages": [', "malformed JSON"),
])  # fmt: skip
@respx.mock
def test_an_unreadable_answer_is_a_clear_error(account, body, what):
    respx.get(f"{BASE}/api/ping").mock(return_value=httpx.Response(200, content=body))

    with pytest.raises(DomainError) as caught:
        call(account)

    assert caught.value.code == "courier_bad_response"
    assert caught.value.message == f"Delhivery (delhivery account) answered 200 with {what}."


@respx.mock
def test_an_unreadable_answer_to_a_write_may_have_acted(account):
    respx.post(f"{BASE}/api/create").mock(return_value=httpx.Response(200, text="<html>OK</html>"))

    with pytest.raises(DomainError) as caught:
        call(account, "POST", "/api/create", idempotent=False)
    assert caught.value.code == "courier_outcome_unknown"


@respx.mock
def test_the_circuit_opens_after_failures_in_a_row_and_fails_fast(account, waits, settings):
    settings.COURIER_MAX_ATTEMPTS = 1
    route = respx.get(f"{BASE}/api/ping").mock(return_value=httpx.Response(503))
    for _ in range(5):
        with pytest.raises(DomainError):
            call(account)
    account.refresh_from_db()
    assert (account.health, account.consecutive_failures) == (AccountHealth.FAILING, 5)
    assert account.circuit_open_until is not None and account.failing_since is not None

    with pytest.raises(DomainError) as caught:
        call(account)

    assert caught.value.code == "courier_unavailable" and caught.value.details["circuit_open"] is True
    assert route.call_count == 5  # the sixth never reached the service

    # Once the pause is over, one call goes through; an answer closes the circuit.
    CourierAccount.objects.filter(pk=account.pk).update(circuit_open_until=timezone.now() - timedelta(seconds=1))
    route.mock(return_value=httpx.Response(200, json={}))
    assert call(account) == {}
    account.refresh_from_db()
    assert (account.health, account.consecutive_failures, account.circuit_open_until, account.failing_since) == (
        AccountHealth.CONNECTED, 0, None, None)  # fmt: skip


@respx.mock
def test_credentials_never_reach_the_log_or_the_log_table(account, caplog):
    caplog.set_level(logging.DEBUG)
    respx.post(f"{BASE}/waybill").mock(
        return_value=httpx.Response(
            400, json={"error": f"bad token {SECRET}", "echo": {"token": SECRET, "password": "x"}}
        )
    )

    with pytest.raises(DomainError) as caught:
        call(
            account,
            "POST",
            f"/waybill?token={SECRET}&count=5",
            idempotent=False,
            json_body={"api_token": SECRET, "note": f"sent with {SECRET}", "password": "hunter22"},
        )

    log = CourierHttpLog.objects.get(account=account)
    stored = " ".join([log.url, log.request_body, log.response_body, log.error])
    assert SECRET not in stored and "hunter22" not in stored
    assert log.url == f"{BASE}/waybill?token=%5Bredacted%5D&count=5"
    assert '"note": "sent with [redacted]"' in log.request_body and '"password": "[redacted]"' in log.request_body
    assert (log.method, log.status_code, log.reference, log.operation) == ("POST", 400, "REF-1", "test")
    assert SECRET not in caplog.text
    assert SECRET not in caught.value.message  # the service echoed it: the error repeats only what is safe


def test_no_call_is_made_inside_a_transaction(account):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/api/ping").mock(return_value=httpx.Response(200, json={}))
        with transaction.atomic(), pytest.raises(TransactionOpen):
            call(account)
    assert route.call_count == 0


def test_backoff_grows_and_is_capped(settings):
    settings.COURIER_MAX_BACKOFF = 3
    assert all(0 <= backoff(1) <= 0.5 for _ in range(50))
    assert all(0 <= backoff(10) <= 3 for _ in range(50))
    assert backoff(4, retry_after=1.5) == 1.5


def test_the_credentials_column_holds_ciphertext_and_reads_back(account):
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM shipping_courieraccount WHERE id = %s", [account.pk])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored and stored.startswith("gAAAA")  # a Fernet token
    assert CourierAccount.objects.get(pk=account.pk).credentials == CREDENTIALS["delhivery"]
    assert SECRET not in repr(CourierAccount.objects.get(pk=account.pk).credentials)


def test_one_login_serves_every_request_until_the_service_refuses_it(account):
    logins = []

    def login():
        logins.append(1)
        return {"token": f"tok-{len(logins)}-abcdef"}, timezone.now() + timedelta(days=10)

    first = account_session(account, login=login)
    again = account_session(account, login=login)
    assert first == again == {"token": "tok-1-abcdef"} and len(logins) == 1

    renewed = account_session(account, login=login, refused=first)
    assert renewed == {"token": "tok-2-abcdef"} and len(logins) == 2
    # A second request refused with the old token finds the new one and does not log in again.
    assert account_session(account, login=login, refused=first) == renewed and len(logins) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_processes_that_find_no_session_at_once_log_in_once(merchant):
    account = make_account(merchant, "shiprocket")
    logins, gate, results = [], threading.Event(), []

    def login():
        logins.append(1)
        gate.wait(timeout=5)  # hold the lock while the other threads arrive
        return {"token": "tok-shared-123456"}, timezone.now() + timedelta(days=10)

    def worker():
        try:
            results.append(account_session(CourierAccount.objects.get(pk=account.pk), login=login)["token"])
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    threading.Timer(0.5, gate.set).start()
    for thread in threads:
        thread.join(timeout=20)

    assert (len(logins), results) == (1, ["tok-shared-123456"] * 4)


@respx.mock
def test_a_403_from_another_host_is_a_refusal_not_rejected_credentials(account):
    label = (
        "https://labels.s3.example/slip.pdf?X-Amz-Credential=AKIA%2Fin&X-Amz-Signature=9f8e7d6c5b4a&X-Amz-Expires=60"
    )
    respx.get(label).mock(return_value=httpx.Response(403, text="<Error><Code>AccessDenied</Code></Error>"))

    with pytest.raises(DomainError) as caught, CourierClient(account, operation="label", reference="AWB1") as client:
        client.request("GET", label, idempotent=True, raw=True)

    assert (caught.value.code, caught.value.details["status"]) == ("courier_refused", 403)
    account.refresh_from_db()
    # neither the credentials nor the service's health were in question
    assert (account.health, account.consecutive_failures) == (AccountHealth.UNVERIFIED, 0)
    logged = CourierHttpLog.objects.get(account=account).url
    assert logged == ("https://labels.s3.example/slip.pdf?X-Amz-Credential=%5Bredacted%5D"
                      "&X-Amz-Signature=%5Bredacted%5D&X-Amz-Expires=60")  # fmt: skip


@respx.mock
def test_a_refusal_without_a_message_passes_the_whole_body_as_the_reason(account):
    respx.post(f"{BASE}/fm/request/new/").mock(
        return_value=httpx.Response(400, json={"pickup_location": "Invalid Pickup Location Acme WH"})
    )

    with pytest.raises(DomainError) as caught:
        call(account, "POST", "/fm/request/new/", idempotent=False, json_body={})

    assert caught.value.code == "courier_refused"
    assert caught.value.details["service_errors"] == {"pickup_location": "Invalid Pickup Location Acme WH"}

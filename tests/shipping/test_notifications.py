"""Customer notifications: one email and one SMS per customer-facing event, sent once, per the merchant's settings;
and one sent by a real worker from the notifications queue."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from django.utils.dateformat import format as date_format

from shipping import notifications
from shipping.models import NDR, Notification, ShipmentStatus
from shipping.services.ndr import ndr_action
from shipping.services.notifications import notification_send, notification_setting_set
from shopops.celery import app
from tests.shipping.factories import courier_event, make_shipment

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "priya.sharma@example.in"
PHONE = "+919812345678"
URL = "https://track.acme.example/track/BL10000000/{token}/"  # the shipment's own link


@pytest.fixture(autouse=True)
def sms(settings):
    settings.SHOPOPS_SMS_BACKEND = "shipping.notifications.MemorySMSBackend"
    settings.SHOPOPS_PUBLIC_URL = "https://track.acme.example"
    notifications.outbox.clear()
    yield notifications.outbox
    notifications.outbox.clear()


def shipment_at(merchant, status, **overrides):
    return make_shipment(merchant, status, customer={"email": EMAIL}, **overrides)


#: event -> (the status before it, the courier's code, subject, SMS) with {n} the order number.
EVENTS = {
    "shipped": (ShipmentStatus.PICKUP_SCHEDULED, "picked_up", "Your order {n} from Acme Retail has shipped",
                "Acme Retail: order {n} shipped with Blue Dart, AWB BL10000000. Expected by {d}. Track: " + URL),
    "out_for_delivery": (ShipmentStatus.IN_TRANSIT, "out_for_delivery", "Your order {n} is out for delivery",
                         "Acme Retail: order {n} is out for delivery today. Track: " + URL),
    "delivered": (ShipmentStatus.OUT_FOR_DELIVERY, "delivered", "Your order {n} has been delivered",
                  "Acme Retail: order {n} has been delivered. Thank you!"),
    "ndr": (ShipmentStatus.OUT_FOR_DELIVERY, "ndr", "We could not deliver your order {n}",
            "Acme Retail: delivery of order {n} failed today. We will try again; reply to our email to correct your "
            "address. Track: " + URL),
    "rto": (ShipmentStatus.NDR, "rto_initiated", "Your order {n} is being returned to Acme Retail",
            "Acme Retail: order {n} could not be delivered and is returning to us. Contact us if you still want it."),
}  # fmt: skip


@pytest.mark.parametrize("event", list(EVENTS))
def test_one_email_and_one_sms_per_customer_facing_event(event, merchant, mailoutbox, sms,
                                                         django_capture_on_commit_callbacks):  # fmt: skip
    before, code, subject, text = EVENTS[event]
    shipment = shipment_at(merchant, before)
    number, day = shipment.order.number, date_format(shipment.expected_delivery_date, "j M")
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        courier_event(shipment, code, event_id=f"ev-{event}")

    assert len(callbacks) == 2  # one notify_send per channel, enqueued after the commit
    assert [(m.subject, m.to, m.from_email) for m in mailoutbox] == [
        (subject.format(n=number), [EMAIL], "ShopOps <no-reply@localhost>")]  # fmt: skip
    assert sms == [(PHONE, text.format(n=number, d=day, token=shipment.tracking_token))]
    rows = list(Notification.objects.filter(event=event).order_by("channel").values_list(
        "channel", "recipient", "status", "error", "tracking_event__event_key"))  # fmt: skip
    assert rows == [
        ("email", EMAIL, "sent", "", f"{shipment.awb}|ev-{event}"),
        ("sms", PHONE, "sent", "", f"{shipment.awb}|ev-{event}"),
    ]


def test_the_shipped_email_reads_well(merchant, mailoutbox, django_capture_on_commit_callbacks):
    shipment = shipment_at(merchant, ShipmentStatus.PICKUP_SCHEDULED, payment_method="cod")
    with django_capture_on_commit_callbacks(execute=True):
        courier_event(shipment, "picked_up")

    by = date_format(shipment.expected_delivery_date, "l, j F")
    assert mailoutbox[0].body == (
        f"Hello Priya Sharma,\n\nYour order {shipment.order.number} from Acme Retail is on its way with Blue Dart "
        f"(AWB BL10000000).\nIt should reach you by {by}.\nPlease keep {shipment.cod_amount} INR ready to pay on "
        f"delivery.\n\nTrack it here: {URL.format(token=shipment.tracking_token)}\n\nAcme Retail\n"
    )


def test_the_rto_requested_by_the_merchant_notifies_too(merchant, mailoutbox, sms,
                                                        django_capture_on_commit_callbacks):  # fmt: skip
    shipment = shipment_at(merchant, ShipmentStatus.NDR)

    with django_capture_on_commit_callbacks(execute=True):
        ndr_action(ndr=NDR.objects.get(shipment=shipment), action="rto", actor="user:1")

    assert [m.subject for m in mailoutbox] == [f"Your order {shipment.order.number} is being returned to Acme Retail"]
    assert len(sms) == 1
    assert list(Notification.objects.filter(event="rto").values_list("tracking_event", flat=True)) == [None, None]


def test_a_redelivered_event_sends_nothing_twice(merchant, mailoutbox, sms, django_capture_on_commit_callbacks):
    shipment = shipment_at(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    at = timezone.now() - timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        courier_event(shipment, "picked_up", at=at, event_id="ev-1")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        courier_event(shipment, "picked_up", at=at, event_id="ev-1")
        courier_event(shipment, "picked_up", at=at + timedelta(minutes=5), event_id="ev-2")  # a new scan, no move

    assert callbacks == []
    assert (len(mailoutbox), len(sms), Notification.objects.count()) == (1, 1, 2)


def test_an_event_the_merchant_turned_off_sends_nothing(merchant, mailoutbox, sms, django_capture_on_commit_callbacks):
    notification_setting_set(merchant=merchant, data={"on_shipped": False})
    shipment = shipment_at(merchant, ShipmentStatus.PICKUP_SCHEDULED)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        courier_event(shipment, "picked_up", at=timezone.now() - timedelta(hours=2))
    assert (callbacks, mailoutbox, sms, Notification.objects.count()) == ([], [], [], 0)

    with django_capture_on_commit_callbacks(execute=True):
        courier_event(shipment, "out_for_delivery")  # still on
    assert [m.subject for m in mailoutbox] == [f"Your order {shipment.order.number} is out for delivery"]
    assert len(sms) == 1


def test_with_email_disabled_only_the_sms_goes(merchant, mailoutbox, sms, django_capture_on_commit_callbacks):
    notification_setting_set(merchant=merchant, data={"email_enabled": False})
    shipment = shipment_at(merchant, ShipmentStatus.PICKUP_SCHEDULED)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        courier_event(shipment, "picked_up")

    assert (len(callbacks), mailoutbox, len(sms)) == (1, [], 1)
    assert list(Notification.objects.values_list("channel", "status")) == [("sms", "sent")]


def test_a_customer_without_email_gets_the_sms(merchant, mailoutbox, sms, django_capture_on_commit_callbacks):
    shipment = make_shipment(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    assert shipment.order.customer.email == ""

    with django_capture_on_commit_callbacks(execute=True):
        courier_event(shipment, "picked_up")

    assert (mailoutbox, len(sms)) == ([], 1)


def test_sending_a_notification_twice_sends_it_once(merchant, mailoutbox):
    shipment = shipment_at(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    courier_event(shipment, "picked_up")  # queued: the test transaction never commits, so nothing is sent yet
    mailoutbox.clear()
    email = Notification.objects.get(channel="email")
    assert email.status == "queued"

    first = notification_send(notification_id=email.pk)
    second = notification_send(notification_id=email.pk)

    assert (first.status, second.status, len(mailoutbox)) == ("sent", "sent", 1)
    assert second.sent_at == first.sent_at


class RefusingSMSBackend:
    def send(self, phone: str, text: str) -> None:
        raise ValueError(f"gateway refused {phone}: number not reachable")


class DownSMSBackend:
    def send(self, phone: str, text: str) -> None:
        raise ConnectionError("gateway unreachable")


def test_a_refusal_marks_the_notification_failed(merchant, settings):
    settings.SHOPOPS_SMS_BACKEND = "tests.shipping.test_notifications.RefusingSMSBackend"
    shipment = shipment_at(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    courier_event(shipment, "picked_up")
    sms = Notification.objects.get(channel="sms")

    result = notification_send(notification_id=sms.pk)

    sms.refresh_from_db()
    assert (result.status, sms.status, sms.error, sms.sent_at) == (
        "failed", "failed", "gateway refused +919812345678: number not reachable", None)  # fmt: skip
    assert notification_send(notification_id=sms.pk).status == "failed"  # not retried


def test_a_transient_error_leaves_it_queued_for_the_retry(merchant, settings):
    settings.SHOPOPS_SMS_BACKEND = "tests.shipping.test_notifications.DownSMSBackend"
    shipment = shipment_at(merchant, ShipmentStatus.PICKUP_SCHEDULED)
    courier_event(shipment, "picked_up")
    sms = Notification.objects.get(channel="sms")

    with pytest.raises(ConnectionError):
        notification_send(notification_id=sms.pk)

    sms.refresh_from_db()
    assert (sms.status, sms.error) == ("queued", "")


def test_notify_send_goes_to_the_notifications_queue():
    from shipping.tasks import notify_send

    assert app.amqp.router.route({}, notify_send.name)["queue"].name == "notifications"


# -- a real worker --------------------------------------------------------------------------------------------------


@pytest.fixture
def notifications_worker(tmp_path):
    """A Celery worker (solo pool) on the notifications queue, the Redis broker and the test database; emails are
    printed by the console backend to its log file."""
    if not django_settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        pytest.skip("needs the Redis broker: set CELERY_BROKER_URL (CI uses redis://127.0.0.1:6379/0)")
    if connection.vendor != "postgresql":
        pytest.skip("the worker process must share the test database: set DATABASE_URL to PostgreSQL")
    db = connection.settings_dict
    credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    env = os.environ | {
        "DATABASE_URL": f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "SHOPOPS_SMS_BACKEND": "shipping.notifications.LogSMSBackend",
        "SHOPOPS_PUBLIC_URL": "https://track.acme.example",
    }  # fmt: skip
    log = tmp_path / "worker.log"
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("notifications")
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "shopops", "worker", "--pool=solo", "-Q", "notifications",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"notify-{os.getpid()}@%h",
             "--loglevel=WARNING"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield worker, log
    finally:
        app.conf.task_always_eager = eager
        worker.terminate()
        worker.wait(timeout=30)
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("notifications")


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_notification_from_the_notifications_queue(notifications_worker, merchant):
    worker, log = notifications_worker
    shipment = shipment_at(merchant, ShipmentStatus.PICKUP_SCHEDULED)

    courier_event(shipment, "picked_up", event_id="ev-1")  # committed: notify_send goes to the broker

    deadline = time.monotonic() + 60
    while Notification.objects.filter(status="sent").count() < 2:
        assert worker.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"not sent within 60 s: {log.read_text()}"
        time.sleep(0.1)
    rows = list(Notification.objects.order_by("channel").values_list("channel", "recipient", "status", "error"))
    assert rows == [("email", EMAIL, "sent", ""), ("sms", PHONE, "sent", "")]
    worker.terminate()
    worker.wait(timeout=30)
    output = log.read_text()
    assert f"Subject: Your order {shipment.order.number} from Acme Retail has shipped" in output
    assert f"To: {EMAIL}" in output

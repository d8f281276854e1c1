"""Customer messages about their parcel: email through Django's email backend, SMS through a pluggable backend.

``SHOPOPS_SMS_BACKEND`` names the SMS backend class (default: ``LogSMSBackend``,
which writes the message to the log); a real gateway is a class with a
``send(phone, text)`` method. Texts come from ``templates/emails/``:
``shipment_<event>_subject.txt``, ``shipment_<event>.txt`` (email body) and
``shipment_<event>_sms.txt``.
"""

import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils.module_loading import import_string

from shopops.public_urls import public_url

logger = logging.getLogger(__name__)
#: Failures worth another try later (the notification stays queued and its task retries).
TRANSIENT_ERRORS = (ConnectionError, TimeoutError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)


class LogSMSBackend:
    """Writes each SMS to the ``shipping.sms`` log instead of sending it."""

    def send(self, phone: str, text: str) -> None:
        logging.getLogger("shipping.sms").info("SMS to %s: %s", phone, text)


#: Every SMS sent through ``MemorySMSBackend`` (tests and demos): (phone, text).
outbox: list[tuple[str, str]] = []


class MemorySMSBackend:
    """Keeps each SMS in ``outbox``."""

    def send(self, phone: str, text: str) -> None:
        outbox.append((phone, text))


def sms_backend():
    return import_string(getattr(settings, "SHOPOPS_SMS_BACKEND", "shipping.notifications.LogSMSBackend"))()


def tracking_url(shipment, request=None) -> str:
    """The courier's tracking page when it has one, else ShopOps's public page for this shipment alone (its link
    carries the shipment's unguessable token), on the site's address (``public_url``)."""
    template = shipment.courier.tracking_url_template
    if template and "{awb}" in template:
        return template.replace("{awb}", shipment.awb)
    return public_url(f"/track/{shipment.awb}/{shipment.tracking_token}/", request)


def context_for(notification) -> dict:
    shipment = notification.shipment
    order = shipment.order
    return {
        "merchant": notification.merchant.name,
        "name": (order.shipping_address or {}).get("name", ""),
        "order_number": order.number,
        "awb": shipment.awb,
        "courier": shipment.courier.name,
        "expected_delivery_date": shipment.expected_delivery_date,
        "cod_amount": shipment.cod_amount if shipment.cod_amount else None,
        "currency": shipment.currency,
        "tracking_url": tracking_url(shipment),
    }


def deliver(notification) -> None:
    """Send one notification on its channel; raises what the backend raises."""
    context = context_for(notification)
    name = f"emails/shipment_{notification.event}"
    if notification.channel == "email":
        subject = " ".join(render_to_string(f"{name}_subject.txt", context).split())
        body = render_to_string(f"{name}.txt", context)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [notification.recipient])
    else:
        text = " ".join(render_to_string(f"{name}_sms.txt", context).split())
        sms_backend().send(notification.recipient, text)

"""EasyPost: labels from the carriers of a merchant's EasyPost account (USPS, UPS, FedEx, DHL...), through EasyPost's
official Python SDK (``easypost`` 10.x), with every request sent under ShopOps's HTTP policy.

**The SDK under the policy.** The SDK builds each request (its URL, the key as a bearer token, the JSON body) and
sends it with a ``requests`` session. ``PolicySession`` replaces that session (the SDK keeps it in
``client._requests_session``; 10.x has no public argument for it, so ``EasyPostApi`` checks the attribute is there
and refuses to run without it rather than send around the policy): each request goes through
``shipping.adapters.http.perform`` (timeouts, bounded retries of what is safe to repeat, the account's circuit
breaker, a redacted ``CourierHttpLog`` row per attempt), and the SDK's own retrying adapter is never used. A
connection that could not be made is ``http.NotSent`` (sent again: nothing reached EasyPost), a read timeout or a
dropped connection ``http.NoAnswer`` (a write that may have acted is not repeated: ``courier_outcome_unknown``).
``perform`` answers a refusal with ShopOps's error (``courier_refused`` with EasyPost's message and field errors,
``courier_credentials_rejected`` for 401/403); the SDK wraps whatever its session raises in its own ``HttpError``,
so the session keeps the policy's error and ``EasyPostApi`` raises it in the SDK's place. Answers come back from
the SDK as plain dicts.

**Booking** is two steps at EasyPost: create a shipment (our ``booking_reference`` as its ``reference``, the
addresses, the parcel in ounces and inches, customs for a parcel abroad, the account's ``carrier_accounts``, a PDF
label asked for), which answers its rates, then buy the rate of the courier's ``service_code`` ("USPS:Priority";
"USPS" alone: that carrier's cheapest; blank: the cheapest of all). Only buying costs anything: a shipment not
bought is a quote. EasyPost takes no idempotency key, and its shipments cannot be searched by reference, so after
a booking whose answer was lost (``find_booking``) the account's shipments created since our shipment was are
listed, newest first, and matched on ``reference``: one bought is the booking; one not bought is handed to
``assign_awb`` (the same adapter instance: the call machinery asks ``find_booking`` then ``assign_awb``), which buys
it instead of creating another. A buy refused because the shipment has postage already is resolved by reading the
shipment back. The booking keeps EasyPost's shipment, rate and tracker ids and the label's address in
``carrier_data``.

**Tracking** reads trackers by tracking code (polls, 50 AWBs a request) or from ``tracker.updated`` webhook events
(the HMAC of the body with the account's webhook secret, checked by the SDK's ``validate_webhook``). Each of the
tracker's ``tracking_details`` is an event; its code is EasyPost's ``status``, qualified where one status means two
of ShopOps's steps: the tracker's first ``in_transit`` scan is ``in_transit:first`` (picked up), its first
``return_to_sender`` scan ``return_to_sender:first`` (RTO initiated), and a ``failure`` whose ``status_detail`` is
``lost`` is ``failure:lost``. A tracker always carries its whole history, so the same scan gets the same code and
the same event id (a digest of its time, status, detail and message) from a poll and from a webhook.

**The rest.** Pickups are created for the visit (the first booked shipment anchors it; the instructions name how
many parcels and their tracking codes) and bought at the carrier's cheapest pickup rate; a pickup is found again by
its reference (from the call's key) before another is made. Cancelling a booking asks EasyPost for a refund of the
label; cancelling a pickup cancels it. EasyPost has no API for a failed delivery's next step: the merchant takes it
with the carrier. Live quotes create a shipment without buying it and read its rates.
"""

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

import easypost
import requests
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from easypost.easypost_object import EasyPostObject
from easypost.errors import EasyPostError, SignatureVerificationError
from urllib3.exceptions import MaxRetryError

from catalog.models import Location
from shipping.adapters import http
from shipping.adapters.base import (
    Booking,
    CourierAdapter,
    LiveQuote,
    Parcel,
    TrackingUpdate,
    WebhookRefused,
    booking_reference,
)
from shipping.errors import COURIER_BAD_RESPONSE, COURIER_CREDENTIALS_REJECTED, COURIER_REFUSED, COURIER_UNAVAILABLE
from shipping.models import CourierAccount, NDRAction, Shipment, ShipmentStatus
from shopops.errors import DomainError

S = ShipmentStatus

GRAMS_PER_OUNCE = Decimal("28.349523125")
CM_PER_INCH = Decimal("2.54")
#: EasyPost's largest page of a list.
PAGE_SIZE = 100
#: Pages of a list read at most: the account's shipments looked through for a booking whose answer was lost (newest
#: first, from an hour before our shipment was made; past them the lookup gives up rather than answer "none"), and
#: the trackers of a poll.
LOOKUP_PAGES = 10
LOOKUP_SLACK = timedelta(hours=1)
#: Pages of the account's pickups looked through for one made by an earlier attempt of the same call.
PICKUP_LOOKUP_PAGES = 2
#: The carrier's visit: from 09:00 (or now, later on the day itself) to 18:00, the merchant's time.
PICKUP_WINDOW = (time(9), time(18))
#: EasyPost's refund states that mean the label is being (or was) voided.
REFUNDED = ("submitted", "refunded")
#: What the merchant asks the carrier for, per NDR action (EasyPost cannot pass it on).
NDR_WISHES = {NDRAction.REATTEMPT: "deliver AWB {awb} again", NDRAction.RTO: "return AWB {awb} to the sender"}
#: Statuses whose first scan on a tracker is a step of its own in ShopOps (see the module's docstring).
FIRST_SCANS = ("in_transit", "return_to_sender")


# -- the SDK under ShopOps's HTTP policy ---------------------------------------------------------------------------


def _send_failure(exc: requests.RequestException) -> Exception:
    """What a requests failure means for the policy: a connection never made (refused, DNS, TLS, connect timeout:
    requests wraps those in urllib3's MaxRetryError) is ``NotSent``; anything later (a read timeout, a dropped
    connection) may have reached EasyPost and is ``NoAnswer``."""
    never_connected = isinstance(exc, requests.ConnectTimeout) or (
        isinstance(exc, requests.ConnectionError) and bool(exc.args) and isinstance(exc.args[0], MaxRetryError)
    )
    return (http.NotSent if never_connected else http.NoAnswer)(type(exc).__name__)


class PolicySession(requests.Session):
    """The session the SDK sends with: every request through ``http.perform``. ``operation`` and ``idempotent``
    (for a write EasyPost may safely get twice) are set per SDK call by ``EasyPostApi``; ``failure`` keeps the
    policy's error of the last request, which the SDK would otherwise hide in its own."""

    def __init__(self, account: CourierAccount, *, reference: str, call):
        super().__init__()
        self.account, self.reference, self.call = account, reference, call
        self.operation, self.idempotent, self.failure = "", False, None

    def request(self, method, url, params=None, data=None, headers=None, json=None, **_sdk_options):
        """The SDK's request (its own timeout and TLS options are replaced by the policy's)."""
        return self._send(requests.Request(method.upper(), url, params=params, data=data, headers=headers,
                                           json=json), expect_json=True)  # fmt: skip

    def fetch(self, url: str, *, operation: str) -> bytes:
        """A file EasyPost links to (a label), through the policy."""
        self.operation, self.idempotent = operation, True
        return self._send(requests.Request("GET", url), expect_json=False).content

    def _send(self, request: requests.Request, *, expect_json: bool) -> requests.Response:
        self.failure = None
        prepared = self.prepare_request(request)
        idempotent = prepared.method == "GET" or self.idempotent
        body = prepared.body.decode("utf-8", "replace") if isinstance(prepared.body, bytes) else prepared.body or ""
        environment = self.merge_environment_settings(prepared.url, {}, None, None, None)
        answers: list[requests.Response] = []

        def send() -> http.Exchange:
            try:
                response = super(PolicySession, self).send(
                    prepared, timeout=(settings.COURIER_CONNECT_TIMEOUT, settings.COURIER_READ_TIMEOUT),
                    allow_redirects=False, **environment)  # fmt: skip
            except requests.RequestException as exc:
                raise _send_failure(exc) from exc
            answers.append(response)
            return http.Exchange(response.status_code, response.content, response.headers)

        own_host = prepared.url.startswith(f"{http.base_url(self.account)}/")  # else a label file's host
        try:
            exchange = http.perform(self.account, operation=self.operation, method=prepared.method, url=prepared.url,
                                    send=send, idempotent=idempotent, request_body=body, reference=self.reference,
                                    call=self.call, account_auth=own_host)  # fmt: skip
            if expect_json and exchange.status_code != 204:
                http.read_json(exchange, self.account, idempotent=idempotent)
        except DomainError as exc:
            self.failure = exc
            raise
        return answers[-1]


def _plain(value: Any) -> Any:
    """An SDK answer as plain dicts and lists."""
    if isinstance(value, EasyPostObject):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class EasyPostApi:
    """EasyPost's SDK client for one account, sending through ``PolicySession``. ``api(operation, method, ...)``
    runs one SDK method (``api.client.shipment.create``...) and answers its result as plain data, or raises the
    policy's error; ``reference`` (our booking reference, an AWB) goes to the log."""

    def __init__(self, account: CourierAccount, *, reference: str = ""):
        self.account = account
        self.name = f"{account.get_service_display()} ({account.name})"
        self.session = PolicySession(account, reference=reference, call=http.current_call.get())
        self.client = easypost.EasyPostClient(account.credentials["api_key"], api_base=http.base_url(account),
                                              timeout=int(settings.COURIER_READ_TIMEOUT))  # fmt: skip
        if getattr(self.client, "_request_lib", None) != "requests" or not isinstance(
                getattr(self.client, "_requests_session", None), requests.Session):  # fmt: skip
            raise RuntimeError("This version of the easypost SDK no longer sends through client._requests_session; "
                               "its requests would bypass ShopOps's HTTP policy.")  # fmt: skip
        self.client._requests_session.close()
        self.client._requests_session = self.session

    def __enter__(self) -> "EasyPostApi":
        return self

    def __exit__(self, *exc) -> None:
        self.session.close()

    def __call__(self, operation: str, method: Callable, *args, idempotent: bool = False, **params) -> Any:
        self.session.operation, self.session.idempotent = operation, idempotent
        try:
            return _plain(method(*args, **params))
        except EasyPostError as exc:
            failure, self.session.failure = self.session.failure, None
            if failure is not None:
                raise failure from None
            raise COURIER_BAD_RESPONSE(f"{self.name} answered something the EasyPost SDK could not read "
                                       f"({type(exc).__name__}).", {"operation": operation}) from exc  # fmt: skip


# -- what EasyPost is sent ----------------------------------------------------------------------------------------


def _tenth_up(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_CEILING))


def _ounces(grams: int) -> float:
    """Grams as ounces, rounded up to a tenth (a carrier charges the parcel's weight or more, never less)."""
    return _tenth_up(Decimal(grams) / GRAMS_PER_OUNCE)


def _inches(cm) -> float:
    return float((Decimal(str(cm)) / CM_PER_INCH).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _parcel(grams: int, length_cm=0, breadth_cm=0, height_cm=0) -> dict:
    parcel = {"weight": _ounces(max(grams, 1))}
    if length_cm and breadth_cm and height_cm:
        parcel |= {"length": _inches(length_cm), "width": _inches(breadth_cm), "height": _inches(height_cm)}
    return parcel


def _compact(values: dict) -> dict:
    return {key: value for key, value in values.items() if value not in (None, "")}


def _location_address(location: Location) -> dict:
    return _compact({"name": location.contact_name or location.name, "company": location.name,
                     "street1": location.line1, "street2": location.line2, "city": location.city,
                     "state": location.state, "zip": location.postcode, "country": location.country,
                     "phone": location.phone, "email": location.email})  # fmt: skip


def _buyer_address(order) -> dict:
    address = order.shipping_address or {}
    return _compact({"name": address.get("name"), "street1": address.get("line1"), "street2": address.get("line2"),
                     "city": address.get("city"), "state": address.get("state"), "zip": address.get("postcode"),
                     "country": address.get("country") or "IN", "phone": address.get("phone"),
                     "email": order.customer.email})  # fmt: skip


def _customs(order, origin: Location, ounces: float) -> dict:
    """Customs for a parcel abroad: one item per order line, the parcel's weight shared by quantity."""
    lines = list(order.lines.all())
    units = sum(line.quantity for line in lines) or 1
    items = [_compact({"description": line.name[:100], "quantity": line.quantity, "value": str(line.total),
                       "currency": order.currency, "weight": _tenth_up(Decimal(str(ounces)) * line.quantity / units),
                       "hs_tariff_number": line.hsn_code, "origin_country": origin.country, "code": line.sku})
             for line in lines]  # fmt: skip
    customs = {"contents_type": "merchandise", "customs_certify": True, "customs_signer": origin.contact_name
               or origin.name, "non_delivery_option": "return", "restriction_type": "none",
               "customs_items": items}  # fmt: skip
    if origin.country == "US":  # the US export exemption for parcels under USD 2,500 without an EEI filing
        customs["eel_pfc"] = "NOEEI 30.37(a)"
    return customs


def _service(service_code: str) -> tuple[str, str]:
    """A courier's ``service_code`` as (carrier, service), lower-case; blanks mean "any"."""
    carrier, _, service = (service_code or "").partition(":")
    return carrier.strip().lower(), service.strip().lower()


def _rate_code(rate: dict) -> str:
    return f"{rate.get('carrier', '')}:{rate.get('service', '')}"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- what EasyPost answers ----------------------------------------------------------------------------------------


def _booking(shipment: dict) -> Booking:
    """The booking a bought EasyPost shipment is: its tracking code, and its ids for the calls that follow."""
    awb = shipment.get("tracking_code")
    if not awb:
        raise COURIER_BAD_RESPONSE(f"EasyPost's shipment {shipment.get('id')} was bought but has no tracking code.",
                                   {"shipment_id": shipment.get("id")})  # fmt: skip
    label = shipment.get("postage_label") or {}
    rate = shipment.get("selected_rate") or {}
    tracker = shipment.get("tracker") or {}
    pdf = label.get("label_pdf_url")
    if not pdf and label.get("label_file_type") == "application/pdf":
        pdf = label.get("label_url")
    return Booking(
        awb=awb,
        carrier_data=_compact(
            {
                "shipment_id": shipment.get("id"),
                "rate_id": rate.get("id"),
                "tracker_id": tracker.get("id"),
                "label_url": pdf,
                "tracking_code": awb,
                "carrier": rate.get("carrier"),
                "service": rate.get("service"),
            }
        ),
    )


def _when(value) -> datetime:
    """A scan's time; EasyPost gives UTC when it cannot place the scan in a local time zone."""
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        raise ValueError(f"EasyPost gave a tracking event without a readable time ({value!r}).")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _place(location: dict | None) -> str:
    location = location or {}
    return ", ".join(str(location[k]) for k in ("city", "state", "zip", "country") if location.get(k))


def tracker_updates(tracker: dict) -> list[TrackingUpdate]:
    """A tracker's scans as events, oldest first, with codes of ``EasyPostAdapter.status_codes`` (see the module's
    docstring). ``ValueError`` for a tracker that cannot be read."""
    awb = tracker["tracking_code"]
    details = sorted(tracker.get("tracking_details") or [], key=lambda d: _when(d.get("datetime")))
    updates, seen = [], set()
    for detail in details:
        status = str(detail.get("status") or "unknown").strip().lower()
        status_detail = str(detail.get("status_detail") or "").strip().lower()
        code = status
        if status == "failure" and status_detail == "lost":
            code = "failure:lost"
        elif status in FIRST_SCANS and status not in seen:
            code = f"{status}:first"
        seen.add(status)
        message = str(detail.get("message") or detail.get("description") or status_detail.replace("_", " "))
        basis = f"{detail.get('datetime')}|{status}|{status_detail}|{message}|{detail.get('carrier_code') or ''}"
        updates.append(TrackingUpdate(
            awb=awb, code=code, occurred_at=_when(detail.get("datetime")), description=message,
            location=_place(detail.get("tracking_location")),
            event_id="ep:" + hashlib.sha256(basis.encode()).hexdigest()[:32],
            raw={"tracker": tracker.get("id"), **detail},
        ))  # fmt: skip
    return updates


def _refused(message: str, **details) -> DomainError:
    return COURIER_REFUSED(message, {"service_message": message, **details})


class EasyPostAdapter(CourierAdapter):
    """Couriers booked through an EasyPost account; ``Courier.service_code`` is "<carrier>:<service>"."""

    name = "easypost"
    remote = True
    polls = True
    carrier_labels = True
    batch_size = 50
    #: EasyPost's tracker statuses (with the qualifiers of the module's docstring) -> ShopOps statuses. ``error``
    #: (the carrier answered nothing usable) and ``unknown`` (no scan yet) are known and move nothing.
    status_codes = {
        "pre_transit": S.AWB_ASSIGNED,
        "in_transit:first": S.PICKED_UP,
        "in_transit": S.IN_TRANSIT,
        "out_for_delivery": S.OUT_FOR_DELIVERY,
        "available_for_pickup": S.OUT_FOR_DELIVERY,
        "delivered": S.DELIVERED,
        "failure": S.NDR,
        "failure:lost": S.LOST,
        "return_to_sender:first": S.RTO_INITIATED,
        "return_to_sender": S.RTO_IN_TRANSIT,
        "cancelled": S.CANCELLED,
        "error": "",
        "unknown": "",
    }

    def __init__(self):
        #: Shipments ``find_booking`` saw at EasyPost without postage, by our reference: bought, not made again.
        self._unbought: dict[str, dict] = {}

    def uses_pool(self, courier) -> bool:
        return False

    # -- booking ----------------------------------------------------------------------------------------------

    def assign_awb(self, shipment: Shipment, allocate_from_pool, *, key: str) -> Booking:
        reference = booking_reference(shipment)
        with EasyPostApi(shipment.courier.account, reference=reference) as api:
            created = self._unbought.pop(reference, None) or api(
                "book", api.client.shipment.create, **self._shipment_params(shipment, reference)
            )
            if created.get("tracking_code"):
                return _booking(created)
            rate = self._rate(shipment.courier.service_code, created)
            try:
                bought = api("book", api.client.shipment.buy, created["id"], rate={"id": rate["id"]})
            except DomainError as exc:  # bought already (an earlier attempt's answer was lost): read it back
                if exc.code != COURIER_REFUSED.code:
                    raise
                bought = api("book", api.client.shipment.retrieve, created["id"], idempotent=True)
                if not bought.get("tracking_code"):
                    raise
        return _booking(bought)

    def find_booking(self, shipment: Shipment, *, key: str) -> Booking | None:
        reference = booking_reference(shipment)
        with EasyPostApi(shipment.courier.account, reference=reference) as api:
            found = self._shipments_with_reference(api, reference, since=shipment.created_at - LOOKUP_SLACK)
        bought = next((s for s in found if s.get("tracking_code")), None)
        if bought is not None:
            return _booking(bought)
        if found:
            self._unbought[reference] = found[0]
        return None

    def _shipments_with_reference(self, api: EasyPostApi, reference: str, *, since: datetime) -> list[dict]:
        """The account's shipments made since ``since`` with our reference, newest first (the first bought one
        ends the search)."""
        params = {"page_size": PAGE_SIZE, "start_datetime": _utc(since)}
        found = []
        for _ in range(LOOKUP_PAGES):
            page = api("find_booking", api.client.shipment.all, idempotent=True, **params)
            shipments = page.get("shipments") or []
            found += [s for s in shipments if s.get("reference") == reference]
            if any(s.get("tracking_code") for s in found) or not page.get("has_more") or not shipments:
                return found
            params["before_id"] = shipments[-1]["id"]
        raise COURIER_UNAVAILABLE(f"{api.name}: more than {LOOKUP_PAGES * PAGE_SIZE} shipments since {_utc(since)} "
                                  f"were looked through for {reference} without an answer; ask again later.",
                                  {"reference": reference})  # fmt: skip

    def _shipment_params(self, shipment: Shipment, reference: str) -> dict:
        order = shipment.order
        origin = order.pickup_location
        to_address = _buyer_address(order)
        parcel = _parcel(order.weight_grams or shipment.applied_weight_grams, order.length_cm, order.breadth_cm,
                         order.height_cm)  # fmt: skip
        options = {"label_format": "PDF"}
        if shipment.cod_amount:
            options["cod_amount"] = str(shipment.cod_amount)
        params = {"reference": reference, "to_address": to_address, "from_address": _location_address(origin),
                  "parcel": parcel, "options": options}  # fmt: skip
        if to_address.get("country") != origin.country:
            params["customs_info"] = _customs(order, origin, parcel["weight"])
        return params | self._carrier_accounts(shipment.courier.account)

    @staticmethod
    def _carrier_accounts(account: CourierAccount) -> dict:
        ids = (account.options or {}).get("carrier_accounts") or []
        return {"carrier_accounts": list(ids)} if ids else {}

    @staticmethod
    def _rate(service_code: str, created: dict) -> dict:
        """The rate to buy: the courier's carrier and service (the cheapest when several match)."""
        rates = created.get("rates") or []
        carrier, service = _service(service_code)
        matching = [r for r in rates if (not carrier or str(r.get("carrier", "")).lower() == carrier)
                    and (not service or str(r.get("service", "")).lower() == service)]  # fmt: skip
        if not matching:
            offered = sorted(_rate_code(r) for r in rates)
            wanted = service_code or "any service"
            raise COURIER_REFUSED(
                f"EasyPost offered no {wanted} rate for this parcel"
                + (f" (offered: {', '.join(offered)})." if offered else " (no rates at all)."),
                {"service_message": f"No {wanted} rate", "offered": offered,
                 "service_errors": created.get("messages") or []})  # fmt: skip
        return min(matching, key=lambda r: Decimal(str(r.get("rate") or "0")))

    # -- after booking ------------------------------------------------------------------------------------------

    def _shipment_id(self, api: EasyPostApi, shipment: Shipment, awb: str, operation: str) -> str:
        """EasyPost's id of the shipment booked as ``awb``: from the booking's data, or (a booking since replaced)
        from its tracker."""
        data = shipment.carrier_data or {}
        if data.get("shipment_id") and data.get("tracking_code", awb) == awb:
            return data["shipment_id"]
        page = api(operation, api.client.tracker.all, idempotent=True, tracking_code=awb, page_size=PAGE_SIZE)
        ids = [t["shipment_id"] for t in page.get("trackers") or [] if t.get("shipment_id")
               and t.get("tracking_code") == awb]  # fmt: skip
        if not ids:
            raise _refused(f"EasyPost has no shipment with tracking code {awb}.", awb=awb)
        return ids[0]

    def carrier_label(self, shipment: Shipment) -> bytes:
        awb = shipment.awb
        with EasyPostApi(shipment.courier.account, reference=awb) as api:
            data = shipment.carrier_data or {}
            url = data.get("label_url") if data.get("tracking_code", awb) == awb else ""
            if not url:
                shipment_id = self._shipment_id(api, shipment, awb, "label")
                converted = api("label", api.client.shipment.label, shipment_id, file_format="PDF")
                url = (converted.get("postage_label") or {}).get("label_pdf_url")
                if not url:
                    raise COURIER_BAD_RESPONSE(f"EasyPost gave no PDF label for AWB {awb}.", {"awb": awb})
            try:
                content = api.session.fetch(url, operation="label")
            except DomainError as exc:  # the file host refused (a 4xx): transient for the document job
                if exc.code not in (COURIER_REFUSED.code, COURIER_CREDENTIALS_REJECTED.code):
                    raise
                raise COURIER_UNAVAILABLE(f"EasyPost's label file for AWB {awb} could not be fetched: {exc.message}",
                                          {"awb": awb, "status": exc.details.get("status")}) from exc  # fmt: skip
        if not content.startswith(b"%PDF-"):
            raise COURIER_BAD_RESPONSE(f"EasyPost's label for AWB {awb} is not a PDF.", {"awb": awb})
        return content

    def cancel(self, shipment: Shipment, *, awb: str, key: str) -> None:
        with EasyPostApi(shipment.courier.account, reference=awb) as api:
            shipment_id = self._shipment_id(api, shipment, awb, "cancel")
            try:
                refund = api("cancel", api.client.shipment.refund, shipment_id)
            except DomainError as exc:  # asked already (an earlier attempt's answer was lost): read it back
                if exc.code != COURIER_REFUSED.code:
                    raise
                refund = api("cancel", api.client.shipment.retrieve, shipment_id, idempotent=True)
                if refund.get("refund_status") not in REFUNDED:
                    raise
        state = refund.get("refund_status")
        if state not in REFUNDED:
            raise _refused(f"EasyPost did not void the label of AWB {awb} (refund {state or 'not started'}); a label "
                           "the carrier has scanned cannot be voided.", refund_status=state)  # fmt: skip

    def ndr_action(self, shipment: Shipment, *, action: str, reattempt_date=None, comment: str = "",
                   key: str) -> None:  # fmt: skip
        carrier = (shipment.carrier_data or {}).get("carrier") or "the carrier"
        wish = NDR_WISHES.get(action, f"{action} AWB {{awb}}").format(awb=shipment.awb)
        raise _refused(f"EasyPost has no API for a failed delivery's next step: ask {carrier} directly to {wish} "
                       "(ShopOps has recorded the decision).", action=action)  # fmt: skip

    # -- pickups --------------------------------------------------------------------------------------------------

    def schedule_pickup(self, *, courier, location, pickup_date, awbs: list[str], key: str) -> str:
        shipments = list(Shipment.objects.filter(courier=courier, awb__in=awbs).order_by("pk"))
        anchor = next((s for s in shipments if (s.carrier_data or {}).get("shipment_id")), None)
        if anchor is None:
            raise _refused("EasyPost schedules a pickup for a booked shipment; none of these has an EasyPost "
                           "shipment.", awbs=awbs)  # fmt: skip
        reference = f"shopops-pickup-{key}"
        with EasyPostApi(courier.account, reference=reference) as api:
            pickup = self._pickup_with_reference(api, reference)
            if pickup is not None and pickup.get("status") == "scheduled":
                return pickup["id"]
            if pickup is None:
                pickup = api("pickup", api.client.pickup.create, **self._pickup_params(
                    courier, location, pickup_date, anchor, [s.awb for s in shipments], reference))  # fmt: skip
            rate = self._pickup_rate(courier, pickup)
            try:
                bought = api("pickup", api.client.pickup.buy, pickup["id"], carrier=rate["carrier"],
                             service=rate["service"])  # fmt: skip
            except DomainError as exc:  # bought already by an earlier attempt whose answer was lost
                if exc.code != COURIER_REFUSED.code:
                    raise
                bought = api("pickup", api.client.pickup.retrieve, pickup["id"], idempotent=True)
                if bought.get("status") != "scheduled":
                    raise
        return bought["id"]

    def _pickup_with_reference(self, api: EasyPostApi, reference: str) -> dict | None:
        params = {"page_size": PAGE_SIZE}
        for _ in range(PICKUP_LOOKUP_PAGES):
            page = api("pickup", api.client.pickup.all, idempotent=True, **params)
            pickups = page.get("pickups") or []
            found = next((p for p in pickups if p.get("reference") == reference), None)
            if found is not None or not page.get("has_more") or not pickups:
                return found
            params["before_id"] = pickups[-1]["id"]
        return None

    def _pickup_params(self, courier, location: Location, day, anchor: Shipment, awbs: list[str],
                       reference: str) -> dict:  # fmt: skip
        zone = courier.merchant.tzinfo
        opens = max(datetime.combine(day, PICKUP_WINDOW[0], tzinfo=zone), timezone.now())
        closes = datetime.combine(day, PICKUP_WINDOW[1], tzinfo=zone)
        parcels = f"{len(awbs)} parcel{'s' if len(awbs) != 1 else ''}: {', '.join(awbs)}"
        return {"reference": reference, "address": _location_address(location),
                "shipment": {"id": anchor.carrier_data["shipment_id"]}, "min_datetime": _utc(opens),
                "max_datetime": _utc(closes), "is_account_address": False,
                "instructions": parcels[:500]} | self._carrier_accounts(courier.account)  # fmt: skip

    @staticmethod
    def _pickup_rate(courier, pickup: dict) -> dict:
        """The cheapest pickup rate of the courier's carrier (of any carrier when the courier names none)."""
        carrier, _ = _service(courier.service_code)
        rates = [r for r in pickup.get("pickup_rates") or []
                 if not carrier or str(r.get("carrier", "")).lower() == carrier]  # fmt: skip
        if not rates:
            reasons = [m.get("message") for m in pickup.get("messages") or [] if m.get("message")]
            raise COURIER_REFUSED(f"EasyPost offered no pickup by {carrier.upper() or 'any carrier'} for that day"
                                  + (f": {reasons[0]}" if reasons else "."), {
                                      "service_message": reasons[0] if reasons else "No pickup rates",
                                      "service_errors": pickup.get("messages") or []})  # fmt: skip
        return min(rates, key=lambda r: Decimal(str(r.get("rate") or "0")))

    def cancel_pickup(self, *, pickup, key: str) -> None:
        with EasyPostApi(pickup.courier.account, reference=pickup.token) as api:
            try:
                api("cancel_pickup", api.client.pickup.cancel, pickup.token)
            except DomainError as exc:  # cancelled already by an earlier attempt whose answer was lost
                if exc.code != COURIER_REFUSED.code:
                    raise
                current = api("cancel_pickup", api.client.pickup.retrieve, pickup.token, idempotent=True)
                if current.get("status") != "canceled":
                    raise

    # -- tracking ---------------------------------------------------------------------------------------------

    def fetch_tracking(self, shipments: list[Shipment], *, now: datetime) -> list[TrackingUpdate]:
        booked = [s for s in shipments if s.awb]
        if not booked:
            return []
        codes = sorted({s.awb for s in booked})
        trackers: dict[str, list[dict]] = {}
        with EasyPostApi(booked[0].courier.account, reference=f"{len(codes)} AWBs from {codes[0]}") as api:
            params = {"tracking_codes": codes, "page_size": PAGE_SIZE}
            for _ in range(LOOKUP_PAGES):
                page = api("track", api.client.tracker.all, idempotent=True, **dict(params))
                for tracker in page.get("trackers") or []:
                    trackers.setdefault(tracker.get("tracking_code"), []).append(tracker)
                if not page.get("has_more") or not page.get("trackers"):
                    break
                params["before_id"] = page["trackers"][-1]["id"]
        updates = []
        try:
            for shipment in booked:
                tracker = self._tracker_of(shipment, trackers.get(shipment.awb, []))
                if tracker is not None:
                    updates += tracker_updates(tracker)
        except (KeyError, TypeError, ValueError) as exc:
            raise COURIER_BAD_RESPONSE(f"EasyPost's trackers could not be read: {exc}.", {}) from exc
        return updates

    @staticmethod
    def _tracker_of(shipment: Shipment, trackers: list[dict]) -> dict | None:
        """The shipment's tracker among those of its tracking code (carriers reuse codes, and a code may be tracked
        twice): the booking's own, else the newest."""
        data = shipment.carrier_data or {}
        for key, value in (("id", data.get("tracker_id")), ("shipment_id", data.get("shipment_id"))):
            own = next((t for t in trackers if value and t.get(key) == value), None)
            if own is not None:
                return own
        return max(trackers, key=lambda t: str(t.get("created_at") or ""), default=None)

    # -- webhooks ---------------------------------------------------------------------------------------------

    def verify_webhook(self, account: CourierAccount, headers, body: bytes) -> None:
        secret = (account.credentials or {}).get("webhook_secret")
        if not secret:
            raise WebhookRefused("This EasyPost account has no webhook secret: set one (the same as on EasyPost's "
                                 "webhook) to accept its events.")  # fmt: skip
        signature = next((value for name, value in headers.items() if name.lower() == "x-hmac-signature"), "")
        try:
            easypost.util.validate_webhook(body, {"X-Hmac-Signature": signature}, secret)
        except SignatureVerificationError as exc:
            raise WebhookRefused(f"The EasyPost webhook's signature does not match: {exc.message}") from exc

    def webhook_delivery_id(self, payload: dict, body: bytes) -> str:
        event_id = payload.get("id")
        return event_id if isinstance(event_id, str) and event_id else super().webhook_delivery_id(payload, body)

    def parse_webhook(self, account: CourierAccount, payload: dict) -> list[TrackingUpdate]:
        if payload.get("object") != "Event":
            raise ValueError("The body is not an EasyPost Event.")
        result = payload.get("result") or {}
        if not str(payload.get("description", "")).startswith("tracker.") or result.get("object") != "Tracker":
            return []  # batch, scan form, refund and payment events carry no tracking
        return tracker_updates(result)

    # -- quotes and the connection ----------------------------------------------------------------------------

    def live_quotes(self, courier, parcel: Parcel) -> list[LiveQuote]:
        origin = Location.objects.filter(merchant_id=courier.merchant_id, postcode=parcel.pickup_postcode,
                                         is_active=True).order_by("-is_default", "pk").first()  # fmt: skip
        from_address = _location_address(origin) if origin else {"zip": parcel.pickup_postcode,
                                                                  "country": courier.merchant.country}  # fmt: skip
        params = {"to_address": {"zip": parcel.delivery_postcode, "country": parcel.country},
                  "from_address": from_address,
                  "parcel": _parcel(parcel.weight_grams, parcel.length_cm, parcel.breadth_cm, parcel.height_cm),
                  "options": {"cod_amount": str(parcel.declared_value)} if parcel.cod else {},
                  } | self._carrier_accounts(courier.account)  # fmt: skip
        reference = f"quote {parcel.pickup_postcode}-{parcel.delivery_postcode}"
        with EasyPostApi(courier.account, reference=reference) as api:
            quote = api("quote", api.client.shipment.create, idempotent=True, **params)  # a quote: safe to repeat
        quotes = [LiveQuote(service_code=_rate_code(r), name=f"{r.get('carrier')} {r.get('service')}",
                            total=Decimal(str(r["rate"])), freight=Decimal(str(r["rate"])),
                            estimated_days=r.get("delivery_days") or r.get("est_delivery_days"),
                            currency=r.get("currency") or "USD")
                  for r in quote.get("rates") or [] if r.get("rate") is not None]  # fmt: skip
        return sorted(quotes, key=lambda q: (q.total, q.service_code))

    def check_connection(self, account: CourierAccount) -> str:
        with EasyPostApi(account, reference="connection check") as api:
            page = api("check", api.client.address.all, idempotent=True, page_size=1)
        addresses = page.get("addresses") or []
        mode = addresses[0].get("mode") if addresses else ""
        said = "EasyPost accepted the API key"
        if mode:
            said += f" ({mode} mode)"
            if (mode == "test") != (account.environment == "sandbox"):
                said += f", but this account is set to {account.get_environment_display().lower()}"
        carriers = (account.options or {}).get("carrier_accounts") or []
        said += (f"; bookings go through carrier accounts {', '.join(carriers)}" if carriers
                 else "; bookings may use any carrier account of the EasyPost account")  # fmt: skip
        return said + "."

"""Delhivery (B2C / Express): booking, pickups, cancellation, NDR decisions, tracking, labels and prices through a
merchant's Delhivery account.

The account holds the API token (``credentials["api_token"]``, sent as ``Authorization: Token <api_token>`` on every
call to Delhivery, never in a query string) and two options: ``client_name`` (the client name Delhivery registered
for the merchant) and ``pickup_location`` (the warehouse name registered with Delhivery, case- and space-sensitive).
A courier booked through the account names its shipping mode in ``Courier.service_code``: ``Surface`` (the default
when blank) or ``Express``.

Booking is two steps, and neither takes an idempotency key:

1. a waybill is fetched (``waybill/api/fetch/json/?cl=<client_name>``). Fetching one only reserves a number for the
   client, it books nothing and a number never used is harmless, so the fetch is treated as idempotent (retried on
   timeouts and 5xx like a read);
2. the manifest is created (``api/cmu/create.json``, form body ``format=json&data=<json>``) with our reference
   (``booking_reference``: the order number and the shipment id) as Delhivery's order id and that waybill. This is
   the write that books, so it is never repeated by the HTTP policy (``idempotent=False``): a timeout or a 5xx is
   ``courier_outcome_unknown``.

Before a second manifest is ever created for the same shipment, the booking is looked up by our reference
(tracking with ``ref_ids=``): the call machinery does so after an attempt whose outcome was lost (``find_booking``),
and ``assign_awb`` does so itself when it is a later attempt of the same call (the process died after the first
one, or Delhivery refused it, e.g. "Package might have been partially saved"), and when Delhivery refuses the
manifest as a duplicate (a duplicate order id or waybill: the booking is there). A waybill fetched by an attempt
that booked nothing is simply left unused. The manifest's ``sort_code`` becomes the routing code printed on the
label; a booking found by lookup has none (tracking does not give it).

Delhivery answers 200 for refusals: ``{"success": false, "rmk": ...}``, a package with ``"status": "Fail"`` and
its ``remarks``, ``{"status": false, "error": ...}`` for a cancellation. Each is ``courier_refused`` with
Delhivery's reason in ``details.service_message`` (and the remarks in ``details.service_errors``), never a success.

Tracking maps each scan on the pair (StatusType, Status), lower-cased as ``"<statustype>:<status>"`` (e.g.
``"ud:in transit"``, ``"rt:in transit"``: "In Transit" means opposite directions under UD and RT). The scan's
StatusCode (Delhivery's NSL code) refines the pair where it matters: ``"<statustype>:<status>:<statuscode>"`` is the
code when the table knows that triple (``"ud:in transit:x-ppom"``: the pickup scan), or when a forward "Pending"
scan carries a failed-attempt code (``EOD-*``): the documented ones are NDRs, an undocumented one is kept unmapped
so the ingestion flags it instead of treating a failed delivery as transit. Times are India time when Delhivery
gives no offset. An event's id is its code and time, the same whether it came by a poll or a push.

Delhivery pushes scans to a URL it is given per client (no API: its integration team sets it up with the headers to
send). ShopOps asks for ``Authorization: Token <webhook_token>`` and checks it against
``credentials["webhook_token"]``; an account without a webhook token refuses every push.

Labels come from the packing slip API (``api/p/packing_slip?wbns=<awb>&pdf=true&pdf_size=4R``), whose answer links a
signed S3 PDF valid for about a day; the PDF is downloaded at once (without Delhivery's token: the link carries its
own signature). Delhivery's NDR API takes reattempts (``RE-ATTEMPT``, or ``DEFER_DLV`` for a later date); a return to
origin is decided in Delhivery's own panel. Pickup requests cannot be cancelled through the API: a cancelled visit
lapses. Prices come from the invoice charges API, one mode per courier.
"""

import hashlib
import hmac
import json
import logging
import re
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from catalog.models import Location
from orders.models import PaymentMethod
from shipping.adapters import http
from shipping.adapters.base import (
    ROUTING_CODE_MAX_LENGTH,
    Booking,
    CourierAdapter,
    LiveQuote,
    Parcel,
    TrackingUpdate,
    WebhookRefused,
    booking_reference,
)
from shipping.errors import COURIER_BAD_RESPONSE, COURIER_OUTCOME_UNKNOWN, COURIER_REFUSED, COURIER_UNAVAILABLE
from shipping.models import CourierAccount, NDRAction, Shipment, ShipmentStatus
from shopops.errors import DomainError

logger = logging.getLogger(__name__)

S = ShipmentStatus

#: Delhivery's clock: scan times without an offset are India time.
DELHIVERY_TZ = ZoneInfo("Asia/Kolkata")
#: Shipping modes (``Courier.service_code``) and their letter in the invoice charges API.
MODES = {"surface": ("Surface", "S"), "express": ("Express", "E")}
DEFAULT_MODE = "Surface"
#: Waybills per tracking call (Delhivery's documented limit).
TRACKING_BATCH = 50
#: The failed-delivery codes (NSL) Delhivery's NDR API takes actions on: a forward "Pending" scan with one of these is
#: a failed attempt (NDR).
NDR_STATUS_CODES = ("eod-3", "eod-6", "eod-11", "eod-15", "eod-16", "eod-43", "eod-69", "eod-74", "eod-86", "eod-104")
#: The time asked for a pickup on a later day (Delhivery assigns its own slot and answers it); a pickup today asks for
#: the next full hour, not before this one.
PICKUP_TIME = time(11, 0)
#: The pincode the connection check asks about when the merchant's default location has none.
CHECK_PINCODE = "110001"
#: Longest product description sent with a manifest.
PRODUCTS_DESC_MAX = 200

#: Delhivery scan -> ShopOps status ("" for a scan known to change nothing). Keys: see ``scan_code``.
STATUS_CODES: dict[str, str] = {
    # Forward journey (UD: undelivered yet).
    "ud:manifested": S.AWB_ASSIGNED,  # the manifest is in; ShopOps is there already
    "ud:not picked": "",  # a pickup that did not happen: the shipment still waits for one
    "ud:in transit:x-ppom": S.PICKED_UP,  # "Shipment picked up"
    "ud:in transit": S.IN_TRANSIT,
    "ud:pending": S.IN_TRANSIT,  # at a Delhivery centre
    "ud:dispatched": S.OUT_FOR_DELIVERY,
    **{f"ud:pending:{code}": S.NDR for code in NDR_STATUS_CODES},  # a failed attempt, back at the centre
    "dl:delivered": S.DELIVERED,
    # Return to origin (RT): the first RT scan is "In Transit".
    "rt:in transit": S.RTO_INITIATED,
    "rt:pending": S.RTO_IN_TRANSIT,
    "rt:dispatched": S.RTO_IN_TRANSIT,
    "dl:rto": S.RTO_DELIVERED,
    # Reverse pickups (PP, PU, DL/DTO) and their cancellation (CN): this adapter books forward parcels only.
    "pp:open": "",
    "pp:scheduled": "",
    "pp:dispatched": "",
    "pu:in transit": "",
    "pu:pending": "",
    "pu:dispatched": "",
    "dl:dto": "",
    "cn:canceled": "",
    "cn:closed": "",
}


def _words(value: Any) -> str:
    return " ".join(str(value or "").split()).lower()


def scan_code(status_type: str, status: str, status_code: str = "") -> str:
    """The code of a Delhivery scan for the status table: ``"<statustype>:<status>"``, with ``":<statuscode>"`` when
    the table knows that triple or when a forward "Pending" scan carries a failed-attempt code (``EOD-*``)."""
    pair = f"{_words(status_type)}:{_words(status)}"
    nsl = _words(status_code).replace(" ", "")
    if nsl and (f"{pair}:{nsl}" in STATUS_CODES or (pair == "ud:pending" and nsl.startswith("eod-"))):
        return f"{pair}:{nsl}"
    return pair


def scan_time(value: Any) -> datetime:
    """A Delhivery timestamp ("2024-09-21T14:31:48.752"), aware: India time unless it carries an offset.
    ValueError when it is not one."""
    text = str(value or "").strip()
    if not text:
        raise ValueError("The scan has no time.")
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when.replace(tzinfo=DELHIVERY_TZ) if timezone.is_naive(when) else when


def _event_id(status_type: str, status: str, status_code: str, when: datetime) -> str:
    """Stable per scan, the same from a poll and from a push: the pair, the NSL code and the time."""
    return f"{_words(status_type)}:{_words(status)}:{_words(status_code)}@{when.isoformat()}"


def _update(awb: str, status_type: str, status: str, status_code: str, when: datetime, *, description: str,
            location: str, raw: dict) -> TrackingUpdate:  # fmt: skip
    return TrackingUpdate(awb=awb, code=scan_code(status_type, status, status_code), occurred_at=when,
                          description=(description or status or "").strip(), location=(location or "").strip(),
                          event_id=_event_id(status_type, status, status_code, when), raw=raw)  # fmt: skip


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount") from exc


def _national_phone(phone: str) -> str:
    """An Indian number as the 10 digits Delhivery checks (it accepts a few prefixes, E.164's "+91" among them, but
    a bare number is the one form every check takes); another number as its digits."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 12 and digits.startswith("91"):
        return digits[2:]
    if len(digits) == 11 and digits.startswith("0"):
        return digits[1:]
    return digits


def _not_found(exc: DomainError) -> bool:
    """Delhivery's tracking answers 400 "Data does not exists for provided Waybill(s)" for what it does not know."""
    if exc.code != COURIER_REFUSED.code or exc.details.get("status") not in (400, 404):
        return False
    said = f"{exc.details.get('service_message', '')} {exc.details.get('service_errors', '')}".lower()
    return exc.details.get("status") == 404 or "not exist" in said


class DelhiveryAdapter(CourierAdapter):
    """Delhivery through a merchant's Delhivery account (see the module's docstring)."""

    name = "delhivery"
    remote = True
    polls = True
    carrier_labels = True
    batch_size = TRACKING_BATCH
    status_codes = STATUS_CODES

    # -- the account ---------------------------------------------------------------------------------------------

    @staticmethod
    def _account(courier) -> CourierAccount:
        if courier.account is None:
            raise COURIER_REFUSED(f"{courier.name} has no Delhivery account: connect one and set it on the courier.",
                                  {"courier": courier.code})  # fmt: skip
        return courier.account

    @staticmethod
    def _headers(account: CourierAccount) -> dict[str, str]:
        return {"Authorization": f"Token {account.credentials['api_token']}", "Accept": "application/json"}

    @staticmethod
    def _label(account: CourierAccount) -> str:
        return f"{account.get_service_display()} ({account.name})"

    @staticmethod
    def _option(account: CourierAccount, name: str) -> str:
        """An option the call needs, or ``courier_refused`` telling the merchant to set it."""
        value = str((account.options or {}).get(name) or "").strip()
        if not value:
            what = {
                "client_name": "the client name Delhivery registered for you (case-sensitive)",
                "pickup_location": "the name of your warehouse as registered with Delhivery (case- and "
                                   "space-sensitive)",
            }[name]  # fmt: skip
            raise COURIER_REFUSED(f"Set the {name!r} option of the Delhivery account {account.name!r}: {what}.",
                                  {"option": name, "account": account.pk})  # fmt: skip
        return value

    @staticmethod
    def _mode(courier) -> tuple[str, str]:
        """The courier's shipping mode (``Surface``/``Express``) and its letter for the charges API."""
        code = (courier.service_code or DEFAULT_MODE).strip()
        if code.lower() not in MODES:
            raise COURIER_REFUSED(f"{courier.name}'s service code is {code!r}; a Delhivery courier's is Surface or "
                                  "Express.", {"service_code": code})  # fmt: skip
        return MODES[code.lower()]

    def _client(self, account: CourierAccount, operation: str, reference: str = "") -> http.CourierClient:
        return http.CourierClient(account, operation=operation, reference=reference)

    def _clean(self, account: CourierAccount, text: Any) -> str:
        """Delhivery's words with the account's secrets replaced (a service may echo what it was sent)."""
        text = str(text or "").strip()
        for secret in http.secret_values(account):
            text = text.replace(secret, http.REDACTED)
        return text[:300]

    def _refused(self, account: CourierAccount, what: str, message: str, errors: Any = None) -> DomainError:
        """Delhivery's refusal given in a 200 answer, its words in ``details`` as the HTTP policy puts a 4xx's."""
        message = self._clean(account, message) or "no reason given"
        errors = [self._clean(account, e) for e in errors] if isinstance(errors, list) else errors or []
        return COURIER_REFUSED(f"{self._label(account)} refused {what}: {message.rstrip('.')}.",
                               {"status": 200, "service_message": message, "service_errors": errors})  # fmt: skip

    # -- booking -------------------------------------------------------------------------------------------------

    def uses_pool(self, courier) -> bool:
        return False

    def assign_awb(self, shipment: Shipment, allocate_from_pool, *, key: str) -> Booking:
        courier = shipment.courier
        account = self._account(courier)
        client_name = self._option(account, "client_name")
        warehouse = self._option(account, "pickup_location")
        mode, _ = self._mode(courier)
        reference = booking_reference(shipment)
        call = http.current_call.get()
        # A later attempt of the same call (its process died, or Delhivery refused a manifest it may have partly
        # saved) looks for the booking first; after a lost answer the call machinery has looked already.
        if call is not None and call.attempts > 1 and not call.outcome_unknown:
            found = self.find_booking(shipment, key=key)
            if found is not None:
                return found
        with self._client(account, "book", reference) as client:
            waybill = self._fetch_waybill(client, account, client_name)
            payload = {"shipments": [self._manifest_shipment(shipment, reference, waybill, mode, client_name)],
                       "pickup_location": {"name": warehouse}}  # fmt: skip
            form = {"format": "json", "data": json.dumps(payload, ensure_ascii=False)}
            try:
                answer = client.request("POST", "api/cmu/create.json", idempotent=False,
                                        headers=self._headers(account), form=form)  # fmt: skip
                return self._booking(account, answer, reference, waybill, mode, warehouse)
            except DomainError as exc:  # a duplicate order id or waybill: the manifest exists; take it
                said = str(exc.details.get("service_message", "")).lower()
                if exc.code == COURIER_REFUSED.code and "duplicate" in said:
                    found = self.find_booking(shipment, key=key)
                    if found is not None:
                        return found
                raise

    def _fetch_waybill(self, client: http.CourierClient, account: CourierAccount, client_name: str) -> str:
        """A waybill reserved for the client. Delhivery answers it as a JSON string (or a bare number, or a
        comma-separated list): the first number is taken."""
        exchange = client.request("GET", "waybill/api/fetch/json/", idempotent=True, headers=self._headers(account),
                                  params={"cl": client_name}, raw=True, operation="waybill")  # fmt: skip
        text = exchange.text().strip()
        try:
            value = json.loads(text) if text else None
        except ValueError:
            value = text
        if isinstance(value, dict):
            if not value.get("waybill"):
                raise self._refused(account, "a waybill", value.get("error") or value.get("rmk") or "")
            value = value["waybill"]
        if isinstance(value, list):
            value = value[0] if value else None
        waybill = str(value).split(",")[0].strip().strip('"') if value not in (None, "") else ""
        if not waybill:
            raise self._refused(account, "a waybill", f"it gave none for client {client_name!r}; check the account's "
                                                      "client_name option")  # fmt: skip
        if not waybill.isalnum() or len(waybill) > 40:
            raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered a waybill that is not one: "
                                       f"{self._clean(account, text)[:60]!r}.",
                                       {"status": exchange.status_code})  # fmt: skip
        return waybill

    def _manifest_shipment(self, shipment: Shipment, reference: str, waybill: str, mode: str,
                           client_name: str) -> dict:  # fmt: skip
        """One shipment of the manifest: the consignee, the goods and the payment, from the shipment's order."""
        order = shipment.order
        address = order.shipping_address or {}
        lines = list(order.lines.all())
        cod = order.payment_method == PaymentMethod.COD
        dimensions = {"shipment_length": order.length_cm, "shipment_width": order.breadth_cm,
                      "shipment_height": order.height_cm}  # fmt: skip
        street = ", ".join(part.strip() for part in (address.get("line1", ""), address.get("line2", "")) if part)
        return {
            "name": address.get("name") or order.customer.name,
            "add": street,
            "pin": str(address.get("postcode", "")).strip(),
            "city": address.get("city", ""),
            "state": address.get("state", ""),
            "country": "India" if address.get("country", "IN") == "IN" else address.get("country", ""),
            "phone": _national_phone(address.get("phone") or order.customer.phone),
            "order": reference,
            "client": client_name,
            "waybill": waybill,
            "payment_mode": "COD" if cod else "Prepaid",
            "cod_amount": str(shipment.cod_amount if cod else Decimal("0")),
            "total_amount": str(order.total),
            "products_desc": ", ".join(f"{line.name} x {line.quantity}" for line in lines)[:PRODUCTS_DESC_MAX],
            "hsn_code": ",".join(dict.fromkeys(line.hsn_code for line in lines if line.hsn_code)),
            "quantity": str(sum(line.quantity for line in lines)),
            "weight": order.weight_grams or shipment.applied_weight_grams,
            **{name: float(value) for name, value in dimensions.items() if value},
            "shipping_mode": mode,
            "seller_inv": "",
            "ewbn": order.eway_bill_number,
            "order_date": order.ordered_at.astimezone(DELHIVERY_TZ).date().isoformat(),
        }

    def _booking(self, account: CourierAccount, answer: Any, reference: str, waybill: str, mode: str,
                 warehouse: str) -> Booking:  # fmt: skip
        """The manifest's answer as a booking; Delhivery's refusals (in a 200) as ``courier_refused``."""
        if not isinstance(answer, dict):
            raise COURIER_OUTCOME_UNKNOWN(f"{self._label(account)} answered the manifest with {type(answer).__name__}; "
                                          "it may have booked.", {"status": 200})  # fmt: skip
        packages = [p for p in answer.get("packages") or [] if isinstance(p, dict)]
        package = next((p for p in packages if str(p.get("refnum", "")) == reference), packages[0] if packages else {})
        remarks = package.get("remarks") or []
        remarks = [str(r) for r in (remarks if isinstance(remarks, list) else [remarks]) if r]
        failed = str(package.get("status", "")).lower() in ("fail", "failure", "failed")
        if answer.get("success") is False or answer.get("error") is True or failed:
            raise self._refused(account, f"the booking of {reference}", answer.get("rmk") or "; ".join(remarks),
                                remarks)  # fmt: skip
        awb = str(package.get("waybill") or "").strip()
        if not awb:
            raise COURIER_OUTCOME_UNKNOWN(f"{self._label(account)} accepted the manifest of {reference} without a "
                                          "waybill; it may have booked.", {"status": 200})  # fmt: skip
        sort_code = str(package.get("sort_code") or "").strip()
        return Booking(awb=awb, routing_code=sort_code[:ROUTING_CODE_MAX_LENGTH], carrier_data={
            "waybill": awb, "reference": reference, "upload_wbn": answer.get("upload_wbn") or "",
            "shipping_mode": mode, "pickup_location": warehouse, "sort_code": sort_code,
            **({"reserved_waybill": waybill} if waybill != awb else {}),
        })  # fmt: skip

    def find_booking(self, shipment: Shipment, *, key: str) -> Booking | None:
        account = self._account(shipment.courier)
        reference = booking_reference(shipment)
        with self._client(account, "find_booking", reference) as client:
            try:
                answer = client.request("GET", "api/v1/packages/json/", idempotent=True, params={"ref_ids": reference},
                                        headers=self._headers(account))  # fmt: skip
            except DomainError as exc:
                if _not_found(exc):
                    return None
                raise
        if not isinstance(answer, dict) or not isinstance(answer.get("ShipmentData", []), list):
            raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered the lookup of {reference} with something "
                                       "that is not a tracking answer.", {"status": 200})  # fmt: skip
        if "ShipmentData" not in answer and "not exist" not in json.dumps(answer).lower():
            raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered the lookup of {reference} without "
                                       "ShipmentData.", {"status": 200})  # fmt: skip
        for entry in answer.get("ShipmentData") or []:
            found = (entry or {}).get("Shipment") or {}
            if str(found.get("ReferenceNo", "")).strip() == reference and str(found.get("AWB") or "").strip():
                awb = str(found["AWB"]).strip()
                return Booking(awb=awb, carrier_data={"waybill": awb, "reference": reference,
                                                      "found_by_reference": True})  # fmt: skip
        return None

    # -- pickups, cancellation, NDR ------------------------------------------------------------------------------

    def schedule_pickup(self, *, courier, location: Location, pickup_date: date, awbs: list[str], key: str) -> str:
        account = self._account(courier)
        warehouse = self._option(account, "pickup_location")
        body = {"pickup_date": pickup_date.isoformat(),
                "pickup_time": self._pickup_time(courier, pickup_date).strftime("%H:%M:%S"),
                "pickup_location": warehouse, "expected_package_count": len(awbs)}  # fmt: skip
        with self._client(account, "schedule_pickup", f"{warehouse} {pickup_date}") as client:
            answer = client.request("POST", "fm/request/new/", idempotent=False, headers=self._headers(account),
                                    json_body=body)  # fmt: skip
        answer = answer if isinstance(answer, dict) else {}
        pickup_id = str(answer.get("pickup_id") or "").strip()
        if pickup_id and answer.get("pr_exist"):
            # The warehouse's open request for that day (one per day): the visit is booked. ShopOps may hold it
            # already under another pickup (one cancelled here, which Delhivery never heard of, or another location
            # of the same warehouse), so this one's token is Delhivery's id marked with the call's key.
            return f"{pickup_id}-{hashlib.sha256(key.encode()).hexdigest()[:8].upper()}"[:40]
        if pickup_id:
            return pickup_id[:40]
        error = answer.get("error")
        said = (error.get("message") if isinstance(error, dict) else error) or (answer.get("data") or {}).get(
            "message") or answer.get("pickup_location") or answer.get("message") or ""  # fmt: skip
        raise self._refused(account, f"the pickup on {pickup_date}", said)

    @staticmethod
    def _pickup_time(courier, pickup_date: date) -> time:
        """The time asked for: ``PICKUP_TIME`` on a later day; today, the next full hour (not before it)."""
        now = timezone.now().astimezone(courier.merchant.tzinfo)
        if pickup_date > now.date():
            return PICKUP_TIME
        return max(PICKUP_TIME, time(min(now.hour + 1, 23), 0))

    def cancel_pickup(self, *, pickup, key: str) -> None:
        """Delhivery has no API to cancel a pickup request: the visit lapses (nothing is handed over)."""

    def cancel(self, shipment: Shipment, *, awb: str, key: str) -> None:
        account = self._account(shipment.courier)
        with self._client(account, "cancel", awb) as client:
            answer = client.request("POST", "api/p/edit", idempotent=False, headers=self._headers(account),
                                    json_body={"waybill": awb, "cancellation": "true"})  # fmt: skip
        if not isinstance(answer, dict) or answer.get("status") is not True:
            answer = answer if isinstance(answer, dict) else {}
            raise self._refused(account, f"to cancel {awb}", answer.get("error") or answer.get("remark") or "")

    def ndr_action(self, shipment: Shipment, *, action: str, reattempt_date=None, comment: str = "",
                   key: str) -> None:  # fmt: skip
        account = self._account(shipment.courier)
        if action != NDRAction.REATTEMPT:
            raise COURIER_REFUSED(
                f"Delhivery takes the decision to return {shipment.awb} to origin only in its own panel (Delhivery "
                "One, NDR): ShopOps has recorded it; mark the shipment for RTO there.",
                {"action": action, "awb": shipment.awb})  # fmt: skip
        today = timezone.now().astimezone(shipment.merchant.tzinfo).date()
        item = {"waybill": shipment.awb, "act": "RE-ATTEMPT"}
        if reattempt_date is not None and reattempt_date > today + timedelta(days=1):  # a later day than the next
            item = {"waybill": shipment.awb, "act": "DEFER_DLV", "deferred_date": reattempt_date.isoformat()}
        with self._client(account, "ndr_action", shipment.awb) as client:
            answer = client.request("POST", "api/p/update", idempotent=False, headers=self._headers(account),
                                    json_body={"data": [item]})  # fmt: skip
        if not isinstance(answer, dict) or not answer.get("request_id"):  # asynchronous: a UPL id means "taken"
            answer = answer if isinstance(answer, dict) else {}
            raise self._refused(account, f"the NDR action on {shipment.awb}",
                                answer.get("message") or answer.get("error") or "")  # fmt: skip

    # -- tracking ------------------------------------------------------------------------------------------------

    def fetch_tracking(self, shipments: list[Shipment], *, now: datetime) -> list[TrackingUpdate]:
        by_account: dict[int, tuple[CourierAccount, list[str]]] = {}
        for shipment in shipments:  # one account per courier, read once
            if shipment.awb:
                known = by_account.get(shipment.courier.account_id)
                account = known[0] if known else self._account(shipment.courier)
                by_account.setdefault(account.pk, (account, []))[1].append(shipment.awb)
        updates = []
        for account, awbs in by_account.values():
            for start in range(0, len(awbs), TRACKING_BATCH):
                updates.extend(self._track(account, awbs[start : start + TRACKING_BATCH]))
        return updates

    def _track(self, account: CourierAccount, awbs: list[str]) -> list[TrackingUpdate]:
        with self._client(account, "track", ",".join(awbs)) as client:
            try:
                answer = client.request("GET", "api/v1/packages/json/", idempotent=True,
                                        params={"waybill": ",".join(awbs)}, headers=self._headers(account))  # fmt: skip
            except DomainError as exc:
                if _not_found(exc):  # none of them known yet
                    return []
                raise
        if not isinstance(answer, dict):
            raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered the tracking with "
                                       f"{type(answer).__name__}.", {"status": 200})  # fmt: skip
        wanted, updates = set(awbs), []
        for entry in answer.get("ShipmentData") or []:
            found = (entry or {}).get("Shipment") or {}
            awb = str(found.get("AWB") or "").strip()
            if awb in wanted:
                updates.extend(self._scans(awb, found))
        return updates

    def _scans(self, awb: str, shipment: dict) -> list[TrackingUpdate]:
        """Every scan of one tracked shipment, oldest first (the current status alone when it lists none)."""
        updates = []
        scans = [s.get("ScanDetail") or {} for s in shipment.get("Scans") or [] if isinstance(s, dict)]
        if not scans and shipment.get("Status"):
            status = shipment["Status"]
            scans = [{"ScanType": status.get("StatusType"), "Scan": status.get("Status"),
                      "StatusCode": status.get("StatusCode"), "StatusDateTime": status.get("StatusDateTime"),
                      "ScannedLocation": status.get("StatusLocation"),
                      "Instructions": status.get("Instructions")}]  # fmt: skip
        for scan in scans:
            try:
                when = scan_time(scan.get("StatusDateTime") or scan.get("ScanDateTime"))
            except ValueError:
                logger.warning("Delhivery scan of %s without a readable time skipped: %r", awb, scan)
                continue
            updates.append(_update(awb, scan.get("ScanType") or "", scan.get("Scan") or "",
                                   scan.get("StatusCode") or "", when, description=scan.get("Instructions") or "",
                                   location=scan.get("ScannedLocation") or "", raw=scan))  # fmt: skip
        return sorted(updates, key=lambda u: u.occurred_at)

    # -- the label -----------------------------------------------------------------------------------------------

    def carrier_label(self, shipment: Shipment) -> bytes | None:
        account = self._account(shipment.courier)
        with self._client(account, "label", shipment.awb) as client:
            answer = client.request("GET", "api/p/packing_slip", idempotent=True, headers=self._headers(account),
                                    params={"wbns": shipment.awb, "pdf": "true", "pdf_size": "4R"})  # fmt: skip
            packages = [p for p in (answer.get("packages") or []) if isinstance(p, dict)] \
                if isinstance(answer, dict) else []  # fmt: skip
            package = next((p for p in packages if str(p.get("wbn", "")) == shipment.awb), None)
            if package is None:  # not ready yet, just after the manifest: asked again later
                raise COURIER_UNAVAILABLE(f"{self._label(account)} has no packing slip for {shipment.awb} yet.",
                                          {"awb": shipment.awb})  # fmt: skip
            link = str(package.get("pdf_download_link") or "").strip()
            if not link.startswith("https://"):
                return None  # the slip as data only: no PDF of Delhivery's to print
            try:  # the signed S3 link: no Delhivery token on it
                exchange = client.request("GET", link, idempotent=True, raw=True, operation="label_download")
            except DomainError as exc:
                if exc.code in (COURIER_UNAVAILABLE.code, COURIER_BAD_RESPONSE.code):
                    raise
                raise COURIER_UNAVAILABLE(f"The label of {shipment.awb} could not be downloaded from Delhivery's "
                                          f"link: {exc.message}", {"awb": shipment.awb}) from exc  # fmt: skip
        if not exchange.content.startswith(b"%PDF"):
            raise COURIER_BAD_RESPONSE(f"{self._label(account)}'s label link for {shipment.awb} did not answer a PDF.",
                                       {"awb": shipment.awb, "status": exchange.status_code})  # fmt: skip
        return exchange.content

    # -- prices --------------------------------------------------------------------------------------------------

    def live_quotes(self, courier, parcel: Parcel) -> list[LiveQuote]:
        if parcel.country != "IN":
            return []  # Delhivery's charges are for Indian pincodes
        account = self._account(courier)
        mode, letter = self._mode(courier)
        params = {"md": letter, "cgm": parcel.weight_grams, "o_pin": parcel.pickup_postcode,
                  "d_pin": parcel.delivery_postcode, "ss": "Delivered",
                  "pt": "COD" if parcel.cod else "Pre-paid"}  # fmt: skip
        params |= {name: value for name, value in (("l", parcel.length_cm), ("b", parcel.breadth_cm),
                                                   ("h", parcel.height_cm)) if value}  # fmt: skip
        with self._client(account, "quote", f"{parcel.pickup_postcode}-{parcel.delivery_postcode}") as client:
            answer = client.request("GET", "api/kinko/v1/invoice/charges/.json", idempotent=True, params=params,
                                    headers=self._headers(account))  # fmt: skip
        if isinstance(answer, dict):
            if answer.get("error"):
                raise self._refused(account, "the price", answer["error"])
            answer = [answer]
        if not isinstance(answer, list):
            raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered the price with {type(answer).__name__}.",
                                       {"status": 200})  # fmt: skip
        charges = next((c for c in answer if isinstance(c, dict)), None)
        if charges is None:
            return []
        try:
            total, cod_charge = _money(charges.get("total_amount")), _money(charges.get("charge_COD"))
        except ValueError as exc:
            raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered a price that is not one: {exc}.",
                                       {"status": 200}) from exc  # fmt: skip
        return [LiveQuote(service_code=mode, name=f"Delhivery {mode}", total=total, freight=total - cod_charge,
                          cod_charge=cod_charge, estimated_days=None, currency="INR")]  # fmt: skip

    # -- the connection ------------------------------------------------------------------------------------------

    def check_connection(self, account: CourierAccount) -> str:
        location = Location.objects.filter(merchant_id=account.merchant_id, is_default=True).first()
        postcode = location.postcode.strip() if location and re.fullmatch(r"\d{6}", location.postcode.strip()) \
            else CHECK_PINCODE  # fmt: skip
        with self._client(account, "check_connection", postcode) as client:
            answer = client.request("GET", "c/api/pin-codes/json/", idempotent=True, headers=self._headers(account),
                                    params={"filter_codes": postcode})  # fmt: skip
        codes = answer.get("delivery_codes") if isinstance(answer, dict) else None
        if codes is None:
            raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered the pincode check without delivery codes.",
                                       {"status": 200})  # fmt: skip
        served = "serviceable" if codes else "not serviceable"
        missing = [name for name in ("client_name", "pickup_location") if not (account.options or {}).get(name)]
        options = (f"set the {' and '.join(missing)} option{'s' if len(missing) > 1 else ''} before booking"
                   if missing else f"client {account.options['client_name']!r}, warehouse "
                                   f"{account.options['pickup_location']!r}")  # fmt: skip
        return f"Token accepted: pincode {postcode} is {served} by Delhivery; {options}."

    # -- webhooks ------------------------------------------------------------------------------------------------

    def verify_webhook(self, account: CourierAccount, headers, body: bytes) -> None:
        """The push must carry ``Authorization: Token <webhook_token>`` (the header Delhivery is asked to send)."""
        expected = (account.credentials or {}).get("webhook_token") or ""
        if not expected:
            raise WebhookRefused("This Delhivery account has no webhook token: set one and give it to Delhivery.")
        given = next((str(v) for k, v in headers.items() if str(k).lower() == "authorization"), "").strip()
        scheme, _, token = given.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token:
            token = given
        if not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise WebhookRefused("The Authorization token does not match the account's webhook token.")

    def webhook_delivery_id(self, payload: dict, body: bytes) -> str:
        """The scan's AWB and event id (Delhivery gives no delivery id): a scan pushed twice is stored once."""
        try:
            update = self._pushed(payload)
        except (ValueError, KeyError, TypeError, AttributeError):
            return super().webhook_delivery_id(payload, body)
        return f"{update.awb}|{update.event_id}"[:120]

    def parse_webhook(self, account: CourierAccount, payload: dict) -> list[TrackingUpdate]:
        return [self._pushed(payload)]

    def _pushed(self, payload: dict) -> TrackingUpdate:
        """The scan of one push: ``{"Shipment": {"AWB", "NSLCode", "Status": {Status, StatusType, StatusDateTime,
        StatusLocation, Instructions}}}``. ValueError when it has no AWB or no status."""
        shipment = payload.get("Shipment") if isinstance(payload.get("Shipment"), dict) else payload
        status = shipment.get("Status")
        awb = str(shipment.get("AWB") or "").strip()
        if not awb or not isinstance(status, dict) or not status.get("Status"):
            raise ValueError("A Delhivery scan push names its AWB and its Status.")
        code = status.get("StatusCode") or shipment.get("NSLCode") or ""
        return _update(awb, status.get("StatusType") or "", status["Status"], code,
                       scan_time(status.get("StatusDateTime")), description=status.get("Instructions") or "",
                       location=status.get("StatusLocation") or "", raw=shipment)  # fmt: skip

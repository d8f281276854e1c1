"""Shiprocket (API v1, ``.../v1/external``): booking, pickups, cancellation, NDR decisions, tracking, labels and prices
through a merchant's Shiprocket account, for every courier company Shiprocket offers.

The account holds the email and password of a Shiprocket API user (``credentials["email"]``,
``credentials["password"]``; Settings, API, "Add New API User" in Shiprocket's panel) and two options:
``pickup_location`` (the nickname of a pickup address registered at Shiprocket, sent with every order) and
``channel_id`` (a Shiprocket channel to file the orders under; blank: Shiprocket's custom channel). A courier booked
through the account names its Shiprocket ``courier_company_id`` in ``Courier.service_code`` (blank: Shiprocket picks
its default courier for the order).

Shiprocket gives no API key: ``auth/login`` answers a bearer token valid for 240 hours. The token is the account's
session (``CourierAccount.session``), shared by every process through ``http.account_session``: one login serves
every call until the token nears its end or Shiprocket answers 401, when it is renewed once (by one process, under a
named lock) and the call is sent once more. A login Shiprocket refuses is ``courier_credentials_rejected``.

Booking is two writes, and neither takes an idempotency key:

1. the order is created (``orders/create/adhoc``) with our reference (``booking_reference``: the order number and the
   shipment id) as Shiprocket's channel ``order_id``. This write is never repeated by the HTTP policy
   (``idempotent=False``): a timeout or a 5xx is ``courier_outcome_unknown``;
2. the AWB is assigned to the order's Shiprocket shipment (``courier/assign/awb``, with the courier's
   ``courier_company_id``), also sent once.

Before a second order is ever created for the same shipment, the order is looked up by our reference (``orders``
with ``search=<reference>``, matched on ``channel_order_id``): the call machinery does so after an attempt whose
outcome was lost (``find_booking``), ``assign_awb`` does so itself on a later attempt of the same call (its process
died, or the AWB was refused after the order was made), and when Shiprocket refuses the order as one it has
already. An order found is reused: its AWB taken, or one assigned when it has none. Shiprocket's order and shipment
ids go to ``Booking.carrier_data`` (``order_id``, ``shipment_id``) for the calls that follow; the AWB answer's
``routing_code`` becomes the routing code printed on ShopOps's label.

Shiprocket answers some refusals with 200: ``{"awb_assign_status": 0, "response": {"data": {"awb_assign_error"}}}``,
``{"status_code": 350, "message": ...}`` (no wallet balance), ``{"pickup_status": 0, ...}``. Each is
``courier_refused`` with Shiprocket's words in ``details.service_message``, never a success.

Tracking polls ``courier/track/awbs`` (50 AWBs a call) and maps each activity on its Shiprocket shipment status
code (``sr-status``, the shipment status table: 6 Shipped, 7 Delivered, 17 Out For Delivery, 18 In Transit, 21
Undelivered...). Shiprocket's webhook carries the same scans, with the same codes and times, so an event's id is its
code and time (India time when Shiprocket gives no offset), the same whether it came by a poll or a push. A push
without scans is read from its ``shipment_status_id`` and ``current_timestamp`` (its ``current_status_id`` is from
Shiprocket's other table, of order statuses, and is not used for the status).

Labels come from ``courier/generate/label``, whose answer links a PDF on Shiprocket's storage (S3); it is downloaded at
once, without the bearer token. Pickups are asked one shipment per call (Shiprocket's rule) and cannot be cancelled
through the API. NDR decisions go to ``ndr/{awb}/action`` (``re-attempt`` or ``return``). Prices come from
``courier/serviceability/``, one quote per courier company offered.
"""

import hashlib
import hmac
import logging
import re
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

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
from shipping.errors import (
    COURIER_BAD_RESPONSE,
    COURIER_CREDENTIALS_REJECTED,
    COURIER_OUTCOME_UNKNOWN,
    COURIER_REFUSED,
    COURIER_UNAVAILABLE,
)
from shipping.models import CourierAccount, NDRAction, Shipment, ShipmentStatus
from shopops.errors import DomainError

logger = logging.getLogger(__name__)

S = ShipmentStatus

#: Shiprocket's clock: times without an offset are India time.
SHIPROCKET_TZ = ZoneInfo("Asia/Kolkata")
#: How long a login's token lasts (Shiprocket: 10 days); ``http.account_session`` renews it an hour before.
TOKEN_LIFETIME = timedelta(hours=240)
#: AWBs per tracking call (Shiprocket's documented limit).
TRACKING_BATCH = 50
#: Orders asked for when looking one up by our reference (the search also matches longer ids that contain it).
LOOKUP_PAGE = 50
#: The time formats Shiprocket writes: tracking ("2022-07-19 11:37:00") and the webhook's current_timestamp
#: ("23 05 2023 11:43:52").
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d %m %Y %H:%M:%S", "%d-%m-%Y %H:%M:%S")
#: Shiprocket's order statuses of an order that is no booking any more.
CANCELLED_ORDER_STATUSES = ("canceled", "cancelled")
#: The comment sent with an NDR decision when the merchant gave none (Shiprocket requires one).
NDR_COMMENTS = {NDRAction.REATTEMPT: "Re-attempt requested by the seller.",
                NDRAction.RTO: "Return to origin requested by the seller."}  # fmt: skip
#: ShopOps's NDR decision -> Shiprocket's action.
NDR_ACTIONS = {NDRAction.REATTEMPT: "re-attempt", NDRAction.RTO: "return"}
#: Longest product name sent in an order line.
ITEM_NAME_MAX = 200

#: Shiprocket shipment status code (``sr-status``, ``shipment_status_id``) -> ShopOps status ("" for a status known to
#: change nothing). A code not here (23 Partial Delivered, 24 Destroyed, 25 Damaged, 76 Untraceable, 77 Issue
#: Related to the Recipient, warehouse and international codes) is kept unmapped, so ingestion flags it for a person.
STATUS_CODES: dict[str, str] = {
    "1": S.AWB_ASSIGNED,  # AWB Assigned: ShopOps is there already
    "2": "",  # Label Generated
    "3": S.PICKUP_SCHEDULED,  # Pickup Scheduled/Generated
    "4": "",  # Pickup Queued
    "5": "",  # Manifest Generated
    "6": S.PICKED_UP,  # Shipped: picked up and handed over (after 42 Picked Up, a repeat)
    "7": S.DELIVERED,
    "8": "",  # Cancelled: ShopOps's cancellation is the merchant's decision, recorded there
    "9": S.RTO_INITIATED,
    "10": S.RTO_DELIVERED,
    "11": "",  # Pending
    "12": S.LOST,
    "13": "",  # Pickup Error: the shipment still waits for a pickup
    "14": "",  # RTO Acknowledged: the seller confirmed the return's receipt
    "15": "",  # Pickup Rescheduled
    "16": "",  # Cancellation Requested
    "17": S.OUT_FOR_DELIVERY,
    "18": S.IN_TRANSIT,
    "19": "",  # Out For Pickup
    "20": "",  # Pickup Exception
    "21": S.NDR,  # Undelivered: a failed attempt
    "22": "",  # Delayed
    "26": "",  # Fulfilled (Shiprocket's fulfilment)
    "27": "",  # Pickup Booked
    "38": S.IN_TRANSIT,  # Reached at Destination Hub
    "39": S.IN_TRANSIT,  # Misrouted: still on its way
    "40": S.RTO_IN_TRANSIT,  # RTO NDR: the return failed an attempt
    "41": S.RTO_IN_TRANSIT,  # RTO OFD
    "42": S.PICKED_UP,
    "43": "",  # Self Fulfilled
    "45": "",  # Cancelled Before Dispatched
    "46": S.RTO_IN_TRANSIT,
    "47": "",  # QC Failed (return pickups)
    "48": S.IN_TRANSIT,  # Reached Warehouse
    "51": "",  # Handover to Courier (Shiprocket's fulfilment)
    "52": "",  # Shipment Booked
    "78": S.RTO_IN_TRANSIT,  # Reached Back at Seller City
    "na": "",  # an activity Shiprocket gives no status for ("sr-status": "NA", or none)
}


def _text(value: Any) -> str:
    return str(value if value is not None else "").strip()


def status_code(value: Any) -> str:
    """An activity's code for the status table: its Shiprocket status id as a string, "na" when it has none."""
    code = _text(value).lower()
    return code if code and code not in ("na", "null", "none") else "na"


def scan_time(value: Any) -> datetime:
    """A Shiprocket time, aware: India time unless it carries an offset. ValueError when it is not one."""
    text = _text(value)
    if not text:
        raise ValueError("The activity has no time.")
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in TIME_FORMATS:
            try:
                when = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"{text!r} is not a Shiprocket time.") from None
    return when.replace(tzinfo=SHIPROCKET_TZ) if timezone.is_naive(when) else when


def _update(awb: str, code: str, when: datetime, *, label: str, description: str, location: str,
            raw: dict) -> TrackingUpdate:  # fmt: skip
    return TrackingUpdate(awb=awb, code=code, occurred_at=when, description=(description or label or "").strip(),
                          location="" if _text(location).upper() == "NA" else _text(location),
                          event_id=f"{code}@{when.isoformat()}", raw=raw)  # fmt: skip


def _money(value: Any) -> Decimal:
    if isinstance(value, dict):  # some answers nest the amount: {"rate": {"rate": 54.0}}
        value = value.get("rate")
    try:
        return Decimal(str(value if value not in (None, "") else 0)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount") from exc


def _number(value: Decimal | int | float) -> float | int:
    """A JSON number: an integer when it is whole (Shiprocket's examples), else a float."""
    value = Decimal(str(value))
    return int(value) if value == value.to_integral_value() else float(value)


def _national_phone(phone: str) -> str:
    """An Indian number as its 10 digits (Shiprocket checks 10); another number as its digits."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 12 and digits.startswith("91"):
        return digits[2:]
    if len(digits) == 11 and digits.startswith("0"):
        return digits[1:]
    return digits


def _shipments_of(order: dict) -> list[dict]:
    """An order's shipments as Shiprocket lists them (a list, or one object)."""
    shipments = order.get("shipments")
    if isinstance(shipments, dict):
        return [shipments]
    return [s for s in shipments or [] if isinstance(s, dict)]


class ShiprocketAdapter(CourierAdapter):
    """Shiprocket through a merchant's Shiprocket account (see the module's docstring)."""

    name = "shiprocket"
    remote = True
    polls = True
    carrier_labels = True
    batch_size = TRACKING_BATCH
    status_codes = STATUS_CODES

    # -- the account and its session -------------------------------------------------------------------------------

    @staticmethod
    def _account(courier) -> CourierAccount:
        if courier.account is None:
            raise COURIER_REFUSED(f"{courier.name} has no Shiprocket account: connect one and set it on the courier.",
                                  {"courier": courier.code})  # fmt: skip
        return courier.account

    @staticmethod
    def _label(account: CourierAccount) -> str:
        return f"{account.get_service_display()} ({account.name})"

    @staticmethod
    def _option(account: CourierAccount, name: str) -> str:
        """An option the call needs, or ``courier_refused`` telling the merchant to set it."""
        value = _text((account.options or {}).get(name))
        if not value:
            raise COURIER_REFUSED(f"Set the {name!r} option of the Shiprocket account {account.name!r}: the nickname "
                                  "of a pickup address registered in Shiprocket (Settings, Pickup Addresses).",
                                  {"option": name, "account": account.pk})  # fmt: skip
        return value

    def _client(self, account: CourierAccount, operation: str, reference: str = "") -> http.CourierClient:
        return http.CourierClient(account, operation=operation, reference=reference)

    def _clean(self, account: CourierAccount, text: Any) -> str:
        """Shiprocket's words with the account's secrets replaced (a service may echo what it was sent)."""
        text = _text(text)
        for secret in http.secret_values(account):
            text = text.replace(secret, http.REDACTED)
        return text[:300]

    def _refused(self, account: CourierAccount, what: str, message: Any, errors: Any = None) -> DomainError:
        """Shiprocket's refusal given in a 2xx answer, its words in ``details`` as the HTTP policy puts a 4xx's."""
        message = self._clean(account, message) or "no reason given"
        return COURIER_REFUSED(f"{self._label(account)} refused {what}: {message.rstrip('.')}.",
                               {"status": 200, "service_message": message, "service_errors": errors or []})  # fmt: skip

    def _login(self, account: CourierAccount) -> tuple[dict, datetime]:
        """A new token (``auth/login``); a login Shiprocket refuses is the account's credentials rejected."""
        credentials = account.credentials or {}
        body = {"email": credentials.get("email", ""), "password": credentials.get("password", "")}
        with self._client(account, "login") as client:
            try:  # a login changes nothing at Shiprocket: retried like a read
                answer = client.request("POST", "auth/login", idempotent=True, json_body=body)
            except DomainError as exc:
                if exc.code != COURIER_REFUSED.code:
                    raise
                said = exc.details.get("service_message") or f"HTTP {exc.details.get('status')}"
                http.credentials_rejected(account, f"{self._label(account)} refused the login: {said}.")
                raise COURIER_CREDENTIALS_REJECTED(
                    f"{self._label(account)} refused the API user's email and password ({said}).",
                    {"status": exc.details.get("status"), "service_message": said}) from exc  # fmt: skip
        token = _text(answer.get("token")) if isinstance(answer, dict) else ""
        if not token:
            raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered the login without a token.", {"status": 200})
        return {"token": token}, timezone.now() + TOKEN_LIFETIME

    def _session(self, account: CourierAccount, refused: dict | None = None) -> dict:
        return http.account_session(account, login=lambda: self._login(account), refused=refused)

    @staticmethod
    def _headers(session: dict) -> dict[str, str]:
        return {"Authorization": f"Bearer {session['token']}", "Accept": "application/json"}

    def _call(self, account: CourierAccount, client: http.CourierClient, method: str, path: str, *,
              idempotent: bool, **kwargs) -> Any:  # fmt: skip
        """A request with the account's token; a 401 renews the token once (for every process) and sends the request
        once more (a request refused for its token did nothing, so a write is safe to send again)."""
        session = self._session(account)
        try:
            return client.request(method, path, idempotent=idempotent, headers=self._headers(session), **kwargs)
        except DomainError as exc:
            if exc.code != COURIER_CREDENTIALS_REJECTED.code or exc.details.get("status") != 401:
                raise
        session = self._session(account, refused=session)
        return client.request(method, path, idempotent=idempotent, headers=self._headers(session), **kwargs)

    # -- booking -------------------------------------------------------------------------------------------------

    def uses_pool(self, courier) -> bool:
        return False

    def assign_awb(self, shipment: Shipment, allocate_from_pool, *, key: str) -> Booking:
        courier = shipment.courier
        account = self._account(courier)
        pickup_location = self._option(account, "pickup_location")
        reference = booking_reference(shipment)
        payload = self._order(shipment, reference, pickup_location, account)  # refused before any call if incomplete
        call = http.current_call.get()
        with self._client(account, "book", reference) as client:
            # A later attempt of the same call (its process died, or the AWB was refused after the order was made)
            # looks for the order first; after a lost answer the call machinery has looked already.
            if call is not None and call.attempts > 1 and not call.outcome_unknown:
                found = self._find_order(account, client, reference)
                if found is not None:
                    return self._complete(account, client, courier, reference, found)
            try:
                answer = self._call(account, client, "POST", "orders/create/adhoc", idempotent=False,
                                    json_body=payload, operation="create_order")  # fmt: skip
            except DomainError as exc:  # an order id Shiprocket has already: the order is there; take it
                said = f"{exc.details.get('service_message', '')} {exc.details.get('service_errors', '')}".lower()
                if exc.code == COURIER_REFUSED.code and ("already" in said or "exist" in said):
                    found = self._find_order(account, client, reference)
                    if found is not None:
                        return self._complete(account, client, courier, reference, found)
                raise
            order = self._created(account, answer, reference)
            return self._complete(account, client, courier, reference, order)

    def _order(self, shipment: Shipment, reference: str, pickup_location: str, account: CourierAccount) -> dict:
        """The custom order's body: the buyer, the goods, the payment and the parcel, from the shipment's order."""
        order = shipment.order
        dimensions = {"length": order.length_cm, "breadth": order.breadth_cm, "height": order.height_cm}
        if any(not value or value <= Decimal("0.5") for value in dimensions.values()):
            raise COURIER_REFUSED(
                f"Shiprocket needs the parcel's length, breadth and height (more than 0.5 cm each): "
                f"set them on order {order.number} before booking.",
                {"order": order.number, "dimensions": {k: str(v) for k, v in dimensions.items()}},
            )
        shipping = order.shipping_address or {}
        billing = order.billing_address or shipping
        cod = order.payment_method == PaymentMethod.COD
        weight = Decimal(order.weight_grams or shipment.applied_weight_grams) / 1000
        body = {
            "order_id": reference,
            "order_date": order.ordered_at.astimezone(SHIPROCKET_TZ).strftime("%Y-%m-%d %H:%M"),
            "pickup_location": pickup_location,
            **self._address("billing", billing, order),
            "shipping_is_billing": billing == shipping,
            **({} if billing == shipping else self._address("shipping", shipping, order)),
            "order_items": [
                {
                    "name": line.name[:ITEM_NAME_MAX],
                    "sku": line.sku,
                    "units": line.quantity,
                    "selling_price": str(line.unit_price),
                    "discount": str(line.discount),
                    "tax": str(line.tax_rate),
                    "hsn": line.hsn_code,
                }
                for line in order.lines.all()
            ],  # fmt: skip
            "payment_method": "COD" if cod else "Prepaid",
            # Shiprocket does not add the lines up: sub_total is what the order is worth, and for COD the cash to take.
            "sub_total": str(shipment.cod_amount if cod else order.total),
            **{name: _number(value) for name, value in dimensions.items()},
            "weight": _number(weight.quantize(Decimal("0.001"))),
        }
        channel_id = _text((account.options or {}).get("channel_id"))
        if channel_id:
            body["channel_id"] = channel_id
        if order.eway_bill_number:
            body["ewaybill_no"] = order.eway_bill_number
        return body

    @staticmethod
    def _address(prefix: str, address: dict, order) -> dict:
        name = _text(address.get("name")) or order.customer.name
        first, _, last = name.partition(" ")
        street = ", ".join(part.strip() for part in (address.get("line1", ""), address.get("line2", "")) if part)
        country = address.get("country", "IN")
        return {
            f"{prefix}_customer_name": first,
            f"{prefix}_last_name": last,
            f"{prefix}_address": street,
            f"{prefix}_city": address.get("city", ""),
            f"{prefix}_pincode": _text(address.get("postcode")),
            f"{prefix}_state": address.get("state", ""),
            f"{prefix}_country": "India" if country == "IN" else country,
            f"{prefix}_email": order.customer.email,
            f"{prefix}_phone": _national_phone(address.get("phone") or order.customer.phone),
        }

    def _created(self, account: CourierAccount, answer: Any, reference: str) -> dict:
        """The created order's ids (and its AWB, if Shiprocket assigned one at once)."""
        if not isinstance(answer, dict):
            raise COURIER_OUTCOME_UNKNOWN(
                f"{self._label(account)} answered the order {reference} with "
                f"{type(answer).__name__}; it may have created it.",
                {"status": 200},
            )
        if not answer.get("order_id") or not answer.get("shipment_id"):
            if answer.get("message") or answer.get("errors"):
                raise self._refused(account, f"the order {reference}", answer.get("message"), answer.get("errors"))
            raise COURIER_OUTCOME_UNKNOWN(f"{self._label(account)} answered the order {reference} without its ids; "
                                          "it may have created it.", {"status": 200})  # fmt: skip
        if _text(answer.get("status")).lower() in CANCELLED_ORDER_STATUSES:
            # Shiprocket answers an order id it had with that order, here a cancelled one: nothing can be booked on it.
            raise self._refused(account, f"the order {reference}",
                                f"Shiprocket answered with its cancelled order {answer['order_id']} for this "
                                "reference; an order id cannot be used twice at Shiprocket")  # fmt: skip
        return {"order_id": answer["order_id"], "shipment_id": answer["shipment_id"],
                "awb": _text(answer.get("awb_code")), "courier_company_id": answer.get("courier_company_id"),
                "courier_name": _text(answer.get("courier_name"))}  # fmt: skip

    def _complete(self, account: CourierAccount, client: http.CourierClient, courier, reference: str,
                  order: dict) -> Booking:  # fmt: skip
        """The booking of an order Shiprocket has: its AWB, assigned now when it has none."""
        data = {"reference": reference, "order_id": order["order_id"], "shipment_id": order["shipment_id"],
                "pickup_location": _text((account.options or {}).get("pickup_location"))}  # fmt: skip
        if order.get("found_by_reference"):
            data["found_by_reference"] = True
        if order.get("awb"):
            return Booking(awb=order["awb"], carrier_data={
                **data, "awb": order["awb"], "courier_company_id": order.get("courier_company_id"),
                "courier_name": order.get("courier_name") or ""})  # fmt: skip
        body: dict[str, Any] = {"shipment_id": order["shipment_id"]}
        service_code = _text(courier.service_code)
        if service_code:
            body["courier_id"] = int(service_code) if service_code.isdigit() else service_code
        answer = self._call(account, client, "POST", "courier/assign/awb", idempotent=False, json_body=body,
                            operation="assign_awb")  # fmt: skip
        if not isinstance(answer, dict):
            raise COURIER_OUTCOME_UNKNOWN(
                f"{self._label(account)} answered the AWB of {reference} with "
                f"{type(answer).__name__}; it may have assigned one.",
                {"status": 200},
            )
        response = answer.get("response") if isinstance(answer.get("response"), dict) else {}
        assigned = response.get("data") if isinstance(response.get("data"), dict) else {}
        awb = _text(assigned.get("awb_code"))
        if answer.get("awb_assign_status") != 1 or not awb:
            said = (assigned.get("awb_assign_error") or answer.get("message") or response.get("message")
                    or assigned.get("message") or "")  # fmt: skip
            if "already assigned" in _text(said).lower():  # an earlier attempt assigned it: take that AWB
                found = self._find_order(account, client, reference)
                if found is not None and found.get("awb"):
                    return self._complete(account, client, courier, reference, found)
            if answer.get("awb_assign_status") == 1 or (not said and "awb_assign_status" not in answer):
                raise COURIER_OUTCOME_UNKNOWN(f"{self._label(account)} answered the AWB of {reference} without one; "
                                              "it may have assigned one.", {"status": 200})  # fmt: skip
            raise self._refused(account, f"an AWB for {reference}", said)
        routing_code = _text(assigned.get("routing_code"))
        return Booking(awb=awb, routing_code=routing_code[:ROUTING_CODE_MAX_LENGTH], carrier_data={
            **data, "awb": awb, "courier_company_id": assigned.get("courier_company_id"),
            "courier_name": _text(assigned.get("courier_name")), "routing_code": routing_code,
        })  # fmt: skip

    def _find_order(self, account: CourierAccount, client: http.CourierClient, reference: str) -> dict | None:
        """Shiprocket's live order whose channel order id is our reference (its ids and AWB), or None."""
        try:
            answer = self._call(account, client, "GET", "orders", idempotent=True, operation="find_order",
                                params={"search": reference, "per_page": LOOKUP_PAGE})  # fmt: skip
        except DomainError as exc:
            if exc.code == COURIER_REFUSED.code and exc.details.get("status") == 404:
                return None
            raise
        orders = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(orders, list):
            raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered the lookup of {reference} without a list of "
                                       "orders.", {"status": 200})  # fmt: skip
        for order in orders:
            if not isinstance(order, dict) or _text(order.get("channel_order_id")) != reference:
                continue
            if _text(order.get("status")).lower() in CANCELLED_ORDER_STATUSES:
                continue
            shipments = _shipments_of(order)
            if not order.get("id") or not shipments or not shipments[0].get("id"):
                continue
            shipment = shipments[0]
            return {"order_id": order["id"], "shipment_id": shipment["id"], "awb": _text(shipment.get("awb")),
                    "courier_name": _text(shipment.get("courier")), "found_by_reference": True}  # fmt: skip
        return None

    def find_booking(self, shipment: Shipment, *, key: str) -> Booking | None:
        """The booking for our reference: an order found with its AWB, or with one assigned now (the order was
        made, its answer or the AWB's lost); None when Shiprocket has no such order, so booking again is safe."""
        account = self._account(shipment.courier)
        reference = booking_reference(shipment)
        with self._client(account, "find_booking", reference) as client:
            found = self._find_order(account, client, reference)
            if found is None:
                return None
            return self._complete(account, client, shipment.courier, reference, found)

    # -- pickups, cancellation, NDR ------------------------------------------------------------------------------

    def schedule_pickup(self, *, courier, location, pickup_date: date, awbs: list[str], key: str) -> str:
        """One pickup request per shipment (Shiprocket takes one shipment id a call) for ``pickup_date``. The token
        is Shiprocket's pickup token when every request answered the same one, else one derived from the key."""
        account = self._account(courier)
        shipments = list(Shipment.objects.filter(courier=courier, awb__in=awbs).order_by("pk"))
        booked = [(s.awb, (s.carrier_data or {}).get("shipment_id")) for s in shipments]
        if not booked or any(not shipment_id for _, shipment_id in booked):
            missing = [awb for awb, shipment_id in booked if not shipment_id] or awbs
            raise COURIER_REFUSED(f"Shiprocket schedules pickups for shipments it booked; {', '.join(missing)} "
                                  "have no Shiprocket shipment.", {"awbs": missing})  # fmt: skip
        tokens = []
        with self._client(account, "schedule_pickup", f"{pickup_date} {len(booked)} shipments") as client:
            for awb, shipment_id in booked:
                body = {"shipment_id": [shipment_id], "pickup_date": [pickup_date.isoformat()]}
                try:
                    answer = self._call(account, client, "POST", "courier/generate/pickup", idempotent=False,
                                        json_body=body)  # fmt: skip
                except DomainError as exc:  # asked already (an earlier attempt of this call): the visit is booked
                    if exc.code == COURIER_REFUSED.code and "already" in _text(
                            exc.details.get("service_message")).lower():  # fmt: skip
                        continue
                    raise
                tokens.append(self._pickup_token(account, answer, awb))
        if len(set(tokens)) == 1 and len(tokens) == len(booked):
            return tokens[0]
        return f"SR-{pickup_date:%Y%m%d}-{hashlib.sha256(key.encode()).hexdigest()[:8].upper()}"

    def _pickup_token(self, account: CourierAccount, answer: Any, awb: str) -> str:
        answer = answer if isinstance(answer, dict) else {}
        response = answer.get("response") if isinstance(answer.get("response"), dict) else {}
        if answer.get("pickup_status") != 1:
            said = response.get("data") or answer.get("message") or response.get("message") or ""
            raise self._refused(account, f"the pickup of {awb}", said)
        token = re.sub(r"^\s*reference\s*no\s*:\s*", "", _text(response.get("pickup_token_number")), flags=re.I)
        return token[:40] or f"SR-{awb}"[:40]

    def cancel_pickup(self, *, pickup, key: str) -> None:
        """Shiprocket has no API to cancel a pickup request: the visit lapses (nothing is handed over)."""

    def cancel(self, shipment: Shipment, *, awb: str, key: str) -> None:
        """A shipment cancelled in ShopOps cancels its Shiprocket order (``orders/cancel``, which cancels the AWB
        with it); a booking called off for a courier change cancels only the AWB (``orders/cancel/shipment/awbs``),
        so the order stays for the next booking of the same shipment, which reuses it."""
        account = self._account(shipment.courier)
        data = shipment.carrier_data or {}
        whole = shipment.status == S.CANCELLED and data.get("order_id") and _text(data.get("awb")) == awb
        path, body = ("orders/cancel", {"ids": [data["order_id"]]}) if whole else \
            ("orders/cancel/shipment/awbs", {"awbs": [awb]})  # fmt: skip
        with self._client(account, "cancel", awb) as client:
            exchange = self._call(account, client, "POST", path, idempotent=False, json_body=body, raw=True)
        self._acknowledged(account, exchange, f"to cancel {awb}")

    def ndr_action(self, shipment: Shipment, *, action: str, reattempt_date=None, comment: str = "",
                   key: str) -> None:  # fmt: skip
        account = self._account(shipment.courier)
        if action not in NDR_ACTIONS:
            raise COURIER_REFUSED(f"Shiprocket takes a re-attempt or a return to origin for {shipment.awb}, not "
                                  f"{action!r}.", {"action": action, "awb": shipment.awb})  # fmt: skip
        body: dict[str, Any] = {"action": NDR_ACTIONS[action], "comments": comment.strip() or NDR_COMMENTS[action]}
        if action == NDRAction.REATTEMPT and reattempt_date is not None:
            body["deferred_date"] = reattempt_date.isoformat()
        with self._client(account, "ndr_action", shipment.awb) as client:
            exchange = self._call(account, client, "POST", f"ndr/{shipment.awb}/action", idempotent=False,
                                  json_body=body, raw=True)  # fmt: skip
        self._acknowledged(account, exchange, f"the NDR action on {shipment.awb}")

    def _acknowledged(self, account: CourierAccount, exchange: http.Exchange, what: str) -> None:
        """A write Shiprocket answers with 200, 202 or 204 and a body or none; a refusal in a 2xx is
        ``courier_refused``."""
        answer = http.read_json(exchange, account) if exchange.content.strip() else {}
        if not isinstance(answer, dict):
            return
        try:
            code = int(answer.get("status_code") or 200)
        except (TypeError, ValueError):
            code = 200
        if answer.get("status") is False or code >= 400:
            raise self._refused(account, what, answer.get("message"), answer.get("errors"))

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
            answer = self._call(account, client, "POST", "courier/track/awbs", idempotent=True,
                                json_body={"awbs": awbs})  # fmt: skip
        if isinstance(answer, list):  # some answers wrap each AWB's object in a list
            answer = {k: v for item in answer if isinstance(item, dict) for k, v in item.items()}
        if not isinstance(answer, dict):
            raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered the tracking with "
                                       f"{type(answer).__name__}.", {"status": 200})  # fmt: skip
        updates = []
        for awb in awbs:
            entry = answer.get(awb)
            tracking = entry.get("tracking_data") if isinstance(entry, dict) else None
            if isinstance(tracking, dict):
                updates.extend(self._activities(awb, tracking.get("shipment_track_activities")))
        return updates

    def _activities(self, awb: str, activities: Any) -> list[TrackingUpdate]:
        """The dated activities of one AWB (polled, or a push's scans), oldest first."""
        updates = []
        for activity in activities if isinstance(activities, list) else []:
            if not isinstance(activity, dict):
                continue
            try:
                when = scan_time(activity.get("date"))
            except ValueError:
                logger.warning("Shiprocket activity of %s without a readable time skipped: %r", awb, activity)
                continue
            updates.append(_update(awb, status_code(activity.get("sr-status")), when,
                                   label=_text(activity.get("sr-status-label")),
                                   description=_text(activity.get("activity")),
                                   location=_text(activity.get("location")), raw=activity))  # fmt: skip
        return sorted(updates, key=lambda u: u.occurred_at)

    # -- the label -----------------------------------------------------------------------------------------------

    def carrier_label(self, shipment: Shipment) -> bytes | None:
        account = self._account(shipment.courier)
        shipment_id = (shipment.carrier_data or {}).get("shipment_id")
        if not shipment_id:
            return None  # booked before ShopOps kept Shiprocket's ids: no label to ask for
        with self._client(account, "label", shipment.awb) as client:
            answer = self._call(account, client, "POST", "courier/generate/label", idempotent=True,
                                json_body={"shipment_id": [shipment_id]})  # fmt: skip
            answer = answer if isinstance(answer, dict) else {}
            link = _text(answer.get("label_url"))
            if answer.get("label_created") != 1 or not link.startswith("https://"):
                said = self._clean(account, answer.get("response") or answer.get("message") or "")
                raise COURIER_UNAVAILABLE(f"{self._label(account)} has no label for {shipment.awb} yet"
                                          + (f": {said.rstrip('.')}." if said else "."),
                                          {"awb": shipment.awb, "service_message": said})  # fmt: skip
            try:  # the label's own link, on Shiprocket's storage: no token goes with it
                exchange = client.request("GET", link, idempotent=True, raw=True, operation="label_download")
            except DomainError as exc:
                if exc.code in (COURIER_UNAVAILABLE.code, COURIER_BAD_RESPONSE.code):
                    raise
                raise COURIER_UNAVAILABLE(f"The label of {shipment.awb} could not be downloaded from Shiprocket's "
                                          f"link: {exc.message}", {"awb": shipment.awb}) from exc  # fmt: skip
        if not exchange.content.startswith(b"%PDF"):
            raise COURIER_BAD_RESPONSE(f"{self._label(account)}'s label link for {shipment.awb} did not answer a PDF.",
                                       {"awb": shipment.awb, "status": exchange.status_code})  # fmt: skip
        return exchange.content

    # -- prices --------------------------------------------------------------------------------------------------

    def live_quotes(self, courier, parcel: Parcel) -> list[LiveQuote]:
        if parcel.country != "IN":
            return []  # domestic serviceability only (international has its own API)
        account = self._account(courier)
        params: dict[str, Any] = {
            "pickup_postcode": parcel.pickup_postcode, "delivery_postcode": parcel.delivery_postcode,
            "weight": str(_number((Decimal(parcel.weight_grams) / 1000).quantize(Decimal("0.001")))),
            "cod": 1 if parcel.cod else 0, "declared_value": str(parcel.declared_value),
        }  # fmt: skip
        params |= {name: value for name, value in (("length", parcel.length_cm), ("breadth", parcel.breadth_cm),
                                                   ("height", parcel.height_cm)) if value}  # fmt: skip
        with self._client(account, "quote", f"{parcel.pickup_postcode}-{parcel.delivery_postcode}") as client:
            try:
                answer = self._call(account, client, "GET", "courier/serviceability/", idempotent=True, params=params)
            except DomainError as exc:  # "no courier serviceable" comes as a 404
                if exc.code == COURIER_REFUSED.code and exc.details.get("status") == 404:
                    return []
                raise
        if not isinstance(answer, dict):
            raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered the prices with {type(answer).__name__}.",
                                       {"status": 200})  # fmt: skip
        data = answer.get("data")
        if not isinstance(data, dict):
            if answer.get("status") == 404 or answer.get("message"):
                return []
            raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered the prices without data.", {"status": 200})
        quotes = []
        for company in data.get("available_courier_companies") or []:
            if not isinstance(company, dict) or not company.get("courier_company_id"):
                continue
            try:
                quotes.append(LiveQuote(
                    service_code=str(company["courier_company_id"]),
                    name=_text(company.get("courier_name")) or f"Shiprocket courier {company['courier_company_id']}",
                    total=_money(company.get("rate")), freight=_money(company.get("freight_charge")),
                    cod_charge=_money(company.get("cod_charges")),
                    estimated_days=int(days) if (days := _text(company.get("estimated_delivery_days"))).isdigit()
                    else None, currency="INR"))  # fmt: skip
            except ValueError as exc:
                raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered a price that is not one: {exc}.",
                                           {"status": 200}) from exc  # fmt: skip
        return quotes

    # -- the connection ------------------------------------------------------------------------------------------

    def check_connection(self, account: CourierAccount) -> str:
        with self._client(account, "check_connection") as client:
            answer = self._call(account, client, "GET", "settings/company/pickup", idempotent=True)
        data = answer.get("data") if isinstance(answer, dict) else None
        addresses = data.get("shipping_address") if isinstance(data, dict) else None
        if not isinstance(addresses, list):
            raise COURIER_BAD_RESPONSE(f"{self._label(account)} answered the pickup addresses without a list.",
                                       {"status": 200})  # fmt: skip
        names = [_text(a.get("pickup_location")) for a in addresses if isinstance(a, dict) and a.get("pickup_location")]
        listed = f"{len(names)} pickup location{'' if len(names) == 1 else 's'}" + (
            f" ({', '.join(names)})" if names else "")  # fmt: skip
        chosen = _text((account.options or {}).get("pickup_location"))
        if not chosen:
            advice = "set the pickup_location option to one of them before booking"
        elif chosen in names:
            advice = f"orders go out from {chosen!r}"
        else:
            advice = f"the pickup_location option {chosen!r} is not one of them: bookings will be refused"
        return f"Connected: {listed}; {advice}."

    # -- webhooks ------------------------------------------------------------------------------------------------

    def verify_webhook(self, account: CourierAccount, headers, body: bytes) -> None:
        """The push must carry ``x-api-key: <webhook_token>`` (the token set with the URL in Shiprocket's panel)."""
        expected = _text((account.credentials or {}).get("webhook_token"))
        if not expected:
            raise WebhookRefused("This Shiprocket account has no webhook token: set one here and the same token in "
                                 "Shiprocket (Settings, API, Webhooks).")  # fmt: skip
        given = next((_text(v) for k, v in headers.items() if str(k).lower() == "x-api-key"), "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRefused("The x-api-key header does not match the account's webhook token.")

    def webhook_delivery_id(self, payload: dict, body: bytes) -> str:
        """The AWB, status and time of the push (Shiprocket gives no delivery id): a push repeated is stored once."""
        awb = _text(payload.get("awb"))
        status = _text(payload.get("shipment_status_id") or payload.get("current_status_id")
                       or payload.get("current_status"))  # fmt: skip
        stamp = _text(payload.get("current_timestamp"))
        if not (awb and status and stamp):
            return super().webhook_delivery_id(payload, body)
        return f"{awb}:{status}:{stamp}"[:120]

    def parse_webhook(self, account: CourierAccount, payload: dict) -> list[TrackingUpdate]:
        """The push's scans; a push without scans is its current shipment status. ValueError when it names no AWB
        or has neither."""
        awb = _text(payload.get("awb"))
        if not awb:
            raise ValueError("A Shiprocket push names its AWB.")
        scans = payload.get("scans")
        if isinstance(scans, list) and scans:
            return self._activities(awb, scans)
        status = payload.get("shipment_status_id")
        if status in (None, ""):
            raise ValueError("A Shiprocket push has scans or a shipment_status_id.")
        raw = {k: v for k, v in payload.items() if k not in ("scans",)}
        return [_update(awb, status_code(status), scan_time(payload.get("current_timestamp")),
                        label=_text(payload.get("shipment_status") or payload.get("current_status")),
                        description="", location="", raw=raw)]  # fmt: skip

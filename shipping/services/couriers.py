"""Couriers and their rate cards, serviceability imports, blocked pincodes, the merchant's courier ranking and
zone rules of other countries."""

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from shipping.errors import DUPLICATE_COURIER
from shipping.models import (
    AccountService,
    BlockedPincode,
    Courier,
    PostcodeZone,
    RateCard,
    ServiceablePincode,
    ShippingPreference,
)
from shipping.zones import Zone, normalize_postcode
from shopops.bulk import insert_rows
from shopops.models import Merchant

PINCODE = re.compile(r"^[1-9][0-9]{5}\Z")
POSTCODE = re.compile(r"^[A-Z0-9][A-Z0-9 -]{1,9}\Z")  # other countries: letters, digits, a space or a dash
COURIER_FIELDS = ("code", "name", "mode", "supports_cod", "supports_reverse", "max_weight_grams", "volumetric_divisor",
                  "pickup_cutoff", "is_active")  # fmt: skip
#: How ShopOps talks to the courier (set through the API; the admin form keeps COURIER_FIELDS).
COURIER_INTEGRATION_FIELDS = ("adapter", "account", "service_code", "webhook_secret", "status_codes",
                              "tracking_url_template", "poll_limit_per_minute")  # fmt: skip
RATE_FIELDS = ("first_slab_grams", "first_slab_price", "additional_slab_grams", "additional_slab_price", "cod_fixed",
               "cod_percent", "fuel_surcharge_percent", "rto_charge", "estimated_days")  # fmt: skip
SERVICEABILITY_FLAGS = ("pickup", "delivery", "cod", "reverse", "oda")
#: A flag's value when its column is missing or its cell blank.
DEFAULT_FLAGS = {"pickup": "y", "delivery": "y", "cod": "y", "reverse": "n", "oda": "n"}
TRUE, FALSE = {"y", "yes", "true", "1", "t"}, {"n", "no", "false", "0", "f", ""}


def courier_create(*, merchant: Merchant, data: dict[str, Any], rate_cards: list[dict] | None = None) -> Courier:
    settable = (*COURIER_FIELDS, *COURIER_INTEGRATION_FIELDS)
    courier = Courier(merchant=merchant, **{k: v for k, v in data.items() if k in settable})
    return _courier_save(courier, rate_cards)


def courier_update(*, courier: Courier, data: dict[str, Any], rate_cards: list[dict] | None = None) -> Courier:
    for name, value in data.items():
        if name in COURIER_FIELDS or name in COURIER_INTEGRATION_FIELDS:
            setattr(courier, name, value)
    return _courier_save(courier, rate_cards)


def _check_account(courier: Courier) -> None:
    """A courier of a courier service is booked through an account of that service, of the same merchant; the
    offline and simulated couriers have none."""
    account = courier.account
    if courier.adapter in AccountService.values:
        if account is None or account.merchant_id != courier.merchant_id:
            service = AccountService(courier.adapter).label
            raise ValidationError({"account": [f"A {service} courier is booked through one of the merchant's "
                                               f"{service} courier accounts."]})  # fmt: skip
        if account.service != courier.adapter:
            raise ValidationError({"account": [f"The account {account.name!r} is a {account.get_service_display()} "
                                               f"account, not {courier.adapter}."]})  # fmt: skip
    elif account is not None:
        raise ValidationError({"account": ["Only couriers of a courier service (Shiprocket, Delhivery, EasyPost) "
                                           "have an account."]})  # fmt: skip


def _courier_save(courier: Courier, rate_cards: list[dict] | None) -> Courier:
    """Save the courier (``duplicate_courier`` when another courier of the merchant has its code) and its rate cards."""
    if Courier.objects.filter(merchant_id=courier.merchant_id, code=courier.code).exclude(pk=courier.pk).exists():
        raise DUPLICATE_COURIER(f"A courier with code {courier.code!r} already exists.",
                                {"code": courier.code})  # fmt: skip
    courier.full_clean(validate_unique=False, validate_constraints=False)
    _check_account(courier)
    with transaction.atomic():
        courier.save()
        for card in rate_cards or []:
            rate_card_set(courier=courier, zone=card["zone"], data=card)
    return courier


def rate_card_set(*, courier: Courier, zone: str, data: dict[str, Any]) -> RateCard:
    """Create or replace the courier's prices for one zone."""
    if zone not in Zone.values:
        raise ValidationError({"zone": f"Unknown zone {zone!r}; one of {', '.join(Zone.values)}."})
    card = RateCard.objects.filter(courier=courier, zone=zone).first() or RateCard(
        merchant_id=courier.merchant_id, courier=courier, zone=zone)  # fmt: skip
    for name in RATE_FIELDS:
        if name in data:
            setattr(card, name, data[name])
    card.full_clean(validate_unique=False)  # turns the prices into Decimals, or refuses them
    if card.first_slab_price <= 0:
        raise ValidationError({"first_slab_price": "The first slab must cost more than zero."})
    card.save()
    return card


@dataclass
class ServiceabilityImport:
    rows: int = 0
    imported: int = 0
    errors: list[dict] = field(default_factory=list)


def serviceability_import(*, courier: Courier, fileobj, replace: bool = True, country: str = "IN"
                          ) -> ServiceabilityImport:  # fmt: skip
    """Load a courier's serviceable pincodes from CSV (pincode, pickup, delivery, cod, reverse, oda; Y/N).

    ``country``: Indian pincodes are 6 digits; other countries' postcodes are stored upper-cased.

    All or nothing: a file with any bad row imports nothing and names up to 100 bad rows. With
    ``replace`` (the default) the courier's previous list is replaced; else rows are added or updated.
    """
    text = io.TextIOWrapper(fileobj, encoding="utf-8-sig", newline="")
    result, rows, seen = ServiceabilityImport(), [], set()
    try:
        reader = csv.reader(text)
        header = [h.strip().lower() for h in next(reader, [])]
        if "pincode" not in header:
            raise ValidationError({"file": "The first line must name the columns, including pincode."})
        index = {name: header.index(name) for name in ("pincode", *SERVICEABILITY_FLAGS) if name in header}
        for number, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            result.rows += 1
            cells = {name: (values[i].strip() if i < len(values) else "") for name, i in index.items()}
            if country != "IN":
                cells["pincode"] = normalize_postcode(cells["pincode"])
            problem = _serviceability_problem(cells, seen, country)
            if problem:
                if len(result.errors) < 100:
                    result.errors.append({"row": number, "pincode": cells["pincode"], "message": problem})
                continue
            seen.add(cells["pincode"])
            rows.append({"merchant_id": courier.merchant_id, "courier_id": courier.pk, "pincode": cells["pincode"],
                         **{flag: (cells.get(flag) or DEFAULT_FLAGS[flag]).lower() in TRUE
                            for flag in SERVICEABILITY_FLAGS}})  # fmt: skip
    except UnicodeDecodeError as exc:
        raise ValidationError({"file": "The file is not UTF-8 CSV."}) from exc
    except csv.Error as exc:
        raise ValidationError({"file": f"The CSV is malformed: {exc}."}) from exc
    finally:
        text.detach()
    if result.errors:
        return result
    with transaction.atomic():
        existing = ServiceablePincode.objects.filter(courier=courier)
        if replace:
            existing.delete()
        else:
            existing.filter(pincode__in=seen).delete()
        insert_rows(ServiceablePincode, rows)
    result.imported = len(rows)
    return result


def _serviceability_problem(cells: dict[str, str], seen: set[str], country: str) -> str | None:
    if country == "IN" and not PINCODE.match(cells["pincode"]):
        return "A pincode is 6 digits, not starting with 0."
    if country != "IN" and not POSTCODE.match(cells["pincode"]):
        return "A postcode is 2 to 10 letters, digits, spaces or dashes."
    if cells["pincode"] in seen:
        return "The pincode appears twice."
    for flag in SERVICEABILITY_FLAGS:
        value = cells.get(flag, "").lower()
        if value not in TRUE | FALSE:
            return f"{flag} must be Y or N, not {cells.get(flag)!r}."
    return None


def pincode_block(*, merchant: Merchant, pincode: str, reason: str = "") -> BlockedPincode:
    if not PINCODE.match(pincode):
        raise ValidationError({"pincode": "A pincode is 6 digits, not starting with 0."})
    blocked, _ = BlockedPincode.objects.update_or_create(
        merchant=merchant, pincode=pincode, defaults={"reason": reason}
    )
    return blocked


def pincode_unblock(*, merchant: Merchant, pincode: str) -> bool:
    deleted, _ = BlockedPincode.objects.filter(merchant=merchant, pincode=pincode).delete()
    return bool(deleted)


def shipping_preference_set(*, merchant: Merchant, data: dict[str, Any]) -> ShippingPreference:
    """Set how the merchant ranks couriers (weights of price, speed and performance; default order)."""
    preference = ShippingPreference.objects.filter(merchant=merchant).first() or ShippingPreference(merchant=merchant)
    for name in ("weight_price", "weight_speed", "weight_performance", "default_sort"):
        if name in data:
            setattr(preference, name, data[name])
    preference.full_clean(validate_unique=False)
    if preference.weight_price + preference.weight_speed + preference.weight_performance <= 0:
        raise ValidationError({"weight_price": "At least one weight must be above zero."})
    preference.save()
    return preference


def zone_rule_set(*, merchant: Merchant, country: str, origin_prefix: str, destination_prefix: str,
                  zone: str) -> PostcodeZone:  # fmt: skip
    """Create or change a zone rule of a country other than India (India uses the pincode directory)."""
    country = str(country).strip().upper()
    errors = {}
    if not re.fullmatch(r"[A-Z]{2}", country) or country == "IN":
        errors["country"] = "A country code other than IN (India uses the pincode directory)."
    if zone not in Zone.values:
        errors["zone"] = f"One of {', '.join(Zone.values)}."
    origin, destination = normalize_postcode(origin_prefix), normalize_postcode(destination_prefix)
    for name, prefix in (("origin_prefix", origin), ("destination_prefix", destination)):
        if prefix and not re.fullmatch(r"[A-Z0-9 -]{1,10}", prefix):
            errors[name] = "Up to 10 letters, digits, spaces or dashes."
    if errors:
        raise ValidationError(errors)
    rule, _ = PostcodeZone.objects.update_or_create(
        merchant=merchant,
        country=country,
        origin_prefix=origin,
        destination_prefix=destination,
        defaults={"zone": zone},
    )
    return rule

"""Shipping zones between two Indian pincodes, as the aggregators define them, from an offline directory.

The directory is the ``indian-pincode`` package (India Post data: each pincode's
state and districts; 200 kB, loaded once in about 30 ms, no network). It was
preferred to ``bharatpin`` (every post office with coordinates, a 22 MB CSV)
because zones need only state and district, and a worker should not pay
bharatpin's load time and memory for data it does not use.

Zones, checked in this order:
- ``within_city``: both ends in the same city (a metro's districts count as one city, else the same district);
- ``special``: either end in the North-East, Jammu and Kashmir, Ladakh, the Andaman and Nicobar Islands
  or Lakshadweep;
- ``within_state``: the same state;
- ``metro``: both ends in (different) metro cities;
- ``rest_of_india``: everything else.
"""

from dataclasses import dataclass
from functools import lru_cache

import indian_pincode
from django.db import models


class Zone(models.TextChoices):
    WITHIN_CITY = "within_city", "Within city"
    WITHIN_STATE = "within_state", "Within state"
    METRO = "metro", "Metro to metro"
    REST_OF_INDIA = "rest_of_india", "Rest of India"
    SPECIAL = "special", "Special (North-East, J&K, islands)"


SPECIAL_STATES = frozenset({
    "ARUNACHAL PRADESH", "ASSAM", "MANIPUR", "MEGHALAYA", "MIZORAM", "NAGALAND", "SIKKIM", "TRIPURA",
    "JAMMU AND KASHMIR", "LADAKH", "ANDAMAN AND NICOBAR ISLANDS", "LAKSHADWEEP",
})  # fmt: skip

#: Metro cities: (state, districts); a state alone (Delhi) means all its districts.
METROS = {
    "Delhi": ("DELHI", None),
    "Mumbai": ("MAHARASHTRA", {"MUMBAI", "MUMBAI SUBURBAN", "THANE"}),
    "Bengaluru": ("KARNATAKA", {"BENGALURU URBAN", "BANGALORE URBAN", "BANGALORE"}),
    "Chennai": ("TAMIL NADU", {"CHENNAI"}),
    "Kolkata": ("WEST BENGAL", {"KOLKATA"}),
    "Hyderabad": ("TELANGANA", {"HYDERABAD", "RANGAREDDY", "MEDCHAL MALKAJGIRI", "MEDCHAL-MALKAJGIRI"}),
    "Ahmedabad": ("GUJARAT", {"AHMEDABAD", "AHMADABAD"}),
    "Pune": ("MAHARASHTRA", {"PUNE"}),
}


class UnknownPincode(ValueError):
    def __init__(self, pincode: str, message: str = ""):
        self.pincode = pincode
        super().__init__(message or f"{pincode!r} is not a known Indian pincode.")


@dataclass(frozen=True)
class Place:
    pincode: str
    state: str
    district: str
    city: str  # the metro's name, or the district
    metro: bool


@lru_cache(maxsize=65536)
def place(pincode: str) -> Place:
    """Where a pincode is; raises UnknownPincode for a malformed or unknown one."""
    pincode = str(pincode).strip()
    if not indian_pincode.is_well_formed(pincode) or not indian_pincode.validate(pincode):
        raise UnknownPincode(pincode)
    details = indian_pincode.get_details(pincode)
    state, districts = details["state"] or "", details["districts"] or [""]
    for name, (metro_state, metro_districts) in METROS.items():
        if state == metro_state and (metro_districts is None or metro_districts & set(districts)):
            return Place(pincode, state, districts[0], name, True)
    return Place(pincode, state, districts[0], districts[0], False)


def zone_between(pickup: str, delivery: str) -> Zone:
    origin, destination = place(pickup), place(delivery)
    if origin.city == destination.city and origin.state == destination.state:
        return Zone.WITHIN_CITY
    if origin.state in SPECIAL_STATES or destination.state in SPECIAL_STATES:
        return Zone.SPECIAL
    if origin.state == destination.state:
        return Zone.WITHIN_STATE
    if origin.metro and destination.metro:
        return Zone.METRO
    return Zone.REST_OF_INDIA


def zone_by_prefix(pickup: str, delivery: str, country: str, rules: list[tuple[str, str, str]]) -> Zone:
    """The zone of the most specific rule (origin prefix, destination prefix, zone) matching both postcodes."""
    pickup, delivery = normalize_postcode(pickup), normalize_postcode(delivery)
    matches = [(len(origin) + len(destination), len(origin), zone) for origin, destination, zone in rules
               if pickup.startswith(origin) and delivery.startswith(destination)]  # fmt: skip
    if not matches:
        raise UnknownPincode(f"{pickup} -> {delivery}", f"No zone rule covers {pickup} to {delivery} in {country}.")
    return Zone(max(matches)[2])


def normalize_postcode(postcode: str) -> str:
    return " ".join(str(postcode).upper().split())

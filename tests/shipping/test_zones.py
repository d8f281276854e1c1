"""Zones between known pincode pairs, from the offline India Post directory."""

import pytest

from shipping.zones import UnknownPincode, Zone, place, zone_between


@pytest.mark.parametrize(
    ("pickup", "delivery", "zone"),
    [
        ("560001", "560025", Zone.WITHIN_CITY),  # Bengaluru to Bengaluru
        ("110024", "110001", Zone.WITHIN_CITY),  # two Delhi districts: one city
        ("400050", "400601", Zone.WITHIN_CITY),  # Mumbai Suburban to Thane: Mumbai's metro area
        ("560001", "562114", Zone.WITHIN_STATE),  # Bengaluru to Hoskote (Bengaluru Rural)
        ("400050", "411001", Zone.WITHIN_STATE),  # Mumbai to Pune: two metros in one state
        ("560001", "400050", Zone.METRO),
        ("110001", "700016", Zone.METRO),  # Delhi to Kolkata
        ("500033", "600090", Zone.METRO),  # Hyderabad to Chennai
        ("560001", "641001", Zone.REST_OF_INDIA),  # Bengaluru to Coimbatore
        ("400050", "380009", Zone.METRO),  # Mumbai to Ahmedabad (spelt AHMADABAD in the directory)
        ("560001", "781001", Zone.SPECIAL),  # to Guwahati, Assam
        ("110001", "190001", Zone.SPECIAL),  # to Srinagar, Jammu and Kashmir
        ("737101", "560001", Zone.SPECIAL),  # from Gangtok, Sikkim
        ("781001", "781001", Zone.WITHIN_CITY),  # within Guwahati is a city delivery
    ],
)
def test_zone_between_known_pincodes(pickup, delivery, zone):
    assert zone_between(pickup, delivery) == zone


def test_place_names_the_state_district_and_city():
    assert place("560025") == place("560025")
    bengaluru = place("560025")
    assert (bengaluru.state, bengaluru.district, bengaluru.city, bengaluru.metro) == (
        "KARNATAKA", "BENGALURU URBAN", "Bengaluru", True)  # fmt: skip


@pytest.mark.parametrize("pincode", ["999999", "56001", "056001", "ABCDEF", "", "5600011"])
def test_malformed_or_unknown_pincodes_are_refused(pincode):
    with pytest.raises(UnknownPincode) as refused:
        zone_between(pincode, "560001")

    assert str(refused.value) == f"{pincode!r} is not a known Indian pincode."

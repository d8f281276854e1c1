"""Demo shipping for ``manage.py seed_demo``: 6 couriers with rate cards for every zone and serviceability over
251 real pincodes across India (metros, state capitals and towns, the North-East, Jammu and Kashmir, Ladakh and the
islands). Coverage differs per courier so quotes differ and some couriers are blocked for some pincodes.
"""

import io
from decimal import Decimal

from shipping.models import Courier, ServiceablePincode
from shipping.services import courier_create, serviceability_import
from shipping.zones import SPECIAL_STATES, Zone, place
from shopops.models import Merchant

#: Real pincodes, by region; they include the demo locations (562114, 400050) and the demo customers' pincodes.
_BY_REGION = """
    110001 110002 110003 110005 110006 110008 110011 110016 110017 110019 110020 110024 110025 110027 110029 110030
    110034 110044 110048 110051 110059 110062 110065 110070 110075 110085 110092 110096
    122001 122002 122018 201301 201303 201010 121001
    400001 400005 400012 400014 400016 400020 400022 400028 400049 400050 400053 400058 400063 400066 400069 400070
    400076 400080 400092 400097 400101 400601 400703 401107 421301
    411001 411004 411006 411014 411021 411028 411038 411045 411057
    440001 440010 422001 431001 416001 413001
    560001 560002 560004 560008 560011 560017 560025 560029 560034 560037 560038 560066 560076 560095 560100 560103
    562114 562125
    570001 575001 580020 590001 583101 577201 585101 581301
    600001 600004 600017 600020 600028 600040 600041 600042 600090 600096 600100 600119
    641001 641018 625001 620001 636001 627001 632001
    500001 500003 500016 500032 500033 500034 500072 500081 500084 501401 506001 505001
    520001 530001 530017 522001 515001 517501
    700001 700016 700019 700020 700029 700053 700064 700091 700107 700156 711101 713101 734001 721101
    380001 380006 380009 380015 380054 382421 390001 390007 395001 395007 360001 364001
    695001 695003 682001 682016 682024 673001 680001 686001 691001
    302001 302017 302020 313001 342001 324001 305001 334001
    226001 226010 208001 221001 282001 250001 211001 243001 273001 202001
    452001 452010 462001 462016 474001 482001
    160017 160022 141001 143001 144001 147001 134109 132001 124001 125001
    800001 800020 842001 846004 812001 834001 831001 826001
    751001 751024 753001 768001 760001 492001 495001 490001
    248001 263139 249401 171001 176215 175131 403001 403601 403802
    180001 190001 190015 182301 194101
    781001 781005 781028 786001 785001 793001 795001 797001 796001 799001 737101 791111 744101 605001
"""
PINCODES = _BY_REGION.split()

ZONES = [Zone.WITHIN_CITY, Zone.WITHIN_STATE, Zone.METRO, Zone.REST_OF_INDIA, Zone.SPECIAL]

# code, name, mode, supports COD, supports reverse, max weight (g), COD (fixed, %), fuel %,
# per zone (in ZONES order; None: no card): (first 500 g, each additional 500 g, estimated days)
COURIERS = [
    ("delhivery-surface", "Delhivery Surface", "surface", True, True, 50_000, ("30", "1.75"), "12",
     [(32, 28, 1), (38, 33, 2), (45, 40, 4), (52, 45, 5), (68, 60, 8)]),
    ("delhivery-air", "Delhivery Air", "air", True, False, 20_000, ("35", "2.00"), "15",
     [(45, 40, 1), (55, 50, 2), (65, 60, 2), (75, 68, 3), (90, 80, 4)]),
    ("bluedart-express", "Blue Dart Express", "express", True, True, 30_000, ("40", "2.00"), "14",
     [(50, 45, 1), (60, 52, 1), (72, 65, 2), (82, 74, 2), (89, 78, 3)]),
    ("ecom-express", "Ecom Express", "surface", True, True, 30_000, ("30", "1.50"), "10",
     [(30, 26, 1), (36, 30, 3), (42, 38, 4), (49, 44, 5), (65, 58, 7)]),
    ("xpressbees", "Xpressbees", "surface", True, False, 25_000, ("29", "1.60"), "11",
     [(31, 27, 1), (37, 32, 2), (44, 39, 4), (50, 45, 5), None]),
    ("shadowfax", "Shadowfax", "surface", False, True, 10_000, ("0", "0"), "10",
     [(30, 25, 1), (35, 30, 2), (44, 40, 3), (55, 48, 5), (70, 62, 8)]),
]  # fmt: skip


def _serves(code: str, index: int, pincode: str) -> str | None:
    """The CSV row of a courier's serviceability of a pincode (pickup, delivery, cod, reverse, oda), or None."""
    where = place(pincode)
    special = where.state in SPECIAL_STATES
    if code == "delhivery-surface":
        return f"{pincode},Y,Y,Y,Y,{'Y' if special else 'N'}"
    if code == "delhivery-air":
        return f"{pincode},Y,Y,Y,N,N" if where.metro or special or index % 3 == 0 else None
    if code == "bluedart-express":
        return None if index % 7 == 3 else f"{pincode},Y,Y,{'N' if index % 4 == 1 else 'Y'},Y,N"
    if code == "ecom-express":
        return None if special else f"{pincode},Y,Y,Y,Y,N"
    if code == "xpressbees":
        return None if index % 5 == 4 and pincode not in ALWAYS else f"{pincode},Y,Y,Y,N,N"
    # Shadowfax: metros and the west and south.
    return f"{pincode},{'Y' if where.metro or pincode in ALWAYS else 'N'},Y,N,Y,N" if where.metro or where.state in (
        "KARNATAKA", "MAHARASHTRA", "TAMIL NADU", "KERALA", "TELANGANA", "GUJARAT") else None  # fmt: skip


#: The demo locations' pincodes: every courier picks up there (see seed()).
ALWAYS = frozenset({"562114", "400050"})


def seed(*, merchant: Merchant, stdout) -> None:
    existing = {c.code: c for c in Courier.objects.filter(merchant=merchant)}
    created = 0
    for code, name, mode, cod, reverse, max_grams, (cod_fixed, cod_percent), fuel, slabs in COURIERS:
        courier = existing.get(code)
        if courier is None:
            cards = [
                {"zone": zone, "first_slab_grams": 500, "first_slab_price": Decimal(first),
                 "additional_slab_grams": 500, "additional_slab_price": Decimal(additional),
                 "cod_fixed": Decimal(cod_fixed), "cod_percent": Decimal(cod_percent),
                 "fuel_surcharge_percent": Decimal(fuel), "rto_charge": Decimal(first), "estimated_days": days}
                for zone, slab in zip(ZONES, slabs, strict=True) if slab for first, additional, days in [slab]
            ]  # fmt: skip
            courier = courier_create(merchant=merchant, data={"code": code, "name": name, "mode": mode,
                                     "supports_cod": cod, "supports_reverse": reverse, "max_weight_grams": max_grams},
                                     rate_cards=cards)  # fmt: skip
            created += 1
        if not ServiceablePincode.objects.filter(courier=courier).exists():
            rows = [
                row
                for index, pin in enumerate(PINCODES)
                if (row := _serves(code, index, pin) or (f"{pin},Y,Y,Y,N,N" if pin in ALWAYS else None))
            ]
            text = "pincode,pickup,delivery,cod,reverse,oda\n" + "\n".join(rows) + "\n"
            serviceability_import(courier=courier, fileobj=io.BytesIO(text.encode()))
    served = ServiceablePincode.objects.filter(merchant=merchant).count()
    stdout.write(f"Demo shipping: {len(COURIERS)} couriers ({created} new), {served} serviceable pincode rows over "
                 f"{len(PINCODES)} pincodes")  # fmt: skip

"""Couriers with rate cards and serviceable pincodes, built through the shipping services."""

import io
from datetime import time
from decimal import Decimal

from shipping.services import courier_create, serviceability_import

METRO_CARD = {
    "zone": "metro", "first_slab_grams": 500, "first_slab_price": Decimal("40.00"), "additional_slab_grams": 500,
    "additional_slab_price": Decimal("35.00"), "cod_fixed": Decimal("30.00"), "cod_percent": Decimal("2.00"),
    "fuel_surcharge_percent": Decimal("10.00"), "rto_charge": Decimal("60.00"), "estimated_days": 4,
}  # fmt: skip


def make_courier(merchant, code: str = "delhivery-surface", name: str = "Delhivery Surface", rate_cards=None,
                 pincodes=("560001", "400050"), **data):  # fmt: skip
    data = {"pickup_cutoff": time.max, **data}  # picked up today whatever the hour: ETDs are today + days
    courier = courier_create(merchant=merchant, data={"code": code, "name": name, **data},
                             rate_cards=[METRO_CARD] if rate_cards is None else rate_cards)  # fmt: skip
    if pincodes:
        serve(courier, *pincodes)
    return courier


def serve(courier, *pincodes: str, cod: str = "Y") -> None:
    lines = ["pincode,pickup,delivery,cod", *(f"{p},Y,Y,{cod}" for p in pincodes)]
    result = serviceability_import(courier=courier, fileobj=io.BytesIO("\n".join(lines).encode()))
    assert result.errors == []

"""Rate arithmetic: chargeable weight, slabs, COD, fuel surcharge and GST, all in Decimal.

- Volumetric weight (grams) = ceil(length x breadth x height (cm) x 1000 / divisor).
- Chargeable weight = the greater of actual and volumetric, rounded up to the card's slabs:
  the first slab, then whole additional slabs.
- Freight = first slab price + additional slabs x additional slab price.
- COD charge = max(fixed, percent of the declared value), only for cash on delivery.
- Fuel surcharge = percent of the freight.
- GST (18%) on freight + COD + fuel; the total includes it. Money rounds half up to the paisa.
"""

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from shipping.models import RateCard
from shopops.money import round_money

GST_PERCENT = Decimal("18")


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


@dataclass(frozen=True)
class Charges:
    chargeable_weight_grams: int
    freight_charge: Decimal
    cod_charge: Decimal
    fuel_surcharge: Decimal
    tax: Decimal
    total_charge: Decimal


def volumetric_grams(length_cm: Decimal, breadth_cm: Decimal, height_cm: Decimal, divisor: int) -> int:
    return _ceil(Decimal(length_cm) * Decimal(breadth_cm) * Decimal(height_cm) * 1000 / Decimal(divisor))


def chargeable_grams(card: RateCard, weight_grams: int, volumetric: int) -> int:
    weight = max(weight_grams, volumetric, 1)
    if weight <= card.first_slab_grams:
        return card.first_slab_grams
    extra = _ceil(Decimal(weight - card.first_slab_grams) / card.additional_slab_grams)
    return card.first_slab_grams + extra * card.additional_slab_grams


def charges(card: RateCard, *, weight_grams: int, volumetric: int, cod: bool, declared_value: Decimal) -> Charges:
    grams = chargeable_grams(card, weight_grams, volumetric)
    extra_slabs = (grams - card.first_slab_grams) // card.additional_slab_grams
    freight = round_money(card.first_slab_price + extra_slabs * card.additional_slab_price)
    cod_charge = (
        round_money(max(card.cod_fixed, Decimal(declared_value) * card.cod_percent / 100)) if cod else Decimal("0.00")
    )
    fuel = round_money(freight * card.fuel_surcharge_percent / 100)
    tax = round_money((freight + cod_charge + fuel) * GST_PERCENT / 100)
    return Charges(grams, freight, cod_charge, fuel, tax, freight + cod_charge + fuel + tax)

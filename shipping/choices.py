"""The names shipping speaks in, defined once: label and packing slip formats, and the orders couriers are sorted
in. The API, the admin, the services, the merchant's preferences and the OpenAPI schema all read these."""

from django.db import models


class LabelFormat(models.TextChoices):
    LABEL_4X6 = "4x6", "4 x 6 in label (100 x 150 mm)"
    A4_4UP = "a4-4up", "A4, 4 labels a sheet"


class PackingSlipFormat(models.TextChoices):
    A4 = "a4", "A4"
    A5 = "a5", "A5"


class CourierSort(models.TextChoices):
    """How a quote orders its couriers; ``recommended`` weighs price, speed and rating with the merchant's
    weights."""

    RECOMMENDED = "recommended", "Recommended"
    CHEAPEST = "cheapest", "Cheapest"
    FASTEST = "fastest", "Fastest"
    RATING = "rating", "Rating"


#: The courier a one-call shipment asks for when it names none: the first by the quote's sort.
RECOMMENDED_COURIER = "recommended"

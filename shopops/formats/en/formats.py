"""How the merchant dashboard writes dates and times, one way everywhere (24-hour clock, day before month, as
invoices and couriers in India write them): "4 Dec 2026", "4 Dec 2026, 14:30". Inputs keep Django's (ISO first)."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"

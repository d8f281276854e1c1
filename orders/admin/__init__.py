"""The merchant's order desk: orders, channels, customers, returns and file imports.

Every admin derives from ``MerchantScopedAdmin`` (rows, choices and filters limited to the user's merchants) and
writes only through ``orders.services``: the actions run the state machine one object at a time and report which
objects moved and which the service refused, and why. Apps downstream of orders add their order actions and inlines
through ``orders.admin.extensions``.

Time zones. A date-range filter reads its calendar days in the time zone of each order's own merchant (a user of
merchants in several zones gets one condition per zone), so a day is the merchant's day whoever looks. Times are
shown, and the date hierarchy is drawn, in the merchants' time zone when all the user's merchants share one (the
usual case), else in the project's TIME_ZONE (superusers of a multi-zone installation).
"""

from orders.admin import bulk_imports, channels, orders, payments, returns  # noqa: F401  (each registers its pages)

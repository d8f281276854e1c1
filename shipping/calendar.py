"""The pickup calendar: the day a courier collects what is booked now. Quotes count their ETD from it and pickups
are booked on it, so the two always agree."""

from datetime import date, datetime, time, timedelta

#: Couriers do not collect on Sundays (``date.weekday()``).
NO_PICKUP_WEEKDAYS = frozenset({6})


def pickup_day(now: datetime, cutoff: time) -> date:
    """Today if the courier's pickup cut-off has not passed (``now`` in the merchant's time zone), else the next
    day; a Sunday moves to Monday."""
    day = now.date() if now.time() < cutoff else now.date() + timedelta(days=1)
    while day.weekday() in NO_PICKUP_WEEKDAYS:
        day += timedelta(days=1)
    return day

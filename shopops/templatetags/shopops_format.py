"""Formats for people in the merchant dashboard: money with its currency symbol."""

from django import template

from shopops.money import format_money

register = template.Library()


@register.filter
def money(amount, currency: str = "INR") -> str:
    """``{{ order.total|money:order.currency }}`` -> ``₹2,525.50``."""
    return format_money(amount, currency)

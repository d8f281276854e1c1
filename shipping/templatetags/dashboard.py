"""``{% merchant_dashboard %}``: the merchant's dashboard on the admin's home page (templates/admin/index.html).

The merchant is the one picked with ``?merchant=<id>`` among those the user may see (a member's merchants; every
merchant for a superuser), else the first of them by name; the charts' period is ``?period=30|90``.
"""

from django import template

from shipping.dashboard import PERIODS, dashboard
from shopops.admin import member_roles
from shopops.models import Merchant

register = template.Library()


def visible_merchants(request) -> list[Merchant]:
    merchants = Merchant.objects.order_by("name", "pk")
    if not request.user.is_superuser:
        merchants = merchants.filter(pk__in=list(member_roles(request)))
    return list(merchants.only("pk", "name", "time_zone", "default_currency"))


@register.inclusion_tag("admin/shipping/dashboard.html", takes_context=True)
def merchant_dashboard(context):
    request = context["request"]
    merchants = visible_merchants(request)
    chosen = request.GET.get("merchant", "")
    merchant = next((m for m in merchants if str(m.pk) == chosen), merchants[0] if merchants else None)
    try:
        period = int(request.GET.get("period", PERIODS[0]))
    except ValueError:
        period = PERIODS[0]
    return {
        "merchants": merchants,
        "board": dashboard(merchant, period=period) if merchant else None,
        "periods": PERIODS,
    }

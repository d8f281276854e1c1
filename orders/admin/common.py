"""What the order desk's pages share, with each other and with the apps that extend the desk: the acting user, the
time zone times are shown in, date-range filters read in each merchant's own time zone, refusals as short phrases."""

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR
from django.db.models import Q
from django.template.response import SimpleTemplateResponse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.formats import date_format

from shopops.admin import ReadOnlyInline, actor_names, member_roles, refusal_reason
from shopops.changelist import CURSOR_VAR
from shopops.errors import DomainError
from shopops.models import Merchant


def actor_of(request) -> str:
    return f"user:{request.user.pk}"


# -- time zones ----------------------------------------------------------------------------------


def visible_time_zones(request) -> list[str]:
    """The distinct time zones of the merchants whose rows the user sees (one query, cached on the request)."""
    if not hasattr(request, "_orders_time_zones"):
        merchants = Merchant.objects.all()
        if not request.user.is_superuser:
            merchants = merchants.filter(pk__in=list(member_roles(request)))
        zones = merchants.order_by("time_zone").values_list("time_zone", flat=True).distinct()
        request._orders_time_zones = list(zones)
    return request._orders_time_zones


def display_time_zone(request):
    """The merchants' time zone if all the user's merchants share one, else the project's TIME_ZONE."""
    zones = visible_time_zones(request)
    return ZoneInfo(zones[0]) if len(zones) == 1 else timezone.get_default_timezone()


def rendered_in_time_zone(request, view: Callable[[], object]):
    """Run ``view`` and render its template response with the display time zone active.

    A TemplateResponse renders after the view returns, so it is rendered here, inside the override.
    """
    with timezone.override(display_time_zone(request)):
        response = view()
        if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
            response.render()
    return response


class DateRangeFilter(admin.ListFilter):
    """From/to calendar days (inclusive) on a timestamp, plus quick choices.

    Query string: ``<parameter_name>_after`` and ``<parameter_name>_before`` (YYYY-MM-DD, either may be left out),
    or ``<parameter_name>=today|last_7_days|this_month``. Days are read in the time zone of each order's merchant:
    with merchants in several zones the filter is one (merchant zone AND range) condition per zone.
    "Last 7 days" is today and the six days before it; "this month" is the whole calendar month.
    """

    field_name: str = ""
    parameter_name: str = ""
    template = "admin/orders/date_range_filter.html"
    presets = {"today": "Today", "last_7_days": "Last 7 days", "this_month": "This month"}

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.after_param = f"{self.parameter_name}_after"
        self.before_param = f"{self.parameter_name}_before"
        for name in self.expected_parameters():
            if name in params:
                value = params.pop(name)[-1].strip()
                if value:
                    self.used_parameters[name] = value
        self.preset = self.used_parameters.get(self.parameter_name)
        if self.preset is not None and self.preset not in self.presets:
            raise IncorrectLookupParameters(f"Unknown {self.title} choice {self.preset!r}.")
        self.after = self._date(self.after_param)
        self.before = self._date(self.before_param)
        # The other parameters of the changelist, carried through the from/to form (a new range starts on page 1).
        mine = {*self.expected_parameters(), PAGE_VAR, ERROR_FLAG, CURSOR_VAR}
        self.hidden_params = [(k, v) for k, values in request.GET.lists() if k not in mine for v in values]

    def _date(self, name: str) -> date | None:
        value = self.used_parameters.get(name)
        if value is None:
            return None
        try:
            parsed = parse_date(value)
        except ValueError:
            parsed = None
        if parsed is None:
            raise IncorrectLookupParameters(f"{self.title}: {value!r} is not a date (YYYY-MM-DD).")
        return parsed

    @property
    def after_value(self) -> str:
        return self.after.isoformat() if self.after else ""

    @property
    def before_value(self) -> str:
        return self.before.isoformat() if self.before else ""

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return [self.parameter_name, f"{self.parameter_name}_after", f"{self.parameter_name}_before"]

    @classmethod
    def in_use(cls, request) -> bool:
        name = cls.parameter_name
        return any(request.GET.get(param) for param in (name, f"{name}_after", f"{name}_before"))

    def choices(self, changelist):
        yield {
            "selected": not self.used_parameters,
            "query_string": changelist.get_query_string(remove=self.expected_parameters()),
            "display": "Any date",
        }
        for value, label in self.presets.items():
            yield {
                "selected": self.preset == value,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: value}, remove=[self.after_param, self.before_param]
                ),
                "display": label,
            }

    def days(self, tz) -> tuple[date | None, date | None]:
        """The first and last calendar day selected, read in ``tz`` (quick choices depend on the zone's today)."""
        if self.preset is None:
            return self.after, self.before
        today = timezone.localdate(timezone=tz)
        if self.preset == "today":
            return today, today
        if self.preset == "last_7_days":
            return today - timedelta(days=6), today
        first = today.replace(day=1)
        return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)

    def condition(self, tz) -> Q:
        first, last = self.days(tz)
        query = Q()
        if first is not None:
            query &= Q(**{f"{self.field_name}__gte": datetime.combine(first, time.min, tzinfo=tz)})
        if last is not None:
            query &= Q(**{f"{self.field_name}__lt": datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)})
        return query

    def queryset(self, request, queryset):
        if not self.used_parameters:
            return queryset
        zones = visible_time_zones(request) or [timezone.get_default_timezone_name()]
        if len(zones) == 1:
            return queryset.filter(self.condition(ZoneInfo(zones[0])))
        per_zone = Q()
        for zone in zones:
            per_zone |= Q(merchant__time_zone=zone) & self.condition(ZoneInfo(zone))
        return queryset.filter(per_zone)


def unquoted(term: str) -> str:
    """A search term without the spaces around it and one pair of quotes ("SO-1" or 'SO-1')."""
    term = term.strip()
    if len(term) > 1 and term[0] == term[-1] and term[0] in "\"'":
        term = term[1:-1].strip()
    return term


def date_filter_ordering(request, filters: list[type[DateRangeFilter]]) -> list[str] | None:
    """Newest first by the date of the first of ``filters`` the request uses (None if it uses none): a list
    filtered by a date is read in that date's order, and the index that serves the filter serves the page."""
    for date_filter in filters:
        if date_filter.in_use(request):
            return [f"-{date_filter.field_name}", "-id"]
    return None


class OrderDateFilter(DateRangeFilter):
    title = "order date"
    field_name = "ordered_at"
    parameter_name = "order_date"


class PackDateFilter(DateRangeFilter):
    title = "pack date"
    field_name = "packed_at"
    parameter_name = "pack_date"


class ShipDateFilter(DateRangeFilter):
    title = "ship date"
    field_name = "shipped_at"
    parameter_name = "ship_date"


# -- several values at once ---------------------------------------------------------------------


class MultiStatusFilter(admin.ListFilter):
    """Statuses, several at once: ``?status__in=confirmed,packed``. Each choice adds its status to the selection or
    takes it out; "All" clears it. ``choices_of`` gives the model's status choices."""

    title = "status"
    field_name = "status"
    choices_of: list[tuple[str, str]] = []

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.parameter_name = f"{self.field_name}__in"
        known = {value for value, _ in self.choices_of}
        self.selected: list[str] = []
        if self.parameter_name in params:
            raw = params.pop(self.parameter_name)[-1]
            self.selected = [value for value in dict.fromkeys(raw.split(",")) if value]
            unknown = [value for value in self.selected if value not in known]
            if unknown:
                raise IncorrectLookupParameters(f"Unknown {self.title} {', '.join(map(repr, unknown))}.")
            self.used_parameters[self.parameter_name] = ",".join(self.selected)

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return [self.parameter_name]

    def choices(self, changelist):
        yield {
            "selected": not self.selected,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "All",
        }
        for value, label in self.choices_of:
            chosen = value in self.selected
            after = [v for v in self.selected if v != value] if chosen else [*self.selected, value]
            query = (changelist.get_query_string({self.parameter_name: ",".join(after)}) if after
                     else changelist.get_query_string(remove=[self.parameter_name]))  # fmt: skip
            yield {"selected": chosen, "query_string": query, "display": label}

    def queryset(self, request, queryset):
        return queryset.filter(**{self.parameter_name: self.selected}) if self.selected else queryset


class YesNoFilter(admin.SimpleListFilter):
    """Whether a condition holds: ``?<parameter_name>=yes|no``; ``condition`` is the Q of "yes"."""

    condition: Q = Q()
    yes_label = "Yes"
    no_label = "No"

    def lookups(self, request, model_admin):
        return [("yes", self.yes_label), ("no", self.no_label)]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(self.condition)
        if self.value() == "no":
            return queryset.exclude(self.condition)
        return queryset


class TimelineInline(ReadOnlyInline):
    """An object's events (its ``events``) in words: when (the time zone the page is shown in), what happened with
    the statuses by their labels, who did it by name (``names_for``: one query for the page), the note."""

    verbose_name = "event"
    fields = ["when", "what", "who", "message"]
    readonly_fields = fields
    #: status value -> label, for "what".
    status_labels: dict[str, str] = {}

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("id")

    def names_for(self, obj, actors: list[str]) -> dict[str, str]:
        return actor_names(actors)

    def get_formset(self, request, obj=None, **kwargs):
        # the actors' names for this page (the inline is made anew for each request)
        actors = list(obj.events.values_list("actor", flat=True).distinct()) if obj is not None else []
        self.names = self.names_for(obj, actors)
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description="when")
    def when(self, event) -> str:
        return date_format(timezone.localtime(event.created_at), "DATETIME_FORMAT")

    @admin.display(description="what")
    def what(self, event) -> str:
        return event_phrase(event.get_kind_display(), event.from_status, event.to_status, self.status_labels)

    @admin.display(description="by")
    def who(self, event) -> str:
        return getattr(self, "names", {}).get(event.actor) or actor_names([event.actor])[event.actor]


def event_phrase(kind_label: str, from_status: str, to_status: str, labels: dict[str, str]) -> str:
    """An event as people read it: "Status changed: New → Confirmed", "Created: New", "Address changed"."""
    if from_status and to_status:
        return f"{kind_label}: {labels.get(from_status, from_status)} → {labels.get(to_status, to_status)}"
    if to_status:
        return f"{kind_label}: {labels.get(to_status, to_status)}"
    return kind_label


# -- services behind forms and actions ---------------------------------------------------------


def status_refusal(status_labels: dict[str, str]) -> Callable[[Exception], str]:
    """A refusal as a short phrase for an action's message: "is packed", "insufficient stock for TEE-RED-M"."""

    def reason(exc: Exception) -> str:
        if isinstance(exc, DomainError):
            details = exc.details
            if exc.code == "transition_not_allowed":
                return f"is {status_labels.get(details['status'], details['status']).lower()}"
            if exc.code == "insufficient_stock":
                return "insufficient stock for " + ", ".join(str(line["sku"]) for line in details.get("lines", []))
            if exc.code == "unmapped_lines":
                return "unmapped SKUs: " + ", ".join(details.get("skus", []))
        return refusal_reason(exc)

    return reason

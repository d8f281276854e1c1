"""Lists that stay fast at millions of rows: pages by keyset, counts bounded in time and size.

Django's changelist counts every matching row (``COUNT(*)``) and reaches page N by ``OFFSET``: at a million orders
that is seconds per page. ``KeysetListMixin`` gives a ModelAdmin a changelist that

- pages by keyset (``?cursor=``, "Next" and "Previous" links; page 5,000 costs what page 1 costs, and rows added
  meanwhile neither repeat nor go missing),
- counts up to ``COUNT_CAP`` rows exactly, within ``COUNT_TIMEOUT_MS`` (``shopops.counting``); past either it
  shows PostgreSQL's estimate from the query plan, labelled as one ("about 1,000,000 orders (estimated)"), or
  "more than 10,000 orders",
- never computes facet counts (the dashboard's cached numbers and the working tabs stand in for them).

Sorting by a column must be served by an index: an admin lists those columns in ``sortable_by``.
"""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ORDER_VAR, ChangeList

from shopops.counting import COUNT_CAP, bounded_count
from shopops.keyset import InvalidCursor, Keyset, deterministic

CURSOR_VAR = "cursor"


class KeysetChangeList(ChangeList):
    """A changelist paged by keyset and counted by ``bounded_count`` (see the module's docstring)."""

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(CURSOR_VAR, None)
        return lookup_params

    def get_queryset(self, request, exclude_parameters=None):
        # The cursor belongs to this page only: links to other filters, orderings and searches start afresh.
        self.cursor = self.params.pop(CURSOR_VAR, None) or getattr(self, "cursor", None)
        self.filter_params.pop(CURSOR_VAR, None)
        return super().get_queryset(request, exclude_parameters)

    def get_ordering(self, request, queryset):
        # Django obeys ``?o=`` for any column; here only for those in ``sortable_by`` (served by an index), so a
        # hand-typed sort by another column cannot read a million rows. The others are dropped from the link too.
        if self.params.get(ORDER_VAR) and self.sortable_by is not None:
            kept = [part for part in self.params[ORDER_VAR].split(".") if self._sortable(part)]
            if kept:
                self.params[ORDER_VAR] = ".".join(kept)
                self.filter_params[ORDER_VAR] = [self.params[ORDER_VAR]]
            else:
                del self.params[ORDER_VAR]
                self.filter_params.pop(ORDER_VAR, None)
        return super().get_ordering(request, queryset)

    def _sortable(self, part: str) -> bool:
        try:
            return self.list_display[int(part.rpartition("-")[2])] in self.sortable_by
        except (IndexError, ValueError):
            return False

    def get_results(self, request):
        ordering = [o for o in self.queryset.query.order_by if isinstance(o, str)]
        if len(ordering) != len(self.queryset.query.order_by) or not ordering:
            ordering = list(self.model_admin.get_ordering(request) or self._get_default_ordering())
        self.keyset = Keyset(self.model, deterministic(ordering))
        try:
            position = self.keyset.decode(self.cursor) if self.cursor else None
        except InvalidCursor as exc:
            raise IncorrectLookupParameters(str(exc)) from exc
        page = self.keyset.page(self.queryset, self.list_per_page, position)
        self.count = bounded_count(self.queryset, cap=self.model_admin.count_cap)
        self.result_list = page.rows
        self.result_count = self.count.number
        self.full_result_count = None
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.can_show_all = False
        self.show_all = False
        self.multi_page = page.has_next or page.has_previous
        self.next_url = self.get_query_string({CURSOR_VAR: self.keyset.cursor(page.rows[-1])}) if page.has_next else ""
        self.previous_url = (
            self.get_query_string({CURSOR_VAR: self.keyset.cursor(page.rows[0], reverse=True)})
            if page.has_previous and page.rows else ""
        )  # fmt: skip
        self.first_url = self.get_query_string() if self.cursor else ""
        self.count_label = self.count.label(str(self.opts.verbose_name), str(self.opts.verbose_name_plural))
        self.paginator = None  # no page numbers: the keyset template shows First, Previous and Next

    def get_query_string(self, new_params=None, remove=None):
        remove = list(remove or [])
        if not (new_params and CURSOR_VAR in new_params):
            remove.append(CURSOR_VAR)
        return super().get_query_string(new_params, remove)


class KeysetListMixin:
    """For a ModelAdmin whose list may hold millions of rows: keyset pages, bounded counts, no facet counts.

    A model's own ``admin/<app>/<model>/change_list.html`` must extend ``admin/shopops/keyset_change_list.html``,
    which is used when the model has none."""

    #: Rows counted exactly before the list says "about N (estimated)" or "more than N".
    count_cap = COUNT_CAP
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False
    list_per_page = 100

    @property
    def change_list_template(self) -> list[str]:
        return [f"admin/{self.opts.app_label}/{self.opts.model_name}/change_list.html",
                "admin/shopops/keyset_change_list.html"]  # fmt: skip

    def get_changelist(self, request, **kwargs):
        return KeysetChangeList

"""File imports of orders: the upload page, each job's progress and its row errors."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from orders.admin.common import actor_of, rendered_in_time_zone
from orders.imports.jobs import import_submit
from orders.imports.parse import TEMPLATES, import_file_problem
from orders.models import BulkImport, ErrorPolicy, ImportKind, ImportPreset, ImportRowError, ImportStatus
from orders.selectors import import_error_rows
from shopops.admin import MerchantScopedAdmin, ReadOnlyAdmin, ReadOnlyInline, actor_display
from shopops.changelist import KeysetListMixin
from shopops.csvexport import stream_csv
from shopops.models import Merchant

# -- file imports ----------------------------------------------------------------------------------


#: Row errors shown on a job's page; the error report has them all.
IMPORT_ERRORS_SHOWN = 200


class FirstRowsFormSet(BaseInlineFormSet):
    """The inline's first IMPORT_ERRORS_SHOWN rows (an inline queryset cannot be sliced before the formset
    filters it by the parent)."""

    def get_queryset(self):
        if not hasattr(self, "_first_rows"):
            self._first_rows = super().get_queryset()[:IMPORT_ERRORS_SHOWN]
        return self._first_rows


class ImportRowErrorInline(ReadOnlyInline):
    model = ImportRowError
    formset = FirstRowsFormSet
    verbose_name = "row error"
    verbose_name_plural = (
        f'row errors (the first {IMPORT_ERRORS_SHOWN}; "row errors" above pages through them all, the error '
        "report has them as CSV)"
    )
    fields = ["row", "column", "value", "message"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("row", "id")


#: The row-error list's filter: one import's errors (``?job__id__exact=<import id>``).
IMPORT_PARAM = "job__id__exact"


@admin.register(ImportRowError)
class ImportRowErrorAdmin(KeysetListMixin, ReadOnlyAdmin):
    """Every row error of an import, paged by keyset over the (import, row) index: an import of a million rows
    may have a million errors. Reached from an import's "Row errors" link; unfiltered it lists the newest imports'
    errors first."""

    merchant_field = "job__merchant"
    list_display = ["row", "column", "value", "message", "import_link"]
    list_display_links = None
    list_select_related = ["job"]
    ordering = ["-job", "row", "id"]
    sortable_by = []

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == IMPORT_PARAM or super().lookup_allowed(lookup, value, request)

    def get_list_filter(self, request):
        return []  # the merchant is the import's; the import is chosen from its page

    def _merchant_id(self, obj) -> int | None:
        return obj.job.merchant_id

    @admin.display(description="import")
    def import_link(self, error: ImportRowError):
        url = reverse("admin:orders_bulkimport_change", args=[error.job_id])
        return format_html('<a href="{}">{}</a>', url, error.job)

    def changelist_view(self, request, extra_context=None):
        return rendered_in_time_zone(request, lambda: super(ImportRowErrorAdmin, self).changelist_view(
            request, extra_context))  # fmt: skip


class ImportUploadForm(forms.Form):
    merchant = forms.ModelChoiceField(queryset=Merchant.objects.none())
    kind = forms.ChoiceField(choices=ImportKind.choices, help_text="What the file holds.")
    file = forms.FileField(help_text="CSV (UTF-8) or XLSX (the first sheet); the first line names the columns.")
    dry_run = forms.BooleanField(required=False, help_text="Check every row and write nothing.")
    error_policy = forms.ChoiceField(choices=ErrorPolicy.choices, initial=ErrorPolicy.REJECT_FILE,
                                     widget=forms.RadioSelect)  # fmt: skip
    preset = forms.ChoiceField(
        choices=[("", "Detect from the header"), *ImportPreset.choices], required=False,
        help_text="Orders: the file's layout. ShopOps's columns (the orders export), or the order export of "
        "Shopify, WooCommerce, Amazon (tab-separated report) or OpenCart.",
    )  # fmt: skip
    create_channels = forms.BooleanField(
        required=False, help_text="Create the channels the file names that are missing, instead of refusing their "
        "rows as an unknown channel.",
    )  # fmt: skip

    def clean(self):
        data = super().clean()
        if data.get("preset") not in (None, "", ImportPreset.SHOPOPS) and data.get("kind") != ImportKind.ORDERS:
            self.add_error("preset", "A channel's preset reads orders files only.")
        return data

    def __init__(self, *args, merchants, **kwargs):
        super().__init__(*args, **kwargs)
        choices = list(merchants[:2])
        if len(choices) == 1:  # the usual case: the user's one merchant, not asked
            del self.fields["merchant"]
            self.merchant = choices[0]
        else:
            self.fields["merchant"].queryset = merchants
            self.merchant = None

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.API_MAX_UPLOAD_BYTES:
            raise ValidationError(f"The file is larger than the limit of {settings.API_MAX_UPLOAD_BYTES:,} bytes.")
        problem = import_file_problem(upload)
        if problem:
            raise ValidationError(problem)
        return upload


#: How an upload's outcome is shown: a failure never as a success.
IMPORT_OUTCOME_LEVELS = {ImportStatus.DONE: messages.SUCCESS, ImportStatus.PARTIALLY_FAILED: messages.WARNING,
                         ImportStatus.FAILED: messages.ERROR}  # fmt: skip
IMPORT_OUTCOME_HINTS = {ImportStatus.PARTIALLY_FAILED: ": some rows were refused, listed on its page",
                        ImportStatus.FAILED: ": nothing was imported, the reasons are on its page"}  # fmt: skip


@admin.register(BulkImport)
class BulkImportAdmin(MerchantScopedAdmin):
    """File imports. "Upload file" (the add page) stores the file and queues the job; a job is never edited or
    deleted here. Its page shows progress and the first row errors; the error report (CSV) has them all."""

    list_display = ["id", "created_at", "kind", "status", "file_name", "progress", "created_count", "updated_count",
                    "skipped_count", "failed_count", "created_by_name", "finished_at", "error_report"]  # fmt: skip
    list_display_links = ["id", "file_name"]
    list_filter = ["kind", "status", "dry_run"]
    search_fields = ["file_name"]
    show_full_result_count = False
    inlines = [ImportRowErrorInline]
    fields = ["merchant", "kind", "status", "file_name", "dry_run", "error_policy", "preset", "create_channels",
              "created_channels", "progress", "created_count", "updated_count", "skipped_count", "failed_count",
              "error", "error_report", "created_by_name", "created_at", "started_at", "finished_at"]  # fmt: skip
    readonly_fields = fields
    created_by_name = actor_display("created_by", "created by")

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        return [*shown[:2], "merchant", *shown[2:]] if request.user.is_superuser else shown

    def get_list_select_related(self, request):
        return ["merchant"] if request.user.is_superuser else False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a job is the record of what its worker did

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="progress")
    def progress(self, job: BulkImport) -> str:
        return f"{job.processed_rows:,}/{job.total_rows:,}"

    @admin.display(description="error report")
    def error_report(self, job: BulkImport):
        if not job.failed_count:
            return "-"
        url = reverse("admin:orders_bulkimport_errors", args=[job.pk])
        rows = reverse("admin:orders_importrowerror_changelist") + f"?{IMPORT_PARAM}={job.pk}"
        return format_html('<a href="{}">Row errors</a> · <a href="{}">Download CSV ({} row{})</a>', rows, url,
                           job.failed_count, "" if job.failed_count == 1 else "s")  # fmt: skip

    # -- URLs: the error report and the templates ------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/errors/", view(self.errors_view), name="orders_bulkimport_errors"),
            path("templates/<str:kind>/", view(self.template_view), name="orders_bulkimport_template"),
            *super().get_urls(),
        ]

    def errors_view(self, request, object_id: int):
        job = self.get_queryset(request).filter(pk=object_id).first()
        if job is None:
            raise Http404("No such import.")
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return stream_csv(import_error_rows(job), f"import-{job.pk}-errors.csv")

    def template_view(self, request, kind: str):
        if not self.has_view_permission(request):
            raise PermissionDenied
        if kind not in TEMPLATES:
            raise Http404("No such import kind.")
        columns, examples = TEMPLATES[kind]
        return stream_csv([columns, *examples], f"{kind}-import-template.csv")

    def template_links(self) -> list[tuple[str, str]]:
        return [(label, reverse("admin:orders_bulkimport_template", args=[kind])) for kind, label in ImportKind.choices]

    # -- the upload page (in place of the add form) ----------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None,
                                merchants=self.writable_merchants(request))  # fmt: skip
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            upload = data["file"]
            with transaction.atomic():
                job = import_submit(merchant=form.merchant or data["merchant"], kind=data["kind"], upload=upload,
                                    file_name=upload.name, dry_run=data["dry_run"],
                                    error_policy=data["error_policy"], preset=data["preset"],
                                    create_channels=data["create_channels"], actor=actor_of(request))  # fmt: skip
            job.refresh_from_db()  # without a broker the job has run by now
            self.message_user(request, f"Uploaded {job.file_name}: import {job.pk} is {job.get_status_display()}"
                              f"{IMPORT_OUTCOME_HINTS.get(job.status, '')}.",
                              IMPORT_OUTCOME_LEVELS.get(job.status, messages.INFO))  # fmt: skip
            return HttpResponseRedirect(reverse("admin:orders_bulkimport_change", args=[job.pk]))
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload a file to import",
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
            "template_links": self.template_links(),
            "has_view_permission": self.has_view_permission(request),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/orders/bulkimport/upload.html", context)

    # -- views in the merchant's time zone ------------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        extra_context = {"template_links": self.template_links(), **(extra_context or {})}
        return rendered_in_time_zone(
            request, lambda: super(BulkImportAdmin, self).changelist_view(request, extra_context)
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return rendered_in_time_zone(
            request, lambda: super(BulkImportAdmin, self).changeform_view(request, object_id, form_url, extra_context)
        )

"""Printed documents: the print actions (labels, invoices, packing slips, manifests), the documents inline of
shipments and orders, and the document pages with their PDF download."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from orders.admin.common import actor_of
from shipping.admin.common import shipment_refusal
from shipping.models import Document, DocumentKind, DocumentStatus, Shipment, ShipmentStatus
from shipping.services.documents import DOCUMENT_MAX_ITEMS, document_request
from shopops.admin import MerchantScopedAdmin, ReadOnlyAdmin, ReadOnlyInline
from shopops.errors import DomainError


def document_link(document: Document):
    if document.status == DocumentStatus.DONE:
        url = reverse("admin:shipping_document_download", args=[document.pk])
        label = (
            f"{document.get_kind_display()} PDF ({document.page_count} page{'' if document.page_count == 1 else 's'})"
        )
    else:
        url = reverse("admin:shipping_document_change", args=[document.pk])
        label = f"{document.get_kind_display()}: {document.get_status_display().lower()}"
        if document.error:
            label += f" ({document.error})"
    return format_html('<a href="{}">{}</a>', url, label)


def request_documents(model_admin, request, objects: list, kind: str, format: str | None = None) -> None:
    """One document per merchant among ``objects`` (shipments, orders or a manifest), with a link to each."""
    by_merchant: dict[int, list] = {}
    for obj in objects:
        by_merchant.setdefault(obj.merchant_id, []).append(obj)
    for items in by_merchant.values():
        if not all(MerchantScopedAdmin.has_change_permission(model_admin, request, obj) for obj in items):
            model_admin.message_user(request, "Your role only reads these; nothing was printed.", messages.ERROR)
            continue
        try:
            document = document_request(merchant=items[0].merchant, kind=kind, ids=[obj.pk for obj in items],
                                        format=format, actor=actor_of(request))  # fmt: skip
        except (DomainError, ValidationError) as exc:
            model_admin.message_user(request, f"Nothing printed: {shipment_refusal(exc)}.", messages.ERROR)
            continue
        document.refresh_from_db()
        left_out = "; ".join(f"{item['id']}: {item['reason']}" for item in document.not_created[:20])
        message = format_html("{} for {} item{}: {}{}", document.get_kind_display(), len(items),
                              "" if len(items) == 1 else "s", document_link(document),
                              f". Left out: {left_out}" if left_out else "")  # fmt: skip
        level = (
            messages.WARNING if document.not_created or document.status == DocumentStatus.FAILED else messages.SUCCESS
        )
        model_admin.message_user(request, message, level)


def print_action(kind: str, description: str, format: str | None = None, through: str | None = None):
    def action(model_admin, request, queryset):
        objects = list(queryset.select_related("merchant").order_by("pk"))
        if through == "shipments":  # labels of orders: their live shipments
            objects = list(Shipment.objects.filter(order__in=objects).exclude(status=ShipmentStatus.CANCELLED)
                           .select_related("merchant").order_by("order_id"))  # fmt: skip
            if not objects:
                model_admin.message_user(request, "None of the selected orders has a shipment.", messages.ERROR)
                return
        if len(objects) > DOCUMENT_MAX_ITEMS:
            model_admin.message_user(request, f"Select at most {DOCUMENT_MAX_ITEMS} at a time.", messages.ERROR)
            return
        request_documents(model_admin, request, objects, kind, format)

    action.__name__ = f"print_{kind}_{(format or 'default').replace('-', '_')}_{through or 'direct'}"
    return admin.action(description=description, permissions=["change"])(action)


@admin.action(description="Print manifests", permissions=["print"])
def print_manifests_selected(modeladmin, request, queryset):
    for manifest in queryset.select_related("merchant").order_by("pk"):
        request_documents(modeladmin, request, [manifest], DocumentKind.MANIFEST)


class _DocumentInline(ReadOnlyInline):
    """The documents printed for the shipment or order."""

    fields = ["document_link", "status", "created"]
    readonly_fields = fields
    extra = 0
    verbose_name = "document"
    verbose_name_plural = "documents"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("document").order_by("-document_id")

    @admin.display(description="document")
    def document_link(self, row):
        return document_link(row.document)

    @admin.display(description="status")
    def status(self, row) -> str:
        return row.document.get_status_display()

    @admin.display(description="created")
    def created(self, row):
        return row.document.created_at


class ShipmentDocumentInline(_DocumentInline):
    model = Document.shipments.through


class OrderDocumentInline(_DocumentInline):
    model = Document.orders.through


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    """PDFs made by the print actions and the API; the file is served only here, to the merchant's users."""

    list_display = ["id", "kind", "format", "status", "page_count", "requested_by", "created_at", "finished_at",
                    "download"]  # fmt: skip
    list_filter = ["kind", "status"]
    fields = ["kind", "format", "status", "page_count", "not_created", "error", "manifest", "requested_by",
              "created_at", "started_at", "finished_at", "download"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="PDF")
    def download(self, document: Document):
        return document_link(document) if document.status == DocumentStatus.DONE else "-"

    def get_urls(self):
        view = self.admin_site.admin_view(self.download_view)
        return [path("<int:object_id>/download/", view, name="shipping_document_download"), *super().get_urls()]

    def download_view(self, request, object_id: int):
        document = self.get_queryset(request).filter(pk=object_id).first()
        if document is None or not self.has_view_permission(request, document):
            raise Http404
        if document.status != DocumentStatus.DONE:
            return HttpResponseRedirect(reverse("admin:shipping_document_change", args=[document.pk]))
        return FileResponse(document.file.open("rb"), content_type="application/pdf",
                            filename=f"{document.kind}-{document.pk}.pdf")  # fmt: skip

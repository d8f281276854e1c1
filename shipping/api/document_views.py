"""The documents API: labels, tax invoices, manifests and packing slips rendered as PDF by a worker.

A request answers 202 with the job; poll ``GET /documents/{id}/`` until ``status`` is ``done``, then fetch
``download_url``. Labels and manifests need the ``shipping`` scopes, invoices, packing slips and credit notes the
``orders`` scopes, for asking and for reading alike.
"""

from django.db.models import Prefetch
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from orders.models import Order
from shipping.api import examples as ex
from shipping.choices import LabelFormat, PackingSlipFormat
from shipping.models import CreditNote, Document, DocumentKind, DocumentStatus, Shipment
from shipping.services.documents import DOCUMENT_MAX_ITEMS, document_request
from shipping.services.manifests import manifest_create
from shopops.api.base import MerchantScopedGenericViewSet
from shopops.api.exceptions import Conflict
from shopops.api.schema import ApiErrorOutput
from shopops.api.scopes import ByField
from shopops.api.serializers import StrictInputMixin, validated_input

MAX_ID = 2**63 - 1  # the largest id a 64-bit key holds

MAX_ITEMS = DOCUMENT_MAX_ITEMS
#: The scope family of each kind of document.
KIND_SCOPE = {DocumentKind.LABEL: "shipping", DocumentKind.MANIFEST: "shipping", DocumentKind.INVOICE: "orders",
              DocumentKind.PACKING_SLIP: "orders", DocumentKind.CREDIT_NOTE: "orders"}  # fmt: skip
#: Reading a document needs the read scope of its kind's family.
READ_SCOPES_BY_KIND = ByField("kind", {kind: [f"{family}:read"] for kind, family in KIND_SCOPE.items()})


def _ids(noun: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), allow_empty=False,
                                 max_length=MAX_ITEMS, help_text=f"Up to {MAX_ITEMS} {noun} ids.")  # fmt: skip


class LabelsInput(StrictInputMixin, serializers.Serializer):
    shipment_ids = _ids("shipment")
    format = serializers.ChoiceField(
        choices=LabelFormat.values,
        default=LabelFormat.LABEL_4X6,
        help_text="4x6: one 100 x 150 mm label a page; a4-4up: four to A4.",
    )


class InvoicesInput(StrictInputMixin, serializers.Serializer):
    order_ids = _ids("order")


class CreditNotesInput(StrictInputMixin, serializers.Serializer):
    credit_note_ids = _ids("credit note")


class PackingSlipsInput(StrictInputMixin, serializers.Serializer):
    order_ids = _ids("order")
    format = serializers.ChoiceField(choices=PackingSlipFormat.values, default=PackingSlipFormat.A4)


class ManifestsInput(StrictInputMixin, serializers.Serializer):
    manifest_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="An existing manifest."
    )
    shipment_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_empty=False,
        max_length=MAX_ITEMS,
        required=False,
        help_text="Shipments to put on a new manifest first.",
    )

    def validate(self, attrs):
        if ("manifest_id" in attrs) == ("shipment_ids" in attrs):
            raise serializers.ValidationError({"manifest_id": ["Give either manifest_id or shipment_ids."]})
        return attrs


class NotCreatedOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.CharField()


class DocumentOutput(serializers.ModelSerializer):
    not_created = NotCreatedOutput(many=True)
    shipment_ids = serializers.SerializerMethodField()
    order_ids = serializers.SerializerMethodField()
    credit_note_ids = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = ["id", "kind", "format", "status", "page_count", "not_created", "error", "manifest", "shipment_ids",
                  "order_ids", "credit_note_ids", "download_url", "created_at", "started_at",
                  "finished_at"]  # fmt: skip

    def get_shipment_ids(self, document: Document) -> list[int]:
        return sorted(s.pk for s in document.shipments.all())

    def get_order_ids(self, document: Document) -> list[int]:
        return sorted(o.pk for o in document.orders.all())

    def get_credit_note_ids(self, document: Document) -> list[int]:
        return sorted(c.pk for c in document.credit_notes.all())

    def get_download_url(self, document: Document) -> str | None:
        if document.status != DocumentStatus.DONE:
            return None
        url = reverse("document-download", kwargs={"pk": document.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


ERRORS = {
    400: OpenApiResponse(ApiErrorOutput, description="`invalid`: no ids, more than 500, an unknown format. For "
                                                     "invoices, `missing_merchant_setting`: the merchant has no "
                                                     "GSTIN or address (`details.setting` names the field)."),
    404: OpenApiResponse(ApiErrorOutput, description="Any id is not the merchant's: nothing is queued."),
}  # fmt: skip


MANIFEST_CONFLICT = OpenApiResponse(
    ApiErrorOutput, description="`shipments_not_ready`, `already_manifested`: the shipments cannot go on a manifest."
)


class DocumentViewSet(mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """PDF jobs. The same request on unchanged data returns the same document (a reprint is not rendered again)."""

    serializer_class = DocumentOutput
    #: Asking for a document needs the write scope of its kind's family; reading one, the read scope of the
    #: document's kind (checked on the document fetched; one the merchant does not have needs shipping:read, then
    #: answers 404).
    scope_object = "shipping"
    action_scopes = {"labels": ["shipping:write"], "manifests": ["shipping:write"], "invoices": ["orders:write"],
                     "packing_slips": ["orders:write"], "credit_notes": ["orders:write"]}  # fmt: skip
    object_scopes = {"retrieve": READ_SCOPES_BY_KIND, "download": READ_SCOPES_BY_KIND}

    def get_base_queryset(self):
        return Document.objects.prefetch_related(
            Prefetch("shipments", queryset=Shipment.objects.only("id")),
            Prefetch("orders", queryset=Order.objects.only("id")),
            Prefetch("credit_notes", queryset=CreditNote.objects.only("id")),
        )

    def _queued(self, kind: str, ids: list[int], format: str | None = None) -> Response:
        document = document_request(merchant=self.merchant, kind=kind, ids=ids, format=format,
                                    actor=self.actor)  # fmt: skip
        document = self.get_queryset().get(pk=document.pk)
        return Response(DocumentOutput(document, context=self.get_serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)  # fmt: skip

    @extend_schema(summary="Shipping labels for shipments (scope shipping:write)", request=LabelsInput,
                   responses={202: DocumentOutput, **ERRORS}, examples=ex.LABELS)  # fmt: skip
    @action(detail=False, methods=["post"])
    def labels(self, request):
        data = validated_input(LabelsInput, self, request.data)
        return self._queued(DocumentKind.LABEL, data["shipment_ids"], data["format"])

    @extend_schema(summary="Tax invoices for orders (scope orders:write)", request=InvoicesInput,
                   responses={202: DocumentOutput, **ERRORS})  # fmt: skip
    @action(detail=False, methods=["post"])
    def invoices(self, request):
        return self._queued(DocumentKind.INVOICE, validated_input(InvoicesInput, self, request.data)["order_ids"])

    @extend_schema(summary="A manifest's PDF, of an existing manifest or of shipments put on a new one "
                           "(scope shipping:write)", request=ManifestsInput,
                   responses={202: DocumentOutput, **ERRORS, 409: MANIFEST_CONFLICT})  # fmt: skip
    @action(detail=False, methods=["post"])
    def manifests(self, request):
        data = validated_input(ManifestsInput, self, request.data)
        manifest_id = data.get("manifest_id")
        if manifest_id is None:
            manifest_id = manifest_create(merchant=self.merchant, shipment_ids=data["shipment_ids"],
                                          actor=self.actor).pk  # fmt: skip
        return self._queued(DocumentKind.MANIFEST, [manifest_id])

    @extend_schema(summary="Packing slips for orders (scope orders:write)", request=PackingSlipsInput,
                   responses={202: DocumentOutput, **ERRORS})  # fmt: skip
    @action(detail=False, methods=["post"], url_path="packing-slips")
    def packing_slips(self, request):
        data = validated_input(PackingSlipsInput, self, request.data)
        return self._queued(DocumentKind.PACKING_SLIP, data["order_ids"], data["format"])

    @extend_schema(summary="Credit notes (scope orders:write)", request=CreditNotesInput,
                   responses={202: DocumentOutput, **ERRORS})  # fmt: skip
    @action(detail=False, methods=["post"], url_path="credit-notes")
    def credit_notes(self, request):
        ids = validated_input(CreditNotesInput, self, request.data)["credit_note_ids"]
        return self._queued(DocumentKind.CREDIT_NOTE, ids)

    @extend_schema(summary="A document job: status, pages, what was left out, the download link",
                   description="Scope shipping:read for labels and manifests, orders:read for invoices and "
                               "packing slips.", examples=ex.DOCUMENT_DETAIL)  # fmt: skip
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(summary="The PDF", responses={
        (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The document's PDF."),
        409: OpenApiResponse(ApiErrorOutput, description="`document_not_ready`: still queued or rendering, or "
                                                         "failed (see `error` on the job)."),
    })  # fmt: skip
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        document = self.get_object()
        if document.status != DocumentStatus.DONE:
            raise Conflict("document_not_ready", f"Document {document.pk} is {document.status}.",
                           {"status": document.status, "error": document.error})  # fmt: skip
        try:
            pdf = document.file.open("rb")
        except FileNotFoundError as exc:  # the storage lost it: ask again (a new job renders it afresh)
            raise Conflict("document_file_missing", f"The PDF of document {document.pk} is no longer stored; "
                           "request the document again.", {"status": document.status}) from exc  # fmt: skip
        response = FileResponse(pdf, content_type="application/pdf", as_attachment=True,
                                filename=f"{document.kind}-{document.pk}.pdf")  # fmt: skip
        response["Cache-Control"] = "private, max-age=3600"
        return response

"""The credit notes API: list and read the merchant's credit notes, issue one by hand. Notes for cancellations
after invoicing and for received returns are issued by ShopOps itself; ``POST /credit-notes/`` with ``return`` asks
for a return's note (the same note when it has one). The PDF is a document job: ``POST /documents/credit-notes/``.
Scopes: ``orders:read`` to read, ``orders:write`` to issue, as for invoices."""

import django_filters
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from orders.models import Order, OrderLine, Return
from shipping.api.filters import IdFilter
from shipping.documents.data import credit_note_queryset
from shipping.models import CreditNote, CreditNoteLine, CreditNoteLineKind, CreditNoteReason
from shipping.services.credit_notes import Credit, credit_note_for_return, credit_note_issue
from shopops.api.base import MerchantScopedGenericViewSet
from shopops.api.filters import CharInFilter, DateBoundFilter
from shopops.api.schema import ApiErrorOutput
from shopops.api.serializers import StrictInputMixin, validated_input

MAX_ID = 2**63 - 1
MAX_LINES = 500
#: The reasons a note by hand may give (a cancellation's note is ShopOps's own).
MANUAL_REASONS = [CreditNoteReason.RETURN, CreditNoteReason.OTHER]
CHARGES = [CreditNoteLineKind.SHIPPING, CreditNoteLineKind.COD]


class CreditNoteLineOutput(serializers.ModelSerializer):
    class Meta:
        model = CreditNoteLine
        fields = ["id", "kind", "order_line", "name", "sku", "hsn_code", "uqc", "quantity", "rate", "taxable_value",
                  "cgst", "sgst", "igst", "total"]  # fmt: skip


class CreditNoteOutput(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number")
    invoice_number = serializers.CharField(source="invoice.number", help_text="The invoice it credits.")
    invoice_date = serializers.DateTimeField(source="invoice.issued_at")
    lines = CreditNoteLineOutput(many=True)

    class Meta:
        model = CreditNote
        fields = ["id", "number", "order", "order_number", "invoice_number", "invoice_date", "return_request",
                  "reason", "note", "issued_at", "intra_state", "taxable_value", "cgst", "sgst", "igst", "total",
                  "currency", "lines", "created_by"]  # fmt: skip
        extra_kwargs = {"return_request": {"label": "return"}}


class CreditLineInput(StrictInputMixin, serializers.Serializer):
    line_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="An order line of the order.")
    quantity = serializers.IntegerField(min_value=1, max_value=100_000, help_text="Units to credit.")


class CreditNoteCreateInput(StrictInputMixin, serializers.Serializer):
    order = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="The invoiced order to credit (with `lines` and/or `charges`).",
    )
    lines = CreditLineInput(many=True, required=False, max_length=MAX_LINES)
    charges = serializers.ListField(
        child=serializers.ChoiceField(choices=CHARGES),
        required=False,
        max_length=2,
        help_text="Charges to credit whole: shipping, cod.",
    )
    reason = serializers.ChoiceField(choices=MANUAL_REASONS, default=CreditNoteReason.OTHER)
    note = serializers.CharField(
        max_length=255, required=False, default="", allow_blank=True, help_text="Why, printed on the note."
    )
    return_request = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, label="return",
        help_text="A received return: its credit note (issued when it was received; asked again, the same note).",
    )  # fmt: skip

    def validate(self, attrs):
        if ("order" in attrs) == ("return_request" in attrs):
            raise serializers.ValidationError({"order": ["Give either order (with lines or charges) or "
                                                         "return_request."]})  # fmt: skip
        if "order" in attrs and not (attrs.get("lines") or attrs.get("charges")):
            raise serializers.ValidationError({"lines": ["Name at least one line or charge to credit."]})
        if "return_request" in attrs and (attrs.get("lines") or attrs.get("charges")):
            raise serializers.ValidationError({"return_request": ["A return's note credits its own quantities: "
                                                                  "give no lines or charges."]})  # fmt: skip
        return attrs


class CreditNoteFilter(django_filters.FilterSet):
    order = IdFilter(field_name="order_id", help_text="The order's id.")
    order_number = django_filters.CharFilter(field_name="order__number")
    invoice_number = django_filters.CharFilter(field_name="invoice__number")
    number = django_filters.CharFilter(field_name="number")
    return_request = IdFilter(field_name="return_request_id", help_text="The return's id.")
    reason = CharInFilter(field_name="reason", help_text="One reason or a comma list: cancellation,return,other.")
    issued_after = DateBoundFilter(field_name="issued_at", bound="after")
    issued_before = DateBoundFilter(field_name="issued_at", bound="before")

    class Meta:
        model = CreditNote
        fields = []


ERRORS = {
    400: OpenApiResponse(ApiErrorOutput, description="`invalid`: neither or both of order and return_request, no "
                                                     "lines or charges, an unknown order, line or return, more units "
                                                     "than are left to credit (`lines.<i>.quantity`)."),
    409: OpenApiResponse(ApiErrorOutput, description="`order_not_invoiced`: the order has no tax invoice; "
                                                     "`credit_exceeds_invoice`: a line or charge is credited in full "
                                                     "already; `return_not_received`: the return's goods are not "
                                                     "received yet."),
}  # fmt: skip


@extend_schema_view(
    list=extend_schema(summary="List credit notes", description="Newest first; filter by order, invoice, return, "
                                                                "reason and issue date."),
    retrieve=extend_schema(summary="A credit note"),
    create=extend_schema(
        summary="Issue a credit note by hand, or ask for a return's",
        description="With `order`: credit `lines` (units of its order lines) and `charges` (shipping, cod, whole) "
                    "against its invoice, in proportion to what was invoiced; never more than is left. With "
                    "`return_request`: the note of a received return (201 when issued now, 200 when it existed).",
        request=CreditNoteCreateInput, responses={201: CreditNoteOutput, 200: CreditNoteOutput, **ERRORS},
    ),
)  # fmt: skip
class CreditNoteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantScopedGenericViewSet):
    """Credit notes against the merchant's tax invoices (CN-000001...)."""

    scope_object = "orders"
    serializer_class = CreditNoteOutput
    filterset_class = CreditNoteFilter
    ordering_fields = ["issued_at", "number", "total"]
    ordering = ["-issued_at", "-id"]
    http_method_names = ["get", "post", "head", "options"]

    def get_base_queryset(self):
        return CreditNote.objects.select_related("order", "invoice").prefetch_related(
            Prefetch("lines", queryset=CreditNoteLine.objects.order_by("id"))
        )

    def create(self, request):
        data = validated_input(CreditNoteCreateInput, self, request.data)
        if "return_request" in data:
            return_request = self.scoped(Return.objects).filter(pk=data["return_request"]).first()
            if return_request is None:
                raise serializers.ValidationError({"return_request": [f"Unknown return {data['return_request']}."]})
            existed = CreditNote.objects.filter(return_request=return_request).exists()
            note = credit_note_for_return(return_request=return_request, actor=self.actor)
            if note is None:
                raise serializers.ValidationError(
                    {
                        "return_request": [
                            f"Return {return_request.number} has nothing left to credit, or its order has no invoice."
                        ]
                    }
                )
            code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        else:
            order = self.scoped(Order.objects).filter(pk=data["order"]).first()
            if order is None:
                raise serializers.ValidationError({"order": [f"Unknown order {data['order']}."]})
            lines = data.get("lines") or []
            known = set(OrderLine.objects.filter(order=order, pk__in=[ln["line_id"] for ln in lines])
                        .values_list("pk", flat=True))  # fmt: skip
            unknown = {f"lines.{i}.line_id": [f"Order {order.number} has no line {ln['line_id']}."]
                       for i, ln in enumerate(lines) if ln["line_id"] not in known}  # fmt: skip
            if unknown:
                raise serializers.ValidationError(unknown)
            credits = [Credit(CreditNoteLineKind.ITEM, ln["line_id"], ln["quantity"]) for ln in lines]
            credits += [Credit(kind) for kind in dict.fromkeys(data.get("charges") or [])]
            note = credit_note_issue(order=order, credits=credits, reason=data["reason"], note=data["note"],
                                     actor=self.actor)  # fmt: skip
            code = status.HTTP_201_CREATED
        return Response(CreditNoteOutput(credit_note_queryset().get(pk=note.pk)).data, status=code)

"""Label and packing slip formats and courier sorts are defined once (shipping/choices.py): the API, the admin
forms, the merchant's preference, the services, the renderer and the schema settings read them."""

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from drf_spectacular.plumbing import deep_import_string

from shipping.admin.couriers import RateCalculatorForm
from shipping.admin.ship_batches import ShipBatchForm
from shipping.api.document_views import LabelsInput, PackingSlipsInput
from shipping.api.serializers import ServiceabilityQuery
from shipping.api.ship_views import ShipOptionsInput
from shipping.choices import CourierSort, LabelFormat, PackingSlipFormat
from shipping.documents import render
from shipping.models import DocumentFormat, DocumentKind, ShippingPreference
from shipping.services.documents import DOCUMENT_KINDS


def _values(field) -> list[str]:
    return list(field.choices)


def test_the_enums_values():
    assert LabelFormat.values == ["4x6", "a4-4up"]
    assert PackingSlipFormat.values == ["a4", "a5"]
    assert CourierSort.values == ["recommended", "cheapest", "fastest", "rating"]


def test_the_api_offers_the_enums_values():
    options = ShipOptionsInput().fields
    assert _values(options["sort"]) == CourierSort.values
    assert _values(options["label_format"]) == LabelFormat.values
    assert options["label_format"].default == LabelFormat.LABEL_4X6
    assert _values(ServiceabilityQuery().fields["sort"]) == CourierSort.values
    assert _values(LabelsInput().fields["format"]) == LabelFormat.values
    assert _values(PackingSlipsInput().fields["format"]) == PackingSlipFormat.values


def test_the_admin_forms_offer_the_enums_choices():
    batch = ShipBatchForm().fields
    assert batch["sort"].choices == [("", "The merchant's default order"), *CourierSort.choices]
    assert batch["label_format"].choices == LabelFormat.choices
    assert RateCalculatorForm().fields["sort"].choices == CourierSort.choices


def test_the_settings_name_the_enums_values():
    assert ShippingPreference._meta.get_field("default_sort").choices == CourierSort.choices
    assert ShippingPreference._meta.get_field("default_sort").default == CourierSort.RECOMMENDED
    override = settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["LabelFormatEnum"]
    assert deep_import_string(override) == LabelFormat.values


def test_a_documents_formats_are_the_label_and_sheet_formats():
    assert DocumentFormat.choices == [*LabelFormat.choices, *PackingSlipFormat.choices]
    assert DOCUMENT_KINDS[DocumentKind.LABEL][1:] == (tuple(LabelFormat.values), LabelFormat.LABEL_4X6)
    assert DOCUMENT_KINDS[DocumentKind.PACKING_SLIP][1:] == (tuple(PackingSlipFormat.values), PackingSlipFormat.A4)
    assert DOCUMENT_KINDS[DocumentKind.INVOICE][1:] == (("a4",), "a4")


@pytest.mark.parametrize(
    "render_call,message",
    [
        (lambda: render.render_labels(merchant=None, shipments=[], format="a5"),
         "Labels come in 4x6, a4-4up, not 'a5'."),
        (lambda: render.render_packing_slips(merchant=None, orders=[], format="4x6"),
         "Packing slips come in a4, a5, not '4x6'."),
    ],
)  # fmt: skip
def test_the_renderer_refuses_a_format_outside_the_enum(render_call, message):
    with pytest.raises(ValidationError) as refused:
        render_call()
    assert refused.value.message_dict == {"format": [message]}

"""Labels and invoices in every script an Indian address is written in: the text read back from the PDF (as PDFium,
Chrome's reader, extracts it) equals the strings printed; every glyph drawn is the one HarfBuzz gives for the text in
the stack's font (so no .notdef box, and conjuncts and vowel signs joined as the script requires)."""

import io

import pytest

from orders.models import OrderStatus
from shipping.documents import text
from shipping.documents.data import invoice_queryset, label_queryset
from shipping.documents.render import render_invoices, render_labels
from shipping.models import ShipmentStatus
from shipping.services.documents import invoices_issue
from tests.orders.factories import ADDRESS, make_order
from tests.shipping.documents_helpers import gst_merchant
from tests.shipping.factories import make_shipment, shipping_courier
from tests.shipping.pdf_glyphs import Glyph, drawn_glyphs, harfbuzz_glyphs, pdfium_text, spans

pytestmark = pytest.mark.django_db

#: script -> (name, address line, city), written as customers write them (native digits where the script has them).
SAMPLES = {
    "Devanagari": ("राहुल शर्मा", "१२ गांधी मार्ग क्षेत्र श्रीनगर", "नई दिल्ली"),
    "Bengali": ("সৌমিত্র চট্টোপাধ্যায়", "১৪ রবীন্দ্র সরণি", "কলকাতা"),
    "Gurmukhi": ("ਹਰਪ੍ਰੀਤ ਸਿੰਘ", "੨੧ ਮਾਲ ਰੋਡ", "ਅੰਮ੍ਰਿਤਸਰ"),
    "Gujarati": ("કિરણ પટેલ", "૭ આશ્રમ રોડ", "અમદાવાદ"),
    "Oriya": ("ସୁଭଶ୍ରୀ ମହାପାତ୍ର", "୫ ଜନପଥ", "ଭୁବନେଶ୍ୱର"),
    "Tamil": ("கார்த்திகேயன் சுப்பிரமணியம்", "௧௨ அண்ணா சாலை", "கோயம்புத்தூர்"),
    "Telugu": ("శ్రీనివాస్ రెడ్డి", "౩ బంజారా హిల్స్", "హైదరాబాద్"),
    "Kannada": ("ಸುಧಾ ಮೂರ್ತಿ", "೮ ಎಂ ಜಿ ರಸ್ತೆ", "ಬೆಂಗಳೂರು"),
    "Malayalam": ("ശ്രീക്കുട്ടൻ നായർ", "൪ എം ജി റോഡ്", "തിരുവനന്തപുരം"),
    "Arabic": ("محمد عمران", "مکان ۱۲ امین آباد", "لکھنؤ"),
}


def _address(script: str) -> dict:
    name, line1, city = SAMPLES[script]
    return {**ADDRESS, "name": name, "line1": line1, "city": city}


def _script_glyphs(glyphs: list[Glyph]) -> list[tuple[str, tuple]]:
    """The inked glyphs of the script fonts (the Latin font draws the spaces, digits and punctuation between)."""
    return [(glyph.font, glyph.outline) for glyph in glyphs if glyph.outline and not glyph.font.startswith("DejaVu")]


def _assert_drawn_as_harfbuzz_shapes(pdf: bytes, script: str, style_of) -> None:
    """Every span holding a sample's text draws exactly HarfBuzz's glyphs for it, none of them .notdef; every glyph
    on the page is drawn from a font that has it (no glyph 0 anywhere)."""
    checked = 0
    for span in spans(pdf):
        if any(word in span.text for value in SAMPLES[script] for word in value.split() if not word.isascii()):
            expected = harfbuzz_glyphs(span.text, style_of(span.text))
            assert all(glyph.gid != 0 for glyph in expected), span.text
            assert _script_glyphs(span.glyphs) == _script_glyphs(expected), span.text
            assert {font for font, _ in _script_glyphs(span.glyphs)} == {
                f"NotoSans{script}{'Bold' if style_of(span.text) == 'bold' else ''}"
            }
            checked += 1
    assert checked >= 3
    assert all(glyph.gid != 0 for glyph in drawn_glyphs(pdf))


@pytest.mark.parametrize("script", SAMPLES)
def test_a_label_prints_each_script_shaped_and_copies_back_exactly(merchant, script):
    shipping_courier(merchant)
    shipment = make_shipment(merchant, ShipmentStatus.AWB_ASSIGNED, shipping_address=_address(script))
    [shipment] = label_queryset().filter(pk=shipment.pk)

    pdf = render_labels(merchant=merchant, shipments=[shipment], format="4x6").pdf

    name, line1, city = SAMPLES[script]
    # PDFium orders a right-to-left ActualText a second time (it takes it for visual order): the Urdu lines are read
    # from the text layer itself, the logical strings of PDF 32000-1, 14.9.4
    lines = [span.text for span in spans(pdf)] if script == "Arabic" else pdfium_text(pdf).split("\n")
    assert name in lines
    assert line1 in lines
    assert f"{city}, Karnataka" in lines
    _assert_drawn_as_harfbuzz_shapes(pdf, script, lambda value: "bold" if value == name else "regular")


@pytest.mark.parametrize("script", SAMPLES)
def test_an_invoice_prints_each_script_shaped_and_copies_back_exactly(merchant, script, caplog):
    gst_merchant(merchant)
    order = make_order(merchant, OrderStatus.PACKED, shipping_address=_address(script),
                       billing_address=_address(script))  # fmt: skip
    [order] = invoice_queryset().filter(pk=order.pk)
    invoices_issue(merchant=merchant, orders=[order])

    with caplog.at_level("WARNING", logger="weasyprint"):
        pdf = render_invoices(merchant=merchant, orders=[order]).pdf

    assert [r.getMessage() for r in caplog.records if ".notdef" in r.getMessage()] == []
    lines = pdfium_text(pdf).split("\n")
    name, line1, city = SAMPLES[script]
    assert lines.count(name) == 2  # bill to, ship to
    assert lines.count(line1) == 2
    assert lines.count(f"{city}, Karnataka") == 2
    if script != "Arabic":  # right-to-left text is not given an ActualText (see shipping.documents.text)
        _assert_drawn_as_harfbuzz_shapes(pdf, script, lambda value: "bold" if value == name else "regular")
    else:
        fonts = {glyph.font for glyph in drawn_glyphs(pdf) if glyph.outline}
        assert "NotoSansArabicscript" in fonts and "NotoSansArabicscriptBold" in fonts
        assert all(glyph.gid != 0 for glyph in drawn_glyphs(pdf))


@pytest.mark.parametrize(("value", "glyphs"), [("क्ष", 1), ("श्र", 1), ("र्म", 2), ("கொ", 3), ("কি", 2)])
def test_conjuncts_and_vowel_signs_are_shaped_on_the_label(value, glyphs):
    """क्ष and श्र are one glyph each; र्म is म with the reph above; Tamil ொ is drawn as two signs around க; Bengali
    ি is drawn before the consonant: the glyphs drawn are HarfBuzz's, in its order."""
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out, invariant=1)
    text.draw_line(canvas, 50, 700, value, "regular", 12)
    canvas.showPage()
    canvas.save()

    expected = harfbuzz_glyphs(value)
    [span] = spans(out.getvalue())
    assert span.text == value
    assert len(expected) == glyphs
    assert all(glyph.gid != 0 for glyph in expected)
    assert [(g.font, g.outline) for g in span.glyphs] == [(g.font, g.outline) for g in expected]

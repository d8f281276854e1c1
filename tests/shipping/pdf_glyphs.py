"""What a PDF page draws, read back from the file: the text PDFium gives (what Chrome copies and searches), and the
glyphs drawn inside each ``/ActualText`` span, as outlines taken from the fonts embedded in the PDF, to compare with
the glyphs HarfBuzz gives for the same text in the original font files."""

import io
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import pypdf
import pypdfium2
import uharfbuzz
from bidi import get_display
from fontTools.pens.recordingPen import DecomposingRecordingPen
from fontTools.ttLib import TTFont
from pypdf.generic import ContentStream

from shipping.documents import text


def pdfium_text(pdf: bytes, index: int = 0) -> str:
    """The page's text as PDFium extracts it (ActualText honoured), lines joined by newlines."""
    page = pypdfium2.PdfDocument(pdf)[index]
    return page.get_textpage().get_text_range().replace("\r\n", "\n")


def _outline(font: TTFont, gid: int) -> tuple:
    glyph_set = font.getGlyphSet()
    pen = DecomposingRecordingPen(glyph_set)
    glyph_set[font.getGlyphName(gid)].draw(pen)
    return tuple(pen.value)


def _font_name(name: str) -> str:
    """A font's name without spaces, hyphens and "Regular": "NotoSansDevanagariBold", "NotoSansDevanagari" (ReportLab
    writes the PostScript names, NotoSansDevanagari-Bold, NotoSansDevanagari-Regular; WeasyPrint its own,
    Noto-Sans-Devanagari-Bold, Noto-Sans-Devanagari)."""
    return re.sub(r"Regular$", "", re.sub(r"[-\s]", "", name))


@dataclass(frozen=True)
class Glyph:
    font: str  # the original font's name (subset prefix removed), as _font_name gives it
    gid: int  # in the embedded font program
    outline: tuple


@dataclass
class Span:
    text: str
    glyphs: list[Glyph]


class _Font:
    def __init__(self, resource):
        if resource["/Subtype"] == "/Type0":
            descendant = resource["/DescendantFonts"][0].get_object()
            self.program = TTFont(io.BytesIO(descendant["/FontDescriptor"]["/FontFile2"].get_data()))
            self.two_bytes, self.cmap = True, None
        else:
            self.program = TTFont(io.BytesIO(resource["/FontDescriptor"]["/FontFile2"].get_data()))
            self.two_bytes = False
            self.cmap = (self.program["cmap"].getcmap(3, 0) or self.program["cmap"].getcmap(1, 0)).cmap
        self.name = _font_name(str(resource["/BaseFont"])[1:].split("+", 1)[-1])

    def glyphs(self, data: bytes) -> list[Glyph]:
        if self.two_bytes:  # Identity-H, CIDToGIDMap Identity: the code is the glyph id
            gids = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
        else:  # a subset TrueType font: the code through the program's own cmap
            order = self.program.getGlyphOrder()
            gids = [self.program.getGlyphID(self.cmap[code]) if code in self.cmap else 0 for code in data]
            assert all(0 <= gid < len(order) for gid in gids)
        return [Glyph(self.name, gid, _outline(self.program, gid)) for gid in gids]


class _Fonts(dict):
    """The page's fonts, read when first used (ReportLab lists Helvetica, which it never draws with)."""

    def __init__(self, resources):
        super().__init__()
        self.resources = resources

    def __missing__(self, name):
        font = self[name] = _Font(self.resources[name].get_object())
        return font


def _bytes(value) -> bytes:
    """A string operand's bytes as written (pypdf decodes some as text)."""
    original = getattr(value, "_original_bytes", None)
    if original is not None:
        return original
    return value.get_original_bytes() if hasattr(value, "get_original_bytes") else bytes(value)


def spans(pdf: bytes, index: int = 0) -> list[Span]:
    """Every ``/Span`` with an ``/ActualText`` on the page, with the glyphs drawn inside it, in order."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    page = reader.pages[index]
    resources = page["/Resources"]["/Font"]
    fonts = _Fonts(resources)
    found, open_spans, font = [], [], None
    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        if operator == b"BDC":
            properties = operands[1].get_object() if len(operands) > 1 else {}
            span = Span(str(properties["/ActualText"]), []) if "/ActualText" in properties else None
            open_spans.append(span)
            if span:
                found.append(span)
        elif operator == b"BMC":
            open_spans.append(None)
        elif operator == b"EMC":
            open_spans.pop()
        elif operator == b"Tf":
            font = operands[0]
        elif operator in (b"Tj", b"TJ"):
            items = operands[0] if operator == b"TJ" else [operands[0]]
            drawn = [g for item in items if not isinstance(item, int | float) for g in fonts[font].glyphs(_bytes(item))]
            for span in open_spans:
                if span:
                    span.glyphs.extend(drawn)
    return found


def drawn_glyphs(pdf: bytes, index: int = 0) -> list[Glyph]:
    """Every glyph drawn on the page."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    page = reader.pages[index]
    resources = page["/Resources"]["/Font"]
    fonts = _Fonts(resources)
    out, font = [], None
    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        if operator == b"Tf":
            font = operands[0]
        elif operator in (b"Tj", b"TJ"):
            items = operands[0] if operator == b"TJ" else [operands[0]]
            drawn = [g for item in items if not isinstance(item, int | float) for g in fonts[font].glyphs(_bytes(item))]
            out.extend(drawn)
    return out


@cache
def _original(path: str) -> tuple[TTFont, uharfbuzz.Font]:
    with open(path, "rb") as file:
        data = file.read()
    return TTFont(io.BytesIO(data)), uharfbuzz.Font(uharfbuzz.Face(uharfbuzz.Blob(data)))


def _face_for(char: str, style: str) -> text.Face:
    return text._face_for(char, text.faces(style))


def harfbuzz_glyphs(value: str, style: str = "regular") -> list[Glyph]:
    """The glyphs HarfBuzz gives for ``value``, left to right: each word of a non-Latin script shaped with the font of
    the stack that has its first letter (as the renderers choose), in the original font file, words in the visual
    order of the bidirectional algorithm (a number reads left to right, digit by digit). ASCII is left out: it is
    drawn in the Latin font."""
    out = []
    for visual in get_display(value).split():
        rtl = any(unicodedata.bidirectional(char) in ("R", "AL") for char in visual)
        word = visual[::-1] if rtl else visual
        chunks = [chunk for chunk in re.split(r"[\x00-\x7f]+", word) if chunk]
        if not rtl and any(unicodedata.bidirectional(char) in ("EN", "AN") for char in word):
            chunks = [char for chunk in chunks for char in chunk]
        for chunk in chunks:
            face = _face_for(chunk[0], style)
            font, hb_font = _original(face.path)
            buffer = uharfbuzz.Buffer()
            buffer.add_str(chunk)
            buffer.guess_segment_properties()
            uharfbuzz.shape(hb_font, buffer, {"kern": True, "liga": True})
            name = _font_name(font["name"].getDebugName(6))
            out.extend(Glyph(name, info.codepoint, _outline(font, info.codepoint)) for info in buffer.glyph_infos)
    return out


def inked(glyphs: list[Glyph]) -> list[tuple[str, tuple]]:
    """(font, outline) of the glyphs that draw something, in order: what the reader sees."""
    return [(glyph.font, glyph.outline) for glyph in glyphs if glyph.outline]

"""Text on printed documents in every script an Indian address is written in.

One stack of font families (``settings.DOCUMENT_FONTS``: DejaVu Sans for Latin, then Noto Sans for Devanagari,
Bengali, Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam and Arabic script) serves every document.
The files are found by family name through fontconfig (``fc-match``), never by path; Debian's fonts-dejavu-core and
fonts-noto-core provide them (``make system-deps``).

- Documents from templates (WeasyPrint): the stack is the CSS ``font-family`` (``css_fonts``); Pango picks a font
  per character from it and HarfBuzz shapes.
- Labels (ReportLab's canvas): ``runs`` splits a line into runs, the face chosen per character as Pango does (marks
  and joiners stay with their letter, so a cluster is never split across fonts); each run is shaped with HarfBuzz
  (uharfbuzz, through ReportLab's ``shapeFragWord``) so conjuncts and vowel signs are joined as the script requires.
  A line holding right-to-left text (Urdu) is ordered by the Unicode bidirectional algorithm (python-bidi).

The text layer: a shaped run draws glyphs, not characters (a conjunct is one glyph for three characters, a vowel
sign is drawn before the consonant it follows), and a PDF font maps each glyph to one string whatever the run it
appears in, so copying such text gives it back garbled. Every line that is not ASCII is therefore wrapped in a
marked-content span with an ``/ActualText`` of the exact string drawn (PDF 32000-1, 14.9.4), which PDF readers
(PDFium in Chrome, Acrobat) return on copy and search. WeasyPrint draws each text box inside a ``/Span`` marked
content only when it writes a tagged PDF; ``install_actual_text`` makes it open one with the box's text otherwise.
"""

import functools
import shutil
import subprocess
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bidi import get_display
from django.conf import settings


class FontMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Face:
    """One font file of the stack, registered with ReportLab under ``name``."""

    family: str
    name: str
    path: str
    chars: frozenset[int]

    def covers(self, char: str) -> bool:
        return ord(char) in self.chars


def font_file(family: str, *, bold: bool = False) -> str:
    """The file of ``family`` (regular or bold) as fontconfig finds it; FontMissing when fontconfig has no such
    family (fc-match would answer with a substitute: that is refused, it has not the glyphs asked for)."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        raise FontMissing("fc-match not found: install fontconfig (make system-deps).")
    pattern = f"{family}:style={'Bold' if bold else 'Regular'}"
    answer = subprocess.run([fc_match, "--format=%{family}\n%{file}", pattern], capture_output=True, text=True,
                            check=True, timeout=10).stdout  # fmt: skip
    families, _, path = answer.partition("\n")
    if family.lower() not in {name.strip().lower() for name in families.split(",")}:
        raise FontMissing(
            f"Font family {family!r} is not installed (fontconfig offers {families!r} instead): install "
            "fonts-dejavu-core and fonts-noto-core (make system-deps) or change DOCUMENT_FONTS."
        )
    return path


#: Characters of the scripts the stack's script families are for (Arabic and its presentation forms, the Indic
#: blocks, Vedic and Devanagari extensions): looked up in the script families before the Latin one, which has some
#: of them (DejaVu Sans draws Arabic letters but not Urdu's ہ and ے: a word drawn from two fonts would not join).
SCRIPT_RANGES = ((0x0590, 0x08FF), (0x0900, 0x0DFF), (0x1CD0, 0x1CFF), (0xA8E0, 0xA8FF), (0xFB50, 0xFDFF),
                 (0xFE70, 0xFEFF))  # fmt: skip


def _in_scripts(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in SCRIPT_RANGES)


def _ranges(codes: list[int]) -> str:
    """Sorted code points as a CSS unicode-range: ``U+0600-0605, U+0608``."""
    spans: list[list[int]] = []
    for code in codes:
        if spans and code == spans[-1][1] + 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])
    return ", ".join(f"U+{low:04X}" if low == high else f"U+{low:04X}-{high:04X}" for low, high in spans)


@functools.cache
def css_fonts() -> dict[str, str]:
    """The stack for WeasyPrint: the ``sans`` and ``mono`` ``font-family`` values, and ``font_faces``: for a script
    family whose characters the Latin family has some of too (Arabic: DejaVu Sans), CSS @font-face rules declaring
    it, regular and bold, for exactly the characters of its scripts it has, first in the stack, so that Pango takes
    a word's letters from one font."""
    latin, *scripts = faces("regular")
    rules, first = [], []
    for face, bold in zip(scripts, faces("bold")[1:], strict=True):
        own = sorted(code for code in face.chars if _in_scripts(chr(code)))
        if not any(code in latin.chars for code in own):
            continue
        first.append(f'"{face.family} script"')
        for weight, file in (("normal", face.path), ("bold", bold.path)):
            rules.append(f'@font-face {{ font-family: "{face.family} script"; font-weight: {weight}; '
                         f'src: url("{Path(file).as_uri()}"); unicode-range: {_ranges(own)}; }}')  # fmt: skip
    stack = ", ".join([*first, *(f'"{family}"' for family in settings.DOCUMENT_FONTS)])
    return {
        "font_faces": "\n".join(rules),
        "sans": f"{stack}, sans-serif",
        "mono": f'"{settings.DOCUMENT_MONO_FONT}", {stack}, monospace',
    }


@functools.cache
def faces(style: str) -> tuple[Face, ...]:
    """The stack's faces for ``style`` (regular, bold, or mono-bold: the monospaced family first), registered with
    ReportLab once per process."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    bold = style != "regular"
    families = [*([settings.DOCUMENT_MONO_FONT] if style == "mono-bold" else []), *settings.DOCUMENT_FONTS]
    stack = []
    for family in families:
        name = f"{family}-{'Bold' if bold else 'Regular'}"
        try:
            font = pdfmetrics.getFont(name)
        except KeyError:
            font = TTFont(name, font_file(family, bold=bold))
            pdfmetrics.registerFont(font)
        stack.append(Face(family, name, font.face.filename, frozenset(font.face.charToGlyph)))
    return tuple(stack)


def _joins(char: str) -> bool:
    """Marks, joiners and variation selectors belong to the letter before them."""
    return unicodedata.category(char) in ("Mn", "Mc", "Me", "Cf") or "\ufe00" <= char <= "\ufe0f"


def _face_for(char: str, stack: tuple[Face, ...]) -> Face:
    """The first face of the stack that has ``char`` (the script faces first for a script's character); the first
    face (its .notdef box) when none has."""
    order = (*stack[1:], stack[0]) if _in_scripts(char) else stack
    return next((face for face in order if face.covers(char)), stack[0])


def runs(text: str, style: str) -> list[tuple[Face, str]]:
    """``text`` cut into runs of one face each, the face chosen per character as WeasyPrint's Pango does with the CSS
    stack; a mark or joiner stays in its letter's run, so a cluster is never split across fonts."""
    stack = faces(style)
    out: list[tuple[Face, list[str]]] = []
    for char in text:
        face = out[-1][0] if out and _joins(char) else _face_for(char, stack)
        if out and out[-1][0] is face:
            out[-1][1].append(char)
        else:
            out.append((face, [char]))
    return [(face, "".join(chars)) for face, chars in out]


def _rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(char) in ("R", "AL") for char in text)


def _visual_segments(text: str) -> list[tuple[str, bool]]:
    """``text`` (logical order) as segments in visual order, left to right, each (logical text, right-to-left): the
    Unicode bidirectional algorithm (python-bidi) orders the line; each right-to-left word is turned back to its
    logical order to be shaped (HarfBuzz then gives its glyphs left to right)."""
    if not _rtl(text):
        return [(text, False)]
    segments: list[tuple[list[str], bool]] = []
    for char in get_display(text):
        rtl = unicodedata.bidirectional(char) in ("R", "AL") or (_joins(char) and bool(segments) and segments[-1][1])
        if segments and segments[-1][1] == rtl:
            segments[-1][0].append(char)
        else:
            segments.append(([char], rtl))
    return [("".join(reversed(chars)) if rtl else "".join(chars), rtl) for chars, rtl in segments]


@dataclass(frozen=True)
class Run:
    face: Face
    text: str
    glyphs: str  # what ReportLab draws: the shaped string (a ShapedStr) or the text itself
    width: float  # in points, at the size it was shaped for


#: The OpenType features asked for: kerning and standard ligatures (the script's required features, conjuncts and
#: joining forms among them, HarfBuzz always applies); not discretionary ligatures, which ReportLab's own default
#: turns on (Noto Sans Arabic's would add vowel marks to a name).
FEATURES = {"kern": True, "liga": True}


def _shape(chunk: str, face: Face, size: float) -> tuple[str, float]:
    """What ReportLab draws for ``chunk`` in ``face`` (a ShapedStr of glyphs in visual order, or the text itself)
    and its width in points."""
    from reportlab.lib.abag import ABag
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfbase.ttfonts import ShapedStr, shapeFragWord

    if chunk.isascii():
        return chunk, stringWidth(chunk, face.name, size)
    word = [stringWidth(chunk, face.name, size), (ABag(fontName=face.name, fontSize=size), chunk)]
    glyphs = shapeFragWord(word, features=FEATURES, force=True)[1][1]
    if isinstance(glyphs, ShapedStr):
        return glyphs, sum(data.x_advance for data in glyphs.__shapeData__) * size / 1000
    return glyphs, stringWidth(glyphs, face.name, size)


def _rtl_script(chunk: str) -> bool:
    """Whether HarfBuzz would shape ``chunk`` right to left (it holds letters or digits of Arabic script)."""
    return any(0x0600 <= ord(char) <= 0x08FF or 0xFB50 <= ord(char) <= 0xFEFF for char in chunk)


@functools.lru_cache(maxsize=8192)
def shaped_line(text: str, style: str, size: float) -> tuple[Run, ...]:
    """The runs of ``text`` in visual order (left to right), shaped at ``size`` points."""
    out = []
    for segment, rtl in _visual_segments(text):
        segment_runs = []
        for face, chunk in runs(segment, style):
            # HarfBuzz takes the direction from the script: Arabic-script digits in a left-to-right segment (a
            # number reads left to right) are shaped one by one
            for piece in chunk if not rtl and _rtl_script(chunk) else [chunk]:
                glyphs, width = _shape(piece, face, size)
                segment_runs.append(Run(face, piece, glyphs, width))
        out.extend(reversed(segment_runs) if rtl else segment_runs)
    return tuple(out)


def line_width(text: str, style: str, size: float) -> float:
    return sum(run.width for run in shaped_line(text, style, size))


def _actual_text(text: str) -> str:
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


def draw_line(canvas, x: float, y: float, text: str, style: str, size: float) -> float:
    """Draw ``text`` with its left end at ``x`` (points) on the baseline ``y``; the width drawn. A line that is not
    all ASCII is one marked-content span whose ActualText is ``text``."""
    start = x
    actual = not text.isascii()
    if actual:
        canvas.addLiteral(f"/Span <</ActualText {_actual_text(text)}>> BDC")
    for run in shaped_line(text, style, size):
        canvas.setFont(run.face.name, size)
        canvas.drawString(x, y, run.glyphs)
        x += run.width
    if actual:
        canvas.addLiteral("EMC")
    return x - start


# -- WeasyPrint: the text layer of documents from templates ---------------------------------------------------------


@functools.cache
def install_actual_text() -> None:
    """Make WeasyPrint open a ``/Span`` with the ``/ActualText`` of every text box whose text is not ASCII.

    WeasyPrint (pinned in requirements.txt) wraps each text box it draws in ``Stream.marked(box, "Span")``, which
    writes marked content only for a tagged PDF; this wraps that method. Right-to-left text is left to the fonts'
    own character maps: its glyphs are not reordered within a cluster, and readers apply the bidirectional
    algorithm to the text they extract (an ActualText would be reordered a second time)."""
    import pydyf
    from weasyprint.formatting_structure.boxes import TextBox
    from weasyprint.pdf.stream import Stream

    marked = Stream.marked

    @contextmanager
    def marked_with_text(self, box, tag):
        if self._tags is None and isinstance(box, TextBox) and not box.text.isascii() and not _rtl(box.text):
            properties = pydyf.Dictionary({"ActualText": pydyf.String(box.text)})
            pydyf.Stream.begin_marked_content(self, "Span", properties)
            try:
                yield
            finally:
                pydyf.Stream.end_marked_content(self)
        else:
            with marked(self, box, tag):
                yield

    Stream.marked = marked_with_text

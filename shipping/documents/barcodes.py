"""Code128 barcodes from python-barcode's encoder, drawn without a writer's text: the digits are printed as real
text under the bars, so they are in the PDF's text layer. A module is a whole number of dots of a 203 dpi thermal
printer (3 dots = 0.375 mm when the code fits, else 2, else 1), and the quiet zones are 10 modules on each side."""

import re

from barcode import Code128

DOTS_PER_INCH = 203
QUIET_ZONE_MODULES = 10


def barcode_modules(value: str) -> str:
    """Code128 bars and spaces of ``value`` as a string of 1 (bar) and 0 (space) modules, without quiet zones."""
    return Code128(value).build()[0]


def barcode_svg(value: str, *, height_mm: float, max_width_mm: float) -> str:
    """``value`` as a Code128 inline SVG at the widest whole-dot module (3, 2, then 1 dot at 203 dpi) that fits
    ``max_width_mm`` with 10-module quiet zones on both sides."""
    modules = barcode_modules(value)
    total = len(modules) + 2 * QUIET_ZONE_MODULES
    module_mm = module_size_mm(total, max_width_mm)
    width_mm = total * module_mm
    height = height_mm / module_mm
    path = []
    for match in re.finditer("1+", modules):
        path.append(f"M{match.start() + QUIET_ZONE_MODULES} 0h{match.end() - match.start()}v{height:.2f}h-"
                    f"{match.end() - match.start()}z")  # fmt: skip
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="barcode" width="{width_mm:.3f}mm" height="{height_mm}mm" '
            f'viewBox="0 0 {total} {height:.2f}" shape-rendering="crispEdges"><path fill="#000" d="{"".join(path)}"/>'
            "</svg>")  # fmt: skip


def module_size_mm(total_modules: int, max_width_mm: float) -> float:
    """The widest module of 3, 2 or 1 dots at 203 dpi that fits ``total_modules`` in ``max_width_mm``."""
    for dots in (3, 2, 1):
        module_mm = dots * 25.4 / DOTS_PER_INCH
        if total_modules * module_mm <= max_width_mm:
            return module_mm
    return module_mm

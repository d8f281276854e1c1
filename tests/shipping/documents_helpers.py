"""Reading rendered PDFs back: pages, sizes, text, and barcodes decoded from a page rendered at 203 dpi."""

import io

import pypdf
import pypdfium2
import zxingcpp

from shopops.models import Merchant

MM = 72 / 25.4
SIZE_4X6 = (100 * MM, 150 * MM)  # 283.46 x 425.20 pt
SIZE_A4 = (595.28, 841.89)
SIZE_A5 = (419.53, 595.28)


def pdf_pages(pdf: bytes) -> list[pypdf.PageObject]:
    return list(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def page_size(page: pypdf.PageObject) -> tuple[float, float]:
    return float(page.mediabox.width), float(page.mediabox.height)


def same_size(actual: tuple[float, float], expected: tuple[float, float], tolerance: float = 0.5) -> bool:
    return abs(actual[0] - expected[0]) <= tolerance and abs(actual[1] - expected[1]) <= tolerance


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pdf_pages(pdf)]


def barcodes_on_page(pdf: bytes, index: int, dpi: int = 203) -> list[str]:
    """The Code128 barcodes zxing-cpp reads on page ``index`` rendered at ``dpi``, top to bottom."""
    document = pypdfium2.PdfDocument(pdf)
    image = document[index].render(scale=dpi / 72, grayscale=True).to_pil()
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.Code128)
    return [b.text for b in sorted(found, key=lambda b: (b.position.top_left.y, b.position.top_left.x))]


def gst_merchant(merchant: Merchant, **fields) -> Merchant:
    """The merchant as a registered seller in Karnataka (GSTIN state code 29)."""
    values = {"legal_name": "Acme Retail Private Limited", "tax_id": "29ABCDE1234F1Z5", "line1": "12 MG Road",
              "city": "Bengaluru", "state": "Karnataka", "postcode": "560001", "phone": "+918041234567",
              "email": "billing@acme.example", **fields}  # fmt: skip
    for name, value in values.items():
        setattr(merchant, name, value)
    merchant.save()
    return merchant

"""A voucher (``domain/receipt.py``) drawn as an A4 PDF with reportlab.

reportlab is imported inside ``render`` only: no other route of the Lambda pays for it at cold start.
Text with Chinese (or any character outside Windows-1252) uses reportlab's CJK CID font ``STSong-Light``
(Adobe's standard Simplified Chinese font, encoded ``UniGB-UCS2-H``): PDF viewers supply its glyphs, so no
font file is shipped. Other text (SKUs, amounts, labels) uses Helvetica, a standard PDF font, whose Latin
glyphs and spacing every viewer has (a viewer that substitutes STSong-Light spaces Latin text oddly).
The document is built ``invariant`` (no creation time or random id): one voucher, the same bytes.
"""

from __future__ import annotations

import io

from chalicelib.domain.receipt import Voucher

FONT = "STSong-Light"  # any script
LATIN = "Helvetica"  # Windows-1252 text
MARGIN = 48.0
LINE = 15.0
# the lines table, 9 pt: (heading, x of the column's left edge or, for amounts, of its right edge, right-aligned)
COLUMNS = (("Item", 0.0, False), ("SKU", 186.0, False), ("Unit price", 362.0, True), ("Qty", 394.0, True))
TOTAL_COLUMN = ("Line total", 499.0, True)
NAME_WIDTH = 180.0
SKU_WIDTH = 96.0
TABLE_SIZE = 9.0


def render(voucher: Voucher) -> bytes:
    """The voucher as PDF bytes (one or more A4 pages)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    pdf.setTitle(f"Payment voucher {voucher.order_number}")
    pdf.setAuthor(voucher.business_name)
    _Page(pdf, A4, voucher).draw()
    pdf.save()
    return out.getvalue()


def wrap(text: str, size: float, width: float) -> list[str]:
    """``text`` in rows at most ``width`` wide: at spaces where it can, else between characters (SKUs, CJK)."""
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfbase.pdfmetrics import stringWidth

    rows: list[str] = []
    for row in simpleSplit(text, font(text), size, width) or [""]:
        while stringWidth(row, font(row), size) > width and len(row) > 1:
            cut = len(row) - 1
            while cut > 1 and stringWidth(row[:cut], font(row[:cut]), size) > width:
                cut -= 1
            rows.append(row[:cut])
            row = row[cut:]
        rows.append(row)
    return rows


def font(text: str) -> str:
    """Helvetica for text it can draw (Windows-1252), else the CJK font."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return FONT
    return LATIN


class _Page:
    """Draws top to bottom, starting a new page (with a short heading) when the space runs out."""

    def __init__(self, pdf, size: tuple[float, float], voucher: Voucher) -> None:
        self.pdf, self.voucher = pdf, voucher
        self.width, self.height = size
        self.y = self.height - MARGIN
        self.page = 1
        self.in_table = False  # a page break inside the lines repeats their heading

    def draw(self) -> None:
        v = self.voucher
        self.text(v.business_name, size=16)
        self.text("Payment voucher / 付款凭证", size=13)
        self.gap()
        for label, value in (
            ("Order number", v.order_number),
            ("Order date", v.order_date),
            ("Issued", f"{v.issued_at} (order version {v.version})"),
            ("Payment status", v.payment_status.replace("_", " ")),
        ):
            self.pair(label, value)
        self.gap()
        self.text("Customer", size=11)
        self.text(v.customer_name)
        for row in v.address:
            self.text(row)
        self.gap()
        self.table_heading()
        self.in_table = True
        for line in v.lines:
            self.line_row(line.name, line.sku, line.unit_price, str(line.quantity), line.line_total)
        self.in_table = False
        self.rule()
        for label, amount in v.totals:
            self.need(LINE)
            self.put(COLUMNS[3][1], label, right=True)
            self.put(TOTAL_COLUMN[1], amount, right=True)
            self.y -= LINE
        self.gap()
        self.text("Payments", size=11)
        for payment in v.payments:
            self.text(f"{payment.at}   {payment.method}   {payment.amount}   ref. {payment.reference}")
        if v.refunds:
            self.gap()
            self.text("Refunds", size=11)
            for refund in v.refunds:
                self.text(f"{refund.at}   {refund.amount}   {refund.status}   ref. {refund.reference}")
        self.gap()
        self.text(f"Order id {v.order_id}", size=8)

    # --- drawing helpers ---------------------------------------------------------------------------

    def need(self, height: float) -> None:
        if self.y - height < MARGIN:
            self.pdf.showPage()
            self.page += 1
            self.y = self.height - MARGIN
            self.text(f"{self.voucher.business_name} · {self.voucher.order_number} · page {self.page}", size=8)
            self.gap()
            if self.in_table:
                self.table_heading()

    def put(self, x: float, value: str, size: float = 10, right: bool = False) -> None:
        """One string at ``x`` from the margin on the current line, in the font that can draw it."""
        self.pdf.setFont(font(value), size)
        (self.pdf.drawRightString if right else self.pdf.drawString)(MARGIN + x, self.y, value)

    def text(self, value: str, size: float = 10) -> None:
        for row in wrap(value, size, self.width - 2 * MARGIN):
            self.need(size + 5)
            self.put(0, row, size)
            self.y -= size + 5

    def pair(self, label: str, value: str) -> None:
        self.need(LINE)
        self.put(0, label)
        self.put(110, value)
        self.y -= LINE

    def gap(self) -> None:
        self.y -= LINE / 2

    def rule(self) -> None:
        self.pdf.line(MARGIN, self.y + LINE - 4, self.width - MARGIN, self.y + LINE - 4)
        self.y -= 4

    def table_heading(self) -> None:
        if not self.in_table:
            self.need(3 * LINE)
        for heading, x, right in (*COLUMNS, TOTAL_COLUMN):
            self.put(x, heading, TABLE_SIZE, right=right)
        self.y -= LINE
        self.rule()

    def line_row(self, name: str, sku: str, unit_price: str, quantity: str, total: str) -> None:
        names, skus = wrap(name, TABLE_SIZE, NAME_WIDTH), wrap(sku, TABLE_SIZE, SKU_WIDTH)
        rows = max(len(names), len(skus))
        self.need(rows * (LINE - 2) if rows * (LINE - 2) < self.height / 2 else LINE)  # a line stays on one page
        for index in range(rows):
            self.need(LINE - 2)
            if index < len(names):
                self.put(COLUMNS[0][1], names[index], TABLE_SIZE)
            if index < len(skus):
                self.put(COLUMNS[1][1], skus[index], TABLE_SIZE)
            if index == 0:
                self.put(COLUMNS[2][1], unit_price, TABLE_SIZE, right=True)
                self.put(COLUMNS[3][1], quantity, TABLE_SIZE, right=True)
                self.put(TOTAL_COLUMN[1], total, TABLE_SIZE, right=True)
            self.y -= LINE - 2

"""A voucher (``domain/receipt.py``) drawn as an A4 PDF with reportlab.

reportlab is imported inside ``render`` only: no other route of the Lambda pays for it at cold start.
All text uses reportlab's CJK CID font ``STSong-Light`` (Adobe's standard Simplified Chinese font,
encoded ``UniGB-UCS2-H``): PDF viewers supply its glyphs, so no font file is shipped, and it covers
Latin text too, so one font draws Chinese product names and addresses beside SKUs and amounts.
The document is built ``invariant`` (no creation time or random id): one voucher, the same bytes.
"""

from __future__ import annotations

import io

from chalicelib.domain.receipt import Voucher

FONT = "STSong-Light"
MARGIN = 48.0
LINE = 15.0
# the lines table: (heading, x of the column's left edge or, for amounts, right edge, right-aligned)
COLUMNS = (("Item", 0.0, False), ("SKU", 240.0, False), ("Unit price", 390.0, True), ("Qty", 425.0, True))
TOTAL_COLUMN = ("Line total", 499.0, True)
NAME_WIDTH = 232.0
SKU_WIDTH = 80.0


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


class _Page:
    """Draws top to bottom, starting a new page (with a short heading) when the space runs out."""

    def __init__(self, pdf, size: tuple[float, float], voucher: Voucher) -> None:
        self.pdf, self.voucher = pdf, voucher
        self.width, self.height = size
        self.y = self.height - MARGIN
        self.page = 1

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
        for line in v.lines:
            self.line_row(line.name, line.sku, line.unit_price, str(line.quantity), line.line_total)
        self.rule()
        for label, amount in v.totals:
            self.need(LINE)
            self.pdf.setFont(FONT, 10)
            self.pdf.drawRightString(MARGIN + COLUMNS[3][1], self.y, label)
            self.pdf.drawRightString(MARGIN + TOTAL_COLUMN[1], self.y, amount)
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

    def text(self, value: str, size: float = 10) -> None:
        from reportlab.lib.utils import simpleSplit

        for row in simpleSplit(value, FONT, size, self.width - 2 * MARGIN) or [""]:
            self.need(size + 5)
            self.pdf.setFont(FONT, size)
            self.pdf.drawString(MARGIN, self.y, row)
            self.y -= size + 5

    def pair(self, label: str, value: str) -> None:
        self.need(LINE)
        self.pdf.setFont(FONT, 10)
        self.pdf.drawString(MARGIN, self.y, label)
        self.pdf.drawString(MARGIN + 110, self.y, value)
        self.y -= LINE

    def gap(self) -> None:
        self.y -= LINE / 2

    def rule(self) -> None:
        self.pdf.line(MARGIN, self.y + LINE - 4, self.width - MARGIN, self.y + LINE - 4)
        self.y -= 4

    def table_heading(self) -> None:
        self.need(2 * LINE)
        self.pdf.setFont(FONT, 10)
        for heading, x, right in (*COLUMNS, TOTAL_COLUMN):
            (self.pdf.drawRightString if right else self.pdf.drawString)(MARGIN + x, self.y, heading)
        self.y -= LINE
        self.rule()

    def line_row(self, name: str, sku: str, unit_price: str, quantity: str, total: str) -> None:
        from reportlab.lib.utils import simpleSplit

        names = simpleSplit(name, FONT, 10, NAME_WIDTH) or [""]
        skus = simpleSplit(sku, FONT, 10, SKU_WIDTH) or [""]
        for index in range(max(len(names), len(skus))):
            self.need(LINE)
            self.pdf.setFont(FONT, 10)
            if index < len(names):
                self.pdf.drawString(MARGIN + COLUMNS[0][1], self.y, names[index])
            if index < len(skus):
                self.pdf.drawString(MARGIN + COLUMNS[1][1], self.y, skus[index])
            if index == 0:
                self.pdf.drawRightString(MARGIN + COLUMNS[2][1], self.y, unit_price)
                self.pdf.drawRightString(MARGIN + COLUMNS[3][1], self.y, quantity)
                self.pdf.drawRightString(MARGIN + TOTAL_COLUMN[1], self.y, total)
            self.y -= LINE

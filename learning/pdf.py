"""The certificate as a PDF (A4): reportlab with the Chinese font embedded (a subset of
CERTIFICATE_FONT, WenQuanYi Micro Hei from Debian by default), so it renders the same in
every reader, and a QR code of the verify URL."""

from __future__ import annotations

import io
import threading
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from learning.models import Certificate

FONT = "ZhixingCJK"
RED = Color(0.71, 0.11, 0.11)
_registered = threading.Lock()


def _font() -> str:
    with _registered:
        if FONT not in pdfmetrics.getRegisteredFontNames():
            path = str(settings.CERTIFICATE_FONT)
            index = int(settings.CERTIFICATE_FONT_INDEX)
            pdfmetrics.registerFont(TTFont(FONT, path, subfontIndex=index))
    return FONT


def _hours(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines of at most ``width`` points (Chinese wraps between any two characters)."""
    lines, line = [], ""
    for char in text:
        if pdfmetrics.stringWidth(line + char, font, size) > width and line:
            lines.append(line)
            line = char
        else:
            line += char
    return [*lines, line] if line else lines


def certificate_pdf(*, certificate: Certificate, verify_url: str) -> bytes:
    font = _font()
    buffer = io.BytesIO()
    width, height = A4
    pdf = Canvas(buffer, pagesize=A4, pageCompression=1)
    title = "结业证书" if certificate.kind == Certificate.Kind.PROGRAMME else "学时证明"
    pdf.setTitle(f"{title} {certificate.serial}")
    pdf.setAuthor(certificate.issuer)
    pdf.setSubject(title)

    pdf.setStrokeColor(RED)
    pdf.setLineWidth(3)
    pdf.rect(15 * mm, 15 * mm, width - 30 * mm, height - 30 * mm)
    pdf.setLineWidth(0.8)
    pdf.rect(18 * mm, 18 * mm, width - 36 * mm, height - 36 * mm)

    pdf.setFillColor(RED)
    pdf.setFont(font, 30)
    pdf.drawCentredString(width / 2, height - 55 * mm, title)
    pdf.setFillColorRGB(0.1, 0.1, 0.1)
    pdf.setFont(font, 12)
    pdf.drawCentredString(width / 2, height - 66 * mm, f"编号：{certificate.serial}")

    unit = f"（{certificate.unit_name}）" if certificate.unit_name else ""
    hours = _hours(certificate.hours)
    if certificate.kind == Certificate.Kind.PROGRAMME and certificate.programme is not None:
        body = (
            f"兹证明 {certificate.name}{unit} 参加“{certificate.programme.title}”专题培训，"
            f"完成 {certificate.lectures} 讲课程学习，累计获得 {hours} 学时，准予结业。"
        )
    else:
        body = (
            f"兹证明 {certificate.name}{unit} 于 {certificate.year} 年度参加在线学习，"
            f"完成 {certificate.lectures} 讲课程，累计获得 {hours} 学时。"
        )
    pdf.setFont(font, 16)
    y = height - 95 * mm
    for line in _wrap(body, font, 16, width - 70 * mm):
        pdf.drawString(35 * mm, y, line)
        y -= 11 * mm

    issued = timezone.localtime(certificate.issued_at)
    pdf.setFont(font, 14)
    pdf.drawRightString(width - 35 * mm, 95 * mm, certificate.issuer)
    pdf.drawRightString(width - 35 * mm, 85 * mm, f"{issued:%Y年%m月%d日}")

    size = 36 * mm
    widget = QrCodeWidget(verify_url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, 35 * mm, 40 * mm)
    pdf.setFont(font, 10)
    pdf.drawString(35 * mm, 34 * mm, "扫码或访问以下地址核验真伪：")
    pdf.drawString(35 * mm, 28 * mm, verify_url)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()

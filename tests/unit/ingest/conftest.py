"""Builders of small real documents (PDF via reportlab, DOCX via python-docx) under tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest


def write_pdf(path: Path, pages: Sequence[str], *, title: str = "", author: str = "") -> Path:
    """A real PDF with one text page per entry of ``pages`` ("" gives a page with only a drawing)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    if title:
        pdf.setTitle(title)
    if author:
        pdf.setAuthor(author)
    for text in pages:
        if text:
            y = 800
            for line in text.split("\n"):
                pdf.drawString(72, y, line)
                y -= 14
        else:
            pdf.rect(72, 600, 200, 100, fill=1)  # ink but no text, like a scanned page
        pdf.showPage()
    pdf.save()
    return path


@pytest.fixture
def make_pdf(tmp_path: Path) -> Callable[..., Path]:
    """``make_pdf(name, pages, title=..., author=...)`` writes a PDF into tmp_path."""

    def make(name: str, pages: Sequence[str], **meta: str) -> Path:
        return write_pdf(tmp_path / name, pages, **meta)

    return make

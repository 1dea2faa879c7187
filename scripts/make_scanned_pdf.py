"""Make an image-only ("scanned") copy of a PDF: every page rendered to a picture, no text layer.

Pages are rendered with pdfium (pypdfium2) at the given resolution in grey, then written back
as a PDF whose pages are nothing but those pictures (pdfium again: each page gets one image
object the size of the page). The copy reads like a scan to citewise: pypdf finds no text on
any page, so every page goes through OCR. Used by the OCR tests and benchmark on
``data/corpus/skarvik_history.pdf``::

    .venv/bin/python scripts/make_scanned_pdf.py data/corpus/skarvik_history.pdf /tmp/scanned.pdf
"""

from __future__ import annotations

import argparse
from pathlib import Path


def make_scanned(source: Path, target: Path, *, dpi: int = 200) -> int:
    """Write an image-only copy of ``source`` to ``target``; returns the number of pages."""
    import pypdfium2 as pdfium

    original = pdfium.PdfDocument(str(source))
    scanned = pdfium.PdfDocument.new()
    try:
        for index in range(len(original)):
            page = original[index]
            width, height = page.get_size()
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            image = pdfium.PdfImage.new(scanned)
            image.set_bitmap(bitmap)
            image.set_matrix(pdfium.PdfMatrix().scale(width, height))
            new_page = scanned.new_page(width, height)
            new_page.insert_obj(image)
            new_page.gen_content()
            bitmap.close()
            page.close()
            new_page.close()
        scanned.save(str(target))
        return len(original)
    finally:
        scanned.close()
        original.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--dpi", type=int, default=200, help="resolution of the page pictures")
    args = parser.parse_args()
    pages = make_scanned(args.source, args.target, dpi=args.dpi)
    print(f"{args.target}: {pages} image-only pages at {args.dpi} dpi")


if __name__ == "__main__":
    main()

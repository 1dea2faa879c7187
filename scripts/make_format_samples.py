"""Build sample files of every format citewise reads beyond PDF/DOCX/HTML/Markdown/text.

A deck (.pptx), a workbook (.xlsx), a CSV, an e-book (.epub) and an e-mail (.eml) with a PDF and
a text attachment, each holding facts from the sample corpus's fictional island of Vesterholm
that appear nowhere else; plus one broken file of each kind. The facts (and where each sits)
are listed in :data:`FACTS`, which the tests read. Nothing is committed: the tests build the
files under their tmp_path (needs python-pptx, openpyxl and, for the PDF attachment, reportlab).

    .venv/bin/python scripts/make_format_samples.py --out /tmp/samples
"""

from __future__ import annotations

import argparse
import csv
import io
import zipfile
from email.message import EmailMessage
from pathlib import Path

# file -> (question, answer words, location label the citation must show)
FACTS: dict[str, tuple[str, str, str]] = {
    "fisheries_briefing.pptx": (
        "How many spawning shoals did the winter herring survey of 1957 count?",
        "18 spawning shoals",
        "slide 3",
    ),
    "landings.xlsx": (
        "How many tonnes of ling were landed at Kvernodden in 1961?",
        "1375",
        "sheet Landings, rows",
    ),
    "stations.csv": (
        "What is the depth of hydrographic station K-17?",
        "412",
        "rows",
    ),
    "rustad_memoir.epub": (
        "When did the Måken lose her foremast?",
        "9 March 1926",
        "chapter 2",
    ),
    "reef_budget.eml": (
        "How much did the 1938 reef survey cost?",
        "6,400 kroner",
        "message",
    ),
}
# The PDF attached to the e-mail, stored as a document of its own.
ATTACHMENT_FACT = ("What coral cover did the 1938 reef report measure?", "37 percent", "reef_report.pdf")
BROKEN = {
    "broken.pptx": b"PK\x03\x04 not really a zip archive",
    "broken.xlsx": b"this is a text file renamed to .xlsx\n",
    "broken.csv": b"\x00\x01\x02\x03" * 400,
    "broken.eml": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
}

_LANDINGS = [
    ("Year", "Species", "Harbour", "Tonnes"),
    *[
        (1950 + i % 12, sp, hb, 300 + 37 * i)
        for i, (sp, hb) in enumerate([("Cod", "Brennøy"), ("Herring", "Lillefjord")] * 12)
    ],
    (1961, "Ling", "Kvernodden", 1375),
    (1962, "Ling", "Kvernodden", 1240),
]
_STATIONS = [
    ("Station", "Depth (m)", "Temperature (C)", "Salinity (PSU)"),
    *[(f"K-{n:02d}", 100 + 13 * n, round(4.0 + n / 10, 1), round(34.0 + n / 100, 2)) for n in range(1, 17)],
    ("K-17", 412, 3.2, 35.1),
    *[(f"K-{n:02d}", 90 + 11 * n, round(5.0 + n / 10, 1), round(33.9 + n / 100, 2)) for n in range(18, 40)],
]


def build_pptx(target: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = "Vesterholm Fisheries Briefing"
    slides = [
        ("Vesterholm Fisheries Briefing", "Prepared for the NOSA council, spring 1958", ""),
        ("Cod Quotas", "The cod quota for Vesterbanken was set at 4,200 tonnes in 1956.", ""),
        (
            "Herring Surveys",
            "Winter surveys resumed after the war with two chartered boats.",
            "The winter herring survey of 1957 counted 18 spawning shoals west of Brennøy.",
        ),
    ]
    for title, body, notes in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Catch by Harbour"
    table = slide.shapes.add_table(3, 3, Inches(1), Inches(2), Inches(6), Inches(1.5)).table
    for r, row in enumerate(
        [("Harbour", "1956", "1957"), ("Brennøy", "2,100", "2,350"), ("Lillefjord", "880", "910")]
    ):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    deck.save(str(target))


def build_xlsx(target: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Landings"
    for row in _LANDINGS:
        sheet.append(list(row))
    vessels = book.create_sheet("Vessels")
    for row in [("Vessel", "Built", "Length (m)"), ("Havørn", 1929, 38), ("Måken", 1911, 16)]:
        vessels.append(list(row))
    book.properties.title = "Landings at Vesterholm harbours"
    book.save(str(target))


def build_csv(target: Path) -> None:
    with target.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(_STATIONS)


_CHAPTERS = [
    ("Departure", "We left Brennøy at first light with a crew of five and salt for three weeks."),
    (
        "The Storm",
        "On the third night the wind turned north-west. The Måken lost her foremast on 9 March 1926, "
        "and we ran before the sea under the mizzen alone until dawn.",
    ),
    ("Return", "We came home to Brennøy on 21 March with half a hold of cod and a borrowed mast."),
]


def build_epub(target: Path) -> None:
    """A minimal EPUB 3: mimetype, container, package document, nav, one XHTML file per chapter."""
    with zipfile.ZipFile(target, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        book.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        items = "".join(
            f'<item id="c{n}" href="chapter{n}.xhtml" media-type="application/xhtml+xml"/>'
            for n in range(1, len(_CHAPTERS) + 1)
        )
        spine = "".join(f'<itemref idref="c{n}"/>' for n in range(1, len(_CHAPTERS) + 1))
        book.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">rustad-memoir</dc:identifier>'
            "<dc:title>A Skipper's Memoir</dc:title><dc:creator>Olav Rustad</dc:creator><dc:date>1949</dc:date>"
            '<dc:language>en</dc:language></metadata><manifest><item id="nav" href="nav.xhtml" '
            f'media-type="application/xhtml+xml" properties="nav"/>{items}</manifest><spine>{spine}</spine></package>',
        )
        links = "".join(
            f'<li><a href="chapter{n}.xhtml">Chapter {n}: {title}</a></li>'
            for n, (title, _) in enumerate(_CHAPTERS, 1)
        )
        book.writestr("OEBPS/nav.xhtml", _xhtml("Contents", f'<nav epub:type="toc"><ol>{links}</ol></nav>'))
        for n, (title, text) in enumerate(_CHAPTERS, 1):
            book.writestr(f"OEBPS/chapter{n}.xhtml", _xhtml(title, f"<h1>{title}</h1><p>{text}</p>"))


def _xhtml(title: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml" '
        f'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>{title}</title></head><body>{body}</body></html>'
    )


def _report_pdf() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.drawString(72, 780, "Aasen Reef Survey 1938: Report")
    pdf.drawString(
        72, 760, "The dredge samples of 1938 measured a living coral cover of 37 percent on the reef crest."
    )
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def build_eml(target: Path) -> None:
    message = EmailMessage()
    message["From"] = "Sigrid Aasen <s.aasen@skarvik.example>"
    message["To"] = "Per Eikrem <p.eikrem@skarvik.example>"
    message["Date"] = "Mon, 14 Nov 1938 09:30:00 +0100"
    message["Subject"] = "Reef survey budget"
    message.set_content(
        "Per,\n\nThe 1938 reef survey cost 6,400 kroner in all, most of it the Havørn's fuel and the "
        "new dredge. The full report is attached.\n\nSigrid\n"
    )
    message.add_attachment(_report_pdf(), maintype="application", subtype="pdf", filename="reef_report.pdf")
    message.add_attachment("Dredge log kept by the deckhand.", filename="dredge_log.txt")
    message.add_attachment(
        b"not a word document", maintype="application", subtype="octet-stream", filename="minutes.docx"
    )
    message.add_attachment(
        b"\xff\xd8\xff\xe0 jpeg bytes", maintype="image", subtype="jpeg", filename="reef.jpg"
    )
    target.write_bytes(bytes(message))


def build_broken_epub(target: Path) -> None:
    """A zip archive that is no EPUB: it has no META-INF/container.xml."""
    with zipfile.ZipFile(target, "w") as book:
        book.writestr("mimetype", "application/epub+zip")
        book.writestr("OEBPS/chapter1.xhtml", _xhtml("Lost", "<p>orphan chapter</p>"))


def build_all(out: Path, *, broken: bool = True) -> dict[str, Path]:
    """Write every sample (and, with ``broken``, the broken ones) into ``out``; name -> path."""
    out.mkdir(parents=True, exist_ok=True)
    builders = {
        "fisheries_briefing.pptx": build_pptx,
        "landings.xlsx": build_xlsx,
        "stations.csv": build_csv,
        "rustad_memoir.epub": build_epub,
        "reef_budget.eml": build_eml,
    }
    written = {}
    for name, build in builders.items():
        build(out / name)
        written[name] = out / name
    if broken:
        for name, data in BROKEN.items():
            (out / name).write_bytes(data)
            written[name] = out / name
        build_broken_epub(out / "broken.epub")
        written["broken.epub"] = out / "broken.epub"
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the samples into")
    parser.add_argument("--no-broken", action="store_true", help="leave out the broken files")
    args = parser.parse_args()
    for name, path in build_all(args.out, broken=not args.no_broken).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()

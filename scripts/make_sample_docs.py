"""Build the two binary documents of the sample corpus: a four-page PDF and a DOCX.

Run from the repository root (needs the ``dev`` extra for reportlab)::

    .venv/bin/python scripts/make_sample_docs.py [--out data/corpus]

The texts live here, so the generated files can be rebuilt at any time; the outputs are
committed so tests and users need neither reportlab nor this script. The facts planted in
them are listed in ``data/QUESTIONS.md``: keep the two in step.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

PDF_NAME = "skarvik_history.pdf"
DOCX_NAME = "annual_report_1938.docx"

PDF_TITLE = "A Short History of the Skarvik Marine Institute"
PDF_AUTHOR = "Marta Solheim"
PDF_CREATED = "D:20190612101500+02'00'"
PDF_MODIFIED = "D:20200203143000+01'00'"

# One entry per page: (heading, paragraphs). Some facts appear on one page only.
PDF_PAGES: list[tuple[str, list[str]]] = [
    (
        "1. Founding (1923-1926)",
        [
            "The Skarvik Marine Institute was founded on 14 May 1923 by the marine biologist Ingrid "
            "Halvorsen in Brennøy, a harbour town on the island of Vesterholm. For its first year the "
            "institute worked from two rented rooms above the harbour master's office, with one "
            "microscope, a borrowed rowing boat and three assistants paid from Halvorsen's own savings.",
            "Brennøy Savings Bank funded the institute's first laboratory building, a two-storey timber "
            "house on the quay that opened in October 1924. The bank's chairman, Johan Meldal, insisted "
            "that the building should also hold a public aquarium, and schoolchildren from the whole "
            "island were brought to see it every spring.",
            "Halvorsen chose Brennøy because the cold Vesterbanken current meets warmer coastal water "
            "only a few kilometres from the harbour. The mixing of the two waters made the bay one of "
            "the richest feeding grounds for cod and herring on the coast, and she wanted a station "
            "where fish could be studied within hours of being caught.",
            "In the early years the institute kept daily records of sea temperature, salinity and "
            "plankton counts. These series, begun in June 1923, continue without a break to this day "
            "and are the oldest unbroken ocean records in the region.",
        ],
    ),
    (
        "2. The Agency Years (1927-1936)",
        [
            "The Nordic Ocean Survey Agency (NOSA) was established in Trondheim in 1927 to coordinate "
            "fisheries research along the northern coasts. NOSA had no laboratories of its own at "
            "first, and its director-general soon turned to the small station on Vesterholm.",
            "In 1929 NOSA paid for the research vessel Havørn, the first ship in the region built for "
            "science rather than fishing. Two years later, in 1931, NOSA made the institute its "
            "northern field station and took over half of the running costs. The agreement was "
            "renewed every five years until 1961.",
            "Halvorsen had married the glaciologist Aksel Brandt in 1919, four years before the "
            "institute was founded. Brandt set up a weather station on the roof of the laboratory in "
            "1925, and his wind and ice observations were printed next to Halvorsen's fish counts in "
            "the institute's yearly bulletin.",
            "The chemist Sigrid Aasen joined the staff in 1931, the same year as the NOSA agreement. "
            "Aasen built the first oxygen laboratory on the island and trained a generation of "
            "technicians in titration methods that NOSA later adopted for all of its stations.",
        ],
    ),
    (
        "3. Discoveries and Succession (1937-1948)",
        [
            "In August 1937 Sigrid Aasen discovered a deep-water coral reef west of Vesterholm while "
            "testing a new dredge from the Havørn. The reef lies at a depth of 312 metres and covers "
            "about four square kilometres. It was named the Aasen Reef in 1939 and was the first "
            "cold-water coral reef described from these waters.",
            "Aasen's samples showed that the reef sheltered young redfish and ling, and she argued "
            "that trawling near it should be banned. The ban she asked for came only in 1952, but "
            "her survey maps were used to draw its borders.",
            "During the war years the institute kept working on a reduced scale. The Havørn was laid "
            "up in Brennøy harbour from 1940 to 1945, and the staff continued the daily sea records "
            "from the quay with a hand-operated winch.",
            "In 1948 Per Eikrem succeeded Halvorsen as director. Eikrem had been NOSA's chief "
            "hydrographer, and he brought the institute its first echo sounder the following year.",
        ],
    ),
    (
        "4. Later Years (1949-1975)",
        [
            "Under Eikrem the institute grew from nine to twenty-six staff. He opened a hatchery for "
            "cod larvae in 1954 and started the winter herring surveys that the institute still runs "
            "every January.",
            "Sigrid Aasen became director in 1961, when Eikrem retired. She led the institute until "
            "1972 and was the first director to publish its research in English as well as Norwegian.",
            "Ingrid Halvorsen died in Brennøy in 1967. Her notebooks, together with Aksel Brandt's "
            "weather diaries, are kept in the institute's archive, which today holds about 4,200 "
            "logbooks and field journals.",
            "In 1975 the institute moved from the quay to a new building at Kvernodden, two kilometres "
            "north of the town centre. The old timber laboratory now houses the Brennøy town museum.",
        ],
    ),
]

DOCX_TITLE = "Skarvik Marine Institute: Annual Report for 1938"
DOCX_AUTHOR = "Ingrid Halvorsen"
DOCX_CREATED = datetime(2021, 1, 15, 9, 30, tzinfo=timezone.utc)
DOCX_MODIFIED = datetime(2021, 3, 2, 14, 0, tzinfo=timezone.utc)

# (heading level, heading text, paragraphs); level 0 means body text without a heading.
DOCX_SECTIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "Director's Summary",
        [
            "The year 1938 was the busiest in the history of the institute. Our total budget was "
            "48,500 kroner, of which NOSA contributed 30,000 kroner and Brennøy Savings Bank 5,000 "
            "kroner; the rest came from the sale of water analyses to the fishing cooperatives.",
            "The Havørn spent 141 days at sea, more than in any earlier year.",
        ],
    ),
    (1, "Research", []),
    (
        2,
        "The Aasen Reef Survey",
        [
            "Following last year's discovery, Sigrid Aasen led four return cruises to the reef. The "
            "team mapped its northern edge and brought home 14 coral samples, which are kept in "
            "seawater tanks in the basement of the laboratory.",
        ],
    ),
    (
        2,
        "Fisheries Programme",
        [
            "At Vesterbanken we tagged 2,300 cod with numbered copper tags. By December 412 tags had "
            "been returned by fishermen, most of them from the Lofoten winter fishery.",
        ],
    ),
    (1, "Staff", ["The permanent staff at the end of 1938:"]),
]

DOCX_STAFF: list[tuple[str, str, str]] = [
    ("Name", "Role", "Joined"),
    ("Ingrid Halvorsen", "Director", "1923"),
    ("Aksel Brandt", "Weather station keeper", "1925"),
    ("Sigrid Aasen", "Marine chemist", "1931"),
    ("Per Eikrem", "Hydrographer", "1936"),
]


def build_pdf(target: Path) -> None:
    """Write the four-page history PDF with title, author and fixed dates."""
    from pypdf import PdfReader, PdfWriter
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    story: list = [Paragraph(PDF_TITLE, styles["Title"])]
    for number, (heading, paragraphs) in enumerate(PDF_PAGES):
        if number:
            story.append(PageBreak())
        story.append(Paragraph(heading, styles["Heading2"]))
        for text in paragraphs:
            story.extend([Paragraph(text, styles["BodyText"]), Spacer(1, 6)])
    draft = target.with_suffix(".draft.pdf")
    doc = SimpleDocTemplate(str(draft), pagesize=A4, title=PDF_TITLE, author=PDF_AUTHOR, invariant=1)
    doc.build(story)
    writer = PdfWriter(clone_from=PdfReader(draft))
    writer.add_metadata({"/CreationDate": PDF_CREATED, "/ModDate": PDF_MODIFIED})
    with target.open("wb") as handle:
        writer.write(handle)
    draft.unlink()


def build_docx(target: Path) -> None:
    """Write the 1938 annual report with heading styles, a staff table and core properties."""
    import docx

    document = docx.Document()
    document.add_heading(DOCX_TITLE, level=0)
    for level, heading, paragraphs in DOCX_SECTIONS:
        if level:
            document.add_heading(heading, level=level)
        for text in paragraphs:
            document.add_paragraph(text)
    table = document.add_table(rows=0, cols=3)
    for row in DOCX_STAFF:
        cells = table.add_row().cells
        for cell, value in zip(cells, row):
            cell.text = value
    document.add_paragraph("Brennøy, 20 January 1939.")
    props = document.core_properties
    props.title, props.author = DOCX_TITLE, DOCX_AUTHOR
    props.created, props.modified = DOCX_CREATED, DOCX_MODIFIED
    props.last_modified_by = DOCX_AUTHOR
    document.save(str(target))
    _freeze_zip_timestamps(target)


def _freeze_zip_timestamps(path: Path) -> None:
    """Rewrite the archive with fixed member timestamps so a rebuild gives identical bytes."""
    import zipfile

    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info, data in members:
            frozen = zipfile.ZipInfo(info.filename, date_time=(2021, 1, 15, 9, 30, 0))
            frozen.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(frozen, data)


def main() -> None:
    """Parse arguments and write both files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/corpus"), help="output folder")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    build_pdf(args.out / PDF_NAME)
    build_docx(args.out / DOCX_NAME)
    print(f"wrote {args.out / PDF_NAME} and {args.out / DOCX_NAME}")


if __name__ == "__main__":
    main()

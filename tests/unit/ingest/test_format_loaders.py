"""Loaders for slides, spreadsheets, CSV, e-books and e-mail, on files built by the repo's script."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from ingest.base import ExtractOptions, LoaderError
from ingest.isolation import ParserPool, load_isolated
from ingest.loaders import load_document
from retrieval.locations import location_label

REPO = Path(__file__).resolve().parents[3]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_format_samples", REPO / "scripts" / "make_format_samples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _script().build_all(tmp_path_factory.mktemp("formats"))  # type: ignore[no-any-return]


def test_pptx_slides_are_pages_with_titles_notes_and_tables(samples: dict[str, Path]) -> None:
    doc = load_document(samples["fisheries_briefing.pptx"])
    assert (doc.file_type, doc.pages, doc.title) == ("pptx", 4, "Vesterholm Fisheries Briefing")
    by_slide = {(b.page, b.kind): b for b in doc.blocks}
    notes = by_slide[(3, "text")]
    assert notes.section == "Herring Surveys"
    assert "Notes:\nThe winter herring survey of 1957 counted 18 spawning shoals" in notes.text
    table = by_slide[(4, "table")]
    assert table.text.split("\n") == [
        "Table: Harbour | 1956 | 1957",
        "Harbour: Brennøy | 1956: 2,100 | 1957: 2,350",
        "Harbour: Lillefjord | 1956: 880 | 1957: 910",
    ]
    assert location_label("pptx", 3, 3) == "slide 3" and location_label("pptx", 2, 4) == "slides 2-4"


def test_xlsx_sheets_are_sections_and_rows_are_locations(samples: dict[str, Path]) -> None:
    doc = load_document(samples["landings.xlsx"], max_pages=1)  # max_pages does not cut rows
    assert doc.file_type == "xlsx" and doc.pages == 2
    landings, vessels = doc.blocks
    assert (landings.section, landings.kind, landings.page, landings.row_step) == ("Landings", "table", 2, 1)
    lines = landings.text.split("\n")
    assert lines[0] == "Table: Year | Species | Harbour | Tonnes"
    assert len(lines) == 1 + 26
    ling = lines.index("Year: 1961 | Species: Ling | Harbour: Kvernodden | Tonnes: 1375")
    assert landings.page + (ling - 1) == 26  # sheet row 26 holds the 1961 ling landing
    assert vessels.section == "Vessels" and "Vessel: Havørn | Built: 1929 | Length (m): 38" in vessels.text
    assert location_label("xlsx", 20, 27, "Landings") == "sheet Landings, rows 20-27"


def test_csv_rows_keep_their_record_numbers_and_header(samples: dict[str, Path]) -> None:
    doc = load_document(samples["stations.csv"])
    (block,) = doc.blocks
    lines = block.text.split("\n")
    assert lines[0] == "Table: Station | Depth (m) | Temperature (C) | Salinity (PSU)"
    k17 = lines.index("Station: K-17 | Depth (m): 412 | Temperature (C): 3.2 | Salinity (PSU): 35.1")
    assert block.page + (k17 - 1) == 18  # record 18 (the header is record 1)
    assert location_label("csv", 18, 18) == "row 18"


def test_csv_blank_rows_start_a_new_block_so_row_numbers_stay_exact(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("Name;Value\na;1\nb;2\n\nc;3\n", encoding="utf-8")
    doc = load_document(path)
    assert [(b.page, b.text.split("\n")[1:]) for b in doc.blocks] == [
        (2, ["Name: a | Value: 1", "Name: b | Value: 2"]),
        (5, ["Name: c | Value: 3"]),
    ]


def test_epub_chapters_in_spine_order(samples: dict[str, Path]) -> None:
    doc = load_document(samples["rustad_memoir.epub"])
    assert (doc.file_type, doc.title, doc.author, doc.pages) == (
        "epub",
        "A Skipper's Memoir",
        "Olav Rustad",
        3,
    )
    assert [(b.page, b.section) for b in doc.blocks] == [
        (1, "Chapter 1: Departure"),
        (2, "Chapter 2: The Storm"),
        (3, "Chapter 3: Return"),
    ]
    assert "lost her foremast on 9 March 1926" in doc.blocks[1].text
    assert location_label("epub", 2, 2, "Chapter 2: The Storm") == "chapter 2"


def test_eml_headers_body_and_attachments(samples: dict[str, Path]) -> None:
    doc = load_document(samples["reef_budget.eml"])
    assert (doc.file_type, doc.title) == ("eml", "Reef survey budget")
    assert doc.author == "Sigrid Aasen <s.aasen@skarvik.example>"
    assert doc.created == "1938-11-14T09:30:00+01:00"
    (body,) = doc.blocks
    assert body.text.startswith("From: Sigrid Aasen") and "cost 6,400 kroner" in body.text
    names = [a.path for a in doc.attachments]
    assert names == [
        samples["reef_budget.eml"] / "reef_report.pdf",
        samples["reef_budget.eml"] / "dredge_log.txt",
    ]
    pdf = doc.attachments[0]
    assert pdf.file_type == "pdf" and "coral cover of 37 percent" in pdf.text and pdf.blocks[0].page == 1
    assert doc.failed_attachments == (
        ("minutes.docx", "not a valid .docx (zip) file: File is not a zip file"),
    )
    assert "attachment 'reef.jpg' not read: unsupported file type" in doc.warnings
    assert location_label("eml", None, None, "Reef survey budget") == "message"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken.pptx", "not a valid .pptx (zip) file: File is not a zip file"),
        ("broken.xlsx", "not a valid .xlsx (zip) file: File is not a zip file"),
        ("broken.csv", "looks binary (NUL bytes or mostly non-printable), not text"),
        ("broken.epub", "not a readable .epub: KeyError"),
        ("broken.eml", "not an e-mail message (binary content)"),
    ],
)
def test_broken_files_fail_with_their_reason(samples: dict[str, Path], name: str, reason: str) -> None:
    with pytest.raises(LoaderError) as err:
        load_document(samples[name])
    assert err.value.reason.startswith(reason) and err.value.path == str(samples[name])


def test_every_format_through_the_isolated_worker(samples: dict[str, Path]) -> None:
    """Documents (with attachments and block kinds) survive the worker's JSON round trip."""
    with ParserPool(size=1) as pool:
        for name in ("fisheries_briefing.pptx", "landings.xlsx", "rustad_memoir.epub", "reef_budget.eml"):
            local = load_document(samples[name])
            remote = load_isolated(samples[name], timeout_s=60, memory_mb=1024, pool=pool)
            assert remote == local, name
        with pytest.raises(LoaderError, match="not a valid .xlsx"):
            load_isolated(samples["broken.xlsx"], timeout_s=60, memory_mb=1024, pool=pool)


def test_docx_and_html_tables_follow_the_tables_switch(sample_corpus_dir: Path) -> None:
    docx = load_document(sample_corpus_dir / "annual_report_1938.docx")
    (staff,) = [b for b in docx.blocks if b.kind == "table"]
    assert "Name: Per Eikrem | Role: Hydrographer | Joined: 1936" in staff.text.split("\n")
    plain = load_document(sample_corpus_dir / "annual_report_1938.docx", options=ExtractOptions(tables=False))
    assert all(b.kind == "text" for b in plain.blocks) and "Per Eikrem | Hydrographer | 1936" in plain.text
    html = load_document(sample_corpus_dir / "havorn.html")
    (captains,) = [b for b in html.blocks if b.kind == "table"]
    assert captains.section == "RV Havørn > Service > Captains"
    assert "Captain: Tormod Vik | Years: 1929–1946" in captains.text.split("\n")

"""Contextual chunk headers: document label, page headings, and the window guarantee."""

from __future__ import annotations

from pathlib import Path

from ingest.base import LoadedDocument, TextBlock
from ingest.context import ContextualHeaders, document_label, page_headings, registrant
from retrieval.base import Chunk

COVER = """UNITED STATES SECURITIES AND EXCHANGE COMMISSION
Washington, D.C. 20549
FORM 10-K
For the fiscal year ended December 31, 2018
Commission file number 1-3285
3M COMPANY
(Exact name of registrant as specified in its charter)
Delaware"""
CASH_FLOW = """Table of Contents
56
3M Company and Subsidiaries
Consolidated Statement of Cash Flows
Years ended December 31
Purchases of property, plant and equipment (PP&E) (1,577) (1,373) (1,420)"""


def _doc(blocks: list[TextBlock], title: str = "") -> LoadedDocument:
    return LoadedDocument(path=Path("3M_2018_10K.pdf"), file_type="pdf", blocks=tuple(blocks), title=title)


def _chunk(text: str, page: int | None, n_tokens: int, section: str = "") -> Chunk:
    return Chunk(
        id="c",
        doc_id="d",
        text=text,
        source="s",
        file_name="3M_2018_10K.pdf",
        file_type="pdf",
        page_start=page,
        page_end=page,
        section=section,
        n_tokens=n_tokens,
    )


def test_page_heading_is_the_first_two_worded_lines_skipping_links_and_numbers() -> None:
    headings = page_headings([TextBlock(COVER, page=1), TextBlock(CASH_FLOW, page=57)])
    assert headings[57] == "3M Company and Subsidiaries Consolidated Statement of Cash Flows"
    # "Washington, D.C. 20549" and "FORM 10-K" have fewer than two words of letters.
    assert headings[1] == (
        "UNITED STATES SECURITIES AND EXCHANGE COMMISSION For the fiscal year ended December 31, 2018"
    )


def test_registrant_is_the_line_before_the_exact_name_phrase() -> None:
    assert registrant(COVER) == "3M COMPANY"
    assert registrant("Acme Corp. (Exact name of registrant as specified in its charter)") == "Acme Corp."
    assert registrant("A memo about kelp") == ""


def test_document_label_names_registrant_file_form_and_period() -> None:
    label = document_label(_doc([TextBlock(COVER, page=1)], title="mmm-20181231x10k.htm"), "3M_2018_10K.pdf")
    assert label == "3M COMPANY, 3M 2018 10K, Form 10-K, period ending 2018"


def test_embedded_text_gets_the_header_unless_the_window_would_overflow() -> None:
    doc = _doc([TextBlock(COVER, page=1), TextBlock(CASH_FLOW, page=57)])
    headers = ContextualHeaders(
        doc, "3M_2018_10K.pdf", count_tokens=lambda t: len(t.split()) + 2, max_tokens=64
    )
    row = _chunk("Purchases of property, plant and equipment (PP&E) (1,577)", 57, n_tokens=12)
    assert headers.text(row) == (
        "3M COMPANY, 3M 2018 10K, Form 10-K, period ending 2018. "
        "3M Company and Subsidiaries Consolidated Statement of Cash Flows\n"
        "Purchases of property, plant and equipment (PP&E) (1,577)"
    )
    too_long = _chunk("x " * 50, 57, n_tokens=50)
    assert headers.text(too_long) == too_long.text


def test_unpaged_chunks_take_their_heading_path() -> None:
    doc = LoadedDocument(path=Path("havorn.html"), file_type="html", blocks=(TextBlock("RV Havørn text"),))
    headers = ContextualHeaders(doc, "havorn.html", count_tokens=lambda t: len(t.split()), max_tokens=256)
    chunk = _chunk("She was 38 metres long.", None, 6, section="RV Havørn > Construction")
    assert headers.header(chunk) == "havorn. RV Havørn, Construction"

"""Location labels per document kind, the OCR mark, and the docstore keeping both across versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from retrieval.base import Chunk
from retrieval.chain import Citation
from retrieval.locations import locate, location_label
from retrieval.vectorstores.docstore import DocumentRecord, SQLiteDocStore


@pytest.mark.parametrize(
    ("file_type", "start", "end", "section", "kind", "label"),
    [
        ("pdf", 3, 3, "", "page", "p. 3"),
        ("pdf", 3, 5, "", "page", "pp. 3-5"),
        ("docx", None, None, "Staff", "", ""),
        ("pptx", 2, 2, "Cod Quotas", "slide", "slide 2"),
        ("pptx", 2, 4, "", "slide", "slides 2-4"),
        ("xlsx", 12, 20, "Landings", "rows", "sheet Landings, rows 12-20"),
        ("xlsx", 7, 7, "Landings", "rows", "sheet Landings, row 7"),
        ("csv", 2, 9, "", "rows", "rows 2-9"),
        ("epub", 4, 4, "Chapter 4: Home", "chapter", "chapter 4"),
        ("eml", None, None, "Reef survey budget", "message", "message"),
    ],
)
def test_each_kind_names_its_location(
    file_type: str, start: int | None, end: int | None, section: str, kind: str, label: str
) -> None:
    where = locate(file_type, start, end, section)
    assert (where.kind, where.label) == (kind, label)


def test_ocr_is_named_in_labels_and_citations() -> None:
    assert location_label("pdf", 2, 2, ocr=True) == "p. 2 (OCR)"
    chunk = Chunk(
        id="c",
        doc_id="d",
        text="t",
        source="/s/scan.pdf",
        file_name="scan.pdf",
        file_type="pdf",
        page_start=2,
        page_end=2,
        ocr=True,
    )
    assert chunk.location_label() == "p. 2 (OCR)"
    citation = Citation(1, "c", "/s/scan.pdf", "scan.pdf", 2, 2, "snippet", file_type="pdf", ocr=True)
    assert citation.label() == "scan.pdf p. 2 (OCR)"
    old_style = Citation(1, "c", "/s/a.pdf", "a.pdf", 1, 3, "s")  # positional, as before: still pages
    assert old_style.label() == "a.pdf pp. 1-3"
    deck = Citation(1, "c", "/s/d.pptx", "d.pptx", 3, 3, "s", file_type="pptx", section="Herring")
    assert deck.label() == "d.pptx slide 3"


def _record(doc_id: str) -> DocumentRecord:
    return DocumentRecord(
        doc_id=doc_id,
        source=f"/s/{doc_id}.pdf",
        file_name=f"{doc_id}.pdf",
        file_type="pdf",
        content_hash="h",
        ingested_at=1.0,
    )


def test_the_docstore_keeps_the_ocr_mark_and_upgrades_an_older_index(tmp_path: Path) -> None:
    path = tmp_path / "docstore.sqlite"
    store = SQLiteDocStore(path)
    chunk = Chunk(
        id="d1-c",
        doc_id="d1",
        text="recognised",
        source="/s/d1.pdf",
        file_name="d1.pdf",
        file_type="pdf",
        page_start=1,
        page_end=1,
        ocr=True,
    )
    with store.transaction() as conn:
        store.replace_document(conn, _record("d1"), [chunk], np.ones((1, 4), dtype=np.float32))
    assert store.chunks_by_id(["d1-c"])["d1-c"].ocr is True
    store.close()
    # an index written before the column existed: drop it, as an older release would have no such column
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE chunks DROP COLUMN ocr")
    read_only = SQLiteDocStore(path, read_only=True)
    assert read_only.chunks_by_id(["d1-c"])["d1-c"].ocr is False  # readable as it is, nothing marked
    read_only.close()
    upgraded = SQLiteDocStore(path)
    assert upgraded.chunks_by_id(["d1-c"])["d1-c"].text == "recognised"  # data kept, column added
    assert {r[1] for r in upgraded._conn.execute("PRAGMA table_info(chunks)")} >= {"ocr"}
    upgraded.close()

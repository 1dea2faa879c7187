"""Tables as labelled rows: rendering, the PDF table finder on a generated table, and chunking."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.base import ExtractOptions, LoadedDocument, TextBlock
from ingest.chunking import DocumentInfo, TokenChunker
from ingest.loaders import load_document
from ingest.tables import looks_tabular, render_rows, render_table

COLUMNS = ["Q1 2023", "Q2 2023", "Q3 2023", "Q4 2023"]
ROWS = {
    "Net sales": ["12,418", "13,022", "14,957", "15,310"],
    "Cost of sales": ["(7,205)", "(7,611)", "(8,840)", "(9,002)"],
    "Research and development": ["1,902", "1,955", "2,001", "2,117"],
    "Operating income": ["3,311", "3,456", "4,116", "4,191"],
    "Net income": ["2,575", "2,688", "3,203", "3,260"],
}


def write_table_pdf(path: Path) -> Path:
    """A born-digital PDF: a heading, a ruled table with row labels and column headers, a footnote."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    data = [["", *COLUMNS], *[[label, *values] for label, values in ROWS.items()]]
    table = Table(data)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    story = [
        Paragraph("Condensed statement of operations (in thousands)", styles["Heading2"]),
        Spacer(1, 12),
        table,
        Spacer(1, 12),
        Paragraph("Figures are unaudited and rounded to the nearest thousand.", styles["Normal"]),
    ]
    SimpleDocTemplate(str(path), pagesize=A4, invariant=1).build(story)
    return path


def _row_lines(text: str) -> dict[str, str]:
    lines = text.split("\n")[1:]
    return {line.split(" | ", 1)[0]: line for line in lines}


def test_every_cell_of_a_generated_pdf_table_keeps_its_row_and_column_labels(tmp_path: Path) -> None:
    doc = load_document(write_table_pdf(tmp_path / "statement.pdf"), options=ExtractOptions(ocr=False))
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 1 and tables[0].page == 1
    header, *_ = tables[0].text.split("\n")
    assert header == "Table: " + " | ".join(COLUMNS)
    rows = _row_lines(tables[0].text)
    assert set(rows) == set(ROWS)
    for label, values in ROWS.items():
        for column, value in zip(COLUMNS, values):
            assert f" | {column}: {value}" in rows[label] or rows[label].endswith(f"{column}: {value}")
    prose = "\n".join(b.text for b in doc.blocks if b.kind == "text")
    assert "Condensed statement of operations" in prose and "rounded to the nearest thousand" in prose
    assert "12,418" not in prose  # the figures are in the table block, not repeated as a run of numbers


def test_table_extraction_can_be_switched_off(tmp_path: Path) -> None:
    doc = load_document(write_table_pdf(tmp_path / "statement.pdf"), options=ExtractOptions(tables=False))
    assert [b.kind for b in doc.blocks] == ["text"]
    assert "12,418" in doc.text


def test_looks_tabular_is_cheap_and_ignores_prose() -> None:
    prose = "The institute was founded in 1923 and moved in 1975.\nIt had 26 staff in 1970.\n" * 5
    figures = "\n".join(f"Row {i} 1,{i:03d} 2,{i:03d} 3.5" for i in range(6))
    cells_down = "\n".join(["Net sales", "12,418", "13,022", "Cost of sales", "(7,205)", "(7,611)"] * 2)
    mentions = "Revenue was 1,234 million, up from 1,100 million.\n" * 10
    assert not looks_tabular(prose)
    assert looks_tabular(figures) and looks_tabular(cells_down)
    assert not looks_tabular("\n".join(figures.split("\n")[:2]))
    assert looks_tabular(mentions)  # two figures a line read like a row: the table finder decides


def test_render_table_headers_spans_and_currency_cells() -> None:
    cells = [
        ["", "Three Months Ended", None, "Nine Months Ended", None],
        ["", "June 25, 2022", "June 26, 2021", "June 25, 2022", "June 26, 2021"],
        ["Net sales", "$", "82,959", "$", "81,434"],
        ["Services", "19,604", None, "17,486", None],
    ]
    # the sales row puts "$" and the figure in two cells; the services row spans both with one figure
    cells[2] = ["Net sales", "$", "82,959", "$", "81,434", "", ""]
    cells[3] = ["Services", "19,604", None, "17,486", None, "", ""]
    cells[0] = ["", "Three Months Ended", None, None, None, "", ""]
    cells[1] = ["", "June 25, 2022", None, "June 26, 2021", None, "", ""]
    text = render_table(cells)
    lines = text.split("\n")
    assert lines[0] == "Table: Three Months Ended June 25, 2022 | Three Months Ended June 26, 2021"
    assert lines[1] == (
        "Net sales | Three Months Ended June 25, 2022: 82,959 | Three Months Ended June 26, 2021: 81,434"
    )
    assert lines[2] == (
        "Services | Three Months Ended June 25, 2022: 19,604 | Three Months Ended June 26, 2021: 17,486"
    )


def test_render_table_uses_headers_found_above_the_grid() -> None:
    grid = [["Products", "63,355", "63,948"], ["Services", "19,604", "17,486"]]
    text = render_table(grid, header_rows=[["", "2022", "2021"]])
    assert text.split("\n") == [
        "Table: 2022 | 2021",
        "Products | 2022: 63,355 | 2021: 63,948",
        "Services | 2022: 19,604 | 2021: 17,486",
    ]


def test_render_rows_keeps_every_row_in_order() -> None:
    text = render_rows(["Year", "Species", "Tonnes"], [["1961", "Ling", "1375"], ["1962", "", "1240"]])
    assert text.split("\n") == [
        "Table: Year | Species | Tonnes",
        "Year: 1961 | Species: Ling | Tonnes: 1375",
        "Year: 1962 | Tonnes: 1240",
    ]


INFO = DocumentInfo(doc_id="d1", source="/x/t.xlsx", file_name="t.xlsx", file_type="xlsx", content_hash="h")


def _table_block(n_rows: int, *, row_step: int = 1) -> TextBlock:
    header = "Table: Year | Species | Harbour | Tonnes"
    rows = [f"Year: {1900 + i} | Species: ling | Harbour: port{i} | Tonnes: {i * 7}" for i in range(n_rows)]
    return TextBlock("\n".join([header, *rows]), page=2, section="Landings", kind="table", row_step=row_step)


@pytest.mark.parametrize("child_tokens", [32, 40, 90])  # 32: room for the header and one row
def test_chunks_of_a_table_repeat_its_header_and_never_split_a_row(hash_embedder, child_tokens: int) -> None:
    block = _table_block(30)
    chunker = TokenChunker(hash_embedder, child_tokens=child_tokens, child_overlap=0, parent_tokens=200)
    doc = LoadedDocument(path=Path("/x/t.xlsx"), file_type="xlsx", blocks=(block,))
    chunks = chunker.split(doc, INFO)
    children = [c for c in chunks if c.kind == "child"]
    rows = block.text.split("\n")[1:]
    seen: set[str] = set()
    for child in children:
        lines = child.text.split("\n")
        assert lines[0] == "Table: Year | Species | Harbour | Tonnes"
        for line in lines[1:]:
            if line.startswith("Table:"):
                continue
            assert line in rows  # whole rows only
            seen.add(line)
        # the chunk's location is the spreadsheet rows it holds
        numbers = [rows.index(line) + 2 for line in lines[1:] if line in rows]
        assert (child.page_start, child.page_end) == (min(numbers), max(numbers))
        assert child.section == "Landings"
    assert seen == set(rows)
    for parent in (c for c in chunks if c.kind == "parent"):
        assert parent.text.startswith("Table: Year")


def test_a_table_between_prose_keeps_the_order_of_the_blocks(hash_embedder) -> None:
    blocks = (
        TextBlock("Before the table.", page=1),
        TextBlock("Table: A | B\nx | A: 1 | B: 2", page=1, kind="table"),
        TextBlock("After the table.", page=1),
    )
    chunker = TokenChunker(hash_embedder, child_tokens=60, child_overlap=0, parent_tokens=120)
    doc = LoadedDocument(path=Path("/x/t.pdf"), file_type="pdf", blocks=blocks)
    children = [c for c in chunker.split(doc, INFO) if c.kind == "child"]
    assert [c.text for c in children] == [
        "Before the table.\nTable: A | B\nx | A: 1 | B: 2\nAfter the table."
    ]
    assert (children[0].page_start, children[0].page_end) == (1, 1)


def test_ocr_marks_the_chunks_it_made(hash_embedder) -> None:
    blocks = (
        TextBlock("Typed page text.", page=1, section="A"),
        TextBlock("Recognised page text.", page=2, section="B", ocr=True),
    )
    chunker = TokenChunker(hash_embedder, child_tokens=8, child_overlap=0, parent_tokens=8)
    doc = LoadedDocument(path=Path("/x/t.pdf"), file_type="pdf", blocks=blocks)
    children = [c for c in chunker.split(doc, INFO) if c.kind == "child"]
    assert [(c.page_start, c.ocr) for c in children] == [(1, False), (2, True)]
    assert children[1].metadata()["ocr"] is True


def test_a_row_longer_than_a_child_is_cut_with_the_header_on_each_piece(hash_embedder) -> None:
    row = "Label | " + " | ".join(f"c{i}: {i}" for i in range(40))
    block = TextBlock(f"Table: wide\n{row}", page=1, kind="table")
    chunker = TokenChunker(hash_embedder, child_tokens=40, child_overlap=0, parent_tokens=400)
    doc = LoadedDocument(path=Path("/x/t.pdf"), file_type="pdf", blocks=(block,))
    children = [c for c in chunker.split(doc, INFO) if c.kind == "child"]
    assert len(children) > 1
    assert all(c.text.startswith("Table: wide\n") for c in children)
    assert all(hash_embedder.count_tokens(c.text) - 2 <= 40 for c in children)

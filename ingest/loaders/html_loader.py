"""HTML pages: the visible text, split into sections by the h1-h6 heading path."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ingest.base import LoadedDocument, LoaderError, TextBlock
from ingest.loaders.common import (
    BaseLoader,
    CharBudget,
    SectionAccumulator,
    clean_field,
    read_bytes,
    require_text,
)

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

_INVISIBLE_TAGS = ("script", "style", "noscript", "template", "head", "svg", "canvas", "iframe", "object")
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Elements that start a new line when rendered; the paragraph-like ones also end with a blank line.
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "ul",
        "caption",
    ]
)
_PARAGRAPH_TAGS = frozenset(["p", "pre", "blockquote", "table", "ul", "ol", "dl", "section", "article"])
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


class HtmlLoader(BaseLoader):
    """Reads ``.html``/``.htm`` with BeautifulSoup; the title comes from ``<title>``."""

    suffixes: Sequence[str] = (".html", ".htm")
    file_type: ClassVar[str] = "html"

    def load(
        self, path: Path, *, max_pages: int | None = None, max_chars: int | None = None
    ) -> LoadedDocument:
        """Read the visible text of ``path``; ``max_pages`` does not apply."""
        budget = CharBudget(max_chars)
        blocks, title, warnings = read_html(read_bytes(path), path, budget, tables=self.options.tables)
        require_text(blocks, path, "no visible text")
        if note := budget.warning():
            warnings.append(note)
        return LoadedDocument(
            path=path,
            file_type=self.file_type,
            blocks=tuple(blocks),
            title=title,
            warnings=tuple(warnings),
        )


def read_html(
    data: bytes, path: Path, budget: CharBudget, *, tables: bool = True
) -> tuple[list[TextBlock], str, list[str]]:
    """The visible text of an HTML (or XHTML) document as section blocks.

    Returns:
        The blocks (one per heading section, plus table blocks), the ``<title>``, and warnings.
    """
    soup = _parse(data, path)
    title = clean_field(soup.title.get_text()) if soup.title else ""
    for tag in soup.find_all(_INVISIBLE_TAGS):
        tag.decompose()
    for tag in soup.find_all(_is_hidden):
        tag.decompose()
    sections = SectionAccumulator(budget)
    warnings: list[str] = []
    try:
        _walk(soup, sections, preformatted=False, tables=tables)
    except RecursionError:
        # get_text walks the tree without recursion: keep the words, lose the sections
        warnings.append("HTML nested too deeply for sections; read as flat text")
        sections = SectionAccumulator(budget)
        sections.add(soup.get_text("\n"))
    sections.flush()
    return sections.blocks, title, warnings


def _parse(data: bytes, path: Path) -> BeautifulSoup:
    """Parse bytes with the standard-library parser (BeautifulSoup detects the encoding)."""
    from bs4 import BeautifulSoup

    try:
        return BeautifulSoup(data, "html.parser")
    except Exception as e:  # html.parser is lenient; anything raised here means unreadable input
        raise LoaderError(f"cannot parse HTML: {e}", path) from e


def _is_hidden(tag: Tag) -> bool:
    """True for elements a browser would not render (``hidden``, ``aria-hidden``, inline CSS)."""
    attrs: dict[str, Any] = getattr(tag, "attrs", None) or {}
    if "hidden" in attrs or str(attrs.get("aria-hidden", "")).lower() == "true":
        return True
    return bool(_HIDDEN_STYLE.search(str(attrs.get("style", ""))))


def _walk(node: Tag, sections: SectionAccumulator, *, preformatted: bool, tables: bool = True) -> None:
    """Emit the text under ``node`` in document order: headings open sections, blocks break lines.

    With ``tables`` a ``<table>`` becomes a table block of labelled rows; without, each row is a
    line of its cells joined by " | ".
    """
    from bs4 import NavigableString, Tag

    for child in node.children:
        if isinstance(child, NavigableString):
            if type(child) is NavigableString:  # skips comments, doctype, CDATA, processing instructions
                sections.add_inline(str(child) if preformatted else _WHITESPACE.sub(" ", str(child)))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name.lower()
        if name in _HEADINGS:
            sections.heading(_HEADINGS[name], child.get_text(" ", strip=True))
        elif name == "br":
            sections.break_line()
        elif name == "table" and tables and _table_rows(child):
            from ingest.tables import render_table

            caption = child.find("caption")
            caption_text = caption.get_text(" ", strip=True) if isinstance(caption, Tag) else ""
            sections.table(render_table(_table_grid(child), caption=caption_text))
        elif name == "tr":
            cells = [cell.get_text(" ", strip=True) for cell in child.find_all(["td", "th"], recursive=False)]
            sections.add(" | ".join(c for c in cells if c))
        else:
            if name in _BLOCK_TAGS:
                sections.break_line()
            _walk(child, sections, preformatted=preformatted or name == "pre", tables=tables)
            if name in _PARAGRAPH_TAGS:
                sections.add("")
            elif name in _BLOCK_TAGS:
                sections.break_line()


def _table_rows(table: Tag) -> list[Tag]:
    """The ``<tr>`` of ``table`` itself (not those of tables nested in its cells)."""
    return [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]


def _table_grid(table: Tag) -> list[list[str]]:
    """Cell texts by row; a cell spanning columns keeps its text in its first column only."""
    grid = []
    for tr in _table_rows(table):
        cells: list[str] = []
        for cell in tr.find_all(["td", "th"], recursive=False):
            cells.append(cell.get_text(" ", strip=True))
            try:
                span = int(str(cell.get("colspan") or "1"))
            except ValueError:
                span = 1
            cells += [""] * (min(max(span, 1), 50) - 1)
        grid.append(cells)
    return grid

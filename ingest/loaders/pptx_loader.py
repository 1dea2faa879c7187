"""PowerPoint decks (.pptx): one block per slide, the slide number as its page, notes included.

A slide's text is its title, then the text of its shapes top to bottom (grouped shapes
included), then its speaker notes after a ``Notes:`` line. A table on a slide becomes a table
block of labelled rows (:func:`ingest.tables.render_table`) on the same slide.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ingest.base import LoadedDocument, LoaderError, TextBlock
from ingest.loaders.common import (
    MAX_UNZIPPED_MB,
    BaseLoader,
    CharBudget,
    check_zip_archive,
    clean_field,
    iso_date,
    require_text,
)
from ingest.normalize import normalize_text

logger = logging.getLogger(__name__)


class PptxLoader(BaseLoader):
    """Reads ``.pptx`` with python-pptx; ``max_pages`` limits the slides read."""

    suffixes: Sequence[str] = (".pptx",)
    file_type: ClassVar[str] = "pptx"

    def load(
        self, path: Path, *, max_pages: int | None = None, max_chars: int | None = None
    ) -> LoadedDocument:
        """Read ``path`` into one block per slide (plus one per table); slides are pages."""
        check_zip_archive(path, ".pptx", MAX_UNZIPPED_MB)
        deck = _open(path)
        budget = CharBudget(max_chars)
        slides = list(deck.slides)
        warnings: list[str] = []
        if max_pages is not None and len(slides) > max_pages:
            warnings.append(f"read {max_pages} of {len(slides)} slides (max_pages={max_pages})")
        blocks: list[TextBlock] = []
        first_title = ""
        for number, slide in enumerate(slides[:max_pages], 1):
            title = _slide_title(slide)
            first_title = first_title or title
            for block in _slide_blocks(slide, number, title, self.options.tables):
                text = budget.take(block.text)
                if text:
                    blocks.append(TextBlock(text=text, page=number, section=title, kind=block.kind))
        require_text(blocks, path, "no text on any slide")
        if note := budget.warning():
            warnings.append(note)
        props = deck.core_properties
        return LoadedDocument(
            path=path,
            file_type=self.file_type,
            blocks=tuple(blocks),
            title=clean_field(props.title) or first_title,
            author=clean_field(props.author),
            created=iso_date(props.created),
            modified=iso_date(props.modified),
            pages=len(slides),
            warnings=tuple(warnings),
        )


def _open(path: Path) -> Any:
    from pptx import Presentation

    try:
        return Presentation(str(path))
    except Exception as e:  # python-pptx raises PackageNotFoundError, KeyError, lxml errors...
        raise LoaderError(f"not a readable .pptx: {type(e).__name__}: {e}", path) from e


def _slide_title(slide: Any) -> str:
    try:
        shape = slide.shapes.title
    except Exception:  # a layout without a title placeholder
        return ""
    return clean_field(shape.text_frame.text) if shape is not None and shape.has_text_frame else ""


def _slide_blocks(slide: Any, number: int, title: str, tables: bool) -> Iterator[TextBlock]:
    """The slide's text block (title, shapes, notes), then a block per table."""
    from ingest.tables import render_table

    lines: list[str] = [title] if title else []
    table_texts: list[str] = []
    title_id = getattr(slide.shapes.title, "shape_id", None) if _has_title(slide) else None
    for shape in _shapes(slide.shapes):
        if getattr(shape, "shape_id", None) == title_id and title:
            continue
        if getattr(shape, "has_table", False):
            grid = [[cell.text for cell in row.cells] for row in shape.table.rows]
            if tables:
                table_texts.append(render_table(grid))
            else:
                lines += [" | ".join(c.strip() for c in row if c.strip()) for row in grid]
        elif getattr(shape, "has_text_frame", False):
            lines += [p.text for p in shape.text_frame.paragraphs]
    notes = _notes(slide)
    if notes:
        lines += ["", "Notes:", notes]
    text = normalize_text("\n".join(lines))
    if text.strip():
        yield TextBlock(text=text, page=number, section=title)
    for table in table_texts:
        if table.strip():
            yield TextBlock(text=normalize_text(table), page=number, section=title, kind="table")


def _has_title(slide: Any) -> bool:
    try:
        return slide.shapes.title is not None
    except Exception:
        return False


def _shapes(shapes: Any) -> Iterator[Any]:
    """Every shape, descending into groups, in the order a reader meets them (top, then left)."""
    ordered = sorted(shapes, key=lambda s: (s.top or 0, s.left or 0))
    for shape in ordered:
        if getattr(shape, "shape_type", None) is not None and hasattr(shape, "shapes"):
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _notes(slide: Any) -> str:
    if not slide.has_notes_slide:
        return ""
    frame = slide.notes_slide.notes_text_frame
    return frame.text.strip() if frame is not None else ""

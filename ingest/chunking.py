"""Token-aware parent/child chunking with the embedder's own tokenizer.

A document's text blocks are cut into sentence-like units, each measured in model tokens. Units are
packed greedily into parent sections (never across a change of section heading) and, inside each
parent, into overlapping child chunks. A unit longer than a child is cut on token boundaries, so no
child can exceed the embedder's window: all-MiniLM-L6-v2 silently truncates past 256 tokens, and a
truncated chunk is a chunk whose tail can never be found.

A table block (``TextBlock.kind == "table"``: a header line, then one line per row) is cut only
between rows: its rows are grouped into units that fit a child, each starting with the table's
header line, so every chunk of a table names its columns and no row is ever split (a single row
longer than a child is the one exception: it is cut on token boundaries, the header repeated on
each piece).

Why by hand: LangChain's token splitters measure length but do not carry page numbers and heading
paths through the split, nor build parent/child pairs in one pass over one tokenization.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ingest.base import LoadedDocument, TextBlock
from retrieval.base import Chunk

# Tokens a join of units may add over the sum of their parts; table groups leave this much room.
_JOIN_SLACK = 4
# A sentence ends at . ! ? (optionally closed by a quote or bracket) before white space, or at a blank line.
_UNIT_BREAK = re.compile(r"(?<=[.!?])[\"')\]]?\s+|\n\s*\n")


class Tokenizer(Protocol):
    """What chunking needs of an embedder's tokenizer."""

    @property
    def max_seq_length(self) -> int: ...
    @property
    def special_tokens(self) -> int: ...
    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]: ...


@dataclass(frozen=True)
class _Unit:
    text: str
    tokens: int
    page: int | None
    section: str
    page_last: int | None = None  # a table unit spans rows (spreadsheet rows are locations)
    ocr: bool = False


@dataclass(frozen=True)
class DocumentInfo:
    """Per-document metadata stamped on every chunk."""

    doc_id: str
    source: str
    file_name: str
    file_type: str
    content_hash: str
    title: str = ""
    created: str | None = None
    modified: str | None = None


class TokenChunker:
    """Splits a :class:`LoadedDocument` into parent and child :class:`Chunk` objects.

    Args:
        tokenizer: The embedder (or anything with ``token_spans``, ``max_seq_length``, ``special_tokens``).
        child_tokens: Target child size in tokens; capped to the model window minus special tokens.
        child_overlap: Tokens of trailing context repeated at the start of the next child.
        parent_tokens: Target parent size in tokens (parents are not embedded, so may exceed the window).
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        child_tokens: int = 160,
        child_overlap: int = 32,
        parent_tokens: int = 640,
    ) -> None:
        if child_tokens < 8:
            raise ValueError(f"child_tokens must be >= 8, got {child_tokens}")
        if not 0 <= child_overlap < child_tokens:
            raise ValueError(f"child_overlap must be in [0, child_tokens), got {child_overlap}")
        if parent_tokens < child_tokens:
            raise ValueError(f"parent_tokens ({parent_tokens}) must be >= child_tokens ({child_tokens})")
        self.tokenizer = tokenizer
        self.child_overlap = child_overlap
        self.parent_tokens = parent_tokens
        self._requested_child = child_tokens

    @property
    def child_tokens(self) -> int:
        """Child budget actually used: never more than the model window allows."""
        window = self.tokenizer.max_seq_length - self.tokenizer.special_tokens
        return min(self._requested_child, window)

    def split(self, doc: LoadedDocument, info: DocumentInfo) -> list[Chunk]:
        """All parents then all children of ``doc``, children pointing at their parent."""
        units = self._units(doc.blocks)
        chunks: list[Chunk] = []
        children: list[Chunk] = []
        for p_index, group in enumerate(self._pack_parents(units)):
            parent = self._make_chunk(info, group, "parent", p_index, None)
            chunks.append(parent)
            for c_units in self._fit_window(self._pack_children(group)):
                children.append(self._make_chunk(info, c_units, "child", len(children), parent.id))
        return chunks + children

    def _fit_window(self, children: list[list[_Unit]]) -> list[list[_Unit]]:
        """Re-measure each child as it will be embedded and cut any that would be truncated.

        Joining units, or a unit cut mid-word, can tokenize to a few more tokens than the sum of the
        parts; this pass makes the window guarantee exact rather than approximate.
        """
        window = self.tokenizer.max_seq_length - self.tokenizer.special_tokens
        texts = [_join(c) for c in children]
        fitted: list[list[_Unit]] = []
        for units, text, spans in zip(children, texts, self.tokenizer.token_spans(texts)):
            if len(spans) <= window:
                fitted.append(units)
                continue
            step = max(1, window - 8)
            for start in range(0, len(spans), step):
                part = spans[start : start + step]
                pages = [p for u in units for p in (u.page, u.page_last) if p is not None]
                piece = _Unit(
                    text[part[0][0] : part[-1][1]],
                    len(part),
                    min(pages) if pages else None,
                    units[0].section,
                    max(pages) if pages else None,
                    any(u.ocr for u in units),
                )
                fitted.append([piece])
        return fitted

    def _units(self, blocks: Sequence[TextBlock]) -> list[_Unit]:
        """Sentence-like units of prose blocks and row-group units of table blocks, in block order."""
        pieces: list[tuple[str, TextBlock]] = []
        slots: list[TextBlock | range] = []  # a table block, or the range of its pieces for prose
        for block in blocks:
            if block.kind == "table":
                slots.append(block)
                continue
            first = len(pieces)
            for part in _UNIT_BREAK.split(block.text):
                part = part.strip()
                if part:
                    pieces.append((part, block))
            slots.append(range(first, len(pieces)))
        spans = self.tokenizer.token_spans([p for p, _ in pieces])
        units: list[_Unit] = []
        for slot in slots:
            if isinstance(slot, TextBlock):
                units += self._table_units(slot)
                continue
            for i in slot:
                units += self._prose_units(pieces[i][0], pieces[i][1], spans[i])
        return units

    def _prose_units(self, text: str, block: TextBlock, offsets: list[tuple[int, int]]) -> list[_Unit]:
        """One unit for a sentence that fits a child; token-window pieces for one that does not."""
        limit = self.child_tokens
        units = []
        for start in range(0, len(offsets), limit):
            window = offsets[start : start + limit]
            piece = text if len(offsets) <= limit else text[window[0][0] : window[-1][1]]
            units.append(_Unit(piece, len(window), block.page, block.section, ocr=block.ocr))
        return units

    def _table_units(self, block: TextBlock) -> list[_Unit]:
        """Rows grouped under the header line into units that fit a child; a row is never split."""
        lines = [line.strip() for line in block.text.split("\n") if line.strip()]
        if not lines:
            return []
        header, rows = lines[0], lines[1:] or [""]
        spans = self.tokenizer.token_spans([header, *rows])
        if len(spans[0]) > self.child_tokens // 2:  # a header that would crowd out the rows is cut short
            cut = spans[0][self.child_tokens // 2 - 1][1]
            header = header[:cut] + " …"
            spans[0] = self.tokenizer.token_spans([header])[0]
        head_tokens = len(spans[0])
        room = max(self.child_tokens - head_tokens - _JOIN_SLACK, 8)
        units: list[_Unit] = []
        group: list[tuple[int, str]] = []
        size = 0

        def emit() -> None:
            first, last = self._row_location(block, group[0][0]), self._row_location(block, group[-1][0])
            text = "\n".join([header, *(r for _, r in group if r)])
            units.append(_Unit(text, head_tokens + size, first, block.section, last, block.ocr))

        for index, (row, offsets) in enumerate(zip(rows, spans[1:])):
            if len(offsets) > room:  # one row longer than a child: the only case a row is cut
                if group:
                    emit()
                    group, size = [], 0
                for start in range(0, len(offsets), room):
                    window = offsets[start : start + room]
                    group, size = [(index, row[window[0][0] : window[-1][1]])], len(window)
                    emit()
                group, size = [], 0
                continue
            if group and size + len(offsets) > room:
                emit()
                group, size = [], 0
            group.append((index, row))
            size += len(offsets)
        if group:
            emit()
        return units

    @staticmethod
    def _row_location(block: TextBlock, row_index: int) -> int | None:
        if block.page is None:
            return None
        return block.page + row_index * block.row_step

    def _pack_parents(self, units: list[_Unit]) -> list[list[_Unit]]:
        groups: list[list[_Unit]] = []
        current: list[_Unit] = []
        size = 0
        for unit in units:
            new_section = bool(current) and unit.section != current[-1].section
            if current and (new_section or size + unit.tokens > self.parent_tokens):
                groups.append(current)
                current, size = [], 0
            current.append(unit)
            size += unit.tokens
        if current:
            groups.append(current)
        return groups

    def _pack_children(self, units: list[_Unit]) -> list[list[_Unit]]:
        limit = self.child_tokens
        children: list[list[_Unit]] = []
        current: list[_Unit] = []
        size = 0
        for unit in units:
            if current and size + unit.tokens > limit:
                children.append(current)
                current = self._overlap_tail(current, limit - unit.tokens)
                size = sum(u.tokens for u in current)
            current.append(unit)
            size += unit.tokens
        if current:
            children.append(current)
        return children

    def _overlap_tail(self, units: list[_Unit], room: int) -> list[_Unit]:
        """Trailing units of the previous child worth at most ``child_overlap`` tokens (and ``room``)."""
        budget = min(self.child_overlap, room)
        tail: list[_Unit] = []
        used = 0
        for unit in reversed(units):
            if used + unit.tokens > budget:
                break
            tail.insert(0, unit)
            used += unit.tokens
        return tail

    @staticmethod
    def _make_chunk(
        info: DocumentInfo, units: list[_Unit], kind: str, index: int, parent_id: str | None
    ) -> Chunk:
        text = _join(units)
        pages = [p for u in units for p in (u.page, u.page_last) if p is not None]
        digest = hashlib.sha1(f"{info.content_hash}:{kind}:{index}".encode()).hexdigest()[:16]
        return Chunk(
            id=f"{info.doc_id}-{digest}",
            doc_id=info.doc_id,
            text=text,
            source=info.source,
            file_name=info.file_name,
            file_type=info.file_type,
            page_start=min(pages) if pages else None,
            page_end=max(pages) if pages else None,
            section=units[0].section,
            chunk_index=index,
            parent_id=parent_id,
            content_hash=info.content_hash,
            title=info.title,
            created=info.created,
            modified=info.modified,
            kind="parent" if kind == "parent" else "child",
            n_tokens=sum(u.tokens for u in units),
            ocr=any(u.ocr for u in units),
        )


def _join(units: Sequence[_Unit]) -> str:
    """Unit texts joined by spaces, but a table unit on lines of its own (its rows are lines)."""
    parts: list[str] = []
    previous_table = False
    for unit in units:
        table = "\n" in unit.text
        if parts:
            parts.append("\n" if table or previous_table else " ")
        parts.append(unit.text)
        previous_table = table
    return "".join(parts)

"""Markdown files: one block per heading section, the heading path as the section.

A small line-based reader, enough for documents people write by hand: YAML-style front
matter (``key: value`` lines between ``---`` fences), ATX (``## Title``) and setext
(``Title`` over ``===``/``---``) headings, fenced code blocks (whose ``#`` lines are not
headings), and light inline clean-up (links, images, emphasis, inline code, table rules).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from ingest.base import LoadedDocument
from ingest.loaders.common import BaseLoader, CharBudget, SectionAccumulator, read_bytes, require_text
from ingest.loaders.text_loader import decode_text
from ingest.normalize import normalize_text

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER_FIELD = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*?)[ \t]*$")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(?<!\w)(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1(?!\w)")
_BLOCKQUOTE = re.compile(r"^ {0,3}(?:> ?)+")
_INLINE_CODE = re.compile(r"`+([^`]+)`+")


class MarkdownLoader(BaseLoader):
    """Reads ``.md``/``.markdown``; title from front matter, else the first H1."""

    suffixes: Sequence[str] = (".md", ".markdown")
    file_type: ClassVar[str] = "markdown"

    def load(
        self, path: Path, *, max_pages: int | None = None, max_chars: int | None = None
    ) -> LoadedDocument:
        """Read ``path`` into one block per heading section; ``max_pages`` does not apply."""
        text, warnings = decode_text(read_bytes(path), path)
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        meta, body_start = parse_front_matter(lines)
        budget = CharBudget(max_chars)
        sections = SectionAccumulator(budget)
        first_h1 = _read_sections(lines[body_start:], sections)
        require_text(sections.blocks, path)
        if note := budget.warning():
            warnings.append(note)
        return LoadedDocument(
            path=path,
            file_type=self.file_type,
            blocks=tuple(sections.blocks),
            title=meta.get("title") or first_h1,
            author=meta.get("author", ""),
            created=meta.get("date") or meta.get("created") or None,
            modified=meta.get("modified") or meta.get("updated") or None,
            warnings=tuple(warnings),
        )


def parse_front_matter(lines: list[str]) -> tuple[dict[str, str], int]:
    """Read ``key: value`` pairs between a leading ``---`` and the closing ``---``/``...``.

    Returns:
        The fields (lower-cased keys, unquoted values) and the index of the first body line.
    """
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        return {}, 0  # no closing fence: it was a thematic break, not front matter
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        if match := _FRONT_MATTER_FIELD.match(line):
            value = match.group(2).strip().strip("\"'")
            meta[match.group(1).lower()] = " ".join(normalize_text(value).split())
    return meta, end + 1


def _read_sections(lines: list[str], sections: SectionAccumulator) -> str:
    """Feed ``lines`` to ``sections`` heading by heading; return the first H1's text."""
    first_h1 = ""
    fence: str | None = None
    pending: str | None = None  # the previous paragraph line: a setext heading if underlined
    for line in lines:
        if fence is not None:
            if _closes_fence(line, fence):
                fence = None
            else:
                sections.add(line)
            continue
        level, title = 0, ""
        if pending is not None and _SETEXT.match(line):
            level, title = (1 if line.strip()[0] == "=" else 2), pending
        else:
            if pending is not None:
                sections.add(_inline(pending))
            if match := _ATX.match(line):
                level, title = len(match.group(1)), match.group(2) or ""
        pending = None
        if level:
            title = _inline(title)
            if level == 1 and not first_h1:
                first_h1 = " ".join(normalize_text(title).split())
            sections.heading(level, title)
        elif match := _FENCE.match(line):
            fence = match.group(1)
        elif not line.strip():
            sections.add("")
        elif not _TABLE_RULE.match(line):  # table rules and thematic breaks carry no words
            pending = line
    if pending is not None:
        sections.add(_inline(pending))
    sections.flush()
    return first_h1


def _closes_fence(line: str, fence: str) -> bool:
    """True when ``line`` is a closing fence for ``fence`` (same character, at least as long)."""
    stripped = line.strip()
    return bool(stripped) and set(stripped) == {fence[0]} and len(stripped) >= len(fence)


def _inline(text: str) -> str:
    """Strip inline Markdown syntax, keeping the words (link text, image alt text, code)."""
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    return _BLOCKQUOTE.sub("", text)

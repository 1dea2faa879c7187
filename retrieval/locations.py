"""Where a passage sits in its document, said the way the document's kind counts it.

A PDF or Word passage is on a page, a deck's on a slide, a spreadsheet's in a sheet and a run of
rows, an e-book's in a chapter, a mail's in the message. The loaders store the location number in
the chunk's ``page_start``/``page_end`` (slide, chapter, spreadsheet row) and the sheet name or
heading path in ``section`` (see ``ingest.base.TextBlock``); this module turns those into the
words shown in citations (``retrieval.chain``), the CLI and the UI source view.
"""

from __future__ import annotations

from dataclasses import dataclass

# file_type -> (singular, plural) of the location unit numbered by page_start/page_end
_UNITS: dict[str, tuple[str, str]] = {
    "pptx": ("slide", "slides"),
    "epub": ("chapter", "chapters"),
    "xlsx": ("row", "rows"),
    "csv": ("row", "rows"),
}
_SHEET_TYPES = frozenset({"xlsx"})
OCR_NOTE = "OCR"


@dataclass(frozen=True)
class Location:
    """A passage's location: its kind (``page``, ``slide``, ``rows``, ``chapter``, ``message``, or
    ``""`` when the document has none) and the human label (``"p. 3"``, ``"slide 2"``,
    ``"sheet Revenue, rows 2-9"``, ``"chapter 4"``, ``"message"``)."""

    kind: str
    label: str


def locate(file_type: str, page_start: int | None, page_end: int | None, section: str = "") -> Location:
    """The :class:`Location` of a passage of a ``file_type`` document."""
    if file_type == "eml":
        return Location("message", "message")
    if file_type in _SHEET_TYPES:
        sheet = section.split(" > ", 1)[0] if section else ""
        rows = _span("row", "rows", page_start, page_end)
        return Location("rows", ", ".join(p for p in (f"sheet {sheet}" if sheet else "", rows) if p))
    if file_type in _UNITS:
        one, many = _UNITS[file_type]
        return Location("rows" if one == "row" else one, _span(one, many, page_start, page_end))
    label = _span("p.", "pp.", page_start, page_end)
    return Location("page" if label else "", label)


def location_label(
    file_type: str, page_start: int | None, page_end: int | None, section: str = "", *, ocr: bool = False
) -> str:
    """The label of :func:`locate`, with ``" (OCR)"`` after it for text recognised from an image."""
    label = locate(file_type, page_start, page_end, section).label
    if ocr:
        label = f"{label} ({OCR_NOTE})" if label else f"({OCR_NOTE})"
    return label


def _span(one: str, many: str, start: int | None, end: int | None) -> str:
    if start is None:
        return ""
    if end is None or end == start:
        return f"{one} {start}"
    return f"{many} {start}-{end}"

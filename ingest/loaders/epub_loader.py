"""E-books (.epub): the chapters in reading order, each read like an HTML page.

An EPUB is a zip archive: ``META-INF/container.xml`` names the package document (OPF), whose
manifest lists the files and whose spine gives the reading order. Each spine document with text
is a chapter: its blocks get the chapter's number (1-based, in reading order) as their page and
the chapter's heading path as their section, so a passage's location reads "chapter 3". The
chapter title comes from the table of contents (EPUB 3 nav or EPUB 2 NCX) when it names the
file, else from the chapter's own first heading. Read with zipfile and the HTML loader's
reader: the format needs no library of its own. XML is parsed by the standard library's expat,
which refuses entity-expansion bombs.
"""

from __future__ import annotations

import logging
import posixpath
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote
from xml.etree import ElementTree

from ingest.base import LoadedDocument, LoaderError, TextBlock
from ingest.loaders.common import (
    MAX_UNZIPPED_MB,
    SECTION_SEPARATOR,
    BaseLoader,
    CharBudget,
    check_zip_archive,
    clean_field,
    require_text,
)
from ingest.loaders.html_loader import read_html

logger = logging.getLogger(__name__)

_XHTML_TYPES = frozenset({"application/xhtml+xml", "text/html"})


class EpubLoader(BaseLoader):
    """Reads ``.epub``; ``max_pages`` limits the chapters read."""

    suffixes: Sequence[str] = (".epub",)
    file_type: ClassVar[str] = "epub"

    def load(
        self, path: Path, *, max_pages: int | None = None, max_chars: int | None = None
    ) -> LoadedDocument:
        """Read the chapters of ``path`` in spine order."""
        check_zip_archive(path, ".epub", MAX_UNZIPPED_MB)
        budget = CharBudget(max_chars)
        warnings: list[str] = []
        blocks: list[TextBlock] = []
        try:
            with zipfile.ZipFile(path) as archive:
                book = _Package(archive, path)
                chapter = 0
                for name in book.spine:
                    if budget.exhausted:
                        break
                    if max_pages is not None and chapter >= max_pages:
                        warnings.append(f"read the first {chapter} chapters (max_pages={max_pages})")
                        break
                    found = self._chapter(
                        archive, name, chapter + 1, book.toc.get(name, ""), budget, warnings
                    )
                    if found:
                        chapter += 1
                        blocks += found
        except (zipfile.BadZipFile, KeyError, ElementTree.ParseError) as e:
            raise LoaderError(f"not a readable .epub: {type(e).__name__}: {e}", path) from e
        require_text(blocks, path, "no text in any chapter")
        if note := budget.warning():
            warnings.append(note)
        return LoadedDocument(
            path=path,
            file_type=self.file_type,
            blocks=tuple(blocks),
            title=book.title,
            author=book.author,
            created=book.date or None,
            pages=chapter,
            warnings=tuple(warnings),
        )

    def _chapter(
        self,
        archive: zipfile.ZipFile,
        name: str,
        number: int,
        toc_title: str,
        budget: CharBudget,
        warnings: list[str],
    ) -> list[TextBlock]:
        """The blocks of one spine document, numbered as chapter ``number``; [] when it has no text."""
        try:
            data = archive.read(name)
        except KeyError:
            warnings.append(f"spine item {name} is missing from the archive")
            return []
        found, title, notes = read_html(data, Path(name), budget, tables=self.options.tables)
        warnings += [f"{name}: {n}" for n in notes]
        chapter_title = toc_title or next(
            (b.section.split(SECTION_SEPARATOR)[0] for b in found if b.section), ""
        )
        chapter_title = chapter_title or title
        out = []
        for block in found:
            section = block.section
            head, _, rest = section.partition(SECTION_SEPARATOR)
            if chapter_title and head and (head in chapter_title or chapter_title in head):
                section = SECTION_SEPARATOR.join(p for p in (chapter_title, rest) if p)
            elif chapter_title:
                section = SECTION_SEPARATOR.join(p for p in (chapter_title, section) if p)
            out.append(replace(block, page=number, section=section))
        return out


class _Package:
    """The parts of an EPUB's package document that reading needs: spine, metadata, contents."""

    def __init__(self, archive: zipfile.ZipFile, path: Path) -> None:
        container = ElementTree.fromstring(archive.read("META-INF/container.xml"))
        rootfile = next((e for e in container.iter() if _local(e.tag) == "rootfile"), None)
        if rootfile is None or not rootfile.get("full-path"):
            raise LoaderError("not a readable .epub: container.xml names no package document", path)
        opf_path = str(rootfile.get("full-path"))
        base = posixpath.dirname(opf_path)
        opf = ElementTree.fromstring(archive.read(opf_path))
        manifest: dict[str, tuple[str, str, str]] = {}
        for item in (e for e in opf.iter() if _local(e.tag) == "item"):
            href = posixpath.normpath(posixpath.join(base, unquote(item.get("href", ""))))
            manifest[item.get("id", "")] = (href, item.get("media-type", ""), item.get("properties", ""))
        self.spine = [
            manifest[ref.get("idref", "")][0]
            for ref in (e for e in opf.iter() if _local(e.tag) == "itemref")
            if ref.get("idref", "") in manifest and manifest[ref.get("idref", "")][1] in _XHTML_TYPES
        ]
        self.title = self._meta(opf, "title")
        self.author = self._meta(opf, "creator")
        self.date = self._meta(opf, "date")
        self.toc = self._toc(archive, manifest, opf)

    @staticmethod
    def _meta(opf: ElementTree.Element, name: str) -> str:
        element = next((e for e in opf.iter() if _local(e.tag) == name and (e.text or "").strip()), None)
        return clean_field(element.text) if element is not None else ""

    def _toc(
        self, archive: zipfile.ZipFile, manifest: dict[str, tuple[str, str, str]], opf: ElementTree.Element
    ) -> dict[str, str]:
        """File name -> title from the EPUB 3 nav document or the EPUB 2 NCX (first title per file)."""
        titles: dict[str, str] = {}
        for href, media, props in manifest.values():
            is_nav = "nav" in props.split()
            if not (is_nav or media == "application/x-dtbncx+xml"):
                continue
            try:
                root = ElementTree.fromstring(archive.read(href))
            except (KeyError, ElementTree.ParseError) as e:
                logger.info("epub contents unreadable href=%s error=%s", href, e)
                continue
            base = posixpath.dirname(href)
            for target, text in _nav_links(root) if is_nav else _ncx_points(root):
                file = posixpath.normpath(posixpath.join(base, unquote(target.split("#", 1)[0])))
                if text and file not in titles:
                    titles[file] = text
        return titles


def _nav_links(root: ElementTree.Element) -> list[tuple[str, str]]:
    return [
        (a.get("href", ""), clean_field("".join(a.itertext()))) for a in root.iter() if _local(a.tag) == "a"
    ]


def _ncx_points(root: ElementTree.Element) -> list[tuple[str, str]]:
    points = []
    for point in (e for e in root.iter() if _local(e.tag) == "navPoint"):
        label = next((e for e in point.iter() if _local(e.tag) == "text"), None)
        content = next((e for e in point.iter() if _local(e.tag) == "content"), None)
        if content is not None:
            text = clean_field(label.text) if label is not None else ""
            points.append((content.get("src", ""), text))
    return points


def _local(tag: str) -> str:
    """An element's name without its XML namespace."""
    return tag.rsplit("}", 1)[-1]

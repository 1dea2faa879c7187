"""The loader registry and every built-in loader, on small real files and on the sample corpus."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from ingest.base import ExtractOptions, LoadedDocument, LoaderError, TextBlock, UnsupportedFileError
from ingest.loaders import (
    load_document,
    load_with,
    loader_for,
    register,
    supported_suffixes,
    unregister,
)
from ingest.loaders.docx_loader import DocxLoader
from ingest.loaders.pdf_loader import NO_TEXT_REASON, PYPDF_LIMITS, PyPdfLoader

# Tests of the plain reading of DOCX/HTML tables (cells joined by " | "); the labelled-row
# rendering has its own tests in test_tables.py and test_format_loaders.py.
PLAIN_TABLES = ExtractOptions(tables=False)

MakePdf = Callable[..., Path]


def sections(doc: LoadedDocument) -> list[str]:
    return [b.section for b in doc.blocks]


# --- registry --------------------------------------------------------------------------------


def test_supported_suffixes() -> None:
    assert supported_suffixes() == [
        ".csv",
        ".docx",
        ".eml",
        ".epub",
        ".htm",
        ".html",
        ".markdown",
        ".md",
        ".pdf",
        ".pptx",
        ".text",
        ".tsv",
        ".txt",
        ".xlsm",
        ".xlsx",
    ]


def test_loader_for_ignores_case() -> None:
    assert isinstance(loader_for("REPORT.PDF"), PyPdfLoader)
    assert isinstance(loader_for(Path("a/b/c.Docx")), DocxLoader)


def test_unsupported_suffix_names_file_and_suffix(tmp_path: Path) -> None:
    path = tmp_path / "notes.xyz"
    path.write_text("hello")
    with pytest.raises(UnsupportedFileError) as err:
        load_document(path)
    assert str(path) in str(err.value)
    assert "'.xyz'" in err.value.reason and ".pdf" in err.value.reason
    with pytest.raises(UnsupportedFileError, match=r"unsupported file type \(none\)"):
        loader_for(tmp_path / "README")


class _RowsLoader:
    """A third-party style loader (not a BaseLoader): three pages of ten characters."""

    suffixes: Sequence[str] = (".rows",)

    def load(self, path: Path) -> LoadedDocument:
        blocks = tuple(TextBlock(text=f"page {n} xyz", page=n) for n in (1, 2, 3))
        return LoadedDocument(path=path, file_type="rows", blocks=blocks, pages=3)


class _BrokenLoader:
    suffixes: Sequence[str] = (".broken",)

    def load(self, path: Path) -> LoadedDocument:
        raise KeyError("boom")


def test_registered_loader_gets_limits_enforced(tmp_path: Path) -> None:
    path = tmp_path / "data.rows"
    path.write_text("anything")
    register(_RowsLoader())
    try:
        full = load_document(path)
        assert [b.text for b in full.blocks] == ["page 1 xyz", "page 2 xyz", "page 3 xyz"]
        limited = load_document(path, max_pages=2, max_chars=15)
        assert [(b.page, b.text) for b in limited.blocks] == [(1, "page 1 xyz"), (2, "page ")]
        assert limited.warnings == (
            "blocks after page 2 dropped (max_pages)",
            "text truncated at max_chars=15",
        )
    finally:
        unregister(".rows")
    with pytest.raises(UnsupportedFileError):
        loader_for(path)


def test_unexpected_loader_exception_becomes_loader_error(tmp_path: Path) -> None:
    path = tmp_path / "x.broken"
    path.write_text("anything")
    with pytest.raises(LoaderError) as err:
        load_with(_BrokenLoader(), path)
    assert err.value.reason == "KeyError: 'boom'"
    assert err.value.path == str(path)


def test_register_rejects_bad_suffix() -> None:
    class NoDot(_RowsLoader):
        suffixes = ("rows",)

    with pytest.raises(ValueError, match="'rows'"):
        register(NoDot())


def test_invalid_limits_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("text")
    with pytest.raises(ValueError, match="max_pages must be >= 1"):
        load_document(path, max_pages=0)
    with pytest.raises(ValueError, match="max_chars must be >= 1"):
        load_document(path, max_chars=-5)


@pytest.mark.parametrize("name", ["empty.pdf", "empty.txt", "empty.md", "empty.html", "empty.docx"])
def test_zero_byte_files(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(LoaderError, match=r"empty file \(0 bytes\)"):
        load_document(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="file not found"):
        load_document(tmp_path / "missing.pdf")
    (tmp_path / "folder.md").mkdir()
    with pytest.raises(LoaderError, match="not a regular file"):
        load_document(tmp_path / "folder.md")


# --- plain text ------------------------------------------------------------------------------


def test_text_utf8(tmp_path: Path) -> None:
    path = tmp_path / "note.text"
    path.write_text("Logbook of the Måken\n\n\n\nFirst  entry:   wind NW.  \n", encoding="utf-8")
    doc = load_document(path)
    assert doc.file_type == "text"
    assert doc.title == "Logbook of the Måken"
    assert doc.blocks == (TextBlock(text="Logbook of the Måken\n\nFirst entry: wind NW."),)
    assert doc.warnings == ()


def test_text_cp1252_and_latin1_fallbacks(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("Brennøy café – “quoted”".encode("cp1252"))
    doc = load_document(path)
    assert doc.text == "Brennøy café – “quoted”"
    assert doc.warnings == ("not valid UTF-8; decoded as cp1252",)
    # 0x81 is undefined in cp1252, so only latin-1 can decode it
    path.write_bytes("Brennøy ".encode("latin-1") + b"\x81 end")
    doc = load_document(path)
    assert doc.text == "Brennøy end"  # U+0081 is a control character: normalized away
    assert doc.warnings == ("not valid UTF-8; decoded as latin-1",)


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_text_with_byte_order_mark(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "bom.txt"
    data = "Ålesund 1879\nline two".encode(codec)
    if codec == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    path.write_bytes(data)
    doc = load_document(path)
    assert doc.text == "Ålesund 1879\nline two"
    assert doc.warnings == ()


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 64,
        b"\x89PNG\r\n\x1a\n" + bytes(4000),
        b"MZ" + b"\x00\x01\x02\x03" * 2000,
        b"text with " + b"\x01\x02\x03\x04\x05\x06" * 50,
    ],
    ids=["all-bytes", "png", "exe", "control-heavy"],
)
def test_binary_txt_is_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(data)
    with pytest.raises(LoaderError, match="looks binary"):
        load_document(path)


def test_text_with_a_stray_nul_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "stray.txt"
    path.write_bytes(b"a" * 5000 + b"\x00" + b" tail")
    assert load_document(path).text.endswith("a tail")


def test_text_max_chars(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("0123456789" * 10)
    doc = load_document(path, max_chars=25)
    assert doc.text == "0123456789012345678901234"
    assert doc.warnings == ("text truncated at max_chars=25",)


def test_whitespace_only_text_has_no_content(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text(" \n\t\n \u200b \n")
    with pytest.raises(LoaderError, match="no text content"):
        load_document(path)


# --- markdown --------------------------------------------------------------------------------

MARKDOWN = """---
title: "Station Notes"
author: Kari Brandt
date: 2021-03-04
---
Preface with a [link](https://example.org), **bold**, `code` and snake_case_name.

# History

Opening paragraph.

## Founding
Founded in *1923*.

```python
# a comment, not a heading
x = 1
```

Setext Heading
--------------
Under the setext heading.

| year | event |
|------|-------|
| 1923 | founded |

### Deep ###
> quoted line

## Empty heading
# Other
Last words.
"""


def test_markdown_sections_and_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text(MARKDOWN)
    doc = load_document(path)
    assert (doc.file_type, doc.title, doc.author, doc.created) == (
        "markdown",
        "Station Notes",
        "Kari Brandt",
        "2021-03-04",
    )
    assert [(b.section, b.text) for b in doc.blocks] == [
        ("", "Preface with a link, bold, code and snake_case_name."),
        ("History", "History\n\nOpening paragraph."),
        ("History > Founding", "Founding\nFounded in 1923.\n\n# a comment, not a heading\nx = 1"),
        (
            "History > Setext Heading",
            "Setext Heading\nUnder the setext heading.\n\n| year | event |\n| 1923 | founded |",
        ),
        ("History > Setext Heading > Deep", "Deep\nquoted line"),
        ("Other", "Other\nLast words."),
    ]


def test_markdown_title_from_first_h1_and_unclosed_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "plain.markdown"
    path.write_text("---\nnot: front matter\n\n## Intro\ntext\n# The Title\nbody\n# Second\nmore\n")
    doc = load_document(path)
    assert doc.title == "The Title"
    assert sections(doc) == ["", "Intro", "The Title", "Second"]
    assert doc.blocks[0].text == "not: front matter"


# --- html ------------------------------------------------------------------------------------

HTML = """<!DOCTYPE html>
<html><head><title>  The   Page </title><style>body { color: red }</style>
<script>var secret = "script text";</script><meta charset="utf-8"></head>
<body>
<h1>Main</h1>
<p>First   paragraph
   with <b>bold</b> and <a href="#">a link</a>.</p>
<!-- a comment -->
<div hidden>hidden text</div><span style="display: none">invisible span</span>
<p aria-hidden="true">aria hidden</p>
<h2>Sub</h2>
<ul><li>one</li>
    <li>two</li></ul>
<table><tr><th>Name</th><th>Year</th></tr><tr><td>Ingrid</td><td>1923</td></tr></table>
<noscript>enable javascript</noscript><template><p>template text</p></template>
line<br>break
<h1>Second</h1><p>Caf&eacute; &amp; more</p>
</body></html>
"""


def test_html_visible_text_and_sections(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(HTML)
    doc = load_document(path, options=PLAIN_TABLES)
    assert (doc.file_type, doc.title) == ("html", "The Page")
    assert [(b.section, b.text) for b in doc.blocks] == [
        ("Main", "Main\nFirst paragraph with bold and a link."),
        ("Main > Sub", "Sub\none\ntwo\n\nName | Year\nIngrid | 1923\n\nline\nbreak"),
        ("Second", "Second\nCafé & more"),
    ]
    for hidden in (
        "script text",
        "color",
        "hidden text",
        "invisible span",
        "aria hidden",
        "enable",
        "template",
        "comment",
    ):
        assert hidden not in doc.text


def test_html_declared_legacy_encoding(tmp_path: Path) -> None:
    path = tmp_path / "old.htm"
    page = '<html><head><meta charset="windows-1252"><title>Brennøy</title></head><body><p>Måken – 1926</p></body></html>'
    path.write_bytes(page.encode("cp1252"))
    doc = load_document(path)
    assert doc.title == "Brennøy"
    assert doc.text == "Måken – 1926"


def test_html_deep_nesting_falls_back_to_flat_text(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text("<html><body>" + "<div>" * 20000 + "deep text" + "</div>" * 20000 + "</body></html>")
    doc = load_document(path)
    assert doc.text == "deep text"
    assert doc.warnings == ("HTML nested too deeply for sections; read as flat text",)


def test_html_without_visible_text(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text("<html><head><title>T</title><script>x()</script></head><body>  </body></html>")
    with pytest.raises(LoaderError, match="no visible text"):
        load_document(path)


# --- docx ------------------------------------------------------------------------------------


def _write_docx(path: Path) -> Path:
    from datetime import datetime, timezone

    import docx

    document = docx.Document()
    document.add_heading("Ignored When Core Title Exists", level=0)
    document.add_paragraph("Preamble.")
    document.add_heading("History", level=1)
    document.add_paragraph("Founded in 1923.")
    document.add_heading("Founding", level=2)
    document.add_paragraph("By Ingrid Halvorsen.")
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Merged"
    table.cell(0, 2).text = "C"
    for col, value in enumerate(["x", "", "z"]):
        table.cell(1, col).text = value
    document.add_heading("Staff", level=1)
    document.add_paragraph("Two people.")
    props = document.core_properties
    props.title, props.author = "Core Title", "Marta Solheim"
    props.created = datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    props.modified = datetime(2021, 6, 7, 8, 9, 10, tzinfo=timezone.utc)
    document.save(str(path))
    return path


def test_docx_sections_tables_and_properties(tmp_path: Path) -> None:
    doc = load_document(_write_docx(tmp_path / "report.docx"), options=PLAIN_TABLES)
    assert (doc.file_type, doc.title, doc.author) == ("docx", "Core Title", "Marta Solheim")
    assert (doc.created, doc.modified) == ("2020-01-02T03:04:05+00:00", "2021-06-07T08:09:10+00:00")
    assert [(b.section, b.text) for b in doc.blocks] == [
        ("Ignored When Core Title Exists", "Ignored When Core Title Exists\nPreamble."),
        ("History", "History\nFounded in 1923."),
        ("History > Founding", "Founding\nBy Ingrid Halvorsen.\nMerged | C\nx | z"),
        ("Staff", "Staff\nTwo people."),
    ]


def test_docx_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "fake.docx"
    path.write_text("I am not a zip archive")
    with pytest.raises(LoaderError, match=r"not a valid \.docx \(zip\) file"):
        load_document(path)


def test_docx_zip_without_document(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "other.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    with pytest.raises(LoaderError, match=r"not a readable \.docx"):
        load_document(path)


def test_docx_decompression_guard(tmp_path: Path) -> None:
    path = _write_docx(tmp_path / "report.docx")
    with pytest.raises(LoaderError, match=r"decompressed size \d+ MB exceeds the 0.01 MB limit"):
        load_with(DocxLoader(max_unzipped_mb=0.01), path)
    with pytest.raises(ValueError, match="max_unzipped_mb"):
        DocxLoader(max_unzipped_mb=0)


# --- pdf -------------------------------------------------------------------------------------


def test_pdf_pages_and_metadata(make_pdf: MakePdf) -> None:
    path = make_pdf(
        "three.pdf", ["first page text", "second page\nline two", "third"], title="T1", author="A1"
    )
    doc = load_document(path)
    assert (doc.file_type, doc.pages, doc.title, doc.author) == ("pdf", 3, "T1", "A1")
    assert doc.blocks == (
        TextBlock(text="first page text", page=1),
        TextBlock(text="second page\nline two", page=2),
        TextBlock(text="third", page=3),
    )
    assert doc.created == "2000-01-01T00:00:00+00:00"  # reportlab's invariant timestamp


def test_pdf_max_pages_and_max_chars(make_pdf: MakePdf) -> None:
    path = make_pdf("three.pdf", ["aaaa bbbb", "cccc dddd", "eeee ffff"])
    doc = load_document(path, max_pages=2)
    assert [b.page for b in doc.blocks] == [1, 2]
    assert doc.pages == 3
    assert doc.warnings == ("read 2 of 3 pages (max_pages=2)",)
    doc = load_document(path, max_chars=12)
    assert [(b.page, b.text) for b in doc.blocks] == [(1, "aaaa bbbb"), (2, "ccc")]
    assert doc.warnings == ("text truncated at max_chars=12",)


def test_pdf_image_only_pages(make_pdf: MakePdf) -> None:
    no_ocr = ExtractOptions(ocr=False)
    with pytest.raises(LoaderError) as err:
        load_document(make_pdf("scan.pdf", ["", ""]), options=no_ocr)
    assert err.value.reason == NO_TEXT_REASON == "no extractable text (scanned/image-only?)"
    # with OCR (the default) the pages are read, and a drawing without letters yields nothing
    with pytest.raises(LoaderError) as err:
        load_document(make_pdf("scan.pdf", ["", ""]))
    assert err.value.reason == "no text found on 2 pages (no text layer; OCR recognised nothing)"
    mixed = load_document(make_pdf("mixed.pdf", ["text one", "", "text three"]))
    assert [b.page for b in mixed.blocks] == [1, 3]
    with pytest.raises(LoaderError, match=r"in the first 1 of 2 pages"):
        load_document(make_pdf("late.pdf", ["", "text"]), max_pages=1, options=no_ocr)


def _encrypt(source: Path, target: Path, user_password: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="RC4-128")
    with target.open("wb") as handle:
        writer.write(handle)
    return target


def test_pdf_encrypted(make_pdf: MakePdf, tmp_path: Path) -> None:
    plain = make_pdf("plain.pdf", ["secret founding date 1923"])
    locked = _encrypt(plain, tmp_path / "locked.pdf", "hunter2")
    with pytest.raises(LoaderError) as err:
        load_document(locked)
    assert err.value.reason == "encrypted PDF: a password is required to open it"
    assert err.value.path == str(locked)
    opened = load_document(_encrypt(plain, tmp_path / "owner-only.pdf", ""))
    assert opened.text == "secret founding date 1923"
    assert opened.warnings == ("encrypted PDF opened with the empty user password",)


def test_pdf_aes_without_cryptography(
    make_pdf: MakePdf, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pypdf
    from pypdf.errors import DependencyError

    locked = _encrypt(make_pdf("plain.pdf", ["x"]), tmp_path / "locked.pdf", "pw")

    def needs_cryptography(self: object, password: str) -> None:
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(pypdf.PdfReader, "decrypt", needs_cryptography)
    with pytest.raises(LoaderError, match="AES decryption needs the 'cryptography' package"):
        load_document(locked)


def test_pdf_truncated_damaged_and_fake(make_pdf: MakePdf, tmp_path: Path) -> None:
    data = make_pdf("good.pdf", ["some text"]).read_bytes()
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoaderError, match=r"truncated PDF \(no %%EOF marker at the end\)"):
        load_document(truncated)
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntrailer\n%%EOF")
    with pytest.raises(LoaderError, match=r"^.*: unreadable PDF \("):
        load_document(damaged)
    fake = tmp_path / "fake.pdf"
    fake.write_text("just some text with a pdf suffix\n%%EOF")
    with pytest.raises(LoaderError, match=r"not a PDF file \(no %PDF- header\)"):
        load_document(fake)


def test_pdf_unreadable_metadata_only_warns(make_pdf: MakePdf, tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(make_pdf("m.pdf", ["body"], title="Kept")))
    writer.add_metadata({"/CreationDate": "D:garbage", "/ModDate": "yesterday"})
    path = tmp_path / "bad-dates.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    doc = load_document(path)
    assert (doc.text, doc.title, doc.created, doc.modified) == ("body", "Kept", None, None)
    assert len(doc.warnings) == 2
    assert doc.warnings[0].startswith("unreadable metadata field 'created': ")
    assert doc.warnings[1].startswith("unreadable metadata field 'modified': ")


def test_pdf_huge_catalogue_array_loads(make_pdf: MakePdf, tmp_path: Path) -> None:
    """The MSFT 10-Q failure in miniature: an inline array over pypdf's default element limit."""
    import pypdf
    from pypdf.generic import ArrayObject, NameObject, NumberObject

    default = pypdf.Configuration().array_maximum_element_count
    size = default + 50_000  # over the installed pypdf's own limit, within ours
    assert size <= PYPDF_LIMITS["array_maximum_element_count"]
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(make_pdf("base.pdf", ["big array inside"])))
    writer.root_object[NameObject("/CitewiseBig")] = ArrayObject(NumberObject(i % 10) for i in range(size))
    path = tmp_path / "big-array.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(pypdf.errors.LimitReachedError):  # the premise: pypdf alone refuses the file
        len(pypdf.PdfReader(path).pages)
    assert load_document(path).text == "big array inside"


# --- the sample corpus -----------------------------------------------------------------------


def test_corpus_pdf(sample_corpus_dir: Path) -> None:
    doc = load_document(sample_corpus_dir / "skarvik_history.pdf")
    assert (doc.pages, [b.page for b in doc.blocks]) == (4, [1, 2, 3, 4])
    assert (doc.title, doc.author) == ("A Short History of the Skarvik Marine Institute", "Marta Solheim")
    assert (doc.created, doc.modified) == ("2019-06-12T10:15:00+02:00", "2020-02-03T14:30:00+01:00")
    pages_with = {
        needle: [b.page for b in doc.blocks if needle in " ".join(b.text.split())]
        for needle in (
            "founded on 14 May 1923",
            "Nordic Ocean Survey Agency (NOSA)",
            "312 metres",
            "succeeded Halvorsen",
        )
    }
    assert pages_with == {
        "founded on 14 May 1923": [1],
        "Nordic Ocean Survey Agency (NOSA)": [2],
        "312 metres": [3],
        "succeeded Halvorsen": [3],
    }
    assert doc.warnings == ()


def test_corpus_docx(sample_corpus_dir: Path) -> None:
    doc = load_document(sample_corpus_dir / "annual_report_1938.docx", options=PLAIN_TABLES)
    assert (doc.title, doc.author) == ("Skarvik Marine Institute: Annual Report for 1938", "Ingrid Halvorsen")
    assert (doc.created, doc.modified) == ("2021-01-15T09:30:00+00:00", "2021-03-02T14:00:00+00:00")
    assert sections(doc) == [
        "Director's Summary",
        "Research > The Aasen Reef Survey",
        "Research > Fisheries Programme",
        "Staff",
    ]
    staff = doc.blocks[-1].text.split("\n")
    assert "Sigrid Aasen | Marine chemist | 1931" in staff
    assert "48,500 kroner" in doc.blocks[0].text


def test_corpus_markdown(sample_corpus_dir: Path) -> None:
    people = load_document(sample_corpus_dir / "people_of_vesterholm.md")
    assert (people.title, people.author, people.created) == (
        "People of Vesterholm",
        "Vesterholm Local History Society",
        "2018-09-01",
    )
    root = "People of Vesterholm"
    assert sections(people) == [root] + [
        f"{root} > {person} > {part}"
        for person, part in [
            ("Ingrid Halvorsen", "Early life"),
            ("Ingrid Halvorsen", "Family"),
            ("Ingrid Halvorsen", "The institute"),
            ("Aksel Brandt", "Studies"),
            ("Aksel Brandt", "Life on Vesterholm"),
            ("Sigrid Aasen", "Early life"),
            ("Sigrid Aasen", "Later life"),
        ]
    ]
    assert "studied glaciology" in people.blocks[4].text
    nosa = load_document(sample_corpus_dir / "nosa_overview.md")
    assert nosa.title == "The Nordic Ocean Survey Agency: an overview"
    assert sections(nosa)[-1] == "The Nordic Ocean Survey Agency > Programmes > Station records"
    assert "# station date depth_m temp_c salinity" in nosa.blocks[-1].text  # code, not a heading


def test_corpus_text_and_html(sample_corpus_dir: Path) -> None:
    log = load_document(sample_corpus_dir / "rustad_logbook.txt")
    assert log.title == "From the logbook of Captain Olav Rustad, fishing vessel Måken, spring 1926"
    assert "I worked with Ingrid Halvorsen on her\nsurvey of the cod spawning grounds" in log.text
    page = load_document(sample_corpus_dir / "havorn.html", options=PLAIN_TABLES)
    assert page.title == "RV Havørn: a research vessel of Vesterholm"
    assert sections(page) == [
        "",
        "RV Havørn",
        "RV Havørn > Construction",
        "RV Havørn > Service > Captains",
        "RV Havørn > Service > Expeditions",
        "RV Havørn > Retirement",
    ]
    assert "Tormod Vik | 1929–1946" in page.blocks[3].text
    assert "Editor's note" not in page.text and "pageViews" not in page.text


def test_corpus_keeps_the_multi_hop_honest(sample_corpus_dir: Path) -> None:
    """The logbook must never name the institute, and only the logbook may name Rustad."""
    docs = {
        p.name: load_document(p)
        for p in sorted(sample_corpus_dir.iterdir())
        if p.suffix in supported_suffixes() and p.name != "QUESTIONS.md"
    }
    assert len(docs) == 6
    log_text = docs["rustad_logbook.txt"].text.lower()
    assert "skarvik" not in log_text and "institute" not in log_text
    assert [name for name, doc in docs.items() if "Rustad" in doc.text] == ["rustad_logbook.txt"]
    assert sum(len(doc.text) for doc in docs.values()) < 30_000  # small enough for fast tests

"""Every robustness sample PDF gives text or a LoaderError with its reason, never a crash.

The expectations were built from ``pdf-samples/files.json`` (page counts, creation dates,
the encrypted flag) and from reading each file: image-only ones have no text layer, and
``017-unreadable-meta-data`` has a zero-filled cross-reference section, so its page tree
cannot be found by any reader. A file added to the folder without an expectation fails.

The five image-only files go through OCR now: each is one picture without letters (a drawing
of a person, a photo, a colour chart), so OCR reports "no text found on 1 page"; with OCR off
they are reported as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.base import ExtractOptions, LoaderError
from ingest.isolation import ParserPool, load_isolated
from ingest.loaders import load_document
from ingest.loaders.pdf_extras import no_text_found_reason
from ingest.loaders.pdf_loader import NO_TEXT_REASON

pytestmark = pytest.mark.integration

ENCRYPTED = "encrypted PDF: a password is required to open it"
DAMAGED = "unreadable PDF (PdfReadError: Invalid object in /Pages)"
OCR_FOUND_NOTHING = no_text_found_reason(1)  # "no text found on 1 page (no text layer; ...)"

# file name -> a phrase from its text, or the exact LoaderError reason
EXPECTED: dict[str, str | LoaderError] = {
    "001-trivial_minimal-document.pdf": "Lorem ipsum dolor sit amet",
    "002-trivial-libre-office-writer_002-trivial-libre-office-writer.pdf": "Lorem ipsum dolor sit amet",
    "003-pdflatex-image_pdflatex-image.pdf": "Your Chapter",
    "004-pdflatex-4-pages_pdflatex-4-pages.pdf": "Hello, here is some text without a meaning",
    "005-libreoffice-writer-password_libreoffice-writer-password.pdf": LoaderError(ENCRYPTED),
    "006-pdflatex-outline_pdflatex-outline.pdf": "Contents",
    "007-imagemagick-images_imagemagick-ASCII85Decode.pdf": LoaderError(OCR_FOUND_NOTHING),
    "007-imagemagick-images_imagemagick-CCITTFaxDecode.pdf": LoaderError(OCR_FOUND_NOTHING),
    "007-imagemagick-images_imagemagick-images.pdf": "Background",
    "007-imagemagick-images_imagemagick-lzw.pdf": LoaderError(OCR_FOUND_NOTHING),
    "008-reportlab-inline-image_inline-image.pdf": "Test",
    "009-pdflatex-geotopo_GeoTopo-komprimiert.pdf": "Geometrie und Topologie",
    "010-pdflatex-forms_pdflatex-forms.pdf": "Submit",
    "011-google-doc-document_google-doc-document.pdf": "Beautiful is better than ugly",
    "012-libreoffice-form_libreoffice-form.pdf": "Example for a Form",
    "013-reportlab-overlay_reportlab-overlay.pdf": "Fingerprint",
    "014-outlines_mistitled_outlines_example.pdf": "Contents",
    "015-arabic_habibi-oneline-cmap.pdf": "habibi",
    "015-arabic_habibi-rotated.pdf": "habibi",
    "015-arabic_habibi.pdf": "habibi",
    "016-libre-office-link_libre-office-link.pdf": "This is a link to an awesome blog.",
    "017-unreadable-meta-data_unreadablemetadata.pdf": LoaderError(DAMAGED),
    "018-base64-image_base64image.pdf": "Produced with a Trial Version of PDF Annotator",
    "019-grayscale-image_grayscale-image.pdf": LoaderError(OCR_FOUND_NOTHING),
    "020-xmp_output_with_metadata_pymupdf.pdf": "Hello, World!",
    "021-pdfa_crazyones-pdfa.pdf": "The Crazy Ones",
    "022-pdfkit_pdfkit.pdf": "Header",
    "023-cmyk-image_cmyk-image.pdf": LoaderError(OCR_FOUND_NOTHING),
    "024-annotations_annotated_pdf.pdf": "Not highlighted",
    "025-attachment_with-attachment.pdf": "Lorem ipsum dolor sit amet",
    "026-latex-multicolumn_multicolumn.pdf": "Two-Column Document with Lorem Ipsum",
}
SLOW = {"009-pdflatex-geotopo_GeoTopo-komprimiert.pdf"}  # 117 pages, about 5 s
IMAGE_ONLY = sorted(
    n for n, e in EXPECTED.items() if isinstance(e, LoaderError) and e.reason == OCR_FOUND_NOTHING
)


def _params() -> list[object]:
    return [
        pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [], id=name[:40])
        for name in EXPECTED
    ]


@pytest.fixture(scope="module")
def samples(shared_data_dir: Path) -> Path:
    return shared_data_dir / "pdf-samples"


@pytest.fixture(scope="module")
def catalogue(samples: Path) -> dict[str, dict[str, object]]:
    """files.json keyed by the flattened local file name ("dir/name.pdf" -> "dir_name.pdf")."""
    entries = json.loads((samples / "files.json").read_text())["data"]
    return {str(e["path"]).replace("/", "_"): e for e in entries}


@pytest.fixture(scope="module")
def pool() -> Iterator[ParserPool]:
    with ParserPool(size=1) as shared:
        yield shared


def test_every_sample_has_an_expectation(samples: Path, catalogue: dict[str, dict[str, object]]) -> None:
    on_disk = sorted(p.name for p in samples.glob("*.pdf"))
    assert on_disk == sorted(EXPECTED)
    assert set(on_disk) <= set(catalogue)


@pytest.mark.parametrize("name", _params())
def test_sample_loads_or_fails_clearly(
    name: str, samples: Path, catalogue: dict[str, dict[str, object]]
) -> None:
    path, expected, facts = samples / name, EXPECTED[name], catalogue[name]
    if isinstance(expected, LoaderError):
        with pytest.raises(LoaderError) as err:
            load_document(path)
        assert err.value.reason == expected.reason
        assert err.value.path == str(path)
        if facts["encrypted"]:
            assert "encrypted" in err.value.reason
        return
    doc = load_document(path)
    assert expected in doc.text
    assert doc.pages == facts["pages"]
    pages = [b.page for b in doc.blocks]
    assert pages == sorted(pages) and None not in pages  # in page order; a page may add table blocks
    created = facts["creation_date"]
    if created is not None:  # our ISO string adds the PDF's time-zone offset where it has one
        assert doc.created is not None and doc.created[:19] == str(created)[:19]


def test_the_image_only_samples_are_the_ones_without_a_text_layer() -> None:
    assert len(IMAGE_ONLY) == 5 and all("image" in n for n in IMAGE_ONLY)


@pytest.mark.parametrize("name", IMAGE_ONLY)
def test_image_only_samples_without_ocr_are_reported_as_before(name: str, samples: Path) -> None:
    with pytest.raises(LoaderError) as err:
        load_document(samples / name, options=ExtractOptions(ocr=False))
    assert err.value.reason == NO_TEXT_REASON


@pytest.mark.parametrize("name", _params())
def test_sample_through_the_isolated_worker(name: str, samples: Path, pool: ParserPool) -> None:
    path, expected = samples / name, EXPECTED[name]
    if isinstance(expected, LoaderError):
        with pytest.raises(LoaderError) as err:
            load_isolated(path, timeout_s=60, memory_mb=1024, pool=pool)
        assert err.value.reason == expected.reason
    else:
        assert expected in load_isolated(path, timeout_s=60, memory_mb=1024, pool=pool).text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "pages", "title"),
    [
        ("2022 Q3 MSFT.pdf", 80, "Form 10-Q for Microsoft Corp filed 10/24/2022"),
        ("2023 Q1 MSFT.pdf", 72, "Form 10-Q for Microsoft Corp filed 01/24/2023"),
    ],
)
def test_msft_filings_load(
    shared_data_dir: Path, pool: ParserPool, name: str, pages: int, title: str
) -> None:
    """Chromium-rendered 10-Qs whose structure tree holds a 84k / 110k element array."""
    path = shared_data_dir / "sec10q" / "docs" / name
    # pypdf's limits are under test here, not tables (their cost is measured in bench/formats.py)
    doc = load_isolated(path, timeout_s=120, memory_mb=2048, pool=pool, options=ExtractOptions(tables=False))
    assert (doc.pages, doc.title) == (pages, title)
    assert [b.page for b in doc.blocks] == list(range(1, pages + 1))
    assert "QUARTERLY REPORT PURSUANT TO SECTION 13 OR 15(d)" in doc.blocks[0].text
    assert "Microsoft" in doc.text and len(doc.text) > 200_000
    assert doc.warnings == ()

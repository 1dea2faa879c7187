"""A scanned copy of the sample corpus PDF: OCR reads it, retrieval finds the right page, answers cite it.

The copy is made by ``scripts/make_scanned_pdf.py`` (pages rendered to 200 dpi pictures, rebuilt
as an image-only PDF), so it has no text layer at all. Word accuracy is measured against the
original's text layer, page by page: the share of the original's words that a word-level diff
(difflib) matches in order in the OCR text, case-folded and without punctuation.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.service import Citewise
from ingest.loaders import load_document

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCAN = "skarvik_history_scan.pdf"
# Questions of data/QUESTIONS.md answered by the PDF, with the page that answers them.
QUESTIONS = [
    ("When was the Skarvik Marine Institute founded?", 1),  # a1
    ("Who funded the institute's first laboratory building?", 1),  # a2
    ("At what depth does the Aasen Reef lie?", 3),  # e1
    ("Who succeeded Halvorsen as director, and when?", 3),  # e2
    ("Who became director of the institute in 1961?", 4),  # f2
    ("When did the institute move to Kvernodden?", 4),  # f4
]
_WORD = re.compile(r"\w+")


def word_accuracy(reference: str, recognised: str) -> float:
    """Share of the reference's words matched, in order, in the recognised text."""
    ref = _WORD.findall(reference.casefold())
    got = _WORD.findall(recognised.casefold())
    matcher = difflib.SequenceMatcher(a=ref, b=got, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / max(len(ref), 1)


def test_word_accuracy_measures_what_it_says() -> None:
    assert word_accuracy("the cat sat on the mat", "the cat sat on the mat") == 1.0
    assert word_accuracy("the cat sat on the mat", "thecat sat on the mat") == pytest.approx(4 / 6)
    assert word_accuracy("a b c d", "") == 0.0


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, sample_corpus_dir: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "make_scanned_pdf", REPO / "scripts" / "make_scanned_pdf.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    folder = tmp_path_factory.mktemp("scan")
    target = folder / SCAN
    assert script.make_scanned(sample_corpus_dir / "skarvik_history.pdf", target) == 4
    return target


def test_the_scan_has_no_text_layer(scanned: Path) -> None:
    from pypdf import PdfReader

    assert all(not (page.extract_text() or "").strip() for page in PdfReader(scanned).pages)


def test_ocr_word_accuracy_against_the_original_text_layer(scanned: Path, sample_corpus_dir: Path) -> None:
    original = load_document(sample_corpus_dir / "skarvik_history.pdf")
    ocr = load_document(scanned)
    assert [(b.page, b.ocr) for b in ocr.blocks] == [(1, True), (2, True), (3, True), (4, True)]
    assert ocr.pages == 4 and ocr.warnings == ()
    for typed, read in zip(original.blocks, ocr.blocks):
        assert word_accuracy(typed.text, read.text) >= 0.95, (typed.page, read.text[:300])
    assert word_accuracy(original.text, ocr.text) >= 0.95


@pytest.fixture(scope="module")
def service(scanned: Path, tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[Citewise]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("scan-index")
    folder = root / "docs"
    folder.mkdir()
    shutil.copy(scanned, folder / SCAN)
    svc = Citewise.open(root / "index", cache_dir=root / "cache", graph={"enabled": False})
    svc.__dict__["embedder"] = embedder
    report = svc.ingest([folder])
    assert report.failed == [] and report.count("added") == 1
    yield svc
    svc.close()


@pytest.mark.parametrize(("question", "page"), QUESTIONS)
def test_questions_about_the_scan_retrieve_its_right_page_and_are_cited(
    service: Citewise, question: str, page: int
) -> None:
    # The answer step reads each hit's parent section, so a page counts as retrieved when it lies in
    # a hit's parent span, and as cited when it lies in a citation's span (as app.evaluation counts).
    hits = service.search(question).hits
    spans = [((h.parent or h.chunk).page_start, (h.parent or h.chunk).page_end) for h in hits]
    assert any(a <= page <= b for a, b in spans), spans
    assert all(h.chunk.ocr and h.chunk.location_label().endswith("(OCR)") for h in hits)
    answer = service.ask(question, mode="extractive")
    cited = [c for c in answer.citations if c.file_name == SCAN and c.page_start <= page <= c.page_end]
    assert cited, [c.label() for c in answer.citations]
    assert cited[0].ocr and cited[0].label().startswith(f"{SCAN} p") and cited[0].label().endswith(" (OCR)")


@pytest.mark.slow
def test_the_local_llm_answer_cites_the_scanned_page(service: Citewise) -> None:
    answer = service.ask("When was the Skarvik Marine Institute founded?")
    assert "1923" in answer.text
    assert any(c.file_name == SCAN and c.page_start <= 1 <= c.page_end for c in answer.citations)

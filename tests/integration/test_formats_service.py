"""Slides, workbooks, CSV, e-books and e-mail through the real service: ingest, find, cite.

The files are built by ``scripts/make_format_samples.py`` under tmp_path, together with one broken
file of each kind. Real parser worker, real MiniLM, real FAISS/BM25, graph off (it is not what
is tested here); answers in extractive mode, which runs the chain's real citation code.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from app.service import Citewise

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_format_samples", REPO / "scripts" / "make_format_samples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SAMPLES = _script()


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[tuple[Citewise, Path, object]]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("formats")
    folder = root / "docs"
    SAMPLES.build_all(folder)
    # a good file next to the broken ones: it must not be lost
    (folder / "note.txt").write_text(
        "The harbour master of Brennøy in 1950 was Lars Vatne.\n", encoding="utf-8"
    )
    service = Citewise.open(root / "index", cache_dir=root / "cache", graph={"enabled": False})
    service.__dict__["embedder"] = embedder
    report = service.ingest([folder])
    yield service, folder, report
    service.close()


@pytest.mark.parametrize("name", list(SAMPLES.FACTS))
def test_each_format_is_found_and_cited_with_its_location(ingested, name: str) -> None:  # type: ignore[no-untyped-def]
    service, folder, _ = ingested
    question, answer_words, location = SAMPLES.FACTS[name]
    hits = service.search(question, k=5).hits
    top = [h for h in hits if h.chunk.file_name == name]
    assert top, [h.chunk.file_name for h in hits]
    assert answer_words in (top[0].parent or top[0].chunk).text
    assert top[0].chunk.location_label().startswith(location)
    answer = service.ask(question, mode="extractive")
    cited = [c for c in answer.citations if c.file_name == name]
    assert cited, [c.label() for c in answer.citations]
    assert cited[0].label().startswith(f"{name} {location}")
    assert cited[0].source == str(folder / name)


def test_sheet_citation_names_the_rows_that_hold_the_fact(ingested) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = ingested
    answer = service.ask("How many tonnes of ling were landed at Kvernodden in 1961?", mode="extractive")
    (cited,) = [c for c in answer.citations if c.file_name == "landings.xlsx"][:1]
    assert cited.page_start is not None and cited.page_end is not None
    assert cited.page_start <= 26 <= cited.page_end  # sheet row 26 holds the 1961 ling landing
    assert answer.to_dict()["citations"][0]["location"].startswith("sheet Landings, rows")


def test_broken_files_are_reported_and_nothing_else_is_lost(ingested) -> None:  # type: ignore[no-untyped-def]
    service, folder, report = ingested
    failed = {Path(o.path).name: o.reason for o in report.failed}
    assert set(failed) == {
        "broken.pptx",
        "broken.xlsx",
        "broken.csv",
        "broken.epub",
        "broken.eml",
        "minutes.docx",
    }
    assert failed["broken.xlsx"] == "not a valid .xlsx (zip) file: File is not a zip file"
    assert failed["broken.eml"] == "not an e-mail message (binary content)"
    assert failed["minutes.docx"].startswith("not a valid .docx")  # the broken attachment, alone
    stored = {d.source for d in service.documents()}
    expected = {str(folder / n) for n in (*SAMPLES.FACTS, "note.txt")}
    expected |= {str(folder / "reef_budget.eml" / n) for n in ("reef_report.pdf", "dredge_log.txt")}
    assert stored == expected
    assert (
        service.search("Who was the harbour master of Brennøy in 1950?", k=3).hits[0].chunk.file_name
        == "note.txt"
    )


def test_mail_attachments_are_documents_of_their_own(ingested) -> None:  # type: ignore[no-untyped-def]
    service, folder, _ = ingested
    question, words, file_name = SAMPLES.ATTACHMENT_FACT
    hit = service.search(question, k=3).hits[0]
    assert hit.chunk.file_name == file_name and words in hit.chunk.text
    assert hit.chunk.source == str(folder / "reef_budget.eml" / file_name)
    assert hit.chunk.location_label() == "p. 1"
    records = {d.source: d for d in service.documents()}
    assert records[hit.chunk.source].file_type == "pdf"
    assert records[str(folder / "reef_budget.eml")].title == "Reef survey budget"


def test_forgetting_or_changing_a_mail_takes_its_attachments_along(tmp_path: Path, open_service) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "mail"
    folder.mkdir()
    SAMPLES.build_eml(folder / "reef_budget.eml")
    service = open_service(graph={"enabled": False})
    service.ingest([folder])
    sources = {d.source for d in service.documents()}
    assert str(folder / "reef_budget.eml" / "reef_report.pdf") in sources
    # a new version of the mail without attachments: its old attachments are forgotten
    (folder / "reef_budget.eml").write_text(
        "From: a@b.example\nSubject: Reef survey budget\n\nNo attachments this time.\n", encoding="utf-8"
    )
    again = service.ingest([folder], prune=True)
    assert again.summary()["updated"] == 1
    assert {d.source for d in service.documents()} == {str(folder / "reef_budget.eml")}
    SAMPLES.build_eml(folder / "reef_budget.eml")
    service.ingest([folder], prune=True)
    assert len(service.documents()) == 3  # the mail and its two readable attachments; prune kept them
    removed = service.forget(folder / "reef_budget.eml")
    assert len(removed) == 3 and service.documents() == []

"""The Streamlit app through ``streamlit.testing.v1.AppTest`` over the real service and sample corpus.

One index per module (the sample corpus, without its answer key); the app finds it through
``CITEWISE_INDEX_DIR`` like ``citewise ui`` does. Questions and expected files/pages come from
``data/QUESTIONS.md``. Extractive mode is used where the LLM is not the point.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.service import Citewise
from retrieval.chain import Answer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APP = Path(__file__).resolve().parents[2] / "app" / "ui" / "streamlit_app.py"
TERNS = (
    "# Kalvøy tern survey\n\n"
    "In the summer of 1952 the warden Bodil Rasmussen counted 4,120 nesting pairs of Arctic terns "
    "on the island of Kalvøy, twice as many as in 1948.\n"
).encode()
TERNS_QUESTION = "How many nesting pairs of terns did Bodil Rasmussen count on Kalvøy?"


@pytest.fixture(scope="module")
def index_dir(
    tmp_path_factory: pytest.TempPathFactory, sample_corpus_dir: Path, embedder, cache_dir: Path
) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """The sample corpus ingested once; the app is pointed at it through the environment."""
    root = tmp_path_factory.mktemp("ui")
    index = root / "data" / "index"
    service = Citewise.open(index, cache_dir=cache_dir)
    service.__dict__["embedder"] = embedder  # the session's loaded model, same weights
    report = service.ingest([sample_corpus_dir], exclude=["**/QUESTIONS.md"])
    assert report.summary()["added"] == 6 and not report.failed
    service.close()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CITEWISE_INDEX_DIR", str(index))
        mp.setenv("CITEWISE_CACHE_DIR", str(cache_dir))
        mp.setenv("CITEWISE_LLM__MAX_TOKENS", "64")  # the bundled model on 2 cores: keep answers short
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield index
        import streamlit as st

        st.cache_resource.clear()  # closes the app's service (on_release)


def start(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str, mode: str = "extractive") -> Answer:
    """Ask through the chat input; return the answer the session remembered."""
    at.radio(key="opt_mode").set_value(mode)
    at.chat_input(key="chat_input").set_value(question).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    history = at.session_state["conversation"].history
    assert history and history[-1].question == question
    return history[-1]  # type: ignore[no-any-return]


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def upload(at: AppTest, files: list[tuple[str, bytes, str]]) -> list[dict[str, object]]:
    """Upload ``files`` on the documents page and press Ingest; returns the per-file rows shown."""
    generation = at.session_state["upload_generation"]
    at.file_uploader(key=f"uploader_{generation}").set_value(files).run()
    at.button(key="ingest_uploads").click().run()
    assert not at.exception, at.exception
    return at.session_state["last_ingest"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("question", "expected", "file_name", "page"),
    [
        ("When was the Skarvik Marine Institute founded?", "14 May 1923", "skarvik_history.pdf", 1),
        ("At what depth does the Aasen Reef lie?", "312 metres", "skarvik_history.pdf", 3),
    ],
)
def test_question_is_answered_with_a_citation_of_the_right_file_and_page(
    index_dir: Path, question: str, expected: str, file_name: str, page: int
) -> None:
    at = start()
    answer = ask(at, question)
    assert expected in answer.text and not answer.refused
    cited = [(c.file_name, c.page_start, c.page_end) for c in answer.citations]
    assert (file_name, page, page) in cited, cited  # the page itself, not a section's page span
    n = next(c.n for c in answer.citations if (c.file_name, c.page_start) == (file_name, page))
    assert f"[{n}]" in answer.text  # the marker in the text is the number the sources list shows
    shown = markdown_text(at)
    assert f"\\[{n}\\] {file_name.replace('_', chr(92) + '_').replace('.', chr(92) + '.')}" in shown
    assert expected in shown.replace("\\", "")
    assert [e.label for e in at.expander if e.label.startswith("Sources")] == [f"Sources ({len(cited)})"]


def test_follow_up_uses_memory_and_new_conversation_forgets(index_dir: Path) -> None:
    at = start()
    ask(at, "Who founded the Skarvik Marine Institute?")
    follow = ask(at, "And what did her husband study?")
    # The follow-up was rewritten with the first turn's entity (extractive mode: the chain's rules).
    assert follow.standalone_question != follow.question
    assert (
        "Skarvik Marine Institute" in follow.standalone_question or "Halvorsen" in follow.standalone_question
    )
    captions = "\n".join(c.value for c in at.caption).replace("\\", "")
    assert f"Searched as: {follow.standalone_question}" in captions
    assert len(at.chat_message) == 4  # two questions, two answers
    at.button(key="new_conversation").click().run()
    assert at.session_state["conversation"].history == []
    assert len(at.chat_message) == 0


def test_upload_becomes_searchable_and_removal_removes_its_hits(index_dir: Path) -> None:
    at = start("page_documents.py")
    rows = upload(at, [("../Kalvøy terns?.md", TERNS, "text/markdown")])
    assert [(r["name"], r["status"]) for r in rows] == [("Kalvøy terns_.md", "added")]
    stored = index_dir.parent / "uploads" / hashlib.sha256(TERNS).hexdigest() / "Kalvøy terns_.md"
    assert stored.read_bytes() == TERNS
    assert any("Kalvøy terns" in s.value for s in at.success)

    chat = start()
    answer = ask(chat, TERNS_QUESTION)
    assert "4,120" in answer.text
    assert [c.file_name for c in answer.citations] == ["Kalvøy terns_.md"]

    at = start("page_documents.py")
    at.selectbox(key="remove_choice").set_value(str(stored)).run()
    at.button(key="remove_document").click().run()
    assert not at.exception and not at.error
    assert not stored.exists()
    chat = start()
    after = ask(chat, TERNS_QUESTION)
    assert all(h.chunk.source != str(stored) for h in after.hits)
    assert "4,120" not in after.text


def test_bad_upload_shows_its_reason_and_leaves_the_index_intact(index_dir: Path) -> None:
    at = start("page_documents.py")
    before = {d.doc_id: d.n_children for d in _documents(index_dir)}
    good = b"The harbour master of Brennoy in 1931 was Johan Trulsen.\n"
    rows = upload(
        at,
        [
            ("broken.pdf", b"%PDF-1.4 not really a pdf", "application/pdf"),
            ("harbour.txt", good, "text/plain"),
        ],
    )
    status = {r["name"]: (r["status"], r["reason"]) for r in rows}
    assert status["harbour.txt"][0] == "added"
    assert status["broken.pdf"][0] == "failed" and status["broken.pdf"][1]
    errors = [e.value.replace("\\", "") for e in at.error]
    assert errors == [f"**broken.pdf** was not ingested: {status['broken.pdf'][1]}"]
    after = {d.doc_id: d.n_children for d in _documents(index_dir)}
    assert {k: v for k, v in after.items() if k in before} == before
    assert len(after) == len(before) + 1
    answer = ask(start(), "When was the Skarvik Marine Institute founded?")
    assert ("skarvik_history.pdf", 1) in [(c.file_name, c.page_start) for c in answer.citations]


def _documents(index_dir: Path) -> list:  # type: ignore[type-arg]
    reader = Citewise.open(index_dir, read_only=True)
    try:
        return reader.documents()
    finally:
        reader.close()


def test_graph_page_finds_an_entity_and_its_neighbours(index_dir: Path) -> None:
    at = start("page_graph.py")
    at.text_input(key="graph_query").set_value("Halvorsen").run()
    assert not at.exception and not at.error
    assert [h.value for h in at.subheader] == ["Ingrid Halvorsen"]
    charts = at.get("graphviz_chart")
    assert len(charts) == 1
    dot = charts[0].proto.spec
    for neighbour in ("Aksel Brandt", "Skarvik Marine Institute", "Lillefjord"):
        assert f'"{neighbour}\\n' in dot, neighbour
    assert 'label="marry"' in dot
    shown = markdown_text(at).replace("\\", "")
    assert "**Ingrid Halvorsen** :gray[marry] **Aksel Brandt**" in shown
    assert "Halvorsen married Aksel Brandt" in shown  # the evidence sentence


def test_answer_through_the_bundled_llm_is_streamed_with_sources(index_dir: Path) -> None:
    at = start()
    answer = ask(at, "When was the Skarvik Marine Institute founded?", mode="llm")
    assert answer.mode == "llm" and not answer.refused and answer.text.strip()
    assert "1923" in answer.text
    assert not answer.flagged and not answer.consulted, (answer.text, answer.notes)  # cited, not listed
    assert ("skarvik_history.pdf", 1) in [(c.file_name, c.page_start) for c in answer.citations]
    assert "1923" in markdown_text(at)
    captions = "\n".join(c.value for c in at.caption).replace("\\", "")
    assert "Written by the local model" in captions and "cites no source" not in captions

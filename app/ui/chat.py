"""The chat page: streamed, cited answers over one conversation per browser session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import streamlit as st

from app.service import Citewise, Conversation
from app.ui.common import answer_options, conversation, get_service, lock, user_errors
from app.ui.formatting import (
    answer_markdown,
    escape_md,
    filter_text,
    highlight,
    provenance_text,
    unsupported_markdown,
)
from retrieval.base import Hit
from retrieval.chain import Answer, Citation, Done, Retrieved, TextDelta
from retrieval.locations import locate

_MODE_NOTE = {
    "llm": "Written by the local model from the sources below.",
    "extractive": "Extractive answer: sentences quoted from the sources below.",
}


def render() -> None:
    """Draw the chat page."""
    service = get_service()
    title, button = st.columns([4, 1], vertical_alignment="bottom")
    title.title("Ask your documents")
    conv = conversation(service)
    if button.button("New conversation", icon=":material/add_comment:", key="new_conversation"):
        conv.reset()
    st.caption("Every answer cites file and page. Nothing leaves this machine.")
    if not _has_documents(service):
        st.info("The index is empty: add files on the Documents page first.", icon=":material/info:")
        st.page_link("page_documents.py", label="Go to Documents", icon=":material/upload_file:")
        return
    for turn, answer in enumerate(conv.history):
        with st.chat_message("user"):
            st.markdown(escape_md(answer.question))
        with st.chat_message("assistant"):
            show_answer(answer, key=f"turn{turn}")
    question = st.chat_input("Ask a question about your documents", key="chat_input")
    if question and question.strip():
        with st.chat_message("user"):
            st.markdown(escape_md(question))
        with st.chat_message("assistant"):
            _stream_reply(conv, question, key=f"turn{len(conv.history)}")


def _has_documents(service: Citewise) -> bool:
    with user_errors("Opening the index"):
        return bool(service.store.docstore.counts().get("documents"))
    return False


def _stream_reply(conv: Conversation, question: str, *, key: str) -> None:
    status = st.empty()
    slot = st.empty()
    mode, options = answer_options()
    final: dict[str, Answer] = {}
    guard = lock("answer")
    if not guard.acquire(blocking=False):
        status.caption("Waiting for another answer to finish…")
        guard.acquire()
    try:
        status.caption("Searching your documents…")
        with user_errors("Answering"):
            events = conv.stream(question, mode=mode, **options)
            with slot.container():
                st.write_stream(_texts(events, status, final))
    finally:
        guard.release()
    status.empty()
    if "answer" in final:
        with slot.container():
            show_answer(final["answer"], key=key)


def _texts(events: Iterator[Any], status: Any, final: dict[str, Answer]) -> Iterator[str]:
    """The answer's text deltas, escaped for markdown; records the final answer in ``final``."""
    for event in events:
        if isinstance(event, Retrieved):
            status.caption(f"Read {len(event.hits)} passages; writing the answer…")
        elif isinstance(event, TextDelta):
            yield escape_md(event.text)
        elif isinstance(event, Done):
            final["answer"] = event.answer


def show_answer(answer: Answer, *, key: str) -> None:
    """An answer with citation markers (click to read the source) and a sources expander."""
    if answer.refused:
        st.markdown(escape_md(answer.text))
        st.caption("The indexed documents do not seem to answer this question.")
    else:
        st.markdown(answer_markdown(answer.text))
        warnings = unsupported_markdown(answer.claims)
        if warnings:
            st.markdown(warnings)
    shown = answer.citations or answer.consulted
    if answer.flagged and not answer.citations and answer.consulted:
        st.caption(":material/warning: The answer cites no source; these are the sources it was given.")
    if shown:
        with st.container(horizontal=True, key=f"{key}_markers"):
            for citation in shown:
                with st.popover(escape_md(f"[{citation.n}] {citation.label()}")):
                    _show_source(citation, _hit_of(answer, citation))
    with st.expander(f"Sources ({len(shown)})", icon=":material/menu_book:"):
        for citation in shown:
            _show_source(citation, _hit_of(answer, citation))
            st.divider()
        _show_retrieval_facts(answer)


def _hit_of(answer: Answer, citation: Citation) -> Hit | None:
    if 1 <= citation.n <= len(answer.hits):
        hit = answer.hits[citation.n - 1]
        if hit.chunk.id == citation.chunk_id:
            return hit
    return next((h for h in answer.hits if h.chunk.id == citation.chunk_id), None)


def _show_source(citation: Citation, hit: Hit | None) -> None:
    head = f"**\\[{citation.n}\\] {escape_md(citation.file_name)}**"
    where = locate(citation.file_type, citation.page_start, citation.page_end, citation.section)
    if where.label:
        head += f" · {escape_md(where.label)}"
    section = (hit.parent or hit.chunk).section if hit is not None else citation.section
    if section and where.kind != "rows":  # a sheet's name is in the label already
        head += f" · _{escape_md(section)}_"
    st.markdown(head)
    if citation.ocr:
        st.caption(
            ":material/document_scanner: Text recognised by OCR from a page image; it may hold misread words."
        )
    st.markdown(highlight(hit.answer_text if hit is not None else citation.snippet, citation.snippet))
    if hit is not None:
        st.caption(escape_md(f"Found by {provenance_text(hit.provenance)} · fused score {hit.score:.4f}"))


def _show_retrieval_facts(answer: Answer) -> None:
    facts = [_MODE_NOTE.get(answer.mode, answer.mode)]
    if answer.filter:
        facts.append(f"Self-query applied the filter {filter_text(answer.filter)}")
    else:
        facts.append("No metadata filter was applied.")
    if answer.standalone_question and answer.standalone_question != answer.question:
        facts.append(f"Searched as: {answer.standalone_question}")
    facts += [f"Note: {note}" for note in answer.notes]
    st.caption("  \n".join(escape_md(fact) for fact in facts))

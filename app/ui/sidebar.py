"""The settings panel: retrieval stages and answer mode per session, the model, index statistics.

The switches are per-call options of ``service.ask`` / ``service.stream``; nothing here changes
the service's settings, so one user's choices never affect another session.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.service import Citewise

_MODES = {"llm": "Local LLM", "extractive": "Extractive (quotes, no model)"}


def _defaults(service: Citewise) -> dict[str, Any]:
    r, llm = service.settings.retrieval, service.settings.llm
    return {
        "opt_mode": llm.answer_mode,
        "opt_k": r.k,
        "opt_graph": r.graph and service.settings.graph.enabled,
        "opt_mmr": r.mmr,
        "opt_mmr_lambda": r.mmr_lambda,
        "opt_self_query": r.self_query,
        "opt_compression": r.compression,
    }


def render_sidebar(service: Citewise) -> None:
    """Draw the sidebar below the page navigation."""
    for key, value in _defaults(service).items():
        st.session_state.setdefault(key, value)
    with st.sidebar:
        with st.expander("Answer settings", expanded=True, icon=":material/tune:"):
            _answer_controls(service)
        with st.expander("Model", icon=":material/memory:"):
            st.markdown(model_summary(service))
        with st.expander("Index", icon=":material/database:"):
            _index_stats(service)


def _answer_controls(service: Citewise) -> None:
    st.radio("Answer with", list(_MODES), format_func=_MODES.__getitem__, key="opt_mode")
    st.slider("Sources per answer (k)", 1, 10, key="opt_k")
    st.toggle(
        "Knowledge-graph retrieval",
        key="opt_graph",
        disabled=not service.settings.graph.enabled,
        help="Follow entities and their relations to passages that share no words with the question.",
    )
    st.toggle("Diversify sources (MMR)", key="opt_mmr", help="Prefer sources that say different things.")
    st.slider(
        "MMR λ: relevance ↔ diversity",
        0.0,
        1.0,
        step=0.05,
        key="opt_mmr_lambda",
        disabled=not st.session_state.get("opt_mmr", True),
        help="1 keeps the most relevant sources only; lower values trade relevance for variety.",
    )
    st.toggle(
        "Self-query filters",
        key="opt_self_query",
        help='Read file names and dates in the question ("in the 1938 report") as metadata filters.',
    )
    st.toggle("Compression", key="opt_compression", help="Keep only the sentences relevant to the question.")


def model_summary(service: Citewise) -> str:
    """The model in use and its context size, as markdown."""
    from app.ui.formatting import escape_md

    llm = service.settings.llm
    if llm.backend == "llamacpp":
        name = llm.model_path.name if llm.model_path else "Gemma 3 270M, Q4_K_M (bundled)"
        where = "llama.cpp on this machine"
    elif llm.backend == "openai_compat":
        name, where = llm.model_name, f"OpenAI-compatible server at {llm.base_url}"
    else:
        name, where = "fake", "scripted replies (tests)"
    loaded = service.__dict__.get("_llm")
    n_ctx = getattr(loaded, "n_ctx", None) or llm.n_ctx
    emb = service.settings.embedding.model_path
    embedder = emb.name if emb is not None else "all-MiniLM-L6-v2 (bundled)"
    return (
        f"**{escape_md(name)}**  \n{escape_md(where)}  \n"
        f"Context window: {n_ctx:,} tokens  \nLongest answer: {llm.max_tokens:,} tokens  \n"
        f"Embeddings: {escape_md(embedder)}"
    )


def _index_stats(service: Citewise) -> None:
    from app.ui.common import user_errors

    with user_errors("Reading the index statistics"):
        stats = service.stats()
        graph = stats.get("graph") or {}
        left, right = st.columns(2)
        left.metric("Documents", stats.get("documents", 0))
        right.metric("Chunks", stats.get("children", 0))
        left.metric("Entities", graph.get("entities", 0))
        right.metric("Relations", graph.get("relations", 0))
        st.caption(f"{stats.get('vectors', 0)} vectors · {stats.get('index_type')} FAISS index")
        st.caption(f"graph: {stats.get('graph_backend')}")

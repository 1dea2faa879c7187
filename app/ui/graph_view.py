"""The knowledge-graph page: find an entity, draw its neighbourhood, read the evidence."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from app.service import Citewise
from app.ui.common import get_service, user_errors
from app.ui.formatting import escape_md, graph_dot
from graph.base import Entity, GraphStore, Relation

_MAX_NEIGHBOURS = 40


def render() -> None:
    """Draw the knowledge-graph page."""
    service = get_service()
    st.title("Knowledge graph")
    if not service.settings.graph.enabled:
        st.info("The knowledge graph is switched off (graph.enabled = false in the settings).")
        return
    with user_errors("Reading the knowledge graph"):
        store = service.graph_store
        if not store.stats().get("entities"):
            st.info("The graph is empty: ingest documents first (Documents page).")
            return
        _search(service, store)


def _pick_top() -> None:
    picked = st.session_state.get("graph_top")
    if picked:
        st.session_state["graph_query"] = picked


def _search(service: Citewise, store: GraphStore) -> None:
    top = store.top_entities(12)
    st.caption("People, organisations and places read from your documents, and how they relate.")
    query_col, hops_col, co_col = st.columns([4, 1, 2], vertical_alignment="bottom")
    query = query_col.text_input("Find an entity", key="graph_query", placeholder="e.g. a person or place")
    hops = hops_col.selectbox("Hops", [1, 2], key="graph_hops")
    cooccurs = co_col.toggle("Show co-occurrence", key="graph_cooccurs", help="Names in the same sentence.")
    st.pills(
        "Most connected",
        list(dict.fromkeys(e.name for e, _ in top)),
        key="graph_top",
        on_change=_pick_top,
    )
    if not query.strip():
        return
    matches = store.find_entities(query.strip(), limit=8)
    if not matches:
        st.warning(f"No entity matches “{query.strip()}”.")
        return
    entity = matches[0]
    if len(matches) > 1:
        entity = st.selectbox(
            "Matching entities", matches, format_func=lambda e: f"{e.name} ({e.type})", key="graph_match"
        )
    _neighbourhood(service, store, entity, hops, cooccurs)


def _neighbourhood(service: Citewise, store: GraphStore, entity: Entity, hops: int, cooccurs: bool) -> None:
    sub = store.neighbors([entity.id], hops=hops, limit=_MAX_NEIGHBOURS)
    edges = [r for r in sub.relations if cooccurs or r.kind != "cooccurs"]
    linked = {entity.id} | {r.source_id for r in edges} | {r.target_id for r in edges}
    entities = [e for e in sub.entities if e.id in linked] or [entity]
    aliases = ", ".join(entity.aliases)
    st.subheader(entity.name)
    st.caption(
        escape_md(
            f"{entity.type} · {len(entities) - 1} neighbours" + (f" · also: {aliases}" if aliases else "")
        )
    )
    chart, evidence = st.columns([3, 2])
    with chart:
        st.graphviz_chart(graph_dot(entities, edges, focus=entity.id), width="stretch")
    with evidence:
        names = {e.id: e.name for e in (*sub.entities, entity)}
        files = {d.doc_id: d.file_name for d in service.documents()}
        _relations(store.relations_of([entity.id], limit=200), names, files, cooccurs)


def _relations(
    relations: Sequence[Relation], names: dict[str, str], files: dict[str, str], cooccurs: bool
) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    shown = 0
    with st.container(height=520, border=False):
        ordered = sorted(relations, key=lambda r: (r.kind == "cooccurs", r.type, r.page or 0))
        for rel in ordered:
            key = (rel.source_id, rel.target_id, rel.type, rel.sentence)
            if key in seen or (rel.kind == "cooccurs" and not cooccurs):
                continue
            seen.add(key)
            shown += 1
            _relation(rel, names, files)
        if not shown:
            st.caption("No extracted relations; switch on co-occurrence to see names read together.")


def _relation(rel: Relation, names: dict[str, str], files: dict[str, str]) -> None:
    source = escape_md(names.get(rel.source_id, rel.source_id))
    target = escape_md(names.get(rel.target_id, rel.target_id))
    verb = "appears with" if rel.kind == "cooccurs" else rel.type.replace("_", " ")
    st.markdown(f"**{source}** :gray[{escape_md(verb)}] **{target}**")
    where = files.get(rel.doc_id, rel.doc_id) + (f", p. {rel.page}" if rel.page else "")
    if rel.sentence:
        st.markdown(f"> {escape_md(rel.sentence)}")
    st.caption(escape_md(where + (" · read by the LLM" if rel.kind == "llm" else "")))

"""Text the UI shows, built as plain markdown or DOT: escaping, highlights, citation markers.

Pure functions, no Streamlit: document and model text is untrusted, so everything here escapes it
before it reaches ``st.markdown`` (which never gets ``unsafe_allow_html``) or Graphviz.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from graph.base import Entity, Relation

# Every ASCII punctuation character that markdown, Streamlit's directives (":red[...]",
# ":smile:") or LaTeX ("$...$") could read as syntax. CommonMark lets any of them be escaped.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=^\"'])")
_CITATION = re.compile(r"\[(\d+)\]")
_SPACE = re.compile(r"\s+")
_RETRIEVER_ORDER = ("dense", "bm25", "graph")
_TYPE_COLOURS = {
    "PERSON": "#dbeafe",
    "ORG": "#dcfce7",
    "GPE": "#ffedd5",
    "LOC": "#ffedd5",
    "FAC": "#fef9c3",
    "DATE": "#f3e8ff",
}


def escape_md(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every markdown-active character escaped.

    Whitespace runs become one space; with ``keep_lines`` line breaks survive as markdown breaks.
    """
    if keep_lines and "\n" in text:
        lines = (escape_md(line) for line in text.splitlines())
        return "  \n".join(line for line in lines if line.strip())
    return _MD_SPECIAL.sub(r"\\\1", _SPACE.sub(" ", text))


def answer_markdown(text: str) -> str:
    """Answer text as markdown: escaped, with each ``[n]`` shown as a citation badge."""
    parts = _CITATION.split(text)
    out = []
    for i, part in enumerate(parts):
        out.append(f":blue-badge[{part}]" if i % 2 else escape_md(part, keep_lines=True))
    return "".join(out)


def unsupported_markdown(claims: Sequence[Any]) -> str:
    """One warning line per unsupported answer sentence (a :class:`retrieval.claims.ClaimCheck`),
    with what the cited source lacks; empty when every sentence is supported."""
    lines = []
    for claim in claims:
        if claim.supported:
            continue
        missing = ", ".join(claim.missing) or "nothing checkable"
        shown = (
            claim.sentence
            if claim.replacement is None
            else f"{claim.sentence} (shown instead: {claim.replacement})"
        )
        lines.append(
            f":orange-badge[unsupported] {escape_md(shown)} — {escape_md('not in the source: ' + missing)}"
        )
    return "  \n".join(lines)


def highlight(context: str, snippet: str, *, width: int = 600) -> str:
    """A window of ``context`` around ``snippet``, escaped, with the snippet in bold.

    Falls back to the escaped start of ``context`` (and the snippet under it) when the snippet
    cannot be found verbatim.
    """
    context = _SPACE.sub(" ", context).strip()
    snippet = _SPACE.sub(" ", snippet).strip()
    at = context.find(snippet) if snippet else -1
    if at < 0 and snippet:
        at = context.find(snippet[:60])
    if at < 0:
        shown = context[:width]
        more = "…" if len(context) > width else ""
        if snippet:
            return f"> **{escape_md(snippet)}**\n>\n> {escape_md(shown)}{more}"
        return f"> {escape_md(shown)}{more}"
    end = min(len(context), at + len(snippet))
    room = max(0, width - (end - at)) // 2
    start, stop = max(0, at - room), min(len(context), end + room)
    before = (("…" if start else "") + context[start:at]).strip()
    after = (context[end:stop] + ("…" if stop < len(context) else "")).strip()
    parts = [escape_md(before), f"**{escape_md(context[at:end])}**", escape_md(after)]
    return "> " + " ".join(p for p in parts if p)


def provenance_text(provenance: Mapping[str, Mapping[str, float]]) -> str:
    """Which retrievers found a hit, with rank and raw score: ``dense #1 (0.883) · bm25 #4 (2.10)``."""
    names = [n for n in _RETRIEVER_ORDER if n in provenance]
    names += sorted(n for n in provenance if n not in _RETRIEVER_ORDER)
    parts = []
    for name in names:
        info = provenance[name]
        rank = info.get("rank")
        score = info.get("score")
        rank_s = f" #{int(rank)}" if rank is not None else ""
        score_s = f" ({score:.3f})" if score is not None else ""
        parts.append(f"{name}{rank_s}{score_s}")
    return " · ".join(parts) if parts else "no retriever provenance"


def filter_text(flt: Mapping[str, Any] | None) -> str:
    """A metadata filter as compact JSON (empty when None)."""
    return json.dumps(flt, ensure_ascii=False, sort_keys=True) if flt else ""


def format_time(ts: float) -> str:
    """A Unix time as local ``YYYY-MM-DD HH:MM``."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


def dot_quote(text: str) -> str:
    """``text`` as a DOT double-quoted string (backslashes, quotes and newlines escaped)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r", "").replace("\n", "\\n")
    return f'"{escaped}"'


def graph_dot(
    entities: Sequence[Entity],
    relations: Iterable[Relation],
    *,
    focus: str | None = None,
    max_edges: int = 60,
) -> str:
    """DOT text of a neighbourhood: entities coloured by type, extracted relations labelled.

    Parallel edges of the same type are merged (their count shown); co-occurrence edges are grey
    and dashed. Node ids are synthetic (``n0``, ``n1``...), names only ever appear in quoted labels.
    """
    ids = {e.id: f"n{i}" for i, e in enumerate(entities)}
    lines = [
        "digraph neighbourhood {",
        '  graph [rankdir=LR, bgcolor="transparent", pad=0.2, nodesep=0.35, ranksep=0.6];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, color="#94a3b8"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#64748b", fontcolor="#334155"];',
    ]
    for entity in entities:
        fill = "#fde68a" if entity.id == focus else _TYPE_COLOURS.get(entity.type, "#f1f5f9")
        width = ", penwidth=2" if entity.id == focus else ""
        label = dot_quote(f"{entity.name}\n{entity.type.lower()}")
        lines.append(f'  {ids[entity.id]} [label={label}, fillcolor="{fill}"{width}];')
    lines += _dot_edges(relations, ids, max_edges)
    lines.append("}")
    return "\n".join(lines)


def _dot_edges(relations: Iterable[Relation], ids: Mapping[str, str], max_edges: int) -> list[str]:
    merged: dict[tuple[str, str, str, str], int] = {}
    for rel in relations:
        if rel.source_id in ids and rel.target_id in ids and rel.source_id != rel.target_id:
            key = (rel.source_id, rel.target_id, rel.type, rel.kind)
            merged[key] = merged.get(key, 0) + 1
    # Extracted relations first: they carry meaning; co-occurrence only fills the remaining room.
    ordered = sorted(merged.items(), key=lambda item: (item[0][3] == "cooccurs", -item[1]))
    lines = []
    for (src, dst, rel_type, kind), count in ordered[:max_edges]:
        if kind == "cooccurs":
            lines.append(f'  {ids[src]} -> {ids[dst]} [style=dashed, color="#cbd5e1", arrowhead=none];')
            continue
        label = rel_type.replace("_", " ") + (f" ×{count}" if count > 1 else "")
        lines.append(f"  {ids[src]} -> {ids[dst]} [label={dot_quote(label)}];")
    return lines

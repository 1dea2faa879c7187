"""The UI's pure helpers: markdown escaping, highlights, DOT text, and how uploads are stored.

No Streamlit and no models here; these run in milliseconds (no integration marker).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from app.ui.formatting import (
    answer_markdown,
    dot_quote,
    escape_md,
    graph_dot,
    highlight,
    provenance_text,
)
from app.uploads import Upload, UploadError, sanitize_name, store_upload
from graph.base import Entity, Relation

SUFFIXES = [".md", ".pdf", ".txt"]
_md = MarkdownIt("commonmark")


def rendered_text(markdown: str) -> str:
    """What a reader sees: the inline text of the rendered markdown, with no markup."""
    out = []
    for token in _md.parse(markdown):
        for child in token.children or []:
            if child.type in ("text", "code_inline"):
                out.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                out.append(" ")
    return "".join(out)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=80))
def test_escaped_text_renders_as_itself(text: str) -> None:
    collapsed = " ".join(text.split())
    assert rendered_text(escape_md(text)).strip() == collapsed.strip()


def test_escape_neutralizes_markup_links_and_streamlit_directives() -> None:
    text = "**bold** [click](javascript:alert(1)) <img src=x> :red[alarm] $x^2$ # heading"
    tokens = _md.parse(escape_md(text))
    kinds = {c.type for t in tokens for c in (t.children or [])}
    assert kinds == {"text"}  # no strong, link, html_inline or heading
    assert "\\:red\\[alarm\\]" in escape_md(text) and "\\$x\\^2\\$" in escape_md(text)


def test_answer_markdown_turns_citations_into_badges_and_escapes_the_rest() -> None:
    md = answer_markdown("It was founded in 1923 [1] by *Halvorsen* [2].\nSee [3]")
    assert md == (
        "It was founded in 1923 :blue-badge[1] by \\*Halvorsen\\* :blue-badge[2]\\.  \nSee :blue-badge[3]"
    )


def test_highlight_bolds_the_sentence_inside_a_window_of_its_context() -> None:
    context = "Intro text. The reef lies at a depth of 312 metres.\nIt was named in 1939. " + "x " * 500
    md = highlight(context, "The reef lies at a depth of 312 metres.", width=120)
    assert md.startswith("> Intro text\\. **The reef lies at a depth of 312 metres\\.** It was named")
    assert md.endswith("…") and len(md) < 220
    missing = highlight("Some other text.", "Not in there.")
    assert missing == "> **Not in there\\.**\n>\n> Some other text\\."


def test_provenance_lists_retrievers_in_a_fixed_order_with_rank_and_score() -> None:
    prov = {"graph": {"rank": 3.0, "score": 1.5}, "dense": {"rank": 1.0, "score": 0.8834}, "x": {"rank": 2.0}}
    assert provenance_text(prov) == "dense #1 (0.883) · graph #3 (1.500) · x #2"
    assert provenance_text({}) == "no retriever provenance"


def test_dot_labels_are_escaped_and_ids_are_synthetic() -> None:
    assert dot_quote('say "hi"\\n\nnext') == '"say \\"hi\\"\\\\n\\nnext"'
    evil = Entity("e1", 'A" ]; x [label="pwned', "PERSON")
    other = Entity("e2", "B", "ORG")
    dot = graph_dot(
        [evil, other],
        [
            Relation("e1", "e2", "works_at"),
            Relation("e1", "e2", "works_at"),
            Relation("e2", "e1", "x", "cooccurs"),
        ],
        focus="e1",
    )
    assert 'n0 [label="A\\" ]; x [label=\\"pwned\\nperson", fillcolor="#fde68a", penwidth=2];' in dot
    assert 'n0 -> n1 [label="works at ×2"];' in dot
    assert "n1 -> n0 [style=dashed" in dot
    assert dot.count("->") == 2


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.PDF", "report.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\me\\notes.md", "notes.md"),
        (".hidden.md", "hidden.md"),
        ("what?<>|*.md", "what_.md"),
        ("Kalvøy terns.md", "Kalvøy terns.md"),
        ("...", "upload"),
        ("a" * 300 + ".pdf", "a" * 116 + ".pdf"),
    ],
)
def test_sanitize_name_keeps_one_safe_component(name: str, safe: str) -> None:
    assert sanitize_name(name) == safe


def test_store_upload_uses_the_content_hash_folder_and_is_idempotent(tmp_path: Path) -> None:
    data = b"some text"
    path = store_upload(tmp_path, Upload("../x/../../a.txt", data), max_bytes=100, suffixes=SUFFIXES)
    assert path == tmp_path / hashlib.sha256(data).hexdigest() / "a.txt"
    assert path.read_bytes() == data
    mtime = path.stat().st_mtime_ns
    again = store_upload(tmp_path, Upload("a.txt", data), max_bytes=100, suffixes=SUFFIXES)
    assert again == path and path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.txt"]  # no partial files left


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (Upload("big.txt", b"x" * 101), "over the 0 MB upload limit"),
        (Upload("empty.txt", b""), "empty"),
        (Upload("tool.exe", b"MZ"), "unsupported file type '.exe'"),
        (Upload("noext", b"text"), "unsupported file type '(no suffix)'"),
    ],
)
def test_store_upload_rejects_with_a_reason(tmp_path: Path, upload: Upload, message: str) -> None:
    with pytest.raises(UploadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        store_upload(tmp_path, upload, max_bytes=100, suffixes=SUFFIXES)
    assert list(tmp_path.iterdir()) == []

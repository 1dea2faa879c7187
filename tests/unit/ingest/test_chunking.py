"""Parent/child chunking: linkage, pages, sections, overlap and the embedder window."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.base import LoadedDocument, TextBlock
from ingest.chunking import DocumentInfo, TokenChunker

INFO = DocumentInfo(doc_id="d1", source="/x/doc.pdf", file_name="doc.pdf", file_type="pdf", content_hash="h1")


def sentences(n: int, words: int = 9, tag: str = "s") -> str:
    return " ".join(f"{tag}{i} " + " ".join(f"w{i}x{j}" for j in range(words)) + "." for i in range(n))


def doc(*blocks: TextBlock) -> LoadedDocument:
    return LoadedDocument(path=Path("/x/doc.pdf"), file_type="pdf", blocks=tuple(blocks), pages=len(blocks))


def test_children_point_at_parents_and_keep_pages(hash_embedder) -> None:
    chunker = TokenChunker(hash_embedder, child_tokens=30, child_overlap=8, parent_tokens=90)
    d = doc(TextBlock(sentences(12), page=1), TextBlock(sentences(12, tag="t"), page=2))
    chunks = chunker.split(d, INFO)
    parents = {c.id: c for c in chunks if c.kind == "parent"}
    children = [c for c in chunks if c.kind == "child"]
    assert len(parents) >= 3 and len(children) > len(parents)
    for child in children:
        parent = parents[child.parent_id]
        assert child.doc_id == "d1" and child.file_name == "doc.pdf" and child.content_hash == "h1"
        assert parent.page_start <= child.page_start <= child.page_end <= parent.page_end
        # every sentence of the child is in its parent
        for sentence in child.text.split(". "):
            assert sentence.rstrip(".") in parent.text
    assert {c.page_start for c in children} == {1, 2}
    assert [c.chunk_index for c in children] == list(range(len(children)))


def test_child_budget_and_overlap(hash_embedder) -> None:
    chunker = TokenChunker(hash_embedder, child_tokens=30, child_overlap=12, parent_tokens=300)
    children = [c for c in chunker.split(doc(TextBlock(sentences(20), page=1)), INFO) if c.kind == "child"]
    for c in children:
        assert hash_embedder.count_tokens(c.text) - 2 <= 30
    # each 11-token sentence fits the 12-token overlap: consecutive children share one sentence
    for a, b in zip(children, children[1:]):
        last_of_a = a.text.rsplit(". ", 1)[-1].rstrip(".")
        assert b.text.startswith(last_of_a)


def test_parents_never_cross_sections(hash_embedder) -> None:
    chunker = TokenChunker(hash_embedder, child_tokens=40, child_overlap=0, parent_tokens=400)
    d = doc(
        TextBlock("Alpha one. Alpha two.", section="A"), TextBlock("Beta one. Beta two.", section="A > B")
    )
    parents = [c for c in chunker.split(d, INFO) if c.kind == "parent"]
    assert [(p.section, p.text) for p in parents] == [
        ("A", "Alpha one. Alpha two."),
        ("A > B", "Beta one. Beta two."),
    ]


def test_ids_change_with_content(hash_embedder) -> None:
    chunker = TokenChunker(hash_embedder)
    d = doc(TextBlock("Some text here.", page=1))
    first = chunker.split(d, INFO)
    again = chunker.split(d, INFO)
    edited = chunker.split(d, DocumentInfo(**{**INFO.__dict__, "content_hash": "h2"}))
    assert [c.id for c in first] == [c.id for c in again]
    assert not {c.id for c in first} & {c.id for c in edited}


def test_empty_document_gives_no_chunks(hash_embedder) -> None:
    assert TokenChunker(hash_embedder).split(doc(TextBlock("   \n\n  ", page=1)), INFO) == []


@pytest.mark.parametrize("bad", [dict(child_tokens=4), dict(child_overlap=200), dict(parent_tokens=10)])
def test_bad_arguments_are_rejected(hash_embedder, bad) -> None:
    with pytest.raises(ValueError):
        TokenChunker(hash_embedder, **bad)


@pytest.mark.integration
def test_no_chunk_exceeds_the_real_embedder_window(embedder) -> None:
    """all-MiniLM-L6-v2 truncates silently at 256 tokens: no child may be longer, whatever the text."""
    nasty = [
        TextBlock(
            " ".join(["pneumonoultramicroscopicsilicovolcanoconiosis"] * 400), page=1
        ),  # no sentence end
        TextBlock("|".join(f"{i:07d}" for i in range(3000)), page=2),  # table-like digits, no spaces
        TextBlock(sentences(200, words=30), page=3),
        TextBlock("Ünïcödé façade — naïve café. " * 300, page=4),
    ]
    chunker = TokenChunker(embedder, child_tokens=400, child_overlap=40, parent_tokens=1000)
    assert chunker.child_tokens == embedder.max_seq_length - 2 == 254
    children = [c for c in chunker.split(doc(*nasty), INFO) if c.kind == "child"]
    assert len(children) > 50
    lengths = [embedder.count_tokens(c.text) for c in children]
    assert max(lengths) <= embedder.max_seq_length == 256
    assert {c.page_start for c in children} == {1, 2, 3, 4}

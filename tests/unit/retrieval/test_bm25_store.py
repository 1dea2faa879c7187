"""BM25Index: incremental updates score exactly like a from-scratch bm25s index over the live chunks."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import bm25s
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.bm25_store import BM25Index, BM25IndexError
from tests.unit.retrieval.conftest import chunk

WORDS = [
    "revenue",
    "revenues",
    "grew",
    "quarter",
    "nvidia",
    "apple",
    "risk",
    "factors",
    "supply",
    "chain",
    "the",
    "of",
    "and",
    "cats",
    "cat",
    "running",
    "ran",
    "data",
    "center",
    "gaming",
]
QUERIES = [
    "revenue growth in the quarter",
    "cat running",
    "supply chain risk",
    "nvidia data center gaming",
    "of the",
]


def _text(rng: np.random.Generator) -> str:
    return " ".join(rng.choice(WORDS, size=int(rng.integers(0, 12))))


def _reference_scores(index: BM25Index, live: list[tuple[str, str]], query: str) -> dict[str, float]:
    """Scores of a fresh bm25s index built from the live texts (bm25s' own tokenization and scoring)."""
    tokens = index.tokenize([t for _, t in live])
    if not any(tokens):  # bm25s cannot index a corpus without a single token; every score is 0
        return {cid: 0.0 for cid, _ in live}
    ref = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    ref.index(tokens, show_progress=False)
    q = [t for t in index.tokenize([query])[0] if t in ref.vocab_dict]
    scores = ref.get_scores(q) if q else np.zeros(len(live))
    return {cid: float(s) for (cid, _), s in zip(live, scores, strict=True)}


def _assert_same(index: BM25Index, live: dict[str, tuple[str, str]]) -> None:
    items = [(cid, text) for cid, (_, text) in sorted(live.items())]
    for query in QUERIES:
        expected = _reference_scores(index, items, query) if items else {}
        all_scores = index.score_all(query)
        got = {cid: float(all_scores[index._row_of[cid]]) for cid in live}
        assert got.keys() == expected.keys()
        for cid in got:
            assert got[cid] == pytest.approx(expected[cid], rel=1e-5, abs=1e-6), (query, cid)
        hits = index.search(query, k=len(live) + 5) if live else []
        assert [c for c, _ in hits] == sorted(
            (c for c in expected if expected[c] > 0), key=lambda c: (-got[c], index._row_of[c])
        )


_counter = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["add", "add", "delete", "readd"]), st.integers(0, 5)),
        min_size=1,
        max_size=12,
    ),
    seed=st.integers(0, 10_000),
    max_segments=st.integers(1, 4),
)
def test_incremental_updates_equal_from_scratch(
    tmp_path: Path, ops: list[tuple[str, int]], seed: int, max_segments: int
) -> None:
    rng = np.random.default_rng(seed)
    path = tmp_path / f"bm25-{next(_counter)}"
    index = BM25Index(path, max_segments=max_segments, max_dead_fraction=0.5)
    live: dict[str, tuple[str, str]] = {}
    for op, doc in ops:
        doc_id = f"d{doc}"
        if op == "delete":
            removed = index.delete_document(doc_id)
            assert removed == sum(1 for d, _ in live.values() if d == doc_id)
            live = {c: v for c, v in live.items() if v[0] != doc_id}
            continue
        n = int(rng.integers(1, 4))
        new = [chunk(f"{doc_id}#{i}", _text(rng), doc_id=doc_id) for i in range(n)]
        if op == "add":  # a re-ingested file: its old chunks go first, as the pipeline does
            index.delete_document(doc_id)
            live = {c: v for c, v in live.items() if v[0] != doc_id}
        index.add(new)  # "readd" upserts the same ids without deleting the rest of the document
        live.update({c.id: (doc_id, c.text) for c in new})
    _assert_same(index, live)
    reopened = BM25Index(path, max_segments=max_segments, max_dead_fraction=0.5)
    assert len(reopened) == len(live)
    _assert_same(reopened, live)
    assert len(list(path.glob("seg-*.npz"))) <= max_segments + 1


def test_add_writes_one_segment_and_merge_compacts(tmp_path: Path) -> None:
    index = BM25Index(tmp_path / "bm25", max_segments=3, max_dead_fraction=0.9)
    for d in range(3):
        index.add([chunk(f"d{d}#0", f"apple revenue quarter {d}"), chunk(f"d{d}#1", "risk factors")])
    assert sorted(p.name for p in (tmp_path / "bm25").glob("*.npz")) == [
        "seg-000000.npz",
        "seg-000001.npz",
        "seg-000002.npz",
    ]
    index.delete_document("d1")
    manifest = json.loads((tmp_path / "bm25" / "manifest.json").read_text())
    assert manifest["dead_rows"] == [2, 3]
    index.add([chunk("d3#0", "supply chain")])  # a 4th segment: over max_segments, so all merge
    assert [p.name for p in (tmp_path / "bm25").glob("*.npz")] == ["seg-000004.npz"]
    manifest = json.loads((tmp_path / "bm25" / "manifest.json").read_text())
    assert manifest["dead_rows"] == [] and manifest["segments"] == ["seg-000004"]
    assert len(index) == 5 and index.doc_ids() == {"d0", "d2", "d3"}
    assert not list((tmp_path / "bm25").glob(".*tmp"))
    with np.load(tmp_path / "bm25" / "seg-000004.npz", allow_pickle=False) as z:
        assert sorted(set(z["rows"].tolist())) == [0, 1, 2, 3, 4]  # live rows renumbered densely


def test_search_filter_and_field_values(tmp_path: Path) -> None:
    index = BM25Index(tmp_path / "bm25")
    index.add(
        [
            chunk("a#0", "nvidia revenue grew", file_name="2023 Q3 NVDA.pdf", page_start=3),
            chunk("b#0", "nvidia revenue revenue fell", file_name="2023 Q2 NVDA.pdf", page_start=9),
            chunk("c#0", "apple supply chain", file_name="notes.md", file_type="md"),
        ]
    )
    unfiltered = index.search("nvidia revenue", k=5)
    assert [c for c, _ in unfiltered] == ["b#0", "a#0"]
    assert [c for c, _ in index.search("nvidia revenue", k=5, filter={"file_name": "2023 Q3 NVDA.pdf"})] == [
        "a#0"
    ]
    assert index.search("nvidia revenue", k=5, filter={"page_start": {"$gte": 5}})[0][0] == "b#0"
    assert index.search("nvidia", k=5, filter={"file_type": "md"}) == []
    assert index.search("zebra unicorn", k=5) == []
    assert index.field_values("file_name") == ["2023 Q2 NVDA.pdf", "2023 Q3 NVDA.pdf", "notes.md"]
    index.delete_document("c")
    assert index.field_values("file_type") == ["pdf"]
    assert "a#0" in index and "c#0" not in index


def test_parent_chunks_are_not_indexed_and_bad_args_fail(tmp_path: Path) -> None:
    index = BM25Index(tmp_path / "bm25")
    assert index.add([chunk("p#0", "apple parent", kind="parent")]) == 0
    assert len(index) == 0 and not (tmp_path / "bm25").exists()
    with pytest.raises(ValueError, match="k1"):
        BM25Index(tmp_path / "x", k1=0)
    with pytest.raises(ValueError, match="k must be"):
        index.search("apple", k=0)


def test_reopening_with_other_parameters_is_refused(tmp_path: Path) -> None:
    BM25Index(tmp_path / "bm25").add([chunk("a#0", "apple")])
    with pytest.raises(BM25IndexError, match="rebuild"):
        len(BM25Index(tmp_path / "bm25", k1=1.2))


def test_explicit_merge_is_persisted(tmp_path: Path) -> None:
    index = BM25Index(tmp_path / "bm25", max_segments=50)
    for d in range(4):
        index.add([chunk(f"d{d}#0", f"apple revenue {d}")])
    before = index.search("apple", k=10)
    index.merge()
    reopened = BM25Index(tmp_path / "bm25", max_segments=50)
    assert json.loads((tmp_path / "bm25" / "manifest.json").read_text())["segments"] == ["seg-000004"]
    after = reopened.search("apple", k=10)
    assert [c for c, _ in after] == [c for c, _ in before] == ["d0#0", "d1#0", "d2#0", "d3#0"]
    assert [s for _, s in after] == pytest.approx([s for _, s in before])
    assert len(list((tmp_path / "bm25").glob("seg-*.npz"))) == 1


def test_selective_filter_asks_for_candidates_once_and_stops_on_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import retrieval.bm25_store as bm25_store

    monkeypatch.setattr(bm25_store, "NARROW_AFTER", 3)
    index = BM25Index(tmp_path / "bm25")
    index.add([chunk(f"d{i}#0", f"revenue note {i}", file_name=f"f{i}.pdf", page_start=i) for i in range(10)])
    asked: list[int] = []

    def candidates(ids: frozenset[str]):  # type: ignore[no-untyped-def]
        def answer() -> frozenset[str]:
            asked.append(1)
            return ids

        return answer

    flt = {"page_start": {"$gte": 8}}
    hits = index.search("revenue", k=5, filter=flt, candidates=candidates(frozenset({"d8#0", "d9#0"})))
    assert sorted(c for c, _ in hits) == ["d8#0", "d9#0"] and asked == [1]
    asked.clear()
    assert (
        index.search("revenue", k=5, filter={"page_start": {"$gte": 50}}, candidates=candidates(frozenset()))
        == []
    )
    assert asked == [1]
    asked.clear()
    broad = index.search("revenue", k=2, filter={"file_type": "pdf"}, candidates=candidates(frozenset()))
    assert len(broad) == 2 and asked == []  # k hits before the narrowing point: SQL never asked

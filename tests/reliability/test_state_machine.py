"""Hypothesis drives ingest / edit / add / delete / forget / reopen against one index and checks
after every step that the stores agree, that search finds only live documents, and that the
graph equals one built from scratch over the same live files.

The hash embedder keeps each example fast (the invariants are about bookkeeping); spaCy, FAISS,
BM25, SQLite and the isolated parser are real. One fixed run uses the real MiniLM embedder.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from app.doctor import graph_documents
from tests.reliability.driver import open_service

pytestmark = pytest.mark.integration

PEOPLE = ("Ingrid Dahl", "Olav Berg", "Astrid Lunde", "Sigrid Holm", "Nils Strand")
PLACES = ("Bergen", "Oslo", "Tromso", "Narvik", "Skarvik")
NAMES = tuple(f"doc{i}.md" for i in range(5))


def text_for(slot: int, version: int) -> str:
    person, place = PEOPLE[(slot + version) % 5], PLACES[(slot * 2 + version) % 5]
    return (
        f"# Record {slot}\n\nmarker{slot} {person} moved to {place} in {1900 + version}. "
        f"{person} worked for the {place} Harbour Company.\n"
    )


def graph_view(service: Any) -> tuple[Any, ...]:
    graph = service.graph_store
    entities = sorted((e.id, e.name, e.type, e.aliases) for e in graph._entities())
    relations = sorted(
        (r.source_id, r.target_id, r.type, r.kind, r.weight, r.chunk_id) for r in graph._edges()
    )
    mentions = {d: sorted(c) for d, c in (graph_documents(graph) or {}).items()}
    return entities, relations, mentions, graph.stats()


class IndexMachine(RuleBasedStateMachine):
    """One folder, one index, and a model of which content each live document should hold."""

    embedder_factory: Any = None
    steps: dict[str, int] = {}  # rule -> times run, over all examples (for the report)

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="citewise-sm-"))
        self.folder = self.root / "docs"
        self.folder.mkdir()
        self.indexed: dict[str, str] = {}  # path -> text the index should hold
        self.versions = dict.fromkeys(NAMES, 0)
        self.service = self._open()
        self.scratch_runs = 0

    def _open(self) -> Any:
        service = open_service(self.root / "index", "hash")
        service.__dict__["embedder"] = self.embedder_factory()
        return service

    def path(self, name: str) -> Path:
        return (self.folder / name).resolve()

    @rule(name=st.sampled_from(NAMES))
    def write_file(self, name: str) -> None:
        self.versions[name] += 1
        slot = NAMES.index(name)
        self.path(name).write_text(text_for(slot, self.versions[name]))

    @rule(name=st.sampled_from(NAMES))
    def delete_file(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    @rule()
    def ingest(self) -> None:
        IndexMachine.steps["ingest"] = IndexMachine.steps.get("ingest", 0) + 1
        report = self.service.ingest([self.folder], prune=True)
        assert report.failed == [], report.failed
        self.indexed = {str(p.resolve()): p.read_text() for p in sorted(self.folder.glob("*.md"))}
        self.check_against_scratch()

    @precondition(lambda self: bool(self.indexed))
    @rule(data=st.data())
    def forget(self, data: st.DataObject) -> None:
        IndexMachine.steps["forget"] = IndexMachine.steps.get("forget", 0) + 1
        victim = data.draw(st.sampled_from(sorted(self.indexed)))
        assert self.service.forget(victim) == [victim]
        del self.indexed[victim]
        self.check_against_scratch()

    @rule()
    def reopen(self) -> None:
        IndexMachine.steps["reopen"] = IndexMachine.steps.get("reopen", 0) + 1
        self.service.close()
        self.service = self._open()

    @invariant()
    def stores_agree(self) -> None:
        docstore = self.service.store.docstore
        records = {r.source: r for r in docstore.documents()}
        assert set(records) == set(self.indexed)
        children = docstore.counts()["children"]
        assert self.service.store.count() == children == len(self.service.bm25)
        assert self.service.bm25.doc_ids() == {r.doc_id for r in records.values()}
        assert set(graph_documents(self.service.graph_store) or {}) == {r.doc_id for r in records.values()}
        for source, text in self.indexed.items():
            stored = " ".join(c.text for c in docstore.iter_chunks("child", doc_id=records[source].doc_id))
            assert text.split("\n\n", 1)[1].split(".")[0] in stored

    @invariant()
    def search_finds_only_live_documents(self) -> None:
        live = {r.doc_id: r.source for r in self.service.store.docstore.documents()}
        for slot, name in enumerate(NAMES):
            found = {cid.split("-")[0] for cid, _ in self.service.bm25.search(f"marker{slot}", k=10)}
            assert found <= set(live)
            expected = {d for d, s in live.items() if Path(s).name == name}
            assert found == expected
        vector = self.service.embedder.embed_query("Harbour Company")
        hits = self.service.store.search_by_vector(vector, k=20)
        assert {c.doc_id for c, _ in hits} <= set(live)

    def check_against_scratch(self) -> None:
        """The graph equals the one a fresh index builds from the same live files and versions.

        Files edited since the last ingest are put back to their indexed text for the fresh build
        (doc ids are path hashes, so it must read the same paths), then restored.
        """
        scratch_dir = self.root / f"scratch{self.scratch_runs}"
        self.scratch_runs += 1
        now = {p: (Path(p).read_text() if Path(p).exists() else None) for p in self.indexed}
        for p, text in self.indexed.items():
            if now[p] != text:
                Path(p).write_text(text)
        scratch = open_service(scratch_dir, "hash")
        scratch.__dict__["embedder"] = self.embedder_factory()
        try:
            if self.indexed:
                scratch.ingest([Path(p) for p in sorted(self.indexed)])
            view = graph_view(self.service)
            assert view == graph_view(scratch)
            IndexMachine.steps["max_entities"] = max(IndexMachine.steps.get("max_entities", 0), len(view[0]))
        finally:
            scratch.close()
            shutil.rmtree(scratch_dir, ignore_errors=True)
            for p, text in now.items():
                if text is None:
                    Path(p).unlink(missing_ok=True)
                elif text != self.indexed[p]:
                    Path(p).write_text(text)

    def teardown(self) -> None:
        self.service.close()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def machine_with(monkeypatch: pytest.MonkeyPatch, spacy_extractor: Any) -> Any:
    from app import container

    monkeypatch.setattr(container, "build_extractor", lambda settings, llm_factory=None: spacy_extractor)

    def configure(embedder_factory: Any) -> type[IndexMachine]:
        IndexMachine.embedder_factory = staticmethod(embedder_factory)
        return IndexMachine

    return configure


@pytest.mark.slow
def test_state_machine_with_hash_embedder(machine_with: Any) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    from tests.fakes import HashEmbedder

    machine = machine_with(HashEmbedder)
    IndexMachine.steps = {}
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            derandomize=True,
        ),
    )
    print("STATE-MACHINE", IndexMachine.steps)
    assert IndexMachine.steps.get("ingest", 0) >= 20 and IndexMachine.steps.get("forget", 0) >= 5
    assert IndexMachine.steps["max_entities"] >= 5


@pytest.mark.slow
def test_fixed_run_with_the_real_embedder(machine_with: Any, embedder: Any) -> None:
    machine = machine_with(lambda: embedder)()
    try:
        for step in (
            lambda: machine.write_file("doc0.md"),
            lambda: machine.write_file("doc1.md"),
            lambda: machine.write_file("doc2.md"),
            machine.ingest,
            lambda: machine.write_file("doc1.md"),
            lambda: machine.delete_file("doc2.md"),
            machine.ingest,
            machine.reopen,
            lambda: machine.forget(_Draw(machine.path("doc0.md"))),
            machine.ingest,
        ):
            step()
            machine.stores_agree()
            machine.search_finds_only_live_documents()
        assert machine.scratch_runs == 4
        assert len(machine.indexed) == 2
    finally:
        machine.teardown()


class _Draw:
    """A stand-in for Hypothesis' data object that always draws one value."""

    def __init__(self, value: Path) -> None:
        self.value = str(value)

    def draw(self, strategy: Any) -> str:
        return self.value

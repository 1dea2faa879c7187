"""Graph extraction on the sample corpus, read by the real loaders: entities, aliases, relations, pages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from graph.base import DocumentGraph
from graph.extract.spacy_extractor import SpacyGraphExtractor
from graph.stores.sqlite_store import SQLiteGraphStore
from ingest.loaders import load_document

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass(frozen=True)
class Block:
    id: str
    doc_id: str
    text: str
    page_start: int | None


@pytest.fixture(scope="module")
def corpus_graphs(sample_corpus_dir: Path) -> dict[str, DocumentGraph]:
    extractor = SpacyGraphExtractor()
    graphs = {}
    for name in ("skarvik_history.pdf", "people_of_vesterholm.md", "rustad_logbook.txt", "nosa_overview.md"):
        doc = load_document(sample_corpus_dir / name)
        units = [Block(f"{name}:{i}", name, b.text, b.page) for i, b in enumerate(doc.blocks)]
        graphs[name] = extractor.extract(name, units)
    return graphs


def entity(graph: DocumentGraph, name: str):  # type: ignore[no-untyped-def]
    found = [e for e in graph.entities if e.name == name]
    assert found, f"{name!r} not among {sorted(e.name for e in graph.entities)}"
    return found[0]


def relation(graph: DocumentGraph, source: str, rtype: str, target: str):  # type: ignore[no-untyped-def]
    s, t = entity(graph, source).id, entity(graph, target).id
    found = [r for r in graph.relations if (r.source_id, r.type, r.target_id) == (s, rtype, t)]
    assert found, f"no {source} -{rtype}-> {target}"
    return found[0]


def test_pdf_entities_and_merged_aliases(corpus_graphs: dict[str, DocumentGraph]) -> None:
    g = corpus_graphs["skarvik_history.pdf"]
    assert entity(g, "Ingrid Halvorsen").type == "PERSON"
    assert "Halvorsen" in entity(g, "Ingrid Halvorsen").aliases  # page 2 says only "Halvorsen"
    assert entity(g, "Nordic Ocean Survey Agency").aliases == ("NOSA",)  # defined on page 2
    assert "Aasen" in entity(g, "Sigrid Aasen").aliases
    assert entity(g, "Skarvik Marine Institute").type == "ORG"
    assert "Halvorsen" not in {e.name for e in g.entities}


def test_pdf_relations_with_evidence_pages(corpus_graphs: dict[str, DocumentGraph]) -> None:
    g = corpus_graphs["skarvik_history.pdf"]
    founded = relation(g, "Ingrid Halvorsen", "found", "Skarvik Marine Institute")
    assert founded.page == 1 and "founded on 14 May 1923" in founded.sentence
    married = relation(g, "Ingrid Halvorsen", "marry", "Aksel Brandt")
    assert married.page == 2 and married.sentence.startswith("Halvorsen had married the glaciologist")
    nosa = relation(g, "Nordic Ocean Survey Agency", "establish_in", "Trondheim")
    assert nosa.page == 2


def test_same_entity_across_documents(corpus_graphs: dict[str, DocumentGraph], tmp_path: Path) -> None:
    ids = {name: entity(g, "Ingrid Halvorsen").id for name, g in corpus_graphs.items()
           if name != "nosa_overview.md"}  # fmt: skip
    assert len(set(ids.values())) == 1
    store = SQLiteGraphStore(tmp_path / "graph.sqlite")
    try:
        for g in corpus_graphs.values():
            store.upsert_document(g)
        halvorsen = store.find_entities("Halvorsen", limit=1)[0]
        assert halvorsen.name == "Ingrid Halvorsen"
        rels = {(r.type, r.doc_id) for r in store.relations_of([halvorsen.id])}
        assert {("found", "skarvik_history.pdf"), ("found", "people_of_vesterholm.md")} <= rels
        assert store.find_entities("NOSA", limit=1)[0].name == "Nordic Ocean Survey Agency"
        rustad = store.find_entities("Olav Rustad", limit=1)[0]
        born = [r for r in store.relations_of([rustad.id]) if r.type == "born_in"]
        assert born and born[0].doc_id == "rustad_logbook.txt"
    finally:
        store.close()

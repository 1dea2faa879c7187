"""Hand-made document graphs for the graph-store contract suite."""

from __future__ import annotations

from graph.base import DocumentGraph, Entity, Mention, Relation
from graph.extract.normalize import entity_id, name_key


def ent(name: str, type_: str, *aliases: str) -> Entity:
    return Entity(id=entity_id(type_, name_key(name)), name=name, type=type_, aliases=tuple(aliases))


MARIE = ent("Marie Curie", "PERSON", "Curie")
PIERRE = ent("Pierre Curie", "PERSON")
SORBONNE = ent("Sorbonne", "ORG")
WARSAW = ent("Warsaw", "GPE")
PARIS = ent("Paris", "GPE")
NOBEL = ent("Nobel Prize", "WORK_OF_ART")
STOCKHOLM = ent("Stockholm", "GPE")
TURING = ent("Alan Turing", "PERSON", "Turing")
BLETCHLEY = ent("Bletchley Park", "FAC")
MANCHESTER = ent("Manchester", "GPE")


def rel(
    src: Entity, dst: Entity, type_: str, doc: str, chunk: str, sentence: str, page: int | None
) -> Relation:
    kind = "cooccurs" if type_ == "cooccurs" else "extracted"
    return Relation(src.id, dst.id, type_, kind, 1.0, doc, chunk, sentence, page)  # type: ignore[arg-type]


def mentions(doc: str, chunk: str, page: int | None, *entities: Entity) -> list[Mention]:
    return [Mention(e.id, chunk, doc, e.name, page, 1) for e in entities]


def doc_a() -> DocumentGraph:
    """Marie and Pierre Curie in Warsaw, Paris and at the Sorbonne."""
    return DocumentGraph(
        doc_id="a",
        entities=[MARIE, PIERRE, SORBONNE, WARSAW, PARIS],
        relations=[
            rel(MARIE, WARSAW, "born_in", "a", "a:0", "Marie Curie was born in Warsaw.", 1),
            rel(MARIE, SORBONNE, "work_for", "a", "a:1", "Marie Curie worked for the Sorbonne.", 2),
            rel(PIERRE, SORBONNE, "work_for", "a", "a:1", "Pierre Curie worked for the Sorbonne too.", 2),
            rel(MARIE, PIERRE, "marry", "a", "a:1", "Marie married Pierre Curie.", 2),
            rel(MARIE, PARIS, "move_to", "a", "a:2", "Curie moved to Paris.", None),
            Relation(
                MARIE.id, PIERRE.id, "cooccurs", "cooccurs", 2.0, "a", "a:1", "Marie married Pierre Curie.", 2
            ),
        ],
        mentions=[
            *mentions("a", "a:0", 1, MARIE, WARSAW),
            *mentions("a", "a:1", 2, MARIE, PIERRE, SORBONNE),
            *mentions("a", "a:2", None, MARIE, PARIS),
        ],
    )


def doc_b() -> DocumentGraph:
    """Marie Curie (as "M. Curie") and the Nobel Prize in Stockholm."""
    marie = ent("Marie Curie", "PERSON", "M. Curie")
    return DocumentGraph(
        doc_id="b",
        entities=[marie, NOBEL, STOCKHOLM],
        relations=[
            rel(marie, NOBEL, "win", "b", "b:0", "M. Curie won the Nobel Prize.", 7),
            rel(NOBEL, STOCKHOLM, "award_in", "b", "b:0", "The Nobel Prize is awarded in Stockholm.", 7),
        ],
        mentions=mentions("b", "b:0", 7, marie, NOBEL, STOCKHOLM),
    )


def doc_c() -> DocumentGraph:
    """Alan Turing, unconnected to the Curies."""
    return DocumentGraph(
        doc_id="c",
        entities=[TURING, BLETCHLEY, MANCHESTER],
        relations=[
            rel(TURING, BLETCHLEY, "work_at", "c", "c:0", "Turing worked at Bletchley Park.", 3),
            rel(TURING, MANCHESTER, "move_to", "c", "c:1", "Turing moved to Manchester.", 4),
            rel(BLETCHLEY, MANCHESTER, "cooccurs", "c", "c:1", "From Bletchley Park to Manchester.", 4),
        ],
        mentions=[*mentions("c", "c:0", 3, TURING, BLETCHLEY), *mentions("c", "c:1", 4, TURING, MANCHESTER)],
    )


def doc_a_small() -> DocumentGraph:
    """A changed version of document a: Pierre and Paris are gone."""
    return DocumentGraph(
        doc_id="a",
        entities=[MARIE, SORBONNE, WARSAW],
        relations=[rel(MARIE, WARSAW, "born_in", "a", "a:0", "Marie Curie was born in Warsaw.", 1)],
        mentions=[*mentions("a", "a:0", 1, MARIE, WARSAW), *mentions("a", "a:5", 3, SORBONNE)],
    )


VARIANTS = {"a": [doc_a, doc_a_small], "b": [doc_b], "c": [doc_c]}

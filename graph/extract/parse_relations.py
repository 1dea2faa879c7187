"""Subject-verb-object relations between entity mentions, read off a spaCy dependency parse.

The relation type is the verb lemma with its particle and preposition (``found``, ``born_in``,
``work_for``); passives are turned around (``X was founded by Y`` -> ``Y found X``); copulas and
appositions with a noun and a preposition give noun relations (``Tim Cook, the CEO of Apple`` ->
``ceo_of``). Negated verbs give nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graph.extract.normalize import relation_type

if TYPE_CHECKING:
    from spacy.tokens import Span, Token

SUBJECT_DEPS = frozenset({"nsubj", "csubj"})
PASSIVE_SUBJECT_DEPS = frozenset({"nsubjpass", "csubjpass"})
OBJECT_DEPS = frozenset({"dobj", "dative", "oprd"})
LEMMA_FIXES = {"born": "born", "based": "based", "located": "located", "headquartered": "headquartered"}


@dataclass(frozen=True)
class MentionSpan:
    """An entity mention's resolution key and token span in its doc."""

    key: str
    start: int
    end: int


Triple = tuple[str, str, str]


def sentence_relations(sent: Span, by_token: dict[int, MentionSpan]) -> list[Triple]:
    """All (source key, target key, relation type) read from one sentence."""
    out: list[Triple] = []
    for token in sent:
        if token.pos_ in ("VERB", "AUX") or token.dep_ == "ROOT":
            out.extend(_verb_relations(token, by_token))
        if token.dep_ == "appos" and token.i not in by_token:
            out.extend(_noun_relations(_mentions_at(token.head, by_token), token, by_token))
    return [t for t in dict.fromkeys(out) if t[0] != t[1]]


def _verb_relations(verb: Token, by_token: dict[int, MentionSpan]) -> Iterator[Triple]:
    if any(c.dep_ == "neg" for c in verb.children):
        return
    subjects, passive = _subjects(verb, by_token)
    if not subjects:
        return
    lemma = _lemma(verb)
    particle = [c.text for c in verb.children if c.dep_ == "prt"]
    base = relation_type(lemma, *particle)
    agents = [m for c in verb.children if c.dep_ == "agent" for m in _objects_of(c, by_token)]
    for subj in subjects:
        if passive:
            for agent in agents:
                yield agent, subj, base
        else:
            for c in verb.children:
                if c.dep_ in OBJECT_DEPS:
                    for obj in _mentions_at(c, by_token):
                        yield subj, obj, base
                if c.dep_ == "attr" and c.i not in by_token:
                    yield from _noun_relations([subj], c, by_token)
        for prep in verb.children:
            if prep.dep_ == "prep":
                for obj in _objects_of(prep, by_token):
                    yield subj, obj, relation_type(base, prep.text)


def _subjects(verb: Token, by_token: dict[int, MentionSpan]) -> tuple[list[str], bool]:
    """Mention keys of the verb's subjects and whether they are passive subjects."""
    for deps, passive in ((SUBJECT_DEPS, False), (PASSIVE_SUBJECT_DEPS, True)):
        found = [m for c in verb.children if c.dep_ in deps for m in _mentions_at(c, by_token)]
        if found:
            return found, passive
    if verb.dep_ in ("acl", "relcl"):
        return _mentions_at(verb.head, by_token, conj=False), verb.tag_ == "VBN"
    if verb.dep_ == "conj" and verb.head.pos_ in ("VERB", "AUX"):
        head_subjects, _ = _subjects(verb.head, by_token)
        return head_subjects, False
    return [], False


def _noun_relations(subjects: list[str], noun: Token, by_token: dict[int, MentionSpan]) -> Iterator[Triple]:
    """``X is/, the N of Y`` -> (X, Y, ``n_of``)."""
    for prep in noun.children:
        if prep.dep_ == "prep":
            for obj in _objects_of(prep, by_token):
                for subj in subjects:
                    yield subj, obj, relation_type(noun.lemma_ or noun.text, prep.text)


def _objects_of(prep: Token, by_token: dict[int, MentionSpan]) -> list[str]:
    return [m for c in prep.children if c.dep_ == "pobj" for m in _mentions_at(c, by_token)]


def _mentions_at(token: Token, by_token: dict[int, MentionSpan], conj: bool = True) -> list[str]:
    """The mention at ``token`` (or its apposition), plus those of its conjuncts."""
    keys: list[str] = []
    heads = [token, *token.conjuncts] if conj else [token]
    for head in heads:
        mention = by_token.get(head.i)
        if mention is None:
            mention = next(
                (by_token[c.i] for c in head.children if c.dep_ == "appos" and c.i in by_token), None
            )
        if mention is not None and mention.key not in keys:
            keys.append(mention.key)
    return keys


def _lemma(verb: Token) -> str:
    lower = verb.lower_
    return LEMMA_FIXES.get(lower, verb.lemma_.lower() or lower)

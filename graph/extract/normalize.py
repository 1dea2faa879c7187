"""Entity name normalization and canonical ids, shared by extractors and stores.

A *key* is the comparison form of a name (case-folded, punctuation-light, single-spaced); the
canonical entity id is a hash of the entity type and the key, so the same name and type give
the same id in every document and every store.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

KEPT_TYPES: tuple[str, ...] = (
    "PERSON",
    "ORG",
    "GPE",
    "LOC",
    "FAC",
    "NORP",
    "PRODUCT",
    "EVENT",
    "WORK_OF_ART",
    "LAW",
)

TITLES: frozenset[str] = frozenset(
    {
        "dr", "prof", "professor", "mr", "mrs", "ms", "miss", "mx", "sir", "dame", "lord", "lady",
        "rev", "fr", "st", "capt", "captain", "col", "gen", "lt", "sgt", "hon", "judge", "justice",
        "president", "senator", "sen", "rep", "gov", "governor", "mayor", "king", "queen", "prince",
        "princess", "pope", "saint",
    }
)  # fmt: skip

_QUOTES = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)
_POSSESSIVE = re.compile(r"(?:'s|')$", re.IGNORECASE)
_LEADING_THE = re.compile(r"^(?:the)\s+", re.IGNORECASE)
_EDGE_PUNCT = re.compile(r"^[\s\"'(\[{,;:.\-]+|[\s\"')\]},;:\-]+$")
_KEY_DROP = re.compile(r"[.,\"'`]")
_SPACES = re.compile(r"\s+")


def clean_surface(text: str, label: str = "") -> str:
    """The display form of an entity mention.

    Unicode-normalized, single-spaced, without edge punctuation, a leading "the", a trailing
    possessive, or (for people) leading titles such as "Dr." and "Prof.".
    """
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _SPACES.sub(" ", text).strip()
    text = _EDGE_PUNCT.sub("", text)
    text = _POSSESSIVE.sub("", text).strip()
    text = _LEADING_THE.sub("", text)
    if label == "PERSON":
        words = text.split(" ")
        while len(words) > 1 and words[0].rstrip(".").casefold() in TITLES:
            words = words[1:]
        text = " ".join(words)
    return _EDGE_PUNCT.sub("", text)


def name_key(text: str) -> str:
    """The comparison form of a name: case-folded, without dots/commas/quotes, single-spaced."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _KEY_DROP.sub("", text.casefold())
    return _SPACES.sub(" ", text).strip()


def entity_id(type_: str, key: str) -> str:
    """The deterministic canonical id of an entity of ``type_`` whose name key is ``key``."""
    digest = hashlib.sha1(f"{type_}\x1f{key}".encode()).hexdigest()
    return f"ent_{digest[:16]}"


def relation_type(*parts: str) -> str:
    """A relation type in snake case from words like ``("work", "for")`` -> ``"work_for"``."""
    words = [w for p in parts for w in re.split(r"[^0-9a-zA-Z]+", p.casefold()) if w]
    return "_".join(words)[:64]


_STOP_INITIALS = frozenset(
    {"of", "for", "and", "the", "on", "in", "de", "du", "des", "la", "le", "&", "to", "at"}
)


def is_acronym_of(short: str, long: str) -> bool:
    """True when ``short`` (e.g. "WHO") spells the initials of ``long`` ("World Health Organization")."""
    letters = "".join(ch for ch in short if ch.isalpha())
    if len(letters) < 2 or not letters.isupper() or len(long.split()) < 2:
        return False
    words = [w for w in re.split(r"[\s\-/]+", long) if w]
    all_initials = "".join(w[0] for w in words if w[0].isalpha()).upper()
    content = "".join(w[0] for w in words if w.casefold() not in _STOP_INITIALS and w[0].isalpha()).upper()
    return letters.upper() in (all_initials, content)

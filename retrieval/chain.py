"""The answer chain: condense a follow-up, retrieve, refuse or answer with validated citations.

``AnswerChain.stream`` yields :class:`Retrieved` (the hits, before any generation), then
:class:`TextDelta` pieces of the answer, then :class:`Done` with the final :class:`Answer`; the
deltas concatenate to exactly ``Answer.text``. Citations are checked in code: a ``[n]`` that names
a source the model was not given is removed while streaming and the answer is flagged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.runnables import Runnable, RunnableConfig

from retrieval.answer import (  # noqa: F401  (re-exported: the chain's public types)
    Answer,
    AnswerMode,
    ChainEvent,
    Citation,
    Done,
    Retrieved,
    TextDelta,
    Turn,
)
from retrieval.base import Embedder, Hit, RetrievalResult, Retriever
from retrieval.citation_grammar import citation_gbnf, citation_schema, render_cited_json
from retrieval.citations import (  # noqa: F401
    CitationFilter,
    make_citation,
    overlap,
    sentences_citing,
    split_sentences,
    stems,
)
from retrieval.claims import ClaimCheck, check_hits, rewritten_text, strict_rewrite
from retrieval.conversation import (  # noqa: F401
    clean_condensed,
    last_entity,
    normalize_history,
    recent_people,
    rule_based_condense,
)
from retrieval.evidence import prompt_budget, select_evidence
from retrieval.extractive import extractive_sentences  # noqa: F401
from retrieval.llm.base import LLM, LLMError, Message
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

Packing = Literal["evidence", "window"]
ClaimMode = Literal["mark", "strict", "off"]


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
        return clean_condensed(text)

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
        if checker.cited or checker.invalid or _MODEL_REFUSAL.search(text) or not stems(text):
            return ""
        support = [(overlap(text, hit.answer_text), n) for n, hit in enumerate(ctx.hits[:n_sources], 1)]
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
        citations = [make_citation(n, ctx.hits[n - 1], sentences_citing(text, n)) for n in checker.cited]
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
                citations = [make_citation(n, ctx.hits[n - 1], sentences_citing(text, n)) for n in cited]
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

"""Logic of the answer chain with a reply-queue LLM and an in-test retriever."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from retrieval.base import Chunk, Hit, RetrievalResult
from retrieval.chain import (
    Answer,
    AnswerChain,
    CitationFilter,
    Done,
    Retrieved,
    TextDelta,
    extractive_sentences,
    make_citation,
    rule_based_condense,
)
from retrieval.llm.base import LLMUnavailableError
from retrieval.llm.fake_llm import FakeLLM
from retrieval.prompts import REFUSAL

CURIE = (
    "Marie Curie was a physicist and chemist who studied radioactivity. "
    "In 1895 she married the French physicist Pierre Curie. She won two Nobel Prizes."
)
NVDA = "NVIDIA reported revenue of $13.51 billion for the second quarter of fiscal 2024. Data Center revenue was $10.32 billion."
APPLE = "Apple's net sales were $81.8 billion in the third quarter of 2023. iPhone sales declined slightly."


def _hit(
    cid: str, text: str, file_name: str, page: int, score: float = 0.9, parent: Chunk | None = None
) -> Hit:
    chunk = Chunk(
        id=cid, doc_id=file_name, text=text, source=f"/docs/{file_name}", file_name=file_name,
        file_type="pdf", page_start=page, page_end=page,
    )  # fmt: skip
    return Hit(chunk=chunk, score=score, parent=parent)


HITS = (
    _hit("curie#1", CURIE, "curie.pdf", 2),
    _hit("nvda#4", NVDA, "nvda-q2.pdf", 7),
    _hit("aapl#2", APPLE, "aapl-q3.pdf", 3),
)


class StaticRetriever:
    """Returns the same hits for every query and records the queries."""

    def __init__(self, hits: Sequence[Hit] = HITS, best_relevance: float = 0.8) -> None:
        self.hits = tuple(hits)
        self.best_relevance = best_relevance
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def retrieve(
        self, query: str, *, k: int | None = None, filters: dict[str, Any] | None = None, **options: Any
    ) -> RetrievalResult:
        self.calls.append((query, {"k": k, "filters": filters, **options}))
        return RetrievalResult(
            hits=self.hits, query=query, filter=filters, best_relevance=self.best_relevance, notes=("r-note",)
        )


def _chain(replies: Sequence[str], retriever: StaticRetriever | None = None, **kwargs: Any) -> AnswerChain:
    return AnswerChain(retriever or StaticRetriever(), FakeLLM(replies), **kwargs)


@pytest.mark.parametrize(("hits", "best"), [((), 0.9), (HITS, 0.1)])
def test_refuses_without_calling_the_llm(hits: tuple[Hit, ...], best: float) -> None:
    chain = _chain([], StaticRetriever(hits, best_relevance=best), min_relevance=0.25)
    answer = chain.ask("What is the capital of Peru?")
    assert answer.refused and answer.text == REFUSAL
    assert answer.citations == () and not answer.flagged
    assert isinstance(chain.llm, FakeLLM) and chain.llm.calls == []
    assert any("nothing was retrieved" in n or "below min_relevance" in n for n in answer.notes)


def test_stream_yields_retrieved_then_deltas_then_answer() -> None:
    chain = _chain(["Curie married Pierre Curie [1]. NVIDIA earned $13.51 billion [2]."])
    events = list(chain.stream("Whom did Marie Curie marry?"))
    assert isinstance(events[0], Retrieved) and events[0].hits == HITS
    assert isinstance(events[-1], Done)
    deltas = [e.text for e in events[1:-1] if isinstance(e, TextDelta)]
    assert len(deltas) > 3 and len(deltas) == len(events) - 2
    answer = events[-1].answer
    assert (
        "".join(deltas) == answer.text == "Curie married Pierre Curie [1]. NVIDIA earned $13.51 billion [2]."
    )


def test_citations_map_to_file_page_and_snippet() -> None:
    answer = _chain(["Curie married Pierre Curie [1]. Revenue was $13.51 billion [2]."]).ask("q?")
    assert [c.n for c in answer.citations] == [1, 2]
    first, second = answer.citations
    assert (first.file_name, first.page_start, first.chunk_id) == ("curie.pdf", 2, "curie#1")
    assert "married the French physicist Pierre Curie" in first.snippet
    assert (second.file_name, second.page_start, second.source) == ("nvda-q2.pdf", 7, "/docs/nvda-q2.pdf")
    assert "$13.51 billion" in second.snippet
    assert not answer.flagged and not answer.refused and answer.mode == "llm"
    assert "r-note" in answer.notes


def test_out_of_range_citations_are_removed_and_flagged() -> None:
    answer = _chain(["Curie married Pierre Curie [1]. Apple sold cars [7]. Both [2, 9]."]).ask("q?")
    assert answer.text == "Curie married Pierre Curie [1]. Apple sold cars. Both [2]."
    assert answer.flagged
    assert [c.n for c in answer.citations] == [1, 2]
    assert any("[7, 9]" in n for n in answer.notes)


def test_answer_citing_nothing_is_flagged_with_sources_consulted() -> None:
    # Not in any source, so citewise cannot attribute it either (see the attribution tests below).
    answer = _chain(["Someone from Warsaw, probably."], consulted_sources=2).ask(
        "Whom did Marie Curie marry?"
    )
    assert answer.text == "Someone from Warsaw, probably."
    assert answer.flagged and not answer.refused
    assert answer.citations == ()
    assert [c.file_name for c in answer.consulted] == ["curie.pdf", "nvda-q2.pdf"]
    assert any("cites no source" in n for n in answer.notes)


def test_model_refusal_is_not_flagged() -> None:
    answer = _chain([REFUSAL]).ask("Who built the pyramids?")
    assert answer.refused and not answer.flagged and answer.consulted == ()


def test_retrieval_options_and_filter_pass_through() -> None:
    retriever = StaticRetriever()
    answer = _chain(["x [1]."], retriever).ask("q?", k=2, filters={"file_name": "a.pdf"}, graph=False)
    assert retriever.calls == [("q?", {"k": 2, "filters": {"file_name": "a.pdf"}, "graph": False})]
    assert answer.filter == {"file_name": "a.pdf"}


def test_context_is_packed_into_the_budget() -> None:
    long_hits = [
        _hit(f"d#{i}", " ".join(f"word{i}_{j}." for j in range(300)), f"d{i}.pdf", i) for i in range(5)
    ]
    llm = FakeLLM(["word0_1 [1]."])
    chain = AnswerChain(StaticRetriever(long_hits), llm, n_ctx_budget=700, max_tokens=100, packing="window")
    answer = chain.ask("What is word0_1?")
    call = llm.calls[0]
    assert llm.count_tokens(call.prompt) + call.options["max_tokens"] <= 700
    assert call.options["max_tokens"] == 100
    assert "<<<SOURCE 1" in call.prompt and "<<<SOURCE 3" not in call.prompt
    assert any("dropped" in n for n in answer.notes)
    assert [c.n for c in answer.citations] == [1]


def test_condensing_uses_bounded_history() -> None:
    history = [(f"Question number {i} about Topic{i}?", f"Answer {i}.") for i in range(5)]
    retriever = StaticRetriever()
    llm = FakeLLM(["What did Topic4 report?", "Topic4 reported [1]."])
    chain = AnswerChain(retriever, llm, history_turns=2)
    answer = chain.ask("What did it report?", history)
    condense_prompt = llm.prompts[0]
    assert "Question number 4" in condense_prompt and "Question number 3" in condense_prompt
    assert "Question number 2" not in condense_prompt and "Question number 0" not in condense_prompt
    assert "Follow-up question: What did it report?" in condense_prompt
    assert retriever.calls[0][0] == "What did Topic4 report?"
    assert (
        answer.standalone_question == "What did Topic4 report?" and answer.question == "What did it report?"
    )


@pytest.mark.integration  # rule-based condensing finds people with the real spaCy model
def test_unusable_llm_rewrite_falls_back_to_rules() -> None:
    retriever = StaticRetriever()
    llm = FakeLLM(["And what about her husband?", "Pierre Curie [1]."])
    history = [("Who was Marie Curie?", "She was a physicist.")]
    answer = AnswerChain(retriever, llm).ask("And what about her husband?", history)
    assert retriever.calls[0][0] == "And what about Marie Curie's husband?"
    assert any("rules" in n for n in answer.notes)


def test_no_history_means_no_condense_call() -> None:
    llm = FakeLLM(["x [1]."])
    AnswerChain(StaticRetriever(), llm).ask("Whom did Curie marry?", history=[])
    assert len(llm.calls) == 1 and "Follow-up" not in llm.prompts[0]


@pytest.mark.integration  # rule-based condensing finds people with the real spaCy model
def test_history_accepts_answers() -> None:
    first = _chain(["Curie married Pierre Curie [1]."]).ask("Whom did Marie Curie marry?")
    retriever = StaticRetriever()
    AnswerChain(retriever, None).ask("When did she marry him?", [first])
    # "she" is the person asked about, "him" the other person the answer named.
    assert retriever.calls[0][0] == "When did Marie Curie marry Pierre Curie?"


@pytest.mark.integration  # rule-based condensing finds people with the real spaCy model
@pytest.mark.parametrize(
    ("question", "turns", "expected"),
    [
        ("and what about her husband?", [("Who was Marie Curie?", "A physicist.")],
         "and what about Marie Curie's husband?"),
        ("What was its revenue?", [("Tell me about NVIDIA", "NVIDIA makes GPUs.")], "What was NVIDIA's revenue?"),
        ("Where did he study?", [("What did the report say?", "Albert Einstein wrote it.")],
         "Where did Albert Einstein study?"),
        ("and in 2022?", [("What was Apple's revenue in 2023?", "$383 billion.")],
         "What was Apple's revenue in 2023; and in 2022?"),
        ("What is BM25?", [("Who was Marie Curie?", "A physicist.")], "What is BM25?"),
        ("Who was she?", [], "Who was she?"),
        ("And what did her husband study?",
         [("Who founded the Skarvik Marine Institute?", "It was founded by Ingrid Halvorsen in 1923.")],
         "And what did Ingrid Halvorsen's husband study?"),
        ("What does it fund?", [("Who founded the Skarvik Marine Institute?", "Ingrid Halvorsen did.")],
         "What does Skarvik Marine Institute fund?"),
        ("When did he marry her?", [("Whom did Pierre Curie marry?", "Pierre Curie married Marie Curie.")],
         "When did Pierre Curie marry Marie Curie?"),
        ("Where did she meet his brother?",
         [("Who was Ingrid Halvorsen?", "She founded the institute with Aksel Brandt.")],
         "Where did Ingrid Halvorsen meet Aksel Brandt's brother?"),
        # Only one person named: the second pronoun stays as it is rather than naming her twice.
        ("When did she marry him?", [("Who was Marie Curie?", "A physicist.")],
         "When did Marie Curie marry him?"),
    ],
)  # fmt: skip
def test_rule_based_condense(question: str, turns: list[tuple[str, str]], expected: str) -> None:
    assert rule_based_condense(question, turns) == expected


def test_citation_filter_handles_citations_split_across_deltas() -> None:
    checker = CitationFilter(n_sources=2)
    shown = [
        checker.feed(d) for d in ["  Fact ", "[", "1", "] and ", "other [", "9]", ". End [source 2", "]  "]
    ]
    shown.append(checker.flush())
    assert "".join(shown) == checker.text == "Fact [1] and other. End [2]"
    assert checker.cited == [1, 2] and checker.invalid == [9]
    assert "[" not in "".join(shown[:2])  # the open bracket was held back until settled


def test_citation_pages_narrow_to_the_child_when_the_snippet_is_there() -> None:
    parent = Chunk(
        id="p", doc_id="d", text="Intro on page three. " + CURIE, source="/d.pdf", file_name="d.pdf",
        file_type="pdf", page_start=3, page_end=4, kind="parent",
    )  # fmt: skip
    hit = _hit("c", CURIE, "d.pdf", 4, parent=parent)
    assert make_citation(1, hit, "Curie married Pierre").page_start == 4
    wide = make_citation(1, hit, "Intro on page three")
    assert (wide.page_start, wide.page_end) == (3, 4)


def test_extractive_mode_without_llm(hash_embedder: Any) -> None:
    chain = AnswerChain(StaticRetriever(), None, embedder=hash_embedder, extractive_sentences=2)
    answer = chain.ask("What was NVIDIA Data Center revenue?")
    assert answer.mode == "extractive" and not answer.refused and not answer.flagged
    assert "Data Center revenue was $10.32 billion. [2]" in answer.text
    assert answer.citations[0].file_name == "nvda-q2.pdf"
    assert any("no LLM" in n for n in answer.notes)


def test_a_child_and_its_parent_over_two_pages_do_not_make_running_lines() -> None:
    # The child on page 3 repeats lines of its parent over pages 2-3: one page, not two.
    reef = "Discoveries\nThe reef lies at a depth of 312 metres.\nIt was named in 1939."
    parent = Chunk(
        id="p", doc_id="h", text="End of page two.\n" + reef, source="/h.pdf", file_name="h.pdf",
        file_type="pdf", page_start=2, page_end=3, kind="parent",
    )  # fmt: skip
    hits = (_hit("c", reef, "h.pdf", 3, parent=parent),)
    picked = extractive_sentences("How deep is the reef?", hits, None, max_sentences=1)
    assert picked == [(1, "The reef lies at a depth of 312 metres.")]


def test_extractive_sentences_without_embedder_use_word_overlap() -> None:
    picked = extractive_sentences("Whom did Curie marry?", HITS, None, max_sentences=1)
    assert picked == [(1, "In 1895 she married the French physicist Pierre Curie.")]


def test_per_call_extractive_mode_skips_the_llm() -> None:
    llm = FakeLLM([])
    answer = AnswerChain(StaticRetriever(), llm).ask("Apple net sales?", answer_mode="extractive")
    assert answer.mode == "extractive" and llm.calls == []
    assert "[3]" in answer.text


class _BrokenLLM(FakeLLM):
    def stream(self, prompt: str, **options: Any):  # type: ignore[no-untyped-def, override]
        raise LLMUnavailableError("model file vanished")
        yield ""  # pragma: no cover


def test_unavailable_llm_falls_back_to_extractive() -> None:
    answer = AnswerChain(StaticRetriever(), _BrokenLLM()).ask("Apple net sales in 2023?")
    assert answer.mode == "extractive" and "[3]" in answer.text
    assert any("model file vanished" in n for n in answer.notes)


def test_runnable_invoke_and_stream() -> None:
    runnable = _chain(["Pierre Curie [1].", "NVIDIA [2]."]).as_runnable()
    answer = runnable.invoke({"question": "Whom did Curie marry?", "k": 3})
    assert isinstance(answer, Answer) and answer.citations[0].file_name == "curie.pdf"
    events = list(runnable.stream("NVIDIA revenue?"))
    assert isinstance(events[-1], Done) and events[-1].answer.text == "NVIDIA [2]."
    with pytest.raises(TypeError, match="question"):
        runnable.invoke(42)


def test_answer_to_dict_is_json_ready() -> None:
    import json

    data = _chain(["Pierre Curie [1]."]).ask("q?").to_dict()
    assert json.loads(json.dumps(data))["citations"][0]["file_name"] == "curie.pdf"
    assert data["hits"][1]["page_start"] == 7


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="answer_mode"):
        AnswerChain(StaticRetriever(), None, answer_mode="poetry")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_ctx_budget"):
        AnswerChain(StaticRetriever(), None, n_ctx_budget=10)
    with pytest.raises(ValueError, match="empty"):
        AnswerChain(StaticRetriever(), None).ask("  ")


def test_uncited_answer_whose_words_are_in_one_source_is_attributed_to_it() -> None:
    chain = _chain(["Data Center revenue was $10.32 billion."])
    events = list(chain.stream("What was data center revenue?"))
    answer = events[-1].answer
    assert answer.text == "Data Center revenue was $10.32 billion. [2]"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == answer.text
    assert [(c.n, c.file_name, c.page_start) for c in answer.citations] == [(2, "nvda-q2.pdf", 7)]
    assert not answer.flagged and answer.consulted == ()
    assert any("citewise attributed the answer to [2]" in n for n in answer.notes)


def test_uncited_answer_not_supported_by_any_source_stays_flagged() -> None:
    answer = _chain(["Tesla sold eleven rockets to Jupiter."]).ask("What happened?")
    assert answer.flagged and answer.citations == () and not answer.text.endswith("]")
    assert not any("attributed" in n for n in answer.notes)


def test_citation_pages_narrow_even_when_the_child_text_has_line_breaks() -> None:
    child_text = "The reef lies at a depth\nof 312 metres below the\nsurface."
    parent = Chunk(
        id="p", doc_id="d", text="Page one text.\n" + child_text, source="/d.pdf", file_name="d.pdf",
        file_type="pdf", page_start=1, page_end=3, kind="parent",
    )  # fmt: skip
    hit = _hit("c", child_text, "d.pdf", 3, parent=parent)
    cited = make_citation(1, hit, "depth of 312 metres")
    assert cited.snippet == "The reef lies at a depth of 312 metres below the surface."
    assert (cited.page_start, cited.page_end) == (3, 3)


# A neutral vocabulary: nothing here mirrors a benchmark question.
CORPUS_WORDS = {"brightwater", "cooperative", "harvest", "orchard", "valley", "1987"}


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("How large was the Brightwater harvest in 1987?", []),
        ("Who founded the Greystone Mill in 1987?", ["Greystone", "Mill"]),
        ("What did the cooperative sell in 1999?", ["1999"]),
        ("Describe Brightwater's orchard", []),  # first word skipped; possessive stripped
        ("Who chairs the Valley Orchard Board?", ["Board"]),
    ],
)
def test_unknown_terms(question: str, missing: list[str]) -> None:
    from retrieval.chain import unknown_terms

    assert unknown_terms(question, lambda t: t.lower() in CORPUS_WORDS) == missing


def test_the_literal_check_refuses_a_name_the_corpus_never_mentions_without_the_llm() -> None:
    chain = _chain([], corpus_knows=lambda t: t.lower() in CORPUS_WORDS)
    answer = chain.ask("What did Greystone harvest in 1987?")
    assert answer.refused and answer.text == REFUSAL and chain.llm.calls == []  # type: ignore[union-attr]
    assert "the documents never mention 'Greystone'" in answer.notes
    known = _chain(["The harvest was 40 tonnes [1]."], corpus_knows=lambda t: t.lower() in CORPUS_WORDS)
    assert not known.ask("What did Brightwater harvest in 1987?").refused

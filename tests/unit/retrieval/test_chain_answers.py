"""The answer chain's new parts with a reply-queue LLM: grammar, claims, strict mode, evidence, extractive."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from retrieval.base import Chunk, Hit, RetrievalResult
from retrieval.chain import AnswerChain, Done, TextDelta
from retrieval.citation_grammar import citation_gbnf, citation_schema, render_cited_json
from retrieval.llm.fake_llm import FakeLLM
from retrieval.prompts import REFUSAL

NVDA = (
    "Revenue for the second quarter of fiscal year 2024 was $13.51 billion, up 101% from a year ago. "
    "Gaming revenue was up 22% from a year ago."
)
AAPL = "Apple's total net sales were $81.8 billion in the third quarter of 2023. Mac sales declined slightly."


def _hit(cid: str, text: str, file_name: str, page: int) -> Hit:
    chunk = Chunk(
        id=cid, doc_id=file_name, text=text, source=f"/docs/{file_name}", file_name=file_name,
        file_type="pdf", page_start=page, page_end=page,
    )  # fmt: skip
    return Hit(chunk=chunk, score=0.9)


HITS = (_hit("nvda#1", NVDA, "nvda.pdf", 27), _hit("aapl#1", AAPL, "aapl.pdf", 5))


class Static:
    def __init__(self, hits: Sequence[Hit] = HITS) -> None:
        self.hits = tuple(hits)

    def retrieve(self, query: str, **options: Any) -> RetrievalResult:
        return RetrievalResult(hits=self.hits, query=query, best_relevance=0.8)


class GrammarFakeLLM(FakeLLM):
    grammar_support = "gbnf"


class SchemaFakeLLM(FakeLLM):
    grammar_support = "json_schema"


def test_grammar_text_enumerates_exactly_the_source_numbers() -> None:
    grammar = citation_gbnf(3, REFUSAL)
    assert 'num ::= "1" | "2" | "3"\n' in grammar + "\n"
    assert f"refusal ::= {json.dumps(REFUSAL)}" in grammar
    assert 'sentence (" " sentence){0,2}' in grammar
    with pytest.raises(ValueError, match="n_sources=0"):
        citation_gbnf(0, REFUSAL)


def test_schema_limits_sources_and_json_replies_become_cited_text() -> None:
    schema = citation_schema(2)
    assert schema["properties"]["sentences"]["items"]["properties"]["source"]["enum"] == [1, 2]
    reply = {"refused": False, "sentences": [{"text": "Revenue was $13.51 billion.", "source": 1},
                                             {"text": "Invented", "source": 7}]}  # fmt: skip
    assert render_cited_json(reply, 2, REFUSAL) == "Revenue was $13.51 billion [1]."
    assert render_cited_json({"refused": True, "sentences": []}, 2, REFUSAL) == REFUSAL
    assert render_cited_json({"refused": False, "sentences": []}, 2, REFUSAL) == REFUSAL


def test_gbnf_backends_get_the_grammar_others_do_not() -> None:
    gbnf = GrammarFakeLLM(["Revenue was $13.51 billion [1]."])
    AnswerChain(Static(), gbnf, citation_grammar=True).ask("What was revenue?")
    assert gbnf.calls[0].options["grammar"] == citation_gbnf(2, REFUSAL)
    plain = FakeLLM(["Revenue was $13.51 billion [1]."])
    AnswerChain(Static(), plain, citation_grammar=True).ask("What was revenue?")
    assert "grammar" not in plain.calls[0].options
    off = GrammarFakeLLM(["Revenue was $13.51 billion [1]."])
    AnswerChain(Static(), off, citation_grammar=False).ask("What was revenue?")
    assert "grammar" not in off.calls[0].options


def test_schema_backends_answer_through_json() -> None:
    llm = SchemaFakeLLM(
        ['{"refused": false, "sentences": [{"text": "Revenue was $13.51 billion", "source": 1}]}']
    )
    answer = AnswerChain(Static(), llm, citation_grammar=True).ask("What was revenue?")
    assert llm.calls[0].options["json_schema"] == citation_schema(2)
    assert answer.text == "Revenue was $13.51 billion [1]."
    assert [c.n for c in answer.citations] == [1] and answer.supported


def test_claims_are_marked_per_sentence_in_the_answer_and_its_json() -> None:
    text = "Revenue was $13.51 billion [1]. Apple's net sales were $90.1 billion [2]."
    answer = AnswerChain(Static(), FakeLLM([text])).ask("What was revenue?")
    assert answer.text == text  # mark mode: the text stays as written
    assert [c.supported for c in answer.claims] == [True, False]
    assert answer.claims[1].missing == ("$90.1 billion",)
    data = answer.to_dict()
    assert [c["supported"] for c in data["claims"]] == [True, False] and data["supported"] is False
    assert any("1 of 2 sentences are not supported" in n for n in answer.notes)


def test_strict_mode_replaces_unsupported_sentences_and_streams_the_checked_text() -> None:
    text = "Revenue was $13.51 billion [1]. Apple's net sales were $90.1 billion [2]."
    chain = AnswerChain(Static(), FakeLLM([text]), claim_check="strict")
    events = list(chain.stream("What were Apple's net sales?"))
    answer = events[-1].answer
    assert isinstance(events[-1], Done)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == answer.text
    assert answer.text == (
        "Revenue was $13.51 billion [1]. "
        "Apple's total net sales were $81.8 billion in the third quarter of 2023. [2]"
    )
    assert [c.n for c in answer.citations] == [1, 2]
    assert answer.claims[1].replacement is not None and not answer.claims[1].supported


def test_evidence_packing_keeps_the_answering_sentences_within_the_budget() -> None:
    filler = " ".join(f"Filler sentence number {i} says nothing." for i in range(200))
    hits = [_hit("a#1", f"{filler} Revenue was $13.51 billion. {filler}", "a.pdf", 1)]
    hits += [_hit(f"b#{i}", filler, f"b{i}.pdf", i) for i in range(4)]
    llm = FakeLLM(["Revenue was $13.51 billion [1]."], n_ctx=8000)
    chain = AnswerChain(
        Static(hits),
        llm,
        packing="evidence",
        prompt_tokens_per_s=100.0,
        target_ttft_s=2.0,
        min_prompt_tokens=64,
    )
    answer = chain.ask("What was revenue?")
    prompt = llm.calls[0].prompt
    assert chain.prompt_budget() == 200
    assert llm.count_tokens(prompt) <= 200
    assert "Revenue was $13.51 billion." in prompt
    assert any(n.startswith("evidence:") for n in answer.notes)
    window = FakeLLM(["Revenue was $13.51 billion [1]."], n_ctx=8000)
    AnswerChain(Static(hits), window, packing="window").ask("What was revenue?")
    assert window.count_tokens(window.calls[0].prompt) > 5 * llm.count_tokens(prompt)


def test_extractive_answers_skip_page_furniture() -> None:
    cover = "UNITED STATES SECURITIES AND EXCHANGE COMMISSION Washington, D.C. 20549 FORM 10-Q"
    toc = "Item 2. Management's Discussion and Analysis of Financial Condition and Results of Operations 25"
    hit = _hit("c#1", f"{cover}\n{toc}\n{NVDA}", "nvda.pdf", 1)
    answer = AnswerChain(Static([hit]), None, answer_mode="extractive").ask(
        "What was revenue for the quarter?"
    )
    assert "SECURITIES" not in answer.text and "Item 2" not in answer.text
    assert answer.text.startswith("Revenue for the second quarter of fiscal year 2024 was $13.51 billion")
    assert answer.supported and answer.claims

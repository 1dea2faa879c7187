"""Self-query: the rule-based parser, the IR -> filter translator and the LLM constructor."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.structured_query import Comparator, Comparison, Operation, Operator, StructuredQuery

from retrieval.retrievers.self_query import (
    LLMQueryConstructor,
    MongoFilterTranslator,
    RuleBasedQueryParser,
    SelfQueryParser,
    page_filter,
    to_filter,
)
from retrieval.vectorstores.filters import matches

FILES = ["2023 Q3 NVDA.pdf", "2023 Q2 NVDA.pdf", "2022 Q3 AAPL.pdf", "report.pdf", "notes.md"]


def _page(first: int, last: int) -> dict[str, Any]:
    return {
        "$and": [
            {"page_start": {"$lte": last}},
            {
                "$or": [
                    {"page_end": {"$gte": first}},
                    {"$and": [{"page_end": {"$eq": None}}, {"page_start": {"$gte": first}}]},
                ]
            },
        ]
    }


@pytest.mark.parametrize(
    ("question", "query", "flt"),
    [
        (
            "What was the revenue in the 2023 Q3 NVDA report?",
            "What was the revenue?",
            {"file_name": {"$eq": "2023 Q3 NVDA.pdf"}},
        ),
        ("What is said on page 12 about risk?", "What is said about risk?", _page(12, 12)),
        ("What is said on pages 3-5?", "What is said?", _page(3, 5)),
        (
            "Which suppliers are named in the PDFs?",
            "Which suppliers are named?",
            {"file_type": {"$eq": "pdf"}},
        ),
        (
            "What does it say about cats in report.pdf?",
            "What does it say about cats?",
            {"file_name": {"$eq": "report.pdf"}},
        ),
        (
            "Summarize the findings in the section Risk Factors",
            "Summarize the findings",
            {"section": {"$contains": "Risk Factors"}},
        ),
        (
            "What changed in the Legal Proceedings section?",
            "What changed?",
            {"section": {"$contains": "Legal Proceedings"}},
        ),
        (
            "Which contracts were signed after 2020?",
            "Which contracts were signed?",
            {"created": {"$gte": "2021"}},
        ),
        ("Memos written before 2019", "Memos written", {"created": {"$lt": "2019"}}),
        (
            "What about NVIDIA's margins in the NVDA reports?",
            "What about NVIDIA's margins?",
            {"file_name": {"$in": ["2023 Q2 NVDA.pdf", "2023 Q3 NVDA.pdf"]}},
        ),
        ("What is the main risk?", "What is the main risk?", None),
        (
            "What did the annual report say?",
            "What did the annual report say?",
            None,
        ),  # no such file: no filter
    ],
)
def test_rule_parser_forms(question: str, query: str, flt: dict[str, Any] | None) -> None:
    parsed = SelfQueryParser(known_files=lambda: FILES).parse(question)
    assert (parsed.query, parsed.filter, parsed.method) == (query, flt, "rules")


def test_combined_phrases_and_no_known_files() -> None:
    parsed = SelfQueryParser(known_files=lambda: FILES).parse(
        "In the 2022 Q3 AAPL report, what is on page 4?"
    )
    assert parsed.query == "what is?"
    assert parsed.filter == {"$and": [{"file_name": {"$eq": "2022 Q3 AAPL.pdf"}}, _page(4, 4)]}
    bare = RuleBasedQueryParser().parse("What was the revenue in the 2023 Q3 NVDA report?")
    assert to_filter(bare.filter) == {"file_name": {"$contains": "2023 Q3 NVDA"}}


def test_page_filter_selects_overlapping_chunks() -> None:
    flt = to_filter(page_filter(12))
    assert matches({"page_start": 11, "page_end": 12}, flt)
    assert matches({"page_start": 12, "page_end": None}, flt)
    assert not matches({"page_start": 13, "page_end": 14}, flt)
    assert not matches({"page_start": 10, "page_end": 11}, flt)
    assert not matches({"page_start": None, "page_end": None}, flt)


def test_translator_output() -> None:
    ir = Operation(
        operator=Operator.OR,
        arguments=[
            Comparison(comparator=Comparator.EQ, attribute="file_type", value="pdf"),
            Operation(
                operator=Operator.NOT,
                arguments=[Comparison(comparator=Comparator.CONTAIN, attribute="title", value="draft")],
            ),
            Comparison(comparator=Comparator.NIN, attribute="page_start", value=[1, 2]),
            Comparison(comparator=Comparator.LIKE, attribute="section", value="risk"),
        ],
    )
    flt = to_filter(ir)
    assert flt == {
        "$or": [
            {"file_type": {"$eq": "pdf"}},
            {"$not": {"title": {"$contains": "draft"}}},
            {"page_start": {"$nin": [1, 2]}},
            {"section": {"$contains": "risk"}},
        ]
    }
    assert MongoFilterTranslator().visit_structured_query(StructuredQuery(query="q", filter=None)) == (
        "q",
        {},
    )
    assert MongoFilterTranslator().visit_structured_query(StructuredQuery(query="q", filter=ir)) == (
        "q",
        {"filter": flt},
    )
    assert matches({"file_type": "md", "title": "Final", "page_start": 5, "section": ""}, flt)
    assert not matches({"file_type": "md", "title": "Draft 2", "page_start": 1, "section": "Other"}, flt)


def test_llm_constructor_validates_the_reply() -> None:
    seen: dict[str, Any] = {}

    def complete_json(prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
        seen.update(prompt=prompt, schema=schema)
        return {
            "query": "revenue growth",
            "filters": [
                {"attribute": "file_name", "comparator": "eq", "value": "2023 Q3 NVDA.pdf"},
                {"attribute": "page_start", "comparator": "gte", "value": "3"},
                {"attribute": "author", "comparator": "eq", "value": "x"},  # not an attribute: dropped
                {"attribute": "title", "comparator": "regex", "value": "x"},  # not a comparator: dropped
            ],
        }

    sq = LLMQueryConstructor(complete_json, known_files=lambda: FILES).parse(
        "How did revenue grow in NVDA Q3 2023 from page 3 on?"
    )
    assert sq.query == "revenue growth"
    assert to_filter(sq.filter) == {
        "$and": [{"file_name": {"$eq": "2023 Q3 NVDA.pdf"}}, {"page_start": {"$gte": 3}}]
    }
    assert "2023 Q3 NVDA.pdf" in seen["prompt"] and "How did revenue grow" in seen["prompt"]
    assert (
        seen["schema"]["properties"]["filters"]["items"]["properties"]["attribute"]["enum"][0] == "file_name"
    )


def test_llm_failure_falls_back_to_rules_and_says_so() -> None:
    def broken(prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("model not loaded")

    parser = SelfQueryParser(known_files=lambda: FILES, complete_json=broken, use_llm=True)
    parsed = parser.parse("What is in the PDFs?")
    assert parsed.method == "rules" and parsed.filter == {"file_type": {"$eq": "pdf"}}
    assert "model not loaded" in parsed.notes[0]
    with pytest.raises(ValueError, match="complete_json"):
        SelfQueryParser(use_llm=True)

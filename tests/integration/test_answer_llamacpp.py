"""The bundled Gemma 3 270M GGUF through llama.cpp, and the answer chain on real 10-Q pages.

Greedy decoding (temperature 0, seed 42) and short max_tokens keep these fast and repeatable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pypdf
import pytest

from retrieval.base import Chunk, Embedder, Hit, RetrievalResult
from retrieval.chain import AnswerChain, Done, TextDelta
from retrieval.llm.base import LLM, ChatPrompt, Message
from retrieval.llm.llamacpp_llm import LlamaCppLLM, bundled_model_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROMPT = "The three primary colours of light are"
SCHEMA = {
    "type": "object",
    "properties": {"company": {"type": "string"}, "year": {"type": "integer"}},
    "required": ["company", "year"],
}


@pytest.fixture(scope="session")
def gguf_path(cache_dir: Path) -> Path:
    return bundled_model_path(cache_dir / "models")  # where services assemble it too


@pytest.fixture(scope="session")
def gemma(gguf_path: Path) -> LlamaCppLLM:
    return LlamaCppLLM(gguf_path, n_ctx=2048, n_threads=1, seed=42)


def test_bundled_model_is_assembled_once(gguf_path: Path) -> None:
    assert gguf_path.stat().st_size > 200_000_000
    mtime = gguf_path.stat().st_mtime_ns
    assert bundled_model_path(gguf_path.parent) == gguf_path
    assert gguf_path.stat().st_mtime_ns == mtime  # reused, not rewritten
    assert not list(gguf_path.parent.glob("*.part"))


def test_generate_is_deterministic_and_streaming_matches(gemma: LlamaCppLLM) -> None:
    first = gemma.generate(PROMPT, max_tokens=16, temperature=0.0, seed=42)
    second = gemma.generate(PROMPT, max_tokens=16, temperature=0.0, seed=42)
    pieces = list(gemma.stream(PROMPT, max_tokens=16, temperature=0.0, seed=42))
    assert first.strip() and first == second
    assert len(pieces) > 3 and "".join(pieces) == first


def test_stop_strings_end_the_completion(gemma: LlamaCppLLM) -> None:
    text = gemma.generate("1, 2, 3, 4, 5,", max_tokens=24, stop=["8"])
    assert "8" not in text
    assert "6" in text


def test_complete_json_is_schema_valid(gemma: LlamaCppLLM) -> None:
    value = gemma.complete_json(
        "NVIDIA filed its quarterly report for 2023. As JSON with the company and the year:",
        SCHEMA,
        max_tokens=40,
    )
    assert set(value) == {"company", "year"}
    assert isinstance(value["company"], str) and isinstance(value["year"], int)


def test_count_tokens_matches_llama_tokenizer(gemma: LlamaCppLLM) -> None:
    llama = gemma._model()
    text = "Revenue was $13,507 million, up 101% from a year ago."
    assert gemma.count_tokens(text) == len(llama.tokenize(text.encode(), add_bos=True, special=True))
    assert gemma.count_tokens("<bos>" + text) == gemma.count_tokens(text)  # one BOS, not two
    assert gemma.count_tokens(text * 4) > 4 * (gemma.count_tokens(text) - 1) - 4


def test_base_model_uses_plain_chat_format(gemma: LlamaCppLLM) -> None:
    assert gemma.chat_template is None
    rendered = gemma.format_chat(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    )
    assert rendered.prompt == "Be brief.\n\nHi\nAnswer:"


# --- end to end over real 10-Q pages -----------------------------------------------------------


def _pages(pdf: Path, pages: Sequence[int]) -> list[Chunk]:
    reader = pypdf.PdfReader(pdf)
    chunks = []
    for page in pages:
        text = reader.pages[page - 1].extract_text()
        chunks.append(
            Chunk(
                id=f"{pdf.stem}#p{page}",
                doc_id=pdf.stem,
                text=text,
                source=str(pdf),
                file_name=pdf.name,
                file_type="pdf",
                page_start=page,
                page_end=page,
            )  # fmt: skip
        )
    return chunks


class DenseRetriever:
    """Cosine search over a few chunks with the real embedder."""

    def __init__(self, chunks: Sequence[Chunk], embedder: Embedder) -> None:
        self.chunks = list(chunks)
        self.embedder = embedder
        self.vectors = embedder.embed([c.text for c in chunks])

    def retrieve(self, query: str, *, k: int | None = None, **options: Any) -> RetrievalResult:
        sims = self.vectors @ self.embedder.embed_query(query)
        order = np.argsort(-sims)[: k or 3]
        hits = tuple(Hit(chunk=self.chunks[i], score=float(sims[i])) for i in order)
        return RetrievalResult(hits=hits, query=query, best_relevance=float(sims[order[0]]))


class RecordingLLM(LLM):
    """Passes everything to a real LLM and records the prompts and token limits it was given."""

    def __init__(self, inner: LLM) -> None:
        self.inner = inner
        self.calls: list[tuple[str, int]] = []

    @property
    def n_ctx(self) -> int:
        return self.inner.n_ctx

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def format_chat(self, messages: Sequence[Message]) -> ChatPrompt:
        return self.inner.format_chat(messages)

    def stream(self, prompt: str, *, max_tokens: int = 256, **options: Any) -> Iterator[str]:
        self.calls.append((prompt, max_tokens))
        return self.inner.stream(prompt, max_tokens=max_tokens, **options)


@pytest.fixture(scope="module")
def tenq_retriever(shared_data_dir: Path, embedder: Embedder) -> DenseRetriever:
    docs = shared_data_dir / "sec10q" / "docs"
    # NVIDIA's statements (pp. 3-6) and the two MD&A pages that state the quarter's revenue in prose
    # (pp. 27, 29), beside two pages of Apple's statements.
    nvda = _pages(docs / "2023 Q2 NVDA.pdf", [3, 4, 5, 6, 27, 29])
    return DenseRetriever(nvda + _pages(docs / "2023 Q3 AAPL.pdf", [3, 4]), embedder)


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z0-9]{3,}", text)}


def test_ask_end_to_end_cites_real_pages(
    gemma: LlamaCppLLM, tenq_retriever: DenseRetriever, embedder: Embedder
) -> None:
    """The answer states the figure and cites the page that holds it.

    The bundled 270M model writes no ``[n]`` itself (in none of the questions tried); its answers
    are cited by the chain's attribution, which needs 80% of the answer's words in one source.
    That holds when the model restates a sentence, as here. Asked about "the three months ended
    July 30, 2023" over the statements alone, it answers "$13,507" correctly, but the table page
    lacks "the", "for" and "was" (75% support), so that answer is flagged and lists the sources
    consulted instead: a known gap, not covered here.
    """
    llm = RecordingLLM(gemma)
    chain = AnswerChain(
        tenq_retriever, llm, embedder=embedder, n_ctx_budget=768, max_tokens=32, min_relevance=0.2
    )
    events = list(chain.stream("What was NVIDIA's revenue for the second quarter of fiscal year 2024?", k=3))
    answer = events[-1].answer if isinstance(events[-1], Done) else None
    assert answer is not None and not answer.refused and answer.mode == "llm"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == answer.text
    assert answer.hits[0].chunk.file_name == "2023 Q2 NVDA.pdf"
    prompt, max_tokens = llm.calls[-1]
    assert gemma.count_tokens(prompt) + max_tokens <= 768  # packed, never an overflow
    assert "13.51 billion" in answer.text, answer.text
    # Cited (by the model or by the chain's attribution); listing the sources consulted, the
    # fallback for an answer that cites nothing, does not count.
    assert answer.citations, (answer.text, answer.notes)
    assert not answer.flagged and not answer.consulted
    assert {c.n for c in answer.citations} == {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    for citation in answer.citations:
        page_text = pypdf.PdfReader(citation.source).pages[citation.page_start - 1].extract_text()
        assert (citation.file_name, citation.page_start) in {
            ("2023 Q2 NVDA.pdf", 27),
            ("2023 Q2 NVDA.pdf", 29),
        }
        assert "13.51 billion" in page_text  # the cited page holds the figure the answer states
        assert _words(citation.snippet) <= _words(page_text)


def test_unanswerable_question_is_refused_before_the_llm(
    gemma: LlamaCppLLM, tenq_retriever: DenseRetriever
) -> None:
    llm = RecordingLLM(gemma)
    answer = AnswerChain(tenq_retriever, llm, min_relevance=0.45).ask("Who painted the Mona Lisa?")
    assert answer.refused and llm.calls == []


def test_citation_grammar_allows_only_the_given_source_numbers(gemma: LlamaCppLLM) -> None:
    from retrieval.citation_grammar import citation_gbnf
    from retrieval.prompts import REFUSAL

    # The prompt invites copying "[7]" and "[9]"; with two sources in the grammar only [1] or [2] fit.
    prompt = "Paris is in France [7]. Rome is in Italy [9].\nParis is in France [7].\nRome is in"
    free = gemma.generate(prompt, max_tokens=8, temperature=0.0, seed=42)
    constrained = gemma.generate(
        prompt, max_tokens=16, temperature=0.0, seed=42, grammar=citation_gbnf(2, REFUSAL)
    )
    assert "[9]" in free  # unconstrained, the model copies the invented number
    numbers = re.findall(r"\[(\d+)\]", constrained)
    assert numbers and set(numbers) <= {"1", "2"}
    assert re.fullmatch(r" ?[^\[\]\n]+ \[[12]\](\[[12]\])?\.?( .*)?", constrained), constrained


def test_chat_format_auto_explicit_and_template(gguf_path: Path, gemma: LlamaCppLLM) -> None:
    from retrieval.llm.base import LLMError
    from retrieval.llm.chat_formats import render_chat

    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert gemma.chat_format == "plain"  # the bundled Gemma 3 270M is pretrained: no template
    assert gemma.format_chat(messages) == render_chat("plain", messages)
    chosen = LlamaCppLLM(gguf_path, n_ctx=256, n_threads=1, chat_format="gemma")
    assert chosen.format_chat(messages).prompt == render_chat("gemma", messages).prompt
    with pytest.raises(LLMError, match="has no tokenizer.chat_template"):
        LlamaCppLLM(gguf_path, n_ctx=256, n_threads=1, chat_format="template").format_chat(messages)
    with pytest.raises(ValueError, match="unknown chat_format"):
        LlamaCppLLM(gguf_path, chat_format="vicuna")

"""The one Settings model.

Sources, highest priority first: keyword arguments, ``CITEWISE_*`` environment variables (nested
fields with ``__``, e.g. ``CITEWISE_GRAPH__BACKEND=neo4j``), a TOML file (``CITEWISE_CONFIG`` or
``./citewise.toml``), then the defaults below, which run offline on the bundled models.
Of the library, only the ``app`` package reads Settings: :mod:`app.container` turns it into
backends, and the service, doctor, CLI and UI read their own options from it (``bench/`` reads the
defaults too, to run what users get). ``ingest``, ``retrieval`` and ``graph`` never see it; their
classes take plain keyword arguments.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class EmbeddingSettings(BaseModel):
    model_path: Path | None = Field(
        None,
        description="Directory of a sentence-transformers model; None uses the bundled all-MiniLM-L6-v2.",
    )
    batch_size: int = Field(64, ge=1, description="Texts per forward pass.")
    device: str = Field("cpu", description="torch device for the embedder.")


class ChunkingSettings(BaseModel):
    child_tokens: int = Field(160, ge=16, description="Size of embedded child chunks, in embedder tokens.")
    child_overlap: int = Field(32, ge=0, description="Tokens shared by consecutive child chunks.")
    parent_tokens: int = Field(
        640, ge=32, description="Size of parent sections handed to the answer step, in embedder tokens."
    )
    contextual_headers: bool = Field(
        False,
        description=(
            "Embed each child chunk with a short header naming its document (registrant or file name, "
            "form, period) and its page heading; applies to files ingested after the change."
        ),
    )


class VectorStoreSettings(BaseModel):
    index_type: Literal["flat", "hnsw", "ivf"] = Field(
        "flat", description="flat: exact inner product; hnsw / ivf: approximate, for large corpora."
    )
    hnsw_m: int = Field(32, ge=4, description="HNSW graph degree.")
    hnsw_ef_search: int = Field(128, ge=8, description="HNSW search breadth.")
    ivf_nlist: int = Field(1024, ge=1, description="IVF cells (trained once enough vectors exist).")
    ivf_nprobe: int = Field(16, ge=1, description="IVF cells visited per query.")


class IngestSettings(BaseModel):
    exclude: list[str] = Field(default_factory=list, description="Glob patterns of paths never ingested.")
    max_file_mb: float = Field(200.0, gt=0, description="Files larger than this are reported and skipped.")
    max_pages: int = Field(5000, ge=1, description="PDF pages read at most per file.")
    max_chars: int = Field(20_000_000, ge=1000, description="Extracted characters kept at most per file.")
    parse_timeout_s: float = Field(120.0, gt=0, description="Wall-clock limit for parsing one file.")
    parse_memory_mb: int = Field(2048, ge=128, description="Address-space cap of the parser worker process.")
    ocr: bool = Field(
        True, description="Read PDF pages that have no text layer with OCR (pages with text never are)."
    )
    ocr_max_pages: int = Field(50, ge=1, description="Pages OCR reads at most per document.")
    ocr_timeout_s: float = Field(
        300.0,
        gt=0,
        description="OCR of one document stops after this many seconds (added to parse_timeout_s).",
    )
    tables: bool = Field(
        False,
        description=(
            "Extract tables as labelled rows: PDF pages that look tabular (pdfplumber), DOCX and HTML tables. "
            "Off by default until it earns its place: on two sec10q filings it doubled ingest time "
            "(bench/results/formats.json) and its effect on retrieval has not been measured yet."
        ),
    )
    tables_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Table extraction of one PDF stops after this many seconds; later pages keep plain text.",
    )


class GraphSettings(BaseModel):
    enabled: bool = Field(True, description="Build the knowledge graph during ingest.")
    backend: Literal["sqlite", "neo4j"] = Field("sqlite", description="Where the graph is stored.")
    neo4j_uri: str = Field("bolt://127.0.0.1:7687", description="Bolt URI of the Neo4j server.")
    neo4j_user: str = Field("neo4j", description="Neo4j user.")
    neo4j_password: SecretStr = Field(SecretStr(""), description="Neo4j password.")
    neo4j_database: str | None = Field(None, description="Neo4j database name (server default when None).")
    llm_extraction: bool = Field(
        False, description="Let the local LLM propose extra typed triples per chunk."
    )
    llm_budget_chunks: int = Field(
        50, ge=0, description="Chunks sent to the LLM extractor per ingest at most."
    )
    max_entities_per_chunk: int = Field(
        60, ge=1, description="Entities kept per chunk (bounds table-like text)."
    )
    worker: bool = Field(
        True,
        description=(
            "Extract in a worker process overlapped with embedding (measured +28% ingest time on the "
            "reports against +34-55% in-process); a spaCy crash or hang then leaves one document's "
            "graph pending, for `citewise doctor --repair` to build."
        ),
    )
    worker_min_mb: float = Field(
        1.0,
        ge=0,
        description="Runs with fewer MB of files to ingest extract in-process (the worker's start costs more).",
    )


class RetrievalSettings(BaseModel):
    k: int = Field(5, ge=1, description="Hits returned to the answer step.")
    fetch_k: int = Field(30, ge=1, description="Candidates each retriever contributes before fusion.")
    dense: bool = Field(True, description="Use FAISS dense search.")
    bm25: bool = Field(True, description="Use BM25 keyword search.")
    graph: bool = Field(
        False,
        description=(
            "Use knowledge-graph retrieval in search (the graph is still built and explorable); off by "
            "default: it lowered page/document hit@1 on the sets measured (see README, Benchmarks)."
        ),
    )
    weight_dense: float = Field(1.0, ge=0, description="Fusion weight of dense hits.")
    weight_bm25: float = Field(
        0.5,
        ge=0,
        description=(
            "Fusion weight of BM25 hits: 0.5 was chosen on one half of sec10q and confirmed on the other; "
            "0.25 scored higher on the sec10q-subset tune half but lost a sample-corpus question "
            "(docs/benchmarks.md)."
        ),
    )
    weight_graph: float = Field(0.7, ge=0, description="Fusion weight of graph hits.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    documents: bool = Field(
        True, description="Add a document-level prior (file name, title, opening words) to fused scores."
    )
    weight_document: float = Field(
        0.5,
        ge=0,
        description=(
            "Weight of the document prior against fused scores scaled to [0, 1] (chosen on sec10q; "
            "1.0 scored higher on the sec10q-subset tune half but lost a sample-corpus question)."
        ),
    )
    targeting: bool = Field(
        True,
        description="Favour the documents whose period and form (read from their cover pages) fit the question's.",
    )
    weight_targeting: float = Field(
        0.5,
        ge=0,
        description=(
            "Weight of the targeting fit against fused scores scaled to [0, 1] (0.25 to 2 scored the same "
            "on the sec10q-subset tune half)."
        ),
    )
    named_documents: bool = Field(
        True,
        description=(
            "When the question names a company or person whose documents (file name, title, cover "
            "page) are in the index but no hit came from them, search those documents again instead."
        ),
    )
    pages: bool = Field(
        False,
        description=(
            "Rank pages by all their candidate chunks, the best chunk of each page first; off by default: "
            "it lowered hit@1 on the sample corpus (see docs/benchmarks.md)."
        ),
    )
    weight_page: float = Field(
        0.5, ge=0, description="Share of a page's other candidate chunks added to its best chunk's score."
    )
    mmr: bool = Field(True, description="Diversify the fused candidates with MMR.")
    mmr_lambda: float = Field(
        0.7, ge=0, le=1, description="MMR relevance/diversity balance (1 = relevance only)."
    )
    self_query: bool = Field(True, description="Read metadata filters from the question.")
    self_query_llm: bool = Field(
        False, description="Use the LLM (grammar-constrained) for self-query parsing."
    )
    compression: bool = Field(True, description="Keep only the relevant sentences of each parent chunk.")
    compression_llm: bool = Field(False, description="Use the LLM extractor instead of embeddings.")
    compression_scorer: Literal["static", "embedder"] = Field(
        "static",
        description=(
            "What scores sentences for compression: a static model distilled once from the embedder "
            "(milliseconds per query), or the embedder itself (hundreds of ms per query on a CPU)."
        ),
    )
    rerank: bool = Field(False, description="Rerank with a cross-encoder (needs reranker_path).")
    reranker_path: Path | None = Field(
        None, description="Local directory of a sentence-transformers CrossEncoder."
    )
    min_relevance: float = Field(
        0.25, description="Below this best dense similarity the question is refused without calling the LLM."
    )
    refuse_uncovered: bool = Field(
        True,
        description=(
            "Refuse, without calling the LLM, a question about a period the documents do not cover "
            "(FY2030 over filings that end in 2023) or naming a company, person or place that no "
            "retrieved passage or its document names in any spelling."
        ),
    )
    refuse_unknown_terms: bool = Field(
        False,
        description=(
            "Also refuse a question with any capitalised word or year the documents never contain "
            "literally. Off by default: it refuses 'FY2022' over filings that write 'fiscal 2022'."
        ),
    )


class LLMSettings(BaseModel):
    backend: Literal["llamacpp", "openai_compat", "fake"] = Field("llamacpp", description="Which LLM to use.")
    answer_mode: Literal["llm", "extractive"] = Field(
        "llm", description="llm: generated answer; extractive: best sentences with citations, no LLM."
    )
    model_path: Path | None = Field(None, description="A GGUF file; None uses the bundled Gemma 3 270M.")
    n_ctx: int = Field(4096, ge=256, description="Context window in tokens.")
    n_threads: int | None = Field(
        None, ge=1, description="CPU threads for llama.cpp (None: every core, os.cpu_count())."
    )
    n_gpu_layers: int = Field(0, description="Layers offloaded to a GPU (-1: all).")
    max_tokens: int = Field(256, ge=1, description="Longest answer in tokens.")
    temperature: float = Field(0.0, ge=0, description="Sampling temperature (0 = greedy).")
    seed: int = Field(42, description="Sampling seed.")
    base_url: str = Field(
        "http://127.0.0.1:8080/v1", description="OpenAI-compatible endpoint (openai_compat)."
    )
    api_key: SecretStr = Field(SecretStr(""), description="API key for the endpoint, if it wants one.")
    model_name: str = Field("local", description="Model name sent to the endpoint.")
    history_turns: int = Field(6, ge=0, description="Conversation turns remembered for follow-ups.")
    chat_format: Literal["auto", "mistral", "phi2", "gemma", "llama3", "chatml", "template", "plain"] = Field(
        "auto",
        description=(
            "Prompt format (llamacpp): auto uses the GGUF's own chat template, else one detected from its "
            "architecture and name (Phi-2, Mistral/Llama 3/Gemma instruct, ChatML; base models: plain)."
        ),
    )
    packing: Literal["evidence", "window"] = Field(
        "window",
        description=(
            "Opt-in until measured: with evidence packing and the grammar, the bundled model answered "
            "NVIDIA's Q2 FY24 revenue wrongly in the end-to-end test where window packing was right. "
            "evidence: the prompt carries the sentences that answer the question, within a budget of "
            "target_ttft_s x the model's prompt speed; window: whole sources up to the context window "
            "(slower first token; kept for comparison)."
        ),
    )
    target_ttft_s: float = Field(
        2.0,
        gt=0,
        description=(
            "Time to first token the evidence budget aims at. Prompt tokens cost time before the first "
            "word: at the bundled model's ~380 prompt tokens/s (2 idle cores) 2 s is ~760 tokens, "
            "the system prompt, question and 3-5 sources' best sentences; a 7B model at ~20 tokens/s "
            "gets min_prompt_tokens instead."
        ),
    )
    prompt_tokens_per_s: float | None = Field(
        None,
        gt=0,
        description="The model's prompt speed; None measures it once per model load (~200 tokens).",
    )
    min_prompt_tokens: int = Field(
        600, ge=64, description="Evidence budget floor, so a slow model still sees evidence."
    )
    citation_grammar: bool = Field(
        False,
        description="Constrain answers so each sentence ends in [n] for a real source (or is the refusal).",
    )
    claim_check: Literal["mark", "strict", "off"] = Field(
        "mark",
        description=(
            "Check each answer sentence's figures, dates, years and names against the source it cites; "
            "strict also replaces a failing sentence by the source sentence that best supports it."
        ),
    )
    structured_output: Literal["gbnf", "json_schema", "none"] = Field(
        "none",
        description="What the openai_compat server enforces: gbnf (llama.cpp server), json_schema, none.",
    )


class UISettings(BaseModel):
    max_upload_mb: int = Field(50, ge=1, description="Largest upload accepted by the UI.")
    host: str = Field("127.0.0.1", description="Address the Streamlit server binds.")
    port: int = Field(8501, ge=1, le=65535, description="Port of the Streamlit server.")


class ApiSettings(BaseModel):
    host: str = Field(
        "127.0.0.1", description="Address `citewise serve` binds; any other than loopback needs api_key."
    )
    port: int = Field(8000, ge=0, le=65535, description="Port of the API (0: a free one, printed at start).")
    api_key: SecretStr = Field(
        SecretStr(""),
        description="Bearer key every request must send; may be empty only when bound to 127.0.0.1/localhost.",
    )
    max_upload_mb: float = Field(50.0, gt=0, description="Largest uploaded file; larger ones get 413.")
    max_upload_files: int = Field(20, ge=1, description="Files accepted in one upload request.")
    max_json_kb: int = Field(1024, ge=1, description="Largest JSON request body; larger ones get 413.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed to call the API (none: CORS off)."
    )
    remote_generations: int = Field(
        4,
        ge=1,
        description=(
            "Answers generated at once by the openai_compat backend; the local llama.cpp model "
            "always generates one at a time and the rest queue."
        ),
    )
    max_queued: int = Field(
        32, ge=0, description="Generation requests waiting at most; one more gets 429 with Retry-After."
    )
    lock_wait_s: float = Field(
        30.0, ge=0, description="Seconds a write waits for another process holding the index's write lock."
    )
    watch_debounce_s: float = Field(
        0.5, gt=0, description="Quiet time after the last change in a watched folder before it is ingested."
    )
    model_id: str = Field("citewise", description="Model name the OpenAI-compatible endpoint answers to.")


class Settings(BaseSettings):
    """All of citewise's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="CITEWISE_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    index_dir: Path = Field(Path("data/index"), description="Where indexes and the embedded graph live.")
    cache_dir: Path = Field(
        Path("data/cache"),
        description=(
            "Caches: the assembled bundled GGUF (models/), the distilled static model (static/) and"
            " the private indexes of `citewise eval --docs` (eval/)."
        ),
    )
    roots: list[Path] = Field(
        default_factory=list,
        description=(
            "Folders the UI and the API may ingest from or show; empty means only the upload folder."
        ),
    )
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)  # type: ignore[arg-type]
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)  # type: ignore[arg-type]
    vectorstore: VectorStoreSettings = Field(default_factory=VectorStoreSettings)  # type: ignore[arg-type]
    ingest: IngestSettings = Field(default_factory=IngestSettings)  # type: ignore[arg-type]
    graph: GraphSettings = Field(default_factory=GraphSettings)  # type: ignore[arg-type]
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)  # type: ignore[arg-type]
    llm: LLMSettings = Field(default_factory=LLMSettings)  # type: ignore[arg-type]
    ui: UISettings = Field(default_factory=UISettings)  # type: ignore[arg-type]
    api: ApiSettings = Field(default_factory=ApiSettings)  # type: ignore[arg-type]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("CITEWISE_CONFIG", "citewise.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

"""Request and response bodies of the citewise routes (the OpenAI-compatible ones are in openai_schemas)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Strict(BaseModel):
    """A request body that rejects unknown fields, so a typo is a 422 naming it, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class RetrievalOptions(Strict):
    """Per-request switches of the retrieval stages (None keeps the configured setting)."""

    k: int | None = Field(None, ge=1, le=100, description="Hits returned.")
    filters: dict[str, Any] | None = Field(
        None,
        description='Metadata filter, e.g. {"file_name": {"$eq": "a.pdf"}} or {"page_start": {"$gte": 3}}.',
    )
    graph: bool | None = Field(None, description="Use knowledge-graph retrieval.")
    mmr: bool | None = Field(None, description="Diversify hits with MMR.")
    mmr_lambda: float | None = Field(None, ge=0, le=1, description="MMR relevance/diversity balance.")
    self_query: bool | None = Field(None, description="Read metadata filters from the question.")
    compression: bool | None = Field(None, description="Keep only the relevant sentences of each hit.")

    def options(self) -> dict[str, Any]:
        """The set options as keyword arguments of ``Citewise.search`` / ``ask``."""
        names = [n for n in RetrievalOptions.model_fields if n != "filters"]
        chosen = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
        return {**chosen, "filters": self.filters}


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class SearchRequest(RetrievalOptions):
    query: str = Field(..., min_length=1, max_length=4000, description="What to look for.")

    _query = field_validator("query")(_not_blank)


class Turn(Strict):
    question: str
    answer: str


class AskRequest(RetrievalOptions):
    question: str = Field(..., min_length=1, max_length=4000, description="The question.")
    stream: bool = Field(False, description="Answer as server-sent events: retrieval, deltas, answer.")
    mode: Literal["llm", "extractive"] | None = Field(
        None, description="llm: generated answer; extractive: best source sentences, no model."
    )
    history: list[Turn] = Field(
        default_factory=list, max_length=50, description="Earlier exchanges, oldest first, for follow-ups."
    )

    _question = field_validator("question")(_not_blank)


class IngestPathsRequest(Strict):
    paths: list[str] = Field(..., min_length=1, max_length=100, description="Files or folders on the server.")
    prune: bool = Field(False, description="Forget documents under these folders whose files are gone.")
    graph: bool | None = Field(None, description="Build the knowledge graph (default: settings).")


class FileResult(BaseModel):
    path: str
    name: str
    status: str
    reason: str = ""
    pages: int | None = None
    chunks: int = 0
    entities: int = 0
    seconds: float = 0.0
    warnings: list[str] = Field(default_factory=list)


class IngestResponse(BaseModel):
    summary: dict[str, int]
    embedded: int
    files: list[FileResult]


class DocumentOut(BaseModel):
    doc_id: str
    source: str
    file_name: str
    file_type: str
    status: Literal["indexed"] = "indexed"
    size: int
    pages: int | None
    parents: int
    chunks: int
    entities: int
    ingested_at: float
    uploaded: bool
    warnings: list[str] = Field(default_factory=list)


class DocumentsResponse(BaseModel):
    documents: list[DocumentOut]
    stats: dict[str, Any]


class ForgetResponse(BaseModel):
    removed: list[str]


class HitOut(BaseModel):
    rank: int
    chunk_id: str
    doc_id: str
    file_name: str
    source: str
    page_start: int | None
    page_end: int | None
    section: str
    score: float
    text: str
    provenance: dict[str, dict[str, float]]


class SearchResponse(BaseModel):
    query: str
    filter: dict[str, Any] | None
    hits: list[HitOut]
    notes: list[str]


class EntityOut(BaseModel):
    id: str
    name: str
    type: str
    aliases: list[str]


class RelationOut(BaseModel):
    source_id: str
    target_id: str
    type: str
    kind: str
    weight: float
    doc_id: str
    chunk_id: str
    page: int | None
    sentence: str


class EntityResponse(BaseModel):
    entities: list[EntityOut]
    relations: list[RelationOut]


class SubgraphResponse(BaseModel):
    entities: list[EntityOut]
    relations: list[RelationOut]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """Every error, in the shape OpenAI clients read: ``{"error": {"message", "type", "param", "code"}}``."""

    error: ErrorBody

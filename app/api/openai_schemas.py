"""The subset of OpenAI's chat-completions wire format that citewise speaks.

Requests accept (and ignore) the many optional parameters OpenAI clients send (``top_p``,
``presence_penalty``, ``user``...), since a chat front end sends them whatever the model. Answers
carry two extra top-level fields OpenAI's schema does not have: ``citations`` (file, pages and
snippet behind every ``[n]`` in the text) and ``citewise`` (refusal, flags, notes).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text (text parts joined; images and other parts have none)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content if part.type == "text")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(..., min_length=1, description="A model id from /v1/models.")
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=200)
    stream: bool = False
    n: int = Field(1, ge=1, le=1, description="Only one choice is generated.")
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)

    @field_validator("messages")
    @classmethod
    def _ends_with_user(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        users = [m for m in messages if m.role == "user"]
        if not users or not users[-1].text().strip():
            raise ValueError("the messages must include a user message with text (the question)")
        return messages


class CitationOut(BaseModel):
    n: int
    chunk_id: str
    source: str
    file_name: str
    page_start: int | None
    page_end: int | None
    snippet: str


class AnswerInfo(BaseModel):
    """What citewise adds about the answer: refused, flagged (cites nothing), notes, the rewrite."""

    refused: bool
    flagged: bool
    mode: str
    standalone_question: str
    notes: list[str]
    consulted: list[CitationOut]


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: Literal["stop", "length"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    citations: list[CitationOut]
    citewise: AnswerInfo


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    citations: list[CitationOut] | None = None
    citewise: AnswerInfo | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "citewise"
    description: str = ""


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def citation_out(citation: Any) -> CitationOut:
    """A :class:`retrieval.chain.Citation` as the wire model."""
    return CitationOut(
        n=citation.n,
        chunk_id=citation.chunk_id,
        source=citation.source,
        file_name=citation.file_name,
        page_start=citation.page_start,
        page_end=citation.page_end,
        snippet=citation.snippet,
    )


def answer_info(answer: Any) -> AnswerInfo:
    """The citewise extras of a :class:`retrieval.chain.Answer`."""
    return AnswerInfo(
        refused=answer.refused,
        flagged=answer.flagged,
        mode=answer.mode,
        standalone_question=answer.standalone_question,
        notes=list(answer.notes),
        consulted=[citation_out(c) for c in answer.consulted],
    )

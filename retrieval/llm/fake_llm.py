"""A reply-queue LLM for unit tests of the logic around a model."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from retrieval.llm.base import LLM, LLMError

_PIECES = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class FakeCall:
    """One request the fake received."""

    prompt: str
    options: dict[str, Any] = field(default_factory=dict)


class FakeLLM(LLM):
    """Answers with queued replies, in order, and records every prompt.

    Its tokenizer counts whitespace-separated words, so tests can compute budgets by hand. A reply
    is streamed word by word and cut at the first stop string, like a real backend.

    Args:
        replies: Replies returned by successive calls.
        n_ctx: Context window the fake claims.
        default_reply: Returned when the queue is empty; None makes an empty queue an error.
    """

    def __init__(
        self, replies: Iterable[str] = (), *, n_ctx: int = 2048, default_reply: str | None = None
    ) -> None:
        if n_ctx < 1:
            raise ValueError(f"n_ctx must be positive, got {n_ctx}")
        self._replies = list(replies)
        self._n_ctx = n_ctx
        self._default = default_reply
        self.calls: list[FakeCall] = []

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def prompts(self) -> list[str]:
        """Every prompt received, oldest first."""
        return [call.prompt for call in self.calls]

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(
        self,
        prompt: str,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        seed: int | None = None,
        json_schema: Mapping[str, Any] | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        options = {"max_tokens": max_tokens, "temperature": temperature, "stop": tuple(stop), "seed": seed}
        if json_schema is not None:
            options["json_schema"] = dict(json_schema)
        if grammar is not None:
            options["grammar"] = grammar
        self.calls.append(FakeCall(prompt=prompt, options=options))
        reply = self._next_reply()
        cut = min((reply.find(s) for s in stop if s and s in reply), default=len(reply))
        pieces = _PIECES.findall(reply[:cut])
        yield from pieces[:max_tokens]

    def _next_reply(self) -> str:
        if self._replies:
            return self._replies.pop(0)
        if self._default is None:
            raise LLMError(f"FakeLLM has no reply left after {len(self.calls) - 1} calls")
        return self._default

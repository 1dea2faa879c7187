"""The LLM contract: one streaming core method, everything else built on it.

A backend implements :meth:`LLM.stream` (tokens of a completion for a plain prompt) and the
``n_ctx`` property; :meth:`LLM.format_chat` and :meth:`LLM.count_tokens` have generic defaults a
backend overrides when it knows its model's chat template and tokenizer.
"""

from __future__ import annotations

import abc
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LLM as LangChainBaseLLM
from langchain_core.outputs import GenerationChunk
from pydantic import ConfigDict, Field

from retrieval.base import RetrievalError

logger = logging.getLogger(__name__)

Message = Mapping[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""

_ROLES = ("system", "user", "assistant")


class LLMError(RetrievalError):
    """The language model failed or produced unusable output."""


class LLMUnavailableError(LLMError):
    """The backend cannot run here: a package, a model file or the endpoint is missing."""


@dataclass(frozen=True)
class ChatPrompt:
    """A chat rendered into one prompt string plus the stop strings that end the reply."""

    prompt: str
    stop: tuple[str, ...] = ()


class LLM(abc.ABC):
    """A text-completion model that streams.

    Implementations provide :meth:`stream` and :attr:`n_ctx`; :meth:`generate`, :meth:`chat`,
    :meth:`chat_stream` and :meth:`complete_json` come for free.
    """

    grammar_support: str = "none"
    """How this backend constrains output: ``gbnf`` (a GBNF grammar is enforced while decoding),
    ``json_schema`` (only JSON-schema structured output) or ``none`` (nothing is enforced)."""

    @property
    @abc.abstractmethod
    def n_ctx(self) -> int:
        """Context window in tokens (prompt plus answer)."""

    @abc.abstractmethod
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
        """Yield the completion of ``prompt`` piece by piece.

        Args:
            prompt: The full prompt text, already formatted for the model.
            max_tokens: Longest completion in model tokens.
            temperature: Sampling temperature; 0 is greedy.
            stop: Strings that end the completion; they are not yielded.
            seed: Sampling seed (None: the backend's default).
            json_schema: When given, the output is constrained to JSON matching this schema.
            grammar: A GBNF grammar the output must follow. Backends that cannot enforce one
                (see :attr:`grammar_support`) ignore it, and the caller validates the output.

        Yields:
            Text deltas whose concatenation is the completion.
        """

    def prompt_tokens_per_second(self) -> float | None:
        """Measured prompt-processing speed of this model here, or None when the backend cannot tell.

        The answer chain sizes its prompt with it (a target time to first token times this speed).
        """
        return None

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` for this model. The default over-estimates (3 characters per token)."""
        return (len(text) + 2) // 3

    def format_chat(self, messages: Sequence[Message]) -> ChatPrompt:
        """Render ``messages`` into a completion prompt.

        The default suits base models without a chat template: a system message and one user
        message become plain text (ending with ``Answer:`` unless the user text already ends with
        a cue such as ``Question:``), longer conversations a labelled transcript. Generation stops
        at a blank line, where base models start to ramble. Backends with a template override it.
        """
        from retrieval.llm.chat_formats import render_chat

        return render_chat("plain", messages)

    def generate(self, prompt: str, **options: Any) -> str:
        """The whole completion of ``prompt``; ``options`` as for :meth:`stream`."""
        return "".join(self.stream(prompt, **options))

    def chat_stream(
        self, messages: Sequence[Message], *, stop: Sequence[str] = (), **options: Any
    ) -> Iterator[str]:
        """Stream the assistant's reply to ``messages`` through the model's chat format."""
        rendered = self.format_chat(messages)
        yield from self.stream(rendered.prompt, stop=(*rendered.stop, *stop), **options)

    def chat(self, messages: Sequence[Message], **options: Any) -> str:
        """The assistant's whole reply to ``messages``."""
        return "".join(self.chat_stream(messages, **options))

    def complete_json(
        self, prompt: str, schema: Mapping[str, Any], *, max_tokens: int = 512, **options: Any
    ) -> dict[str, Any]:
        """Complete ``prompt`` with a JSON object constrained to ``schema`` and parse it.

        Raises:
            LLMError: The output is not a JSON object with the schema's required keys (a backend
                without grammar support, or a completion cut by ``max_tokens``).
        """
        options.setdefault("temperature", 0.0)
        text = self.generate(prompt, max_tokens=max_tokens, json_schema=schema, **options)
        return parse_json_object(text, schema)

    def as_langchain(self, **defaults: Any) -> LangChainLLM:
        """This model as a LangChain ``LLM``; ``defaults`` (max_tokens, temperature, seed) apply per call."""
        return LangChainLLM(llm=self, defaults=defaults)


def parse_json_object(text: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """Parse the JSON object in ``text`` and check the schema's required keys are present."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise LLMError(f"expected a JSON object, got {text[:200]!r}")
    try:
        value = json.loads(text[start : end + 1])
    except json.JSONDecodeError as e:
        raise LLMError(f"the model's JSON does not parse: {text[:200]!r}") from e
    if not isinstance(value, dict):
        raise LLMError(f"expected a JSON object, got {type(value).__name__}")
    missing = [key for key in schema.get("required", ()) if key not in value]
    if missing:
        raise LLMError(f"the model's JSON lacks required keys {missing}: {text[:200]!r}")
    return value


def _check_messages(messages: Sequence[Message]) -> None:
    if not messages:
        raise ValueError("messages is empty")
    for message in messages:
        if message.get("role") not in _ROLES or not isinstance(message.get("content"), str):
            raise ValueError(f"bad chat message {message!r}: needs role in {_ROLES} and str content")


class LangChainLLM(LangChainBaseLLM):
    """Adapter that makes a citewise :class:`LLM` a LangChain ``LLM`` (invoke, stream, batch)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llm: Any
    """The wrapped citewise :class:`LLM`."""
    defaults: dict[str, Any] = Field(default_factory=dict)
    """Generation options applied to every call unless the call overrides them."""

    @property
    def _llm_type(self) -> str:
        return f"citewise-{type(self.llm).__name__}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"backend": type(self.llm).__name__, **self.defaults}

    def _options(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        options = {**self.defaults, **kwargs}
        if stop:
            options["stop"] = [*options.get("stop", ()), *stop]
        return options

    def _call(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        return "".join(chunk.text for chunk in self._stream(prompt, stop, run_manager, **kwargs))

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        for delta in self.llm.stream(prompt, **self._options(stop, kwargs)):
            chunk = GenerationChunk(text=delta)
            if run_manager is not None:
                run_manager.on_llm_new_token(delta, chunk=chunk)
            yield chunk

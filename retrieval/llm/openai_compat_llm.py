"""An OpenAI-compatible HTTP endpoint (llama.cpp server, Ollama, vLLM) as an :class:`LLM`.

Only the standard library is used: ``urllib`` for requests and a small server-sent-events reader
for streaming. Plain prompts go to ``/completions``; chats go to ``/chat/completions`` so the
server applies its model's own chat template.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from retrieval.llm.base import LLM, LLMError, LLMUnavailableError, Message, _check_messages

logger = logging.getLogger(__name__)


class OpenAICompatLLM(LLM):
    """A model served over the OpenAI HTTP API.

    Args:
        base_url: The API root, e.g. ``http://127.0.0.1:8080/v1`` (llama.cpp server) or
            ``http://127.0.0.1:11434/v1`` (Ollama).
        model_name: The ``model`` field sent with each request.
        api_key: Sent as a bearer token when not empty.
        n_ctx: The served model's context window (the API does not report it).
        seed: Default sampling seed.
        timeout_s: Socket timeout per request.
        structured_output: What the server enforces: ``gbnf`` (llama.cpp server: GBNF grammars
            through the ``grammar`` field, JSON schemas too), ``json_schema`` (OpenAI-style
            ``response_format`` only; the answer chain then asks for cited sentences as JSON) or
            ``none`` (nothing is enforced; grammars are ignored and the output is validated after).
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080/v1",
        *,
        model_name: str = "local",
        api_key: str = "",
        n_ctx: int = 4096,
        seed: int = 42,
        timeout_s: float = 120.0,
        structured_output: str = "none",
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if n_ctx < 16:
            raise ValueError(f"n_ctx must be at least 16, got {n_ctx}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if structured_output not in ("gbnf", "json_schema", "none"):
            raise ValueError(
                f"structured_output must be 'gbnf', 'json_schema' or 'none', got {structured_output!r}"
            )
        self.grammar_support = structured_output
        self.base_url = base_url.rstrip("/")
        self.model_name = model_name
        self._api_key = api_key
        self._n_ctx = n_ctx
        self._seed = seed
        self._timeout = timeout_s
        self._can_tokenize: bool | None = None

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

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
        body = self._body(max_tokens, temperature, stop, seed, json_schema, grammar)
        body["prompt"] = prompt
        for event in self._sse("/completions", body):
            text = event.get("choices", [{}])[0].get("text") or ""
            if text:
                yield text

    def chat_stream(
        self, messages: Sequence[Message], *, stop: Sequence[str] = (), **options: Any
    ) -> Iterator[str]:
        _check_messages(messages)
        body = self._body(
            options.get("max_tokens", 256),
            options.get("temperature", 0.0),
            stop,
            options.get("seed"),
            options.get("json_schema"),
            options.get("grammar"),
        )
        body["messages"] = [dict(m) for m in messages]
        for event in self._sse("/chat/completions", body):
            choice = event.get("choices", [{}])[0]
            delta = choice.get("delta") or choice.get("message") or {}
            text = delta.get("content") or ""
            if text:
                yield text

    def count_tokens(self, text: str) -> int:
        """Tokens by the server's ``/tokenize`` (llama.cpp server); the base estimate elsewhere."""
        if self._can_tokenize is not False:
            root = self.base_url.removesuffix("/v1")
            try:
                reply = self._post_json(f"{root}/tokenize", {"content": text, "add_special": True})
                self._can_tokenize = True
                return len(reply["tokens"])
            except (LLMError, KeyError, TypeError) as e:
                logger.info("endpoint has no /tokenize, estimating token counts: %s", e)
                self._can_tokenize = False
        return super().count_tokens(text)

    def _body(
        self,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str],
        seed: int | None,
        json_schema: Mapping[str, Any] | None,
        grammar: str | None = None,
    ) -> dict[str, Any]:
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be positive, got {max_tokens}")
        body: dict[str, Any] = {
            "model": self.model_name,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": self._seed if seed is None else seed,
            "stream": True,
        }
        if stop:
            body["stop"] = [s for s in stop if s]
        if json_schema is not None:
            # llama.cpp server reads json_schema; OpenAI-style servers read response_format.
            body["json_schema"] = dict(json_schema)
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": dict(json_schema), "strict": True},
            }
        if grammar is not None and self.grammar_support == "gbnf":
            body["grammar"] = grammar  # llama.cpp server; other servers would reject the field
        return body

    def _request(self, url: str, body: Mapping[str, Any]) -> urllib.request.Request:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return urllib.request.Request(url, data=json.dumps(body).encode("utf-8"), headers=headers)

    def _open(self, url: str, body: Mapping[str, Any]) -> Any:
        try:
            return urllib.request.urlopen(self._request(url, body), timeout=self._timeout)
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")[:300]
            raise LLMError(f"{url} answered HTTP {e.code}: {detail}") from e
        except (urllib.error.URLError, OSError) as e:
            raise LLMUnavailableError(f"cannot reach the LLM endpoint {url}: {e}") from e

    def _post_json(self, url: str, body: Mapping[str, Any]) -> Any:
        with self._open(url, body) as response:
            try:
                return json.loads(response.read().decode("utf-8"))
            except ValueError as e:
                raise LLMError(f"{url} did not return JSON") from e

    def _sse(self, path: str, body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """POST ``body`` and yield each server-sent event's JSON payload until ``[DONE]``."""
        url = f"{self.base_url}{path}"
        with self._open(url, body) as response:
            if "text/event-stream" not in response.headers.get("Content-Type", ""):
                yield json.loads(response.read().decode("utf-8"))  # a server that ignored stream=true
                return
            for raw in response:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                data = line[len("data:") :].strip()
                if data == "[DONE]":
                    return
                try:
                    event = json.loads(data)
                except ValueError as e:
                    raise LLMError(f"{url} sent a malformed event: {data[:200]!r}") from e
                if "error" in event:
                    raise LLMError(f"{url} reported an error: {event['error']}")
                yield event

"""OpenAICompatLLM against a small OpenAI-style HTTP server started in the test on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from retrieval.llm import LLMError, LLMUnavailableError
from retrieval.llm.openai_compat_llm import OpenAICompatLLM


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, dict(self.headers), body))
        if self.path == "/tokenize":
            self._json({"tokens": list(range(len(body["content"].split()) + 1))})
        elif self.path == "/v1/completions" and "FAIL" in body["prompt"]:
            self._json({"error": {"message": "model exploded"}}, status=500)
        elif self.path == "/v1/completions":
            self._sse([{"choices": [{"text": piece}]} for piece in ["Hello", ", ", "world"]])
        elif self.path == "/v1/chat/completions":
            pieces = [{"role": "assistant"}, {"content": "Chat"}, {"content": " reply"}]
            self._sse([{"choices": [{"delta": d}]} for d in pieces])
        else:
            self._json({"error": "not found"}, status=404)

    def _json(self, payload: Any, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: list[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for event in events:
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


class _Server(ThreadingHTTPServer):
    requests: list[tuple[str, dict[str, str], dict[str, Any]]]


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.requests = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def _llm(server: _Server, **kwargs: Any) -> OpenAICompatLLM:
    return OpenAICompatLLM(f"http://127.0.0.1:{server.server_address[1]}/v1", **kwargs)


def test_streams_completion_deltas_over_sse(server: _Server) -> None:
    llm = _llm(server, model_name="gemma", api_key="sekret", seed=7)
    deltas = list(llm.stream("Say hi", max_tokens=12, stop=["\n\n"]))
    assert deltas == ["Hello", ", ", "world"]
    path, headers, body = server.requests[0]
    assert path == "/v1/completions"
    assert headers["Authorization"] == "Bearer sekret"
    assert body == {
        "model": "gemma",
        "max_tokens": 12,
        "temperature": 0.0,
        "seed": 7,
        "stream": True,
        "stop": ["\n\n"],
        "prompt": "Say hi",
    }


def test_chat_goes_to_chat_endpoint_with_messages(server: _Server) -> None:
    llm = _llm(server)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    assert llm.chat(messages, max_tokens=5) == "Chat reply"
    path, _, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert body["messages"] == messages
    assert "Authorization" not in server.requests[0][1]


def test_json_schema_is_sent_for_constrained_output(server: _Server) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    llm = _llm(server)
    with pytest.raises(LLMError, match="expected a JSON object"):
        llm.complete_json("give json", schema)  # the fake server ignores the schema: "Hello, world"
    body = server.requests[0][2]
    assert body["json_schema"] == schema
    assert body["response_format"]["json_schema"]["schema"] == schema


def test_count_tokens_uses_server_tokenizer(server: _Server) -> None:
    llm = _llm(server)
    assert llm.count_tokens("one two three") == 4
    assert server.requests[0][0] == "/tokenize"


def test_http_error_is_reported_with_body(server: _Server) -> None:
    with pytest.raises(LLMError, match="HTTP 500.*model exploded"):
        list(_llm(server).stream("FAIL please"))


def test_unreachable_endpoint_is_unavailable() -> None:
    llm = OpenAICompatLLM("http://127.0.0.1:9/v1", timeout_s=2)
    with pytest.raises(LLMUnavailableError, match="cannot reach"):
        list(llm.stream("hello"))


def test_validates_arguments() -> None:
    with pytest.raises(ValueError, match="http"):
        OpenAICompatLLM("ftp://x")
    with pytest.raises(ValueError, match="n_ctx"):
        OpenAICompatLLM(n_ctx=1)

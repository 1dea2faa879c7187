"""Bad requests to a running `citewise serve`: each gets the right status and a JSON message, nothing else.

Runs on the shared ``api_server`` (a key is set; uploads are capped at 1 MB; the roots folder is
``<home>/roots``). Every case checks that nothing was stored or read.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api_server import BIN, Server, documents, error_of, server_env, start_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_oversized_upload_is_413_and_nothing_is_stored(api_server: Server) -> None:
    before = documents(api_server)
    big = b"Lighthouse keepers of Vesterholm.\n" * 40_000  # 1.3 MB, over the 1 MB limit
    with api_server.client() as client:
        response = client.post("/v1/documents", files=[("files", ("big.txt", big, "text/plain"))])
    assert response.status_code == 413
    err = error_of(response)
    assert "big.txt" in err["message"] and "1 MB" in err["message"] and err["param"] == "files"
    assert documents(api_server) == before
    assert not list((api_server.home / "uploads").rglob("big.txt"))


def test_body_streamed_past_the_cap_without_a_length_is_413(api_server: Server) -> None:
    def body() -> Iterator[bytes]:  # chunked: the server cannot know the size in advance
        yield b'{"query": "'
        for _ in range(64):
            yield b"x" * 32_768
        yield b'"}'

    with api_server.client() as client:
        response = client.post("/v1/search", content=body(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "limit" in error_of(response)["message"]


def test_unsupported_upload_type_is_415(api_server: Server) -> None:
    with api_server.client() as client:
        response = client.post(
            "/v1/documents", files=[("files", ("tool.exe", b"MZ\x90\x00", "application/x-msdownload"))]
        )
    assert response.status_code == 415
    assert "tool.exe" in error_of(response)["message"] and ".exe" in error_of(response)["message"]


@pytest.mark.parametrize("raw", ["../secret.md", "sub/../../secret.md", "{home}/roots/../secret.md"])
def test_dotdot_paths_are_400_and_nothing_is_read(api_server: Server, raw: str) -> None:
    secret = api_server.home / "secret.md"
    secret.write_text("# Secret\n\nThe vault code is 4711.\n")
    before = documents(api_server)
    with api_server.client() as client:
        response = client.post("/v1/documents/ingest", json={"paths": [raw.format(home=api_server.home)]})
    assert response.status_code == 400
    assert "'..'" in error_of(response)["message"] and error_of(response)["param"] == "paths"
    assert documents(api_server) == before


def test_paths_outside_the_roots_are_403_and_nothing_is_read(api_server: Server) -> None:
    secret = api_server.home / "secret.md"
    secret.write_text("# Secret\n\nThe vault code is 4711.\n")
    (api_server.roots / "escape").unlink(missing_ok=True)
    (api_server.roots / "escape").symlink_to(api_server.home)
    before = documents(api_server)
    with api_server.client() as client:
        for raw in (str(secret), "/etc/passwd", "escape/secret.md", str(api_server.roots / "escape")):
            response = client.post("/v1/documents/ingest", json={"paths": [str(api_server.roots), raw]})
            assert response.status_code == 403, (raw, response.text)
            assert "outside the allowed folders" in error_of(response)["message"]
        search = client.post("/v1/search", json={"query": "vault code 4711"}).json()["hits"]
    assert documents(api_server) == before  # not even the allowed first path was ingested
    assert all("4711" not in h["text"] for h in search)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/search", {}, "query"),
        ("/v1/search", {"query": "x", "k": "many"}, "k"),
        ("/v1/search", {"query": "x", "k": 0}, "k"),
        ("/v1/search", {"query": "x", "colour": "red"}, "colour"),
        ("/v1/ask", {"question": "   "}, "question"),
        ("/v1/ask", {"question": "x", "mode": "poetry"}, "mode"),
        ("/v1/ask", {"question": "x", "history": [{"question": "a"}]}, "history.0.answer"),
        ("/v1/documents/ingest", {"paths": []}, "paths"),
        ("/v1/chat/completions", {"model": "citewise"}, "messages"),
        ("/v1/chat/completions", {"model": "citewise", "messages": [{"content": "hi"}]}, "messages.0.role"),
        (
            "/v1/chat/completions",
            {"model": "citewise", "messages": [{"role": "system", "content": "x"}]},
            "messages",
        ),
        (
            "/v1/chat/completions",
            {"model": "citewise", "messages": [{"role": "user", "content": "x"}], "n": 2},
            "n",
        ),
    ],
)
def test_invalid_fields_are_422_naming_the_field(
    api_server: Server, path: str, body: dict, field: str
) -> None:  # type: ignore[type-arg]
    with api_server.client() as client:
        response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    err = error_of(response)
    assert err["param"] == field and err["message"].startswith(field)


def test_malformed_json_is_422_naming_the_body(api_server: Server) -> None:
    with api_server.client() as client:
        response = client.post(
            "/v1/search", content=b'{"query": "x",', headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    err = error_of(response)
    assert err["param"] == "body" and "not valid JSON" in err["message"]


def test_unknown_model_route_and_document_are_404(api_server: Server) -> None:
    with api_server.client() as client:
        model = client.post(
            "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        )
        route = client.get("/v1/nothing-here")
        doc = client.delete("/v1/documents/not-a-doc")
    assert model.status_code == 404 and "citewise" in error_of(model)["message"]
    assert route.status_code == 404 and error_of(route)["type"] == "not_found"
    assert doc.status_code == 404 and error_of(doc)["param"] == "doc_id"


def test_cors_is_off_unless_configured(api_server: Server) -> None:
    with api_server.client() as client:
        response = client.options(
            "/v1/search", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        simple = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in simple.headers


def test_refuses_to_listen_beyond_loopback_without_a_key(tmp_path: Path) -> None:
    env = server_env(tmp_path, key="", roots=tmp_path)
    done = subprocess.run(
        [str(BIN / "citewise"), "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "without an API key" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "index").exists() or not list((tmp_path / "index").iterdir())


def test_no_key_needed_on_loopback_when_none_is_set(tmp_path: Path) -> None:
    server = start_server(tmp_path, key="", GRAPH__ENABLED="false", LLM__ANSWER_MODE="extractive")
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            listed = client.get("/v1/documents")
            health = client.get("/health").json()
        assert listed.status_code == 200 and listed.json()["documents"] == []
        assert health["ready"] is True
    finally:
        assert server.stop() == 0, server.stderr()

"""The LLM contract's helpers, the fake, the registry and the LangChain adapter."""

from __future__ import annotations

import importlib.util

import pytest

from retrieval.llm import BACKENDS, LLMError, LLMUnavailableError, create_llm, make_json_completer
from retrieval.llm.base import parse_json_object
from retrieval.llm.fake_llm import FakeLLM

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "year": {"type": "integer"}},
    "required": ["name", "year"],
}


def test_fake_replies_in_order_and_records_prompts() -> None:
    llm = FakeLLM(["first reply", "second reply"])
    assert llm.generate("p1") == "first reply"
    assert list(llm.stream("p2", max_tokens=8)) == ["second ", "reply"]
    assert llm.prompts == ["p1", "p2"]
    assert llm.calls[1].options["max_tokens"] == 8
    with pytest.raises(LLMError, match="no reply left"):
        llm.generate("p3")


def test_fake_honours_stop_and_max_tokens() -> None:
    llm = FakeLLM(["one two\nUser: three", "a b c d e"])
    assert llm.generate("x", stop=["\nUser:"]) == "one two"
    assert llm.generate("x", max_tokens=2) == "a b "


def test_default_chat_format_for_base_models() -> None:
    llm = FakeLLM(["Paris"])
    rendered = llm.format_chat(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}]
    )
    assert rendered.prompt == "Be brief.\n\nQ?\nAnswer:"
    assert "\n\n" in rendered.stop
    cued = llm.format_chat([{"role": "user", "content": "Standalone question:"}])
    assert cued.prompt == "Standalone question:"
    transcript = llm.format_chat(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "?"},
        ]
    )
    assert transcript.prompt == "User: hi\n\nAssistant: hello\n\nUser: ?\n\nAssistant:"
    assert llm.chat([{"role": "user", "content": "Capital of France?"}]) == "Paris"
    assert llm.prompts == ["Capital of France?\nAnswer:"]


def test_chat_rejects_bad_messages() -> None:
    with pytest.raises(ValueError, match="role"):
        FakeLLM(["x"]).format_chat([{"role": "robot", "content": "hi"}])
    with pytest.raises(ValueError, match="empty"):
        FakeLLM(["x"]).format_chat([])


def test_complete_json_passes_schema_and_parses() -> None:
    llm = FakeLLM(['{"name": "Curie", "year": 1903}'])
    assert llm.complete_json("who?", SCHEMA) == {"name": "Curie", "year": 1903}
    assert llm.calls[0].options["json_schema"] == SCHEMA
    assert llm.calls[0].options["temperature"] == 0.0


def test_json_completer_hook() -> None:
    llm = FakeLLM(['noise {"name": "X", "year": 1} trailing'])
    complete = make_json_completer(llm, max_tokens=64)
    assert complete("p", SCHEMA) == {"name": "X", "year": 1}
    assert llm.calls[0].options["max_tokens"] == 64


@pytest.mark.parametrize(
    ("text", "message"),
    [("no json here", "expected a JSON object"), ('{"name": "X",', "expected a JSON object"),
     ('{"name": "X"}', "lacks required keys"), ('{"name": 1 2}', "does not parse")],
)  # fmt: skip
def test_parse_json_object_errors(text: str, message: str) -> None:
    with pytest.raises(LLMError, match=message):
        parse_json_object(text, SCHEMA)


def test_registry_unknown_name_lists_choices() -> None:
    with pytest.raises(ValueError) as info:
        create_llm("gpt5")
    for name in BACKENDS:
        assert name in str(info.value)


def test_registry_builds_lazily() -> None:
    llm = create_llm("fake", replies=["ok"])
    assert isinstance(llm, FakeLLM)
    assert llm.generate("x") == "ok"


def test_registry_missing_llama_cpp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name)
    )
    with pytest.raises(LLMUnavailableError, match=r"pip install 'citewise\[llm\]'"):
        create_llm("llamacpp", model_path="/nonexistent.gguf")


def test_llamacpp_rejects_missing_model_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LLMUnavailableError, match="not found"):
        create_llm("llamacpp", model_path=tmp_path / "missing.gguf")


def test_langchain_adapter_invoke_stream_and_stop() -> None:
    llm = FakeLLM(["alpha beta", "gamma delta\nQ: more"])
    lc = llm.as_langchain(max_tokens=16)
    assert lc.invoke("prompt one") == "alpha beta"
    assert list(lc.stream("prompt two", stop=["\nQ:"])) == ["gamma ", "delta"]
    assert llm.calls[1].options["stop"] == ("\nQ:",)
    assert llm.calls[0].options["max_tokens"] == 16

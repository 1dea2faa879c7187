"""Each chat format's exact prompt text, and which format a GGUF's metadata selects."""

from __future__ import annotations

import pytest

from retrieval.llm.chat_formats import detect_chat_format, fold_system, render_chat

SYS_USER = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]
MULTI = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Bye"},
]


def test_mistral_folds_the_system_text_into_the_first_instruction() -> None:
    chat = render_chat("mistral", SYS_USER)
    assert chat.prompt == "[INST] Be brief.\n\nWhat is 2+2? [/INST]"
    assert chat.stop == ("</s>", "[INST]")
    assert render_chat("mistral", MULTI).prompt == "[INST] Hi [/INST] Hello.</s>[INST] Bye [/INST]"


def test_phi2_uses_instruct_and_output() -> None:
    chat = render_chat("phi2", SYS_USER)
    assert chat.prompt == "Instruct: Be brief.\n\nWhat is 2+2?\nOutput:"
    assert "\nInstruct:" in chat.stop
    assert render_chat("phi2", MULTI).prompt == "Instruct: Hi\nOutput: Hello.\nInstruct: Bye\nOutput:"


def test_gemma_turns_with_system_folded_like_gemmas_own_template() -> None:
    chat = render_chat("gemma", SYS_USER)
    assert chat.prompt == (
        "<start_of_turn>user\nBe brief.\n\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n"
    )
    assert chat.stop == ("<end_of_turn>",)
    assert render_chat("gemma", MULTI).prompt == (
        "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
        "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"
    )


def test_llama3_keeps_a_system_header() -> None:
    chat = render_chat("llama3", SYS_USER)
    assert chat.prompt == (
        "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert chat.stop == ("<|eot_id|>",)


def test_chatml_keeps_a_system_turn() -> None:
    chat = render_chat("chatml", SYS_USER)
    assert chat.prompt == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert chat.stop == ("<|im_end|>",)


def test_plain_is_the_base_model_prompt() -> None:
    assert render_chat("plain", SYS_USER).prompt == "Be brief.\n\nWhat is 2+2?\nAnswer:"
    assert render_chat("plain", MULTI).prompt == "User: Hi\n\nAssistant: Hello.\n\nUser: Bye\n\nAssistant:"


def test_fold_system_without_a_user_message_makes_one() -> None:
    assert fold_system([{"role": "system", "content": "S"}]) == [{"role": "user", "content": "S"}]


def test_unknown_format_and_bad_messages_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown chat format 'vicuna'"):
        render_chat("vicuna", SYS_USER)
    with pytest.raises(ValueError, match="bad chat message"):
        render_chat("gemma", [{"role": "robot", "content": "x"}])


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"tokenizer.chat_template": "{{ messages }}", "general.architecture": "llama"}, "template"),
        ({"general.architecture": "phi2", "general.name": "Phi2"}, "phi2"),
        ({"general.architecture": "llama", "general.name": "mistralai_mistral-7b-instruct-v0.2"}, "mistral"),
        ({"general.architecture": "llama", "general.name": "Meta Llama 3 8B Instruct"}, "llama3"),
        ({"general.architecture": "gemma2", "general.name": "gemma-2-2b-it"}, "gemma"),
        ({"general.architecture": "qwen2", "general.name": "Qwen2.5 0.5B Instruct"}, "chatml"),
        # The bundled model: Gemma 3 270M, pretrained, no template.
        ({"general.architecture": "gemma3", "general.name": "Gemma 3 270m"}, "plain"),
        ({"general.architecture": "llama", "general.name": "Mistral 7B v0.1"}, "plain"),
    ],
)
def test_detect_chat_format(metadata: dict[str, str], expected: str) -> None:
    assert detect_chat_format(metadata) == expected

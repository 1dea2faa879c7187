"""Prompt formats of instruction-tuned model families, and which one a GGUF file wants.

A GGUF that carries ``tokenizer.chat_template`` is rendered by that template (``template``); files
without one (Phi-2's, many community conversions) and users who want a particular format pick
one of these by name. Each format is written out from its model card:

- ``mistral``: ``[INST] ... [/INST]`` (Mistral 7B Instruct); no system role, so the system text
  opens the first instruction.
- ``phi2``: ``Instruct: ...`` / ``Output:`` (Phi-2's QA format); no system role either.
- ``gemma``: ``<start_of_turn>user`` / ``<start_of_turn>model`` turns; the system text opens the
  first user turn, as Gemma's own template does.
- ``llama3``: ``<|start_header_id|>role<|end_header_id|>`` headers closed by ``<|eot_id|>``.
- ``chatml``: ``<|im_start|>role`` / ``<|im_end|>`` (Qwen, Hermes, many fine-tunes).
- ``plain``: a system text and a question as plain prose ending in ``Answer:`` (base models).

The beginning-of-sequence token is never part of the text: the tokenizer adds it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from retrieval.llm.base import ChatPrompt, Message, _check_messages

ChatFormatName = Literal["auto", "mistral", "phi2", "gemma", "llama3", "chatml", "template", "plain"]
CHAT_FORMATS: tuple[str, ...] = ("auto", "mistral", "phi2", "gemma", "llama3", "chatml", "template", "plain")


def fold_system(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Merge system messages into the first user message, for formats without a system role."""
    system = "\n\n".join(m["content"].strip() for m in messages if m["role"] == "system")
    rest = [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"]
    if system and rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    elif system:
        rest.insert(0, {"role": "user", "content": system})
    return rest


def _mistral(messages: Sequence[Message]) -> ChatPrompt:
    parts = []
    for m in fold_system(messages):
        if m["role"] == "user":
            parts.append(f"[INST] {m['content'].strip()} [/INST]")
        else:
            parts.append(f" {m['content'].strip()}</s>")
    return ChatPrompt(prompt="".join(parts), stop=("</s>", "[INST]"))


def _phi2(messages: Sequence[Message]) -> ChatPrompt:
    lines = []
    for m in fold_system(messages):
        label = "Instruct" if m["role"] == "user" else "Output"
        lines.append(f"{label}: {m['content'].strip()}")
    return ChatPrompt(prompt="\n".join([*lines, "Output:"]), stop=("<|endoftext|>", "\nInstruct:"))


def _gemma(messages: Sequence[Message]) -> ChatPrompt:
    turns = []
    for m in fold_system(messages):
        role = "user" if m["role"] == "user" else "model"
        turns.append(f"<start_of_turn>{role}\n{m['content'].strip()}<end_of_turn>\n")
    return ChatPrompt(prompt="".join([*turns, "<start_of_turn>model\n"]), stop=("<end_of_turn>",))


def _llama3(messages: Sequence[Message]) -> ChatPrompt:
    blocks = [
        f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content'].strip()}<|eot_id|>"
        for m in messages
    ]
    opener = "<|start_header_id|>assistant<|end_header_id|>\n\n"
    return ChatPrompt(prompt="".join([*blocks, opener]), stop=("<|eot_id|>",))


def _chatml(messages: Sequence[Message]) -> ChatPrompt:
    blocks = [f"<|im_start|>{m['role']}\n{m['content'].strip()}<|im_end|>\n" for m in messages]
    return ChatPrompt(prompt="".join([*blocks, "<|im_start|>assistant\n"]), stop=("<|im_end|>",))


def _plain(messages: Sequence[Message]) -> ChatPrompt:
    stop = ("\n\n", "\nQuestion:", "\nUser:")
    roles = [m["role"] for m in messages]
    if roles in (["user"], ["system", "user"]):
        text = "\n\n".join(m["content"].strip() for m in messages)
        return ChatPrompt(prompt=text if text.endswith(":") else f"{text}\nAnswer:", stop=stop)
    labels = {"system": "Instructions", "user": "User", "assistant": "Assistant"}
    lines = [f"{labels[m['role']]}: {m['content'].strip()}" for m in messages]
    return ChatPrompt(prompt="\n\n".join([*lines, "Assistant:"]), stop=stop)


_RENDERERS: dict[str, Callable[[Sequence[Message]], ChatPrompt]] = {
    "mistral": _mistral,
    "phi2": _phi2,
    "gemma": _gemma,
    "llama3": _llama3,
    "chatml": _chatml,
    "plain": _plain,
}


def render_chat(name: str, messages: Sequence[Message]) -> ChatPrompt:
    """Render ``messages`` in the named explicit format (not ``auto`` or ``template``).

    Raises:
        ValueError: Unknown format name, or malformed messages.
    """
    if name not in _RENDERERS:
        raise ValueError(f"unknown chat format {name!r}; choose one of {sorted(_RENDERERS)}")
    _check_messages(messages)
    return _RENDERERS[name](messages)


# Name fragments of instruction-tuned releases; a file without them is treated as a base model.
_TUNED = ("instruct", "-it", " it", "_it", "chat", "hermes", "qwen")


def detect_chat_format(metadata: Mapping[str, str]) -> str:
    """The format ``auto`` resolves to for a GGUF with this metadata.

    The file's own Jinja template wins (``template``). Without one: Phi-2 (``general.architecture``
    ``phi2``) uses its QA format; an instruction-tuned release (its ``general.name`` says instruct,
    it, chat...) of the Llama 3, Mistral or Gemma families uses that family's format, Qwen and
    Hermes ChatML; anything else is treated as a base model (``plain``), which is what the bundled
    Gemma 3 270M is (pretrained, no template).
    """
    if metadata.get("tokenizer.chat_template"):
        return "template"
    arch = str(metadata.get("general.architecture", "")).lower()
    name = str(metadata.get("general.name", "")).lower()
    if arch == "phi2" or "phi-2" in name or "phi2" in name:
        return "phi2"
    if not any(mark in name for mark in _TUNED):
        return "plain"
    if "qwen" in name or "hermes" in name or "chatml" in name:
        return "chatml"
    if "llama-3" in name or "llama3" in name or "llama 3" in name:
        return "llama3"
    if arch.startswith("gemma") or "gemma" in name:
        return "gemma"
    if "mistral" in name or "mixtral" in name:
        return "mistral"
    return "plain"

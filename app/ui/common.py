"""What every page shares: the one service per process, the conversation per browser session,
the answer options chosen in the sidebar, and turning errors into ``st.error`` messages.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import streamlit as st

from app.service import Citewise, Conversation

log = logging.getLogger(__name__)

RETRIEVAL_OPTIONS = ("k", "graph", "mmr", "mmr_lambda", "self_query", "compression")


def _settings_key() -> tuple[Any, ...]:
    """What the settings are read from: ``CITEWISE_*`` variables and the config file's state."""
    config = Path(os.environ.get("CITEWISE_CONFIG", "citewise.toml"))
    mtime = config.stat().st_mtime if config.is_file() else None
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CITEWISE_")))
    return env, str(config.resolve()), mtime


def _close(service: Citewise) -> None:
    service.close()


@st.cache_resource(show_spinner=False, max_entries=4, on_release=_close)
def _open_service(key: tuple[Any, ...]) -> Citewise:
    # ``key`` only separates cache entries: a changed environment or config file opens anew.
    from app.settings import Settings

    service = Citewise(Settings())
    log.info("service opened index_dir=%s", service.index_dir)
    return service


@st.cache_resource(show_spinner=False)
def _locks() -> dict[str, threading.Lock]:
    # One model answers at a time (llama.cpp is not re-entrant); one session writes at a time.
    return {"answer": threading.Lock(), "write": threading.Lock()}


def get_service() -> Citewise:
    """The process-wide service; on invalid settings, an error message and the page stops."""
    try:
        return _open_service(_settings_key())
    except Exception as e:  # pydantic ValidationError from the environment or citewise.toml
        log.warning("cannot open the service: %s", e)
        st.error(f"citewise cannot start with these settings: {e}")
        st.stop()


def lock(name: str) -> threading.Lock:
    """The process-wide lock ``answer`` or ``write``."""
    return _locks()[name]


def conversation(service: Citewise) -> Conversation:
    """This browser session's conversation (a new one when the service changed)."""
    current = st.session_state.get("conversation")
    if not isinstance(current, Conversation) or current.service is not service:
        current = service.conversation()
        st.session_state["conversation"] = current
    return current


def answer_options() -> tuple[str, dict[str, Any]]:
    """The answer mode and per-call retrieval options chosen in the sidebar."""
    state = st.session_state
    mode = str(state.get("opt_mode", "llm"))
    options = {name: state[f"opt_{name}"] for name in RETRIEVAL_OPTIONS if f"opt_{name}" in state}
    return mode, options


def known_errors() -> tuple[type[BaseException], ...]:
    """The errors a user can cause; shown with their message alone."""
    from app.service import ServiceError
    from app.uploads import UploadError
    from graph.base import GraphError
    from ingest.base import IngestError
    from retrieval.base import RetrievalError

    return ServiceError, IngestError, RetrievalError, GraphError, UploadError, ValueError, OSError


@contextmanager
def user_errors(action: str) -> Iterator[None]:
    """Show an exception raised inside as ``st.error`` (never a traceback) and carry on.

    Streamlit's own control flow (rerun, stop) derives from ``BaseException`` and passes through.
    """
    try:
        yield
    except known_errors() as e:
        log.info("%s failed: %s", action, e)
        st.error(f"{action} failed: {e}")
    except Exception as e:
        log.exception("%s failed unexpectedly", action)
        st.error(f"{action} failed unexpectedly ({type(e).__name__}: {e}). The server log has the details.")

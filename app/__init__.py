"""citewise as a library.

    from app import Citewise
    cw = Citewise.open("data/index")
    cw.ingest(["docs/"])
    print(cw.ask("What does the report conclude?").text)

Names resolve lazily so ``import app`` loads nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Citewise": "app.service",
    "Conversation": "app.service",
    "ServiceError": "app.service",
    "IndexBusyError": "app.service",
    "Settings": "app.settings",
    "Answer": "retrieval.chain",
    "Citation": "retrieval.chain",
    "Hit": "retrieval.base",
    "Chunk": "retrieval.base",
    "RetrievalResult": "retrieval.base",
    "IngestReport": "ingest.pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'app' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

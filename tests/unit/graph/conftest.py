"""Fixtures for graph unit tests: the real spaCy extractor (loaded once) and a text-unit type."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from graph.extract.spacy_extractor import SpacyGraphExtractor


@dataclass(frozen=True)
class Unit:
    """A minimal ``graph.base.TextUnit``."""

    id: str
    doc_id: str
    text: str
    page_start: int | None = None


def units(doc_id: str, *texts: str) -> list[Unit]:
    """One unit per text, on pages 1, 2, 3..."""
    return [Unit(f"{doc_id}:{i}", doc_id, t, i + 1) for i, t in enumerate(texts)]


@pytest.fixture(scope="session")
def extractor() -> SpacyGraphExtractor:
    """The real extractor on the bundled en_core_web_sm, loaded once per session."""
    ex = SpacyGraphExtractor()
    _ = ex.nlp
    return ex

"""Unsupported sentences are visible: the UI's markdown warning and the CLI's printed answer."""

from __future__ import annotations

from typing import Any

import pytest

from app import render
from app.ui.formatting import unsupported_markdown
from retrieval.base import Chunk, Hit
from retrieval.chain import Answer
from retrieval.claims import ClaimCheck

GOOD = ClaimCheck("Revenue was $13.51 billion [1].", (1,), True)
BAD = ClaimCheck("Net income was $7.1 billion [1].", (1,), False, ("$7.1 billion",))


def _answer(claims: tuple[ClaimCheck, ...]) -> Answer:
    chunk = Chunk(id="c", doc_id="d", text="t", source="/d.pdf", file_name="d.pdf", file_type="pdf")
    return Answer(
        question="q", standalone_question="q", text=" ".join(c.sentence for c in claims), citations=(),
        hits=(Hit(chunk=chunk, score=1.0),), refused=False, flagged=False, mode="llm", claims=claims,
    )  # fmt: skip


def test_ui_warns_once_per_unsupported_sentence_with_what_is_missing() -> None:
    assert unsupported_markdown([GOOD]) == ""
    text = unsupported_markdown([GOOD, BAD])
    assert text.count(":orange-badge[unsupported]") == 1
    assert "Net income was \\$7\\.1 billion" in text and "not in the source\\: \\$7\\.1 billion" in text
    replaced = ClaimCheck(BAD.sentence, (1,), False, BAD.missing, "Net income was $6,188 million [1]")
    assert "shown instead" in unsupported_markdown([replaced])


def test_cli_prints_the_unsupported_mark(capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    from rich.console import Console

    monkeypatch.setattr(render, "out", Console(width=200, force_terminal=False))
    render.print_answer(_answer((GOOD, BAD)))
    printed = capsys.readouterr().out
    assert "unsupported: Net income was $7.1 billion [1]." in printed
    assert "not in the source: $7.1 billion" in printed
    assert "unsupported: Revenue" not in printed
    assert _answer((GOOD, BAD)).to_dict()["claims"][1]["supported"] is False

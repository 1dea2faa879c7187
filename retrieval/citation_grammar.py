"""Constrained answers: every sentence ends in ``[n]`` for a real source, or the whole answer refuses.

Two forms of the same constraint, for the two kinds of backend:

- :func:`citation_gbnf`: a GBNF grammar for llama.cpp (in-process, or a llama.cpp server). An
  answer is one to ``max_sentences`` sentences; each is text without brackets, line breaks or
  a sentence end, then `` [n]`` (optionally a second ``[m]``) and a full stop, where n is one of
  the numbers 1..N of the sources in the prompt; or the answer is exactly the refusal sentence.
- :func:`citation_schema` and :func:`render_cited_json`: a JSON schema for servers that only offer
  OpenAI-style structured output (a list of ``{"text", "source"}`` with ``source`` limited to
  1..N, or ``{"refused": true}``), and how such a reply becomes the same cited text.

A backend that enforces neither is validated after generation (the chain's citation filter drops
out-of-range numbers and the claim check marks uncited sentences).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def _gbnf_literal(text: str) -> str:
    return json.dumps(text)  # GBNF string literals use JSON's escapes


def citation_gbnf(n_sources: int, refusal: str, *, max_sentences: int = 3) -> str:
    """The GBNF grammar of a cited answer over ``n_sources`` sources (see the module docstring).

    Sentence length is left to the token budget: a sentence cut by ``max_tokens`` before its
    citation is incomplete, and the claim check treats it as uncited.

    Raises:
        ValueError: ``n_sources`` or ``max_sentences`` is below 1.
    """
    if n_sources < 1:
        raise ValueError(f"a cited answer needs at least one source, got n_sources={n_sources}")
    if max_sentences < 1:
        raise ValueError(f"max_sentences must be at least 1, got {max_sentences}")
    numbers = " | ".join(_gbnf_literal(str(n)) for n in range(1, n_sources + 1))
    more = max_sentences - 1
    return "\n".join(
        [
            'root ::= " "? (refusal | answer)',
            f"refusal ::= {_gbnf_literal(refusal)}",
            f'answer ::= sentence (" " sentence){{0,{more}}}',
            'sentence ::= first rest " " cite cite? "."',
            "rest ::= char*",
            # A sentence starts with a letter, digit, quote or currency sign, never a space or mark.
            'first ::= [A-Za-z0-9"$(]',
            # No brackets or line breaks inside a sentence; "." "!" "?" only before a non-space
            # (13.5, U.S.A), so every sentence ends at its own citation.
            "char ::= [^\\[\\]\\n.!?] | [.!?] [^ \\n\\[\\]]",
            'cite ::= "[" num "]"',
            f"num ::= {numbers}",
        ]
    )


def citation_schema(n_sources: int) -> dict[str, Any]:
    """JSON schema of a cited answer for OpenAI-style structured output over ``n_sources`` sources."""
    if n_sources < 1:
        raise ValueError(f"a cited answer needs at least one source, got n_sources={n_sources}")
    return {
        "type": "object",
        "properties": {
            "refused": {"type": "boolean"},
            "sentences": {
                "type": "array",
                "maxItems": 3,
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string"},
                        "source": {"type": "integer", "enum": list(range(1, n_sources + 1))},
                    },
                    "required": ["text", "source"],
                },
            },
        },
        "required": ["refused", "sentences"],
    }


def render_cited_json(reply: Mapping[str, Any], n_sources: int, refusal: str) -> str:
    """The text of a :func:`citation_schema` reply: ``sentence [n].`` per item, or the refusal.

    Items whose source is out of range (a server that did not enforce the schema) or whose text is
    empty are dropped; nothing left means the refusal.
    """
    if reply.get("refused") is True:
        return refusal
    pieces = []
    for item in reply.get("sentences") or ():
        if not isinstance(item, Mapping):
            continue
        text, source = str(item.get("text", "")).strip(), item.get("source")
        if not text or not isinstance(source, int) or not 1 <= source <= n_sources:
            continue
        pieces.append(f"{text.rstrip('.!? ')} [{source}].")
    return " ".join(pieces) or refusal

"""Self-query: split a question into its content and a metadata filter.

The filter is expressed in LangChain's structured-query IR (``StructuredQuery`` of ``Comparison`` /
``Operation``), exactly what ``SelfQueryRetriever`` works with, and translated to our stores'
Mongo-style filter dict by :class:`MongoFilterTranslator`. Two constructors produce the IR: a
rule-based parser for the common phrasings (no LLM), and an LLM one that takes a
``complete_json(prompt, schema) -> dict`` callable (grammar-constrained JSON from the answer
package's LLM). ``MongoFilterTranslator`` also plugs into LangChain's own
``SelfQueryRetriever(structured_query_translator=...)`` over our ``FaissVectorStore``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from langchain_core.structured_query import (
    Comparator,
    Comparison,
    FilterDirective,
    Operation,
    Operator,
    StructuredQuery,
    Visitor,
)

from retrieval.base import RetrievalError

logger = logging.getLogger(__name__)

CompleteJSON = Callable[[str, dict[str, Any]], dict[str, Any]]

ATTRIBUTES: dict[str, str] = {
    "file_name": "file name with extension, e.g. 'harbour-survey-2019.pdf'",
    "file_type": "file type without dot: pdf, docx, md, txt, html",
    "title": "document title",
    "page_start": "first page of the passage (integer, 1-based)",
    "page_end": "last page of the passage (integer)",
    "section": "heading path of the passage",
    "created": "document creation date, ISO 8601 string",
    "modified": "document modification date, ISO 8601 string",
}

_OPS: dict[Comparator, str] = {
    Comparator.EQ: "$eq",
    Comparator.NE: "$ne",
    Comparator.GT: "$gt",
    Comparator.GTE: "$gte",
    Comparator.LT: "$lt",
    Comparator.LTE: "$lte",
    Comparator.CONTAIN: "$contains",
    Comparator.LIKE: "$contains",
    Comparator.IN: "$in",
    Comparator.NIN: "$nin",
}


class QueryConstructionError(RetrievalError):
    """The LLM query constructor failed or returned something unusable."""


class MongoFilterTranslator(Visitor):
    """Structured-query IR -> the Mongo-style filter of ``retrieval.vectorstores.filters``."""

    allowed_comparators = tuple(_OPS)
    allowed_operators = (Operator.AND, Operator.OR, Operator.NOT)

    def visit_operation(self, operation: Operation) -> dict[str, Any]:
        """``and``/``or`` -> ``{"$and": [...]}``; ``not`` -> ``{"$not": ...}``."""
        self._validate_func(operation.operator)
        args = [arg.accept(self) for arg in operation.arguments]
        if operation.operator == Operator.NOT:
            return {"$not": args[0] if len(args) == 1 else {"$and": args}}
        if len(args) == 1:
            return args[0]
        return {f"${operation.operator.value}": args}

    def visit_comparison(self, comparison: Comparison) -> dict[str, Any]:
        """``Comparison(gte, "page_start", 3)`` -> ``{"page_start": {"$gte": 3}}``."""
        self._validate_func(comparison.comparator)
        return {comparison.attribute: {_OPS[comparison.comparator]: comparison.value}}

    def visit_structured_query(self, structured_query: StructuredQuery) -> tuple[str, dict[str, Any]]:
        """``(query, {"filter": {...}})``, or ``(query, {})`` without a filter (LangChain's shape)."""
        if structured_query.filter is None:
            return structured_query.query, {}
        return structured_query.query, {"filter": structured_query.filter.accept(self)}


def to_filter(directive: FilterDirective | None) -> dict[str, Any] | None:
    """Translate an IR filter (or None) to a Mongo-style dict (or None)."""
    return None if directive is None else directive.accept(MongoFilterTranslator())


def _and(parts: Sequence[FilterDirective]) -> FilterDirective | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Operation(operator=Operator.AND, arguments=list(parts))


def page_filter(first: int, last: int | None = None) -> FilterDirective:
    """Passages overlapping pages ``first..last`` (one page when ``last`` is None)."""
    last = first if last is None else last
    if last < first:
        first, last = last, first
    # A one-page chunk may leave page_end unset: then its page_start alone must be in range.
    single_page = Operation(
        operator=Operator.AND,
        arguments=[
            Comparison(comparator=Comparator.EQ, attribute="page_end", value=None),
            Comparison(comparator=Comparator.GTE, attribute="page_start", value=first),
        ],
    )
    return Operation(
        operator=Operator.AND,
        arguments=[
            Comparison(comparator=Comparator.LTE, attribute="page_start", value=last),
            Operation(
                operator=Operator.OR,
                arguments=[
                    Comparison(comparator=Comparator.GTE, attribute="page_end", value=first),
                    single_page,
                ],
            ),
        ],
    )


@dataclass(frozen=True)
class ParsedQuery:
    """A question split into content and filter, with the IR and how it was made."""

    query: str
    structured: StructuredQuery
    filter: dict[str, Any] | None
    method: str
    notes: tuple[str, ...] = ()


_FILE_TYPES: list[tuple[str, str]] = [
    (r"pdfs?(?:\s+(?:files?|documents?|docs?))?", "pdf"),
    (r"word\s+(?:documents?|files?|docs?)|docx(?:\s+files?)?", "docx"),
    (r"markdown(?:\s+(?:files?|notes?|documents?))?|md\s+files?", "md"),
    (r"(?:plain\s+)?te?xt\s+files?|txt\s+files?", "txt"),
    (r"html(?:\s+(?:files?|pages?))?|web\s+pages?", "html"),
]
_EXT = r"(?:pdf|docx|md|markdown|txt|html?)"
_LEAD = r"\b(?:in|from|within|inside|across|among)\s+"
_TYPE_RE = [
    (re.compile(_LEAD + r"(?:the\s+|my\s+|all\s+(?:the\s+|my\s+)?)?(?:" + pat + r")\b", re.I), ft)
    for pat, ft in _FILE_TYPES
]
_FILE_QUOTED_RE = re.compile(
    _LEAD + r"(?:the\s+)?(?:file\s+|document\s+)?[\"'“‘](?P<name>[^\"'”’]+?\." + _EXT + r")[\"'”’]", re.I
)
_FILE_BARE_RE = re.compile(
    _LEAD + r"(?:the\s+)?(?:file\s+|document\s+)?(?P<name>[\w\-.]+\." + _EXT + r")\b", re.I
)
_NAMED_DOC_RE = re.compile(
    _LEAD + r"the\s+(?P<name>[\w][\w .&\-]*?)\s+(?:report|filing|10-?[qk]|document|file|paper|deck|memo)s?\b",
    re.I,
)
_PAGE_RANGE_RE = re.compile(
    r"\b(?:on|in|from|between)\s+(?:pages|pp\.)\s*(?P<a>\d+)\s*(?:-|–|to|and|through)\s*(?P<b>\d+)\b", re.I
)
_PAGE_RE = re.compile(r"\b(?:on|at|from|in)\s+(?:page|p\.)\s*(?P<a>\d+)\b", re.I)
_SECTION_AFTER_RE = re.compile(
    r"\b(?:in|under|within)\s+(?:the\s+)?section\s+[\"'“]?(?P<s>[^\"'”,?;]+?)[\"'”]?(?=\s*(?:[,?;]|$))", re.I
)
_SECTION_BEFORE_RE = re.compile(
    r"\b(?:in|under|within)\s+the\s+[\"'“]?(?P<s>[\w][\w &\-]*?)[\"'”]?\s+section\b", re.I
)
_DATE_RE = re.compile(r"\b(?P<op>after|since|before)\s+(?P<y>(?:19|20)\d{2})\b", re.I)


class RuleBasedQueryParser:
    """Reads metadata filters out of common phrasings, without an LLM.

    Handles "in the PDFs", "in report.pdf", "in the 2023 Q3 NVDA report", "on page 12",
    "on pages 3-5", "in the section Risk Factors", "in the Risk Factors section", "after 2020",
    "before 2022", "since 2021". Filter phrases are removed from the content query.

    Args:
        known_files: Returns the file names in the index; lets "in the X report" resolve to an exact
            file (and be ignored when no file matches). Without it, X becomes a substring filter.
    """

    def __init__(self, known_files: Callable[[], Iterable[str]] | None = None) -> None:
        self.known_files = known_files

    def parse(self, question: str) -> StructuredQuery:
        """The question as a ``StructuredQuery`` (``filter`` None when no phrase matched)."""
        text = question
        parts: list[FilterDirective] = []
        for rule in (
            self._file_names,
            self._file_types,
            self._named_docs,
            self._pages,
            self._sections,
            self._dates,
        ):
            text, found = rule(text)
            parts.extend(found)
        return StructuredQuery(query=_tidy(text) or question.strip(), filter=_and(parts))

    def _files(self) -> list[str]:
        return sorted(set(self.known_files())) if self.known_files is not None else []

    def _file_names(self, text: str) -> tuple[str, list[FilterDirective]]:
        found: list[FilterDirective] = []
        for regex in (_FILE_QUOTED_RE, _FILE_BARE_RE):
            for m in list(regex.finditer(text)):
                name = m.group("name").strip()
                exact = [f for f in self._files() if f.lower() == name.lower()]
                found.append(
                    Comparison(
                        comparator=Comparator.EQ, attribute="file_name", value=exact[0] if exact else name
                    )
                )
            text = regex.sub(" ", text)
        return text, found

    def _file_types(self, text: str) -> tuple[str, list[FilterDirective]]:
        types = [ft for regex, ft in _TYPE_RE if regex.search(text)]
        for regex, _ in _TYPE_RE:
            text = regex.sub(" ", text)
        if not types:
            return text, []
        if len(types) == 1:
            return text, [Comparison(comparator=Comparator.EQ, attribute="file_type", value=types[0])]
        return text, [Comparison(comparator=Comparator.IN, attribute="file_type", value=types)]

    def _named_docs(self, text: str) -> tuple[str, list[FilterDirective]]:
        m = _NAMED_DOC_RE.search(text)
        if m is None:
            return text, []
        name = m.group("name").strip()
        files = self._files()
        if not files:
            directive: FilterDirective = Comparison(
                comparator=Comparator.CONTAIN, attribute="file_name", value=name
            )
        else:
            matched = _match_files(name, files)
            if not matched:
                return text, []
            directive = (
                Comparison(comparator=Comparator.EQ, attribute="file_name", value=matched[0])
                if len(matched) == 1
                else Comparison(comparator=Comparator.IN, attribute="file_name", value=matched)
            )
        return text[: m.start()] + " " + text[m.end() :], [directive]

    def _pages(self, text: str) -> tuple[str, list[FilterDirective]]:
        m = _PAGE_RANGE_RE.search(text)
        if m is not None:
            found = page_filter(int(m.group("a")), int(m.group("b")))
        else:
            m = _PAGE_RE.search(text)
            if m is None:
                return text, []
            found = page_filter(int(m.group("a")))
        return text[: m.start()] + " " + text[m.end() :], [found]

    def _sections(self, text: str) -> tuple[str, list[FilterDirective]]:
        for regex in (_SECTION_AFTER_RE, _SECTION_BEFORE_RE):
            m = regex.search(text)
            if m is not None:
                found = Comparison(
                    comparator=Comparator.CONTAIN, attribute="section", value=m.group("s").strip()
                )
                return text[: m.start()] + " " + text[m.end() :], [found]
        return text, []

    def _dates(self, text: str) -> tuple[str, list[FilterDirective]]:
        found: list[FilterDirective] = []
        for m in _DATE_RE.finditer(text):
            op, year = m.group("op").lower(), int(m.group("y"))
            if op == "after":
                found.append(Comparison(comparator=Comparator.GTE, attribute="created", value=f"{year + 1}"))
            elif op == "since":
                found.append(Comparison(comparator=Comparator.GTE, attribute="created", value=f"{year}"))
            else:
                found.append(Comparison(comparator=Comparator.LT, attribute="created", value=f"{year}"))
        return _DATE_RE.sub(" ", text), found


def _norm_words(s: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", s.lower())


def _match_files(name: str, files: Sequence[str]) -> list[str]:
    """Files whose stem equals ``name`` word for word, else whose stem contains all its words in order."""
    want = _norm_words(name)
    if not want:
        return []
    stems = {f: _norm_words(PurePath(f).stem) for f in files}
    exact = [f for f, words in stems.items() if words == want]
    if exact:
        return exact
    joined = " ".join(want)
    return [f for f, words in stems.items() if f" {joined} " in f" {' '.join(words)} "]


def _tidy(text: str) -> str:
    text = re.sub(r"\s+([?.!,;:])", r"\1", text)
    text = re.sub(r"\s{2,}", " ", text).strip()
    return re.sub(r"^[,;:]\s*|\s*[,;:]$", "", text)


_LLM_PROMPT = """You turn a question about a document collection into a search query and metadata filters.
Attributes you may filter on:
{attributes}
Comparators: eq, ne, gt, gte, lt, lte, contain, in, nin.
Only add a filter when the question explicitly restricts which documents, pages, sections or dates
to search. "query" is the question without the filter words.
{files}
Question: {question}
"""


class LLMQueryConstructor:
    """Builds the structured query with an LLM that answers in schema-constrained JSON.

    Args:
        complete_json: ``complete_json(prompt, schema) -> dict``; must return JSON valid for ``schema``.
        known_files: Optional file names shown to the LLM so it can name one exactly.
        attributes: Attribute name -> description offered to the LLM.
    """

    def __init__(
        self,
        complete_json: CompleteJSON,
        *,
        known_files: Callable[[], Iterable[str]] | None = None,
        attributes: dict[str, str] | None = None,
    ) -> None:
        self.complete_json = complete_json
        self.known_files = known_files
        self.attributes = dict(attributes or ATTRIBUTES)

    def schema(self) -> dict[str, Any]:
        """The JSON schema the LLM output is constrained by."""
        comparators = [c.value for c in _OPS]
        item = {
            "type": "object",
            "properties": {
                "attribute": {"type": "string", "enum": list(self.attributes)},
                "comparator": {"type": "string", "enum": comparators},
                "value": {"type": ["string", "integer", "array"]},
            },
            "required": ["attribute", "comparator", "value"],
        }
        return {
            "type": "object",
            "properties": {"query": {"type": "string"}, "filters": {"type": "array", "items": item}},
            "required": ["query", "filters"],
        }

    def parse(self, question: str) -> StructuredQuery:
        """Ask the LLM; invalid filter items are dropped, an unusable reply raises."""
        attrs = "\n".join(f"- {name}: {desc}" for name, desc in self.attributes.items())
        files = sorted(set(self.known_files()))[:50] if self.known_files is not None else []
        listing = ("Files in the collection: " + "; ".join(files)) if files else ""
        prompt = _LLM_PROMPT.format(attributes=attrs, files=listing, question=question)
        try:
            reply = self.complete_json(prompt, self.schema())
        except Exception as e:  # the LLM backend's own errors vary; wrap them all
            raise QueryConstructionError(f"LLM query construction failed: {e}") from e
        if not isinstance(reply, dict) or not isinstance(reply.get("query", ""), str):
            raise QueryConstructionError(f"LLM query construction returned {reply!r}")
        parts = [d for d in (self._directive(item) for item in reply.get("filters") or []) if d is not None]
        return StructuredQuery(query=(reply.get("query") or question).strip(), filter=_and(parts))

    def _directive(self, item: Any) -> FilterDirective | None:
        try:
            attribute, comparator = str(item["attribute"]), Comparator(str(item["comparator"]))
            value = item["value"]
        except (KeyError, TypeError, ValueError):
            logger.warning("self-query dropped malformed filter item=%r", item)
            return None
        if attribute not in self.attributes or comparator not in _OPS:
            logger.warning("self-query dropped filter on attribute=%s comparator=%s", attribute, comparator)
            return None
        if attribute in ("page_start", "page_end") and isinstance(value, str) and value.isdigit():
            value = int(value)
        return Comparison(comparator=comparator, attribute=attribute, value=value)


class SelfQueryParser:
    """Question -> content query + Mongo-style filter, by LLM when configured, else by rules.

    Args:
        known_files: Returns the file names currently indexed.
        complete_json: The LLM's JSON completion callable; enables the LLM constructor.
        use_llm: Prefer the LLM constructor (falls back to rules when it fails).
    """

    def __init__(
        self,
        *,
        known_files: Callable[[], Iterable[str]] | None = None,
        complete_json: CompleteJSON | None = None,
        use_llm: bool = False,
    ) -> None:
        if use_llm and complete_json is None:
            raise ValueError("use_llm=True needs a complete_json callable")
        self.rules = RuleBasedQueryParser(known_files)
        self.llm = LLMQueryConstructor(complete_json, known_files=known_files) if complete_json else None
        self.use_llm = use_llm

    def parse(self, question: str, *, use_llm: bool | None = None) -> ParsedQuery:
        """Split ``question``; ``use_llm`` overrides the constructor choice for this call."""
        notes: list[str] = []
        if (self.use_llm if use_llm is None else use_llm) and self.llm is not None:
            try:
                sq = self.llm.parse(question)
                return ParsedQuery(sq.query, sq, to_filter(sq.filter), "llm")
            except QueryConstructionError as e:
                logger.warning("self-query LLM failed, using rules: %s", e)
                notes.append(f"LLM query construction failed ({e}); used the rule-based parser")
        sq = self.rules.parse(question)
        return ParsedQuery(sq.query, sq, to_filter(sq.filter), "rules", tuple(notes))

"""The doctor's graph part: each document's graph against the status the docstore records for it.

The pipeline commits a document with its graph ``pending`` and marks it ``done`` once the graph is
written (``off`` when it was ingested without one; see :mod:`ingest.graph_step`). So a document
whose extraction never happened is known from the docstore alone, for every graph backend, and is
never confused with one that has a graph without entities. Indexes written before the status was
kept are read off the older marks: ``graph_notes`` meant a graph was confirmed, and a note
``graph extraction failed: ...`` in it meant it was not built (the graph worker then stored an
empty graph as if done, issue 21).

Graphs are rebuilt from the stored child chunks (nothing is parsed or embedded again), in the
graph worker when the settings would use one for an ingest of that much text, so a document that
crashes or hangs the extractor costs that document only, here as in an ingest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from retrieval.vectorstores.docstore import GRAPH_DONE, GRAPH_OFF, GRAPH_PENDING, DocumentRecord

if TYPE_CHECKING:
    from app.doctor import Issue
    from app.service import Citewise
    from retrieval.base import Chunk
    from retrieval.vectorstores.docstore import SQLiteDocStore

log = logging.getLogger(__name__)

GRAPH_MARK = "graph_notes"  # where older versions confirmed a graph
LEGACY_FAILED = "graph extraction failed"


def graph_status(record: DocumentRecord) -> tuple[str | None, str]:
    """``(status, reason)`` of a document's graph; status None when an old index recorded nothing."""
    data = record.extra_data()
    status = record.graph_status
    if status is not None:
        return status, str(data.get("graph_reason", ""))
    notes = data.get(GRAPH_MARK)
    if notes is None:
        return None, ""
    failed = [str(n) for n in notes if str(n).startswith(LEGACY_FAILED)]
    return (GRAPH_PENDING, failed[0]) if failed else (GRAPH_DONE, "")


def graph_issue(
    record: DocumentRecord,
    mentioned: set[str] | None,
    children: set[str],
    session: dict[str, Any] | None,
    *,
    graph_on: bool,
    listed: bool = True,
) -> Issue | None:
    """What is wrong with one document's graph, if anything.

    Args:
        record: The document as the docstore has it.
        mentioned: Chunk ids its graph mentions (None: the graph store has no graph for it).
        children: Its child chunk ids.
        session: The interrupted write session, if any (decides for documents without a status).
        graph_on: Whether the index builds graphs.
        listed: False when the graph backend cannot list documents (only the status is checked).
    """
    from app.doctor import Issue

    doc_id = record.doc_id
    status, reason = graph_status(record)
    if status is None:
        return _unmarked_issue(record, mentioned, children, session, graph_on=graph_on) if listed else None
    if listed and mentioned is not None and status != GRAPH_OFF and not mentioned <= children:
        return Issue("graph", "stale_mentions", "mentions point at chunks the document no longer has", doc_id)
    if status == GRAPH_PENDING:
        if listed and mentioned:  # a graph was written, and the process died before confirming it
            return Issue(
                "graph", "unconfirmed_graph", "graph written but never confirmed in the docstore", doc_id
            )
        why = f" ({reason})" if reason else " (its extraction never finished)"
        return Issue("graph", "pending_graph", f"the graph was never built{why}", doc_id)
    if not listed:
        return None
    if status == GRAPH_OFF:
        if mentioned is None:
            return None
        return Issue("graph", "unwanted_graph", "a graph for a document ingested without one", doc_id)
    if mentioned is None:
        return Issue("graph", "missing_graph", "the docstore records a graph the store lacks", doc_id)
    return None


def _unmarked_issue(
    record: DocumentRecord,
    mentioned: set[str] | None,
    children: set[str],
    session: dict[str, Any] | None,
    *,
    graph_on: bool,
) -> Issue | None:
    """A document of an older index without any graph mark: the interrupted session decides."""
    from app.doctor import Issue

    doc_id = record.doc_id
    in_session = session is not None and record.ingested_at >= float(session.get("started_at", 0))
    wanted = bool(session.get("graph", graph_on)) if session is not None and in_session else graph_on
    if mentioned is not None and not mentioned <= children:
        return Issue("graph", "stale_mentions", "mentions point at chunks the document no longer has", doc_id)
    if mentioned is not None:
        kind = "unconfirmed_graph" if wanted else "unwanted_graph"
        return Issue("graph", kind, "graph written but never confirmed in the docstore", doc_id)
    if wanted and in_session:
        return Issue("graph", "pending_graph", "the interrupted session never built this graph", doc_id)
    return None


class GraphRebuilder:
    """Builds documents' graphs again from their stored child chunks and records their status.

    Args:
        service: The open service (its graph store and settings; the write lock held).
        docstore: The docstore to read chunks from and record statuses in.
    """

    def __init__(self, service: Citewise, docstore: SQLiteDocStore) -> None:
        self.service, self.docstore = service, docstore
        self._extractor: Any = None

    @property
    def extractor(self) -> Any:
        """The extractor the settings build (loaded once)."""
        if self._extractor is None:
            from app import container

            service = self.service
            self._extractor = container.build_extractor(service.settings, lambda: service.llm)
        return self._extractor

    def rebuild(self, doc_ids: Sequence[str]) -> list[str]:
        """Re-extract and write the graphs of ``doc_ids``; one line per document saying what happened.

        The worker serves when the settings would use it for an ingest of the same size (the
        stored text of these documents against ``graph.worker_min_mb``).
        """
        from ingest.graph_step import GraphStep, open_worker

        chunks = {d: list(self.docstore.iter_chunks("child", doc_id=d)) for d in doc_ids}
        if not chunks:
            return []
        settings = self.service.settings.graph
        size = sum(len(c.text.encode()) for children in chunks.values() for c in children)
        extractor = self.extractor if settings.worker else None
        with open_worker(extractor, size, min_bytes=int(settings.worker_min_mb * 2**20)) as worker:
            step = GraphStep(
                extractor=self.extractor,
                graph_store=self.service.graph_store,
                docstore=self.docstore,
                build=True,
                worker=worker,
                add_time=lambda stage, seconds: None,
            )
            return [self._rebuild_one(step, doc_id, children) for doc_id, children in chunks.items()]

    def _rebuild_one(self, step: Any, doc_id: str, children: list[Chunk]) -> str:
        written = step.write(doc_id, children, in_worker=step.submit(doc_id, children))
        if written.pending is not None:
            return f"graph: could not build {doc_id}, still pending: {written.pending}"
        return f"graph: re-extracted {doc_id} ({written.entities} entities)"

    def wanted(self) -> list[str]:
        """Documents that should have a graph (done or pending; older indexes: confirmed ones)."""
        return [
            r.doc_id for r in self.docstore.documents() if graph_status(r)[0] in (GRAPH_DONE, GRAPH_PENDING)
        ]

"""The facade every front end calls: the CLI, the Streamlit UI and library users.

from app import Citewise
cw = Citewise.open("data/index")
cw.ingest(["~/papers"])
answer = cw.ask("Who founded the institute?")
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from app import container
from app.concurrency import ReadWriteLock
from app.settings import Settings

if TYPE_CHECKING:
    from app.doctor import DoctorReport
    from graph.base import GraphStore
    from ingest.pipeline import IngestPipeline, IngestReport, ProgressFn
    from retrieval.base import Embedder, RetrievalResult
    from retrieval.bm25_store import BM25Index
    from retrieval.chain import Answer, AnswerChain, ChainEvent
    from retrieval.llm.base import LLM
    from retrieval.vectorstores.docstore import DocumentRecord
    from retrieval.vectorstores.faiss_store import FaissVectorStore

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A request the service cannot carry out (bad path, index busy, nothing indexed)."""


class IndexBusyError(ServiceError):
    """Another process holds the index's write lock."""


class Citewise:
    """One index: ingest into it, search it, ask it, forget from it.

    Components load on first use, so opening is instant and ``search`` never loads the LLM.
    One instance may be shared by threads (the HTTP API, a folder watcher): searches and answers
    run side by side, while an ingest or forget waits for them and holds them back until it is done.

    Args:
        settings: Configuration; None reads the environment and ``citewise.toml``.
        read_only: Open for questions only (no ingest or forget): safe while another process ingests.
        lock_timeout: Seconds a write waits for another writer (0: fail at once with a clear error).
    """

    def __init__(
        self, settings: Settings | None = None, *, read_only: bool = False, lock_timeout: float = 0
    ) -> None:
        self.settings = settings or Settings()
        self.read_only = read_only
        self.lock_timeout = lock_timeout
        self.index_dir = container.index_path(self.settings)
        self._llm_lock = threading.Lock()
        self.gate = ReadWriteLock()
        self._seen_manifest: tuple[int, int, int] | None = None

    @classmethod
    def open(
        cls,
        index_dir: str | Path | None = None,
        *,
        settings: Settings | None = None,
        read_only: bool = False,
        **overrides: Any,
    ) -> Citewise:
        """Open (or create) the index at ``index_dir`` with optional settings ``overrides``.

        Example: ``Citewise.open("idx", graph={"enabled": False}, llm={"answer_mode": "extractive"})``.
        """
        base = settings or Settings()
        data = base.model_dump()
        if index_dir is not None:
            data["index_dir"] = Path(index_dir)
        for key, value in overrides.items():
            data[key] = (
                {**data[key], **value}
                if isinstance(value, dict) and isinstance(data.get(key), dict)
                else value
            )
        return cls(Settings.model_validate(data), read_only=read_only)

    # -- components (built once, on first use) -------------------------------------------------------
    @cached_property
    def embedder(self) -> Embedder:
        return container.build_embedder(self.settings)

    @cached_property
    def store(self) -> FaissVectorStore:
        store = container.build_vector_store(self.settings, self.embedder, read_only=self.read_only)
        store.check_embedder()
        return store

    @cached_property
    def bm25(self) -> BM25Index:
        self._seen_manifest = self._manifest_stamp()
        return container.build_bm25(self.settings)

    @cached_property
    def graph_store(self) -> GraphStore:
        """The knowledge-graph store (SQLite in the index directory, or Neo4j)."""
        return container.build_graph_store(self.settings)

    @cached_property
    def pipeline(self) -> IngestPipeline:
        from ingest.pipeline import IngestPipeline

        load, suffixes = container.build_loader(self.settings)
        graph_on = self.settings.graph.enabled
        return IngestPipeline(
            store=self.store,
            embedder=self.embedder,
            chunker=container.build_chunker(self.settings, self.embedder),
            load=load,
            suffixes=suffixes,
            keyword_index=self.bm25,
            extractor=container.build_extractor(self.settings, lambda: self.llm) if graph_on else None,
            graph_store=self.graph_store if graph_on else None,
            max_file_mb=self.settings.ingest.max_file_mb,
            graph_worker=self.settings.graph.worker,
            graph_worker_min_bytes=int(self.settings.graph.worker_min_mb * 1024 * 1024),
            contextual_headers=self.settings.chunking.contextual_headers,
        )

    @property
    def llm(self) -> LLM:
        """The answer model (loaded on first use)."""
        with self._llm_lock:
            if "_llm" not in self.__dict__:
                self.__dict__["_llm"] = container.build_llm(self.settings)
            return self.__dict__["_llm"]  # type: ignore[no-any-return]

    @cached_property
    def retriever(self) -> Any:
        """The hybrid retriever (a LangChain ``BaseRetriever``)."""
        return container.build_retriever(
            self.settings,
            store=self.store,
            embedder=self.embedder,
            bm25=self.bm25,
            graph_store=self.graph_store if self.settings.graph.enabled else None,
            llm_factory=lambda: self.llm,
        )

    @cached_property
    def chain(self) -> AnswerChain:
        """The answer chain; without a loadable model it answers extractively and says why."""
        llm: LLM | None = None
        if self.settings.llm.answer_mode == "llm":
            from retrieval.llm.base import LLMUnavailableError

            try:
                llm = self.llm
            except LLMUnavailableError as e:
                log.warning("no LLM available, answers will be extractive: %s", e)
        return container.build_chain(
            self.settings,
            retriever=self.retriever,
            llm=llm,
            embedder=self.embedder,
            bm25=self.bm25,
            docstore=self.store.docstore,
        )

    # -- writes ------------------------------------------------------------------------------------
    def _write_lock(self) -> FileLock:
        if self.read_only:
            raise ServiceError(f"index {self.index_dir} is open read-only")
        self.index_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.index_dir / ".write.lock"), timeout=self.lock_timeout)

    def _locked(self) -> Any:
        lock = self._write_lock()
        try:
            lock.acquire()
        except Timeout:
            raise IndexBusyError(
                f"another citewise process is writing to {self.index_dir}; wait for it to finish "
                "(or pass --wait SECONDS)"
            ) from None
        return lock

    def ingest(
        self,
        paths: Sequence[str | Path],
        *,
        exclude: Sequence[str] | None = None,
        prune: bool = False,
        graph: bool | None = None,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Ingest files and folders; unchanged files cost nothing, changed ones are replaced.

        Args:
            paths: Files and folders.
            exclude: Glob patterns to leave out (added to ``settings.ingest.exclude``).
            prune: Forget documents under ``paths`` whose files are gone.
            graph: Build the knowledge graph (default ``settings.graph.enabled``).
            progress: Called with ``(event, data)`` as files complete.

        Returns:
            The per-file report; failed files carry their reason and never stop the run.
        """
        build_graph = self.settings.graph.enabled if graph is None else graph
        with self._write_session("ingest", graph=build_graph):
            report = self.pipeline.run(
                [Path(p) for p in paths],
                exclude=[*self.settings.ingest.exclude, *(exclude or [])],
                prune=prune,
                graph=build_graph,
                progress=progress,
            )
        return report

    def forget(self, path: str | Path) -> list[str]:
        """Remove a file, or every file under a folder, from all indexes. Returns the sources removed."""
        target = Path(path).expanduser().resolve()
        with self._write_session("forget", graph=self.settings.graph.enabled):
            removed = []
            for record in self.store.docstore.documents():
                source = Path(record.source)
                if source == target or source.is_relative_to(target):
                    self.pipeline.forget(record.doc_id)
                    removed.append(record.source)
            if removed:
                self.pipeline.save()
        return removed

    @contextmanager
    def _write_session(self, operation: str, *, graph: bool) -> Iterator[None]:
        """Hold the write lock; finish a killed session's work first; journal this one in the manifest."""
        from app.manifest import begin_session, finish_session

        with self.gate.write():
            lock = self._locked()
            try:
                self._reconcile()
                begin_session(self.index_dir, graph=graph, operation=operation)
                yield
                finish_session(self.index_dir, self._snapshot())
                self._seen_manifest = self._manifest_stamp()
            finally:
                lock.release()

    def _reconcile(self) -> None:
        """Bring BM25, the graph and FAISS back to the docstore when a session was killed mid-way."""
        from app.doctor import IndexDoctor

        doctor = IndexDoctor(self)
        try:
            if doctor.up_to_date():
                return
            report = doctor.check()
            if report.issues:
                repairs = doctor.repair(report)
                if repairs:
                    log.warning("index repaired before writing index=%s repairs=%s", self.index_dir, repairs)
        finally:
            doctor.close()

    def _snapshot(self) -> dict[str, Any]:
        from app.doctor import graph_documents
        from app.manifest import snapshot_stores

        graph_store = self.graph_store if self.settings.graph.enabled else None
        graph_docs = graph_documents(graph_store) if graph_store is not None else None
        return snapshot_stores(
            self.index_dir,
            docstore=self.store.docstore,
            bm25=self.bm25,
            graph_store=graph_store,
            graph_docs=set(graph_docs) if graph_docs is not None else None,
        )

    def doctor(self, repair: bool = False) -> DoctorReport:
        """Check that FAISS, the docstore, BM25 and the graph agree and match the manifest.

        Args:
            repair: Fix what disagrees from the docstore (no re-parse, no re-embedding) and mark
                the index clean; needs the write lock.

        Returns:
            The report of the final state; with ``repair``, ``found`` lists what was fixed.
        """
        from app.doctor import IndexDoctor
        from app.manifest import finish_session

        if not repair:
            return self._check_unlocked_or_busy()
        with self.gate.write():
            lock = self._locked()
            doctor = IndexDoctor(self)
            try:
                found = doctor.check()
                repairs = doctor.repair(found) if found.issues else []
                if (self.index_dir / "docstore.sqlite").exists():
                    finish_session(self.index_dir, self._snapshot())
                    self._seen_manifest = self._manifest_stamp()
                report = doctor.check()
            finally:
                doctor.close()
                lock.release()
        report.repairs, report.found = repairs, found.issues
        return report

    def _check_unlocked_or_busy(self) -> DoctorReport:
        """Check while holding the write lock (so no writer is mid-document); busy when one is."""
        from app.doctor import DoctorReport, IndexDoctor

        lock = FileLock(str(self.index_dir / ".write.lock"), timeout=0)
        doctor = IndexDoctor(self)
        try:
            try:
                lock.acquire()
            except Timeout:
                return DoctorReport(busy=True)
            except OSError as e:  # a read-only or missing folder: check without the lock
                log.debug("doctor without lock: %s", e)
                return doctor.check()
            try:
                return doctor.check()
            finally:
                lock.release()
        finally:
            doctor.close()

    def _drop_components(self, *names: str) -> None:
        """Close and forget cached components (and everything built on them) so they reopen from disk."""
        for name in (*names, "pipeline", "retriever", "chain"):
            component = self.__dict__.pop(name, None)
            close = getattr(component, "close", None)
            if name in ("store", "graph_store") and callable(close):
                close()

    # -- reads -------------------------------------------------------------------------------------
    def _manifest_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = (self.index_dir / "manifest.json").stat()
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _follow_other_writers(self) -> None:
        """Reload the in-memory keyword index when another process wrote the index since it loaded.

        FAISS notices a newer docstore generation by itself; BM25 is held in memory, so a server
        or UI would otherwise miss what a CLI ``ingest`` (or another server's watcher) added. The
        manifest is replaced at every write session, so one ``stat`` per query tells.
        """
        if "bm25" not in self.__dict__ or self._manifest_stamp() == self._seen_manifest:
            return
        with self.gate.write():
            if "bm25" in self.__dict__ and self._manifest_stamp() != self._seen_manifest:
                log.info("index written by another process, reloading BM25 index=%s", self.index_dir)
                self._drop_components("bm25")

    def search(
        self, query: str, *, k: int | None = None, filters: dict[str, Any] | None = None, **options: Any
    ) -> RetrievalResult:
        """Retrieve hits for ``query`` without calling the LLM (``options`` switch stages per call)."""
        if not query.strip():
            raise ServiceError("empty query")
        self._follow_other_writers()
        retriever = self.retriever
        with self.gate.read():
            return retriever.retrieve(query, k=k, filters=filters, **options)  # type: ignore[no-any-return]

    def ask(
        self, question: str, *, history: Sequence[Any] | None = None, mode: str | None = None, **options: Any
    ) -> Answer:
        """Answer ``question`` with citations (``mode``: ``llm`` or ``extractive``; ``options`` as in search)."""
        if not question.strip():
            raise ServiceError("empty question")
        self._follow_other_writers()
        chain = self.chain
        with self.gate.read():
            return chain.ask(question, history, answer_mode=mode, **options)  # type: ignore[arg-type]

    def stream(
        self, question: str, *, history: Sequence[Any] | None = None, mode: str | None = None, **options: Any
    ) -> Iterator[ChainEvent]:
        """Like :meth:`ask`, yielding retrieval, then text deltas, then the final answer event."""
        if not question.strip():
            raise ServiceError("empty question")
        self._follow_other_writers()
        return self._reading(self.chain.stream(question, history, answer_mode=mode, **options))  # type: ignore[arg-type]

    def _reading(self, events: Iterator[ChainEvent]) -> Iterator[ChainEvent]:
        """Hold the read side of :attr:`gate` from the first event until the stream ends or is closed."""
        with self.gate.read():
            yield from events

    def conversation(self) -> Conversation:
        """A conversation that remembers its turns, for follow-up questions."""
        return Conversation(self)

    def documents(self) -> list[DocumentRecord]:
        """Every indexed document."""
        return self.store.docstore.documents()

    def stats(self) -> dict[str, Any]:
        """Counts of documents, chunks, vectors and graph elements, plus where the index lives.

        ``graph_pending`` counts documents whose graph was never built (``citewise doctor --repair``
        builds them).
        """
        counts = self.store.docstore.counts()
        out: dict[str, Any] = {
            "index_dir": str(self.index_dir),
            **counts,
            "vectors": self.store.count(),
            "index_type": self.settings.vectorstore.index_type,
            "graph_backend": self.settings.graph.backend,
        }
        if self.settings.graph.enabled:
            from app.doctor_graph import graph_status

            out["graph"] = self.graph_store.stats()
            records = self.store.docstore.documents()
            out["graph_pending"] = sum(1 for r in records if graph_status(r)[0] == "pending")
        return out

    def close(self) -> None:
        """Release files, connections and models."""
        for name in ("store", "graph_store"):
            component = self.__dict__.pop(name, None)
            if component is not None:
                component.close()


@dataclass
class Conversation:
    """Turns of one chat, bounded by ``settings.llm.history_turns`` when condensing follow-ups."""

    service: Citewise
    history: list[Any] = field(default_factory=list)

    def ask(self, question: str, **options: Any) -> Answer:
        """Ask with the conversation so far and remember the answer."""
        answer = self.service.ask(question, history=self.history, **options)
        self.history.append(answer)
        return answer

    def stream(self, question: str, **options: Any) -> Iterator[ChainEvent]:
        """Stream with the conversation so far; the final answer is remembered."""
        for event in self.service.stream(question, history=self.history, **options):
            answer = getattr(event, "answer", None)
            if answer is not None:
                self.history.append(answer)
            yield event

    def reset(self) -> None:
        """Start over."""
        self.history.clear()


ProgressCallback = Callable[[str, dict[str, Any]], None]

"""load -> chunk -> embed -> store -> extract, one document at a time, incrementally.

Parsing runs ahead of embedding: the next files are read (in the isolated parser workers) while
the current one is embedded, so on a multi-core machine the wall time tends to the embedding time.
Each document commits on its own: a failure or a crash loses at most the document in flight.
Graph extraction runs after each document is stored, or (``graph_worker=True``) in a worker
process overlapped with embedding, which also confines a crash or hang of the extractor to one
document (:mod:`ingest.graph_step`). The pipeline's own default is in-process; the service turns
the worker on (settings ``graph.worker``) for runs of at least ``graph.worker_min_mb`` of files,
below which starting it costs more than the overlap saves. A document is recorded with its
graph ``pending`` until its graph is written, so one whose extraction did not happen is never
taken for done (``citewise doctor`` reports it and ``--repair`` builds it).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from graph.base import GraphExtractor, GraphStore
from ingest.base import IngestError, LoadedDocument
from ingest.chunking import DocumentInfo, TokenChunker
from ingest.discovery import discover
from ingest.graph_step import GraphStep, open_worker, total_bytes
from ingest.members import kept_member, members
from retrieval.base import Chunk, Embedder
from retrieval.vectorstores.docstore import DocumentRecord, graph_extra, now
from retrieval.vectorstores.faiss_store import FaissVectorStore

log = logging.getLogger(__name__)

Status = Literal["added", "updated", "unchanged", "removed", "failed", "skipped"]


class KeywordIndex(Protocol):
    """The BM25 index as ingestion sees it."""

    def add(self, chunks: Sequence[Chunk]) -> int: ...
    def delete_document(self, doc_id: str) -> int: ...


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file."""

    path: str
    status: Status
    reason: str = ""
    pages: int | None = None
    chunks: int = 0
    entities: int = 0
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()


@dataclass
class IngestReport:
    """Per-file outcomes and stage timings of one ingest run."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    embedded: int = 0

    def count(self, status: Status) -> int:
        """Number of files with ``status``."""
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[FileOutcome]:
        """The files that failed, with reasons."""
        return [o for o in self.outcomes if o.status == "failed"]

    def summary(self) -> dict[str, int]:
        """Counts per status."""
        return {s: self.count(s) for s in ("added", "updated", "unchanged", "removed", "failed", "skipped")}

    def add_time(self, stage: str, seconds: float) -> None:
        """Accumulate wall time spent in a stage."""
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds


ProgressFn = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class _Read:
    """A document parsed and chunked, not yet embedded nor written anywhere."""

    path: Path
    doc_id: str
    content_hash: str
    doc: LoadedDocument
    chunks: list[Chunk]
    children: list[Chunk]
    t0: float
    container: Path | None = None  # the file an attachment came in (its path is container/name)


@dataclass(frozen=True)
class _Staged:
    """A document committed to the docstore, FAISS and BM25 whose graph is still to be written."""

    outcome: FileOutcome  # added/updated; entities and graph notes filled in when the graph is written
    doc_id: str
    children: list[Chunk]
    t0: float


def doc_id_for(path: Path) -> str:
    """Stable id of a file: its resolved path, hashed."""
    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]


def file_hash(path: Path) -> str:
    """SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class IngestPipeline:
    """Ingests files into a vector store, a keyword index and a knowledge graph.

    Args:
        store: The FAISS store (with its docstore).
        embedder: Embeds child chunks.
        chunker: Splits loaded documents.
        load: Reads one file (``ingest.loaders`` or the isolated variant); raises IngestError.
        suffixes: File suffixes ``load`` supports.
        keyword_index: BM25 index updated with each document, or None.
        extractor / graph_store: Knowledge-graph extraction and storage, or None to skip the graph.
        max_file_mb: Larger files are reported and skipped before reading.
        checkpoint_s: Seconds between FAISS/BM25 saves during a long run (the docstore commits per file).
        prefetch: Files parsed ahead of the one being embedded.
        graph_worker: Extract the graph in a worker process while files are embedded (when the
            extractor allows it), rather than here after each file is stored.
        graph_worker_min_bytes: Runs whose files to ingest total less stay in-process: starting the
            worker (a process loading spaCy, ~2-3 s) costs more than overlapping a few small files saves.
        graph_timeout_s / graph_timeout_per_chunk_s: Time limit of one document's extraction in
            the worker; past it the worker is stopped and the document is stored with its graph
            pending (``citewise doctor --repair`` builds it).
        contextual_headers: Embed each child with a short header naming its document and page
            heading (``ingest.context``); the stored text stays the document's own.
    """

    def __init__(
        self,
        *,
        store: FaissVectorStore,
        embedder: Embedder,
        chunker: TokenChunker,
        load: Callable[[Path], LoadedDocument],
        suffixes: Sequence[str],
        keyword_index: KeywordIndex | None = None,
        extractor: GraphExtractor | None = None,
        graph_store: GraphStore | None = None,
        max_file_mb: float = 200.0,
        checkpoint_s: float = 60.0,
        prefetch: int = 2,
        graph_worker: bool = False,
        graph_worker_min_bytes: int = 0,
        graph_timeout_s: float = 120.0,
        graph_timeout_per_chunk_s: float = 1.0,
        contextual_headers: bool = False,
    ) -> None:
        if (extractor is None) != (graph_store is None):
            raise ValueError("extractor and graph_store go together: give both or neither")
        self.store, self.embedder, self.chunker = store, embedder, chunker
        self.load, self.suffixes = load, list(suffixes)
        self.keyword_index = keyword_index
        self.extractor, self.graph_store = extractor, graph_store
        self.max_file_bytes = int(max_file_mb * 1024 * 1024)
        self.checkpoint_s = checkpoint_s
        self.prefetch = max(1, prefetch)
        self.graph_worker, self.graph_worker_min_bytes = graph_worker, graph_worker_min_bytes
        self.graph_timeout_s, self.graph_timeout_per_chunk_s = graph_timeout_s, graph_timeout_per_chunk_s
        self.contextual_headers = contextual_headers
        self._seen: dict[Path, tuple[int, int]] = {}  # (size, mtime_ns) when a file was hashed
        self._last_save = time.monotonic()

    def run(
        self,
        paths: Iterable[Path],
        *,
        exclude: Sequence[str] = (),
        prune: bool = False,
        graph: bool = True,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Ingest ``paths`` (files or folders); with ``prune``, forget files gone from those folders."""
        notify = progress or (lambda event, data: None)
        report = IngestReport()
        roots = [Path(p).expanduser().resolve() for p in paths]
        t0 = time.perf_counter()
        files, skipped = discover(roots, suffixes=self.suffixes, exclude=exclude)
        report.add_time("discover", time.perf_counter() - t0)
        report.outcomes += [FileOutcome(s.path, "skipped", s.reason) for s in skipped]
        notify("start", {"files": len(files)})
        todo = self._triage(files, report, notify)
        self._last_save = time.monotonic()
        with self._open_graph_worker(todo, graph) as worker:
            step = GraphStep(
                extractor=self.extractor,
                graph_store=self.graph_store,
                docstore=self.store.docstore,
                build=graph,
                worker=worker,
                add_time=report.add_time,
            )
            self._ingest_all(todo, step, report, notify)
        if prune:
            report.outcomes += self.prune(roots, keep={str(f) for f in files})
        self.save(report)
        report.add_time("total", time.perf_counter() - t0)
        notify("done", {"report": report})
        return report

    def _triage(self, files: list[Path], report: IngestReport, notify: ProgressFn) -> list[tuple[Path, str]]:
        """Separate unchanged files (no work at all) from files to read."""
        todo: list[tuple[Path, str]] = []
        t0 = time.perf_counter()
        for path in files:
            try:
                st = path.stat()
                if st.st_size > self.max_file_bytes:
                    raise IngestError(
                        f"file is {st.st_size / 2**20:.1f} MB, over the "
                        f"{self.max_file_bytes / 2**20:g} MB limit",
                        path,
                    )
                record = self.store.docstore.document(doc_id_for(path))
                if record and record.size == st.st_size and record.mtime == st.st_mtime:
                    report.outcomes.append(
                        FileOutcome(str(path), "unchanged", pages=record.pages, chunks=record.n_children)
                    )
                    notify(
                        "file",
                        {
                            "outcome": report.outcomes[-1],
                            "embedded": report.embedded,
                            "embed_s": report.timings.get("embed", 0.0),
                        },
                    )
                    continue
                self._seen[path] = (st.st_size, st.st_mtime_ns)
                digest = file_hash(path)
                if record and record.content_hash == digest:
                    report.outcomes.append(
                        FileOutcome(str(path), "unchanged", pages=record.pages, chunks=record.n_children)
                    )
                    continue
                todo.append((path, digest))
            except (OSError, IngestError) as e:
                reason = e.reason if isinstance(e, IngestError) else f"cannot read file: {e.strerror or e}"
                report.outcomes.append(FileOutcome(str(path), "failed", reason))
        report.add_time("hash", time.perf_counter() - t0)
        return todo

    def _prefetched(self, todo: list[tuple[Path, str]]) -> Iterator[tuple[Path, str, Future[LoadedDocument]]]:
        """Yield files with their parse already under way, ``prefetch`` files ahead."""
        with ThreadPoolExecutor(max_workers=self.prefetch, thread_name_prefix="citewise-parse") as pool:
            futures = [(p, h, pool.submit(self._timed_load, p)) for p, h in todo[: self.prefetch]]
            for i in range(len(todo)):
                nxt = i + self.prefetch
                if nxt < len(todo):
                    futures.append((todo[nxt][0], todo[nxt][1], pool.submit(self._timed_load, todo[nxt][0])))
                yield futures[i]
                futures[i] = (futures[i][0], futures[i][1], Future())  # drop the parsed text early

    def _timed_load(self, path: Path) -> LoadedDocument:
        return self.load(path)

    def _ingest_all(
        self, todo: list[tuple[Path, str]], graph: GraphStep, report: IngestReport, notify: ProgressFn
    ) -> None:
        """Each file in turn. With a worker, a file's graph is extracted while it is embedded and
        stored (and while the next file is), and written once the file is committed."""
        queued: deque[_Staged | FileOutcome] = deque()  # files in the worker, oldest first
        for path, content_hash, future in self._prefetched(todo):
            t0 = time.perf_counter()
            step = self._guarded(path, t0, self._read, path, content_hash, future, report)
            steps = [step, *members(self, step, report)] if isinstance(step, _Read) else [step]
            for item in steps:
                self._process(item, graph, queued, report, notify)
        while queued:
            self._done(self._collect(queued.popleft(), graph), report, notify)

    def _process(
        self,
        step: _Read | FileOutcome,
        graph: GraphStep,
        queued: deque[_Staged | FileOutcome],
        report: IngestReport,
        notify: ProgressFn,
    ) -> None:
        """Store one read document (a file, or an attachment of one) and see its graph written."""
        in_worker = isinstance(step, _Read) and graph.submit(step.doc_id, step.children)
        result: _Staged | FileOutcome = (
            self._guarded(step.path, step.t0, self._store, step, graph.new_status, report)
            if isinstance(step, _Read)
            else step
        )
        if in_worker:
            queued.append(result)
        while len(queued) > (1 if in_worker else 0):  # keep the worker one file ahead
            self._done(self._collect(queued.popleft(), graph), report, notify)
        if not in_worker:
            done = result if isinstance(result, FileOutcome) else self._finish_graph(result, graph, False)
            self._done(done, report, notify)

    def _collect(self, state: _Staged | FileOutcome, graph: GraphStep) -> FileOutcome:
        """The worker's graph for a stored file, written; a file that failed meanwhile drops it."""
        if isinstance(state, _Staged):
            return self._finish_graph(state, graph, True)
        graph.discard()  # the file failed before it was stored: it has no graph to write
        return state

    def _done(self, outcome: FileOutcome, report: IngestReport, notify: ProgressFn) -> None:
        """Record a finished file, tell the caller, and checkpoint FAISS now and then."""
        report.outcomes.append(outcome)
        notify(
            "file",
            {"outcome": outcome, "embedded": report.embedded, "embed_s": report.timings.get("embed", 0.0)},
        )
        if time.monotonic() - self._last_save > self.checkpoint_s:
            self.save(report)
            self._last_save = time.monotonic()

    @staticmethod
    def _guarded(path: Path, t0: float, step: Callable[..., Any], *args: Any) -> Any:
        """Run one step of a file's ingestion; a failure becomes the file's failed outcome."""
        try:
            return step(*args)
        except IngestError as e:
            return FileOutcome(str(path), "failed", e.reason, seconds=time.perf_counter() - t0)
        except Exception as e:  # one bad file never stops the run; the reason is reported
            log.exception("ingest failed path=%s", path)
            return FileOutcome(
                str(path), "failed", f"{type(e).__name__}: {e}", seconds=time.perf_counter() - t0
            )

    def _read(
        self, path: Path, content_hash: str, future: Future[LoadedDocument], report: IngestReport
    ) -> _Read:
        """Wait for the parse and chunk the text (nothing is written yet)."""
        t0 = time.perf_counter()
        doc = future.result()
        self._check_unchanged(path)
        report.add_time("parse_wait", time.perf_counter() - t0)
        chunks, children = self._chunk(doc, path, doc_id_for(path), content_hash, report)
        return _Read(path, doc_id_for(path), content_hash, doc, chunks, children, t0)

    def _store(self, read: _Read, graph_status: str, report: IngestReport) -> _Staged:
        """Embed, then replace the document in the docstore (with its graph status), FAISS and BM25."""
        texts = [c.text for c in read.children]
        if self.contextual_headers:
            from ingest.context import ContextualHeaders

            headers = ContextualHeaders(
                read.doc,
                read.path.name,
                count_tokens=self.embedder.count_tokens,
                max_tokens=self.embedder.max_seq_length,
            )
            texts = [headers.text(c) for c in read.children]
        vectors = self._embed(texts, report)
        existed = self.store.docstore.document(read.doc_id) is not None
        record = self._record(
            read.doc, read.path, read.doc_id, read.content_hash, read.chunks, read.container
        )
        record = replace(record, extra=graph_extra(graph_status))
        t1 = time.perf_counter()
        self.store.replace_document(record, read.chunks, vectors)
        if self.keyword_index is not None:
            self.keyword_index.delete_document(read.doc_id)
            self.keyword_index.add(read.children)
        report.add_time("index", time.perf_counter() - t1)
        outcome = FileOutcome(
            str(read.path),
            "updated" if existed else "added",
            pages=read.doc.pages,
            chunks=len(read.children),
            warnings=tuple(read.doc.warnings),
        )
        return _Staged(outcome, read.doc_id, read.children, read.t0)

    def _check_unchanged(self, path: Path) -> None:
        """Refuse text read from a file that changed or vanished since it was hashed."""
        before = self._seen.pop(path, None)
        try:
            st = path.stat()
        except OSError as e:
            raise IngestError(f"file disappeared while being read: {e.strerror or e}", path) from e
        if before is not None and (st.st_size, st.st_mtime_ns) != before:
            raise IngestError("file changed while being read; the next ingest reads it again", path)

    def chunk(
        self, doc: LoadedDocument, path: Path, doc_id: str, content_hash: str, report: IngestReport
    ) -> tuple[list[Chunk], list[Chunk]]:
        """Split a loaded document into its (parents + children, children); raises IngestError if empty."""
        return self._chunk(doc, path, doc_id, content_hash, report)

    def _chunk(
        self, doc: LoadedDocument, path: Path, doc_id: str, content_hash: str, report: IngestReport
    ) -> tuple[list[Chunk], list[Chunk]]:
        t0 = time.perf_counter()
        info = DocumentInfo(
            doc_id=doc_id,
            source=str(path),
            file_name=path.name,
            file_type=doc.file_type,
            content_hash=content_hash,
            title=doc.title or path.stem,
            created=doc.created,
            modified=doc.modified,
        )
        chunks = self.chunker.split(doc, info)
        report.add_time("chunk", time.perf_counter() - t0)
        children = [c for c in chunks if c.kind == "child"]
        if not children:
            raise IngestError("no text to index (empty, or nothing extractable)", path)
        return chunks, children

    def _embed(self, texts: list[str], report: IngestReport) -> Any:
        t0 = time.perf_counter()
        vectors = self.embedder.embed(texts)
        report.add_time("embed", time.perf_counter() - t0)
        report.embedded += len(texts)
        return vectors

    @staticmethod
    def _record(
        doc: LoadedDocument,
        path: Path,
        doc_id: str,
        content_hash: str,
        chunks: list[Chunk],
        container: Path | None = None,
    ) -> DocumentRecord:
        st = (container or path).stat()  # an attachment has no file of its own: its container's
        return DocumentRecord(
            doc_id=doc_id,
            source=str(path),
            file_name=path.name,
            file_type=doc.file_type,
            content_hash=content_hash,
            size=st.st_size,
            mtime=st.st_mtime,
            pages=doc.pages,
            title=doc.title or path.stem,
            author=doc.author,
            created=doc.created,
            modified=doc.modified,
            n_parents=sum(1 for c in chunks if c.kind == "parent"),
            n_children=sum(1 for c in chunks if c.kind == "child"),
            ingested_at=now(),
        )

    def _open_graph_worker(self, todo: list[tuple[Path, str]], graph: bool) -> Any:
        """A started extraction worker for this run, or a null context when extraction stays in-process."""
        if not (todo and graph and self.graph_worker and self.graph_store is not None):
            return contextlib.nullcontext(None)
        return open_worker(
            self.extractor,
            total_bytes([path for path, _ in todo]),
            min_bytes=self.graph_worker_min_bytes,
            timeout_s=self.graph_timeout_s,
            per_unit_s=self.graph_timeout_per_chunk_s,
        )

    def _finish_graph(self, staged: _Staged, graph: GraphStep, in_worker: bool) -> FileOutcome:
        """Write a stored document's graph (from the worker, or extracted here) and confirm it."""
        outcome = staged.outcome
        try:
            written = graph.write(staged.doc_id, staged.children, in_worker=in_worker)
        except Exception as e:  # the graph store failed: the document is stored, its graph pending
            log.exception("graph write failed doc_id=%s", staged.doc_id)
            return replace(
                outcome,
                status="failed",
                reason=f"{type(e).__name__}: {e}",
                seconds=time.perf_counter() - staged.t0,
            )
        return replace(
            outcome,
            entities=written.entities,
            warnings=outcome.warnings + tuple(written.notes),
            seconds=time.perf_counter() - staged.t0,
        )

    def forget(self, doc_id: str) -> bool:
        """Remove a document from every index; True when it was there."""
        found = self.store.delete_document(doc_id)
        if self.keyword_index is not None:
            self.keyword_index.delete_document(doc_id)
        if self.graph_store is not None:
            self.graph_store.delete_document(doc_id)
        return found

    def prune(self, roots: Sequence[Path], keep: set[str]) -> list[FileOutcome]:
        """Forget documents under ``roots`` whose files are gone (or no longer discovered)."""
        outcomes = []
        for record in self.store.docstore.documents():
            source = Path(record.source)
            under = any(source == r or source.is_relative_to(r) for r in roots)
            if under and record.source not in keep and not source.exists() and not kept_member(source, keep):
                self.forget(record.doc_id)
                outcomes.append(FileOutcome(record.source, "removed", "file no longer exists"))
        return outcomes

    def save(self, report: IngestReport | None = None) -> None:
        """Persist FAISS for the docstore's current state (BM25 and the graph commit per document)."""
        t0 = time.perf_counter()
        self.store.persist()
        if report is not None:
            report.add_time("save", time.perf_counter() - t0)

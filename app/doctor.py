"""``citewise doctor``: check that the stores of an index agree, and repair them when they do not.

The docstore (documents, chunks and their vectors) is the source of truth. Every other store is
derived from it and can be brought back to it without parsing or embedding anything again:

- FAISS (``vectors.faiss``): rebuilt from the stored vectors.
- BM25: a document's chunks re-added from the stored chunk texts; orphans deleted.
- Graph: a document's graph re-extracted from its stored child chunks; orphans deleted. Each
  document's graph status in the docstore (``pending`` until its graph is written, then ``done``;
  ``off`` without a graph) says which documents lack a graph they should have, whatever the
  backend (:mod:`app.doctor_graph`).

The manifest (:mod:`app.manifest`) adds two things a cross-store comparison cannot see: whether
the last write session finished (its journal says whether a killed session was building the
graph), and whether the files still match the checksums taken when it finished.

The same check and repair run at the start of every write session (:class:`app.service.Citewise`),
so an ingest killed at any moment is finished by the next ``ingest``, ``forget`` or ``doctor``.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from app.manifest import ManifestError, interrupted_session, read_manifest, sha256_file

if TYPE_CHECKING:
    from app.service import Citewise
    from retrieval.vectorstores.docstore import DocumentRecord, SQLiteDocStore

log = logging.getLogger(__name__)

Severity = Literal["error", "notice"]


@dataclass(frozen=True)
class Issue:
    """One disagreement found by the doctor.

    ``severity`` is ``error`` when the stores disagree (answers may be wrong or incomplete) and
    ``notice`` for states that heal themselves or lose nothing (a stale FAISS cache, temp files).
    """

    store: str
    kind: str
    detail: str
    doc_id: str | None = None
    severity: Severity = "error"


@dataclass
class DoctorReport:
    """What the doctor found, what it repaired, and the counts per store."""

    issues: list[Issue] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    busy: bool = False
    found: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        """The issues of severity ``error``."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def consistent(self) -> bool:
        """True when no writer was active and no store disagrees with the docstore."""
        return not self.busy and not self.errors

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``citewise doctor --json``)."""
        return {
            "consistent": self.consistent,
            "busy": self.busy,
            "counts": self.counts,
            "issues": [asdict(i) for i in self.issues],
            "repairs": list(self.repairs),
            "found_before_repair": [asdict(i) for i in self.found],
        }


@dataclass
class _Truth:
    """The docstore's view: records and child chunk ids per document."""

    records: dict[str, DocumentRecord]
    children: dict[str, set[str]]
    rowids: set[int]
    generation: int


def graph_documents(graph_store: Any) -> dict[str, set[str]] | None:
    """Map doc_id -> chunk ids its graph mentions, for backends that can list them (else None).

    The GraphStore protocol has no listing method; the embedded SQLite store is read directly.
    """
    from graph.stores.sqlite_store import SQLiteGraphStore

    if not isinstance(graph_store, SQLiteGraphStore):
        return None
    docs: dict[str, set[str]] = {str(r[0]): set() for r in graph_store._rows("SELECT doc_id FROM documents")}
    for doc_id, chunk_id in graph_store._rows("SELECT DISTINCT doc_id, chunk_id FROM mentions"):
        docs.setdefault(str(doc_id), set()).add(str(chunk_id))
    return docs


class IndexDoctor:
    """Checks and repairs the stores of one open :class:`~app.service.Citewise` index.

    Args:
        service: The open service; repairs need it writable and its write lock held.
    """

    def __init__(self, service: Citewise) -> None:
        self.service = service
        self.index_dir = service.index_dir
        self.graph_on = service.settings.graph.enabled
        self._own_docstore: SQLiteDocStore | None = None

    @property
    def docstore(self) -> SQLiteDocStore:
        """The service's docstore when its store is open, else a connection of our own (no model load)."""
        if "store" in self.service.__dict__:
            return self.service.store.docstore
        if self._own_docstore is None:
            from retrieval.vectorstores.docstore import SQLiteDocStore

            path = self.index_dir / "docstore.sqlite"
            self._own_docstore = SQLiteDocStore(path, read_only=self.service.read_only)
        return self._own_docstore

    def close(self) -> None:
        """Close the connection the doctor opened itself, if any."""
        if self._own_docstore is not None:
            self._own_docstore.close()
            self._own_docstore = None

    # -- check ---------------------------------------------------------------------------------------
    def up_to_date(self) -> bool:
        """Cheap test that nothing changed since the last clean session (no full check needed)."""
        try:
            manifest = read_manifest(self.index_dir)
        except ManifestError:
            return False
        if not manifest or manifest.get("state") != "clean" or "stores" not in manifest:
            return False
        stores = manifest["stores"]
        docstore = self.docstore
        stamp_file = self.index_dir / "vectors.json"
        try:
            stamp = json.loads(stamp_file.read_text()) if stamp_file.exists() else {}
            bm25_manifest = self.index_dir / "bm25" / "manifest.json"
            bm25_sha = sha256_file(bm25_manifest) if bm25_manifest.exists() else None
        except (OSError, ValueError):
            return False
        same = (
            stores["docstore"].get("generation") == docstore.generation == stamp.get("generation")
            and stores["bm25"].get("files", {}).get("manifest.json") == bm25_sha
        )
        if same and self.graph_on:
            recorded = {k: v for k, v in (stores.get("graph") or {}).items() if k != "checksum"}
            same = recorded == self.service.graph_store.stats()
        return bool(same)

    def check(self) -> DoctorReport:
        """Compare every store with the docstore and the files with the manifest."""
        report = DoctorReport()
        if not (self.index_dir / "docstore.sqlite").exists():
            report.issues.append(
                Issue("docstore", "missing", f"no index at {self.index_dir}", None, "notice")
            )
            return report
        truth = self._truth()
        manifest, session = self._manifest(report)
        report.issues += self._check_faiss(truth)
        report.issues += self._check_bm25(truth)
        if self.graph_on:
            report.issues += self._check_graph(truth, session)
        if manifest is not None and manifest.get("state") == "clean":
            report.issues += self._check_files(manifest.get("stores", {}))
        report.issues += [
            Issue(
                "files",
                "leftover_temp",
                f"temporary file left by an interrupted write: {p.name}",
                None,
                "notice",
            )
            for p in self._leftovers()
        ]
        report.counts = self._counts(truth)
        return report

    def _truth(self) -> _Truth:
        docstore = self.docstore
        records = {r.doc_id: r for r in docstore.documents()}
        children: dict[str, set[str]] = {d: set() for d in records}
        for chunk in docstore.iter_chunks("child"):
            children.setdefault(chunk.doc_id, set()).add(chunk.id)
        all_ids = [c for ids in children.values() for c in ids]
        rowids = set(docstore.rowids_for_ids(all_ids).values())
        return _Truth(records, children, rowids, docstore.generation)

    def _manifest(self, report: DoctorReport) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        try:
            manifest = read_manifest(self.index_dir)
        except ManifestError as e:
            report.issues.append(Issue("manifest", "unreadable", str(e)))
            return None, None
        if manifest is None:
            report.issues.append(
                Issue(
                    "manifest",
                    "missing",
                    "no manifest yet (written by the next write session)",
                    None,
                    "notice",
                )
            )
            return None, None
        session = interrupted_session(manifest)
        if session is not None:
            report.issues.append(
                Issue(
                    "manifest",
                    "interrupted_session",
                    f"a {session.get('operation', 'write')} session (pid {session.get('pid')}) never finished",
                    None,
                    "notice",
                )
            )
        return manifest, session

    def _check_faiss(self, truth: _Truth) -> list[Issue]:
        index_file, stamp_file = self.index_dir / "vectors.faiss", self.index_dir / "vectors.json"
        if not index_file.exists() or not stamp_file.exists():
            if not truth.rowids:
                return []
            return [
                Issue(
                    "faiss",
                    "missing_cache",
                    "no FAISS file: rebuilt from stored vectors on open",
                    None,
                    "notice",
                )
            ]
        try:
            stamp = json.loads(stamp_file.read_text())
        except (OSError, ValueError) as e:
            return [Issue("faiss", "unreadable", f"vectors.json: {e}")]
        if stamp.get("generation") != truth.generation:
            detail = f"FAISS file is at generation {stamp.get('generation')}, docstore at {truth.generation}"
            return [
                Issue(
                    "faiss", "stale_cache", detail + ": rebuilt from stored vectors on open", None, "notice"
                )
            ]
        found = _faiss_ids(index_file)
        if isinstance(found, str):
            return [Issue("faiss", "unreadable", found)]
        ids, ntotal = found
        if ids is None and ntotal != len(truth.rowids):
            return [
                Issue(
                    "faiss",
                    "vector_mismatch",
                    f"FAISS holds {ntotal} vectors, the docstore {len(truth.rowids)}",
                )
            ]
        if ids is not None and ids != truth.rowids:
            missing, extra = len(truth.rowids - ids), len(ids - truth.rowids)
            return [
                Issue("faiss", "vector_mismatch", f"{missing} stored vectors missing, {extra} unknown ids")
            ]
        return []

    def _check_bm25(self, truth: _Truth) -> list[Issue]:
        from retrieval.bm25_store import BM25IndexError

        bm25 = self.service.bm25
        try:
            live, bm25_docs = len(bm25), bm25.doc_ids()
        except BM25IndexError as e:
            return [Issue("bm25", "unreadable", str(e))]
        issues = [
            Issue("bm25", "orphan_document", "BM25 holds a document the docstore does not", d)
            for d in sorted(bm25_docs - set(truth.records))
        ]
        for doc_id, ids in sorted(truth.children.items()):
            missing = [c for c in ids if c not in bm25]
            if missing:
                issues.append(
                    Issue("bm25", "missing_chunks", f"{len(missing)} of {len(ids)} chunks missing", doc_id)
                )
        expected = sum(len(v) for v in truth.children.values())
        if not issues and live != expected:
            issues.append(
                Issue("bm25", "count_mismatch", f"BM25 holds {live} chunks, the docstore {expected}")
            )
        return issues

    def _check_graph(self, truth: _Truth, session: dict[str, Any] | None) -> list[Issue]:
        from app.doctor_graph import graph_issue
        from graph.base import GraphStoreError

        try:
            graph = graph_documents(self.service.graph_store)
        except GraphStoreError as e:
            return [Issue("graph", "unreadable", str(e))]
        issues: list[Issue] = []
        if graph is None:
            issues.append(
                Issue("graph", "unchecked", "this graph backend cannot list its documents", None, "notice")
            )
        else:
            issues += [
                Issue("graph", "orphan_document", "the graph holds a document the docstore does not", d)
                for d in sorted(set(graph) - set(truth.records))
            ]
        for doc_id, record in sorted(truth.records.items()):
            issue = graph_issue(
                record,
                (graph or {}).get(doc_id),
                truth.children[doc_id],
                session,
                graph_on=self.graph_on,
                listed=graph is not None,
            )
            if issue is not None:
                issues.append(issue)
        return issues

    def _check_files(self, stored: dict[str, Any]) -> list[Issue]:
        from app.manifest import file_checksums

        issues: list[Issue] = []
        for store in ("faiss", "bm25"):
            before = (stored.get(store) or {}).get("files")
            if before is None:
                continue
            now = file_checksums(self.index_dir, store)
            changed = sorted(n for n in set(before) | set(now) if before.get(n) != now.get(n))
            if changed:
                issues.append(
                    Issue(store, "checksum_mismatch", f"files differ from the manifest: {changed[:5]}")
                )
        return issues

    def _leftovers(self) -> list[Path]:
        found = list(self.index_dir.glob("vectors.tmp-*"))
        bm25_dir = self.index_dir / "bm25"
        if bm25_dir.is_dir():
            found += list(bm25_dir.glob(".*.tmp"))
        found += list(self.index_dir.glob(".manifest.json.*.tmp"))
        return sorted(found)

    def _counts(self, truth: _Truth) -> dict[str, Any]:
        counts: dict[str, Any] = {
            "documents": len(truth.records),
            "chunks": sum(len(v) for v in truth.children.values()),
            "docstore_generation": truth.generation,
        }
        try:
            counts["bm25_chunks"] = len(self.service.bm25)
        except Exception as e:  # an unreadable BM25 is already an issue
            log.debug("bm25 count unavailable: %s", e)
        if self.graph_on:
            try:
                counts["graph"] = self.service.graph_store.stats()
            except Exception as e:
                log.debug("graph stats unavailable: %s", e)
        return counts

    # -- repair --------------------------------------------------------------------------------------
    def repair(self, report: DoctorReport) -> list[str]:
        """Fix every issue in ``report`` from the docstore (the caller holds the write lock)."""
        done: list[str] = []
        by_store: dict[str, list[Issue]] = {}
        for issue in report.issues:
            by_store.setdefault(issue.store, []).append(issue)
        done += self._repair_bm25(by_store.get("bm25", []))
        if self.graph_on:
            done += self._repair_graph(by_store.get("graph", []))
        done += self._repair_faiss(by_store.get("faiss", []), force=bool(done))
        for path in self._leftovers():
            path.unlink(missing_ok=True)
            done.append(f"removed leftover {path.name}")
        for line in done:
            log.info("doctor repair: %s", line)
        return done

    def _repair_bm25(self, issues: list[Issue]) -> list[str]:
        if not issues:
            return []
        if any(i.kind in ("unreadable", "count_mismatch", "checksum_mismatch") for i in issues):
            return [self._rebuild_bm25()]
        bm25, docstore, done = self.service.bm25, self.docstore, []
        for issue in issues:
            assert issue.doc_id is not None
            bm25.delete_document(issue.doc_id)
            if issue.kind == "missing_chunks":
                n = bm25.add(list(docstore.iter_chunks("child", doc_id=issue.doc_id)))
                done.append(f"bm25: re-added {n} chunks of {issue.doc_id}")
            else:
                done.append(f"bm25: deleted orphan {issue.doc_id}")
        return done

    def _rebuild_bm25(self) -> str:
        self.service._drop_components("bm25")
        shutil.rmtree(self.index_dir / "bm25", ignore_errors=True)
        bm25, docstore = self.service.bm25, self.docstore
        total = 0
        for record in docstore.documents():
            total += bm25.add(list(docstore.iter_chunks("child", doc_id=record.doc_id)))
        return f"bm25: rebuilt from the docstore ({total} chunks)"

    def _repair_graph(self, issues: list[Issue]) -> list[str]:
        from app.doctor_graph import GraphRebuilder

        rebuilder = GraphRebuilder(self.service, self.docstore)
        if any(i.kind == "unreadable" for i in issues):
            return self._rebuild_graph(rebuilder)
        done, rebuild = [], []
        for issue in issues:
            if issue.doc_id is None:
                continue
            if issue.kind in ("orphan_document", "unwanted_graph"):
                self.service.graph_store.delete_document(issue.doc_id)
                done.append(f"graph: deleted {issue.kind.split('_')[0]} {issue.doc_id}")
            else:
                rebuild.append(issue.doc_id)
        return done + rebuilder.rebuild(rebuild)

    def _rebuild_graph(self, rebuilder: Any) -> list[str]:
        self.service._drop_components("graph_store")
        graph_file = self.index_dir / "graph.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{graph_file}{suffix}").unlink(missing_ok=True)
        wanted = rebuilder.wanted()
        lines = rebuilder.rebuild(wanted)
        failed = [line for line in lines if "still pending" in line]
        return [f"graph: rebuilt from stored chunks ({len(wanted)} documents)", *failed]

    def _repair_faiss(self, issues: list[Issue], *, force: bool) -> list[str]:
        broken = [i for i in issues if i.kind in ("unreadable", "vector_mismatch", "checksum_mismatch")]
        if broken:
            self.service._drop_components("store")
            for name in ("vectors.faiss", "vectors.json"):
                (self.index_dir / name).unlink(missing_ok=True)
        if broken or issues or force:
            self.service.store.persist()  # loads (or rebuilds from stored vectors) and writes atomically
            return [
                "faiss: rebuilt from stored vectors" if broken else "faiss: saved for the current generation"
            ]
        return []


def _faiss_ids(index_file: Path) -> tuple[set[int] | None, int] | str:
    """(ids, ntotal) of a FAISS file (ids None when the index type does not expose them), or an error."""
    import faiss

    try:
        index = faiss.read_index(str(index_file))
    except Exception as e:  # faiss raises RuntimeError for any corrupt file
        return f"vectors.faiss unreadable: {e}"
    if hasattr(index, "id_map"):
        return {int(i) for i in faiss.vector_to_array(index.id_map)}, int(index.ntotal)
    return None, int(index.ntotal)


def iter_issue_lines(report: DoctorReport) -> Iterator[str]:
    """One line per issue, for plain-text output."""
    for i in report.issues:
        where = f" {i.doc_id}" if i.doc_id else ""
        yield f"{i.severity:6} {i.store:9} {i.kind}{where}: {i.detail}"

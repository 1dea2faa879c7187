"""FAISS vector store behind LangChain's ``VectorStore`` interface, persisted without pickle.

Layout of an index directory: ``docstore.sqlite`` (documents, chunks, vectors: the truth) and
``vectors.faiss`` + ``vectors.json`` (the FAISS index written with ``faiss.write_index`` and the
docstore generation it reflects). Ids in FAISS are the chunks' SQLite rowids.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from retrieval.base import Chunk, Embedder, VectorStoreError
from retrieval.documents import document_profile
from retrieval.durable import atomic_write_bytes, fsync_replace
from retrieval.embeddings.langchain_adapter import LangChainEmbeddings
from retrieval.vectorstores.docstore import DocumentRecord, SQLiteDocStore, now
from retrieval.vectorstores.filters import NARROW_AFTER, matches, to_sql, validate

log = logging.getLogger(__name__)

IndexType = Literal["flat", "hnsw", "ivf"]


class FaissVectorStore(VectorStore):
    """Child chunks searched by cosine similarity (inner product of normalized vectors).

    Args:
        index_dir: Directory holding the docstore and the FAISS files.
        embedder: The embedder whose vectors are stored.
        index_type: ``flat`` (exact), ``hnsw`` or ``ivf`` (approximate, for large corpora).
        read_only: Open for reading only; a stale FAISS file is rebuilt in memory, not written.
    """

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        *,
        index_type: IndexType = "flat",
        hnsw_m: int = 32,
        hnsw_ef_search: int = 128,
        ivf_nlist: int = 1024,
        ivf_nprobe: int = 16,
        read_only: bool = False,
    ) -> None:
        if index_type not in ("flat", "hnsw", "ivf"):
            raise ValueError(f"index_type must be flat, hnsw or ivf, got {index_type!r}")
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.index_type = index_type
        self.hnsw_m, self.hnsw_ef_search = hnsw_m, hnsw_ef_search
        self.ivf_nlist, self.ivf_nprobe = ivf_nlist, ivf_nprobe
        self.read_only = read_only
        if read_only and not (self.index_dir / "docstore.sqlite").exists():
            raise VectorStoreError(f"no index at {self.index_dir} (run `ingest` first)")
        self.docstore = SQLiteDocStore(self.index_dir / "docstore.sqlite", read_only=read_only)
        self._lock = threading.RLock()
        self._index: Any = None
        self._index_generation = -1

    # -- the FAISS index ---------------------------------------------------------------------------
    @property
    def index(self) -> Any:
        """The FAISS index, loaded from disk or rebuilt from stored vectors when stale."""
        with self._lock:
            generation = self.docstore.generation
            # Another process (a CLI ingest while the UI runs) may have written since we loaded.
            if self._index is None or self._index_generation != generation:
                self._index = self._load_or_rebuild(generation)
                self._index_generation = generation
            return self._index

    def _files(self) -> tuple[Path, Path]:
        return self.index_dir / "vectors.faiss", self.index_dir / "vectors.json"

    def _load_or_rebuild(self, generation: int) -> Any:
        index_path, stamp_path = self._files()
        if index_path.exists() and stamp_path.exists():
            stamp = json.loads(stamp_path.read_text())
            if stamp.get("generation") == generation and stamp.get("index_type") == self.index_type:
                index = faiss.read_index(str(index_path))
                self._tune(index)
                return index
            log.warning(
                "faiss index stale path=%s stamp=%s docstore=%s: rebuilding from stored vectors",
                index_path,
                stamp.get("generation"),
                generation,
            )
        index = self._build_from_docstore()
        if not self.read_only:
            self._write(index, generation)
        return index

    def _new_index(self, n_hint: int) -> Any:
        dim = self.dim
        if self.index_type == "hnsw":
            base = faiss.IndexHNSWFlat(dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            return faiss.IndexIDMap2(base)
        if self.index_type == "ivf" and n_hint >= 39 * self.ivf_nlist:
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFFlat(quantizer, dim, self.ivf_nlist, faiss.METRIC_INNER_PRODUCT)
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]  # ids removable
            return ivf
        # IVF with too few vectors to train falls back to exact search until rebuilt larger.
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def _tune(self, index: Any) -> None:
        inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
        if isinstance(inner, faiss.IndexHNSWFlat):
            inner.hnsw.efSearch = self.hnsw_ef_search
        if isinstance(inner, faiss.IndexIVF):
            inner.nprobe = self.ivf_nprobe

    def _build_from_docstore(self) -> Any:
        ids, vecs = self.docstore.vectors()
        index = self._new_index(len(ids))
        if len(ids):
            if isinstance(index, faiss.IndexIVF):
                index.train(vecs)
            index.add_with_ids(vecs, ids)
        self._tune(index)
        return index

    def _write(self, index: Any, generation: int) -> None:
        index_path, stamp_path = self._files()
        self.index_dir.mkdir(parents=True, exist_ok=True)
        tmp = index_path.with_suffix(f".tmp-{os.getpid()}")
        faiss.write_index(index, str(tmp))
        fsync_replace(tmp, index_path)
        stamp = {
            "generation": generation,
            "index_type": self.index_type,
            "ntotal": int(index.ntotal),
            "dim": self.dim,
        }
        atomic_write_bytes(stamp_path, json.dumps(stamp).encode())

    @property
    def dim(self) -> int:
        """Vector dimension of the embedder (checked against the stored one)."""
        return self.embedder.dim

    def check_embedder(self) -> None:
        """Refuse to mix vectors of two models in one index."""
        stored = self.docstore.get_meta("embedder")
        current = json.dumps(
            {"name": getattr(self.embedder, "name", type(self.embedder).__name__), "dim": self.dim}
        )
        if stored is None and not self.read_only:
            self.docstore.set_meta("embedder", current)
        elif stored is not None and stored != current:
            raise VectorStoreError(
                f"index {self.index_dir} was built with embedder {stored}, not {current}: "
                "use another --index or re-ingest from scratch"
            )

    # -- writes ------------------------------------------------------------------------------------
    def replace_document(self, record: DocumentRecord, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Atomically replace one document's chunks and vectors (docstore first, FAISS in memory).

        The document's profile (``retrieval.documents``) is embedded here and stored with it.
        """
        n_children = sum(1 for c in chunks if c.kind == "child")
        if vectors.shape[0] != n_children:
            raise VectorStoreError(
                f"{record.source}: {n_children} child chunks but {vectors.shape[0]} vectors"
            )
        profile_text = document_profile(record.file_name, record.title, chunks)
        profile = (profile_text, np.asarray(self.embedder.embed([profile_text])[0], dtype=np.float32))
        with self._lock:
            index = self.index
            with self.docstore.transaction() as conn:
                removed, added = self.docstore.replace_document(conn, record, chunks, vectors, profile)
            self._index_generation = self.docstore.generation  # our own write: the cache stays current
            self._remove_ids(index, removed)
            if added:
                index.add_with_ids(
                    np.ascontiguousarray(vectors, dtype=np.float32), np.array(added, dtype=np.int64)
                )

    def delete_document(self, doc_id: str) -> bool:
        """Remove a document; True when it existed."""
        with self._lock:
            index = self.index
            if self.docstore.document(doc_id) is None:
                return False
            with self.docstore.transaction() as conn:
                removed = self.docstore.delete_document(conn, doc_id)
            self._index_generation = self.docstore.generation
            self._remove_ids(index, removed)
            return True

    def _remove_ids(self, index: Any, rowids: list[int]) -> None:
        if not rowids:
            return
        if self.index_type == "hnsw":  # HNSW cannot delete in place: rebuild from the stored vectors
            self._index = self._build_from_docstore()
            return
        index.remove_ids(np.array(rowids, dtype=np.int64))

    def persist(self) -> None:
        """Write the FAISS index for the docstore's current generation (atomic replace)."""
        with self._lock:
            if self.read_only:
                raise VectorStoreError(f"index {self.index_dir} is open read-only")
            generation = self.docstore.generation
            if self._needs_training(self.index):
                self._index = self._build_from_docstore()
            self._write(self.index, generation)
            self._index_generation = generation

    def _needs_training(self, index: Any) -> bool:
        """An IVF store starts exact (too few vectors to train); retrain once there are enough."""
        return (
            self.index_type == "ivf"
            and not isinstance(index, faiss.IndexIVF)
            and index.ntotal >= 39 * self.ivf_nlist
        )

    # -- reads -------------------------------------------------------------------------------------
    def count(self) -> int:
        """Number of searchable child chunks."""
        return int(self.index.ntotal)

    def filter_candidates(self, filter: dict[str, Any] | None) -> dict[int, str] | None:
        """``{rowid: chunk id}`` of the child chunks that may match ``filter`` (a superset), from one
        SQL query; None when the filter says nothing SQL can use (then every chunk is a candidate)."""
        validate(filter)
        where = to_sql(filter)
        return None if where is None else self.docstore.child_rowids_where(*where)

    def search_by_vector(
        self,
        vector: np.ndarray,
        k: int,
        filter: dict[str, Any] | None = None,
        *,
        candidates: Callable[[], dict[int, str] | None] | None = None,
    ) -> list[tuple[Chunk, float]]:
        """The ``k`` child chunks most similar to ``vector`` that match ``filter``, best first.

        With a filter, the nearest chunks are fetched in widening rounds and tested. A filter that
        is still short of ``k`` hits after :data:`NARROW_AFTER` chunks is selective: then one SQL
        query (:meth:`filter_candidates`, or ``candidates`` when the caller shares one) says which
        rows can match, and FAISS searches only those through an ``IDSelectorBatch``. So a broad
        filter costs no SQL scan, and one matching nothing no longer loads every chunk to test it.
        """
        validate(filter)
        index = self.index
        total = int(index.ntotal)
        if total == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        search: Callable[[int], tuple[np.ndarray, np.ndarray]] = lambda n: index.search(query, n)  # noqa: E731
        fetch = k if not filter else min(total, k * 8)
        narrowed = False
        while True:
            scores, ids = search(min(fetch, total))
            found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
            chunks = self.docstore.chunks_by_rowid([i for i, _ in found])
            hits = [(chunks[i], s) for i, s in found if i in chunks and matches(chunks[i].metadata(), filter)]
            if len(hits) >= k or fetch >= total:
                return hits[:k]
            fetch = min(total, fetch * 8)
            if filter and not narrowed and fetch > NARROW_AFTER:
                narrowed = True
                allowed = candidates() if candidates is not None else self.filter_candidates(filter)
                if allowed is not None:
                    if not allowed:
                        return hits[:k]
                    search = _selector_search(index, query, allowed)
                    total, fetch = min(total, len(allowed)), min(len(allowed), NARROW_AFTER)

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """Chunks (any kind) by id, in the order asked, missing ones left out."""
        found = self.docstore.chunks_by_id(ids)
        return [found[i] for i in ids if i in found]

    def get_parent(self, chunk: Chunk) -> Chunk | None:
        """The parent section of a child chunk."""
        if chunk.parent_id is None:
            return None
        found = self.docstore.chunks_by_id([chunk.parent_id])
        return found.get(chunk.parent_id)

    def get_vectors(self, ids: Sequence[str]) -> np.ndarray:
        """Stored vectors of child chunks, in the order of ``ids`` (all must exist)."""
        rowids = self.docstore.rowids_for_ids(ids)
        missing = [i for i in ids if i not in rowids]
        if missing:
            raise VectorStoreError(f"no stored vector for chunk ids {missing[:5]}")
        rows, vecs = self.docstore.vectors([rowids[i] for i in ids])
        position = {int(r): n for n, r in enumerate(rows)}
        return vecs[[position[rowids[i]] for i in ids]]

    def iter_chunks(self, kind: str | None = "child") -> Iterator[Chunk]:
        """Every chunk of ``kind`` in the store."""
        return self.docstore.iter_chunks(kind)

    # -- LangChain VectorStore interface ---------------------------------------------------------
    @property
    def embeddings(self) -> Embeddings:
        return LangChainEmbeddings(self.embedder)

    def similarity_search_with_score(  # type: ignore[override]
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        vector = self.embedder.embed_query(query)
        return [(c.to_document(), s) for c, s in self.search_by_vector(vector, k, filter)]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        hits = self.search_by_vector(np.asarray(embedding), k, kwargs.get("filter"))
        return [c.to_document() for c, _ in hits]

    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        return self.max_marginal_relevance_search_by_vector(
            self.embedder.embed_query(query).tolist(), k, fetch_k, lambda_mult, **kwargs
        )

    def max_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        query = np.asarray(embedding, dtype=np.float32)
        candidates = self.search_by_vector(query, fetch_k, kwargs.get("filter"))
        if not candidates:
            return []
        vectors = self.get_vectors([c.id for c, _ in candidates])
        picked = maximal_marginal_relevance(query, list(vectors), lambda_mult=lambda_mult, k=k)
        return [candidates[i][0].to_document() for i in picked]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return lambda score: (score + 1.0) / 2.0  # cosine in [-1, 1] -> [0, 1]

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [c.to_document() for c in self.get_chunks(ids)]

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete whole documents: ``ids`` are document ids (chunks live and die with their file)."""
        if ids is None:
            return False
        done = [self.delete_document(i) for i in ids]
        self.persist()
        return all(done)

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Add loose texts, each as a one-chunk document (for LangChain users; ingest uses the pipeline)."""
        texts = list(texts)
        metadatas = metadatas or [{} for _ in texts]
        ids = ids or [uuid.uuid4().hex for _ in texts]
        vectors = self.embedder.embed(texts)
        for text, meta, cid, vec in zip(texts, metadatas, ids, vectors):
            source = str(meta.get("source", f"text:{cid}"))
            chunk = Chunk(
                id=cid,
                doc_id=cid,
                text=text,
                source=source,
                file_name=Path(source).name,
                file_type=str(meta.get("file_type", "text")),
                page_start=meta.get("page"),
                page_end=meta.get("page"),
                title=str(meta.get("title", "")),
            )
            record = DocumentRecord(
                doc_id=cid,
                source=source,
                file_name=chunk.file_name,
                file_type=chunk.file_type,
                content_hash="",
                n_children=1,
                ingested_at=now(),
            )
            self.replace_document(record, [chunk], vec.reshape(1, -1))
        self.persist()
        return ids

    @classmethod
    def from_texts(  # type: ignore[override]
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        index_dir: Path | None = None,
        **kwargs: Any,
    ) -> FaissVectorStore:
        """Build a store from texts; ``embedding`` must wrap a citewise Embedder (``LangChainEmbeddings``)."""
        if not isinstance(embedding, LangChainEmbeddings):
            raise VectorStoreError("FaissVectorStore.from_texts needs LangChainEmbeddings(citewise embedder)")
        store = cls(Path(index_dir or tempfile.mkdtemp(prefix="citewise-")), embedding.embedder, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    def close(self) -> None:
        """Close the docstore."""
        self.docstore.close()


def _selector_search(
    index: Any, query: np.ndarray, allowed: dict[int, str]
) -> Callable[[int], tuple[np.ndarray, np.ndarray]]:
    """A search over ``index`` restricted to the rowids in ``allowed``."""
    import faiss

    selector = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
    params: Any
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:  # IVF takes only its own parameter type, which carries nprobe
        params = faiss.SearchParametersIVF()
        params.nprobe = ivf.nprobe
    else:  # flat and HNSW (which keeps its efSearch when given base parameters)
        params = faiss.SearchParameters()
    params.sel = selector

    def search(n: int) -> tuple[np.ndarray, np.ndarray]:
        _ = selector  # the parameters hold a raw pointer: keep the selector alive with them
        result: tuple[np.ndarray, np.ndarray] = index.search(query, n, params=params)
        return result

    return search

"""Incremental, persisted BM25 keyword index (bm25s tokenization and scoring, PyStemmer stems).

Why not ``bm25s.BM25`` itself: it precomputes ``idf * tf-norm`` into one matrix, so every added or
deleted file changes every score and forces a full rebuild. This index keeps *raw* term
frequencies in immutable segments (term -> postings of ``(row, tf)``), plus document lengths,
and computes bm25s' Lucene formula at query time from live document frequencies and the live
average length. Adding a file writes one small new segment; deleting one writes tombstones.
When segments pile up or too many rows are dead, all segments are merged into one (a vectorized
numpy pass over the postings, no re-tokenization). Scores equal a from-scratch
``bm25s.BM25(method="lucene")`` over the live documents.

On disk (a directory): ``seg-<n>.npz`` (postings, ``allow_pickle=False``), ``seg-<n>.json``
(row chunk ids, doc ids, metadata and the terms the segment added to the vocabulary) and
``manifest.json`` (segment list, tombstones, parameters). Every file is written to a temp file,
fsynced and renamed; the manifest is written last, so a crash leaves the previous state. One
writer at a time (the ingest pipeline holds the index lock).
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.base import Chunk, RetrievalError
from retrieval.durable import atomic_write_bytes
from retrieval.vectorstores.filters import NARROW_AFTER

logger = logging.getLogger(__name__)

_MANIFEST = "manifest.json"
_FORMAT_VERSION = 1


class BM25IndexError(RetrievalError):
    """The BM25 index files are missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class _Segment:
    """Immutable postings of a contiguous range of rows: term-major CSR with raw term counts."""

    name: str
    terms: np.ndarray  # sorted unique term ids, int64
    indptr: np.ndarray  # len(terms) + 1, int64
    rows: np.ndarray  # global row of each posting, int64
    tfs: np.ndarray  # term count of each posting, float64

    def postings(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and term counts of ``term_id`` in this segment (empty arrays when absent)."""
        pos = int(np.searchsorted(self.terms, term_id))
        if pos >= len(self.terms) or self.terms[pos] != term_id:
            return self.rows[:0], self.tfs[:0]
        start, end = int(self.indptr[pos]), int(self.indptr[pos + 1])
        return self.rows[start:end], self.tfs[start:end]

    def expanded_terms(self) -> np.ndarray:
        """The term id of every posting (the CSR expanded)."""
        return np.repeat(self.terms, np.diff(self.indptr))


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    """Serialize arrays as an uncompressed .npz in memory (no pickle)."""
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def _build_postings(row_ids: np.ndarray, term_ids: np.ndarray) -> tuple[np.ndarray, ...]:
    """Term-major postings from one (row, term) pair per token: terms, indptr, rows, tfs."""
    if len(term_ids) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros(1, dtype=np.int64), empty, np.zeros(0, dtype=np.float64)
    order = np.lexsort((row_ids, term_ids))
    t_sorted, r_sorted = term_ids[order], row_ids[order]
    new_pair = np.ones(len(order), dtype=bool)
    new_pair[1:] = (t_sorted[1:] != t_sorted[:-1]) | (r_sorted[1:] != r_sorted[:-1])
    starts = np.flatnonzero(new_pair)
    tfs = np.diff(np.append(starts, len(order))).astype(np.float64)
    p_terms, p_rows = t_sorted[starts], r_sorted[starts]
    terms, first = np.unique(p_terms, return_index=True)
    indptr = np.append(first, len(p_terms)).astype(np.int64)
    return terms.astype(np.int64), indptr, p_rows.astype(np.int64), tfs


class BM25Index:
    """A BM25 index over child chunks that is updated per file and persisted under ``path``.

    Args:
        path: Directory of the index files (created on first write).
        stemmer_language: PyStemmer language, or ``""`` for no stemming.
        k1: BM25 term-frequency saturation.
        b: BM25 length normalization.
        max_segments: Merge all segments into one when there are more than this.
        max_dead_fraction: Merge (dropping tombstoned rows) when more than this share is dead.
    """

    def __init__(
        self,
        path: Path,
        *,
        stemmer_language: str = "english",
        k1: float = 1.5,
        b: float = 0.75,
        max_segments: int = 8,
        max_dead_fraction: float = 0.25,
    ) -> None:
        if k1 <= 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 > 0 and 0 <= b <= 1, got k1={k1!r} b={b!r}")
        if max_segments < 1 or not 0 < max_dead_fraction <= 1:
            raise ValueError(
                f"bad merge policy: max_segments={max_segments!r} max_dead_fraction={max_dead_fraction!r}"
            )
        self.path = Path(path)
        self.stemmer_language = stemmer_language
        self.k1, self.b = float(k1), float(b)
        self.max_segments, self.max_dead_fraction = max_segments, max_dead_fraction
        self._stemmer: Any = None
        self._loaded = False
        self._reset()

    # ----------------------------------------------------------------------------- state
    def _reset(self) -> None:
        self._vocab: dict[str, int] = {}
        self._terms: list[str] = []
        self._df = np.zeros(0, dtype=np.int64)
        self._segments: list[_Segment] = []
        self._seg_vocab_sizes: list[int] = []
        self._chunk_ids: list[str] = []
        self._doc_ids: list[str] = []
        self._meta: list[dict[str, Any]] = []
        self._doc_len = np.zeros(0, dtype=np.float64)
        self._alive = np.zeros(0, dtype=bool)
        self._row_of: dict[str, int] = {}
        self._rows_of_doc: dict[str, list[int]] = {}
        self._next_seg = 0
        self._norm_cache: np.ndarray | None = None
        self._values_cache: dict[str, list[str]] = {}

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._load()
            self._loaded = True

    # ----------------------------------------------------------------------------- tokens
    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """bm25s tokenization (lowercase, English stopwords, stems): one token list per text."""
        import bm25s

        if self._stemmer is None and self.stemmer_language:
            import Stemmer

            self._stemmer = Stemmer.Stemmer(self.stemmer_language)
        tokens = bm25s.tokenize(
            list(texts), stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )
        return [list(t) for t in tokens]  # type: ignore[union-attr]

    def _term_ids(self, tokens: Iterable[str], grow: bool) -> list[int]:
        ids: list[int] = []
        for tok in tokens:
            tid = self._vocab.get(tok)
            if tid is None:
                if not grow:
                    continue
                tid = len(self._terms)
                self._vocab[tok] = tid
                self._terms.append(tok)
            ids.append(tid)
        return ids

    # ----------------------------------------------------------------------------- queries
    def __len__(self) -> int:
        self._ensure_loaded()
        return int(self._alive.sum())

    def __contains__(self, chunk_id: object) -> bool:
        self._ensure_loaded()
        row = self._row_of.get(chunk_id) if isinstance(chunk_id, str) else None
        return row is not None and bool(self._alive[row])

    def doc_ids(self) -> set[str]:
        """Ids of documents with at least one live chunk."""
        self._ensure_loaded()
        return set(self._rows_of_doc)

    def knows(self, word: str) -> bool:
        """Whether ``word``, tokenized and stemmed like the documents, occurs in a live chunk.

        Words the tokenizer drops (stopwords) cannot be judged and count as known.
        """
        self._ensure_loaded()
        tokens = self.tokenize([word])[0]
        if not tokens:
            return True
        ids = self._term_ids(tokens, grow=False)
        return len(ids) == len(tokens) and all(self._df[t] > 0 for t in ids)

    def field_values(self, field: str) -> list[str]:
        """Distinct values of a metadata field over live chunks, sorted (e.g. the indexed file names)."""
        self._ensure_loaded()
        if field not in self._values_cache:
            live = np.flatnonzero(self._alive).tolist()
            values = {str(self._meta[r][field]) for r in live if self._meta[r].get(field) not in (None, "")}
            self._values_cache[field] = sorted(values)
        return self._values_cache[field]

    def _norms(self) -> np.ndarray:
        """Per-row ``k1 * (1 - b + b * len / avg_len)`` for the live corpus (cached until a change)."""
        if self._norm_cache is None:
            n_live = int(self._alive.sum())
            avg = float(self._doc_len[self._alive].sum()) / n_live if n_live else 1.0
            avg = avg if avg > 0 else 1.0
            self._norm_cache = self.k1 * ((1.0 - self.b) + self.b * self._doc_len / avg)
        return self._norm_cache

    def score_all(self, query: str) -> np.ndarray:
        """BM25 score of every row for ``query`` (dead rows score 0). For tests and debugging."""
        self._ensure_loaded()
        scores = np.zeros(len(self._chunk_ids), dtype=np.float64)
        n_live = int(self._alive.sum())
        if n_live == 0:
            return scores
        norms = self._norms()
        for tid in self._term_ids(self.tokenize([query])[0], grow=False):
            df = float(self._df[tid])
            if df <= 0:
                continue
            idf = np.log(1.0 + (n_live - df + 0.5) / (df + 0.5))
            for seg in self._segments:
                rows, tfs = seg.postings(tid)
                if len(rows):
                    contrib = idf * tfs / (norms[rows] + tfs) * self._alive[rows]
                    scores += np.bincount(rows, weights=contrib, minlength=len(scores))
        return scores

    def search(
        self,
        query: str,
        k: int,
        filter: dict[str, Any] | None = None,
        *,
        candidates: Callable[[], Collection[str] | None] | None = None,
    ) -> list[tuple[str, float]]:
        """The ``k`` best live chunks for ``query`` as ``(chunk_id, score)``, best first.

        Args:
            query: Free text; tokenized like the documents.
            k: Number of hits wanted.
            filter: Mongo-style metadata filter (``retrieval.vectorstores.filters``), evaluated on
                the scored candidates in score order only.
            candidates: Returns the chunk ids that may match ``filter`` (a superset, e.g. from the
                docstore's SQL). Asked once the filter has rejected :data:`NARROW_AFTER` hits in a
                row; from then on other ids are skipped without evaluating the filter, and an
                empty answer ends the search.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k!r}")
        scores = self.score_all(query)
        cand = np.flatnonzero(scores > 0)
        if len(cand) == 0:
            return []
        order = cand[np.lexsort((cand, -scores[cand]))]
        if filter is None:
            return [(self._chunk_ids[r], float(scores[r])) for r in order[:k]]
        from retrieval.vectorstores.filters import matches

        out: list[tuple[str, float]] = []
        allowed: Collection[str] | None = None
        for tested, r in enumerate(order):
            if tested == NARROW_AFTER and candidates is not None and len(out) < k:
                allowed = candidates()
                if allowed is not None and not allowed:
                    break
            if allowed is not None and self._chunk_ids[r] not in allowed:
                continue
            if matches(self._meta[r], filter):
                out.append((self._chunk_ids[r], float(scores[r])))
                if len(out) >= k:
                    break
        return out

    # ----------------------------------------------------------------------------- updates
    def add(self, chunks: Sequence[Chunk]) -> int:
        """Index ``chunks`` (child chunks; parents are skipped). Re-added ids replace the old row.

        Returns:
            Number of chunks indexed.
        """
        self._ensure_loaded()
        chunks = [c for c in chunks if c.kind == "child"]
        if not chunks:
            return 0
        self._tombstone([self._row_of[c.id] for c in chunks if c.id in self._row_of])
        seg = self._new_segment(chunks)
        self._maybe_merge()
        self._write_manifest()
        logger.info("bm25 add chunks=%s segment=%s live=%s", len(chunks), seg.name, len(self))
        return len(chunks)

    def delete_document(self, doc_id: str) -> int:
        """Tombstone every chunk of ``doc_id``; returns how many were removed."""
        self._ensure_loaded()
        rows = list(self._rows_of_doc.get(doc_id, []))
        if not rows:
            return 0
        self._tombstone(rows)
        self._maybe_merge()
        self._write_manifest()
        logger.info("bm25 delete doc_id=%s chunks=%s", doc_id, len(rows))
        return len(rows)

    def _tombstone(self, rows: Sequence[int]) -> None:
        rows_arr = np.unique(np.asarray(rows, dtype=np.int64))
        rows_arr = rows_arr[self._alive[rows_arr]]
        if len(rows_arr) == 0:
            return
        for seg in self._segments:
            hit = np.isin(seg.rows, rows_arr)
            if hit.any():
                np.subtract.at(self._df, seg.expanded_terms()[hit], 1)
        self._alive[rows_arr] = False
        for r in rows_arr.tolist():
            if self._row_of.get(self._chunk_ids[r]) == r:
                del self._row_of[self._chunk_ids[r]]
            doc_rows = self._rows_of_doc.get(self._doc_ids[r])
            if doc_rows is not None:
                doc_rows.remove(r)
                if not doc_rows:
                    del self._rows_of_doc[self._doc_ids[r]]
        self._norm_cache = None
        self._values_cache = {}

    def _new_segment(self, chunks: Sequence[Chunk]) -> _Segment:
        first_row, first_term = len(self._chunk_ids), len(self._terms)
        token_lists = self.tokenize([c.text for c in chunks])
        row_parts, term_parts = [], []
        for i, toks in enumerate(token_lists):
            ids = self._term_ids(toks, grow=True)
            term_parts.append(np.asarray(ids, dtype=np.int64))
            row_parts.append(np.full(len(ids), first_row + i, dtype=np.int64))
        lengths = np.asarray([len(t) for t in token_lists], dtype=np.float64)
        terms, indptr, rows, tfs = _build_postings(np.concatenate(row_parts), np.concatenate(term_parts))
        seg = _Segment(f"seg-{self._next_seg:06d}", terms, indptr, rows, tfs)
        self._next_seg += 1
        metas = [c.metadata() for c in chunks]
        self._write_segment(
            seg, [c.id for c in chunks], [c.doc_id for c in chunks], metas, lengths, first_term
        )
        self._attach_segment(seg, [c.id for c in chunks], [c.doc_id for c in chunks], metas, lengths)
        return seg

    def _attach_segment(
        self,
        seg: _Segment,
        chunk_ids: list[str],
        doc_ids: list[str],
        metas: list[dict[str, Any]],
        lengths: np.ndarray,
    ) -> None:
        """Make a segment's rows live in memory (rows must continue the current row numbering)."""
        first_row = len(self._chunk_ids)
        self._segments.append(seg)
        self._seg_vocab_sizes.append(len(self._terms))
        self._chunk_ids.extend(chunk_ids)
        self._doc_ids.extend(doc_ids)
        self._meta.extend(metas)
        self._doc_len = np.concatenate([self._doc_len, lengths])
        self._alive = np.concatenate([self._alive, np.ones(len(chunk_ids), dtype=bool)])
        for i, (cid, did) in enumerate(zip(chunk_ids, doc_ids, strict=True)):
            self._row_of[cid] = first_row + i
            self._rows_of_doc.setdefault(did, []).append(first_row + i)
        if len(self._df) < len(self._terms):
            self._df = np.concatenate([self._df, np.zeros(len(self._terms) - len(self._df), np.int64)])
        np.add.at(self._df, seg.expanded_terms(), 1)
        self._norm_cache = None
        self._values_cache = {}

    def _maybe_merge(self) -> None:
        n_rows = len(self._chunk_ids)
        dead = n_rows - int(self._alive.sum())
        if len(self._segments) > self.max_segments or (n_rows and dead / n_rows > self.max_dead_fraction):
            self._merge()

    def merge(self) -> None:
        """Merge all segments into one, dropping tombstoned rows, and persist (e.g. after a bulk load)."""
        self._ensure_loaded()
        if len(self._segments) > 1 or not self._alive.all():
            self._merge()
            self._write_manifest()

    def _merge(self) -> None:
        alive = self._alive
        new_row = np.cumsum(alive) - 1
        row_parts, term_parts, tf_parts = [], [], []
        for seg in self._segments:
            keep = alive[seg.rows]
            row_parts.append(new_row[seg.rows[keep]])
            term_parts.append(seg.expanded_terms()[keep])
            tf_parts.append(seg.tfs[keep])
        live = np.flatnonzero(alive).tolist()
        chunk_ids = [self._chunk_ids[r] for r in live]
        doc_ids = [self._doc_ids[r] for r in live]
        metas = [self._meta[r] for r in live]
        lengths = self._doc_len[alive]
        terms, indptr, rows, tfs = self._merge_postings(row_parts, term_parts, tf_parts)
        seg = _Segment(f"seg-{self._next_seg:06d}", terms, indptr, rows, tfs)
        vocab_terms, next_seg = list(self._terms), self._next_seg + 1
        self._write_segment(seg, chunk_ids, doc_ids, metas, lengths, 0)
        self._reset()
        self._terms, self._vocab, self._next_seg = (
            vocab_terms,
            {t: i for i, t in enumerate(vocab_terms)},
            next_seg,
        )
        self._attach_segment(seg, chunk_ids, doc_ids, metas, lengths)
        logger.info("bm25 merged rows=%s terms=%s", len(chunk_ids), len(vocab_terms))

    @staticmethod
    def _merge_postings(
        row_parts: list[np.ndarray], term_parts: list[np.ndarray], tf_parts: list[np.ndarray]
    ) -> tuple[np.ndarray, ...]:
        rows = np.concatenate(row_parts) if row_parts else np.zeros(0, np.int64)
        terms = np.concatenate(term_parts) if term_parts else np.zeros(0, np.int64)
        tfs = np.concatenate(tf_parts) if tf_parts else np.zeros(0, np.float64)
        order = np.lexsort((rows, terms))
        rows, terms, tfs = rows[order], terms[order], tfs[order]
        uniq, first = np.unique(terms, return_index=True)
        return uniq.astype(np.int64), np.append(first, len(terms)).astype(np.int64), rows, tfs

    # ----------------------------------------------------------------------------- persistence
    def _write_segment(
        self,
        seg: _Segment,
        chunk_ids: list[str],
        doc_ids: list[str],
        metas: list[dict[str, Any]],
        lengths: np.ndarray,
        first_term: int,
    ) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        arrays = _npz_bytes(terms=seg.terms, indptr=seg.indptr, rows=seg.rows, tfs=seg.tfs, lengths=lengths)
        atomic_write_bytes(self.path / f"{seg.name}.npz", arrays)
        side = {
            "chunk_ids": chunk_ids,
            "doc_ids": doc_ids,
            "meta": metas,
            "first_term": first_term,
            "new_terms": self._terms[first_term:],
        }
        atomic_write_bytes(self.path / f"{seg.name}.json", json.dumps(side).encode("utf-8"))

    def _write_manifest(self) -> None:
        dead = np.flatnonzero(~self._alive).tolist()
        manifest = {
            "version": _FORMAT_VERSION,
            "k1": self.k1,
            "b": self.b,
            "stemmer_language": self.stemmer_language,
            "segments": [s.name for s in self._segments],
            "dead_rows": dead,
            "next_segment": self._next_seg,
        }
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path / _MANIFEST, json.dumps(manifest).encode("utf-8"))
        self._remove_orphans({s.name for s in self._segments})

    def _remove_orphans(self, keep: set[str]) -> None:
        for f in self.path.glob("seg-*.*"):
            if f.stem not in keep and f.suffix in (".npz", ".json"):
                f.unlink(missing_ok=True)

    def _load(self) -> None:
        manifest_path = self.path / _MANIFEST
        self._reset()
        if not manifest_path.is_file():
            return
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            self._check_manifest(manifest)
            for name in manifest["segments"]:
                self._load_segment(name)
            self._next_seg = int(manifest["next_segment"])
            self._tombstone([int(r) for r in manifest["dead_rows"]])
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
            raise BM25IndexError(f"cannot read the BM25 index at {self.path}: {e}") from e
        logger.debug("bm25 loaded path=%s rows=%s", self.path, len(self._chunk_ids))

    def _check_manifest(self, manifest: dict[str, Any]) -> None:
        if manifest.get("version") != _FORMAT_VERSION:
            raise ValueError(f"unknown format version {manifest.get('version')!r}")
        saved = (manifest["k1"], manifest["b"], manifest["stemmer_language"])
        if saved != (self.k1, self.b, self.stemmer_language):
            raise ValueError(
                f"index built with k1,b,stemmer={saved!r}, opened with "
                f"{(self.k1, self.b, self.stemmer_language)!r}: rebuild it"
            )

    def _load_segment(self, name: str) -> None:
        side = json.loads((self.path / f"{name}.json").read_text(encoding="utf-8"))
        if int(side["first_term"]) != len(self._terms) and side["first_term"] != 0:
            raise ValueError(f"segment {name} does not continue the vocabulary")
        if side["first_term"] == 0:
            self._terms, self._vocab = [], {}
        for term in side["new_terms"]:
            self._vocab[term] = len(self._terms)
            self._terms.append(term)
        with np.load(self.path / f"{name}.npz", allow_pickle=False) as z:
            seg = _Segment(name, z["terms"], z["indptr"], z["rows"], z["tfs"])
            lengths = z["lengths"]
        if len(seg.rows) and int(seg.rows.min()) < len(self._chunk_ids):
            raise ValueError(f"segment {name} overlaps earlier rows")
        self._attach_segment(seg, list(side["chunk_ids"]), list(side["doc_ids"]), list(side["meta"]), lengths)

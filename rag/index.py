"""One loaded index version and the searches the retriever and reader run on it: dense (exact, or
inside an approximate FAISS index), BM25, filters, records and term statistics. The Milvus store
(rag/milvus_store.py) offers the same methods."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.types import Chunk, Where

ROWS = "rows.npz"
# A filter that leaves at most this many rows is answered by an exact scan of those rows; a larger
# one searches inside the approximate index with a FAISS IDSelector.
EXACT_ROWS = 50_000
# A question searched in another language's IVF partition probes the lists nearest to it moved this
# share of the way from its language's passages toward theirs (the mean vectors' difference). Chosen
# on dev questions at 100k passages (0.3-0.7 gain alike, 1.0 loses); at 1M passages (3,471 lists,
# 256 probed) Chinese questions then find 0.948 of their exact top 10 among the English passages,
# 0.911 unmoved (bench/scale_bench.py).
LANGUAGE_SHIFT = 0.5


def key_for(chunk_id: str) -> int:
    """The int64 FAISS id of a chunk: the first 60 bits of its (hex) content hash."""
    return int(chunk_id[:15], 16)


@dataclass
class Index:
    """One loaded, read-only index version."""

    folder: Path
    manifest: dict[str, Any]
    chunks: Sequence[Chunk]  # a list, or `rag.records.Lines` reading chunks.jsonl on demand
    tokens: Sequence[list[str]]
    embeddings: np.ndarray  # (n, dim) float32, row i is chunks[i]
    faiss_index: Any
    bm25: Any
    sentence_vectors: np.ndarray | None = None  # (m, dim) float16; see SENTENCES
    sentence_ptr: np.ndarray | None = None  # (n + 1,) int64
    parts: dict[str, Any] = field(default_factory=dict)  # language -> approximate index over its rows
    keys: np.ndarray | None = None  # (n,) int64, key_for(chunks[i].id)
    _last_lexical: tuple[tuple[str, ...], np.ndarray] | None = field(default=None, repr=False)

    def sentences_of(self, row: int) -> np.ndarray | None:
        """The vectors of chunk `row`'s sentences (in `rag.sentences.split` order), or None."""
        if self.sentence_vectors is None or self.sentence_ptr is None:
            return None
        return self.sentence_vectors[int(self.sentence_ptr[row]) : int(self.sentence_ptr[row + 1])]

    def __post_init__(self) -> None:
        if self.keys is None:
            self.keys = np.array([key_for(c.id) for c in self.chunks], dtype=np.int64)
        self._order = np.argsort(self.keys, kind="stable")
        self._sorted_keys = self.keys[self._order]

    def _row_of_key(self, key: int) -> int | None:
        i = int(np.searchsorted(self._sorted_keys, key))
        if i < len(self._sorted_keys) and self._sorted_keys[i] == key:
            return int(self._order[i])
        return None

    def _found(self, dist: np.ndarray, ids: np.ndarray) -> list[tuple[int, float]]:
        """(row, similarity) of one FAISS result row, whose ids are chunk keys (-1: no hit)."""
        return [(self._row_of_key(int(i)), float(d)) for d, i in zip(dist[0], ids[0]) if i != -1]

    @property
    def model_id(self) -> str:
        return str(self.manifest["model"]["id"])

    @property
    def version(self) -> str:
        return self.folder.name

    def __len__(self) -> int:
        return len(self.chunks)

    def search_dense(
        self, query: np.ndarray, k: int, rows: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """(row, inner product) of the `k` nearest chunks, optionally only among `rows`."""
        if k < 1:
            raise ValueError("k must be at least 1")
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        if len(self.chunks) == 0:
            return []
        if rows is not None:
            # A filtered search scores the allowed rows exactly; cheaper and exact for any index kind.
            rows = np.asarray(rows, dtype=np.int64)
            if rows.size == 0:
                return []
            scores = self.embeddings[rows] @ q[0]
            top = np.argsort(-scores, kind="stable")[:k]
            return [(int(rows[i]), float(scores[i])) for i in top]
        return self._found(*self.faiss_index.search(q, min(k, len(self.chunks))))

    # ---- the store interface the retriever and reader use (the Milvus store has the same methods)

    @cached_property
    def columns(self):  # -> rag.select.Columns
        from rag.select import Columns

        if (self.folder / ROWS).is_file() and ROWS in self.manifest.get("files", {}):
            return Columns.load(self.folder / ROWS)
        return Columns.of(self.chunks)

    @cached_property
    def languages(self) -> tuple[str, ...]:
        return self.columns.present_languages()

    def dense(self, query: np.ndarray, k: int, where: Where | None = None,
              effort: int = 1, asked: str | None = None) -> list[tuple[int, float]]:
        """(row, similarity) of the `k` nearest chunks that `where` allows: an exact scan of the allowed
        rows when they are few, else a search inside the index (a language's own partition, and a FAISS
        IDSelector for any other restriction), never a larger search filtered afterwards. `effort`
        multiplies an approximate index's search effort (IVF lists probed); `asked`, the question's
        language: another language's partition is probed where its translation would lie."""
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        part = self.parts.get(where.language) if where is not None and where.language else None
        if part is not None and where == Where(language=where.language) and part.ntotal > EXACT_ROWS:
            # A language alone is a partition: no rows to compute, nothing to filter.
            k = min(k, part.ntotal)
            lists = self._lists_toward(q[0], where.language, asked, effort) \
                if asked and asked != where.language else None
            if lists is not None:
                return self._found(*_search_lists(part, q, k, lists))
            return self._found(*part.search(q, k, params=_search_params(part, None, effort)))
        rows = self.columns.rows(where)
        if rows is not None and rows.size == 0:
            return []
        if rows is None or rows.size <= EXACT_ROWS:
            return self.search_dense(query, k, rows=rows)
        import faiss

        target = part if part is not None else self.faiss_index
        assert self.keys is not None
        sel = faiss.IDSelectorBatch(self.keys[rows])
        return self._found(*target.search(q, min(k, rows.size), params=_search_params(target, sel, effort)))

    @cached_property
    def _centers(self) -> dict[str, np.ndarray]:
        """Each language partition's mean vector: from its IVF centroids weighted by their lists' sizes,
        or from a flat partition's vectors."""
        import faiss

        out = {}
        for lang, part in self.parts.items():
            inner = faiss.downcast_index(part.index)
            ivf = faiss.try_extract_index_ivf(inner)
            if ivf is not None:
                out[lang] = ivf_mean(ivf)
            elif isinstance(inner, faiss.IndexFlat) and inner.ntotal:
                xb = faiss.rev_swig_ptr(inner.get_xb(), inner.ntotal * inner.d).reshape(inner.ntotal, inner.d)
                out[lang] = xb.mean(axis=0).astype(np.float32)
        return out

    def _lists_toward(self, q: np.ndarray, target: str, asked: str, effort: int) -> np.ndarray | None:
        """The IVF lists of `target`'s partition to probe for a question in language `asked`: those
        nearest the question moved `LANGUAGE_SHIFT` of the way from the asked language's passages
        toward the target's (the model places a translation about there); None where it cannot."""
        import faiss

        centers = self._centers
        ivf = faiss.try_extract_index_ivf(faiss.downcast_index(self.parts[target].index))
        if ivf is None or target not in centers or asked not in centers:
            return None
        moved = q + LANGUAGE_SHIFT * (centers[target] - centers[asked])
        scores = _centroids(ivf) @ (moved / (np.linalg.norm(moved) or 1.0))
        n = min(ivf.nlist, ivf.nprobe * effort)
        return np.argpartition(-scores, n - 1)[:n].astype(np.int64)

    def lexical(self, tokens: list[str], k: int, where: Where | None = None) -> list[tuple[int, float]]:
        """(row, BM25 score) of the `k` best lexical matches (score > 0) that `where` allows."""
        scores = self._lexical_scores(tuple(tokens))
        rows = self.columns.rows(where)
        if rows is not None:
            keep = np.zeros_like(scores, dtype=bool)
            keep[rows] = True
            scores = np.where(keep, scores, 0.0)
        found = np.flatnonzero(scores > 0)
        if found.size > k:  # a partial sort: a million scores need not be ordered for the best 50
            found = found[np.argpartition(-scores[found], k - 1)[:k]]
        # Highest score first, ties by row: the order a stable full sort gives.
        found = found[np.lexsort((found, -scores[found]))]
        return [(int(r), float(scores[r])) for r in found]

    def lexical_by_term(self, tokens: list[str], where: Where | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """token -> (rows, BM25 scores) of the passages holding it that `where` allows: read from the
        token's postings alone, so a scoped question costs what its calls hold, not the index's size."""
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        rows = self.columns.rows(where)
        allowed = None
        if rows is not None:
            allowed = np.zeros(len(self.chunks), dtype=bool)
            allowed[rows] = True
        vocab = self.bm25.vocab_dict if self.bm25 is not None else {}
        for token in dict.fromkeys(tokens):
            i = vocab.get(token)
            if i is None:
                out[token] = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
                continue
            indptr = self.bm25.scores["indptr"]
            docs = np.asarray(self.bm25.scores["indices"][indptr[i]:indptr[i + 1]], dtype=np.int64)
            vals = np.asarray(self.bm25.scores["data"][indptr[i]:indptr[i + 1]], dtype=np.float32)
            if allowed is not None:
                keep = allowed[docs]
                docs, vals = docs[keep], vals[keep]
            out[token] = (docs, vals)
        return out

    def dense_of(self, query: np.ndarray, rows: list[int]) -> dict[int, float]:
        """Similarity of the query to each of the given rows (those lexical search alone found)."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        return {int(r): float(self.embeddings[int(r)] @ q) for r in rows}

    def lexical_of(self, tokens: list[str], rows: list[int]) -> dict[int, float]:
        """BM25 scores (> 0) of the given rows, found by any retriever."""
        scores = self._lexical_scores(tuple(tokens))
        return {r: float(scores[r]) for r in rows if scores[r] > 0}

    def _lexical_scores(self, tokens: tuple[str, ...]) -> np.ndarray:
        # The retriever asks for the same query's scores twice (top rows, then the fused rows' own).
        cached = self._last_lexical
        if cached is not None and cached[0] == tokens:
            return cached[1]
        scores = self.lexical_scores(list(tokens))
        self._last_lexical = (tokens, scores)
        return scores

    def is_boilerplate(self, row: int) -> bool:
        return bool(self.columns.boilerplate[row])

    def chunk(self, row: int) -> Chunk:
        return self.chunks[row]

    def chunks_of(self, rows: list[int]) -> dict[int, Chunk]:
        return {r: self.chunks[r] for r in rows}

    def chunks_by_ids(self, chunk_ids: list[str]) -> list[Chunk]:
        return [self.chunk_by_id(i) for i in chunk_ids]

    def row_of(self, chunk_id: str) -> int:
        row = self._row_of_key(key_for(chunk_id))
        if row is None or self.chunks[row].id != chunk_id:
            raise KeyError(f"no chunk {chunk_id!r} in index {self.folder}")
        return row

    def chunk_by_id(self, chunk_id: str) -> Chunk:
        return self.chunks[self.row_of(chunk_id)]

    def df(self, token: str) -> int:
        """In how many chunks a lexical token occurs: the length of its BM25 posting list."""
        if self.bm25 is None:
            return 0
        i = self.bm25.vocab_dict.get(token)
        indptr = self.bm25.scores["indptr"]
        return int(indptr[i + 1] - indptr[i]) if i is not None and i + 1 < len(indptr) else 0

    def idf(self, token: str) -> float:
        """IDF weight (BM25's, Lucene variant) for the reader's features outside BM25."""
        n, df = len(self.chunks), self.df(token)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def lexical_scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk (row-aligned) for the query tokens."""
        if not query_tokens or len(self.chunks) == 0:
            return np.zeros(len(self.chunks), dtype=np.float32)
        vocab = self.bm25.vocab_dict
        known = [t for t in query_tokens if t in vocab]
        if not known:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)


def _centroids(ivf: Any) -> np.ndarray:
    """An IVF index's list centroids, (nlist, d), read from its flat quantizer."""
    import faiss

    quantizer = faiss.downcast_index(ivf.quantizer)
    return faiss.rev_swig_ptr(quantizer.get_xb(), ivf.nlist * ivf.d).reshape(ivf.nlist, ivf.d)


def ivf_mean(ivf: Any) -> np.ndarray:
    """The mean of an IVF index's vectors, near enough: its centroids weighted by their lists' sizes."""
    sizes = np.array([ivf.invlists.list_size(i) for i in range(ivf.nlist)], dtype=np.float64)
    return (sizes @ _centroids(ivf) / max(1.0, sizes.sum())).astype(np.float32)


def _search_lists(index: Any, q: np.ndarray, k: int, lists: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Search `index` (an IVF index, or an IndexIDMap2 over one) in the given lists only; (distances,
    ids). The lists' own centroid scores go with them: an inner-product scan over residuals adds them."""
    import faiss

    mapped = hasattr(index, "id_map")
    ivf = faiss.try_extract_index_ivf(faiss.downcast_index(index.index) if mapped else index)
    assign = lists.reshape(1, -1)
    coarse = (_centroids(ivf)[lists] @ q[0]).astype(np.float32).reshape(1, -1)
    dist, labels = np.empty((1, k), dtype=np.float32), np.empty((1, k), dtype=np.int64)
    # The C++ call takes the lists' count from its parameters, so nothing shared is changed.
    ivf.search_preassigned_c(1, faiss.swig_ptr(q), k, faiss.swig_ptr(assign), faiss.swig_ptr(coarse),
                             faiss.swig_ptr(dist), faiss.swig_ptr(labels), False,
                             faiss.SearchParametersIVF(nprobe=len(lists)), None)
    if not mapped:
        return dist, labels
    # Only the k hits' keys: the whole map is a partition's size (6 MB at 750k passages).
    keys = np.array([[index.id_map.at(int(i)) if i >= 0 else -1 for i in labels[0]]], dtype=np.int64)
    return dist, keys


def _search_params(index: Any, sel: Any, effort: int = 1) -> Any:
    """Parameters for one search of `index` (an IndexIDMap2) with a selector (or None), at its own
    effort times `effort`."""
    import faiss

    base = faiss.downcast_index(index.index)
    ivf = faiss.try_extract_index_ivf(base)
    if ivf is not None:
        return faiss.SearchParametersIVF(sel=sel, nprobe=min(ivf.nlist, ivf.nprobe * effort))
    if isinstance(base, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=sel, efSearch=base.hnsw.efSearch)
    return faiss.SearchParameters(sel=sel)

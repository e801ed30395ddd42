"""A delta version: a full base version plus a small segment of what changed since (its passages, and
the base passages it deletes), read as one index. Adding a call to a large index then writes only
that call's vectors, records and postings; the base's files are shared and never rewritten until a
compaction (a full build) folds the delta in.

Rows are numbered over live passages: the base's live rows first, in order, then the delta's. Dense
and lexical searches run in each segment and merge by score; the base is asked for `k` plus the
number of its deleted rows so that tombstones never leave fewer than `k` live results. Lexical
scores of the delta's passages are computed with the whole index's term statistics (BM25, Lucene
variant, as bm25s), while the base keeps the statistics it was built with; a delta is folded in
before it reaches a few percent of the base, so the difference stays small.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from rag.index import Index, key_for
from rag.types import Chunk, Where

K1, B = 1.5, 0.75  # bm25s's defaults


class _Rows(Sequence):
    """A per-row field of the live rows (records, tokens, vectors) read from the segment that has it."""

    def __init__(self, seg: Segmented, get: Callable[[Index, int], Any], stream: Callable[[Index], Any]) -> None:
        self.seg, self.get, self.stream = seg, get, stream

    def __len__(self) -> int:
        return len(self.seg)

    def __getitem__(self, g):
        if isinstance(g, slice):
            return [self[i] for i in range(*g.indices(len(self)))]
        index, row = self.seg.locate(int(g))
        return self.get(index, row)

    def __iter__(self) -> Iterator[Any]:
        alive = self.seg.alive
        for r, value in enumerate(self.stream(self.seg.base)):
            if alive[r]:
                yield value
        yield from self.stream(self.seg.delta)


class Segmented:
    """One delta version over its base, with the search interface of `rag.index.Index`."""

    def __init__(self, base: Index, delta: Index, deleted: np.ndarray) -> None:
        self.base, self.delta = base, delta
        self.folder, self.manifest = delta.folder, delta.manifest
        self.alive = ~np.isin(base.keys, np.asarray(deleted, dtype=np.int64))
        self._base_rows = np.flatnonzero(self.alive)
        self.n_base = len(self._base_rows)
        self.n_deleted = len(base) - self.n_base
        self.keys = np.concatenate([base.keys[self._base_rows], delta.keys])
        self.chunks = _Rows(self, lambda ix, r: ix.chunks[r], lambda ix: iter(ix.chunks))
        self.tokens = _Rows(self, lambda ix, r: ix.tokens[r], lambda ix: iter(ix.tokens))
        self.embeddings = _Rows(self, lambda ix, r: ix.embeddings[r], lambda ix: iter(ix.embeddings))
        self._last_scores: tuple[tuple[str, ...], np.ndarray] | None = None

    # ---- rows

    def __len__(self) -> int:
        return self.n_base + len(self.delta)

    def locate(self, g: int) -> tuple[Index, int]:
        if not 0 <= g < len(self):
            raise IndexError(f"row {g} out of range (0..{len(self) - 1})")
        return (self.base, int(self._base_rows[g])) if g < self.n_base else (self.delta, g - self.n_base)

    def _from_base(self, r: int) -> int | None:
        i = int(np.searchsorted(self._base_rows, r))
        return i if i < self.n_base and self._base_rows[i] == r else None

    @property
    def version(self) -> str:
        return self.folder.name

    @property
    def model_id(self) -> str:
        return str(self.manifest["model"]["id"])

    @property
    def sentence_ptr(self) -> np.ndarray | None:
        both = self.base.sentence_ptr is not None and self.delta.sentence_ptr is not None
        return self.base.sentence_ptr if both else None

    def sentences_of(self, g: int) -> np.ndarray | None:
        index, row = self.locate(g)
        return index.sentences_of(row)

    @cached_property
    def columns(self):  # -> rag.select.Columns
        from rag.select import Columns

        return Columns.concat(self.base.columns, self._base_rows, self.delta.columns)

    @cached_property
    def languages(self) -> tuple[str, ...]:
        return self.columns.present_languages()

    # ---- searches

    def dense(self, query: np.ndarray, k: int, where: Where | None = None,
              effort: int = 1, asked: str | None = None) -> list[tuple[int, float]]:
        found = [(g, s) for r, s in self.base.dense(query, k + self.n_deleted, where, effort, asked)
                 if (g := self._from_base(r)) is not None]
        found += [(self.n_base + r, s) for r, s in self.delta.dense(query, k, where, effort, asked)]
        return sorted(found, key=lambda x: (-x[1], x[0]))[:k]

    def lexical(self, tokens: list[str], k: int, where: Where | None = None) -> list[tuple[int, float]]:
        found = [(g, s) for r, s in self.base.lexical(tokens, k + self.n_deleted, where)
                 if (g := self._from_base(r)) is not None]
        scores = self._delta_scores(tuple(tokens))
        rows = self.delta.columns.rows(where)
        allowed = np.arange(len(self.delta)) if rows is None else rows
        found += [(self.n_base + int(r), float(scores[r])) for r in allowed if scores[r] > 0]
        return sorted(found, key=lambda x: (-x[1], x[0]))[:k]

    def lexical_by_term(self, tokens: list[str], where: Where | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """As `Index.lexical_by_term`: the base's postings (its deleted passages left out) and the delta's."""
        base = self.base.lexical_by_term(tokens, where)
        rows = self.delta.columns.rows(where)
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for token, (docs, vals) in base.items():
            i = np.searchsorted(self._base_rows, docs)
            alive = (i < self.n_base) & (self._base_rows[np.minimum(i, self.n_base - 1)] == docs) if self.n_base else \
                np.zeros(len(docs), dtype=bool)
            scores = self._score_delta((token,))
            extra = np.flatnonzero(scores > 0) if rows is None else rows[scores[rows] > 0]
            out[token] = (np.concatenate([i[alive], self.n_base + extra]).astype(np.int64),
                          np.concatenate([vals[alive], scores[extra]]).astype(np.float32))
        return out

    def _in_base(self, rows: list[int]) -> dict[int, int]:
        """{base row: row} of the given rows that lie in the base."""
        return {int(self._base_rows[g]): g for g in rows if g < self.n_base}

    def dense_of(self, query: np.ndarray, rows: list[int]) -> dict[int, float]:
        base_rows = self._in_base(rows)
        out = {base_rows[r]: s for r, s in self.base.dense_of(query, list(base_rows)).items()}
        delta = self.delta.dense_of(query, [g - self.n_base for g in rows if g >= self.n_base])
        out.update({self.n_base + r: s for r, s in delta.items()})
        return out

    def lexical_of(self, tokens: list[str], rows: list[int]) -> dict[int, float]:
        base_rows = self._in_base(rows)
        out = {base_rows[r]: s for r, s in self.base.lexical_of(tokens, list(base_rows)).items()}
        scores = self._delta_scores(tuple(tokens))
        out.update({g: float(scores[g - self.n_base]) for g in rows
                    if g >= self.n_base and scores[g - self.n_base] > 0})
        return out

    @cached_property
    def _delta_terms(self) -> tuple[list[Counter[str]], np.ndarray]:
        counts = [Counter(t) for t in self.delta.tokens]
        return counts, np.array([sum(c.values()) for c in counts], dtype=np.float64)

    def _delta_scores(self, tokens: tuple[str, ...]) -> np.ndarray:
        # The retriever asks twice per question (top rows, then the fused rows' own scores).
        cached = self._last_scores
        if cached is not None and cached[0] == tokens:
            return cached[1]
        scores = self._score_delta(tokens)
        self._last_scores = (tokens, scores)
        return scores

    def _score_delta(self, tokens: tuple[str, ...]) -> np.ndarray:
        counts, lengths = self._delta_terms
        avgdl = float(self.manifest.get("avg_tokens") or (lengths.mean() if len(lengths) else 1.0)) or 1.0
        norm = K1 * (1 - B + B * lengths / avgdl)
        scores = np.zeros(len(counts), dtype=np.float64)
        for t in tokens:
            tf = np.array([c.get(t, 0) for c in counts], dtype=np.float64)
            if tf.any():
                scores += self.idf(t) * tf / (tf + norm)
        return scores.astype(np.float32)

    def is_boilerplate(self, g: int) -> bool:
        return bool(self.columns.boilerplate[g])

    # ---- records

    def chunk(self, g: int) -> Chunk:
        index, row = self.locate(g)
        return index.chunks[row]

    def chunks_of(self, rows: list[int]) -> dict[int, Chunk]:
        return {g: self.chunk(g) for g in rows}

    def row_of(self, chunk_id: str) -> int:
        key = key_for(chunk_id)
        r = self.delta._row_of_key(key)
        if r is not None and self.delta.chunks[r].id == chunk_id:
            return self.n_base + r
        r = self.base._row_of_key(key)
        g = self._from_base(r) if r is not None else None
        if g is None or self.base.chunks[r].id != chunk_id:
            raise KeyError(f"no chunk {chunk_id!r} in index {self.folder}")
        return g

    def chunk_by_id(self, chunk_id: str) -> Chunk:
        return self.chunk(self.row_of(chunk_id))

    def chunks_by_ids(self, chunk_ids: list[str]) -> list[Chunk]:
        return [self.chunk_by_id(i) for i in chunk_ids]

    # ---- term statistics

    @cached_property
    def _deleted_df(self) -> Counter[str]:
        df: Counter[str] = Counter()
        for r in np.flatnonzero(~self.alive):
            df.update(set(self.base.tokens[int(r)]))
        return df

    def df(self, token: str) -> int:
        return self.base.df(token) - self._deleted_df.get(token, 0) + self.delta.df(token)

    def idf(self, token: str) -> float:
        n, df = len(self), self.df(token)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

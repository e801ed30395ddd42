"""The FAISS store's filters: per-chunk metadata columns of a loaded index and the rows a `Where`
allows (the Milvus store turns the same `Where` into a filter expression, rag/milvus_store.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.types import Chunk, Where


class Columns:
    """Metadata of every chunk as arrays, built once per loaded index version."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        def col(f) -> np.ndarray:
            return np.array([f(c) for c in chunks], dtype=object)

        self.n = len(chunks)
        self.doc_id = col(lambda c: c.doc_id)
        self.ticker = col(lambda c: (c.meta.ticker or "").upper() if c.meta else "")
        self.period = col(lambda c: c.meta.period if c.meta else None)
        self.language = col(lambda c: c.language)
        self.section = col(lambda c: c.section)
        self.names = col(lambda c: names_of(c))
        self.roles = col(lambda c: {s.role for s in c.speakers})
        self.boilerplate = np.array([c.boilerplate for c in chunks], dtype=bool)

    def rows(self, where: Where | None) -> np.ndarray | None:
        """Row numbers `where` allows, ascending; None when it restricts nothing."""
        if where is None or not where.restricts:
            return None
        mask = np.ones(self.n, dtype=bool)
        if where.ticker:
            mask &= self.ticker == where.ticker.upper()
        if where.company:
            name = where.company.lower()
            mask &= np.fromiter((name in names for names in self.names), dtype=bool, count=self.n)
        for key in ("period", "language", "section"):
            value = getattr(where, key)
            if value:
                mask &= getattr(self, key) == value
        if where.role:
            mask &= np.fromiter((where.role in roles for roles in self.roles), dtype=bool, count=self.n)
        if where.doc_ids is not None:
            mask &= np.isin(self.doc_id, list(where.doc_ids))
        return np.flatnonzero(mask)


def names_of(chunk: Chunk) -> set[str]:
    """The lower-cased names a company filter matches: the company and its aliases."""
    m = chunk.meta
    return {n.lower() for n in ((m.company,) + m.aliases) if n} if m else set()

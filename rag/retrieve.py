"""Hybrid retrieval: dense (e5 query prompt) and BM25 (jieba tokens, glossary-expanded across
languages), fused by weighted reciprocal rank, restricted by metadata filters and question scope."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np

from rag.embed import Embedder
from rag.glossary import expand
from rag.ingest.meta import normalize_period
from rag.lexical import tokenize
from rag.scope import Catalog, Scope, detect
from rag.store import Index
from rag.types import ROLES, SECTIONS, Hit


@dataclass(frozen=True)
class Filters:
    """Metadata restrictions; every field is optional and they combine with AND."""

    ticker: str | None = None
    company: str | None = None
    period: str | None = None
    language: str | None = None
    section: str | None = None
    role: str | None = None  # a speaker role that must be among the chunk's speakers

    def __post_init__(self) -> None:
        if self.section is not None and self.section not in SECTIONS:
            raise ValueError(f"filters.section must be one of {', '.join(SECTIONS)}")
        if self.role is not None and self.role not in ROLES:
            raise ValueError(f"filters.role must be one of {', '.join(ROLES)}")
        if self.language is not None and self.language not in ("en", "zh"):
            raise ValueError("filters.language must be 'en' or 'zh'")
        if self.period is not None:
            period = normalize_period(self.period)
            if period is None:
                raise ValueError(f"filters.period {self.period!r} is not a fiscal quarter like FY2025Q4 or Q4 2025")
            object.__setattr__(self, "period", period)

    @classmethod
    def from_dict(cls, d: dict[str, str | None] | None) -> "Filters":
        d = d or {}
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise ValueError(f"unknown filter key(s) {unknown}; allowed: {sorted(allowed)}")
        return cls(**{k: v for k, v in d.items() if v not in (None, "")})


@dataclass
class Weights:
    dense: float = 1.0
    lexical: float = 1.0
    rrf_k: int = 60
    candidates: int = 50  # per retriever, before fusion
    boilerplate: float = 0.5  # multiplier for safe-harbor / operator passages
    glossary: bool = True  # expand the lexical query with other-language glossary terms


class Retriever:
    """Searches one loaded index; cheap to build, holds per-chunk metadata arrays for filtering."""

    def __init__(self, index: Index, embedder: Embedder, weights: Weights | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.weights = weights or Weights()

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.index.manifest.get("documents", {}))

    @cached_property
    def _meta(self) -> dict[str, np.ndarray]:
        def col(f) -> np.ndarray:
            return np.array([f(c) for c in self.index.chunks], dtype=object)

        return {
            "doc_id": col(lambda c: c.doc_id),
            "ticker": col(lambda c: (c.meta.ticker or "").upper() if c.meta else ""),
            "period": col(lambda c: c.meta.period if c.meta else None),
            "language": col(lambda c: c.language),
            "section": col(lambda c: c.section),
            "names": col(lambda c: {n.lower() for n in ((c.meta.company,) + c.meta.aliases) if n} if c.meta else set()),
            "roles": col(lambda c: {s.role for s in c.speakers}),
            "boilerplate": np.array([c.boilerplate for c in self.index.chunks], dtype=bool),
        }

    def scope(self, question: str) -> Scope:
        return detect(question, self.catalog)

    def allowed_rows(self, filters: Filters | None, scope: Scope | None) -> np.ndarray | None:
        """Rows that pass the filters and the question's scope; None when nothing restricts."""
        m = self._meta
        mask = np.ones(len(self.index), dtype=bool)
        restricted = False
        f = filters or Filters()
        if f.ticker:
            mask &= m["ticker"] == f.ticker.upper()
            restricted = True
        if f.company:
            name = f.company.lower()
            mask &= np.array([name in names for names in m["names"]], dtype=bool)
            restricted = True
        for key in ("period", "language", "section"):
            value = getattr(f, key)
            if value:
                mask &= m[key] == value
                restricted = True
        if f.role:
            mask &= np.array([f.role in roles for roles in m["roles"]], dtype=bool)
            restricted = True
        if scope is not None and scope.doc_ids:
            mask &= np.isin(m["doc_id"], list(scope.doc_ids))
            restricted = True
        return np.flatnonzero(mask) if restricted else None

    def _dense_ranked(self, query_vector: np.ndarray, n: int, rows: np.ndarray | None) -> dict[int, tuple[int, float]]:
        """{row: (dense rank, similarity)}. The model scores a question higher against passages in
        its own language than against a translation of the answer (measured: an English question
        ranked the Chinese passage holding the answer below 50 English ones), so passages are ranked
        within their language and each language's best compete on equal terms in the fusion."""
        lang = self._meta["language"]
        kinds = set(lang if rows is None else lang[rows])
        if len(kinds) < 2:
            return {r: (i, sim) for i, (r, sim) in enumerate(self.index.search_dense(query_vector, n, rows=rows))}
        everything = np.arange(len(self.index)) if rows is None else rows
        out: dict[int, tuple[int, float]] = {}
        for kind in sorted(kinds):
            part = everything[lang[everything] == kind]
            for i, (r, sim) in enumerate(self.index.search_dense(query_vector, n, rows=part)):
                out[r] = (i, sim)
        return out

    def retrieve(
        self,
        question: str,
        top_k: int = 5,
        filters: Filters | None = None,
        scope: Scope | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """The `top_k` best chunks for `question` by fused dense + lexical rank."""
        if not 1 <= top_k <= 50:
            raise ValueError("top_k must be between 1 and 50")
        if not question.strip():
            raise ValueError("question must not be empty")
        rows = self.allowed_rows(filters, scope)
        if rows is not None and rows.size == 0:
            return []
        w = self.weights
        n = w.candidates
        if query_vector is None:
            query_vector = self.embedder.embed_queries([question])[0]
        dense = self._dense_ranked(query_vector, n, rows)
        lex_query = expand(question) if w.glossary else question
        scores = self.index.lexical_scores(tokenize(lex_query))
        if rows is not None:
            keep = np.zeros_like(scores, dtype=bool)
            keep[rows] = True
            scores = np.where(keep, scores, 0.0)
        lex_rows = [int(r) for r in np.argsort(-scores, kind="stable")[:n] if scores[r] > 0]

        fused: dict[int, float] = {}
        for r, (rank, _) in dense.items():
            fused[r] = fused.get(r, 0.0) + w.dense / (w.rrf_k + rank + 1)
        for rank, r in enumerate(lex_rows):
            fused[r] = fused.get(r, 0.0) + w.lexical / (w.rrf_k + rank + 1)
        boiler = self._meta["boilerplate"]
        for r in fused:
            if boiler[r]:
                fused[r] *= w.boilerplate
        dense_of = {r: sim for r, (_, sim) in dense.items()}
        best = sorted(fused, key=lambda r: -fused[r])[:top_k]
        return [
            Hit(
                chunk=self.index.chunks[r],
                row=r,
                score=fused[r],
                dense=dense_of.get(r),
                lexical=float(scores[r]) if scores[r] > 0 else None,
            )
            for r in best
        ]

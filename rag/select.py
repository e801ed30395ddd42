"""The FAISS store's filters: per-chunk metadata of a loaded index as small coded arrays, and the rows
a `Where` allows (the Milvus store turns the same `Where` into a filter expression).

Document fields (doc id, ticker, period, company names) are kept once per document and chunks point
at their document, so a million passages cost a few bytes each; `rows.npz` stores the codes at build
time so loading does not read every chunk record."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rag.types import ROLES, SECTIONS, Chunk, Where

LANGUAGES = ("en", "zh")


class Columns:
    """Metadata of every chunk: `doc` (document code per chunk) and per-document and per-chunk fields."""

    def __init__(self, doc_ids: list[str], tickers: list[str], periods: list[str], names: list[set[str]],
                 doc: np.ndarray, language: np.ndarray, section: np.ndarray, roles: np.ndarray,
                 boilerplate: np.ndarray, languages: list[str]) -> None:
        self.doc_ids = np.asarray(doc_ids, dtype=object)
        self.tickers = np.asarray(tickers, dtype=object)
        self.periods = np.asarray(periods, dtype=object)
        self.names = names
        self.doc = doc.astype(np.int32)
        self.lang_code = language.astype(np.uint8)
        self.section_code = section.astype(np.uint8)
        self.roles = roles.astype(np.uint8)  # bit i: ROLES[i] speaks in the chunk
        self.boilerplate = boilerplate.astype(bool)
        self.languages = list(languages)
        self.n = len(self.doc)
        self._position: dict[str, list[int]] | None = None
        # One question asks for the same rows several times (each language's dense search, BM25).
        self._last: tuple[Where, np.ndarray] | None = None

    @classmethod
    def of(cls, chunks: Iterable[Chunk]) -> Columns:
        docs: dict[str, int] = {}
        tickers, periods, names, languages = [], [], [], list(LANGUAGES)
        doc, lang, section, roles, boiler = [], [], [], [], []
        for c in chunks:
            d = docs.get(c.doc_id)
            if d is None:
                d = docs[c.doc_id] = len(docs)
                m = c.meta
                tickers.append((m.ticker or "").upper() if m else "")
                periods.append((m.period or "") if m else "")
                names.append(names_of(c))
            if c.language not in languages:
                languages.append(c.language)
            doc.append(d)
            lang.append(languages.index(c.language))
            section.append(SECTIONS.index(c.section) if c.section in SECTIONS else 255)
            roles.append(sum(1 << ROLES.index(r) for r in {s.role for s in c.speakers} if r in ROLES))
            boiler.append(c.boilerplate)
        return cls(list(docs), tickers, periods, names, np.asarray(doc, dtype=np.int32),
                   np.asarray(lang, dtype=np.uint8), np.asarray(section, dtype=np.uint8),
                   np.asarray(roles, dtype=np.uint8), np.asarray(boiler, dtype=bool), languages)

    def save(self, path: Path) -> None:
        with open(path, "wb") as f:  # a file object: np.savez would add ".npz" to a bare name
            np.savez(f, doc_ids=np.asarray(self.doc_ids, dtype=str), tickers=np.asarray(self.tickers, dtype=str),
                     periods=np.asarray(self.periods, dtype=str),
                     names=np.asarray(["\x1f".join(sorted(n)) for n in self.names], dtype=str), doc=self.doc,
                     language=self.lang_code, section=self.section_code, roles=self.roles,
                     boilerplate=self.boilerplate, languages=np.asarray(self.languages, dtype=str))

    @classmethod
    def load(cls, path: Path) -> Columns:
        z = np.load(path, allow_pickle=False)
        return cls([str(x) for x in z["doc_ids"]], [str(x) for x in z["tickers"]], [str(x) for x in z["periods"]],
                   [set(filter(None, str(x).split("\x1f"))) for x in z["names"]], z["doc"], z["language"],
                   z["section"], z["roles"], z["boilerplate"], [str(x) for x in z["languages"]])

    @classmethod
    def concat(cls, a: Columns, a_rows: np.ndarray, b: Columns) -> Columns:
        """`a`'s rows `a_rows` followed by all of `b`'s (a base version's live rows, then a delta's)."""
        languages = list(a.languages) + [x for x in b.languages if x not in a.languages]
        recode = np.array([languages.index(x) for x in b.languages], dtype=np.uint8)
        return cls(list(a.doc_ids) + list(b.doc_ids), list(a.tickers) + list(b.tickers),
                   list(a.periods) + list(b.periods), list(a.names) + list(b.names),
                   np.concatenate([a.doc[a_rows], b.doc + len(a.doc_ids)]),
                   np.concatenate([a.lang_code[a_rows], recode[b.lang_code] if b.n else b.lang_code]),
                   np.concatenate([a.section_code[a_rows], b.section_code]), np.concatenate([a.roles[a_rows], b.roles]),
                   np.concatenate([a.boilerplate[a_rows], b.boilerplate]), languages)

    def rows_by_doc(self) -> dict[str, list[int]]:
        """Each document's rows, ascending, without reading a record."""
        order = np.argsort(self.doc, kind="stable")
        out: dict[str, list[int]] = {}
        for group in np.split(order, np.flatnonzero(np.diff(self.doc[order])) + 1):
            if len(group):
                out.setdefault(str(self.doc_ids[self.doc[group[0]]]), []).extend(group.tolist())
        return {d: sorted(r) for d, r in out.items()}

    @property
    def language(self) -> np.ndarray:
        """The language of every chunk (an object array of the language names)."""
        return np.asarray(self.languages, dtype=object)[self.lang_code]

    def present_languages(self) -> tuple[str, ...]:
        return tuple(sorted(self.languages[i] for i in np.unique(self.lang_code)))

    def rows(self, where: Where | None) -> np.ndarray | None:
        """Row numbers `where` allows, ascending; None when it restricts nothing."""
        if where is None or not where.restricts:
            return None
        last = self._last  # read once: services answer questions on several threads
        if last is not None and last[0] == where:
            return last[1]
        rows = self._rows(where)
        rows.flags.writeable = False  # shared by the searches of one question
        self._last = (where, rows)
        return rows

    def _rows(self, where: Where) -> np.ndarray:
        docs = np.ones(len(self.doc_ids), dtype=bool)
        if where.ticker:
            docs &= self.tickers == where.ticker.upper()
        if where.company:
            name = where.company.lower()
            docs &= np.fromiter((name in n for n in self.names), dtype=bool, count=len(self.names))
        if where.period:
            docs &= self.periods == where.period
        if where.doc_ids is not None:
            # By position, not np.isin: over object arrays isin compares strings in Python (139 ms for
            # a thousand calls among 20,000 at a million passages).
            if self._position is None:
                position: dict[str, list[int]] = {}
                for i, d in enumerate(self.doc_ids):  # a delta's columns may name a document twice
                    position.setdefault(str(d), []).append(i)
                self._position = position
            wanted = np.zeros(len(self.doc_ids), dtype=bool)
            wanted[[i for d in where.doc_ids for i in self._position.get(d, ())]] = True
            docs &= wanted
        mask = docs[self.doc]
        if where.language:
            code = self.languages.index(where.language) if where.language in self.languages else -1
            mask &= self.lang_code == code
        if where.section:
            mask &= self.section_code == (SECTIONS.index(where.section) if where.section in SECTIONS else -1)
        if where.role:
            mask &= (self.roles & (1 << ROLES.index(where.role))) != 0 if where.role in ROLES else False
        return np.flatnonzero(mask)


def names_of(chunk: Chunk) -> set[str]:
    """The lower-cased names a company filter matches: the company and its aliases."""
    m = chunk.meta
    return {n.lower() for n in ((m.company,) + m.aliases) if n} if m else set()

"""Hybrid retrieval: dense (e5 query prompt) and BM25 (jieba tokens, glossary-expanded across
languages), fused by weighted reciprocal rank, restricted by metadata filters and question scope."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, fields, replace
from functools import cached_property

import numpy as np

from rag.cedict import common_word, english
from rag.embed import Embedder
from rag.glossary import expand, groups
from rag.ingest.meta import normalize_period
from rag.lexical import STOPWORDS, tokenize
from rag.scope import (
    Catalog, Scope, detect, initials, name_words, subject_names, typed_companies, without_companies,
)
from rag.text_lang import language
from rag.types import ROLES, SECTIONS, Hit, Where


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


def _bm25_idf(n: int, df: int) -> float:
    """BM25's IDF (Lucene's variant, as bm25s) of a term in `df` of `n` passages."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


# An approximate index searched for a question in the other language probes this many times its lists.
# At 1M passages (IVF over 8-bit vectors, 128 of 3,471 lists) Chinese questions found 0.859 of their
# exact top 10 among the English passages at 1.9 ms, 0.908 at 2x (3.2 ms), 0.948 at 4x (7.1 ms);
# English ones 0.964 at 1x. An ask makes several dense searches: at 4x its p50 rose from 86 to
# 111-117 ms, past the 100 ms goal, at 2x it stayed 86-92 ms (bench/scale_bench.py, scale_e2e.py).
# The lists are also chosen toward the other language (`rag.index.LANGUAGE_SHIFT`): 0.948 at 2x.
# Exact and HNSW searches ignore it.
CROSS_LANGUAGE_EFFORT = 2
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LOWER_WORD = re.compile(r"(?<![A-Za-z0-9])[a-z][a-z0-9-]{2,}(?![A-Za-z0-9])")
_FIRST_WORD = re.compile(r"\W*([A-Z][a-z][a-z0-9-]+)(?![A-Za-z0-9])")
# A word that may be a company's name typed one letter off: five letters or more.
_TYPO_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][a-z]{4,}(?![A-Za-z0-9])")
# How many passages holding a word are read to see how the calls write it (`_spelt_as_name`).
NAME_SAMPLE = 200
# A word in more passages than this is common, not a name that tells one company's calls apart.
NAME_MAX_ROWS = 500
# The first word of one company's name names it when more than this share of the passages holding
# it are that company's (a majority: the word is mostly used of the company, not as a common word).
LEADING_SHARE = 0.5
# Past this many passages a scope is a large part of a corpus and its term weights are the corpus's.
SCOPE_IDF_MAX_ROWS = 5_000


@dataclass
class Weights:
    dense: float = 1.0
    lexical: float = 1.0
    rrf_k: int = 60
    candidates: int = 50  # per retriever, before fusion
    boilerplate: float = 0.5  # multiplier for safe-harbor / operator passages
    glossary: bool = True  # expand the lexical query with other-language glossary terms
    dictionary: bool = True  # and a Chinese question with CC-CEDICT senses of words the glossary lacks
    scope_idf: bool = True  # a scoped question's BM25 term weights come from the scope's passages


class Retriever:
    """Searches one loaded index (FAISS or Milvus, through the same methods); cheap to build. Filters
    and the question's scope become one `Where` that the store applies inside its own search."""

    def __init__(self, index, embedder: Embedder, weights: Weights | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.weights = weights or Weights()

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.index.manifest.get("documents", {}))

    def scope(self, question: str) -> Scope:
        """What the question names; a question naming no company but a name that only one company's
        calls hold ("Trainium", "Amy Hood") is scoped to that company's calls that hold it."""
        found = detect(question, self.catalog)
        if found.tickers and not found.missing_companies:
            # Beside a company named in full, another named by its first word only ("Compare Hormel and
            # General Dynamics", "zoetis and edwards growth"): both are asked about.
            rest = without_companies(question, set(found.tickers), self.catalog)
            more = self._led(rest) - set(found.tickers)
            if more:
                return detect(question, self.catalog, also=frozenset(more))
        if found.missing_companies and not found.tickers:
            # "on tal's q1 call, answering Morgan Stanley's analyst": a company typed in lower case
            # beside a capitalised name its own calls hold (the analyst's firm) is read as if the
            # company had been capitalised, where that name is then no longer missing.
            owned = self._owned(question)
            if owned:
                alt = detect(question, self.catalog, implied=owned)
                if alt.tickers and not alt.missing_companies:
                    return alt
        # A period no call has is read only once the company is known: "edwards 1Q22 guide" names
        # Edwards by a word its calls hold, and a quarter after its newest call is that call's outlook.
        if found.tickers or found.missing_companies or found.unheard:
            return found
        # A company the index holds no call of, typed as a word ("adobe revenue q3", "nvda guide"): the
        # same "not in the index" as its capitalised name gets, or the passages' figures answer for
        # another company (read before `_owned`: "nvidia" said only on Microsoft's calls is no product
        # of Microsoft's). A name that is also an ordinary word ("target", "meta") counts only where the
        # calls write it as a name, never in lower case; a ticker only where no passage holds it.
        # (Not beside a company the index holds typed the same way: "did initech mention nvidia?".)
        typed = [name for word, name, ticker in typed_companies(question, self.catalog.tickers)
                 if (not ticker and (not common_word(word) or self._spelt_as_name(word)))
                 or (ticker and not common_word(word) and self._unheard([word]))]
        typed = typed if typed and not self._led(question) else []
        if typed and self.catalog.unidentified:
            # As `detect` does for a capitalised name: a document whose company could not be read may be it.
            return Scope(doc_ids=tuple(sorted(self.catalog.unidentified)))
        if typed:
            return replace(found, doc_ids=(), missing_companies=tuple(dict.fromkeys(typed)))
        owned = self._owned(question)
        if owned:
            return detect(question, self.catalog, implied=owned)
        # Naming no company the index holds and something no passage mentions ("Rivian's margin?",
        # 宁德时代的营收): whatever the passages say is about something else, so nothing answers.
        # A Chinese name may be an indexed company the matcher does not know (安费诺: Amphenol, 通用动力:
        # General Dynamics, whose words every call holds): read as before, then held to the company it
        # is nearest to (`Assistant`).
        names = subject_names(question)
        unheard = self._unheard(names)
        latin = tuple(n for n in unheard if not _HAN.search(n))
        spelt = [self.catalog.acronyms.get(initials(n)) for n in latin]
        if latin and all(spelt) and len(set(spelt)) == 1:
            # "Ajax Consolidated Mining Enterprises" where the calls say only "ACME": the name spelt out
            # is the one company whose ticker, or name in capitals, its initials are (a name no passage
            # holds is otherwise a company the index does not know). Only when every unheard name is it.
            return detect(question, self.catalog, also=frozenset(spelt))
        if latin:
            return replace(found, doc_ids=(), unheard=latin)
        han = tuple(n for n in names if _HAN.search(n))
        return replace(found, unconfirmed=han) if han else found

    def scope_to(self, question: str, ticker: str) -> Scope:
        """The question's scope read as naming this company (one a Chinese name was matched to)."""
        return detect(question, self.catalog, also=frozenset({ticker}))

    @cached_property
    def _name_words(self) -> dict[str, tuple[str, str]]:
        """Lower-cased one-word names and first words of the index's companies, as `detect` and `_owned`
        read them typed in lower case -> (the word as the company writes it, ticker)."""
        written: dict[str, str] = {}
        for name, _ in self.catalog.names:
            first = name.split()[0] if name.split() else ""
            written.setdefault(first.lower(), first)
        return {w: (written.get(w, w), t) for w, t in {**self.catalog.leading, **self.catalog.lowered}.items()}

    def spelled(self, question: str) -> str:
        """`question` with a company's name typed one letter off ("Microsft", "snowflak", "Mastercrad")
        written as the company writes it, where the word is no ordinary word, no passage holds it and it
        is one edit (a letter dropped, added, changed or two swapped) from one company's name alone."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        fixes: list[tuple[str, str]] = []
        for m in _TYPO_WORD.finditer(question):
            written, word = m.group(0), m.group(0).lower()
            singular = word[:-1] if word.endswith("s") else word
            if word in self._name_words or common_word(word) or common_word(singular) or word in STOPWORDS \
                    or groups(word):
                continue
            near = [k for k, _, _ in process.extract(word, list(self._name_words), scorer=OSA.distance, score_cutoff=1,
                                                     limit=None)]
            if len({self._name_words[k][1] for k in near}) != 1:
                continue
            # A word the calls use is no typo, unless it is the name's own stem ("snowflak").
            if self._named_elsewhere(word) and tokenize(word) != tokenize(near[0]):
                continue
            fixes.append((written, self._name_words[near[0]][0]))
        # A question naming a company already: its other words are people, products, currencies ("kroner").
        if not fixes or detect(question, self.catalog).tickers or self._led(question):
            return question
        for written, name in fixes:
            question = question.replace(written, name, 1)
        return question

    def _named_elsewhere(self, word: str) -> bool:
        """Some passage holds `word`: a word of the calls, not a misspelt name."""
        return bool(len(self._rows_holding(word, 1)))

    def _rows_holding(self, word: str, n: int) -> np.ndarray:
        """Up to `n` rows whose passages hold `word`'s (first) token, anywhere in the index."""
        token = tokenize(word)
        if not token:
            return np.zeros(0, dtype=np.int64)
        return self._postings(token[:1], n, Where()).get(token[0], (np.zeros(0, dtype=np.int64),))[0][:n]

    def _unheard(self, names: list[str]) -> tuple[str, ...]:
        """The names some word of which no passage in the index holds, by itself or as one of its
        CC-CEDICT senses (英特尔 is heard where "Intel" is, 北美 where "North America" is), and Latin
        names of several words no one passage holds together ("Affiliated Managers Group" where calls
        say "affiliated", "managers" and "group" but never in one passage: a company the index does
        not know by that name, unless its initials are one it does, see `scope`)."""
        words = {n: _parts(tokenize(n)) for n in names}
        senses = {w: [tokenize(e) for e in english(w)] for ws in words.values() for w in ws}
        every = [*(w for ws in words.values() for w in ws), *(t for fs in senses.values() for f in fs for t in f)]
        postings = self._postings(every, 1, Where())

        def held(token: str) -> bool:
            return bool(len(postings.get(token, (np.zeros(0),))[0]))

        def heard(word: str) -> bool:
            return held(word) or any(f and all(held(t) for t in f) for f in senses[word])

        def apart(name: str, ws: list[str]) -> bool:
            # Only where the store gives whole postings (a store searched per token gives a few rows).
            if len(ws) < 2 or _HAN.search(name) or getattr(self.index, "lexical_by_term", None) is None:
                return False
            rows = postings[ws[0]][0]
            for w in ws[1:]:
                rows = np.intersect1d(rows, postings[w][0], assume_unique=True)
            if len(rows) > NAME_MAX_ROWS:
                return False
            # The words are stems ("affiliates", "wealth management"): the passages must hold the name.
            phrase = re.compile(r"\W+".join(map(re.escape, re.sub(r"['’]s$", "", name).split())), re.I)
            return not any(phrase.search(c.text) for c in self.index.chunks_of(rows.tolist()).values())

        return tuple(n for n, ws in words.items() if ws and (not all(heard(w) for w in ws) or apart(n, ws)))

    def _spelt_as_name(self, word: str) -> bool:
        """Some passages hold `word` and all write it with a capital, as a name ("Adobe", "Tesla"), where
        an ordinary word ("target") is written in lower case somewhere."""
        rows = self._rows_holding(word, NAME_SAMPLE)
        pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", re.I)
        written = [m.group(0) for c in self.index.chunks_of(rows.tolist()).values() for m in pattern.finditer(c.text)]
        return bool(written) and not any(w[0].islower() for w in written)

    def _owned(self, question: str) -> tuple[str, tuple[str, ...]] | None:
        """(ticker, its calls holding them) of the names in `question` that only one company's passages
        hold, when they all point at one company; None otherwise. A name is a word written with a
        capital (the question's first word only as the start of a company's name, see below) or a Latin
        word in a Chinese question; words many companies use ("AI", "EPS", "What") are held by several
        companies and name none."""
        # A company's one-word name, ticker or first word typed in lower case ("what was snowflake
        # product revenue", "dxc bookings", "thermo organic growth") is read like the first word of a
        # longer name, so a common word all calls use names nobody.
        # So is a capitalised first word ("Hormel revenue Q3 2021"): at the start of a question a
        # capital says nothing about whether the word is a name.
        lowered = self._typed(question)
        owner: dict[str, set[str]] = {}
        for word, _, rows in self._named(question, lowered):
            if leads := self._leads(word, rows, question):
                owner.setdefault(leads, set()).update(self.catalog.by_ticker.get(leads, ()))
                continue
            if word in lowered or not 0 < len(rows) <= NAME_MAX_ROWS:
                continue  # a lower-case word names only the company whose name it is
            docs = set(self._docs_of(rows))
            tickers = {(self.catalog.docs.get(d, {}).get("ticker") or "").upper() for d in docs}
            if len(tickers) == 1 and "" not in tickers:
                owner.setdefault(tickers.pop(), set()).update(docs)
        if len(owner) != 1:
            return None
        ticker, docs = owner.popitem()
        return ticker, tuple(sorted(docs))

    def _typed(self, question: str) -> list[str]:
        """Words of `question` written as a company's one-word name, ticker or first word typed in lower
        case, or as its capitalised first word."""
        first = _FIRST_WORD.match(question) if not _HAN.search(question) else None
        typed = [*([first.group(1).lower()] if first else []), *_LOWER_WORD.findall(question)]
        return [w for w in dict.fromkeys(typed) if w in self.catalog.lowered or w in self.catalog.leading]

    def _named(self, question: str, lowered: list[str]) -> list[tuple[str, str, np.ndarray]]:
        """(word, its token, the rows holding it) of the words of `question` that may be names."""
        named = [(w, t[0]) for w in [*name_words(question), *lowered] if (t := tokenize(w))]
        if not named:
            return []
        # One more than the limit: a store searched per token (Milvus) returns at most what is asked.
        postings = self._postings([t for _, t in named], NAME_MAX_ROWS + 1, Where())
        return [(w, t, postings.get(t, (np.zeros(0, dtype=np.int64),))[0]) for w, t in named]

    def _leads(self, word: str, rows: np.ndarray, question: str) -> str | None:
        """The company `word` begins the name of (or is the one-word name or ticker of), when its calls
        hold the word more than all others together: "Thermo" (not followed by another capitalised word:
        "Simon Flannery" is a person)."""
        leads = self.catalog.leading.get(word.lower()) or self.catalog.lowered.get(word)
        if leads and not re.search(rf"\b{re.escape(word)}\s+[A-Z][a-z]", question) and \
                self._share(rows, leads) > LEADING_SHARE:
            return leads
        return None

    def _led(self, question: str) -> set[str]:
        """The companies words of `question` name by `_leads`."""
        return {t for w, _, rows in self._named(question, self._typed(question)) if (t := self._leads(w, rows, question))}

    def _share(self, rows: np.ndarray, ticker: str) -> float:
        """The share of `rows` that lie in `ticker`'s calls (0 for none)."""
        if not len(rows):
            return 0.0
        ours = set(self.catalog.by_ticker.get(ticker, ()))
        return sum(n for d, n in self._docs_of(rows).items() if d in ours) / len(rows)

    def _docs_of(self, rows: np.ndarray) -> dict[str, int]:
        """{document: how many of `rows` it holds}, counted per document (a common word has thousands
        of rows)."""
        columns = getattr(self.index, "columns", None)
        if columns is not None:
            docs, counts = np.unique(columns.doc[rows], return_counts=True)
            return {str(d): n for d, n in zip(columns.doc_ids[docs], counts.tolist())}
        return dict(Counter(c.doc_id for c in self.index.chunks_of(rows.tolist()).values()))

    @staticmethod
    def where(filters: Filters | None, scope: Scope | None) -> Where:
        """What the filters and the question's scope allow, for the store to apply inside its search."""
        f = filters or Filters()
        return Where(ticker=f.ticker.upper() if f.ticker else None, company=f.company.lower() if f.company else None,
                     period=f.period, language=f.language, section=f.section, role=f.role,
                     doc_ids=frozenset(scope.doc_ids) if scope is not None and scope.doc_ids else None)

    def _dense_ranked(self, query_vector: np.ndarray, n: int, where: Where, lang: str) -> dict[int, tuple[int, float]]:
        """{row: (dense rank, similarity)}. The model scores a question higher against passages in
        its own language than against a translation of the answer (measured: an English question
        ranked the Chinese passage holding the answer below 50 English ones), so passages are ranked
        within their language and each language's best compete on equal terms in the fusion. A
        question lies far from the other language's passages and their IVF lists, so that language is
        searched with more lists (`CROSS_LANGUAGE_EFFORT`)."""
        kinds = (where.language,) if where.language else self.index.languages
        # (what to search, whether it is the question's own language)
        searches = [(where, kinds == (lang,))] if len(kinds) < 2 else \
            [(replace(where, language=kind), kind == lang) for kind in kinds]
        out: dict[int, tuple[int, float]] = {}
        for allowed, own in searches:
            effort = 1 if own else CROSS_LANGUAGE_EFFORT
            for i, (r, sim) in enumerate(self.index.dense(query_vector, n, allowed, effort, lang)):
                out[r] = (i, sim)
        return out

    def _scope_size(self, where: Where) -> int:
        """Passages of the calls a question is scoped to; 0 when unscoped, or too many to matter."""
        if not self.weights.scope_idf or not where.doc_ids:
            return 0
        docs = self.index.manifest.get("documents", {})
        size = sum(len(docs.get(d, {}).get("chunk_ids", ())) for d in where.doc_ids)
        return size if size <= SCOPE_IDF_MAX_ROWS else 0

    def _lexical_ranked(self, tokens: list[str], n: int, where: Where) -> list[int]:
        """The `n` best rows by BM25. Within a scope a term is weighted by its IDF among the scoped
        calls' passages, not the whole index's: "Microsoft" is in most passages of Microsoft's calls and
        tells them apart no better than "the", though it is rare among a thousand other companies'
        calls; so a scoped question ranks alike whatever else the index holds. Each term's score (the
        index's IDF times its term-frequency part) is rescaled by scope IDF / index IDF, on any store."""
        size = self._scope_size(where)
        if not size:
            return [r for r, _ in self.index.lexical(tokens, n, where)]
        scores: dict[int, float] = {}
        counts = Counter(tokens)
        postings = self._postings(list(counts), size, where)
        for token, count in counts.items():
            rows, found = postings[token]
            if not len(rows) or (idf := self.index.idf(token)) <= 0:
                continue
            scale = count * _bm25_idf(size, len(rows)) / idf
            for r, sc in zip(rows.tolist(), found.tolist()):
                scores[r] = scores.get(r, 0.0) + sc * scale
        return sorted((r for r in scores if scores[r] > 0), key=lambda r: (-scores[r], r))[:n]

    def idf_for(self, scope: Scope | None):
        """The reader's term weights for a question with this scope: IDF among the scoped calls'
        passages (as `_lexical_ranked` weighs BM25), so the reader weighs a scoped question's words
        alike whatever else the index holds; the whole index's IDF when unscoped."""
        where = self.where(None, scope)
        size = self._scope_size(where)
        if not size:
            return self.index.idf
        cache: dict[str, float] = {}

        def idf(token: str) -> float:
            if token not in cache:
                rows, _ = self._postings([token], size, where)[token]
                cache[token] = _bm25_idf(size, len(rows))
            return cache[token]

        return idf

    def _postings(self, tokens: list[str], size: int, where: Where) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """token -> (rows, BM25 scores) within `where`: from the FAISS store's postings directly, or one
        search per token on a store without them (Milvus: at most `size` hits, all the scope holds)."""
        by_term = getattr(self.index, "lexical_by_term", None)
        if by_term is not None:
            return by_term(tokens, where)
        out = {}
        for token in dict.fromkeys(tokens):
            found = self.index.lexical([token], size, where)
            out[token] = (np.array([r for r, _ in found], dtype=np.int64), np.array([s for _, s in found], dtype=np.float32))
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
        where = self.where(filters, scope)
        w = self.weights
        n = w.candidates
        if query_vector is None:
            query_vector = self.embedder.embed_queries([question])[0]
        dense = self._dense_ranked(query_vector, n, where, language(question))
        tokens = tokenize(expand(question, w.dictionary) if w.glossary else question)
        lex_rows = self._lexical_ranked(tokens, n, where) if tokens else []

        fused: dict[int, float] = {}
        for r, (rank, _) in dense.items():
            fused[r] = fused.get(r, 0.0) + w.dense / (w.rrf_k + rank + 1)
        for rank, r in enumerate(lex_rows):
            fused[r] = fused.get(r, 0.0) + w.lexical / (w.rrf_k + rank + 1)
        for r in fused:
            if self.index.is_boilerplate(r):
                fused[r] *= w.boilerplate
        dense_of = {r: sim for r, (_, sim) in dense.items()}
        # A stable sort: equal scores keep the order the rankings found them in, the same on every store.
        best = sorted(fused, key=lambda r: -fused[r])[:top_k]
        lexical = self.index.lexical_of(tokens, best) if tokens else {}
        # A passage lexical search alone found still has a similarity to the question: the reader
        # weighs it, and a missing one would read as none at all.
        if unscored := [r for r in best if r not in dense_of]:
            dense_of.update(self.index.dense_of(query_vector, unscored))
        chunks = self.index.chunks_of(best)
        return [
            Hit(chunk=chunks[r], row=r, score=fused[r], dense=dense_of.get(r), lexical=lexical.get(r))
            for r in best
        ]


    def passages(self, query_vector: np.ndarray, n: int, filters: Filters | None = None,
                 scope: Scope | None = None, lang: str = "en") -> list[Hit]:
        """Up to `n` passages `scope` allows, nearest the question (in language `lang`) first, past
        `retrieve`'s fifty: every passage of a call or two, for what no passage's words say (who holds
        an office)."""
        where = self.where(filters, scope)
        ranked = self._dense_ranked(query_vector, n, where, lang)
        best = sorted(ranked, key=lambda r: ranked[r][0])[:n]
        chunks = self.index.chunks_of(best)
        return [Hit(chunk=chunks[r], row=r, score=ranked[r][1], dense=ranked[r][1]) for r in best]


def _parts(tokens: list[str]) -> list[str]:
    """A name's tokens without those that hold another of them (jieba's search mode gives 北美地区 as
    北美, 地区 and 北美地区: the parts are what a dictionary and the passages know)."""
    return [t for t in dict.fromkeys(tokens) if not any(o != t and o in t for o in tokens)]

"""Answering: retrieve, then an extractive or LLM backend writes a short answer with `[n]` markers;
every number is verified against the passages it cites; abstain when the transcripts don't say."""

from __future__ import annotations

import re
from collections import Counter
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from rag.cues import ASKS_GUIDANCE, CALENDAR_WORDS, PERIOD_WORDS, question_tokens, spelled_history, spelled_out
from rag.embed import Embedder
from rag.followup import rewrite
from rag.glossary import groups, is_aspect, without
from rag.ingest.meta import all_periods, period_parts, period_spans, quarter_before
from rag.ingest.text import squash, strip_invisible, unescape
from rag.lexical import STOPWORDS, tokenize
from rag.llm import NOT_IN_SOURCES, GeneratorError
from rag.numbers import extract, same
from rag.highlights import asks_highlights, headline_questions
from rag.reader import Pick, Reader, load_weights, overlapping
from rag.recent import recent_quarters, without_recent
from rag.reader.features import read_passage
from rag.retrieve import Filters, Retriever, Weights
from rag.restate import restate
from rag.scope import Scope, every_call, is_name_key
from rag.store import Index
from rag.text_lang import language
from rag.types import Answer, Citation, Hit, Source
from rag.people import asked_office, askers, asks_who_asked, holders, introduced, topic
from rag.zh_names import could_name

_MARKER = re.compile(r"\[(\d{1,2})\]")
# How much more probable (the reader's candidate probability) an earlier call's answer must be than
# the newest call's for a question naming no quarter to be answered from it. Chosen on dev accuracy
# (small indexes / whole corpus): only when the newest abstains 0.918 / 0.891; margins 0.2-0.5
# 0.918 / 0.898; 0.1 and below 0.912 / 0.891, as questions any call answers leave the newest call.
# 0.3 is the plateau's middle. (Comparing the answerability model's probabilities instead gained
# nothing at any margin.)
WIDER_MARGIN = 0.3
# The extractive reader reads this many passages (at least top_k) and returns the top_k it ranks
# best, by their most probable sentence. Chosen on dev (`rag eval --split dev`): reading 8 (the
# passages returned) gives recall@5 0.918, reading 10 / 12 and reranking 0.965 / 0.973, recall@8
# 0.965 -> 0.977 / 0.984, with answer accuracy level (0.907) and citation recall 0.882 -> 0.886.
# Re-measured on the 824 dev cases of the nineteenth session: 12 / 16 / 20 give recall@5 0.950 /
# 0.961 / 0.963 and answer accuracy 0.852 / 0.857 / 0.855 (the shipped weights, fitted at 12).
READ_POOL = 16
def _braced(text: str | None) -> str:
    """`text` as it reads after a second `str.format` (a name's braces doubled)."""
    return (text or "").replace("{", "{{").replace("}", "}}")


def _names_something(question: str) -> bool:
    """The question holds a word written as a name (a capital past its opening question word, or
    capitals only) that is no glossary term, period or month: "Premier Agent revenue", "CIRCOR Q3
    adjusted EPS"."""
    for i, m in enumerate(re.finditer(r"[A-Za-z][\w&'’.-]*", question)):
        w = m.group(0).rstrip("'’.")
        if w == w.lower() or (i == 0 and w.lower() in _OPENING_WORDS) or groups(w) or CALENDAR_WORDS.fullmatch(w.lower()) \
                or all_periods(f"{w} 2025") or re.fullmatch(r"(?:FY|H|Q|F?[1-4]Q)\d*", w, re.I):
            continue
        return True
    return False


# Words a question opens with, capitalised as the first word of a sentence, not as a name.
_OPENING_WORDS = {"what", "how", "which", "who", "when", "where", "why", "did", "does", "do", "is", "are", "was",
                  "were", "can", "could", "will", "would", "should", "has", "have", "had", "tell", "give", "show",
                  "list", "please", "and", "in", "on", "for", "at", "by", "compared", "versus", "any"}
# Companies a "which company?" reply lists by name before "...".
WHICH_LISTED = 12
# A question about companies in general, not one company's figure.
_ACROSS_COMPANIES = re.compile(r"\bcompan(?:y|ies)\b|\bfirms?\b|\bwho\b|\beach\b|\ball\b|\bany\b|\bmost\b|"
                               r"\bhighest\b|\blowest\b|\bbiggest\b|公司|哪家|哪些|各家|所有|最高|最低|最大", re.I)
# Passages read for a question about who spoke: every passage of a call or two.
PEOPLE_POOL = 400
# A question about the outlook itself (not any "will"): the newest call's guidance replaces earlier ones.
_OUTLOOK = re.compile(r"\bguid|\boutlook|\bforecast|指引|展望", re.I)


class Generator(Protocol):
    """An LLM backend: yields answer text deltas for numbered sources."""

    name: str

    def generate(self, question: str, sources: list[Source], lang: str,
                 candidates: Sequence[tuple[int, str]] = ()) -> Iterator[str]: ...


_MESSAGES = {
    "en": {
        "none": "The transcripts don't say: nothing in the indexed calls answers this question.",
        "company": "The transcripts don't say: no call of {names} is in the index.",
        "unheard": "The transcripts don't say: no call in the index mentions {names}.",
        "period": "The transcripts don't say: no call for {periods} is in the index{company}.",
        "lead": "{who}: ",
        "latest": "{who} (the latest call in the index; name a quarter to ask about another): ",
        "earlier": "{who} (an earlier call, which answers this more clearly than the latest in the index, {newest}): ",
        "silent": "{who}: nothing in its calls in the index answers this.",
        "unmatched": "The transcripts don't say: {names} could not be matched to a company in the index with "
                     "confidence (the nearest is {nearest}; ask again with that name if it is the one meant).",
        "which": "Which company? The question names none, and the calls of these companies speak of it: "
                 "{names}. Ask again naming one (or several, to compare them).",
        "asked": "{analyst} asked: “{quote}” [{n}]",
        "holds": "{name} ({title}) speaks on this call: “{quote}” [{n}]",
        "labelled": "{name} ({title}) speaks on this call [{n}]",
        "nobody": "The transcripts don't say: no speaker on the calls in scope is named as holding that office, "
                  "and no analyst's question there is about that.",
    },
    "zh": {
        "none": "转录稿中没有相关内容：已收录的电话会中没有能回答这个问题的信息。",
        "company": "转录稿中没有相关内容：索引中没有{names}的电话会记录。",
        "unheard": "转录稿中没有相关内容：已收录的电话会中没有提到{names}。",
        "period": "转录稿中没有相关内容：索引中没有{company}{periods}的电话会记录。",
        "lead": "{who}：",
        "latest": "{who}（索引中最新的一次电话会；如需其他季度请注明）：",
        "earlier": "{who}（较早的一次电话会，比索引中最新的{newest}回答得更清楚）：",
        "silent": "{who}：索引中其电话会没有能回答这个问题的信息。",
        "unmatched": "转录稿中没有相关内容：无法确定“{names}”是索引中的哪家公司（最接近的是{nearest}；"
                     "如指的是它，请用这个名称再问一次）。",
        "which": "请问是哪家公司？问题没有指明公司，而以下公司的电话会谈到了它：{names}。请指明公司后再问"
                 "（也可以同时指明几家来比较）。",
        "asked": "{analyst}提问：“{quote}” [{n}]",
        "holds": "{name}（{title}）在这次电话会上发言：“{quote}” [{n}]",
        "labelled": "{name}（{title}）在这次电话会上发言 [{n}]",
        "nobody": "转录稿中没有相关内容：所涉电话会中没有发言人担任该职务，也没有分析师问到这个问题。",
    },
}


# An index of at most this many companies is compared whole when a Chinese name no passage holds is
# checked against the answer's company (`Assistant._names_the_answer`): their names are embedded once.
NAME_POOL = 200
# A Chinese name no company's name matched is read as the company whose name the embedding model puts
# nearest when it is nearer by this much than the next company's (cosine), in such an index. On dev
# (eval/README.md, nineteenth session) every name 0.05 ahead was the right company, but a company the
# index lacks came 0.056 ahead of a lookalike (第一美国金融 -> Bank of America, without First American
# Financial in the index), so a wider margin: the one dev name it serves was 0.086 ahead.
NAME_MARGIN = 0.07
# A question naming the call it asks about ("On its Q3 2025 call, ...", 在2025财年第四季度财报会上): the
# other quarters it names are what that call spoke of, not calls of their own.
_ON_A_CALL = re.compile(r"\bcall\b|conference|电话会|财报会|业绩会", re.I)
_LATIN = re.compile(r"[A-Za-z]")


def _as_written(names: tuple[str, ...], question: str) -> tuple[str, ...]:
    """Each Chinese name with the Latin letters written onto it in the question (蒙哥DB: the name as
    the asker wrote it, which the embedding model places better than 蒙哥 alone)."""
    return tuple(m.group(0) if (m := re.search(re.escape(n) + r"[A-Za-z][A-Za-z0-9.&'-]*", question)) else n
                 for n in names)


@dataclass
class Assistant:
    """Question in, `Answer` out; holds the loaded index, the embedder and the backends."""

    index: Index
    embedder: Embedder
    generators: dict[str, Generator] = field(default_factory=dict)
    weights: Weights = field(default_factory=Weights)
    reader: Reader | None = None  # picks the extractive answer and the LLM's shortlist; None: the shipped weights
    restate: bool = True  # cite a figure in the asker's language / the speaker's words when stated twice
    _company_vectors: dict[str, Any] = field(default_factory=dict, repr=False)  # company name -> query vector

    def __post_init__(self) -> None:
        self.retriever = Retriever(self.index, self.embedder, self.weights)

    @property
    def picker(self) -> Reader:
        """The reader; the shipped weights are read on first use when none was given."""
        if self.reader is None:
            index = self.index
            self.reader = Reader(load_weights(), index.idf, lambda hit: index.sentences_of(hit.row))
        return self.reader

    @property
    def backends(self) -> list[str]:
        return ["extractive", *self.generators]

    def ask(
        self,
        question: str,
        history: Sequence[dict[str, Any]] | None = None,
        top_k: int = 5,
        filters: Filters | None = None,
        backend: str = "extractive",
        on_delta: Callable[[str], None] | None = None,
        trace: dict[str, Any] | None = None,
    ) -> Answer:
        """Answer `question`; `on_delta` receives answer text as it is produced (LLM streaming);
        `trace`, when given, receives the retrieved hits (for evaluation)."""
        # Zero-width and bidi characters are taken out of transcripts at ingest; a question carrying
        # them ("rev\u200benue") must match the same words and figures.
        question = strip_invisible(question).strip()
        if not question:
            raise ValueError("question must not be empty")
        if backend not in self.backends:
            raise ValueError(f"unknown backend {backend!r}; available: {', '.join(self.backends)}")
        t0 = time.perf_counter()
        standalone = self.retriever.spelled(rewrite(spelled_out(question), spelled_history(history),
                                                    self.retriever.catalog, self.retriever.scope))
        lang = language(question)
        scope = self.retriever.scope(standalone)
        # Chinese names no company's name matched, embedded once: as written (蒙哥DB) to read one as the
        # company it clearly names, as found to check the answer's company against.
        asked: dict[str, Any] = {}
        if scope.unconfirmed:
            written = _as_written(scope.unconfirmed, standalone)
            forms = list(dict.fromkeys((*written, *scope.unconfirmed)))
            asked = dict(zip(forms, self.embedder.embed_queries(forms)))
            if ticker := self._clearly_named([asked[n] for n in written]):
                scope = self.retriever.scope_to(standalone, ticker)
        vector = self.embedder.embed_queries([standalone])[0]
        # The extractive reader reads a wider pool and ranks it; an LLM reads top_k as retrieved.
        k = max(top_k, READ_POOL) if backend == "extractive" else top_k
        hits = self.retriever.retrieve(
            standalone, k, filters, None if scope.out_of_index else scope, query_vector=vector
        )
        t1 = time.perf_counter()
        if trace is not None:
            trace["hits"] = hits[:top_k]
        common = {
            "question": standalone,
            "original_question": question if standalone != question else None,
            # A company known by name only is keyed by its name (`rag.scope.name_key`): no ticker to show.
            "scope": {"tickers": [t for t in scope.tickers if not is_name_key(t)], "periods": list(scope.periods),
                      "doc_ids": list(scope.doc_ids), "latest": scope.latest},
        }
        highlights = False
        if scope.out_of_index or not hits:
            reply = self._abstain(lang, scope, hits, backend, common)
        elif (office := asked_office(standalone)) is not None or asks_who_asked(standalone):
            reply = self._people(standalone, lang, scope, common, vector, filters, office)
        elif (backend == "extractive" and (highlights := asks_highlights(standalone, self._skip_terms(scope)))
              and (call := self._one_call(scope, filters))):
            reply = self._highlights(lang, call, common, k, filters, trace, top_k)
        elif companies := (self._companies_in(scope, filters) if backend == "extractive" and highlights
                           else self._which_company(standalone, scope, filters, hits)):
            sep = "、" if lang == "zh" else ", "
            names = sep.join(companies[:WHICH_LISTED]) + (f"{sep}..." if len(companies) > WHICH_LISTED else "")
            # No figure: the companies are named as the replies name them (a ticker for "3M").
            reply = Answer(answer=_MESSAGES[lang]["which"].format(names=names), abstained=True,
                           verified=not extract(names), backend=backend, **common)
        elif backend == "extractive" and len(scope.tickers) > 1 and not scope.unconfirmed:
            reply = self._each_company(standalone, lang, scope, common, vector, k, filters, trace, top_k)
        elif backend == "extractive" and (calls := self._several_periods(standalone, scope)):
            reply = self._each_period(standalone, lang, scope, common, vector, k, filters, trace, top_k, calls)
        else:
            # Both backends read the call the reader finds answers. Not for an outlook: each call's
            # guidance replaces the one before, so a question about it naming no quarter is the newest's.
            widen = scope.latest and not scope.asked_latest and not _OUTLOOK.search(standalone)
            # An LLM backend builds its own shortlist: the reader runs here only to choose the call.
            picks: list[Pick] = []
            unconfirmed = scope.unconfirmed  # kept if the call is widened below
            if backend == "extractive" or widen or unconfirmed:
                picks, ranked = self._read(standalone, hits, scope, vector)
                if backend == "extractive":
                    hits = ranked
            newest = scope
            if widen:
                scope, hits, picks = self._which_call(standalone, scope, hits, picks, vector, k, filters,
                                                      backend == "extractive")
                common["scope"] = {**common["scope"], "doc_ids": list(scope.doc_ids), "latest": scope.latest}
            elif picks and ASKS_GUIDANCE.search(standalone):
                scope, hits, picks = self._newest_outlook(standalone, scope, hits, picks, vector, k, filters)
                common["scope"] = {**common["scope"], "doc_ids": list(scope.doc_ids)}
            if trace is not None:
                trace["hits"] = hits[:top_k]
            # No sentence answers, or one from a company the name is not nearest to: an LLM would only
            # guess which company is meant.
            stands, nearest = self._names_the_answer(unconfirmed, [asked[n] for n in unconfirmed],
                                                     picks[0] if picks else None, hits) \
                if unconfirmed else (True, None)
            if not stands or (unconfirmed and not picks):
                reply = self._abstain(lang, replace(scope, unheard=unconfirmed), hits, backend, common, nearest)
            elif backend == "extractive":
                reply = self._extractive(lang, hits, scope, common, picks, newest)
            else:
                reply = self._generate(standalone, lang, hits, scope, backend, common, on_delta, vector)
        t2 = time.perf_counter()
        reply.timings_ms.update({"retrieve": round((t1 - t0) * 1000, 2), "answer": round((t2 - t1) * 1000, 2)})
        if on_delta is not None and backend == "extractive":
            on_delta(reply.answer)
        return reply

    # ----------------------------------------------------------------------------- backends

    def _names_the_answer(self, words: tuple[str, ...], names: list[Any], pick: Pick | None,
                          hits: list[Hit]) -> tuple[bool, str | None]:
        """Whether some of `words` (Chinese names no company's name matched; `names`: their query
        vectors) is nearer, by the embedding model, to the name of the company the answer (`pick`)
        comes from than to any other company (of the index, or of the passages past `NAME_POOL`
        companies), and could name it by meaning or sound (`could_name`): 安费诺 answered from
        Amphenol's call stands, 比亚迪 answered from whichever call the question's words found does not.
        The embedding and the answer agree by chance more often than there are companies to choose
        from (腾讯's game revenue asked: Microsoft's gaming call, and 腾讯 nearest to Microsoft), so the
        name must also translate or sound like the company's. Also the company nearest to the first
        name, for the reply to suggest when the answer does not stand."""
        # Every company of a small index (a scope of one company would leave nothing to compare), else
        # those the passages are from.
        catalog = self.retriever.catalog
        if len(catalog.by_ticker) <= NAME_POOL:
            companies = self._company_names()
        else:
            tickers = dict.fromkeys(h.chunk.meta.ticker.upper() for h in hits
                                    if h.chunk.meta is not None and h.chunk.meta.ticker)
            companies = {t: catalog.company.get(t, t) for t in tickers}
        meta = pick.hit.chunk.meta if pick is not None else None
        answer = (meta.ticker or "").upper() if meta is not None else None
        if len(companies) < 2 or (pick is not None and answer not in companies):
            return True, None
        latin, vectors = self._latin_names(companies)
        if not latin:
            return False, None
        nearest = [latin[int(np.argmax(vectors @ v))] for v in names]
        # Words several of the companies' names share tell none of them apart ("Financial").
        counts = Counter(w for n in companies.values() for w in set(re.findall(r"[a-z]+", n.lower())))
        shared = frozenset(w for w, c in counts.items() if c > 1)
        return any(t == answer and could_name(w, companies[t], shared) for w, t in zip(words, nearest)), \
            companies[nearest[0]]

    def _latin_names(self, companies: dict[str, str]) -> tuple[list[str], np.ndarray]:
        """The tickers of `companies` with a Latin name, and their names' query vectors. A company the
        index names only in Chinese is not what a Chinese name its matcher missed names (it would have
        matched), and two Chinese names lie near each other whatever they name (比亚迪, 小米 and 京东
        were all nearest to 亚马逊), so only Latin names are compared."""
        latin = [t for t, n in companies.items() if _LATIN.search(n)]
        return latin, self._name_vectors([companies[t] for t in latin])

    def _company_names(self) -> dict[str, str]:
        """Ticker -> the company's name as the index's calls give it, for every company."""
        return dict(self.retriever.catalog.company)

    def _clearly_named(self, names: list[Any]) -> str | None:
        """The ticker of the company some of `names` (query vectors of Chinese names no company's name
        matched) is clearly nearest to by the embedding model (`NAME_MARGIN` ahead of the next), in an
        index of at most `NAME_POOL` companies; None otherwise. Only Latin names are compared."""
        if len(self.retriever.catalog.by_ticker) > NAME_POOL:
            return None
        tickers, vectors = self._latin_names(self._company_names())
        if len(tickers) < 2:
            return None
        best: tuple[float, str] | None = None
        for v in names:
            sims = vectors @ v
            first, second = np.sort(sims)[-2:][::-1]
            if first - second >= NAME_MARGIN and (best is None or first - second > best[0]):
                best = (float(first - second), tickers[int(np.argmax(sims))])
        return best[1] if best else None

    def _name_vectors(self, names: list[str]) -> np.ndarray:
        """Query vectors of company names, each embedded once per assistant."""
        cache = self._company_vectors
        todo = [n for n in dict.fromkeys(names) if n not in cache]
        if todo:
            cache.update(zip(todo, self.embedder.embed_queries(todo)))
        return np.array([cache[n] for n in names])

    def _skip_terms(self, scope: Scope) -> set[str]:
        """Words that scope the question (company names, tickers, periods): not content to match."""
        out: set[str] = set()
        docs = self.index.manifest.get("documents", {})
        for d in scope.doc_ids or ():
            meta = docs.get(d, {})
            for n in [meta.get("company"), meta.get("ticker"), meta.get("period"), *(meta.get("aliases") or [])]:
                if n:
                    out.update(tokenize(n))
                    # "manpower" names ManpowerGroup as its first word (`scope._leading_words`).
                    out.update(tokenize(re.sub(r"(?<=[a-z])(?=[A-Z][a-z])", " ", n).split(" ")[0]))
        return out

    def _read(self, question: str, hits: list[Hit], scope: Scope, vector: Any) -> tuple[list[Pick], list[Hit]]:
        """The reader's picks, and the passages ranked by it."""
        return self.picker.read(question, hits, vector, self._skip_terms(scope), ahead=scope.ahead,
                                idf=self.retriever.idf_for(scope), period=self._one_period(scope))

    def _one_period(self, scope: Scope) -> str | None:
        """The period of the one call a scope holds (its copies aside), else None."""
        periods = {self.retriever.catalog.docs.get(d, {}).get("period") for d in scope.doc_ids}
        return next(iter(periods)) if len(periods) == 1 else None

    def _read_in(self, question: str, scope: Scope, vector: Any, top_k: int, filters: Filters | None
                 ) -> tuple[list[Hit], list[Pick], list[Hit]]:
        """The passages retrieved within `scope`, the reader's picks over them, and the passages in
        the reader's order."""
        more = self.retriever.retrieve(question, top_k, filters, scope, query_vector=vector) if scope.doc_ids else []
        found, ranked = self._read(question, more, scope, vector) if more else ([], more)
        return more, found, ranked

    def _which_call(self, question: str, scope: Scope, hits: list[Hit], picks: list[Pick], vector: Any,
                    top_k: int, filters: Filters | None, ranked: bool = True) -> tuple[Scope, list[Hit], list[Pick]]:
        """A question naming no quarter is read from the company's newest call unless an earlier call
        answers it clearly better (a fact stated once, on the call that announced it): the reader's
        best candidate over all the company's calls is `WIDER_MARGIN` more probable than the newest
        call's, or the newest call gives no answer at all. `ranked`: return the wider call's passages
        in the reader's order (the extractive path), else as retrieved."""
        wider = every_call(scope, self.retriever.catalog)
        more, found, reranked = self._read_in(question, wider, vector, top_k, filters)
        if found and (not picks or found[0].score >= picks[0].score + WIDER_MARGIN):
            return wider, reranked if ranked else more, found
        return scope, hits, picks

    def _newest_outlook(self, question: str, scope: Scope, hits: list[Hit], picks: list[Pick], vector: Any,
                        top_k: int, filters: Filters | None) -> tuple[Scope, list[Hit], list[Pick]]:
        """An outlook asked of several calls of one company ("What operating profit growth does Novo
        Nordisk expect for 2025?" reaches the year's calls and the fourth-quarter call before it) is
        the newest call's when that call gives one: each call's guidance replaces the one before, and
        the best sentence over all of them may be an older, superseded range."""
        docs = self.retriever.catalog.docs
        periods = {d: p for d in scope.doc_ids if (p := docs.get(d, {}).get("period"))}
        if len(scope.tickers) != 1 or len(set(periods.values())) < 2:
            return scope, hits, picks
        last = max(periods.values(), key=lambda p: period_parts(p) or (0, 0))
        if periods.get(picks[0].hit.chunk.doc_id) == last:
            return scope, hits, picks
        one = replace(scope, doc_ids=tuple(d for d, p in periods.items() if p == last))
        _, found, ranked = self._read_in(question, one, vector, top_k, filters)
        return (one, ranked, found) if found else (scope, hits, picks)

    def _each_company(self, question: str, lang: str, scope: Scope, common: dict, vector: Any, k: int,
                      filters: Filters | None, trace: dict[str, Any] | None, top_k: int) -> Answer:
        """A question naming several companies ("Compare A's and B's revenue growth") is read once per
        company, from that company's calls alone: read together, the company whose passages match
        best would answer for both. Each answers with its best sentence; one whose calls do not
        answer is said to be silent, not left out."""
        parts = []
        for t in scope.tickers:
            own = tuple(d for d in scope.doc_ids if self._ticker(d) == t)
            parts.append((self._label(t), replace(scope, tickers=(t,), doc_ids=own), question))
        return self._read_each(question, lang, scope, common, vector, k, filters, trace, top_k, parts)

    def _several_periods(self, question: str, scope: Scope) -> list[tuple[str, tuple[str, ...]]]:
        """(period, its calls) for each period a question about one company names whose call the index
        holds, comparison bases included ("Q3 FY24 vs Q2 FY26", "from Q4 FY25 to Q2 FY26"), when two or
        more are; else []. Not for an outlook: a quarter named there is the one guided for."""
        if len(scope.tickers) != 1 or ASKS_GUIDANCE.search(question) or _ON_A_CALL.search(question):
            return []
        catalog = self.retriever.catalog
        own = catalog.by_ticker.get(scope.tickers[0], [])
        asked = all_periods(question)
        if not asked and (n := recent_quarters(question)) and (
                held_periods := {p for d in own if (p := catalog.docs[d].get("period")) and period_parts(p)}):
            # "over the last three quarters", "the trend": the n quarters up to the newest call, those
            # whose calls the index holds, oldest first.
            window = [max(held_periods, key=period_parts)]
            while len(window) < n:
                window.append(quarter_before(*period_parts(window[-1])))
            asked = [p for p in reversed(window) if p in held_periods]
        held = [(p, tuple(sorted(d for d in own if catalog.docs[d].get("period") == p))) for p in asked]
        held = [(p, ds) for p, ds in held if ds]
        return held if len(held) >= 2 else []

    def _each_period(self, question: str, lang: str, scope: Scope, common: dict, vector: Any, k: int,
                     filters: Filters | None, trace: dict[str, Any] | None, top_k: int,
                     calls: list[tuple[str, tuple[str, ...]]]) -> Answer:
        """A question naming several quarters of one company ("How did revenue change from Q4 FY25 to
        Q2 FY26?") is read once per quarter, from that quarter's call: read together, one call would
        answer for both, and a comparison needs both figures."""
        name = self._label(scope.tickers[0])
        spans = period_spans(question)
        parts = []
        for p, ds in calls:
            # Each call is read for its own quarter: the others named are blanked from what it reads.
            own = question if spans else without_recent(question)
            for start, end, other in reversed(spans):
                own = own[:start] + " " + own[end:] if other != p else own
            parts.append((f"{name} {p}", replace(scope, periods=(p,), doc_ids=ds), own))
        # Each answer is labelled with its call; none is "the latest call" standing for the question.
        return self._read_each(question, lang, replace(scope, latest=False), common, vector, k, filters, trace,
                               top_k, parts)

    def _read_each(self, question: str, lang: str, scope: Scope, common: dict, vector: Any, k: int,
                   filters: Filters | None, trace: dict[str, Any] | None, top_k: int,
                   parts: list[tuple[str, Scope, str]]) -> Answer:
        """The question read within each of `parts` ((who, scope, the question as that part reads it))
        alone, each answering with its best sentence; a part whose calls do not answer is said to be
        silent, not left out."""
        picks: list[Pick] = []
        hits: list[Hit] = []
        silent: list[str] = []
        for who, one, asked in parts:
            _, got, ranked = self._read_in(asked, one, vector, k, filters)
            picks += got[:1]
            hits += ranked
            if not got:
                silent.append(who)
        if trace is not None:
            trace["hits"] = hits[:top_k]
        if not picks:
            return self._abstain(lang, scope, hits, "extractive", common)
        reply = self._extractive(lang, hits, scope, common, picks)
        if silent:
            note = " ".join(_MESSAGES[lang]["silent"].format(who=w) for w in silent)
            reply = replace(reply, answer=f"{reply.answer} {note}")
        return reply

    def _one_call(self, scope: Scope, filters: Filters | None) -> Scope | None:
        """`scope` narrowed to one company's one call (the newest it holds; a ticker filter picks the
        company), or None when it holds several companies' calls or none."""
        docs = self.retriever.catalog.docs
        held = scope.doc_ids or tuple(docs)  # none: the whole index
        ticker = self._ticker
        if filters and filters.ticker:
            held = tuple(d for d in held if ticker(d) == filters.ticker.upper())
        tickers = {ticker(d) for d in held} - {""}
        if len(tickers) != 1:
            return None
        # Only the company's own calls: a file no company is known for is not its call.
        held = tuple(d for d in held if ticker(d) in tickers)
        periods = {p for d in held if (p := docs.get(d, {}).get("period"))}
        if not periods:
            return None
        last = max(periods, key=lambda p: period_parts(p) or (0, 0))
        return replace(scope, tickers=tuple(tickers), periods=(last,),
                       doc_ids=tuple(d for d in held if docs.get(d, {}).get("period") == last))

    def _ticker(self, doc_id: str) -> str:
        """The ticker of a call in the index, upper-case; "" for a file no company is known for."""
        return (self.retriever.catalog.docs.get(doc_id, {}).get("ticker") or "").upper()

    def _companies_in(self, scope: Scope, filters: Filters | None) -> list[str]:
        """The companies whose calls a scope naming none holds, when there are several: a call's
        highlights asked of no company are asked back. [] when a company or filter narrows it."""
        tickers = {self._ticker(d) for d in scope.doc_ids or self.retriever.catalog.docs} - {""}
        if scope.tickers or scope.unconfirmed or (filters and (filters.ticker or filters.company)) or len(tickers) < 2:
            return []  # (a name no company matched is refused as such, not asked back)
        return sorted(self._label(t) for t in tickers)

    def _highlights(self, lang: str, call: Scope, common: dict, k: int, filters: Filters | None,
                    trace: dict[str, Any] | None, top_k: int) -> Answer:
        """A call's highlights (`rag.highlights`): the reader's sentence for each headline measure the
        call states, each quoted once."""
        asked = headline_questions(self._label(call.tickers[0]), lang)
        picks: list[Pick] = []
        hits: list[Hit] = []
        for q, v in zip(asked, self.embedder.embed_queries(asked)):
            _, got, ranked = self._read_in(q, call, v, k, filters)
            if got and not any(overlapping(got[0], p) for p in picks):
                picks.append(got[0])
                seen = {h.row for h in hits}
                hits += [h for h in ranked if h.row not in seen]
        if trace is not None:
            trace["hits"] = hits[:top_k]
        return self._extractive(lang, hits, call, {**common, "scope": {**common["scope"], "doc_ids": list(call.doc_ids)}},
                                picks)

    def _which_company(self, question: str, scope: Scope, filters: Filters | None, hits: list[Hit]) -> list[str]:
        """The companies to choose from when a question asks for a measure ("What was revenue last
        quarter?") naming no company, no other name (a product, a company the matcher missed: those
        are left to retrieval) and no filter, while passages of several companies name that measure:
        answered from whichever matched best, it would give one company's figure as if it were the one
        meant. [] otherwise (the measure only one company's passages name answers from them), and for
        a question about companies in general ("Which companies mentioned tariffs?")."""
        measures = [g for g in groups(question) if not is_aspect(g)]
        if scope.tickers or scope.unconfirmed or (filters and (filters.ticker or filters.company)) or not measures \
                or _ACROSS_COMPANIES.search(question) or _names_something(question):
            return []
        alts = [frozenset(tokenize(m)) for g in measures for m in g if tokenize(m)]
        # The question's other words ("coke" in "coke q4'21 price/mix?"): one that only one company's
        # passages hold ties the question to that company, whatever the measure.
        rest = question
        for g in groups(question):  # measures and aspects ("同比", "growth") alike
            rest = without(rest, g[0])
        others = set(tokenize(PERIOD_WORDS.sub(" ", rest.lower()))) - question_tokens() - STOPWORDS
        tickers: dict[str, None] = {}
        holding: dict[str, set[str]] = {}
        for h in hits:
            tokens = frozenset().union(*(i.tokens for i in read_passage(h.chunk.text, h.chunk.start)[1]))
            ticker = (h.chunk.meta.ticker or "").upper() if h.chunk.meta else ""
            if any(a <= tokens for a in alts):
                tickers[ticker] = None
            for t in others & tokens:
                holding.setdefault(t, set()).add(ticker)
        if "" in tickers or len(tickers) < 2 or any(len(ts) == 1 for ts in holding.values()):
            return []  # (a call whose company is unknown may be the one meant)
        return sorted(self._label(t) for t in tickers)

    def _label(self, ticker: str) -> str:
        """A company as a reply names it: its name, or its ticker where the name holds a figure ("3M"
        would be a number no passage is cited for)."""
        name = self.retriever.catalog.company.get(ticker, ticker)
        return ticker if extract(name) and not is_name_key(ticker) else name

    def _people(self, question: str, lang: str, scope: Scope, common: dict, vector: Any,
                filters: Filters | None, office: re.Pattern[str] | None) -> Answer:
        """Who holds an office (`office`: how a speaker's title names it), or which analysts asked about
        what the question names, from the speakers the calls in scope name; every passage of those
        calls is read (a call is a few hundred at most), as the office is no word of the passages."""
        held: list = []
        if office is not None:
            hits = self.retriever.passages(vector, PEOPLE_POOL, filters, scope, lang)
            held = holders(office, hits)
            if not held and scope.tickers and not scope.periods:
                # No quarter asked and the newest call names nobody so (a translation without titles):
                # the company's other calls.
                hits = self.retriever.passages(vector, PEOPLE_POOL, filters, every_call(scope, self.retriever.catalog),
                                               lang)
                held = holders(office, hits)
        else:
            hits = self.retriever.retrieve(question, 2 * READ_POOL, filters, scope, query_vector=vector)
        msg = _MESSAGES[lang]
        # (passage, quoted sentence, who is quoted, what the reply says of them)
        found: list[tuple[Hit, Any, str, str]] = []
        if office is not None:
            for speaker, own in held[:2]:
                hit, sentence = introduced(speaker, own, hits)
                # No sentence of theirs to quote: the passage is cited for the transcript's label of them.
                found.append((hit, sentence, speaker.name or "", msg["holds" if sentence else "labelled"].format(
                    name=_braced(speaker.name), title=_braced(speaker.title), quote="{quote}", n="{n}")))
        else:
            names = {t for d in scope.doc_ids for n in (self.retriever.catalog.docs.get(d, {}).get("company") or "",)
                     for t in tokenize(n)} | {t.lower() for t in scope.tickers}
            for a in askers(topic(question, names), hits):
                c = a.hit.chunk
                who = f"{c.analyst} ({c.analyst_firm})" if c.analyst_firm and lang == "en" else \
                    f"{c.analyst}（{c.analyst_firm}）" if c.analyst_firm else c.analyst or ""
                found.append((a.hit, a.sentence, c.analyst or "",
                              msg["asked"].format(analyst=_braced(who), quote="{quote}", n="{n}")))
        if not found:
            return replace(self._abstain(lang, scope, hits, "extractive", common), answer=msg["nobody"])
        citations, parts = [], []
        for n, (hit, sentence, speaker, says) in enumerate(found, 1):
            # The quote is the analyst's (or the officer's), whoever else the passage holds.
            citations.append(replace(_citation(n, self._named(hit), sentence), speaker=speaker or None))
            parts.append(says.format(quote=squash(sentence.text) if sentence else "", n=n))
        text = msg["lead"].format(who=_who(found[0][0], lang)) + " ".join(parts)
        verified = not unsupported_numbers(text, {c.n: c.text for c in citations})
        return Answer(answer=text, abstained=False, verified=verified, backend="extractive",
                      citations=tuple(citations), **common)

    def _named(self, hit: Hit) -> Hit:
        """`hit` with its company named as the company's other calls name it, when its own call never
        says the name (the answer would otherwise lead with the ticker: "HOG FY2021Q1")."""
        m = hit.chunk.meta
        if m is None or m.company or not m.ticker:
            return hit
        name = self.retriever.catalog.company.get(m.ticker.upper())
        if not name or name == m.ticker.upper():
            return hit
        return replace(hit, chunk=replace(hit.chunk, meta=replace(m, company=name)))

    def _extractive(self, lang: str, hits: list[Hit], scope: Scope, common: dict, picks: list[Pick],
                    newest: Scope | None = None) -> Answer:
        """`newest`: the scope of the company's newest call when the question named no quarter and was
        widened to all its calls (`_which_call`): the lead then says which call answered."""
        if not picks:
            return self._abstain(lang, scope, hits, "extractive", common)
        if self.restate:
            picks = restate(picks, lang, hits, self.index)
        latest, earlier = scope.latest, None
        if newest is not None and newest.latest and newest is not scope:
            periods = {self.retriever.catalog.docs.get(d, {}).get("period") for d in newest.doc_ids} - {None}
            period = picks[0].hit.chunk.meta.period if picks[0].hit.chunk.meta else None
            latest = period in periods
            earlier = None if latest or len(periods) != 1 else next(iter(periods))
        picks = [replace(p, hit=self._named(p.hit)) for p in picks]
        text, citations = _compose(picks, lang, latest=latest, earlier=earlier)
        verified = not unsupported_numbers(text, {c.n: c.text for c in citations})
        return Answer(answer=text, abstained=False, verified=verified, backend="extractive",
                      citations=tuple(citations), **common)

    def _generate(
        self, question: str, lang: str, hits: list[Hit], scope: Scope, backend: str, common: dict,
        on_delta: Callable[[str], None] | None, vector: Any = None,
    ) -> Answer:
        gen = self.generators[backend]
        sources = [_source(i + 1, self._named(h)) for i, h in enumerate(hits)]
        by_n = {s.n: s.text for s in sources}
        number = {h.row: i + 1 for i, h in enumerate(hits)}
        shortlist = [(number[p.hit.row], p.sentence.text)
                     for p in self.picker.top(question, hits, vector, self._skip_terms(scope), ahead=scope.ahead,
                                                idf=self.retriever.idf_for(scope), period=self._one_period(scope))]
        parts: list[str] = []
        # Streamed text reaches the user before the answer is complete, so it is released claim by
        # claim, each only once its numbers are found in the passages it cites.
        stream = _VerifiedStream(by_n, on_delta) if on_delta is not None else None
        try:
            for delta in gen.generate(question, sources, lang, candidates=shortlist):
                parts.append(delta)
                if stream is not None:
                    stream.feed("".join(parts))
        except GeneratorError as e:
            # The LLM is down or broke mid-answer: the user still gets the extractive answer.
            return self._replaced(question, lang, hits, scope, backend, common, vector, error=str(e))
        raw = "".join(parts).strip()
        if not raw or NOT_IN_SOURCES in raw:
            return self._abstain(lang, scope, hits, backend, common)
        if not re.search(r"\w", _MARKER.sub("", raw)):
            # Markers with nothing around them ("[1] [2]") answer nothing.
            return self._replaced(question, lang, hits, scope, backend, common, vector)
        if stream is not None:
            stream.feed(raw, final=True)
        bad = unsupported_numbers(raw, by_n)
        text, repair = raw, None
        if bad:
            text = _drop_unsupported(raw, by_n)
            repair = "repaired"
            if not text or not _MARKER.search(text):
                return self._replaced(question, lang, hits, scope, backend, common, vector, unsupported=tuple(bad))
        cited = sorted({int(n) for n in _MARKER.findall(text) if int(n) in by_n})
        if not cited:  # an answer that cites nothing cannot be checked: use the extractive one
            return self._replaced(question, lang, hits, scope, backend, common, vector)
        text = _MARKER.sub(lambda m: m.group(0) if int(m.group(1)) in by_n else "", text)
        citations = [_citation(n, hits[n - 1], _best_quote(hits[n - 1], _claims_citing(text, n))) for n in cited]
        return Answer(answer=text, abstained=False, verified=not unsupported_numbers(text, by_n), backend=backend,
                      citations=tuple(citations), repair=repair, unsupported=tuple(bad), **common)

    def _replaced(self, question: str, lang: str, hits: list[Hit], scope: Scope, backend: str, common: dict,
                  vector: Any, **why: Any) -> Answer:
        """The extractive answer standing in for an LLM answer that could not be used."""
        fallback = self._extractive(lang, hits, scope, common, self._read(question, hits, scope, vector)[0])
        return replace(fallback, backend=backend, repair="replaced", **why)

    def _abstain(self, lang: str, scope: Scope, hits: list[Hit], backend: str, common: dict,
                 nearest: str | None = None) -> Answer:
        """`nearest`: the company the embedding model puts nearest to a name no company's name matched,
        suggested in the reply (the asker may have meant it)."""
        msg = _MESSAGES[lang]
        if scope.missing_companies:
            text = msg["company"].format(names=", ".join(scope.missing_companies))
        elif scope.unheard and nearest and not extract(nearest):
            text = msg["unmatched"].format(names=", ".join(scope.unheard), nearest=nearest)
        elif scope.unheard:
            text = msg["unheard"].format(names=", ".join(scope.unheard))
        elif scope.missing_periods:
            # The company as its calls name it ("Coca-Cola", not "KO").
            company = ", ".join(self.retriever.catalog.company.get(t, t) for t in scope.tickers)
            text = msg["period"].format(
                periods=", ".join(scope.missing_periods),
                company=(f" for {company}" if lang == "en" else f"{company} ") if company else "",
            )
        else:
            text = msg["none"]
        # Each related passage shows its sentence closest to the question.
        related = [_citation(i + 1, h, _best_quote(h, [common["question"]])) for i, h in enumerate(hits[:3])]
        return Answer(answer=text, abstained=True, verified=True, backend=backend,
                      related=tuple(related), **common)


# ------------------------------------------------------------------------------- composing


def _who(hit: Hit, lang: str) -> str:
    m = hit.chunk.meta
    if m is None:
        return hit.chunk.doc_id
    name = m.company or m.ticker or hit.chunk.doc_id
    if lang == "en" and re.search(r"[\u4e00-\u9fff]", name):
        name = next((a for a in m.aliases if not re.search(r"[\u4e00-\u9fff]", a)), name)
    if extract(name) and m.ticker:
        # A name with a number in it ("3M", "Group 1 Automotive") would put an uncited number in the
        # answer; its ticker still says whose call it is.
        name = m.ticker
    return f"{name} {m.period}" if m.period else name


def _compose(picks: list[Pick], lang: str, latest: bool = False, earlier: str | None = None
             ) -> tuple[str, list[Citation]]:
    """'<Company period>: <sentence> [1] <sentence> [2]' with one citation per passage used; when no
    period was asked and the company has several calls, the lead says the newest one was used, or
    (`earlier`: the newest call's period) that an earlier one answered."""
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    first = _who(picks[0].hit, lang)
    for p in picks:
        n = numbers.get(p.hit.chunk.id)
        if n is None:
            n = numbers[p.hit.chunk.id] = len(numbers) + 1
            citations.append(_citation(n, p.hit, p.sentence))
        # A sentence from another call (another quarter, another company) says whose it is: the lead
        # names the first one's only.
        who = _who(p.hit, lang)
        own = _MESSAGES[lang]["lead"].format(who=who) if who != first and not extract(who) else ""
        parts.append(f"{own}{squash(p.sentence.text)} [{n}]")
    lead = _MESSAGES[lang]["earlier" if earlier else "latest" if latest else "lead"].format(who=first, newest=earlier)
    if extract(lead):  # a number in the name and no ticker to stand for it: no uncited number
        lead = ""
    return lead + " ".join(parts), citations


def _speaker(hit: Hit) -> str | None:
    """Who a passage is by: its first named executive, else its first named speaker."""
    named = [s for s in hit.chunk.speakers if s.name]
    return next((s.name for s in named if s.role == "executive"), named[0].name if named else None)


def _source(n: int, hit: Hit) -> Source:
    c, m = hit.chunk, hit.chunk.meta
    return Source(n=n, text=c.text, company=m.company if m else None, ticker=m.ticker if m else None,
                  period=m.period if m else None, speaker=_speaker(hit), section=c.section)


def _citation(n: int, hit: Hit, quote) -> Citation:
    c, m = hit.chunk, hit.chunk.meta
    speaker = _speaker(hit)
    return Citation(
        n=n, chunk_id=c.id, doc_id=c.doc_id, company=m.company if m else None, ticker=m.ticker if m else None,
        period=m.period if m else None, speaker=speaker, section=c.section, text=c.text,
        quote=quote.text if quote else c.text, start=quote.start if quote else c.start,
        end=quote.end if quote else c.end, score=round(float(hit.score), 6),
    )


def _claims_citing(text: str, n: int) -> list[str]:
    return [seg for seg, ns in _segments(text) if n in ns]


def _best_quote(hit: Hit, claims: list[str]):
    """The passage sentence that best backs the claims (shared numbers first, then words)."""
    # The reader's cached reading of the passage (its sentences' tokens): a refusal shows three
    # passages' best sentences, and reading them afresh was a tenth of a refused question's time.
    sents, infos = read_passage(hit.chunk.text, hit.chunk.start)
    read = [(s, i) for s, i in zip(sents, infos) if not s.is_question] or list(zip(sents, infos))
    if not read:
        return None
    claim = " ".join(claims)
    nums = extract(claim)
    words = set(tokenize(claim))

    def score(pair) -> tuple[int, int]:
        s, info = pair
        held = extract(s.text) if nums else ()
        return (sum(any(same(q, h) for h in held) for q in nums), len(words & info.tokens))

    return max(read, key=score)[0]


# ------------------------------------------------------------------------------ verification


class _VerifiedStream:
    """Releases an LLM answer to `on_delta` one complete claim (text up to its `[n]` markers) at a
    time, and only claims whose numbers the cited passages hold; text after the last marker is
    released at the end only when it holds no number."""

    def __init__(self, passages: dict[int, str], on_delta: Callable[[str], None]) -> None:
        self.passages = passages
        self.on_delta = on_delta
        self.done = 0  # characters of the raw answer already released or dropped
        self.released = False

    def feed(self, raw: str, final: bool = False) -> None:
        for m in re.finditer(r"(?:\s*\[\d{1,2}\])+", raw):
            if m.end() <= self.done or (m.end() == len(raw) and not final):
                continue  # a marker run at the very end may still grow ("[1" -> "[1][2]")
            claim = raw[self.done:m.end()]
            self.done = m.end()
            if not unsupported_numbers(claim, self.passages):
                self.on_delta(claim)
                self.released = True
        if final and self.done < len(raw):
            tail = raw[self.done:]
            self.done = len(raw)
            # Closing words or punctuation of a released answer; nothing that carries a number.
            if self.released and NOT_IN_SOURCES not in tail and not extract(tail):
                self.on_delta(tail)


def _segments(text: str) -> list[tuple[str, set[int]]]:
    """Claims of an answer: text up to and including a run of `[n]` markers, with those n."""
    out: list[tuple[str, set[int]]] = []
    pos = 0
    for m in re.finditer(r"(?:\s*\[\d{1,2}\])+", text):
        out.append((text[pos:m.start()], {int(n) for n in _MARKER.findall(m.group(0))}))
        pos = m.end()
    if text[pos:].strip():
        out.append((text[pos:], set()))
    return out


def unsupported_numbers(answer: str, passages: dict[int, str]) -> list[str]:
    """Numbers in `answer` that no passage cited by their own claim holds (as written in the answer)."""
    bad: list[str] = []
    held_cache: dict[int, list] = {}
    for claim, ns in _segments(answer):
        for q in extract(claim):
            # A passage of a JSON call keeps its escapes ("80%.\\nOctober"): read as the answer shows it.
            held = [h for n in ns if n in passages
                    for h in held_cache.setdefault(n, extract(unescape(passages[n])))]
            if not any(same(q, h) for h in held):
                bad.append(q.text)
    return bad


def _drop_unsupported(answer: str, passages: dict[int, str]) -> str:
    """The answer without the claims whose numbers their cited passages do not hold."""
    kept: list[str] = []
    keep_prev = False
    for claim, ns in _segments(answer):
        # Punctuation after a claim's markers ("... 31% [1].") belongs to that claim.
        lead = re.match(r"^\s*[.。,，;；!！?？]*", claim).group(0)
        if keep_prev and lead.strip():
            kept[-1] += lead.strip()
        body = claim[len(lead):].strip()
        keep_prev = bool(body) and not unsupported_numbers(body + "".join(f"[{n}]" for n in sorted(ns)), passages)
        if keep_prev:
            kept.append(body + "".join(f" [{n}]" for n in sorted(ns)))
    return " ".join(kept).strip()

"""Which transcripts a question is about: companies, tickers and fiscal periods it names, matched
against the documents the index holds (English or Chinese names), and companies it does not hold."""

from __future__ import annotations

import calendar
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from rag.cedict import common_word, english
from rag.companies import (
    KNOWN, WITH_LEGAL_FORM, legal_form, listed, listed_abroad, name_core, name_for, short_forms,
)
from rag.cues import ASKS_GUIDANCE, CALENDAR_WORDS, quarters_in
from rag.ingest.meta import find_date, normalize_period, period_spans
from rag.glossary import groups, without
from rag.lexical import STOPWORDS
from rag.zh_names import companies_named, leading_nouns, opening_name, proper_nouns

# Tickers that are single letters or ordinary words; they count only as "$T", "(T)" or "NYSE: T".
# Others (KO, MA, DE) count when written in capitals as a word of their own.
_AMBIGUOUS_TICKERS = {"T", "Z", "A", "ON", "IT", "ALL", "ARE", "NOW", "ME", "SO", "BE", "AI", "Q",
                      # Abbreviations an analyst writes in capitals (chief operating officer, cash flow,
                      # net income, p.m., real estate, ...) that are also listed tickers.
                      "COO", "CF", "NI", "PM", "DD", "GL", "RE", "ES", "ET", "EL", "HE", "SM", "TT", "MO", "OC",
                      "PB", "RS", "FC", "FL", "LOW", "FIX", "BIG", "TWO", "MAN", "PAY", "AIR", "BOX", "EAT", "PRO",
                      "EXP", "ICE", "LEG"}


@dataclass(frozen=True)
class Scope:
    """What a question names: matched documents, and names/periods the index does not hold."""

    doc_ids: tuple[str, ...] = ()  # documents the question is scoped to (empty: no scoping)
    tickers: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()
    missing_companies: tuple[str, ...] = ()  # named companies with no transcript in the index
    missing_periods: tuple[str, ...] = ()  # named periods with no transcript (of the named company)
    unheard: tuple[str, ...] = ()  # names the question gives that no passage in the index holds
    # Chinese names no passage holds that may still be an indexed company by a name the matcher does
    # not know (安费诺 for Amphenol): answered only from the company the name is nearest to.
    unconfirmed: tuple[str, ...] = ()
    ahead: bool = False  # the named period lies after the scoped calls: only guidance can answer
    latest: bool = False  # no period was named (or "latest" was): the newest call of each company
    asked_latest: bool = False  # "the latest quarter" was asked: never read from an earlier call

    @property
    def out_of_index(self) -> bool:
        return bool(self.missing_companies or self.missing_periods or self.unheard)


def name_key(company: str) -> str:
    """The key of a company known by name only: its name's shortest form, in capitals, marked so it
    can never be a ticker a question writes ("~INITECH")."""
    return "~" + name_core(company).upper()


def is_name_key(key: str) -> bool:
    """Whether a scope's company key is `name_key`'s, with no ticker to show."""
    return key.startswith("~")


@dataclass
class Catalog:
    """The index's documents as names to match: built once per loaded index."""

    docs: dict[str, dict[str, Any]]
    names: list[tuple[str, str]] = field(default_factory=list)  # (name as written, ticker)

    def __post_init__(self) -> None:
        # A call whose company no table gives a ticker ("Initech Corp Q1 2024 Earnings Call") is keyed by
        # its name, so a question naming it still finds its calls alone; the key is never shown.
        # A call of a company another call gives a ticker takes that ticker.
        given = {name_core(d["company"]): d["ticker"].upper() for d in self.docs.values()
                 if d.get("ticker") and d.get("company")}
        self.docs = {doc_id: d if d.get("ticker") or not d.get("company") else
                     {**d, "ticker": given.get(name_core(d["company"])) or name_key(d["company"])}
                     for doc_id, d in self.docs.items()}
        seen: set[tuple[str, str]] = set()
        for d in self.docs.values():
            t = (d.get("ticker") or "").upper()
            for n in [d.get("company"), *(d.get("aliases") or [])]:
                if n and t and (n, t) not in seen and _name_pattern(n) is not None:
                    seen.add((n, t))
                    self.names.append((n, t))
        self.names += _unique_prefixes(self.names)
        self.leading = _leading_words(self.names)
        self.lowered = _lowered_names(self.names)
        self.names.sort(key=lambda nt: -len(nt[0]))
        # Per-question lookups below run over these, not over every document (20k calls at scale).
        self.tickers: set[str] = set()
        self.by_ticker: dict[str, list[str]] = {}
        self.unidentified: list[str] = []
        for doc_id, d in self.docs.items():
            t = (d.get("ticker") or "").upper()
            if t:
                self.tickers.add(t)
                self.by_ticker.setdefault(t, []).append(doc_id)
            else:
                self.unidentified.append(doc_id)
        self.position = {doc_id: i for i, doc_id in enumerate(self.docs)}
        self.acronyms = _acronyms(self.names, self.tickers)
        # A company's name as most of its calls give it: one call may not say it (Harley-Davidson's
        # first-quarter call never names the company), and the ticker would then stand for the name.
        self.company: dict[str, str] = {}
        for t, ds in self.by_ticker.items():
            given = Counter(n for n in (self.docs[d].get("company") for d in ds) if n)
            self.company[t] = given.most_common(1)[0][0] if given else t

    def of_companies(self, tickers: set[str]) -> list[str]:
        """The documents of these companies (all documents when none), in catalog order."""
        if not tickers:
            return list(self.docs)
        return sorted((d for t in tickers for d in self.by_ticker.get(t, ())), key=self.position.__getitem__)


def initials(name: str) -> str:
    """The initials of a name of at least three capitalised words ("Affiliated Managers Group" -> "AMG",
    "Archer-Daniels-Midland" -> "ADM"); "" for a shorter name. Lower-case words ("of", "and") are left
    out, as acronyms leave them."""
    words = [w for w in re.split(r"[\s-]+", name) if w[:1].isupper()]
    return "".join(w[0] for w in words) if len(words) >= 3 else ""


def _acronyms(names: list[tuple[str, str]], tickers: set[str]) -> dict[str, str]:
    """Acronyms of three letters or more a company goes by -> its ticker: a name in capitals its calls
    give ("AMG") and its ticker, when no other company has the same one."""
    owners: dict[str, set[str]] = {}
    for name, ticker in names:
        if re.fullmatch(r"[A-Z]{3,}", name):
            owners.setdefault(name, set()).add(ticker)
    for ticker in tickers:
        if re.fullmatch(r"[A-Z]{3,}", ticker):
            owners.setdefault(ticker, set()).add(ticker)
    return {a: next(iter(t)) for a, t in owners.items() if len(t) == 1}


def _lowered_names(names: list[tuple[str, str]]) -> dict[str, str]:
    """One-word company names and tickers lower-cased ("snowflake", "figma", "dxc") -> the company, when
    only one company has the name: how a question typed in lower case names it. Whether the word names
    the company or is a common word ("target", "visa", "key") is decided by the index
    (`Retriever.scope`)."""
    owners: dict[str, set[str]] = {}
    for name, ticker in names:
        if " " not in name.strip() and sum(ch.isalpha() for ch in name) >= 3 and not name.isupper():
            owners.setdefault(name.lower(), set()).add(ticker)
    for ticker in {t for _, t in names}:
        if len(ticker) >= 3 and ticker.isalpha() and not _is_word(ticker):
            owners.setdefault(ticker.lower(), set()).add(ticker)
    return {w: next(iter(t)) for w, t in owners.items() if len(t) == 1}


def _unique_prefixes(names: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Leading words of a company's names that no other company in the index shares: "American Eagle"
    for American Eagle Outfitters, "American Water" for American Water Works (never one word alone,
    and never a prefix two companies start with)."""
    known = {n.lower() for n, _ in names}
    owners: dict[str, set[str]] = {}
    for name, ticker in names:
        words = name.lower().split()
        for k in range(2, len(words)):
            head = [w.rstrip(",") for w in words[:k]]
            if head[-1] in ("&", "and", "of", "the"):  # "Marsh &" is not a name
                continue
            prefix = " ".join(head)
            if len(prefix) >= 8 and prefix not in known:
                owners.setdefault(prefix, set()).add(ticker)
    return [(prefix, next(iter(t))) for prefix, t in owners.items() if len(t) == 1]


def _leading_words(names: list[tuple[str, str]]) -> dict[str, str]:
    """The first word of a company's name of several words ("thermo" of Thermo Fisher Scientific, "yum"
    of Yum! Brands), lower-cased, -> that company, when no other company's name begins with it and it
    is not a name of its own. Whether such a word names the company in a question is decided by the
    index (`Retriever.scope`): "First" or "Western" begin one company's name but fill every call."""
    whole = {n.lower() for n, _ in names if len(n.split()) == 1}
    owners: dict[str, set[str]] = {}
    for name, ticker in names:
        words = name.split()
        if len(words) == 1:
            # A one-word name joined from words ("ManpowerGroup", "PulteGroup") begins with its first.
            words = re.findall(r"[A-Z][a-z]+", name) if re.fullmatch(r"(?:[A-Z][a-z]+){2,}", name) else words
        word = re.sub(r"[^\w'-]+$", "", words[0]).lower() if len(words) > 1 else ""
        if sum(ch.isalpha() for ch in word) >= 3 and word not in whole:
            owners.setdefault(word, set()).add(ticker)
    return {w: next(iter(t)) for w, t in owners.items() if len(t) == 1}


# Compiled once per name: an index of hundreds of companies has more patterns than `re`'s own cache.
@lru_cache(maxsize=None)
def _name_pattern(name: str) -> re.Pattern[str] | None:
    """How a question names the company called `name`; None for no usable name (fewer than two letters
    and digits, or no letter: "3M" is a name). A name of several words matches in any case ("bank of
    america"). A one-word name is often also a word ("Regions", "Target", "Box") or an abbreviation
    ("NOV" is not "Nov 2025"), so it matches only as the company writes it or in capitals."""
    if sum(ch.isalnum() for ch in name) < 2 or not any(ch.isalpha() for ch in name):
        return None
    if re.search(r"[\u4e00-\u9fff]", name):
        return re.compile(re.escape(name))  # Chinese names match as substrings
    # A period typed against the name ("United RentalsFY2021Q2", "AppleQ2", as Chinese text runs words
    # together) still ends it.
    bounded = rf"(?<![A-Za-z0-9])(?:{{}})(?:(?![A-Za-z0-9])|(?=FY\d|Q[1-4](?![A-Za-z])))"
    if " " in name.strip():
        return re.compile(bounded.format(_spaced(name.strip())), re.I)
    return re.compile(bounded.format(f"{re.escape(name)}|{re.escape(name.upper())}"))


def _spaced(name: str) -> str:
    """A pattern for a name of several words: any run of spaces between them, and an "&" or "and"
    between two words optional ("Marsh & McLennan" is also written "Marsh McLennan"); a legal form
    in full or short ("Corporation", "Corp")."""
    parts = re.split(r"\s+(?:&|and)\s+", name)
    return r"\s+(?:(?:&|and)\s+)?".join(r"\s+".join(legal_form(w) or re.escape(w) for w in p.split()) for p in parts)


def _name_in(name: str, text: str) -> bool:
    pattern = _name_pattern(name)
    return pattern is not None and pattern.search(text) is not None


def _is_word(t: str) -> bool:
    """A ticker that is also a word or a letter ("ES", "IT", "T"): not a ticker on its own."""
    return t in _AMBIGUOUS_TICKERS or len(t) < 2


# Compiled once per ticker, like names: `_tickers_in` runs for every question over the index's tickers.
@lru_cache(maxsize=None)
def _ticker_pattern(t: str) -> re.Pattern[str]:
    if _is_word(t):
        return re.compile(rf"(?:\${re.escape(t)}|\({re.escape(t)}\)|(?:NYSE|NASDAQ|Nasdaq)\s*:\s*{re.escape(t)})(?![A-Za-z])")
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(t)}(?![A-Za-z0-9])")


def _tickers_in(question: str, candidates: set[str]) -> set[str]:
    return {t for t in candidates if t in question and _ticker_pattern(t).search(question)}


def _word_tickers_in(question: str, candidates: set[str]) -> set[str]:
    """Tickers that are also words (ES, IT, T), written the way analysts write a ticker: a period right
    after it ("ES Q2 2021", "ES's FY2021"; a bare year only after two letters or more, as "A 2021
    deal" is English). Read only when the question names no company otherwise."""
    out = set()
    for t in candidates:
        if t not in question or not _is_word(t):
            continue
        period = r"Q[1-4]\b|FY|[Ff]iscal\b" + (r"|(?:19|20)\d{2}\b" if len(t) > 1 else "")
        if re.search(rf"(?<![A-Za-z0-9$]){re.escape(t)}(?:'s|’s)?(?=\s+(?:{period}))", question):
            out.add(t)
    return out


def _quarter_index(period: str) -> int:
    return int(period[2:6]) * 4 + int(period[-1]) - 1


def _guidance_docs(catalog: Catalog, tickers: set[str], period: str, guidance: bool) -> list[str]:
    """The call that spoke of `period` ahead of it, for a question asking what was guided or expected
    ("what did they guide for Q4 2024"): for each named company, its last call 1-4 quarters before
    the period. A question asking for the period's result is not answered from another quarter's
    call: the index holds no call of that period."""
    if not tickers or not guidance:
        return []
    out = []
    for t in tickers:
        calls = [(m.get("period"), d) for d, m in catalog.docs.items()
                 if (m.get("ticker") or "").upper() == t and m.get("period")]
        if not calls:
            continue
        asked = _quarter_index(period)
        before = [_quarter_index(p) for p, _ in calls if _quarter_index(p) < asked]
        if not before or asked - max(before) > 4:
            continue
        out += [d for p, d in calls if _quarter_index(p) == max(before)]
    return out


# A comparison base is not the period asked about: "revenue versus Q4 2020", "比2024财年第一季度".
_COMPARISON = re.compile(
    r"(?:\b(?:versus|vs\.?|compare[ds]? (?:to|with)|relative to|from|than|over|against|since)\s+"
    r"(?:(?:the|a|last|prior|our|same)\s+)*(?:(?:period|quarter)\s+(?:in|of)\s+)?"
    r"|(?:较|比|相比|相较于?|对比|同比|环比)\s*)"
    r"(?:(?:fiscal|full[- ]year|calendar)\s+)?(?:year\s+)?"
    r"(?:q[1-4]\s*(?:fy\s*)?['’/-]?\s*\d{2,4}|f?[1-4]q\s*(?:fy\s*)?['’]?\d{2,4}|fy\s?'?\d{2,4}\s*q[1-4]|(?:19|20)\d{2}\s*(?:财年|年)?\s*(?:第?[一二三四1-4]\s*(?:财季|季度|季))?"
    r"|(?:first|second|third|fourth)\s+quarter(?:\s+(?:of\s+)?(?:fiscal\s+)?(?:year\s+)?'?\d{2,4})?"
    r"|(?:first|second)\s+(?:half|six\s+months)\s+(?:of\s+)?(?:fiscal\s+)?'?\d{2,4}|h[12]\s*'?\d{2,4})",
    re.I,
)
# Half years: the first half is reported with the second quarter, the second with the fourth.
_HALF = re.compile(r"\b(?P<first>first|1st)[\s-]+(?:half|six months)\b|\bH1\b|上半年|前六个月"
                   r"|\b(?P<second>second|2nd)[\s-]+half\b|\bH2\b|(?P<zh2>下半年)"
                   r"|(?P<nine>\b(?:first[\s-]+)?nine[\s-]+months\b|\b9M\b|前三个?季度|前[九9]个月)", re.I)


# The year so far ("YTD 2021", "year-to-date", "first three quarters", 年初至今): no whole year either.
_SO_FAR = re.compile(r"\bytd\b|\byear[- ]to[- ]date\b|\bfirst (?:two|three) quarters\b|年初至今", re.I)


def names_part_of_year(text: str) -> bool:
    """The text names a half year, the first nine months or the year so far ("H1 2024", "2024年上半年",
    "YTD 2021"), not a whole year."""
    return bool(_HALF.search(text) or _SO_FAR.search(text))


_YEAR = re.compile(r"(?<![\d.])(?:(?:FY|fiscal(?:\s+year)?)\s*'?)?(?P<y>20\d{2})(?![\d.%])|\bFY\s?'?(?P<yy>\d{2})\b", re.I)
# "on the January 2026 call", "2026年1月的电话会"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CALL_MONTH = re.compile(
    r"\b(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<y>20\d{2})\s+(?:earnings\s+)?"
    r"(?:call|conference|earnings)|(?P<zy>20\d{2})年(?P<zm>\d{1,2})月(?:份)?的?(?:财报|业绩)?(?:电话会|会议)",
    re.I,
)
# "Last quarter", "this quarter" and "currently" in a question are the newest quarter reported.
_LATEST = re.compile(r"\b(?:latest|most recent|newest|last reported)\b"
                     r"|\b(?:last|this|(?:this |the )?past|current) quarter\b"
                     r"|\b(?:currently|right now|at present|as of now)\b|目前|当前|现阶段"
                     r"|最新|最近一?个?(?:财季|季度|季)|最近的?(?:财季|季度)|上一?个?(?:财季|季度)|本(?:财季|季度|季)|这一?个?季度",
                     re.I)
_MONTH_NAMES = "january|february|march|april|may|june|july|august|september|october|november|december"
# "quarter ended September 30, 2025", "截至2025年9月30日的季度"
_QUARTER_ENDED = re.compile(
    # The day as people write it: "April 30, 2025", "April 30 2025", "30 April 2025", "4/30/2025", "2025-04-30".
    r"(?:quarter|three months)\s+(?:that\s+)?(?:ended|ending)\s+(?:on\s+)?(?P<en>[A-Z][a-z]{2,8}\.?\s+\d{1,2},?\s+\d{4}"
    r"|\d{1,2}\s+[A-Z][a-z]{2,8}\.?,?\s+\d{4}|\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2})"
    # "the quarter ended April 2025", "quarter that ended in January 2025": the month's last day
    rf"|(?:quarter|three months)\s+(?:that\s+)?(?:ended|ending)\s+(?:in\s+)?(?P<mon3>{_MONTH_NAMES})\.?,?\s+(?P<my3>(?:19|20)\d{{2}})\b"
    r"|截至\s*(?P<zh>\d{4}年\d{1,2}月\d{1,2}日)\s*的?(?:那|这)?一?个?(?:三个月|季度|财季|第[一二三四1-4]财?季)"
    # A month-named quarter with its year ("the December 2022 quarter", "the June quarter of 2023",
    # "2022年12月季度") closes at that month's end, whatever the company's fiscal calendar.
    rf"|\b(?P<mon>{_MONTH_NAMES})\s+(?P<my>(?:19|20)\d{{2}})[- ]quarter\b"
    rf"|\b(?P<mon2>{_MONTH_NAMES})[- ]quarter\s+(?:of\s+)?(?:calendar\s+)?(?P<my2>(?:19|20)\d{{2}})\b"
    r"|(?P<zy>(?:19|20)\d{2})年(?P<zm>\d{1,2})月(?:份)?(?:的|结束的|止的)?(?:季度|财季)",
    re.I,
)
_ENDED_WINDOW_DAYS = (7, 80)  # calls come one to eleven weeks after their quarter closes


# "与2024财年第一季度相比": the base sits between 与/和/跟 and 相比.
_COMPARISON_ZH = re.compile(r"[与和跟同]\s*[^，。？?,]{0,6}?\d{2,4}\s*(?:财年|年)?\s*第?[一二三四1-4]?\s*(?:财季|季度|季)?[^，。？?,]{0,4}?(?:相比|比较|对比)")


# "Over" sets a base only after a change ("up 5% over 2020"); else it spans the period ("over fiscal 2021").
_CHANGE_BEFORE = re.compile(r"(?:\b(?:grow\w*|grew|up|down|increas\w*|decreas\w*|declin\w*|r[io]se|risen|f[ae]ll\w*|"
                            r"higher|lower|improv\w*|expan\w*|gain\w*|chang\w*|points?)\b|%)[^.?!]{0,40}$", re.I)


def without_comparisons(question: str) -> str:
    """`question` with its comparison bases ("versus Q4 2020", "vs 2019", "与2024财年第一季度相比") blanked."""
    def base(m: re.Match) -> str:
        if m.group(0)[:4].lower() == "over" and not _CHANGE_BEFORE.search(question[: m.start()]):
            return m.group(0)
        return " "

    return _COMPARISON_ZH.sub(" ", _COMPARISON.sub(base, question))


_CALL_AFTER = re.compile(r"[\s'’s]*(?:(?:earnings|results|conference|investor|analyst)\s+)*(?:call|conference)\b"
                         r"|\s*(?:业绩|财报)?(?:电话会|财报会|业绩会)", re.I)
# "when it reported fourth-quarter 2019 results", "with its Q3 2021 report", "after Q4 2019 earnings",
# "公布2019年第四季度业绩时": the results a call presents name it as well as "call" does; a bare "Q3 2021
# results" is the period asked.
_REPORTING_VERB = r"report(?:ed|ing|s)?|announc(?:ed|ing|es)?|releas(?:ed|ing|es)?|posted"
_REPORTED_BEFORE = re.compile(rf"(?:\b(?:(?:{_REPORTING_VERB}|following|after)\s+(?:(?:its|their|the)\s+)?|"
                              r"(?:with|alongside|in)\s+(?:its|their|the)\s+)|(?:公布|发布|披露)\s*)$", re.I)
_RESULTS_AFTER = re.compile(r"[\s'’s]*(?:(?:earnings|financial|quarterly)\s+)?(?:results|report|earnings)\b"
                            r"|\s*的?(?:业绩|财报)", re.I)
# The words that name the call by its results, once it is named: which call, not what is asked.
REPORTING_WORDS = re.compile(rf"\b(?:{_REPORTING_VERB}|results?)\b|公布|发布|披露", re.I)


def the_calls_period(question: str) -> tuple[int, int, str] | None:
    """Where a question names the call it asks about by the call's period ("on its Q4 2019 call",
    "在2019年第四季度业绩电话会上", "when it reported Q4 2019 results"): the span and the period. A
    period followed by "call" is the call before one introduced as results reported ("the Q3 2021
    results, as discussed on its Q4 2021 call": Q4)."""
    spans = period_spans(question)
    for start, end, p in spans:
        if _CALL_AFTER.match(question, end):
            return start, end, p
    for start, end, p in spans:
        # The few words before the period, not the whole question before it (no quadratic search).
        if _RESULTS_AFTER.match(question, end) and _REPORTED_BEFORE.search(question, max(0, start - 40), start):
            return start, end, p
    return None


def asked_period(question: str) -> str | None:
    """The fiscal period a question asks about, comparison bases ("versus Q4 2020") left out; a half
    year ("H1 2024", "2024年上半年") or the first nine months ("2021年前三季度") is the quarter that closes it."""
    q = without_comparisons(question)
    # The quarter of the call named ("What did Acme expect for Q3 on its Q2 2024 call?", "在2025财年第四季度
    # 财报会上，对2026财年第一季度…"): the other quarters are what that call spoke of.
    if call := the_calls_period(q):
        return call[2]
    period = normalize_period(q)
    if period:
        return period
    half = _HALF.search(q)
    years = asked_years(q)
    if half and len(years) == 1:
        second = half.group("second") or half.group("zh2") or half.group(0).upper() == "H2"
        return f"FY{years[0]}Q{4 if second else 3 if half.group('nine') else 2}"
    return None


def asked_years(question: str) -> list[int]:
    """Fiscal years a question names ("fiscal 2025", "FY25", "2024年"), comparison bases left out."""
    out: list[int] = []
    for m in _YEAR.finditer(without_comparisons(question)):
        y = int(m.group("y")) if m.group("y") else 2000 + int(m.group("yy"))
        if y not in out:
            out.append(y)
    return out


# A quarter counted in a run, not a quarter of the year: "the third quarter in a row", "the first
# quarter of positive free cash flow", "our fourth consecutive quarter".
_SERIAL_QUARTER = re.compile(r"\b(?:first|second|third|fourth)\s+(?:straight\s+|consecutive\s+)?quarter\s+"
                             r"(?:in\s+a\s+row|of\s+(?!(?:the\s+)?(?:fiscal|calendar|year|FY|'?\d)))|"
                             r"\b(?:first|second|third|fourth)\s+(?:straight|consecutive)\s+quarter|连续第?[一二三四]个?季度", re.I)


def asked_quarter(question: str) -> int | None:
    """The one numbered quarter a question names without a year ("Q3", "the third quarter", 第三季度),
    comparison bases left out; None when it names a year, none or several."""
    q = _SERIAL_QUARTER.sub(" ", without_comparisons(question))
    quarters = {n for n in quarters_in(q) if n <= 4}  # month-named quarters (13-22) are `_month_docs`'
    return quarters.pop() if len(quarters) == 1 and not asked_years(q) and not _HALF.search(q) else None


def _quarter_docs(quarter: int, docs: dict[str, dict[str, Any]], ids: list[str]) -> list[str]:
    """The newest call of each company among `ids` whose fiscal quarter is `quarter`."""
    return _newest(docs, [d for d in ids if (docs[d].get("period") or "").endswith(f"Q{quarter}")])


def _month_docs(question: str, docs: dict[str, dict[str, Any]], ids: list[str]) -> list[str] | None:
    """Calls held in the month a question names ("on the January 2026 call")."""
    m = _CALL_MONTH.search(question)
    if not m:
        return None
    if m.group("mon"):
        month = f"{m.group('y')}-{_MONTHS.index(m.group('mon').lower()[:3]) + 1:02d}"
    else:
        month = f"{m.group('zy')}-{int(m.group('zm')):02d}"
    return [d for d in ids if (docs[d].get("call_date") or "").startswith(month)]


# A year's result as a whole ("for full year 2021", "at the end of fiscal 2025", "2025年全年"):
# reported on the year's fourth-quarter call, not stated by its earlier ones.
_YEAR_END = re.compile(r"\bfull[- ](?:fiscal[- ])?year\b|\b(?:at|by) the end of (?:the )?(?:fiscal|fy|year|calendar)"
                       r"|\byear[- ]end\b|全年|年末|年底|年终", re.I)


def _year_docs(years: list[int], docs: dict[str, dict[str, Any]], ids: list[str], year_end: bool = False) -> list[str]:
    """Calls of the fiscal years named, and the fourth-quarter call before each (it gives the year's
    outlook); `year_end` (a year's result as a whole): the year's fourth-quarter calls where held."""
    if year_end:
        closing = {f"FY{y}Q4" for y in years}
        found = [d for d in ids if docs[d].get("period") in closing]
        if found:
            return found
    wanted = {f"FY{y}" for y in years}
    before = {f"FY{y - 1}Q4" for y in years}
    return [d for d in ids if (p := docs[d].get("period")) and (p[:6] in wanted or p in before)]


def _quarter_end(m: re.Match) -> date | None:
    """The date a `_QUARTER_ENDED` match names: a full date, or the last day of a named month."""
    if m.group("en"):
        return _written_day(m.group("en"))
    if m.group("zh"):
        ended = find_date(m.group("zh"))
        return date.fromisoformat(ended) if ended else None
    if m.group("zy"):
        year, month = int(m.group("zy")), int(m.group("zm"))
    else:
        year = int(m.group("my") or m.group("my2") or m.group("my3"))
        month = _MONTHS.index((m.group("mon") or m.group("mon2") or m.group("mon3")).lower()[:3]) + 1
    if not 1 <= month <= 12:
        return None
    return date(year, month, calendar.monthrange(year, month)[1])


def _written_day(text: str) -> date | None:
    """A day written "April 30, 2025", "April 30 2025", "30 April 2025", "4/30/2025" (US order) or
    "2025-04-30"; None when it is no day."""
    text = re.sub(r"\s+", " ", text.replace(".", "").replace(",", " ")).strip().replace("Sept ", "Sep ")
    for fmt in ("%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y", "%m/%d/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _ended_docs(question: str, docs: dict[str, dict[str, Any]], tickers: set[str]) -> list[str] | None:
    """Calls of the named companies held soon after the quarter end date a question names."""
    m = _QUARTER_ENDED.search(question)
    if not m:
        return None
    end = _quarter_end(m)
    if end is None:
        return None
    lo, hi = _ENDED_WINDOW_DAYS
    out = []
    undated = False
    for d, meta in docs.items():
        if tickers and (meta.get("ticker") or "").upper() not in tickers:
            continue
        cd = meta.get("call_date")
        if cd and lo <= (date.fromisoformat(cd) - end).days <= hi:
            out.append(d)
        undated = undated or not cd
    # With a call whose date is unknown the index may hold that quarter after all: scope as usual.
    return None if not out and undated else out


def _newest(docs: dict[str, dict[str, Any]], ids: list[str]) -> list[str]:
    """The newest call of each company among `ids` (all its copies: languages, sources)."""
    by_company: dict[str, list[str]] = {}
    for d in ids:
        by_company.setdefault((docs[d].get("ticker") or "").upper(), []).append(d)
    out: list[str] = []
    for t, group in by_company.items():
        dated = [d for d in group if docs[d].get("period")]
        if not t or not dated:
            out += group
            continue
        top = max(_quarter_index(docs[d]["period"]) for d in dated)
        out += [d for d in dated if _quarter_index(docs[d]["period"]) == top]
    return out


@lru_cache(maxsize=1)
def _listed_pattern() -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """One case-sensitive pattern over the listed companies' names and short forms (a lower-case
    "target" or "visa" in a question is a word, not a company), and name -> ticker."""
    by_name: dict[str, str] = {}
    # Companies listed abroad only come second, and their one-word names that are also English words
    # ("Sharp", "Recruit") are left out, as a question writes them for their meaning far more often.
    for table, abroad in ((listed(), False), (listed_abroad(), True)):
        for ticker, name in table.items():
            for form in (name, *short_forms(name)):
                if " " in form or (len(form) >= 4 and not (abroad and common_word(form))):
                    by_name.setdefault(form, ticker)
    if not by_name:
        return None, by_name
    alternatives = "|".join(re.escape(n) for n in sorted(by_name, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])"), by_name


@lru_cache(maxsize=1)
def _listed_lower() -> dict[str, str]:
    """Listed companies' names and short forms, lower-cased (as CC-CEDICT writes its senses) -> ticker."""
    out: dict[str, str] = {}
    for name, ticker in _listed_pattern()[1].items():
        out.setdefault(name.lower(), ticker)
    return out


# A capitalised word: part of a proper name ("York" in "New York City").
_TITLE_WORD_BEFORE = re.compile(r"(?<![A-Za-z0-9])[A-Z][a-z]+\s+$")
_TITLE_WORD_AFTER = re.compile(r"^\s+[A-Z][a-z]+(?![A-Za-z0-9])")


def _inside_a_longer_name(question: str, start: int, end: int) -> bool:
    """A one-word match stands inside a longer capitalised name ("City" in "New York City") and so
    is not that company's name. The question's first word is capitalised as a sentence's is."""
    before = _TITLE_WORD_BEFORE.search(question[:start])
    return bool((before and before.start() > 0) or _TITLE_WORD_AFTER.match(question[end:]))


def _listed_names_in(question: str) -> list[tuple[str, str]]:
    """(name, ticker) of listed companies a question names, written as the company writes them."""
    pattern, by_name = _listed_pattern()
    if pattern is None:
        return []
    return [(m.group(0), by_name[m.group(0)]) for m in pattern.finditer(question)
            if " " in m.group(0) or not _inside_a_longer_name(question, m.start(), m.end())]


@lru_cache(maxsize=1)
def _one_word_names() -> dict[str, tuple[str, str, bool]]:
    """Lower-cased one-word names of listed and known companies, and their tickers of three letters
    or more -> (the name as the company writes it, ticker, whether the word is the ticker)."""
    out: dict[str, tuple[str, str, bool]] = {}
    for ticker, names in KNOWN.items():
        for n in names:
            if re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{2,}", n):
                out.setdefault(n.lower(), (names[0], ticker, False))
    for form, ticker in _listed_pattern()[1].items():
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{2,}", form):
            out.setdefault(form.lower(), (form, ticker, False))
    for ticker, name in listed().items():
        if len(ticker) >= 3 and ticker.isalpha():
            name = name_for(ticker) or name
            out.setdefault(ticker.lower(), ((short_forms(name) or [name])[-1], ticker, True))
    return out


_ANY_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9-]{2,}(?![A-Za-z0-9])")


def typed_companies(question: str, indexed: set[str] | frozenset[str]) -> list[tuple[str, str, bool]]:
    """(word, company name, whether the word is a ticker) for each word of `question` that, whatever
    its case, is the one-word name or the ticker of a listed or known company the index holds no call
    of: "adobe revenue q3", "nvda guide". Whether such a word names the company or is an ordinary word
    (a "target", a "visa") is for the caller to decide with the index (`Retriever.scope`)."""
    table = _one_word_names()
    out = []
    for w in dict.fromkeys(_ANY_WORD.findall(question)):
        found = table.get(w.lower())
        if found and found[1] not in indexed:
            out.append((w.lower(), found[0], found[2]))
    return out


# A word with a capital letter: a candidate name of a product, brand or person ("Trainium", "Hood").
_CAPITALISED = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*|(?<![A-Za-z0-9])[A-Z][A-Za-z0-9-]+")
_LATIN_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9-]+")


def name_words(question: str) -> list[str]:
    """Words of a question that may be names: capitalised ones past its first word; in a Chinese
    question every Latin word (names are what Chinese text writes in Latin letters)."""
    if re.search(r"[\u4e00-\u9fff]", question):
        return list(dict.fromkeys(_LATIN_WORD.findall(question)))
    first = re.match(r"\W*[A-Za-z][\w'-]*", question)
    start = first.end() if first else 0
    return list(dict.fromkeys(m.group(0) for m in _CAPITALISED.finditer(question) if m.start() >= start))


# A proper name as written: a capital and then lower-case letters ("Rivian", "LinkedIn", "McDonald"), no
# digits. Words in capitals only (GAAP, NRR, CFO) are left out: abbreviations a call may spell out.
_PROPER_WORD = re.compile(r"(?<![A-Za-z0-9_'’-])[A-Z][a-z]+(?:[A-Z][a-z]+)*(?:\s[A-Z][a-z]+(?:[A-Z][a-z]+)*)*"
                          r"(?![A-Za-z0-9_-])")  # adjacent ones are one name: "Jensen Huang"
_POSSESSIVE_FIRST = re.compile(r"\W*([A-Z][A-Za-z]+)(?:'s|’s|')\s")


def subject_names(question: str) -> list[str]:
    """The proper names a question gives for what it asks about: capitalised words past its first
    word (and the first when possessive: "Rivian's margin?"), and in a Chinese question the proper
    nouns jieba tags (宁德时代) and the nouns it opens with (贵州茅台); glossary terms, months and
    weekdays left out."""
    text = question
    for g in groups(question):
        text = without(text, g[0])
    first = re.match(r"\W*[A-Za-z][\w'’-]*", text) if not re.search(r"[\u4e00-\u9fff]", text) else None
    start = first.end() if first else 0
    names = [m.group(0) for m in _PROPER_WORD.finditer(text) if m.start() >= start]
    if (lead := _POSSESSIVE_FIRST.match(text)) is not None:
        names.insert(0, lead.group(1))
    names += proper_nouns(text)
    names += [lead] if (lead := leading_nouns(text.strip()) or opening_name(question.strip())) else []
    names = [n for n in dict.fromkeys(names) if not CALENDAR_WORDS.fullmatch(n)]
    return [n for n in names if not any(n != m and n in m for m in names)]  # 宁德 inside 宁德时代


# A person as a question names one: "Keith Weiss", "Simon W. Flannery".
_PERSON = r"[A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-zA-Z'-]+"


@lru_cache(maxsize=256)
def _affiliation_pattern(name: str) -> re.Pattern[str]:
    n = re.escape(name)
    return re.compile(
        rf"{n}(?:'s|'|’s|’)\s+(?:analyst\s+)?{_PERSON}"  # "Morgan Stanley's Keith Weiss"
        rf"|{_PERSON}\s+(?:of|from|at|with)\s+{n}"  # "Simon Flannery from Morgan Stanley"
        rf"|{n}\s+analysts?\b|\banalysts?\s+(?:of|from|at|with)\s+{n}"  # "Goldman Sachs analyst Kash Rangan"
        rf"|{n}\s*(?:的)?\s*分析师")


def _affiliation(name: str, question: str) -> bool:
    """`name` is written as an analyst's firm: a person's, or an analyst's, affiliation."""
    return _affiliation_pattern(name).search(question) is not None


def _opens_the_sentence(name: str, question: str) -> bool:
    """`name` is one word that opens the question, capitalised as any first word is and read on by
    a lower-case word ("Next quarter, what does Figma expect?", "Target margin for Snowflake?",
    "Block-by-block"): a word of the sentence, not the listed company of that name, when the
    question names another."""
    return " " not in name and re.match(rf"\W*{re.escape(name)}(?:\s+|-)[a-z]", question) is not None


# A product's code: capitals ("LEAP", "CPAP") or a digit ("A320", "F-150"), never a period ("Q4", "FY2026").
_CODE = r"(?!(?:Q[1-4]|H[12]|FY\s?'?\d{2,4}|(?:19|20)\d{2}|[1-4]Q\d{2})\b)(?:[A-Z][A-Z0-9-]+|[A-Za-z-]*\d[\w-]*)"


def _modifier(name: str, question: str) -> bool:
    """`name` qualifies a word of the question rather than being asked about: "the Philips recall",
    "the Toyota partnership", "the Acme XR-7 program" (a lower-case word after it, past a product's code
    or two, that is no measure: "Samsung revenue" asks for Samsung's figure, and so does "Samsung's").
    A code is written in capitals or with a digit, and is no period ("Philips Q4 numbers" asks about Philips)."""
    m = re.search(rf"(?<![A-Za-z0-9]){re.escape(name)}\s+(?:{_CODE}\s+){{0,2}}([a-z][a-z-]+)\b", question)
    return m is not None and m.group(1) not in STOPWORDS and not groups(m.group(1))


# A comparison anywhere in the question: the other company's own figure is asked too ("How did Acme's
# growth compare, in Q2, with X?", "the growth reported by X", "stack up to X", "beat that of X").
_COMPARED = re.compile(r"\b(?:compar\w*|contrast\w*|relative|versus|vs\.?|than|similar|stacks?\s+up|opposed|"
                       r"beat\w*|outpac\w*|against|reported\s+by|posted\s+by)(?!\w)", re.I)


def _counterparty(name: str, question: str) -> bool:
    """`name` is the other side of the figure asked about: a customer, supplier or payee ("revenue from
    Amazon", "the fee paid to Willis Towers Watson", "the deal with Toyota"), not a company whose own
    figure is asked, as in any comparison or a possessive ("from Amazon's cloud")."""
    if _COMPARED.search(question):
        return False
    return re.search(rf"\b(?:from|to|with)\s+(?:the\s+)?{re.escape(name)}(?![\w'’])", question, re.I) is not None


def without_companies(text: str, tickers: set[str], catalog: Catalog) -> str:
    """`text` with these companies' names and tickers blanked out, as `detect` finds them (a follow-up
    that names another company replaces the earlier question's)."""
    for name, t in catalog.names:  # longest names first, as `detect` reads them
        if t in tickers and _name_in(name, text):
            text = _name_pattern(name).sub(" ", text)
    for t in tickers:
        text = _ticker_pattern(t).sub(" ", text)
    text = re.sub(r"(?<!\S)['’]s\b", " ", text)  # the possessive the name leaves behind
    return re.sub(r"[ \t]{2,}", " ", text)


def detect(question: str, catalog: Catalog, implied: tuple[str, tuple[str, ...]] | None = None,
           also: frozenset[str] = frozenset()) -> Scope:
    """The scope a question names (see `Scope`). `implied`: (ticker, calls) the question's names point
    at when it names no company (`Retriever.scope`): treated as naming that company, held to those calls.
    `also`: companies named beside those by a word the index holds for them (`Retriever.scope`)."""
    indexed = catalog.tickers
    tickers: set[str] = set()
    masked = question
    for name, t in catalog.names:  # longest names first, so "Zillow Group" wins over "Zillow"
        if _name_in(name, masked):
            tickers.add(t)
            masked = _name_pattern(name).sub(" ", masked)
    tickers |= _tickers_in(question, indexed) | also
    tickers = tickers or _word_tickers_in(masked, indexed)
    # A Chinese name no transcript spells (达登 for Darden): by its CC-CEDICT meaning or its sound.
    tickers = tickers or companies_named(question, catalog.names)
    # Companies we know of but hold no transcript for: answer "not in the index", never another company.
    missing: list[str] = []
    for t, names in KNOWN.items():
        if t in indexed:
            continue
        hit = next((n for n in names if _name_in(n, masked)), None)
        if hit is None and t not in _AMBIGUOUS_TICKERS and len(t) >= 3:
            hit = t if _tickers_in(question, {t}) else None
        if hit:
            missing.append(hit)
    # Listed companies the index holds no call of; a name inside an indexed company's name is masked.
    missing += [n for n, t in _listed_names_in(question) if t not in indexed and t not in KNOWN
                and n not in missing and _name_in(n, masked)]
    if not tickers and not missing:
        # A name written with its legal form ("Globex Corp") is a company's, whoever holds no call of it.
        missing += [m.group(0) for m in WITH_LEGAL_FORM.finditer(question)]
    if not tickers and not missing:
        # A Chinese name CC-CEDICT gives as a listed company's name the index holds no call of (英特尔: Intel).
        by_name = _listed_lower()
        missing += [w for w in proper_nouns(question, leading_place=True)
                    if any(by_name.get(sense) not in (None, *indexed) for sense in english(w))]
    if tickers or implied:  # beside a company the index holds, an analyst's firm is who asked, not what is asked about
        missing = [n for n in missing if not _affiliation(n, question) and not _opens_the_sentence(n, question)
                   and not _modifier(n, question) and not _counterparty(n, question)]
    all_docs = catalog.docs
    # Documents whose company or period could not be read are never hidden by scoping: a company
    # the index seems not to hold may be what such a document is about, so it is searched instead.
    unidentified = catalog.unidentified
    if missing and unidentified and not tickers:
        return Scope(doc_ids=tuple(sorted(unidentified)), periods=(), missing_companies=())
    if implied and not tickers:
        tickers, holding = {implied[0]}, set(implied[1])
        of_company = [d for d in catalog.of_companies(tickers) if d in holding]
    else:
        of_company = catalog.of_companies(tickers)
    period = asked_period(question)
    periods: tuple[str, ...] = (period,) if period else ()
    guidance = bool(ASKS_GUIDANCE.search(question))  # asks what was guided or expected
    asked_latest = bool(_LATEST.search(question))
    ended = _ended_docs(question, all_docs, tickers)
    defaulted = False
    missing_periods: tuple[str, ...] = ()
    if ended is not None and not period:
        docs = ended
        periods = tuple(sorted({all_docs[d]["period"] for d in ended if all_docs[d].get("period")}))
        if not ended:
            missing_periods = (_QUARTER_ENDED.search(question).group(0),)
    elif periods:
        docs = [d for d in of_company if all_docs[d].get("period") in periods]
        if not docs:
            # A period after the company's latest call is what that call's guidance speaks of ("Q4
            # guidance" asked of the Q3 call): scope to the company's calls. An earlier period, or
            # one more than a year ahead, is a call the index does not hold.
            docs = _guidance_docs(catalog, tickers, periods[0], guidance)
        undated = [d for d in of_company if not all_docs[d].get("period")]
        if not docs and not undated:
            missing_periods = periods
        docs += undated
    elif tickers and (quarter := asked_quarter(question)) and not guidance and not asked_latest:
        # "Q3" with no year: the company's newest call of that quarter, never another quarter's call
        # (the newest, a Q4, answered "Q3 organic growth?" with Q4's). None: the index holds no such call.
        docs = _quarter_docs(quarter, all_docs, of_company)
        periods = tuple(sorted({all_docs[d]["period"] for d in docs if all_docs[d].get("period")}))
        undated = [d for d in of_company if not all_docs[d].get("period")]
        if not docs and not undated:
            missing_periods = (f"Q{quarter}",)
        docs += undated
    elif tickers and (month := _month_docs(question, all_docs, of_company)):
        docs = month
        periods = tuple(sorted({all_docs[d]["period"] for d in docs if all_docs[d].get("period")}))
    elif tickers and not asked_latest and (by_year := _year_docs(
            asked_years(question), all_docs, of_company,
            bool(_YEAR_END.search(question)) and not guidance)):
        # A year but no quarter ("full fiscal year 2025", "2024年"): that year's calls.
        docs = by_year
    elif tickers or asked_latest:
        # No period, or "the latest": the newest call of each company; the answer says which.
        docs = _newest(all_docs, of_company)
        companies = tickers or {(all_docs[d].get("ticker") or "").upper() for d in docs}
        defaulted = any(len({all_docs[d].get("period") for d in of_company
                             if (all_docs[d].get("ticker") or "").upper() == t}) > 1 for t in companies if t)
        periods = () if tickers else tuple(sorted({all_docs[d]["period"] for d in docs if all_docs[d].get("period")}))
    else:
        docs = of_company
    scoped = bool(tickers or periods) and not missing
    if scoped and docs:
        docs = sorted(set(docs) | set(unidentified))
    return Scope(
        doc_ids=tuple(sorted(docs)) if scoped and docs else (),
        tickers=tuple(sorted(tickers)),
        periods=periods,
        missing_companies=tuple(missing),
        missing_periods=missing_periods,
        ahead=bool(periods) and not missing_periods and bool(docs)
        and all(all_docs[d].get("period") not in periods for d in docs if all_docs[d].get("period")),
        latest=defaulted,
        asked_latest=asked_latest,
    )


def every_call(scope: Scope, catalog: Catalog) -> Scope:
    """`scope` widened from the newest call of each named company to all of its calls."""
    docs = [d for d, m in catalog.docs.items()
            if (m.get("ticker") or "").upper() in scope.tickers or not m.get("ticker")]
    return Scope(doc_ids=tuple(sorted(docs)), tickers=scope.tickers)

"""Which transcripts a question is about: companies, tickers and fiscal periods it names, matched
against the documents the index holds (English or Chinese names), and companies it does not hold."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rag.companies import KNOWN
from rag.ingest.meta import normalize_period

# Tickers that are single letters or ordinary words; they count only as "$T", "(T)" or "NYSE: T".
# Others (KO, MA, DE) count when written in capitals as a word of their own.
_AMBIGUOUS_TICKERS = {"T", "Z", "A", "ON", "IT", "ALL", "ARE", "NOW", "ME", "SO", "BE", "AI", "Q"}


@dataclass(frozen=True)
class Scope:
    """What a question names: matched documents, and names/periods the index does not hold."""

    doc_ids: tuple[str, ...] = ()  # documents the question is scoped to (empty: no scoping)
    tickers: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()
    missing_companies: tuple[str, ...] = ()  # named companies with no transcript in the index
    missing_periods: tuple[str, ...] = ()  # named periods with no transcript (of the named company)
    ahead: bool = False  # the named period lies after the scoped calls: only guidance can answer

    @property
    def out_of_index(self) -> bool:
        return bool(self.missing_companies or self.missing_periods)


@dataclass
class Catalog:
    """The index's documents as names to match: built once per loaded index."""

    docs: dict[str, dict[str, Any]]
    names: list[tuple[str, str]] = field(default_factory=list)  # (lower-cased name, ticker)

    def __post_init__(self) -> None:
        seen: set[tuple[str, str]] = set()
        for d in self.docs.values():
            t = (d.get("ticker") or "").upper()
            for n in [d.get("company"), *(d.get("aliases") or [])]:
                if n and t and (n.lower(), t) not in seen:
                    seen.add((n.lower(), t))
                    self.names.append((n.lower(), t))
        self.names.sort(key=lambda nt: -len(nt[0]))

    @property
    def tickers(self) -> set[str]:
        return {(d.get("ticker") or "").upper() for d in self.docs.values() if d.get("ticker")}


def _name_in(name: str, text_lower: str) -> bool:
    if re.search(r"[\u4e00-\u9fff]", name):
        return name in text_lower
    return re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", text_lower) is not None


def _tickers_in(question: str, candidates: set[str]) -> set[str]:
    found = set()
    for t in candidates:
        if t in _AMBIGUOUS_TICKERS or len(t) < 2:
            pattern = rf"(?:\${re.escape(t)}|\({re.escape(t)}\)|(?:NYSE|NASDAQ|Nasdaq)\s*:\s*{re.escape(t)})(?![A-Za-z])"
        else:
            pattern = rf"(?<![A-Za-z0-9]){re.escape(t)}(?![A-Za-z0-9])"
        if re.search(pattern, question):
            found.add(t)
    return found


def _quarter_index(period: str) -> int:
    return int(period[2:6]) * 4 + int(period[-1]) - 1


def _guidance_docs(catalog: Catalog, tickers: set[str], period: str) -> list[str]:
    """The latest call of each named company, when `period` lies 1-4 quarters after it."""
    if not tickers:
        return []
    out = []
    for t in tickers:
        calls = [(m.get("period"), d) for d, m in catalog.docs.items()
                 if (m.get("ticker") or "").upper() == t and m.get("period")]
        if not calls:
            continue
        latest = max(_quarter_index(p) for p, _ in calls)
        if 1 <= _quarter_index(period) - latest <= 4:
            out += [d for p, d in calls if _quarter_index(p) == latest]
    return out


def detect(question: str, catalog: Catalog) -> Scope:
    """The scope a question names (see `Scope`)."""
    lower = question.lower()
    indexed = catalog.tickers
    tickers: set[str] = set()
    masked = lower
    for name, t in catalog.names:  # longest names first, so "Zillow Group" wins over "Zillow"
        if _name_in(name, masked):
            tickers.add(t)
            masked = masked.replace(name, " ")
    tickers |= _tickers_in(question, indexed)
    # Companies we know of but hold no transcript for: answer "not in the index", never another company.
    missing: list[str] = []
    for t, names in KNOWN.items():
        if t in indexed:
            continue
        hit = next((n for n in names if _name_in(n.lower(), masked)), None)
        if hit is None and t not in _AMBIGUOUS_TICKERS and len(t) >= 3:
            hit = t if _tickers_in(question, {t}) else None
        if hit:
            missing.append(hit)
    period = normalize_period(question)
    periods = (period,) if period else ()
    docs = [
        d for d, meta in catalog.docs.items()
        if (not tickers or (meta.get("ticker") or "").upper() in tickers)
        and (not periods or meta.get("period") in periods)
    ]
    missing_periods: tuple[str, ...] = ()
    if periods and not docs:
        # A period after the company's latest call is what that call's guidance speaks of ("Q4
        # guidance" asked of the Q3 call): scope to the company's calls. An earlier period, or one
        # more than a year ahead, is a call the index does not hold.
        later = _guidance_docs(catalog, tickers, periods[0])
        if later:
            docs = later
        else:
            missing_periods = periods
    scoped = bool(tickers or periods) and not missing
    return Scope(
        doc_ids=tuple(sorted(docs)) if scoped and docs else (),
        tickers=tuple(sorted(tickers)),
        periods=periods,
        missing_companies=tuple(missing),
        missing_periods=missing_periods,
        ahead=bool(periods) and not missing_periods and bool(docs)
        and all(catalog.docs[d].get("period") not in periods for d in docs),
    )

"""Follow-up questions: rewrite a question that leans on the chat history into a standalone one,
carrying over the company, period and metric of earlier turns ("那环比呢？" -> "亚马逊积压订单环比增长多少？")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rag.cues import ASKS_GUIDANCE, quarters_in, with_quarter
from rag.glossary import groups, is_aspect, without
from rag.scope import Catalog, detect, without_companies
from rag.text_lang import language

# Pairs a follow-up swaps: asking for one side after a question about the other.
CONTRASTS: list[tuple[str, str]] = [
    ("同比", "环比"),
    ("year over year", "quarter over quarter"),
    ("year-over-year", "quarter-over-quarter"),
    ("year over year", "sequentially"),
    ("non-GAAP", "GAAP"),
    ("第四季度", "全年"),
    ("fourth quarter", "full year"),
    ("the quarter", "the full year"),
    ("营收", "利润"),
    ("revenue", "operating income"),
]
_ELLIPTIC_EN = re.compile(r"^\s*(and|what about|how about|what of|same for|and for|also|then)\b", re.I)
_ELLIPTIC_ZH = re.compile(r"^\s*(那|那么|还有|另外|其中|而|同时)|呢[？?]?\s*$")
# Words pointing back at what was just asked ("How does that compare with a year ago?", 这个数字同比呢).
_ANAPHOR = re.compile(r"\b(?:that|this|it|those|these)\b|这个|那个|这一|它", re.I)


def continues(question: str) -> bool:
    """Explicitly continuing: "And sequentially?", "What about ...", "那环比呢？"."""
    q = question.strip()
    return bool(_ELLIPTIC_EN.search(q) or _ELLIPTIC_ZH.search(q))


def is_elliptical(question: str) -> bool:
    """Questions that lean on the previous one: explicitly continuing, or short ones naming no
    metric of their own ("同比变化了多少？", "Why?"). A short question that names a metric
    ("营业利润率是多少？") asks something new about the same company."""
    q = question.strip()
    if continues(q):
        return True
    own_measure = any(not is_aspect(g) for g in groups(q))
    if not own_measure and _ANAPHOR.search(q):
        return True  # names no measure but points back at one: "How does that compare with a year ago?"
    short = len(re.sub(r"[\s？?。，,！!]", "", q)) <= 12 if language(q) == "zh" else len(q.split()) <= 6
    return short and not own_measure


def _swap(prev: str, question: str) -> str | None:
    """`prev` with the contrasting term the follow-up asks about, or None when no pair applies."""
    q, p = question.lower(), prev.lower()
    for a, b in CONTRASTS:
        for old, new in ((a, b), (b, a)):
            if new.lower() in q and old.lower() in p and new.lower() not in p:
                i = p.index(old.lower())
                return prev[:i] + new + prev[i + len(old):]
    return None


def _measures(text: str) -> list[tuple[str, ...]]:
    return [g for g in groups(text) if not is_aspect(g)]


def _without_old_measure(prev: str, question: str) -> str:
    """`prev` less the measures it names when the follow-up names another ("...non-GAAP operating
    margin in Q1? And the gross margin?"): its company, period and qualifiers stay as context, but
    its measure would otherwise be read as what is asked."""
    new = _measures(question)
    old = _measures(prev)
    if not new or not old or any(set(g) & set(o) for g in new for o in old):
        return prev
    for g in old:
        prev = without(prev, g[0])
    return re.sub(r"[ \t]{2,}", " ", prev)


def _named(question: str, catalog: Catalog, lang: str) -> tuple[str | None, str | None]:
    """(company name in `lang` where the catalog has one, period) that a question names."""
    scope = detect(question, catalog)
    company = None
    if scope.tickers:
        t = scope.tickers[0]
        doc = next((d for d in catalog.docs.values() if (d.get("ticker") or "").upper() == t), {})
        names = [n for n in [doc.get("company"), *(doc.get("aliases") or [])] if n]
        in_lang = [n for n in names if (language(n) == "zh") == (lang == "zh")]
        company = (in_lang or names or [None])[0]
    return company, (scope.periods[0] if scope.periods else None)


def _rewrite_one(question: str, prev: str, catalog: Catalog) -> str:
    lang = language(question)
    company, period = _named(question, catalog, lang)
    if continues(question) or (company is None and is_elliptical(question)):
        swapped = _swap(prev, question)
        if swapped is not None:
            return swapped
        # Keep the earlier question as context: its company, period and metric stay in the query
        # (its metric only while the follow-up names none of its own, its quarter only while the
        # follow-up names no other: "How about Q2?" after a Q3 question asks about Q2 of that year).
        asked = quarters_in(question)
        if len(asked) == 1 and (n := next(iter(asked))) <= 4 and quarters_in(prev) - asked:
            prev = with_quarter(prev, n)
        # "What about BorgWarner?" after a question about FMC asks the same of BorgWarner, not of both.
        named = set(detect(question, catalog).tickers)
        if named and not named & set(earlier := detect(prev, catalog).tickers):
            prev = without_companies(prev, set(earlier), catalog)
        return f"{_without_old_measure(prev, question).rstrip()} {question.strip()}"
    prev_company, prev_period = _named(prev, catalog, lang)
    if prev_period and not period and ASKS_GUIDANCE.search(prev) and not ASKS_GUIDANCE.search(question):
        # A period carried from a question about guidance is the period guided for ("What Q4
        # guidance did they give?" -> "What growth does that imply?"): it stays an outlook.
        prev_period += "展望" if lang == "zh" else " outlook"
    carry = [x for x, have in ((prev_company, company), (prev_period, period)) if x and not have]
    if not carry:
        return question
    if lang == "zh":
        return f"{''.join(carry)}{question.strip()}"
    return f"{question.strip()} ({', '.join(carry)})"


def rewrite(question: str, history: Sequence[dict[str, Any]] | None, catalog: Catalog) -> str:
    """The standalone form of `question` given earlier turns (`[{"role", "content"}]`)."""
    users = [str(h.get("content", "")) for h in (history or []) if h.get("role") == "user" and h.get("content")]
    if not users:
        return question
    standalone = users[0]
    for q in users[1:]:
        standalone = _rewrite_one(q, standalone, catalog)
    return _rewrite_one(question, standalone, catalog)

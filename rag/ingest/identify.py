"""Which call a text is, from the text itself: a title line ("Snowflake (SNOW) Q1 2025 Earnings
Call", "2026财年第一季度财报电话会议") and, failing that, the body (the company it names most often, a
ticker in parentheses)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from rag.companies import KNOWN, short_forms, ticker_for
from rag.ingest.meta import find_date, normalize_period
from rag.ingest.opening import from_title_line

# "Microsoft (NASDAQ: MSFT) Q4 2025 Earnings Call", "Snowflake(SNOW+7.02%)Q1 2025 Earnings Call"
_FOOL_TITLE = re.compile(
    r"(?P<name>[A-Z\u4e00-\u9fff][\w.&,'’ \-]{0,60}?)\s*[(（](?:(?:NYSE|NASDAQ|Nasdaq|NYSEMKT|AMEX)\s*[:：]\s*)?"
    r"(?P<ticker>[A-Z]{1,5}(?:\.[A-Z]{1,2})?)(?:\s*[+\-−]\s*[\d.]+%)?[)）]\s*"
    r"(?P<period>Q[1-4]\s*(?:FY\s*)?'?\d{2,4}|FY\s*'?\d{2,4}\s*Q[1-4]|\d{4}\s*财年\s*第?[一二三四1-4]\s*(?:财季|季度))"
    r"\s*(?:Earnings|财报|业绩|Conference|电话会)",
)
# A ticker the text gives in parentheses: "(NASDAQ: MDB)", "(SNOW+7.02%)", "(AMZN.US)"
_PAREN_TICKER = re.compile(
    r"[(（](?:(?:NYSE|NASDAQ|Nasdaq|NYSEMKT|AMEX)\s*[:：]\s*)?(?P<t>[A-Z]{1,5})(?:\.US)?(?:\s*[+\-−]\s*[\d.]+%)?[)）]"
)
_TITLE_LINES = 6
_ZH_TITLE_NAME = re.compile(r"^(?P<name>[\u4e00-\u9fff][\u4e00-\u9fffA-Za-z&·]{1,19}?)\s*(?:20\d\d|FY|财年)")


def from_title(text: str) -> dict[str, Any]:
    """Metadata from the first lines: a Fool-style title, or a period in a Chinese title.

    The quarter in a Fool title is the company's own fiscal label ("Q2 2025" -> FY2025Q2)."""
    head_lines = [ln.strip() for ln in text[:4000].splitlines() if ln.strip()][:_TITLE_LINES]
    out: dict[str, Any] = {}
    for ln in head_lines:
        m = _FOOL_TITLE.search(ln)
        if m:
            out["company"] = m.group("name").strip(" ,")
            out["ticker"] = m.group("ticker")
            out["period"] = normalize_period(m.group("period"))
            date = find_date(ln[m.end():])
            if date:
                out["call_date"] = date
            break
    if "company" not in out:
        # No ticker in the title: "Acme Corp Q1 2021 Earnings Conference Call". The name is a guess
        # ("Edited Transcript Q1 2024 Earnings Call"), kept as one only where a company table knows it or
        # the text names it again, and a table's name for a ticker goes before it.
        for ln in head_lines:
            found = from_title_line(ln)
            if found:
                named = ticker_for(found["company"]) is not None or _named_again(found["company"], ln, text)
                out.update(period=found["period"], **({"titled_name": found["company"]} if named else {}))
                break
    if "period" not in out:
        for ln in head_lines:
            if re.search(r"财年|财季|季度", ln) and re.search(r"业绩|财报|电话会|会议", ln):
                period = normalize_period(ln)
                if period:
                    out["period"] = period
                    # "示例科技2024年第一季度业绩电话会": the name the title opens with.
                    m = _ZH_TITLE_NAME.match(ln)
                    if m and "company" not in out and _named_again(m.group("name").strip(), ln, text):
                        out["titled_name"] = m.group("name").strip()
                    break
    if "call_date" not in out:
        for ln in head_lines:
            date = find_date(ln)
            if date and len(ln) < 120:
                out["call_date"] = date
                break
    return {k: v for k, v in out.items() if v}


def _named_again(name: str, title: str, text: str) -> bool:
    """Whether the text names a title's company again, outside the title line itself: in full, short
    ("Initech" of "Initech Corp") or by its first word as people call it ("Omega's CEO" of Omega
    Healthcare Investors)."""
    rest = text.replace(title, "", 1)
    first = name.split()[0].strip(",")
    forms = (name, *short_forms(name), *([first] if len(first) >= 4 and first[0].isupper() else []))
    return any(_mentions(f, rest) >= 1 for f in forms if len(f) >= 2)


def _mentions(name: str, text: str) -> int:
    if re.search(r"[\u4e00-\u9fff]", name):
        return text.count(name)
    return len(re.findall(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", text))


def from_body(text: str) -> dict[str, Any]:
    """The company the text names most often (by the company table's names and aliases, at least
    three times), or a ticker it gives in parentheses; empty when neither is clear."""
    counts: Counter[str] = Counter()
    for ticker, names in KNOWN.items():
        n = sum(_mentions(name, text) for name in names if len(name) >= 3 or re.search(r"[\u4e00-\u9fff]", name))
        if n:
            counts[ticker] = n
    paren = Counter(m.group("t") for m in _PAREN_TICKER.finditer(text))
    for t, n in paren.items():
        if t in KNOWN:
            counts[t] += 3 * n  # a ticker in parentheses names the company on purpose
    if counts:
        (best, n), *rest = counts.most_common(2) + [("", 0)]
        if n >= 3 and n >= 2 * rest[0][1]:
            return {"ticker": best, "company": KNOWN[best][0]}
    if paren:
        t, n = paren.most_common(1)[0]
        if n >= 2 or len(paren) == 1:
            return {"ticker": t}
    return {}

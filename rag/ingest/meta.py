"""Transcript metadata: fiscal periods, call dates, language, file-name convention, sidecars."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from rag.errors import TranscriptError
from rag.ingest.text import cjk_ratio, strip_invisible

_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
_ZH_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}


def _year(y: str) -> int:
    n = int(y)
    return n + 2000 if n < 100 else n


def _fmt(year: int, q: int) -> str | None:
    if not (1990 <= year <= 2100 and 1 <= q <= 4):
        return None
    return f"FY{year}Q{q}"


# A period as `normalize_period` writes it (and the catalog and a rewritten follow-up carry it).
PERIOD = re.compile(r"\bFY(\d{4})Q([1-4])\b")


def period_parts(period: str | None) -> tuple[int, int] | None:
    """(fiscal year, quarter) of a period written as `normalize_period` writes it ("FY2025Q3"), else None."""
    m = PERIOD.fullmatch(period or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def quarter_before(year: int, quarter: int) -> str:
    """The period before a fiscal quarter, across a year end ("FY2025Q4" before 2026 Q1)."""
    return f"FY{year}Q{quarter - 1}" if quarter > 1 else f"FY{year - 1}Q4"


# Ordered: the most explicit notations first. Each yields (year, quarter) group names.
# ASCII-only word boundaries: Python's \b treats CJK characters as word characters, which
# would hide "FY25Q4" in "亚马逊FY25Q4电话会".
_L = r"(?<![A-Za-z0-9])"
_R = r"(?![A-Za-z0-9])"

_PERIOD_PATTERNS: list[re.Pattern[str]] = [
    re.compile(_L + r"FY\s?'?(?P<y>\d{2}|\d{4})\s*-?\s*Q(?P<q>[1-4])" + _R, re.I),
    re.compile(_L + r"Q(?P<q>[1-4])\s*[-' ]?\s*(?:FY|fiscal(?: year)?)\s*'?(?P<y>\d{2}|\d{4})" + _R, re.I),
    re.compile(_L + r"Q(?P<q>[1-4])\s+(?P<y>\d{4})" + _R, re.I),
    re.compile(_L + r"(?P<y>\d{4})\s*Q(?P<q>[1-4])" + _R, re.I),
    re.compile(r"(?P<y>\d{4}|\d{2})\s*财年\s*第?(?P<q>[一二三四1-4])\s*(?:财季|季度|季)"),
    re.compile(_L + r"FY\s?'?(?P<y>\d{4}|\d{2})\s*(?:财年)?\s*第?(?P<q>[一二三四1-4])\s*(?:财季|季度|季)", re.I),
    re.compile(r"(?P<y>\d{4})\s*年\s*第?(?P<q>[一二三四1-4])\s*(?:财季|季度|季)"),
    re.compile(
        _L + r"(?P<q>first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+(?:fiscal[\s-]+)?quarter"
        r"(?:\s+of)?(?:\s+fiscal)?(?:\s+year)?\s+'?(?P<y>\d{4}|\d{2})" + _R,
        re.I,
    ),
    re.compile(
        _L + r"Q(?P<q>[1-4])\s+fiscal\s+(?:year\s+)?'?(?P<y>\d{4}|\d{2})" + _R,
        re.I,
    ),
    # "fiscal 2026 first quarter", "FY26 second quarter", "fiscal year 2025 Q3"
    re.compile(
        _L + r"(?:FY|fiscal(?:\s+year)?)\s*'?(?P<y>\d{4}|\d{2})\s+(?:(?P<q>first|second|third|fourth|1st|2nd|3rd|4th)"
        r"[\s-]+(?:fiscal\s+)?quarter|Q(?P<q2>[1-4]))" + _R,
        re.I,
    ),
    # "2019 Fourth Quarter and Year End Earnings Conference Call": the year before the quarter
    re.compile(_L + r"(?P<y>\d{4})\s+(?P<q>first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+quarter" + _R, re.I),
    # "Q1 of fiscal 2025", "Q3 of 2024", "Q2 of FY21"
    re.compile(_L + r"Q(?P<q>[1-4])\s+of\s+(?:(?:the\s+)?(?:fiscal|FY)\s*)?(?:year\s+)?'?(?P<y>\d{4}|\d{2})" + _R, re.I),
    # The sell side's shorthand: "3Q21", "2Q 2020", "1Q FY22", "F3Q21", "4QFY2021"
    re.compile(_L + r"F?(?P<q>[1-4])Q\s*(?:FY|fiscal\s+)?\s*['’]?(?P<y>\d{4}|\d{2})" + _R, re.I),
    # "FQ3 2021", "FQ3'21", "FQ3 FY21": a fiscal quarter
    re.compile(_L + r"FQ(?P<q>[1-4])\s*(?:['’-]|FY)?\s*(?P<y>\d{4}|\d{2})" + _R, re.I),
    # "Q3'21", "Q3 '21", "Q3-21", "Q3-2021", "Q3/2021"
    re.compile(_L + r"Q(?P<q>[1-4])\s*(?:['’]|[-/])\s*(?P<y>\d{4}|\d{2})" + _R, re.I),
    # "2020年Q2", "21年的Q3", "2021财年Q3", "21年三季度", "2021年度第三季度"
    re.compile(r"(?<!\d)(?P<y>\d{4}|\d{2})\s*(?:财年|年度?)\s*(?:的\s*)?Q(?P<q>[1-4])" + _R, re.I),
    re.compile(r"(?<!\d)(?P<y>\d{4}|\d{2})\s*(?:财年|年度?)\s*(?:的\s*)?第?(?P<q>[一二三四1-4])\s*(?:财季|季度|季)"),
    # "21Q3", "2021 3Q", "FY21 3Q"
    re.compile(_L + r"(?P<y>\d{2})Q(?P<q>[1-4])" + _R, re.I),
    re.compile(_L + r"(?:FY\s?'?(?P<y2>\d{4}|\d{2})|(?P<y>\d{4}))\s+(?P<q>[1-4])Q" + _R, re.I),
    # "third quarter of FY2021", "third qtr 2021", "third quarter, 2021", "Q3, 2021", "Q3 (2021)"
    re.compile(_L + r"(?P<q>first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+(?:quarter|qtr)(?:\s+of)?(?:\s*,\s*|\s*\(\s*|\s+)"
               r"(?:the\s+)?(?:FY|fiscal\s*(?:year\s*)?|calendar\s+(?:year\s+)?)?\s*'?(?P<y>\d{4}|\d{2})" + _R, re.I),
    re.compile(_L + r"Q(?P<q>[1-4])(?:\s*,\s*|\s*\(\s*|\s+of\s+calendar\s+(?:year\s+)?)(?P<y>\d{4})" + _R, re.I),
    # "第三季度（2021年）", "三季度2021"
    re.compile(r"第?(?P<q>[一二三四1-4])\s*(?:财季|季度)\s*[（(]?\s*(?P<y>\d{4})(?!\d)"),
]


def normalize_period(text: str | None) -> str | None:
    """The first fiscal period named in `text`, as `FY2025Q4`, or None.

    >>> normalize_period("Q3 2024"), normalize_period("FY25Q4"), normalize_period("2024财年第三财季")
    ('FY2024Q3', 'FY2025Q4', 'FY2024Q3')
    """
    if not text:
        return None
    best: tuple[int, str] | None = None
    for pat in _PERIOD_PATTERNS:
        m = pat.search(text)
        if not m:
            continue
        q_raw = m.group("q") or m.groupdict().get("q2")
        q = _ORDINALS.get(q_raw.lower()) or _ZH_DIGITS.get(q_raw) or int(q_raw)
        p = _fmt(_year(m.group("y") or m.groupdict().get("y2")), q)
        # Earliest match in the text wins, so a title's period beats one mentioned later.
        if p and (best is None or m.start() < best[0]):
            best = (m.start(), p)
    return best[1] if best else None


def period_spans(text: str | None) -> list[tuple[int, int, str]]:
    """(start, end, period as `FY2025Q4`) of every fiscal period named in `text`, in the order named;
    of overlapping matches the earliest and longest counts."""
    if not text:
        return []
    found: list[tuple[int, int, str]] = []
    for pat in _PERIOD_PATTERNS:
        for m in pat.finditer(text):
            q_raw = m.group("q") or m.groupdict().get("q2")
            q = _ORDINALS.get(q_raw.lower()) or _ZH_DIGITS.get(q_raw) or int(q_raw)
            if p := _fmt(_year(m.group("y") or m.groupdict().get("y2")), q):
                found.append((m.start(), -m.end(), p))
    out: list[tuple[int, int, str]] = []
    for start, neg_end, p in sorted(found):
        if not out or start >= out[-1][1]:
            out.append((start, -neg_end, p))
    return out


def all_periods(text: str | None) -> list[str]:
    """Every fiscal period named in `text`, each once, in the order named ("Q4 FY25 and Q2 FY26" ->
    ["FY2025Q4", "FY2026Q2"])."""
    return list(dict.fromkeys(p for _, _, p in period_spans(text)))


_DATE_PATTERNS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(_L + r"(\d{4}-\d{2}-\d{2})" + _R), ("%Y-%m-%d",)),
    (re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日"), ()),
    (
        re.compile(
            r"((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2},\s*\d{4})"
        ),
        ("%b %d, %Y", "%B %d, %Y"),
    ),
]


def find_date(text: str) -> str | None:
    """The first calendar date in `text`, as an ISO string."""
    found: list[tuple[int, str]] = []
    for pat, fmts in _DATE_PATTERNS:
        m = pat.search(text)
        if not m:
            continue
        if not fmts:
            y, mo, d = (int(g) for g in m.groups())
            try:
                found.append((m.start(), datetime(y, mo, d).date().isoformat()))
            except ValueError:
                pass
            continue
        raw = re.sub(r"\s+", " ", m.group(1).replace(".", "")).replace("Sept ", "Sep ")
        raw = re.sub(r",\s*", ", ", raw)
        for fmt in fmts:
            try:
                found.append((m.start(), datetime.strptime(raw, fmt).date().isoformat()))
                break
            except ValueError:
                continue
    return min(found)[1] if found else None


def detect_language(text: str) -> str:
    return "zh" if cjk_ratio(text[:20000]) > 0.3 else "en"


_TICKER_TOKEN = re.compile(r"^[A-Za-z]{1,5}(?:\.[A-Za-z]{1,2})?$")
_PERIOD_TOKEN = re.compile(r"^(?:q[1-4]|fy\d{2,4}(?:q[1-4])?|\d{4}(?:q[1-4])?|h[12])$", re.I)
_LANG_WORDS = {"zh": "zh", "cn": "zh", "chinese": "zh", "中文": "zh", "en": "en", "english": "en"}


def from_filename(path: Path) -> dict[str, Any]:
    """Ticker, fiscal period and language from a file name in any common form: `AMZN_FY25Q4_zh`,
    `MSFT_Q2_2025_earnings_call`, `SNOW-2025-Q3`, `TAL_2026Q2`, `DIS_q1_2022`, with any suffix words.

    The ticker is the first word when it is short, alphabetic and not itself a period; the period is
    the first fiscal quarter the words name. Empty when neither is found.
    """
    words = [w for w in re.split(r"[_\-\s]+", path.stem) if w]
    out: dict[str, Any] = {}
    # "AAN_q1_2021", "aan-q1-2021" open with a ticker; "Acme Corp Q1 2021 Earnings Call" with a name.
    cased = words[0].isupper() or words[0].islower()
    if len(words) >= 2 and cased and _TICKER_TOKEN.match(words[0]) and not _PERIOD_TOKEN.match(words[0]):
        rest = " ".join(words[1:])
        period = normalize_period(rest)
        if period:
            out["ticker"] = words[0].upper()
            out["period"] = period
    else:
        period = normalize_period(" ".join(words))
        if period:
            out["period"] = period
    for w in words[1:]:
        if w.lower() in _LANG_WORDS:
            out["language"] = _LANG_WORDS[w.lower()]
    return out


SIDECAR_FIELDS = {"company", "ticker", "period", "call_date", "language", "aliases"}


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.stem + ".meta.json")


def _within(link: Path, folder: Path) -> bool:
    try:
        return link.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a link loop
        return False


def read_sidecar(path: Path) -> dict[str, Any]:
    """Overrides from `NAME.meta.json` beside the transcript; errors name the file and field."""
    side = sidecar_path(path)
    if not side.exists():
        return {}
    if side.is_symlink() and not _within(side, path.parent):
        # Whatever it points at would be parsed and its error messages could echo it.
        raise TranscriptError(f"{side}: metadata sidecar links outside the transcript's folder; not read")
    try:
        data = json.loads(strip_invisible(side.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TranscriptError(f"{side}: cannot read metadata sidecar: {e}") from e
    if not isinstance(data, dict):
        raise TranscriptError(f"{side}: metadata sidecar must be a JSON object")
    unknown = set(data) - SIDECAR_FIELDS
    if unknown:
        raise TranscriptError(
            f"{side}: unknown field(s) {sorted(unknown)}; allowed: {sorted(SIDECAR_FIELDS)}"
        )
    for key, value in data.items():
        ok = isinstance(value, list) if key == "aliases" else isinstance(value, str)
        if not ok:
            raise TranscriptError(f"{side}: field '{key}' must be a {'list' if key == 'aliases' else 'string'}")
    if "period" in data:
        p = normalize_period(data["period"])
        if p is None:
            raise TranscriptError(f"{side}: field 'period' ({data['period']!r}) is not a fiscal quarter like FY2025Q4")
        data["period"] = p
    if "language" in data and data["language"] not in ("en", "zh"):
        raise TranscriptError(f"{side}: field 'language' must be 'en' or 'zh'")
    return data

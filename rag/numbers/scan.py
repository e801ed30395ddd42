"""`extract` and `parse`: one pass over a text, a handler per kind of candidate, English words apart."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

from rag.numbers.amount import (
    _amount_from_head,
    _merge_range,
    _num_value,
    _qualifier,
    _read_amount,
    _zh_value,
)
from rag.numbers.lexicon import (
    _ASCII_LOWER,
    _BETWEEN,
    _EN,
    _EN_ANCHOR,
    _EN_DENOMS,
    _EN_WORDS,
    _FULLWIDTH,
    _FULLWIDTH_RE,
    _HALF_PERIOD_AFTER,
    _HALF_PERIOD_BEFORE,
    _HEAD_RE,
    _MASTER,
    _MONTHS,
    _QUAL_AFTER,
    _QUAL_BEFORE,
    _QUARTER_AFTER,
    _RANGE_SEP,
    _SP,
    _TRIGGER,
    _ZH_MEASURE,
    _ZH_VAGUE_BEFORE,
)
from rag.numbers.quantity import Quantity, _q

# ---- handlers: one per alternative of _MASTER; each returns (quantities, where to resume) -----

def _on_head(t: str, m: re.Match[str]) -> tuple[list[Quantity], int]:
    a = _amount_from_head(t, m)
    if a is None:
        return [], m.end()
    a.qualifier = a.qualifier or _qualifier(_QUAL_BEFORE.search(t, max(0, a.start - 24), a.start))
    ends = [a]
    sep = _RANGE_SEP.match(t, a.end) if not _QUAL_AFTER.match(t, a.end) else None
    if sep and (not sep.group("and") or _BETWEEN.search(t, max(0, a.start - 12), a.start)):
        h = _HEAD_RE.match(t, sep.end())
        b = _amount_from_head(t, h) if h else None
        if b is not None and _merge_range(a, b):
            ends.append(b)
    qs = [e.quantity(t) for e in ends]
    if len(qs) == 2:
        lo, hi = sorted((qs[0].value, qs[1].value))
        qs = [replace(q, low=lo, high=hi) for q in qs]
    return qs, max(e.end for e in ends)


def _on_zh(t: str, m: re.Match[str]) -> tuple[list[Quantity], int]:
    s, e = m.span()
    v = _zh_value(m.group())
    if v is None or (s and t[s - 1] in _ZH_VAGUE_BEFORE):
        return [], e
    if t.startswith("月", e) and v == int(v) and 1 <= v <= 12:
        return [_q(t, int(v) * 100, "date", s, e + 1)], e + 1  # 十一月
    lone = len(m.group()) == 1
    a = _read_amount(t, s, e, v, None, need_unit=lone and not re.match(_ZH_MEASURE, t[e:e + 1]))
    if a is None:
        return [], e
    if s and t[s - 1] == "第":
        if _QUARTER_AFTER.match(t, e):
            return [], e
        a.ordinal = True
    return [a.quantity(t)], a.end


def _on_zhpct(t: str, m: re.Match[str]) -> tuple[list[Quantity], int]:
    v = _num_value(m.group("zpn"))
    if v is None:
        return [], m.end()
    per = Decimal(1) if m.group("zpb") == "百" else Decimal("0.1")  # 千分之五 = 0.5%
    return [_q(t, v * per, "percent", m.start(), m.end())], m.end()


def _on_zhfrac(t: str, m: re.Match[str]) -> tuple[list[Quantity], int]:
    d, n = _num_value(m.group("zfd")), _num_value(m.group("zfn"))
    if not d or n is None:
        return [], m.end()
    return [_q(t, float(n) / float(d), "fraction", m.start(), m.end())], m.end()


def _on_digfrac(t: str, m: re.Match[str]) -> tuple[list[Quantity], int]:
    n, d = int(m.group("fa")), int(m.group("fb"))
    if not n < d <= 10:
        return _on_head(t, _HEAD_RE.match(t, m.start()))  # 24/7 and the like: plain numbers
    return [_q(t, n / d, "fraction", m.start(), m.end())], m.end()


def _on_enfrac(t: str, m: re.Match[str]) -> tuple[list[Quantity], int]:
    word, den = m.group("efn").lower(), m.group("efd").lower()
    quarter, hyphen = den.startswith("quarter"), m.group("efs") == "-"
    if (word == "a" and not re.match(_SP + "+of\\b", t[m.end():m.end() + 4])) or (
            quarter and not hyphen) or t.startswith(("-", " quarter"), m.end()):
        return [], m.end()  # "a third party", "three quarters", "one third-party"
    n = 1 if word == "a" else _EN_WORDS[word]
    return [_q(t, n / _EN_DENOMS[den.rstrip("s") if den != "halves" else "half"], "fraction",
               m.start(), m.end())], m.end()


def _on_half(t: str, m: re.Match[str]) -> tuple[list[Quantity], int]:
    if _HALF_PERIOD_BEFORE.search(t, max(0, m.start() - 12), m.start()) or _HALF_PERIOD_AFTER.match(
            t, m.end()):
        return [], m.end()  # "second half of the year", "half-year": a period, not a share
    return [_q(t, 0.5, "fraction", m.start(), m.end())], m.end()


def _on_halfunit(t: str, m: re.Match[str]) -> tuple[list[Quantity], int]:
    kind = "percent" if m.group("hu").lower() == "percent" else "pp"
    return [_q(t, 0.5, kind, m.start(), m.end())], m.end()


def _on_enword(t: str, m: re.Match[str]) -> tuple[list[Quantity], int]:
    w = m.group("ew").lower()
    tens, _, unit = w.partition("-")
    v = Decimal(_EN_WORDS[tens] + (_EN_WORDS[unit] if unit else 0))
    a = _read_amount(t, m.start(), m.end(), v, None, need_unit=True)
    return ([a.quantity(t)], a.end) if a else ([], m.end())


def _on_enfold(t: str, m: re.Match[str]) -> tuple[list[Quantity], int]:
    return [_q(t, _EN_WORDS[m.group("efw").lower()], "multiple", m.start(), m.end())], m.end()


def _on_zhdouble(t: str, m: re.Match[str]) -> tuple[list[Quantity], int]:
    v = 4 if m.group("zdn") == "两" else 2  # 翻两番 quadruples
    return [_q(t, v, "multiple", m.start(), m.end())], m.end()


def _date(t: str, m: re.Match[str], y: str | None, mo: int, d: str | None) -> tuple[list[Quantity], int]:
    day = int(d) if d else 0
    if not (1 <= mo <= 12 and 0 <= day <= 31):
        return [], m.end()
    year = int(y) if y else 0
    year += 2000 if 0 < year < 100 else 0
    return [_q(t, year * 10000 + mo * 100 + day, "date", m.start(), m.end())], m.end()


def _on_bmonth(t: str, m: re.Match[str]) -> tuple[list[Quantity], int]:
    return [_q(t, _MONTHS[m.group()] * 100, "date", m.start(), m.end())], m.end()


def _year(t: str, m: re.Match[str], digits: str) -> tuple[list[Quantity], int]:
    y = int(digits)
    y += 0 if y >= 100 else 2000 if y < 50 else 1900  # FY25, '22
    return [_q(t, y, "year", m.start(), m.end())], m.end()


def _nothing(t: str, m: re.Match[str]) -> tuple[list[Quantity], int]:
    return [], m.end()


_HANDLERS = {
    "cite": _nothing, "time": _nothing, "head": _on_head, "zh": _on_zh, "zhpct": _on_zhpct,
    "zhfrac": _on_zhfrac, "digfrac": _on_digfrac, "enfrac": _on_enfrac, "half": _on_half,
    "halfunit": _on_halfunit, "enword": _on_enword, "enfold": _on_enfold, "zhdouble": _on_zhdouble,
    "bmonth": _on_bmonth,
    "zhhalf": lambda t, m: ([_q(t, 0.5, "fraction", m.start(), m.end())], m.end()),
    "iso": lambda t, m: _date(t, m, m.group("iy"), int(m.group("im")), m.group("id")),
    "usdate": lambda t, m: _date(t, m, m.group("uy"), int(m.group("um")), m.group("ud")),
    "zhdate": lambda t, m: _date(t, m, m.group("zy"), int(m.group("zm")), m.group("zd")),
    "mdy": lambda t, m: _date(t, m, m.group("myear") or m.group("myear2"), _MONTHS[m.group("mon")],
                              m.group("mday")),
    "dmy": lambda t, m: _date(t, m, m.group("dyear"), _MONTHS[m.group("dmon")], m.group("dday")),
    "fy": lambda t, m: _nothing(t, m) if m.group("fyq") else _year(t, m, m.group("fyn")),
    "apyear": lambda t, m: _year(t, m, m.group("apn")),
}


# ---- public API ------------------------------------------------------------------------------

def extract(text: str) -> list[Quantity]:
    """Every quantity in `text`, in order, with offsets into `text`."""
    # One char for one char, so offsets stay valid; re.sub because str.translate is slow.
    t = _FULLWIDTH_RE.sub(lambda m: _FULLWIDTH[m.group()], text)
    out = _scan(t)
    if en := _scan_words(t):
        taken = [(q.start, q.end) for q in out]
        out += [q for q in en if not any(s < q.end and q.start < e for s, e in taken)]
        out.sort(key=lambda q: q.start)
    if t != text:
        out = [replace(q, text=text[q.start:q.end]) for q in out]
    return out


def _scan(t: str) -> list[Quantity]:
    out: list[Quantity] = []
    pos = 0
    while (tr := _TRIGGER.search(t, pos)) is not None:
        m = _MASTER.match(t, tr.start())
        if m is None:
            pos = tr.start() + 1
            continue
        found, end = _HANDLERS[m.lastgroup](t, m)  # type: ignore[index]
        out.extend(found)
        pos = max(end, m.end())
    return out


def _scan_words(t: str) -> list[Quantity]:
    low = t.lower()
    if len(low) != len(t):  # a few letters (İ) lower to two chars; offsets must not move
        low = t.translate(_ASCII_LOWER)
    out: list[Quantity] = []
    last = 0
    for a in _EN_ANCHOR.finditer(low):
        ws = max(last, a.start() - 40)
        while (m := _EN.search(low, ws, a.end() + 40)) is not None and m.start() <= a.start():
            found, end = _HANDLERS[m.lastgroup](t, m)  # type: ignore[index]
            out.extend(found)
            ws = last = max(end, m.end())
    return out


def parse(s: str) -> Quantity:
    """The one quantity a gold-number string holds ("2440亿美元", "40 basis points", "30%-40%").

    For a range the low end is returned; its `low`/`high` carry the whole range.
    """
    qs = extract(s)
    if not qs:
        raise ValueError(f"no number in {s!r}")
    if len(qs) == 1 or (len(qs) == 2 and qs[0].is_range and (qs[0].low, qs[0].high) == (
            qs[1].low, qs[1].high)):
        return qs[0]
    raise ValueError(f"more than one number in {s!r}: {[q.text for q in qs]}")

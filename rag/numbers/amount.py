"""Reading one number: numerals, and the scale, currency, unit and qualifier written after it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from rag.numbers.lexicon import (
    _CUR_SUFFIX,
    _CUR_SYMBOLS,
    _CUR_WORDS,
    _EN_SCALE,
    _EN_SCALES,
    _ID_AFTER,
    _MORE,
    _QUAL_AFTER,
    _QUARTER_AFTER,
    _UNIT,
    _ZH_DIGITS,
    _ZH_SCALE,
    _ZH_SCALES,
    _ZH_UNITS,
)
from rag.numbers.quantity import Quantity, _q

# ---- parsing helpers -------------------------------------------------------------------------

def _zh_int(s: str) -> int | None:
    """Value of a Chinese numeral such as 三千亿, 一百万, 十二, 一千零五; None if it is not one."""
    total = section = 0
    number: int | None = None
    last_unit = 0
    zero = False
    for ch in s:
        if ch in "零〇":
            if number is not None:
                return None  # 二〇二五-style digit strings are not read
            zero = True
        elif ch in _ZH_DIGITS:
            if number is not None:
                return None  # 三一, 七八: names and guesses, not numbers
            number = _ZH_DIGITS[ch]
        elif ch in _ZH_UNITS:
            unit = _ZH_UNITS[ch]
            if number is None and (section or total or zero) and unit != 10:
                return None
            section += (1 if number is None else number) * unit
            number, last_unit, zero = None, unit, False
        elif ch == "万":
            if number is None and not section:
                return None
            section = (section + (number or 0)) * 10**4
            number, last_unit, zero = None, 10**4, False
        elif ch == "亿":
            if number is None and not section and not total:
                return None
            total = (total + section + (number or 0)) * 10**8
            section, number, last_unit, zero = 0, None, 10**8, False
        else:
            return None
    if number is not None and not zero and last_unit in (100, 1000, 10**4):
        number *= last_unit // 10  # colloquial 三千五 = 3500, 一万二 = 12000
    return total + section + (number or 0)


def _zh_value(s: str) -> Decimal | None:
    whole, _, frac = s.partition("点")
    n = _zh_int(whole) if whole else None
    if n is None or any(c not in _ZH_DIGITS for c in frac):
        return None
    return Decimal(f"{n}.{''.join(str(_ZH_DIGITS[c]) for c in frac)}" if frac else n)


def _num_value(s: str) -> Decimal | None:
    if s and s[0].isdigit():
        return Decimal(s.replace(",", ""))
    return _zh_value(s)


def _qualifier(m: re.Match[str] | None) -> str | None:
    return m.lastgroup if m else None


@dataclass
class _Amount:
    """A number and what was written around it, before units shared across a range are merged."""

    start: int
    end: int
    value: Decimal
    currency: str | None = None
    scale: int | None = None
    unit: str | None = None  # pct, pp, bp, mult, ord, cheng
    qualifier: str | None = None
    yearish: bool = False  # a bare 4-digit 1900..2099: a year unless a unit or scale says otherwise
    ordinal: bool = False

    def quantity(self, text: str) -> Quantity:
        v, scale, unit = self.value, self.scale or 1, self.unit
        if unit == "pct":
            return _q(text, v * scale, "percent", self.start, self.end, None, self.qualifier)
        if unit in ("pp", "bp"):
            v = v * scale / (100 if unit == "bp" else 1)
            return _q(text, v, "pp", self.start, self.end, None, self.qualifier)
        if unit == "cheng":
            return _q(text, v * 10, "percent", self.start, self.end, None, self.qualifier)
        if unit == "mult":
            return _q(text, v, "multiple", self.start, self.end, None, self.qualifier)
        if unit == "ord" or self.ordinal:
            return _q(text, v, "ordinal", self.start, self.end)
        if self.currency:
            return _q(text, v * scale, "money", self.start, self.end, self.currency, self.qualifier)
        if self.yearish and self.scale is None:
            return _q(text, v, "year", self.start, self.end)
        return _q(text, v * scale, "count", self.start, self.end, None, self.qualifier)


def _read_amount(t: str, start: int, num_end: int, value: Decimal, currency: str | None,
                 *, need_unit: bool = False, letter_before: bool = False,
                 digits: str = "") -> _Amount | None:
    """Read scale, currency, unit and qualifier after a number; None when it is an identifier."""
    a = _Amount(start, num_end, value, currency)
    p = num_end
    if (m := _MORE.match(t, p)) and _ZH_SCALE.match(t, p + 1):
        a.qualifier, p = "over", p + 1  # 500多亿
    if m := _ZH_SCALE.match(t, p):
        a.scale = 1
        for ch in m.group(1):
            a.scale *= _ZH_SCALES[ch]
        p = m.end()
    elif (m := _EN_SCALE.match(t, p)) and (m.group(3) not in ("b", "B", "T") or currency):
        a.scale, p = _EN_SCALES[(m.group(1) or m.group(2) or m.group(3)).lower()], m.end()
    if m := _CUR_SUFFIX.match(t, p):
        word = m.group(1) or m.group(2) or m.group(3)
        a.currency = _CUR_WORDS.get(word) or _CUR_WORDS.get(word.lower()) or word
        p = m.end()
    elif (m := _UNIT.match(t, p)) and _unit_fits(m.lastgroup, a, digits):
        a.unit, p = m.lastgroup, m.end()
    strong = a.unit in ("pct", "pp", "bp", "mult", "cheng") or a.currency or (
        a.scale is not None and not t[p - 1].isascii())
    if letter_before and not strong:
        return None  # Trainium2, GPT-4, M365, x86
    if p == num_end and _ID_AFTER.match(t, p):
        return None  # 4Q24, 5G, Phase 2b, 10-K, 0700.HK
    if need_unit and a.unit is None and a.currency is None and a.scale is None:
        return None
    a.end = p
    if q := _QUAL_AFTER.match(t, p):
        a.qualifier = a.qualifier or q.lastgroup
    a.yearish = len(digits) == 4 and digits.isdigit() and 1900 <= int(digits) <= 2099
    if digits and len(digits) == 2 and t.startswith("财年", p):
        a.value, a.yearish = Decimal(2000 + int(digits)), True  # 25财年
    return a


def _unit_fits(unit: str | None, a: _Amount, digits: str) -> bool:
    if a.currency:
        return False
    if a.scale is not None:
        return unit in ("pct", "pp", "bp")  # "11 billion times" is a count of times, not a multiple
    if unit == "ord":
        return digits.isdigit()
    if unit == "cheng":
        return a.value <= 10  # 三成 = 30%; "30成" is not a share
    return True


def _amount_from_head(t: str, m: re.Match[str]) -> _Amount | None:
    """Read the amount whose head (currency, sign, digits) `m` matched; None for identifiers."""
    cur, sign, num = m.group("cur"), m.group("sign"), m.group("num")
    start = m.start()
    value = Decimal(num.replace(",", ""))
    before = t[start - 1] if start else ""
    letter_before = not cur and before.isascii() and before.isalpha() or (
        before in (".", "'", "’") and start > 1 and t[start - 2].isalnum())  # Q4, M365, v1.2.3, Q4'25
    if sign and (before.isascii() and before.isalnum() or before in ("%", ")", "]", "）")):
        sign, start = None, start + 1  # GPT-4, K-12 (letter_before is set); "2%-3%" is a dash
    if (sign or m.group("csign") or "") in ("-", "−"):
        value = -value
    currency = (_CUR_SYMBOLS.get(cur) or ("CNY" if cur == "RMB" else cur)) if cur else None
    a = _read_amount(t, start, m.end("num"), value, currency, letter_before=letter_before,
                     digits=num if "." not in num and "," not in num else "")
    if a and start and t[start - 1] == "第":
        if _QUARTER_AFTER.match(t, m.end("num")):
            return None  # 第4季度 names a period, like Q4
        a.ordinal = True
    return a


def _merge_range(a: _Amount, b: _Amount) -> bool:
    """Share units written once ("30-40%", "$1.044-1.046 billion"); False if the ends don't fit."""
    if a.ordinal or b.ordinal or (a.yearish and not (a.unit or a.currency or a.scale)) or (
            b.yearish and not (b.unit or b.currency or b.scale)):
        return False
    if a.unit and b.unit and a.unit != b.unit or a.currency and b.currency and a.currency != b.currency:
        return False
    for x, y in ((a, b), (b, a)):
        if x.unit and not y.unit:
            if y.scale or y.currency:
                return False  # "up 5% to $1.2 billion" is a change, not a range
            y.unit = x.unit
    for x, y in ((a, b), (b, a)):
        y.currency = y.currency or x.currency
        y.scale = y.scale or x.scale
    return True

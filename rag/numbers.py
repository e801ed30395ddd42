"""Finding and normalising numbers (亿/万/billion/%/基点/bps...) for verification and evaluation.

Numbers are the product: an answer may only state a number that a cited passage holds. `extract`
finds every quantity in a text with its unit and scale and puts it in one normal form, so that
"2440亿美元" and "$244 billion", or "40个基点" and "0.4 percentage points", compare equal while
"40%" and "40 basis points" do not. Kinds:

- percent  40% / 40 percent / 百分之四十 / 四成 -> 40.0
- pp       percentage points AND basis points, in percentage points: 40 bps == 0.4个百分点 -> 0.4
- money    amounts with a currency, in base units: 2440亿美元 -> 2.44e11, currency "USD"
- count    amounts without a currency, in base units: 140万 -> 1.4e6; 3.9吉瓦 -> 3.9
- multiple 3x / 3倍 / 2.5 times / 翻倍 -> 3.0 / 3.0 / 2.5 / 2.0
- fraction 三分之一 / one third / 1/3 / half -> 0.333.. (a share of 1; compares with percent x100)
- year     2026年 / fiscal 2025 / FY25 / '22 -> 2026.0 ...
- date     2026-02-06 -> 20260206; April 24 -> 424; 11月 / November -> 1100 (absent parts are 0)
- ordinal  47th / 第4 -> 47.0 / 4.0

Ranges ("30%-40%", "30%到40%", "$1.044-1.046 billion", "between 12% and 13%") yield one Quantity
per end; both ends carry the range in `low`/`high`, units written once are shared by both ends, and
a range end is supported only where both ends are. Signs are kept as written ("-0.11" -> -0.11) but
`same` compares magnitudes: direction is carried by words ("declined 5%") this module does not read,
so a sign is no evidence either way. Identifiers (Trainium2, GPT-4, Form 10-Q, K-12, M365, Q4,
FY25Q4, x86, 5G), times of day and citation markers ([1]) yield nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

__all__ = ["KINDS", "Quantity", "extract", "parse", "same", "supported", "unsupported"]

KINDS = ("percent", "pp", "money", "count", "multiple", "fraction", "year", "date", "ordinal")
REL_TOL = 1e-6  # equality only; 1.77 billion never supports 1.8 billion


@dataclass(frozen=True)
class Quantity:
    """One number found in a text, normalised (see the module docstring for the kinds)."""

    value: float
    kind: str
    currency: str | None = None  # ISO code, money only
    text: str = ""  # surface form, text[start:end]
    start: int = 0
    end: int = 0
    low: float | None = None  # set on both ends of a range
    high: float | None = None
    qualifier: str | None = None  # "approx", "over" or "under" ("约", "超过", "more than"...)

    @property
    def is_range(self) -> bool:
        return self.low is not None


# ---- lexicon ---------------------------------------------------------------------------------

_SP = r"[ \u00a0]"
_CUR_SYMBOLS = {"US$": "USD", "U.S.$": "USD", "$": "USD", "HK$": "HKD", "A$": "AUD", "C$": "CAD",
                "S$": "SGD", "NT$": "TWD", "R$": "BRL", "€": "EUR", "£": "GBP", "₹": "INR",
                # ¥ is read as renminbi: this corpus is Chinese; yen is written 日元 or JPY here.
                "¥": "CNY", "￥": "CNY", "人民币": "CNY"}
_CUR_CODES = ("USD", "RMB", "CNY", "EUR", "GBP", "JPY", "HKD", "DKK", "SEK", "NOK", "CHF", "CAD",
              "AUD", "INR", "TWD", "SGD")
_CUR_WORDS = {"美元": "USD", "美金": "USD", "元人民币": "CNY", "人民币": "CNY", "元": "CNY",
              "港元": "HKD", "港币": "HKD", "欧元": "EUR", "日元": "JPY", "英镑": "GBP",
              "丹麦克朗": "DKK", "加元": "CAD", "澳元": "AUD", "韩元": "KRW", "新台币": "TWD",
              "瑞士法郎": "CHF", "dollar": "USD", "dollars": "USD", "euro": "EUR", "euros": "EUR",
              "yuan": "CNY", "renminbi": "CNY", "kroner": "DKK", "yen": "JPY", "RMB": "CNY"}
_CUR_PREFIX = (r"(?:U\.S\.\$|US\$|HK\$|NT\$|A\$|C\$|S\$|R\$|\$|€|£|¥|￥|₹|人民币|(?<![A-Za-z])(?:"
               + "|".join(_CUR_CODES) + r")(?![A-Za-z]))")
_NUM = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_HEAD = (rf"(?P<sign>[-−+])?(?:(?P<cur>{_CUR_PREFIX}){_SP}?(?P<csign>[-−+])?)?(?<![0-9])"
         rf"(?P<num>{_NUM})")

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_SCALES = {"百": 100, "千": 1000, "万": 10**4, "亿": 10**8, "萬": 10**4, "億": 10**8}
_EN_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12, "k": 10**3,
              "m": 10**6, "mm": 10**6, "mn": 10**6, "mln": 10**6, "b": 10**9, "bn": 10**9,
              "bln": 10**9, "t": 10**12, "tn": 10**12, "trn": 10**12}
_EN_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_EN_WORDS.update({w: 10 * i for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)})
_EN_DENOMS = {"half": 2, "halves": 2, "third": 3, "fourth": 4, "quarter": 4, "fifth": 5,
              "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}
_MONTHS = {m: i for i, ms in enumerate(
    ["January Jan", "February Feb", "March Mar", "April Apr", "May", "June Jun", "July Jul",
     "August Aug", "September Sept Sep", "October Oct", "November Nov", "December Dec"], start=1)
    for m in ms.split()}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_BARE_MONTH_RE = "|".join(m for m in _MONTHS if len(m) > 3 and m != "May")  # "May" is a verb too
_EN_WORD_RE = "|".join(sorted(_EN_WORDS, key=len, reverse=True))
_ZHN = "零〇一二两三四五六七八九十百千万亿"
_ZH_UNIT_AHEAD = r"倍|[个個]?百分[点點]|[个個]?基[点點]|%|美元|港元|欧元|元|成|多[万亿]|[百千万亿]"
# Lone 2..9 or 十 count only before a measure word ("九个", "三年"); a lone 一 is almost always "a".
_ZH_MEASURE = r"[个個年家位名次颗台款项种条只件张座所份天周轮部辆艘层]"

# ---- one pass over the text: the leftmost candidate wins, then its handler reads the context ----

_MASTER = re.compile("|".join([
    r"(?P<cite>\[[0-9]{1,3}(?:[,，、]" + _SP + r"?[0-9]{1,3})*\]|【[0-9]{1,3}】)",
    r"(?P<time>(?<![0-9])[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:" + _SP
    + r"?[ap]\.?m\.?)?|(?<![0-9])[0-9]{1,2}" + _SP + r"?[ap]\.m\.)",
    r"(?P<iso>(?<![0-9])(?P<iy>(?:19|20)[0-9]{2})(?P<isep>[-/.])(?P<im>[0-9]{1,2})(?P=isep)"
    r"(?P<id>[0-9]{1,2})(?![0-9]))",
    r"(?P<usdate>(?<![0-9/])(?P<um>[0-9]{1,2})/(?P<ud>[0-9]{1,2})/(?P<uy>[0-9]{4}|[0-9]{2})(?![0-9]))",
    r"(?P<digfrac>(?<![0-9/.])(?P<fa>[1-9])/(?P<fb>10|[2-9])(?![0-9/]))",
    r"(?P<zhdate>(?<![0-9])(?:(?P<zy>[0-9]{4})" + _SP + r"?年" + _SP + r"?)?(?P<zm>[0-9]{1,2})" + _SP
    + r"?月(?:" + _SP + r"?(?P<zd>[0-9]{1,2})" + _SP + r"?[日号])?)",
    rf"(?P<mdy>\b(?P<mon>{_MONTH_RE})\b\.?{_SP}+(?:(?P<mday>[0-9]{{1,2}})(?:st|nd|rd|th)?(?![0-9])"
    rf"(?:,?{_SP}+(?P<myear>(?:19|20)[0-9]{{2}})(?![0-9]))?|(?P<myear2>(?:19|20)[0-9]{{2}})(?![0-9])))",
    rf"(?P<dmy>(?<![0-9.,])(?P<dday>[0-9]{{1,2}})(?:st|nd|rd|th)?{_SP}+(?P<dmon>{_MONTH_RE})\b\.?"
    rf"(?:,?{_SP}+(?P<dyear>(?:19|20)[0-9]{{2}})(?![0-9]))?)",
    rf"(?P<bmonth>\b(?:{_BARE_MONTH_RE})\b)",
    r"(?P<fy>\bFY" + _SP + r"?['’]?(?P<fyn>[0-9]{4}|[0-9]{2})(?![0-9])(?P<fyq>Q[1-4])?)",
    r"(?P<apyear>(?<![A-Za-z0-9])['’](?P<apn>[0-9]{2})(?![0-9%A-Za-z]))",
    r"(?P<zhpct>(?P<zpb>[百千])分之(?P<zpn>[" + _ZHN + r"点]+|[0-9]+(?:\.[0-9]+)?))",
    r"(?P<zhfrac>(?P<zfd>[一二两三四五六七八九十百0-9]+)分之(?P<zfn>[一二两三四五六七八九十0-9]+))",
    r"(?P<zhhalf>一半|半数)",
    r"(?P<zhdouble>翻了?(?:(?P<zdn>[一两])?番|倍))",
    r"(?P<zh>[一二两三四五六七八九十][" + _ZHN + r"]+(?:点[零〇一二三四五六七八九]+)?"
    r"|[一二两三四五六七八九十](?:点[零〇一二三四五六七八九]+)?(?=" + _SP + r"?(?:" + _ZH_UNIT_AHEAD
    + r"))|[二两三四五六七八九十](?=" + _ZH_MEASURE + r"|月)|一(?=月))",
    rf"(?P<head>{_HEAD})",
]))
_HEAD_RE = re.compile(_HEAD)

# English number words only matter next to a few anchor words ("two percentage points", "one
# third", "half"), so they are looked for around those anchors in ASCII-lowercased text instead of
# at every position: scanning English prose for "one", "two", "a"... costs more than all the rest.
_EN_ANCHOR = re.compile(r"b(?:asis|illion)|f(?:old|ourths?|ifths?)|hal(?:f|ves)|million|percent"
                        r"|quarters?|s(?:ixths?|evenths?)|t(?:imes|housand|rillion|hirds?|enths?)"
                        r"|eighths?|ninths?")
_EN = re.compile("|".join([
    r"(?P<halfunit>\bhalf" + _SP + r"+(?:a|one)" + _SP
    + r"+(?P<hu>percentage[ \u00a0-]point|point|percent)\b)",
    r"(?P<enfrac>\b(?P<efn>one|two|three|four|five|six|seven|eight|nine|a)(?P<efs>[ \u00a0-])"
    r"(?P<efd>halves|half|thirds?|fourths?|quarters?|fifths?|sixths?|sevenths?|eighths?|ninths?"
    r"|tenths?)\b)",
    r"(?P<half>\bhalf\b)",
    r"(?P<enfold>\b(?P<efw>two|three|four|five|ten)fold\b)",
    rf"(?P<enword>\b(?P<ew>(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)-"
    rf"(?:one|two|three|four|five|six|seven|eight|nine)|{_EN_WORD_RE})(?=[ \u00a0-]+(?:percent|per"
    rf" cent|percentage|basis|times|fold|thousand|million|billion|trillion)\b))",
]))
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# Every alternative of _MASTER starts with one of these characters; finding them is a fast scan
# in C, and _MASTER is then only tried where one stands (a dozen alternatives at every position of
# a 60 KB transcript would cost ~100 ms).
_TRIGGER = re.compile("[0-9\\[【'’$€£¥￥₹\\-−+人一二两三四五六七八九十百千半翻" + "".join(sorted(
    {c[0] for c in _CUR_CODES} | {k[0] for k in _CUR_SYMBOLS if k[0].isascii()}
    | {m[0] for m in _MONTHS} | {"F"})) + "]")

_MORE = re.compile(r"[多余]")
_ZH_SCALE = re.compile(_SP + r"?([百千]?万亿|[百千]?[万亿萬億]|[百千])")
_EN_SCALE = re.compile(r"(?i:" + _SP + r"*(thousand|million|billion|trillion)s?\b|" + _SP
                       + r"?(bn|bln|mn|mln|tn|trn)\b)|(MM|[kKmMbBT])(?![A-Za-z0-9])")
_CUR_SUFFIX = re.compile(_SP + r"?(?:(" + "|".join(sorted(
    (w for w in _CUR_WORDS if not w.isascii()), key=len, reverse=True)) + r")|(?i:\b(dollars?|euros?|"
    r"yuan|renminbi|kroner|yen))\b|\b(" + "|".join(_CUR_CODES) + r")\b)")
_UNIT = re.compile(
    r"(?P<pp>" + _SP + r"?[个個]?百分[点點]|[ \u00a0-]?(?i:percentage[ \u00a0-]points?|pct\.?"
    + _SP + r"?pts?|ppts?|pp|pts?|points?)\b)"
    r"|(?P<bp>" + _SP + r"?[个個]?基[点點]|[ \u00a0-]?(?i:basis[ \u00a0-]points?|bps|bp)\b)"
    r"|(?P<pct>" + _SP + r"?%|[ \u00a0-]?(?i:percent|per" + _SP + r"cent|pct)\b)"
    r"|(?P<mult>" + _SP + r"?倍|[xX×](?![A-Za-z0-9])|" + _SP + r"×|[ \u00a0-]?(?i:times|fold)\b)"
    r"|(?P<ord>(?:st|nd|rd|th)\b)"
    r"|(?P<cheng>成(?![本长功为员員交立果绩熟效就型都一不品]))")
_QUAL_AFTER = re.compile(r"(?P<over>" + _SP + r"?(?:多|余|以上|出头)|[ \u00a0-](?i:plus)\b|\+)"
                         r"|(?P<approx>" + _SP + r"?左右)|(?P<under>" + _SP + r"?以[下内])")
_QUAL_BEFORE = re.compile(
    r"(?:(?P<approx>(?i:\b(?:approximately|approximate|approx\.|about|around|roughly|nearly|almost"
    r"|close to|circa|some))" + _SP + r"+|~|≈|约|大约|大概|将近|接近|近)"
    r"|(?P<over>(?i:\b(?:over|more than|above|exceeding|at least|upwards of))" + _SP
    + r"+|超过|超|逾|高于|多于|至少)"
    r"|(?P<under>(?i:\b(?:less than|under|below|up to|fewer than))" + _SP
    + r"+|不到|不足|少于|低于))" + _SP + r"*$")
_RANGE_SEP = re.compile(r"(?P<and>" + _SP + r"*-?" + _SP + r"*(?i:and)" + _SP + r"+|" + _SP
                        + r"*[和与]" + _SP + r"*)|" + _SP + r"*-?" + _SP + r"*(?i:to)" + _SP + r"+|"
                        + _SP + r"*(?:-|–|~|〜|至|到)" + _SP + r"*")
_BETWEEN = re.compile(r"(?:(?i:\bbetween)" + _SP + r"+|介于" + _SP + r"*)$")
_ID_AFTER = re.compile(r"[A-Za-z0-9_]|-[A-Z](?![a-z])|\.[A-Z]{2}\b")
_QUARTER_AFTER = re.compile(r"[季期]|财[季年]|年度|个?季")
_ZH_VAGUE_BEFORE = "数几"  # 数十亿, 几十万: no definite number
_HALF_PERIOD_BEFORE = re.compile(r"(?i:\b(?:first|second|back|front|latter|later|this|next|last"
                                 r"|prior|previous|other|1st|2nd|a))" + _SP + r"*-?$")
_HALF_PERIOD_AFTER = re.compile(r"(?i:[ \u00a0-]*(?:years?\b|yearly|of" + _SP + r"+(?:(?:the|this"
                                r"|next|last|our|fiscal|calendar)" + _SP + r"+)*(?:year|fiscal|"
                                r"calendar|FY|'|’|[0-9])))")
_FULLWIDTH = dict(zip("０１２３４５６７８９％．＄～－＋", "0123456789%.$~-+"))
_FULLWIDTH_RE = re.compile("[" + "".join(_FULLWIDTH) + "]")


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


def _close(x: float, y: float) -> bool:
    x, y = abs(x), abs(y)
    return x == y or abs(x - y) <= REL_TOL * max(x, y)


def _q(text: str, value: Decimal | float, kind: str, start: int, end: int,
       currency: str | None = None, qualifier: str | None = None) -> Quantity:
    return Quantity(float(value), kind, currency, text[start:end], start, end, qualifier=qualifier)


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


def same(a: Quantity, b: Quantity) -> bool:
    """Whether two quantities state the same number (see the module docstring for the rules)."""
    if a.kind == b.kind:
        if a.kind == "money" and a.currency != b.currency:
            return False
        if a.kind == "date":
            return _same_date(a.value, b.value)
        return _close(a.value, b.value)
    kinds = {a.kind, b.kind}
    if kinds == {"money", "count"}:
        return _close(a.value, b.value)  # "200 billion" may restate "2000亿美元"
    if kinds == {"fraction", "percent"}:
        f, p = (a, b) if a.kind == "fraction" else (b, a)
        return _close(f.value * 100, p.value)  # half == 50%; 三分之一 is not 33%
    return False


def _same_date(x: float, y: float) -> bool:
    """Dates agree where both name a part (year, month, day) and share at least one part."""
    px, py = _date_parts(x), _date_parts(y)
    shared = [(i, j) for i, j in zip(px, py) if i and j]
    return bool(shared) and all(i == j for i, j in shared)


def _date_parts(v: float) -> tuple[int, int, int]:
    n = int(abs(v))
    return n // 10000, n // 100 % 100, n % 100


def _held(q: Quantity, pool: Sequence[Quantity]) -> bool:
    ends = [q] if q.low is None else [replace(q, value=q.low), replace(q, value=q.high)]
    return all(any(same(e, p) for p in pool) for e in ends)


def supported(q: Quantity, passage: str) -> bool:
    """Whether `passage` states `q` (both ends, for a range end)."""
    return _held(q, extract(passage))


def unsupported(answer_text: str, passages: Sequence[str],
                kinds: Collection[str] | None = None) -> list[Quantity]:
    """The quantities of `answer_text` (of `kinds`, default all) that no passage states."""
    pool = [q for p in passages for q in extract(p)]
    return [q for q in extract(answer_text)
            if (kinds is None or q.kind in kinds) and not _held(q, pool)]

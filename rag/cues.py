"""What a question asks for and what a sentence speaks of: the kind of number wanted, question and
period words, periods (years, quarters, full year) and guidance. The reader's features read these;
nothing here names a company, product or case."""

from __future__ import annotations

import re
from functools import lru_cache

from rag.lexical import tokenize

# Words that say what kind of number is wanted; checked against the kinds rag.numbers assigns.
# Strong cues make a number of that kind necessary: "how many chips" is not answered by a sentence
# without a count. Weak cues ("growth", "margin", "revenue") only favour such sentences.
_STRONG_CUES: list[tuple[str, re.Pattern[str]]] = [
    ("pp", re.compile(r"basis points?|\bbps\b|percentage points?|基点|百分点", re.I)),
    ("percent", re.compile(r"%|percent(?:age)?(?! points?)|百分之|百分比|增长率|增速|多少个?百分", re.I)),
    ("count", re.compile(r"how many|number of|多少[个颗台家位名款项只]|几[个颗台家]", re.I)),
    ("multiple", re.compile(r"how many times|\btimes (?:more|higher|larger|as)|几倍|多少倍", re.I)),
    ("money", re.compile(r"金额|多少钱|多少美元|how many dollars|what amount|dollar amount|how much money", re.I)),
    ("year", re.compile(r"^\s*when\b|\bwhen (?:will|did|does|do|is|was|are|were|can|should)\b|which year|"
                        r"what year|何时|什么时候|哪一年|哪年|哪些年|年份", re.I)),
    ("number", re.compile(r"how (?:much|many|large|big|fast|high|low)|多少|多大|多高|多快|几", re.I)),
]
_WEAK_CUES: list[tuple[str, re.Pattern[str]]] = [
    ("percent", re.compile(
        r"(?<!run )\brate\b|margin|grow|growth|grew|increase|decline|decrease|\bchanged?\b|year[- ]over[- ]year|"
        r"quarter[- ]over[- ]quarter|sequential|share of|增长|同比|环比|比例|占比|利润率|毛利率|下降|提升|上升", re.I)),
    ("money", re.compile(
        r"\$|dollars?|revenue|sales|capex|capital expenditure|spend|cash|income|profit|cost|expense|"
        r"billion|million|how much|obligations?|\brpo\b|backlog|ebitda|consideration|dividends?|"
        r"free cash flow|repurchases?|buybacks?|authori[sz]ation|美元|人民币|亿|资本支出|收入|营收|利润|现金|金额|支出|成本|费用|规模", re.I)),
    ("count", re.compile(r"\bnumber\b|数量|规模", re.I)),
    ("multiple", re.compile(r"\btimes\b|multiple|倍", re.I)),
]
# Question words and fillers that carry no content to match.
QUESTION_WORDS = frozenset(
    """how much many what which when who whom why did does do say said tell talk comment mention was were is are
    company management call give gave provide update so far far current currently
    多少 什么 哪些 怎样 怎么 如何 公司 管理层 表示 提到 谈到 介绍 请 说 问 呢 吗 情况 方面 目前 当前 时候
    多大 多长 多久 多高 多快 规模 怎么样 分别 是否 有没有 能否 为何 为什么 哪个 哪家 哪位 时间 期间 之后 以来 左右""".split()
)


@lru_cache(maxsize=1)
def question_tokens() -> frozenset[str]:
    """QUESTION_WORDS as tokens (stemmed like the text they are compared with)."""
    return frozenset(t for w in QUESTION_WORDS for t in tokenize(w)) | QUESTION_WORDS


# Period words scope a question (they pick the call); they are not content to find in a sentence.
PERIOD_WORDS = re.compile(
    r"\bfy\d{4}q[1-4]\b"  # the normalised form a rewritten follow-up carries: "(Figma, FY2025Q4)"
    r"|(?:\bfiscal\s+(?:year\s+)?)?\b(?:q[1-4]|fy\s?'?\d{2,4}|(?:19|20)\d{2})\b(?:\s+(?:fiscal|fy)\s*'?\d{2,4})?"
    r"|\b(?:march|june|september|december)(?:\s+(?:19|20)\d{2})?[- ]quarter\b"  # month-named quarters
    r"|\b(?:first|second|third|fourth)\s+(?:fiscal\s+)?quarter\b|\bfull[- ](?:fiscal[- ])?year\b|\bfiscal\b"
    r"|\d{2,4}\s*(?:财年|年)|第?[一二三四1-4]\s*(?:财季|季度)|财年|财季", re.I)


# Amounts without a currency ("3亿", "1.4 million") answer money and count questions alike.
_AMOUNT_KINDS = {"money", "count"}


# Words that ask for a change rather than a level ("How did revenue change", "by how much did it rise").
_CHANGE = re.compile(r"\b(?:change|changed|grow|grew|growth|increase|decrease|decline|rise|rose|risen|fall|fell|fallen|"
                     r"drop|dropped)\b|year[- ]over[- ]year|how much of|by how much|同比|环比|增长|变化|变动|上涨|下跌", re.I)
_WHAT_MEASURE = re.compile(r"^\s*what\s+(?:\w+\s+){0,3}?(?:margin|revenue|income|earnings|profit|eps)\b", re.I)
_WHAT_WAS = re.compile(r"\bwhat (?:was|were|is|are|will be)\b|是多少|为多少|有多少", re.I)
_QUANTITIES = {"percent", "pp", "money", "count", "multiple", "fraction"}


def expected_kinds(question: str) -> tuple[set[str], set[str]]:
    """(kinds a number in the answer must have, kinds that are merely likely). "number" stands
    for any quantity: "how much did it grow" wants one, of whatever unit."""
    strong = {k for k, cue in _STRONG_CUES if cue.search(question)}
    weak = {k for k, cue in _WEAK_CUES if cue.search(question)} - strong
    if "percent" in weak and "money" in weak and _CHANGE.search(question) and not _WHAT_WAS.search(question):
        # "How did segment revenue change year over year?" asks for the change, not the amount.
        weak.discard("money")
    if weak and (_WHAT_WAS.search(question) or _WHAT_MEASURE.search(question) or "number" in strong):
        # "What was the operating margin?" is answered by a number; "How much free cash flow",
        # asking only of an amount, by an amount, not by a conversion rate.
        amount = weak == {"money"} and not strong - {"number"} and not _CHANGE.search(question)
        strong.add("money" if amount else "number")
    if "number" in strong and len(strong) > 1:
        strong.discard("number")
    if "pp" in strong:
        strong.discard("percent")  # "how many basis points" wants points, not a percentage
        weak.discard("percent")
    if "multiple" in strong:
        strong.discard("count")
    return strong, weak


def matches(have: frozenset[str], wanted: set[str]) -> bool:
    if not wanted:
        return False
    if "number" in wanted:
        wanted = (wanted - {"number"}) | _QUANTITIES
    if wanted & _AMOUNT_KINDS:
        wanted = wanted | _AMOUNT_KINDS
    if "percent" in wanted:
        wanted = wanted | {"fraction"}  # "1/3", 三分之一 answer a share question
    return bool(have & wanted)


_YEAR = re.compile(r"(?<![\d.,$])(?:19|20)\d{2}(?![\d%])|(?:\bFY|\bfiscal(?: year)?)\s?'?(\d{2})(?!\d)", re.I)
_QUARTER = re.compile(
    r"\bQ([1-4])\b|\b(first|second|third|fourth)[- ]quarter|第([一二三四1-4])(?:财季|季度|季)"
    r"|\b(march|june|september|december)(?:\s+\d{4})?[- ]quarter", re.I)
# Month-named quarters ("the March quarter") are told apart from numbered ones by an offset.
_Q_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "一": 1, "二": 2, "三": 3, "四": 4,
            "march": 13, "june": 16, "september": 19, "december": 22}
# A question about guidance wants a forward-looking sentence. (The converse -- past-tense questions
# must not be answered by guidance -- was measured to hurt: past tense also asks about outlooks.)
ASKS_GUIDANCE = re.compile(r"\bguid|outlook|forecast|\bexpect|anticipat|\bplan(?:s|ned|ning)? to\b|\bwill\b|"
                           r"指引|预期|预计|展望|计划", re.I)


# Guidance proper (not every "will"): what a question about a past period must not be answered by.
GUIDANCE = re.compile(r"\bwe (?:now |still |continue to )?expect|\bexpects?\b|\bguidance\b|\boutlook\b|\bforecast|"
                      r"\banticipat|预计|指引|展望", re.I)


# "above the high end of our guidance", "ahead of our expectations": results measured against an
# outlook are results.
_VERSUS_GUIDANCE = re.compile(
    r"\b(?:above|below|exceed\w*|ahead of|beat|topp?\w*|in line with|within|at|to)\s+(?:the\s+)?"
    r"(?:(?:high|low|top|upper|lower)[- ]end\s+of\s+)?(?:our\s+)?(?:prior\s+|previous\s+|january\s+)?"
    r"(?:guid\w*|outlook|expectations?|forecast)(?:\s+range)?", re.I)


def leads_with_guidance(sentence: str, first_number_at: int | None) -> bool:
    """The sentence is guidance before it states any figure ("We expect organic revenue growth of
    7% to 8%"), as opposed to a result that mentions an outlook after it ("3.9 GW added, ... we
    expect to double it again by 2027")."""
    m = GUIDANCE.search(_VERSUS_GUIDANCE.sub(lambda x: " " * len(x.group(0)), sentence))
    return bool(m) and (first_number_at is None or m.start() < first_number_at)


def first_figure_at(quantities) -> int | None:
    """Where the first figure (not a year or a date) starts in a sentence."""
    return min((q.start for q in quantities if q.kind in _QUANTITIES), default=None)


def years_in(text: str) -> set[int]:
    out = set()
    for m in _YEAR.finditer(text):
        out.add(2000 + int(m.group(1)) if m.group(1) else int(m.group(0)))
    return out


def quarters_in(text: str) -> set[int]:
    out = set()
    for m in _QUARTER.finditer(text):
        g = next(x for x in m.groups() if x)
        out.add(int(g) if g.isdigit() else _Q_WORDS[g.lower()])
    return out

"""What a question asks for and what a sentence speaks of: question and period words, the years and
quarters named, and guidance. The reader's features read these; nothing here names a company,
product or case."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from rag.lexical import tokenize

# Question words and fillers that carry no content to match; words for the call, its parts and who
# speaks on it ("the CFO said on the call", 电话会问答环节) say where, not what.
QUESTION_WORDS = frozenset(
    """how much many what which when who whom why did does do say said tell talk comment mention was were is are
    company management call give gave provide update so far far current currently
    多少 什么 哪些 怎样 怎么 如何 公司 管理层 表示 提到 谈到 介绍 请 说 问 呢 吗 情况 方面 目前 当前 时候
    多大 多长 多久 多高 多快 规模 怎么样 分别 是否 有没有 能否 为何 为什么 哪个 哪家 哪位 时间 期间 之后 以来 左右
    那个 这个 截至 截止
    cfo ceo coo executive executives conference remarks q&a 电话 电话会 电话会议 业绩会 财报会 问答 环节 首席财务官 首席执行官 高管""".split()
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
    r"|\b(?:first|second|third|fourth)[\s-]+(?:fiscal\s+)?quarter\b|\bfull[- ](?:fiscal[- ])?year\b|\bfiscal\b"
    r"|\d{2,4}\s*(?:财年|年)|第?[一二三四1-4]\s*(?:财季|季度)|财年|财季"
    # The sell side's shorthand ("1Q21", "3Q FY22", "4QFY2021", "FQ3'21", "21Q3", "Q1FY26", "FY21Q3", a
    # bare "3Q"), most of which scoping reads (`rag.ingest.meta`): left in, "1q21" was the rarest word
    # of the question, its focus.
    r"|\bf?[1-4]q(?:\s*(?:fy\s*)?'?\d{2}(?:\d{2})?)?\b|\bfq[1-4](?:\s*(?:['’-]\s*)?\d{2}(?:\d{2})?)?\b|\b\d{2}q[1-4]\b"
    r"|\bq[1-4]\s*fy\s*'?\d{2}(?:\d{2})?\b|\bfy\s*'?\d{2}(?:\d{2})?\s*q[1-4]\b", re.I)

# Shorthand for a quarter as analysts type it: "qtr", "the Dec qtr", "Sept. quarter". Read as written out
# before anything else reads the question, so the period parsers see "the December quarter" and the
# reader does not take "qtr" or "dec" for what is asked about.
_QTR = re.compile(r"\b(qtr)(s?)\b", re.I)
_MONTH_ABBR = {"jan": "January", "feb": "February", "mar": "March", "apr": "April", "jun": "June", "jul": "July",
               "aug": "August", "sep": "September", "sept": "September", "oct": "October", "nov": "November",
               "dec": "December"}
_MONTH_QUARTER = re.compile(r"\b(jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?"
                            r"(?=(?:\s+(?:19|20)\d{2})?[- ]quarters?\b(?![- ]over))", re.I)


def _month(m: re.Match[str]) -> str:
    # In capitals it is a ticker ("NOV quarter", "MAR quarter"), not a month.
    return m.group(0) if m.group(1).isupper() else _MONTH_ABBR[m.group(1).lower()]


def spelled_out(question: str) -> str:
    """`question` with a quarter's shorthand written out: "msft azure growth dec qtr" -> "msft azure
    growth December quarter" ("APR quarter-over-quarter" names no month)."""
    return _MONTH_QUARTER.sub(_month, _QTR.sub(lambda m: "quarter" + m.group(2), question))


def spelled_history(history: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Earlier chat turns with their shorthand written out too: a follow-up takes its period from them."""
    return [{**h, "content": spelled_out(h["content"])} if isinstance(h.get("content"), str) else h
            for h in history or []]


# A capitalised name past a sentence's first word: a run of capitalised words.
NAME = re.compile(r"(?<![.!?]\s)(?<!^)(?<![A-Za-z0-9'])[A-Z][A-Za-z&-]+(?:\s+[A-Z][A-Za-z&-]+)*")

# Months and weekdays: capitalised, but periods, not names of what is spoken of.
# Whole month names and their abbreviations only: a prefix would also take "margin", "market", "decline".
CALENDAR_WORDS = re.compile(r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
                            r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b|"
                            r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b", re.I)


# Kinds of number that are figures (not years or dates).
_QUANTITIES = {"percent", "pp", "money", "count", "multiple", "fraction"}
_YEAR = re.compile(r"(?<![\d.,$])(?:19|20)\d{2}(?![\d%])|(?:\bFY|\bfiscal(?: year)?)\s?'?(\d{2})(?!\d)", re.I)
# "Q3" also beside Chinese (2021年Q3, where \b sees no boundary); 三季度 and 3季度 without 第, as
# questions write them (2021年三季度); not 上一季度 (the quarter before) or 前三季度 (nine months).
_QUARTER = re.compile(
    r"(?<![A-Za-z0-9])Q([1-4])(?![A-Za-z0-9])|\b(first|second|third|fourth)[- ]quarter|(?<![上下前后本这该每\d])第?([一二三四1-4])(?:财季|季度|季)"
    r"|\b(march|june|september|december)(?:\s+\d{4})?[- ]quarter", re.I)
# Month-named quarters ("the March quarter") are told apart from numbered ones by an offset.
_Q_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "一": 1, "二": 2, "三": 3, "四": 4,
            "march": 13, "june": 16, "september": 19, "december": 22}
# A question about guidance wants a forward-looking sentence.
ASKS_GUIDANCE = re.compile(r"\bguid|outlook|forecast|\bexpect|anticipat|\bplan(?:s|ned|ning)? (?:to|for)\b|\bwill\b|"
                           # A budget ahead, not spending measured against one ("came in under budget").
                           r"(?<!under )(?<!over )(?<!on )(?<!versus )(?<!vs )(?<!vs\. )(?<!against )(?<!within )"
                           r"\bbudget(?:s|ed)?\b(?!-conscious)|\bnext (?:fiscal )?(?:year|quarter)\b|指引|预期|预计|"
                           r"(?<!市场)(?<!分析师)(?<!超出)(?<!高于)(?<!低于)预测|展望|计划|明年|"
                           r"下一?个?(?:财年|财季|季度)", re.I)


# Guidance proper (not every "will"), as a sentence states it.
# Passive ("is expected to be"), "projecting" and "guiding" state guidance as often as "we expect";
# "better than expected" has no "to" and stays a result.
GUIDANCE = re.compile(r"\bwe (?:now |still |continue to )?expect|\bexpects?\b|\b(?:expected|projected) to\b|"
                      r"\bguidance\b|\bguid(?:e|ing)\b|\bprojecting\b|\bwe (?:now )?project\b|"
                      r"\boutlook\b|\bforecast|\banticipat|\bwe (?:now )?plan for\b|预计|指引|展望", re.I)


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


_ORDINALS = ("first", "second", "third", "fourth")
_ZH_NUMERALS = "一二三四"


def with_quarter(text: str, n: int) -> str:
    """`text` with every numbered quarter it names made quarter `n` (1-4), each written in its own
    form: "Q3 2025" -> "Q2 2025", "third quarter" -> "second quarter", 第三季度 -> 第二季度.
    Month-named quarters ("the March quarter") are left as they are."""
    def one(m: re.Match) -> str:
        q, word, zh = m.group(1), m.group(2), m.group(3)
        if q:
            return m.group(0).replace(q, str(n), 1)
        if word:
            new = _ORDINALS[n - 1]
            return (new.capitalize() if word[0].isupper() else new) + m.group(0)[len(word):]
        if zh:
            return m.group(0).replace(zh, str(n) if zh.isdigit() else _ZH_NUMERALS[n - 1], 1)
        return m.group(0)

    return _QUARTER.sub(one, text)


def with_year(text: str, year: int) -> str:
    """`text` with every year it names made `year`, each in its own form: "2020" -> "2021", "FY20" ->
    "FY21", "fiscal '20" -> "fiscal '21"."""
    def one(m: re.Match) -> str:
        if m.group(1):
            return m.group(0)[: m.start(1) - m.start(0)] + f"{year % 100:02d}"
        return str(year)

    return _YEAR.sub(one, text)


def quarters_in(text: str) -> set[int]:
    out = set()
    for m in _QUARTER.finditer(text):
        g = next(x for x in m.groups() if x)
        out.add(int(g) if g.isdigit() else _Q_WORDS[g.lower()])
    return out


# The accounting basis a figure is stated on: GAAP (as reported) or adjusted (non-GAAP); "non-GAAP" is
# not GAAP.
_NON_GAAP = re.compile(r"non[- ]?gaap|非\s*gaap|非通用会计准则", re.I)
_ADJUSTED = re.compile(r"\badjusted\b|调整后|经调整", re.I)
_GAAP = re.compile(r"(?<![a-z])gaap(?![a-z])|通用会计准则", re.I)


def bases_of(text: str) -> frozenset[str]:
    """{"gaap"}, {"adjusted"}, both or neither: the accounting bases `text` names."""
    out = set()
    if _NON_GAAP.search(text) or _ADJUSTED.search(text):
        out.add("adjusted")
    if _GAAP.search(_NON_GAAP.sub(" ", text)):
        out.add("gaap")
    return frozenset(out)


def other_basis(question: str, sentence: str) -> bool:
    """The question asks for a figure on one accounting basis and the sentence states only the other
    ("GAAP EPS?" met by "adjusted EPS of $1.16"): its figure is not the one asked for."""
    asked, said = bases_of(question), bases_of(sentence)
    return len(asked) == 1 and bool(said) and not asked & said


# A quarter asked for on its own ("in Q4 alone", "the quarter itself", 单季, 当季), and a sentence that
# states a longer span (the full year, year to date, nine months, 全年, 年初至今) without naming a quarter.
_QUARTER_ALONE = re.compile(r"\balone\b|\bitself\b|\bon its own\b|\bsingle quarter\b|单季|当季", re.I)
_LONGER_SPAN = re.compile(r"\bfull[- ]year\b|\bfor the (?:full )?year\b|\byear[- ]to[- ]date\b|\bytd\b|"
                          r"\bfirst (?:half|nine months|six months)\b|\b(?:nine|six) months\b|\bthrough (?:june|september)\b|"
                          r"全年|年初至今|前三季度|上半年|前九个月", re.I)
_QUARTER_WORD = re.compile(r"\bquarter\b|\bq[1-4]\b|季度|财季|单季", re.I)


def longer_span(question: str, sentence: str) -> bool:
    """The question asks for one quarter's figure on its own and the sentence states only a longer
    span's ("free cash flow in Q2 alone" met by "$31 million of free cash flow year-to-date")."""
    return bool(_QUARTER_ALONE.search(question) and _QUARTER_WORD.search(question) and _LONGER_SPAN.search(sentence)
                and not _QUARTER_WORD.search(sentence))


def not_the_figure_asked(question: str, sentence: str) -> bool:
    """The sentence states a figure of another kind than the question pins down: the other accounting
    basis, or a longer span than the quarter asked for on its own."""
    return other_basis(question, sentence) or longer_span(question, sentence)

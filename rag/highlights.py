"""Questions asking for a call's highlights ("Summarize Microsoft's Q2 FY26 call", "What were the key
takeaways?", 总结一下微软最新一季的业绩): no one sentence answers them, so the reader is asked the
headline measures an analyst reads first, one at a time, within the call asked about, and each
sentence it finds is quoted (figures checked as in any answer). A measure the call does not state is
left out; for a call stating none of them the reply is that the transcripts do not say."""

from __future__ import annotations

import re

from rag.cues import CALENDAR_WORDS, PERIOD_WORDS, question_tokens
from rag.glossary import groups, is_aspect, is_part, mask
from rag.lexical import STOPWORDS, tokenize

_ASKS = re.compile(
    r"\bsummar(?:y|ies|i[sz]e|i[sz]ing)\b|\bhighlights?\b|\brecap\b|\btl;?dr\b|\boverview\b|"
    r"\bkey\s+(?:takeaways?|points|figures|numbers|metrics|results|messages)\b|\btakeaways?\b|"
    r"\bmain\s+(?:points|results|numbers)\b|\bwhat\s+happened\b|"
    r"总结|概括|概述|摘要|要点|亮点|重点|回顾|主要(?:内容|数据|业绩|结果)|关键(?:数据|指标|信息)",
    re.I,
)

# What names the call, not a measure: "the earnings call", 财报电话会.
_CALL = re.compile(r"\bearnings\s+(?:conference\s+)?calls?\b|\bearnings\s+(?:release|results?|report)\b|"
                   r"财报电话会|业绩电话会|电话会议?|业绩会|财报|业绩", re.I)

# The headline measures, in the order a summary states them: the top line, earnings, profit, cash
# and what management expects next. Generic finance vocabulary, read by the glossary in either language.
# "This quarter": a call states its segments' figures too, and the quarter's own total is the headline.
HEADLINES = {
    "en": ("What was {}'s revenue this quarter?", "What was {}'s earnings per share this quarter?",
           "What was {}'s operating income this quarter?", "What was {}'s free cash flow this quarter?",
           "What guidance outlook did {} give?"),
    "zh": ("{}本季度营收是多少？", "{}本季度每股收益是多少？", "{}本季度营业利润是多少？", "{}本季度自由现金流是多少？",
           "{}给出的业绩指引展望是多少？"),
}


# Words of such a question that name nothing to ask about ("a quick recap of Apple's latest quarter").
_GENERIC = frozenset(tokenize("quick brief short latest recent last newest quarter quarterly fiscal year results "
                              "performance company report numbers please 一下 简要 简单 最新 最近 一季 季度 本季度 上季度 公司"))


def asks_highlights(question: str, names: set[str] | frozenset[str] = frozenset()) -> bool:
    """The question asks for a call's highlights and names nothing to ask about but the company and
    period (`names`: their tokens): "Summarize the Azure commentary", "What happened with Azure?" or
    "Summarize the revenue comments" are ordinary questions about what they name."""
    if not _ASKS.search(question):
        return False
    rest = _CALL.sub(" ", _ASKS.sub(" ", question))
    for g in groups(rest):
        if not is_aspect(g):
            return False  # a measure or a part of the business
        rest = mask(rest, g[0])
    rest = CALENDAR_WORDS.sub(" ", PERIOD_WORDS.sub(" ", rest))
    return not set(tokenize(rest)) - question_tokens() - STOPWORDS - _GENERIC - set(names)


def headline_questions(label: str, lang: str) -> list[str]:
    """One question per headline measure about `label` (the company, as replies name it)."""
    return [q.format(label) for q in HEADLINES["zh" if lang == "zh" else "en"]]

"""Questions asking for a call's highlights ("Summarize Microsoft's Q2 FY26 call", "What were the key
takeaways?", 总结一下微软最新一季的业绩): no one sentence answers them, so the reader is asked the
headline measures an analyst reads first, one at a time, within the call asked about, and each
sentence it finds is quoted (figures checked as in any answer). A measure the call does not state is
left out; a call stating none of them is said to be silent."""

from __future__ import annotations

import re

from rag.glossary import groups, is_aspect, is_part

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


def asks_highlights(question: str) -> bool:
    """The question asks for a call's highlights and names no measure of its own ("Summarize the
    Azure commentary" is an ordinary question about Azure)."""
    if not _ASKS.search(question):
        return False
    rest = _CALL.sub(" ", _ASKS.sub(" ", question))
    return not any(not is_aspect(g) and not is_part(g) for g in groups(rest))


def headline_questions(label: str, lang: str) -> list[str]:
    """One question per headline measure about `label` (the company, as replies name it)."""
    return [q.format(label) for q in HEADLINES["zh" if lang == "zh" else "en"]]

"""The extractive answerer (no LLM): picks the sentences of the retrieved passages that answer the
question, by term coverage (glossary-bridged across languages), the kind of number asked for, and
the passage's retrieval rank."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.glossary import groups
from rag.lexical import tokenize
from rag.numbers import extract
from rag.sentences import Sentence, split
from rag.types import Hit

# Words that say what kind of number is wanted; checked against the kinds rag.numbers assigns.
_KIND_CUES: list[tuple[str, re.Pattern[str]]] = [
    ("pp", re.compile(r"basis points?|\bbps\b|percentage points?|基点|百分点", re.I)),
    ("percent", re.compile(
        r"%|percent|percentage(?! points?)|\brate\b|margin|grow|growth|grew|increase|decline|decrease|"
        r"year[- ]over[- ]year|quarter[- ]over[- ]quarter|sequential|share of|"
        r"增长|增速|同比|环比|比例|占比|利润率|毛利率|率|百分之|下降|提升|上升", re.I)),
    ("money", re.compile(
        r"\$|dollars?|revenue|sales|capex|capital expenditure|spend|cash|income|profit|cost|expense|"
        r"billion|million|worth|how much|美元|人民币|亿|万元|资本支出|收入|营收|利润|现金|金额|支出|成本|费用|规模", re.I)),
    ("count", re.compile(
        r"how many|number of|count|customers|users|employees|units|stores|多少个|多少颗|多少台|多少家|"
        r"多少位|多少名|数量|几个|多少万|客户|用户|台|颗", re.I)),
    ("multiple", re.compile(r"\btimes\b|multiple|\d+x\b|倍", re.I)),
    ("year", re.compile(r"\bwhen\b|which year|what year|何时|什么时候|哪一年|哪年", re.I)),
]
# Question words and fillers that carry no content to match.
_QUESTION_WORDS = frozenset(
    """how much many what which when who whom why did does do say said tell talk comment mention was were is are
    company management call quarter expect expects expected give gave provide update 多少 什么 哪些 怎样 怎么 如何
    公司 管理层 表示 提到 谈到 介绍 请 说 问 呢 吗 情况 方面 目前 当前""".split()
)
_MONEY_KINDS = {"money", "count"}  # an amount without a currency still answers "how much revenue"


def expected_kinds(question: str) -> set[str]:
    kinds = {k for k, cue in _KIND_CUES if cue.search(question)}
    if "pp" in kinds:
        kinds.discard("percent")  # "how many basis points" wants points, not a percentage
    return kinds


@dataclass(frozen=True)
class Pick:
    hit: Hit
    sentence: Sentence
    score: float
    kinds: frozenset[str]  # kinds of numbers the sentence holds


class Extractive:
    """Scores sentences of the top passages; `idf` weighs question terms by their rarity."""

    name = "extractive"

    def __init__(self, idf, min_score: float = 0.35, max_sentences: int = 2) -> None:
        self.idf = idf
        self.min_score = min_score
        self.max_sentences = max_sentences

    def _terms(self, question: str, skip: set[str]) -> list[tuple[tuple[str, ...], float]]:
        """Weighted term groups of the question: glossary groups (a term and its translations) and
        the remaining content tokens; scoping words (company names, periods) are skipped."""
        out: list[tuple[tuple[str, ...], float]] = []
        rest = question.lower()
        for g in groups(question):
            toks = [t for m in g for t in tokenize(m)]
            if not toks:
                continue
            out.append((g, max(self.idf(t) for t in toks)))
            rest = rest.replace(g[0].lower(), " ")
        for tok in dict.fromkeys(tokenize(rest)):
            if tok in skip or tok in _QUESTION_WORDS or tok.isdigit():
                continue
            out.append(((tok,), self.idf(tok)))
        return out

    def pick(self, question: str, hits: list[Hit], skip: set[str] = frozenset()) -> list[Pick]:
        """The best sentences (at most `max_sentences`), or [] when none answers well enough."""
        if not hits:
            return []
        terms = self._terms(question, {s.lower() for s in skip})
        total = sum(w for _, w in terms) or 1.0
        kinds = expected_kinds(question)
        top = max(h.score for h in hits) or 1.0
        scored: list[Pick] = []
        for rank, hit in enumerate(hits):
            prior = hit.score / top
            for sent in split(hit.chunk.text, hit.chunk.start):
                if sent.is_question:
                    continue
                low = sent.text.lower()
                sent_tokens = set(tokenize(sent.text))
                covered = sum(w for g, w in terms if _covers(g, low, sent_tokens))
                have = frozenset(q.kind for q in extract(sent.text))
                if kinds:
                    wanted = kinds | (_MONEY_KINDS if "money" in kinds else set())
                    num = 1.0 if have & wanted else (-0.5 if not have else 0.0)
                else:
                    num = 0.0
                score = 0.6 * covered / total + 0.25 * num + 0.15 * prior
                scored.append(Pick(hit, sent, score, have))
        scored.sort(key=lambda p: -p.score)
        if not scored or scored[0].score < self.min_score:
            return []
        picks = [scored[0]]
        for p in scored[1:]:
            if len(picks) >= self.max_sentences:
                break
            # A second sentence only when it is nearly as good and brings a wanted number the first lacks.
            if p.score >= 0.9 * picks[0].score and kinds and (p.kinds & kinds) - picks[0].kinds:
                picks.append(p)
        return picks


def _covers(group: tuple[str, ...], sent_lower: str, sent_tokens: set[str]) -> bool:
    for term in group:
        if re.search(r"[\u4e00-\u9fff]", term):
            if term in sent_lower:
                return True
        elif " " in term or "-" in term:
            if re.search(rf"(?<![a-z]){re.escape(term)}(?![a-z])", sent_lower):
                return True
        elif term in sent_tokens:
            return True
    return False

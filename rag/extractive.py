"""The extractive answerer (no LLM): picks the sentences of the retrieved passages that answer the
question, by term coverage (glossary-bridged across languages), the kind of number asked for, and
the passage's retrieval rank."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.glossary import groups, is_aspect, mask
from rag.ingest.meta import normalize_period
from rag.lexical import tokenize
from rag.numbers import extract
from rag.sentences import Sentence, split
from rag.types import Hit

# Words that say what kind of number is wanted; checked against the kinds rag.numbers assigns.
# Strong cues make a number of that kind necessary: "how many chips" is not answered by a sentence
# without a count. Weak cues ("growth", "margin", "revenue") only favour such sentences.
_STRONG_CUES: list[tuple[str, re.Pattern[str]]] = [
    ("pp", re.compile(r"basis points?|\bbps\b|percentage points?|基点|百分点", re.I)),
    ("percent", re.compile(r"%|percent(?:age)?(?! points?)|百分之|百分比|增长率|增速|多少个?百分", re.I)),
    ("count", re.compile(r"how many|number of|多少[个颗台家位名款项只]|几[个颗台家]", re.I)),
    ("multiple", re.compile(r"how many times|\btimes (?:more|higher|larger|as)|几倍|多少倍", re.I)),
    ("money", re.compile(r"金额|多少钱|多少美元|how many dollars|what amount|dollar amount|how much money", re.I)),
    ("year", re.compile(r"\bwhen\b|which year|what year|何时|什么时候|哪一年|哪年", re.I)),
]
_WEAK_CUES: list[tuple[str, re.Pattern[str]]] = [
    ("percent", re.compile(
        r"(?<!run )\brate\b|margin|grow|growth|grew|increase|decline|decrease|year[- ]over[- ]year|"
        r"quarter[- ]over[- ]quarter|sequential|share of|增长|同比|环比|比例|占比|利润率|毛利率|下降|提升|上升", re.I)),
    ("money", re.compile(
        r"\$|dollars?|revenue|sales|capex|capital expenditure|spend|cash|income|profit|cost|expense|"
        r"billion|million|how much|美元|人民币|亿|资本支出|收入|营收|利润|现金|金额|支出|成本|费用|规模", re.I)),
    ("count", re.compile(r"\bnumber\b|数量|规模", re.I)),
    ("multiple", re.compile(r"\btimes\b|multiple|倍", re.I)),
]
# Question words and fillers that carry no content to match.
_QUESTION_WORDS = frozenset(
    """how much many what which when who whom why did does do say said tell talk comment mention was were is are
    company management call expect expects expected give gave provide update so far far current currently
    多少 什么 哪些 怎样 怎么 如何 公司 管理层 表示 提到 谈到 介绍 请 说 问 呢 吗 情况 方面 目前 当前 时候""".split()
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Aspect terms that ask for a change over time; a sentence answering must express one.
_COMPARISON = frozenset(
    "year over year|year-over-year|yoy|compared to last year|quarter over quarter|quarter-over-quarter|"
    "sequential|sequentially|qoq|同比|环比".split("|")
)
# Amounts without a currency ("3亿", "1.4 million") answer money and count questions alike.
_AMOUNT_KINDS = {"money", "count"}


def expected_kinds(question: str) -> tuple[set[str], set[str]]:
    """(kinds a number in the answer must have, kinds that are merely likely)."""
    strong = {k for k, cue in _STRONG_CUES if cue.search(question)}
    weak = {k for k, cue in _WEAK_CUES if cue.search(question)} - strong
    if "pp" in strong:
        strong.discard("percent")  # "how many basis points" wants points, not a percentage
        weak.discard("percent")
    if "multiple" in strong:
        strong.discard("count")
    return strong, weak


def _matches(have: frozenset[str], wanted: set[str]) -> bool:
    if not wanted:
        return False
    if wanted & _AMOUNT_KINDS:
        wanted = wanted | _AMOUNT_KINDS
    if "percent" in wanted:
        wanted = wanted | {"fraction"}  # "1/3", 三分之一 answer a share question
    return bool(have & wanted)


@dataclass(frozen=True)
class Term:
    group: tuple[str, ...]  # a question term and its equivalents (glossary translations)
    weight: float
    content: bool = True  # names what is asked about (not an aspect like 同比 or Q4)
    comparison: bool = False  # asks for a change over time (同比, growth): the answer must make one


@dataclass(frozen=True)
class Pick:
    hit: Hit
    sentence: Sentence
    score: float
    kinds: frozenset[str]  # kinds of numbers the sentence holds


class Extractive:
    """Scores sentences of the top passages; `idf` weighs question terms by their rarity."""

    name = "extractive"

    def __init__(self, idf, df, min_score: float = 0.35, max_sentences: int = 2) -> None:
        self.idf = idf
        self.df = df
        self.min_score = min_score
        self.max_sentences = max_sentences

    def _terms(self, question: str, skip: set[str]) -> list[Term]:
        """Weighted term groups of the question: glossary groups (a term and its translations) and
        the remaining content tokens. Scoping words (company names, periods) are skipped."""
        out: list[Term] = []
        rest = question.lower()
        for g in groups(question):
            toks = [t for m in g for t in tokenize(m)]
            rest = mask(rest, g[0])
            if not toks or g[0].lower() in skip:
                continue
            aspect = is_aspect(g)
            # Aspects (同比, basis points, Q4) qualify the metric: they count, but less.
            out.append(Term(g, max(self.idf(t) for t in toks) * (0.4 if aspect else 1.0),
                            content=not aspect, comparison=g[0].lower() in _COMPARISON))
        raw = tokenize(rest)
        # The tokenizer adds a family name for model names ("trainium3" -> "trainium") so passages
        # match every generation; the question's own term is the exact generation.
        families = {t for t in raw if any(o != t and o.startswith(t) and o[len(t):][:1].isdigit() for o in raw)}
        for tok in dict.fromkeys(raw):
            if tok in families:
                continue
            if tok in skip or tok in _QUESTION_WORDS or tok.isdigit() or (len(tok) < 2 and not _CJK.match(tok)):
                continue
            known = self.df(tok) > 0
            # A word no passage in the index uses is likely the asker's paraphrase: it weighs less
            # and cannot be the focus. (Glossary metrics above stay eligible: a metric no passage
            # names, such as 净利润, is exactly what the transcripts don't say.)
            out.append(Term((tok,), self.idf(tok) * (1.0 if known else 0.25), content=known))
        return out

    def pick(self, question: str, hits: list[Hit], skip: set[str] = frozenset()) -> list[Pick]:
        """The best sentences (at most `max_sentences`), or [] when none answers well enough.

        A sentence can answer only if its passage mentions the question's most specific content term
        (the focus) and the sentence covers it or half of the weighted terms; if the question asks
        for a comparison (同比, year over year, growth) the sentence makes one; if it asks for a kind
        of number ("how many", "什么时候", "basis points") the sentence holds one; and it neither
        names another generation of a model the question names (Trainium2 for Trainium3) nor
        speaks only of other years than the question's.
        """
        if not hits:
            return []
        terms = self._terms(question, {s.lower() for s in skip})
        total = sum(t.weight for t in terms) or 1.0
        content = [t for t in terms if t.content]
        focus = max(content, key=lambda t: t.weight).group if content else None
        comparisons = [t.group for t in terms if t.comparison]
        models = _model_names(question)
        years = _years(question)
        strong, weak = expected_kinds(question)
        top = max(h.score for h in hits) or 1.0
        scored: list[Pick] = []
        for hit in hits:
            prior = hit.score / top
            passage_low = hit.chunk.text.lower()
            passage_tokens = set(tokenize(hit.chunk.text))
            if focus is not None and not _covers(focus, passage_low, passage_tokens):
                continue
            context = ""  # the previous answer sentence: "这里使用了50万颗芯片" follows "Project Rainier 是..."
            for sent in split(hit.chunk.text, hit.chunk.start):
                if sent.is_question:
                    context = ""
                    continue
                low = sent.text.lower()
                sent_tokens = set(tokenize(sent.text))
                local_low, local_tokens = context + " " + low, sent_tokens | set(tokenize(context))
                context = low
                in_sent = [t for t in terms if _covers(t.group, low, sent_tokens)]
                in_passage = [t for t in terms if t not in in_sent and _covers(t.group, passage_low, passage_tokens)]
                coverage = (sum(t.weight for t in in_sent) + 0.5 * sum(t.weight for t in in_passage)) / total
                if focus is not None and not _covers(focus, local_low, local_tokens):
                    continue
                if comparisons and not any(_covers(g, low, sent_tokens) for g in comparisons):
                    continue
                if _other_model(models, sent_tokens) or _other_years(years, sent.text):
                    continue
                quantities = extract(sent.text)
                have = frozenset(q.kind for q in quantities)
                if strong and not _matches(have, strong):
                    continue
                # A wanted kind of number counts fully when the question demands it, a little when it
                # only hints at it; a numberless sentence rarely answers a question about numbers.
                if strong:
                    num = 0.25
                elif weak:
                    num = 0.1 if _matches(have, weak) else (-0.1 if not have else 0.0)
                else:
                    num = 0.0
                score = 0.6 * coverage + num + 0.15 * prior
                scored.append(Pick(hit, sent, score, have))
        scored.sort(key=lambda p: -p.score)
        if not scored or scored[0].score < self.min_score:
            return []
        picks = [scored[0]]
        wanted = strong or weak
        for p in scored[1:]:
            if len(picks) >= self.max_sentences:
                break
            # A second sentence only when it is nearly as good, about the focus itself, and brings
            # a wanted number the first lacks.
            if (p.score >= 0.9 * picks[0].score and wanted and _matches(p.kinds - picks[0].kinds, wanted)
                    and (focus is None or _covers(focus, p.sentence.text.lower(), set(tokenize(p.sentence.text))))):
                picks.append(p)
        return picks


def _model_names(question: str) -> dict[str, set[str]]:
    """Model/generation names in the question by family: {"trainium": {"trainium3"}}."""
    out: dict[str, set[str]] = {}
    for tok in re.findall(r"[a-z]{2,}\d+[a-z]?", question.lower()):
        m = re.match(r"([a-z]{2,})", tok)
        assert m is not None
        out.setdefault(m.group(1), set()).add(tok)
    return out


def _other_model(models: dict[str, set[str]], sent_tokens: set[str]) -> bool:
    """The sentence names only other generations of a model family the question names."""
    for family, named in models.items():
        siblings = {t for t in sent_tokens if t != family and t.startswith(family) and t[len(family):][:1].isdigit()}
        if siblings and not siblings & named:
            return True
    return False


def _years(question: str) -> set[int]:
    years = {int(y) for y in re.findall(r"(?<!\d)(?:19|20)\d{2}(?!\d)", question)}
    period = normalize_period(question)
    if period:
        years.add(int(period[2:6]))
    return years


def _other_years(years: set[int], sentence: str) -> bool:
    """The sentence speaks of years, none of which the question asks about."""
    if not years:
        return False
    said = {int(y) for y in re.findall(r"(?<!\d)(?:19|20)\d{2}(?!\d)", sentence)}
    return bool(said) and not said & years


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

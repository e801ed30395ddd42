"""Candidate answers and their features: every sentence (and adjacent pair) of the retrieved
passages, described by general signals a fitted model weighs: the embedding model's similarity of
the question to the sentence read in its passage, glossary-bridged term coverage, whether it holds a
figure, period agreement and guidance, the passage's retrieval rank and score, section,
speaker role and language. Nothing here names a company, product or case."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.cues import (
    ASKS_GUIDANCE, CALENDAR_WORDS, NAME, PERIOD_WORDS, first_figure_at, leads_with_guidance, quarters_in, question_tokens,
    years_in,
)
from rag.cedict import english
from rag.glossary import groups, is_aspect, mask, without
from rag.ingest.meta import period_parts
from rag.lexical import tokenize
from rag.numbers import Quantity, extract
from rag.reader.adapter import unit_rows
from rag.reader.parts import parts_named
from rag.scope import REPORTING_WORDS, names_part_of_year, the_calls_period, without_comparisons
from rag.sentences import Sentence, contiguous, split
from rag.text_lang import language
from rag.types import Hit

_YEARISH = {"date", "year"}  # number kinds that are not figures


@dataclass(frozen=True)
class Info:
    """What is read off one sentence once: its tokens, figures, periods, whether guidance leads it."""

    tokens: frozenset[str]
    kinds: frozenset[str]  # kinds of figures it states
    years: frozenset[int]
    quarters: frozenset[int]
    guidance_led: bool
    figures: tuple[int, ...]  # where each figure starts (offsets in the source)
    pairs: frozenset[tuple[str, str]] = frozenset()  # adjacent tokens ("product revenue", 产品 收入)
    full_year: bool = False  # it speaks of a whole year ("full year", "for the year", 全年)


@dataclass(frozen=True)
class Candidate:
    hit: Hit
    rank: int  # the passage's rank in retrieval, from 0
    sentence: Sentence  # one sentence, or two adjacent ones as one span
    index: int  # the (first) sentence's index in its passage
    pair: bool
    info: tuple[Info, ...]  # of its sentence(s)
    before: Info | None  # the sentence before it, for context

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset().union(*(i.kinds for i in self.info))

    @property
    def tokens(self) -> frozenset[str]:
        return frozenset().union(*(i.tokens for i in self.info))


@dataclass(frozen=True)
class Question:
    """What the features need of a question, computed once."""

    text: str
    lang: str
    vector: np.ndarray | None
    terms: list[tuple[tuple[frozenset[str], ...], float]]  # (alternative token sets, idf weight)
    metrics: int  # the first `metrics` terms are glossary concepts (a measure and its translations)
    content: int  # the first `content` terms name what is asked; the rest qualify it (同比, "quarter")
    focus: tuple[str, ...]  # the phrasings of what is asked: its measure if it names one, else its rarest word
    years: set[int]
    quarters: set[int]
    guidance: bool
    kinds: frozenset[str] = frozenset()  # the kinds of figure it asks for (empty: cannot tell)
    pinned: frozenset[str] = frozenset()  # the kinds its wording alone allows (`pinned_kinds`; empty: any)
    pairs: frozenset[tuple[str, str]] = frozenset()  # its adjacent content words, names and periods left out
    parts: tuple[tuple[str, ...], ...] = ()  # capitalised names of parts of the business (`parts_named`)
    adapted: np.ndarray | None = None  # `vector` through the fitted adapter (`rag.reader.adapter`); None: none
    whole_year: bool = False  # it asks about a year as a whole: a year named, no quarter, half or nine months


# Feature groups, for the ablation (`bench/reader_ablation.py`): each group can be dropped in turn.
GROUPS: dict[str, tuple[str, ...]] = {
    "dense": ("dense", "dense_gap", "passage_dense", "dense_adapted", "dense_adapted_gap"),
    "lexical": ("coverage", "coverage_gap", "coverage_context", "metric_coverage", "focus", "focus_context",
                "focus_anywhere", "focus_figure", "phrase"),
    "numbers": ("has_figure", "kind_fit", "kind_all"),
    "period": ("period_same", "guidance_fit", "guidance_misfit"),
    "retrieval": ("rank", "fused", "lexical_hit"),
    "passage": ("summary", "qa", "analyst_words", "language_match", "extra_names"),
    "shape": ("is_question", "length", "pair", "position"),
}
FEATURES: tuple[str, ...] = tuple(f for g in GROUPS.values() for f in g)


# What kind of figure a question asks for, read off the measure it names and how it asks: a ratio
# measure (a margin, a rate) or a change (growth, 同比) is a percentage; an amount measure (revenue,
# cash flow) is money or a count; "how many" is a count.
_RATIO = re.compile(r"margin|\brate\b|ratio|yield|percent|率|占比|比例|比重")
_CHANGE = re.compile(r"\bgr[eo]w|growth|increas|decreas|declin|how fast|by how much|\bchange|year[- ]over[- ]year|\byoy\b|"
                     r"sequential|增长|增速|增幅|下降|下滑|同比|环比|变化|提升|减少", re.I)
_FIGURE = re.compile(r"how (?:much|many|big|large)|what (?:was|were|is|are)|\b(?:report|generate|deliver|post)|"
                     r"多少|几|金额|规模|是多|达到", re.I)
# Asking what was said or why, not for a figure ("What did the CFO say about demand?").
_TALK = re.compile(r"\b(?:say|said|talk|discuss|comment|describe|explain|think|view|why|strategy)|"
                   r"说|谈|表示|认为|看法|为什么|原因", re.I)
_COUNT = re.compile(r"how many(?!\s+(?:times|basis|bps|percentage|pts|points)\b)|number of|"
                    r"多少(?:个|家|名|位|人|台|款|项|座|所|万)|几(?:个|家|名)|总数|数量|人数", re.I)


# Wording that pins the figure to one kind whatever measure is named: an amount ("in dollars", "per
# share", 多少美元), a share (what percentage, a margin or rate, 占比), a count ("how many"). A change
# asked in those words ("how many more", "EPS growth") may also be stated as a percentage or multiple.
# A currency word pins an amount only outside a measure's own name ("net dollar retention" is a rate,
# "gross dollar volume" an amount either way): `pinned_kinds` reads it with the glossary's terms blanked.
_CURRENCY = re.compile(r"\b(?:dollars?|euros?|kroner|kronor|yen|yuan|renminbi)\b", re.I)
_AMOUNT = re.compile(r"\bhow much (?:money|cash)\b|"
                     r"\bper (?:diluted |basic )?share\b|\bEPS\b|"
                     r"多少[万亿千百]*(?:美元|美金|元|钱|欧元|日元|英镑|人民币|(?:丹麦)?克朗)|多少亿|金额|每股|美元计", re.I)
_SHARE = re.compile(r"\bwhat (?:percent|percentage|share|portion|proportion|fraction)\b|\bpercentage\b|"
                    r"\bmargin\b|(?<!run )(?<!run-)\brate\b|"
                    r"百分之|百分比|占比|比例|比重|(?<![效汇频概])率", re.I)
# Points asked for ("how many basis points", 百分点): a change of a share, or a share stated so.
_POINTS = re.compile(r"\b(?:how many|what|in)\s+(?:percentage\s+|basis\s+)?(?:points|bps|pts)\b|\bbasis points?\b|"
                     r"\bpercentage points?\b|\bbps\b|百分点|基点", re.I)
# How a share moved, beyond `_CHANGE`'s words: "margin expansion", "how much did FX help", 扩张.
_MOVED = re.compile(r"\bexpan(?:d|ded|ding|sion)\b(?!\s+capex)|\bcontract(?:ed|ion)\b|\bimprov(?:e|ed|ement|ing)\b|"
                    r"\bcompress(?:ed|ion)?\b|\bdeteriorat\w*|\b(?:help|helped|hurt|impact|impacted|drag)\b|"
                    r"\bbenefit(?:ed)? from\b|\b(?:head|tail)winds?\b|\by/y\b|\bq/q\b|扩张|扩大|收窄|改善|压缩|恶化|影响|拖累", re.I)
# A part of a whole asked for ("Atlas share of revenue", "as a % of sales", 占总营收的比例): a percentage,
# whatever the measure it is a part of.
_PART_OF = re.compile(r"\b(?:share|portion|proportion|fraction|percent(?:age)?)\s+of\b|\bas\s+a\s+(?:%|percent(?:age)?|share)"
                      r"|%\s*of\b|占[^，。？?]{0,12}(?:比例|比重|百分比)|占比", re.I)
# "How many times" asks a multiple (3x, 三倍), not a count.
_TIMES = re.compile(r"\bhow many times\b|多少倍|几倍", re.I)
# A share's level is stated as a percentage; points state how it moved ("occupancy up 480 basis
# points" does not say what occupancy is), so they answer a share only when a change is asked.
_PINNED = ((_AMOUNT, {"money", "count"}), (_SHARE, {"percent", "fraction"}), (_PART_OF, {"percent", "fraction"}),
           (_POINTS, {"pp", "percent", "fraction"}),
           (_COUNT, {"count"}), (_TIMES, {"multiple"}))


# An amount stated as how much something moved ("ARR grew by $11 million", "up $53.3 million", "a net
# decrease ... of $4.1 million") is no level: it answers "how much did X grow", not "what was X".
_DELTA_BEFORE = re.compile(r"(?:\b(?:by|up|down|grew|rose|fell|declined|increased|decreased|improved|"
                           r"higher|lower|increase of|decrease of|decline of|growth of|improvement of|"
                           r"increase in [a-z ]{1,30}? of|decrease (?:to|in) [a-z' ]{1,40}? of)"
                           r"|增加了?|减少了?|增长了?|下降了?|提升了?|上升了?|提高了?|下滑了?)\s*(?:(?:about|approximately|"
                           r"roughly|nearly|almost|over|more than|some|another|an additional|约|近)\s*)?$", re.I)
# ... unless "by" names a cause ("offset by $20 million of charges") and "down"/"up" belong to a verb
# ("paid down $500 million of debt", "wrote down $50 million").
_NOT_A_MOVE = re.compile(r"\b(?:offset|funded|driven|impacted|affected|followed|led|caused|generated|supported|financed|"
                         r"represented|accounted for|helped|hurt)\s+by\s*\S*\s*$|"
                         r"\b(?:paid|pay|paying|wrote|write|written|ramped|built|picked|took|taken|brought|scaled|stepped)\s+"
                         r"(?:up|down)\s*\S*\s*$", re.I)


_OR = re.compile(r"\s*,?\s*(?:or|and|,)\s*$")


def level_kinds(text: str) -> frozenset[str]:
    """The kinds of the figures `text` states as levels: amounts stated as a move are left out, and so is
    a figure restating one ("up $4.1 million or $0.09 per share")."""
    out, moved, end = set(), False, -1
    for q in figures_in(text):
        restates = end >= 0 and bool(_OR.fullmatch(text, end, q.start))
        moved = moved if restates else bool(_DELTA_BEFORE.search(text, max(0, q.start - 60), q.start)
                                            and not _NOT_A_MOVE.search(text, max(0, q.start - 60), q.start))
        end = q.end
        if not (moved and q.kind in ("money", "count")):
            out.add(q.kind)
    return frozenset(out)


# Two things asked in one question: two question marks ("Revenue? And the margin?"), a second clause
# ("..., and how much did it grow?"), or 分别/各是 ("净利润和每股收益分别是多少？"); not 以及, which as often
# joins two topics of one question ("对供应链以及库存的看法").
_TWO_ASKS = re.compile(r"[?？].*\S.*[?？]|\b(?:and|as well as)\s+(?:how|what|which|when|where|by how)\b|分别|各(?:是|为|自)",
                       re.I | re.S)


def asks_two_things(text: str) -> bool:
    """The question asks for two things at once, so its answer needs the second sentence too."""
    return bool(_TWO_ASKS.search(text))


def asks_a_move(text: str) -> bool:
    """The question asks how a figure moved (grew, expanded, 同比), not only what it was."""
    return bool(_CHANGE.search(text) or _MOVED.search(text))


def pinned_kinds(text: str) -> frozenset[str]:
    """The kinds of figure a question's wording allows, whatever it asks about (empty: any kind)."""
    kinds: set[str] = set()
    for pattern, allowed in _PINNED:
        if pattern.search(text):
            kinds |= allowed
    measures_blanked = text
    for g in groups(text):
        measures_blanked = without(measures_blanked, g[0])
    if _CURRENCY.search(measures_blanked):
        kinds |= {"money", "count"}
    if kinds and asks_a_move(text):
        kinds |= {"percent", "pp", "fraction", "multiple"}
    return frozenset(kinds)


def asked_kinds(text: str, measures: list[tuple[str, ...]]) -> frozenset[str]:
    """The kinds of figure (`rag.numbers` kinds) a question asks for, given the measures it names."""
    kinds: set[str] = set()
    if _COUNT.search(text):
        kinds.add("count")
    part = _PART_OF.search(text)
    if _CHANGE.search(text) or part or any(_RATIO.search(m[0]) for m in measures):
        kinds |= {"percent", "pp"}
    if not part and (_FIGURE.search(text) or not _TALK.search(text)) and any(not _RATIO.search(m[0]) for m in measures):
        kinds |= {"money", "count"}
    return frozenset(kinds)


# Verbs the glossary holds as a measure (deliveries) that a question also uses to ask for any figure:
# "What operating margin did X deliver?" asks for the margin; "How many cars did X deliver?" for deliveries.
_ASKING_VERBS = frozenset({"deliver", "delivered"})


# The call itself ("on its Q3 earnings call", "the earnings release"): no measure asked about, though
# the glossary reads "earnings" as net income.
_CALL = re.compile(r"\bearnings (?:conference )?calls?\b|\bearnings (?:release|report|presentation)s?\b", re.I)


def question_of(text: str, vector: np.ndarray | None, idf, skip: set[str], ahead: bool = False,
                period: str | None = None) -> Question:
    """The question's weighted terms (glossary groups with their translations, other content words),
    the kinds of number it asks for, and the periods it names. `ahead`: the period it names lies after
    the calls in scope, so it asks for guidance whatever its wording; `period`: the one call's period
    ("FY2025Q3") a question naming no period is scoped to (its company's newest), read as asked
    ("revenue growth last quarter": the sentence saying Q3 is the quarter's own). Not for a question
    naming a year: "2021年全年" scoped to a Q4 call asks for the year, not the quarter."""
    # A company's name written with a plus ("Disney+", "ESPN+") names its product: what is asked about.
    skip = skip - {t for w in re.findall(r"([A-Za-z][\w.-]*)\+", text) for t in (w.lower(), *tokenize(w))}
    terms: list[tuple[tuple[frozenset[str], ...], float]] = []
    phrasings: list[tuple[str, ...]] = []
    qualifiers: list[tuple[tuple[frozenset[str], ...], float]] = []
    # Periods are matched by the period features; here they would pass for the measure asked about.
    plain = _CALL.sub(" ", PERIOD_WORDS.sub(" ", text.lower()))
    call = the_calls_period(text)
    if call:  # "when it reported Q4 2019 results": which call, not what is asked
        plain = REPORTING_WORDS.sub(" ", plain)
    rest = plain
    found = groups(rest)
    other_measure = any(not is_aspect(g) and g[0].lower() not in _ASKING_VERBS for g in found)
    for g in found:
        rest = mask(rest, g[0])
        # A glossary word inside the company's name ("Prestige Consumer Healthcare") is not a measure.
        in_name = set(tokenize(g[0]))
        if g[0].lower() in skip or (in_name and in_name <= skip) or (g[0].lower() in _ASKING_VERBS and other_measure):
            continue
        alts = tuple(frozenset(tokenize(m)) for m in g if tokenize(m))
        if not alts:
            continue
        weight = max(idf(t) for a in alts for t in a)
        if is_aspect(g):  # 同比, "quarter": qualify the measure, never are it
            qualifiers.append((alts, weight * 0.4))
            continue
        terms.append((alts, weight))
        phrasings.append(tuple(m.lower() for m in g))
    metrics = len(terms)
    for tok in dict.fromkeys(tokenize(rest)):
        if tok in skip or tok in question_tokens() or tok.isdigit() or len(tok) < 2:
            continue
        # A Chinese word the glossary lacks is also met by its first English senses in CC-CEDICT (as
        # retrieval searches them): 灌溉 by "irrigation", 北美 by "North America".
        senses = tuple(frozenset(tokenize(e)) for e in english(tok)) if tok[0] >= "\u3400" else ()
        terms.append(((frozenset((tok,)), *(a for a in senses if a)), idf(tok)))
        phrasings.append((tok,))
    pool = range(metrics) if metrics else range(len(terms))
    # "S&M expenses as a share of revenue", 销售费用占净收入的比重: the part is asked about, not the
    # whole it is measured against, so a measure named before the part-of wording is the focus.
    if (part := _PART_OF.search(plain)) and metrics > 1:
        pool = [i for i in pool if 0 <= _at(plain, phrasings[i]) < part.start()] or pool
    focus = phrasings[max(pool, key=lambda i: terms[i][1])] if terms else ()
    content = len(terms)
    terms += qualifiers  # after the focus is chosen: they count toward coverage only
    named = skip | set(tokenize(" ".join(skip)))  # names as written and as tokens ("snowflake", "snowflak")
    words = [t for t in tokenize(plain) if t not in named and t not in question_tokens()]
    years, quarters = years_in(text), quarters_in(text)
    beside_call = text[: call[0]] + " " + text[call[1]:] if call else text  # the question less the call's period
    if call:
        # "What 2020 guidance did Acme give on its Q4 2019 call?": the call's period picks the call
        # (scoping); the figure asked about is of the other period the question names, unless that is
        # only a comparison's base ("On its Q3 2021 call, how did revenue compare with 2020?").
        rest = without_comparisons(beside_call)
        other = years_in(rest), quarters_in(rest)
        if any(other):
            years, quarters = other
    if not quarters and not years and (parts := period_parts(period)):
        years, quarters = {parts[0]}, {parts[1]}
    whole_year = bool(years) and not quarters and not names_part_of_year(beside_call)
    return Question(text, language(text), vector, terms, metrics, content, focus, years, quarters,
                    ahead or bool(ASKS_GUIDANCE.search(text)), asked_kinds(text, phrasings[:metrics]),
                    pinned_kinds(text), _pairs(words), parts_named(text, skip), whole_year=whole_year)


def _at(text: str, phrasing: tuple[str, ...]) -> int:
    """Where `text` first names a glossary group by its first phrasing (the one found in it); -1: not."""
    return text.find(phrasing[0]) if phrasing else -1


def _pairs(tokens: list[str]) -> frozenset[tuple[str, str]]:
    """Adjacent tokens: words next to each other once stopwords are gone ("product revenue")."""
    return frozenset(zip(tokens, tokens[1:]))


# A count of quarters, years or months is a span of time, not a figure ("accelerated for 2 consecutive
# quarters", "连续两个季度", "the first 9 months").
_SPAN_AFTER = re.compile(r"[\s-]*(?:(?:consecutive|straight|full|more|fiscal)\s+)?(?:quarters?|years?|months?)\b"
                         r"|\s*个?(?:季度|财季|年|月)", re.I)


# A whole year's figure as a sentence names it, with or without the year's number.
_FULL_YEAR = re.compile(r"\bfull[- ](?:fiscal[- ])?year\b|\b(?:for|in) the (?:full |fiscal |whole |entire )?year"
                        r"\b(?![- ](?:ago|over|earlier|before|prior))|全年|全财年|整个财年", re.I)


# A number naming a page of the deck ("Please turn to Page 7", "slide 13 summarizes") points at a
# figure, it is none.
_REFERENCE_BEFORE = re.compile(r"\b(?:pages?|slides?|charts?|exhibits?|tables?|appendix|footnotes?)\s*#?\s*$", re.I)


def figures_in(text: str) -> list[Quantity]:
    """The figures `text` states (`rag.numbers` quantities): not years or dates, spans of time or
    references to a page."""
    return [q for q in extract(text) if q.kind not in _YEARISH
            and not (q.kind == "count" and (_SPAN_AFTER.match(text, q.end)
                                            or _REFERENCE_BEFORE.search(text, max(0, q.start - 12), q.start)))]


def _info(s: Sentence) -> Info:
    quantities = figures_in(s.text)
    tokens = tokenize(s.text)
    return Info(frozenset(tokens), frozenset(q.kind for q in quantities),
                frozenset(years_in(s.text)), frozenset(quarters_in(s.text)),
                leads_with_guidance(s.text, first_figure_at(quantities)),
                tuple(s.start + q.start for q in quantities), _pairs(tokens), bool(_FULL_YEAR.search(s.text)))


@lru_cache(maxsize=8192)
def read_passage(text: str, start: int) -> tuple[tuple[Sentence, ...], tuple[Info, ...]]:
    """A passage's sentences and what is read off each: the same passages come back question after
    question (to the reader, and to the quotes an answer or a refusal shows), and reading them
    (tokens, figures) is most of the reader's time."""
    sents = tuple(split(text, start))
    return sents, tuple(_info(s) for s in sents)


def candidates(hits: list[Hit], max_sentences: int = 40) -> list[Candidate]:
    """Sentences and adjacent pairs of the passages, in retrieval order."""
    out: list[Candidate] = []
    for rank, h in enumerate(hits):
        sents, infos = read_passage(h.chunk.text, h.chunk.start)
        sents, infos = sents[:max_sentences], infos[:max_sentences]
        for i, s in enumerate(sents):
            before = infos[i - 1] if i else None
            out.append(Candidate(h, rank, s, i, False, (infos[i],), before))
            if i + 1 < len(sents) and contiguous(h.chunk.text, s, sents[i + 1], h.chunk.start):
                nxt = sents[i + 1]
                text = h.chunk.text[s.start - h.chunk.start : nxt.end - h.chunk.start]
                out.append(Candidate(h, rank, Sentence(text, s.start, nxt.end), i, True, (infos[i], infos[i + 1]),
                                     before))
    return out


@lru_cache(maxsize=4096)
def asked_tokens(text: str) -> frozenset[str]:
    """The tokens of the analyst's question a passage answers: the same passages come back question
    after question."""
    return frozenset(tokenize(text))


def _covered(q: Question, own: frozenset[str], context: frozenset[str]) -> tuple[list[bool], list[bool]]:
    """Which of the question's terms the candidate's own tokens hold, and which its context holds (a
    superset of its own: a term its own tokens hold is not looked up again)."""
    in_own = [any(a <= own for a in alts) for alts, _ in q.terms]
    return in_own, [o or any(a <= context for a in alts) for (alts, _), o in zip(q.terms, in_own)]


def _coverage(q: Question, held: list[bool], n: int | None = None) -> float:
    """The idf-weighted share of the question's terms (its first `n`) that `held` marks."""
    chosen = q.terms[:n]
    total = sum(w for _, w in chosen) or 1.0
    return sum(w for (_, w), h in zip(chosen, held) if h) / total


# What a figure is a share of, as a sentence writes it just before the measure ("25% of the company's
# total revenue", 占总收入): the measure there is the whole, not what the figure states.
_DENOMINATOR = re.compile(r"(?:%|\bpercent(?:age)?|\bper cent|\bshare|\bportion|\bproportion|\bfraction)\s+of\s+"
                          r"(?:(?:total|overall|our|the|its|net|consolidated|company|group|[a-z]+'s)\s+)*$|占(?:总|全部|公司|集团)?$", re.I)


def _figure_near_focus(q: Question, c: Candidate, whole: bool, before: int = 20, after: int = 90) -> bool:
    """A figure stands right after (or just before) where the candidate names what is asked. `whole`:
    the question asks no share, so a measure named as what a share is of has no figure of its own."""
    text = c.sentence.text.lower()
    figures = [f - c.sentence.start for i in c.info for f in i.figures]
    for phrase in q.focus:
        at = text.find(phrase)
        while at >= 0:
            # "$135 million or 25% of total revenue": the measure is what the figure is a part of.
            if whole and _DENOMINATOR.search(text, max(0, at - 30), at):
                at = text.find(phrase, at + 1)
                continue
            if any(at - before <= f <= at + len(phrase) + after for f in figures):
                return True
            at = text.find(phrase, at + 1)
    return False


def _extra_names(text: str, asked: set[str]) -> float:
    """Capitalised names in the sentence (past its first word) that the question does not use:
    "Consumer Products earned adjusted EBITDA of $20 million" speaks of a segment the question
    ("Clearwater Paper Q4 2019 adjusted EBITDA?") did not ask about. 0-1 (three or more: 1)."""
    n = sum(1 for words in _names_in(text) if not any(w in asked for w in words))
    return min(n, 3) / 3


@lru_cache(maxsize=16384)
def _names_in(text: str) -> tuple[tuple[str, ...], ...]:
    """The tokens of each capitalised name in a sentence (periods and question words left out): the
    same sentences come back question after question."""
    out = []
    for m in NAME.finditer(text):
        plain = CALENDAR_WORDS.sub(" ", PERIOD_WORDS.sub(" ", m.group(0).lower()))
        words = tuple(t for t in tokenize(plain) if t not in question_tokens())
        if words:
            out.append(words)
    return tuple(out)


def _same_period(q: Question, c: Candidate) -> bool:
    """The candidate names the period asked. A quarter asked is matched by the quarter named; a year
    asked (no quarter) by the year named without a quarter ("2021 revenue", not "third quarter of 2021
    revenue"), or by a whole year ("Full year EBITDA is projected ...") of no other year."""
    years = frozenset().union(*(i.years for i in c.info))
    quarters = frozenset().union(*(i.quarters for i in c.info))
    if q.quarters:
        return bool(q.quarters & quarters)
    if not q.years:
        return False
    whole = q.whole_year and any(i.full_year for i in c.info)
    return (bool(q.years & years) and not quarters) or (whole and (not years or bool(q.years & years)))


def _all_kinds(asked: frozenset[str], held: frozenset[str]) -> bool:
    """`held` answers every kind asked: a percentage (percent or points) and an amount (money or count)."""
    want = [g for g in ({"percent", "pp"}, {"money", "count"}) if g <= asked] or [set(asked)]
    return all(g & held for g in want)


def candidate_vectors(cands: list[Candidate], sentence_vectors) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's vector (its sentence's, or the mean of a pair's), unit length, and whether it
    has one (a passage stored without sentence vectors has none). `sentence_vectors(hit)` gives the
    vectors of a passage's sentences (or None)."""
    # Gathered passage by passage with array indexing: one mean per candidate (300 a question) was
    # a sixth of the reader's time.
    by_row: dict[int, list[int]] = {}
    for k, c in enumerate(cands):
        by_row.setdefault(c.hit.row, []).append(k)
    out: np.ndarray | None = None
    has = np.zeros(len(cands), dtype=bool)
    for ks in by_row.values():
        sv = sentence_vectors(cands[ks[0]].hit)
        if sv is None:
            continue
        sv = np.asarray(sv, dtype=np.float32)
        if out is None:
            out = np.zeros((len(cands), sv.shape[1]), dtype=np.float32)
        first = np.array([cands[k].index for k in ks])
        pair = np.array([cands[k].pair for k in ks], dtype=bool)
        ok = first + pair < len(sv)
        ks_ok, first, pair = np.array(ks)[ok], first[ok], pair[ok]
        vectors = sv[first]
        # a pair's vector is the mean of its two sentences'
        vectors[pair] = (vectors[pair] + sv[first[pair] + 1]) / 2
        out[ks_ok] = vectors
        has[ks_ok] = True
    return unit_rows(out if out is not None else np.zeros((len(cands), 0), dtype=np.float32)), has


def similarity(vectors: np.ndarray, has: np.ndarray, v: np.ndarray | None, otherwise: np.ndarray) -> np.ndarray:
    """Each candidate's similarity to `v` (`candidate_vectors`' rows), `otherwise` where it has no
    vector (or there is no `v`)."""
    if v is None or not has.any():
        return otherwise
    return np.where(has, vectors.astype(np.float32, copy=False) @ v, otherwise)


def matrix(q: Question, cands: list[Candidate], sentence_vectors,
           vectors: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """One row of FEATURES per candidate. `sentence_vectors(hit)` gives the vectors of a passage's
    sentences (or None); `vectors`: `candidate_vectors` already computed."""
    if not cands:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    top_score = max(c.hit.score for c in cands) or 1.0
    pool = q.terms[: q.metrics] or q.terms[: q.content]
    focus = max(pool, key=lambda t: t[1], default=None)
    question_tokens_of: dict[int, set[str]] = {}
    rows = []
    asked = set(tokenize(q.text))
    whole = not _PART_OF.search(q.text)  # read once, not per candidate
    vecs, has = vectors or candidate_vectors(cands, sentence_vectors)
    # The passage's similarity where a sentence has no vector of its own.
    passage = np.array([c.hit.dense if c.hit.dense is not None else 0.0 for c in cands], dtype=np.float32)
    dense = similarity(vecs, has, q.vector, passage)
    # Without a fitted adapter the adapted similarity is the plain one (what `rag train-reader` replaces).
    adapted = similarity(vecs, has, q.adapted, passage) if q.adapted is not None else dense
    for c, d, ad in zip(cands, dense.tolist(), adapted.tolist()):
        row = c.hit.row
        if row not in question_tokens_of:
            question_tokens_of[row] = asked_tokens(c.hit.chunk.question or "")
        own = c.tokens
        context = own | (c.before.tokens if c.before else frozenset()) | question_tokens_of[row]
        in_own, in_context = _covered(q, own, context)
        kinds = c.kinds
        text = c.sentence.text
        # A pair is forward-looking when either sentence is: its figures may be the outlook's.
        guidance_led = any(i.guidance_led for i in c.info)
        rows.append({
            "dense": d,
            "dense_adapted": ad,
            "passage_dense": c.hit.dense if c.hit.dense is not None else 0.0,
            "coverage": _coverage(q, in_own),
            "coverage_context": _coverage(q, in_context),
            "metric_coverage": _coverage(q, in_own, q.metrics) if q.metrics else 0.0,
            "focus": float(focus is not None and any(a <= own for a in focus[0])),
            "focus_context": float(focus is not None and any(a <= context for a in focus[0])),
            "focus_figure": float(_figure_near_focus(q, c, whole)),
            # the question's words in its order ("product revenue", not "revenue" here and "product" there)
            "phrase": len(q.pairs & frozenset().union(*(i.pairs for i in c.info))) / len(q.pairs) if q.pairs else 0.0,
            "has_figure": float(bool(kinds)),
            "kind_fit": float(bool(q.kinds & kinds)),
            "kind_all": float(bool(q.kinds) and _all_kinds(q.kinds, kinds)),
            "period_same": float(_same_period(q, c)),
            "guidance_fit": float(q.guidance and guidance_led),
            "guidance_misfit": float(not q.guidance and guidance_led),
            "rank": 1.0 / (1 + c.rank),
            "fused": c.hit.score / top_score,
            "lexical_hit": float(c.hit.lexical is not None),
            "summary": float(c.hit.chunk.section == "summary"),
            "qa": float(c.hit.chunk.section == "qa"),
            "analyst_words": float(bool(c.hit.chunk.question) and text in (c.hit.chunk.question or "")),
            "language_match": float(c.hit.chunk.language == q.lang),
            "extra_names": _extra_names(c.sentence.text, asked),
            "is_question": float(c.sentence.is_question or "?" in text or "？" in text),
            "length": math.log1p(len(text)) / 6.0,
            "pair": float(c.pair),
            "position": 1.0 / (1 + c.index),
        })
    best_dense = max(r["dense"] for r in rows)
    best_adapted = max(r["dense_adapted"] for r in rows)
    best_cov = max(r["coverage"] for r in rows)
    any_focus = max(r["focus"] for r in rows)
    for r in rows:
        r["dense_gap"] = r["dense"] - best_dense
        r["dense_adapted_gap"] = r["dense_adapted"] - best_adapted
        r["coverage_gap"] = r["coverage"] - best_cov
        # No candidate names the question's rarest term: the passages likely do not speak of it.
        r["focus_anywhere"] = any_focus
    return np.array([[r[f] for f in FEATURES] for r in rows], dtype=np.float32)

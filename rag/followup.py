"""Follow-up questions: rewrite a question that leans on the chat history into a standalone one,
carrying over the company, period and metric of earlier turns ("那环比呢？" -> "亚马逊积压订单环比增长多少？")."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from rag.cues import (
    ASKS_GUIDANCE, CALENDAR_WORDS, PERIOD_WORDS, question_tokens, quarters_in, with_quarter, with_year, years_in,
)
from rag.glossary import groups, is_aspect, is_part, mask, without
from rag.ingest.meta import PERIOD, period_parts, period_spans, quarter_before
from rag.lexical import tokenize
from rag.scope import Catalog, Scope, detect, name_words, without_companies, without_comparisons
from rag.text_lang import language

ScopeOf = Callable[[str], Scope]

# Pairs a follow-up swaps: asking for one side after a question about the other.
CONTRASTS: list[tuple[str, str]] = [
    ("同比", "环比"),
    ("year over year", "quarter over quarter"),
    ("year-over-year", "quarter-over-quarter"),
    ("year over year", "sequentially"),
    ("non-GAAP", "GAAP"),
    ("adjusted", "GAAP"),  # "What was it on a GAAP basis?" after an adjusted figure
    ("调整后", "GAAP"),
    ("第四季度", "全年"),
    ("fourth quarter", "full year"),
    ("the quarter", "the full year"),
    ("营收", "利润"),
    ("revenue", "operating income"),
]
_ELLIPTIC_EN = re.compile(r"^\s*(and|what about|how about|what of|same for|and for|also|then)\b", re.I)
# A follow-up asking for the quarter before the one just asked ("And in the previous quarter?", 那上一季度呢？).
_PREVIOUS_QUARTER = re.compile(r"\b(?:the\s+)?(?:previous|prior|preceding|last)\s+quarter\b|\bthe\s+quarter\s+before\b"
                               r"|上一?个?(?:财季|季度)|前一个?(?:财季|季度)", re.I)
# A follow-up asking the same of the year before ("And the same quarter a year ago?", 去年同期呢？); not
# one asking how the two compare ("How does that compare with a year ago?": a growth rate).
_YEAR_AGO = re.compile(r"\b(?:(?:in\s+|for\s+)?the\s+same\s+(?:quarter|period)\s+(?:a\s+year\s+(?:ago|earlier|before)|"
                       r"last\s+year|of\s+the\s+(?:prior|previous)\s+year)|a\s+year\s+(?:ago|earlier|before)|"
                       r"(?:in\s+)?the\s+(?:prior|previous)[- ]year(?:\s+(?:quarter|period))?|"
                       r"(?:in\s+)?the\s+year[- ]ago\s+(?:quarter|period))\b|去年同期|上年同期|一年前", re.I)
_COMPARES = re.compile(r"compar|versus|\bvs\b|\b(?:from|than|over|since|against)\s+(?:the\s+|a\s+)?(?:same|year|prior|previous)|"
                       r"grow|grew|chang|increas|decreas|differ|improv|expan|contract|declin|\br[io]se|\bf[ae]ll|"
                       r"\b(?:up|down|higher|lower|better|worse)\b|增长|变化|相比|对比|比较|提升|上升|下降|改善|增加|减少", re.I)
_ELLIPTIC_ZH = re.compile(r"^\s*(那|那么|还有|另外|其中|而|同时)|呢[？?]?\s*$")
# Words pointing back at what was just asked ("How does that compare with a year ago?", 这个数字同比呢).
_ANAPHOR = re.compile(r"\b(?:that|this|it|those|these)\b|这个|那个|这一|它", re.I)
# Pointing back at a part of the business the earlier question named ("this segment's operating income",
# 这个分部的营业利润): asks about that part, whatever measure it names.
_PART_ANAPHOR = re.compile(r"\b(?:that|this|the same)\s+(?:segment|division|business|unit|region|brand)\b"
                           r"|(?:这个|那个|该|这一|此)(?:分部|业务|板块|部门|地区|区域|品牌)", re.I)


# Asking how a company did, naming no measure ("How did Snowflake do last quarter?", 雪花上季度表现如何？):
# the headline, revenue, is what answers with a figure.
_HOW_DID = re.compile(r"\bhow\s+(?:did|was|were|is|are)\b[^?？]*\b(?:do|doing|perform\w*|results?|go|went)\b|"
                      r"(?:表现|业绩|做得|经营得?)(?:如何|怎么样|怎样)", re.I)


def headline(question: str) -> str:
    """`question` with the headline measure named when it asks how a company did and names none."""
    if _HOW_DID.search(question) and not _measures(question):
        return f"{question.rstrip()} {'营收' if language(question) == 'zh' else 'revenue'}"
    return question


def continues(question: str) -> bool:
    """Explicitly continuing: "And sequentially?", "What about ...", "那环比呢？"."""
    q = question.strip()
    return bool(_ELLIPTIC_EN.search(q) or _ELLIPTIC_ZH.search(q))


def is_elliptical(question: str) -> bool:
    """Questions that lean on the previous one: explicitly continuing, or short ones naming no
    metric of their own ("同比变化了多少？", "Why?"). A short question that names a metric
    ("营业利润率是多少？") asks something new about the same company."""
    q = question.strip()
    if continues(q) or _PART_ANAPHOR.search(q):
        return True
    own_measure = any(not is_aspect(g) for g in groups(q))
    if not own_measure and _ANAPHOR.search(q):
        return True  # names no measure but points back at one: "How does that compare with a year ago?"
    short = len(re.sub(r"[\s？?。，,！!]", "", q)) <= 12 if language(q) == "zh" else len(q.split()) <= 6
    return short and not own_measure


def _names_a_topic(question: str, prev: str, read: ScopeOf) -> bool:
    """A follow-up that names something new to ask about, a part of the business or a topic ("And
    gaming?", "What about EMEA?", 那游戏呢？), and nothing else: no company, period, measure swap or
    word pointing back. After another such follow-up it replaces that one's topic instead of adding
    to it ("revenue? and Azure growth? and gaming?" asks for gaming, not Azure and gaming)."""
    if not is_elliptical(question) or _ANAPHOR.search(question) or _PART_ANAPHOR.search(question) \
            or _PREVIOUS_QUARTER.search(question) or _YEAR_AGO.search(question) or PERIOD.search(question) \
            or quarters_in(question) or years_in(question) or _swap(prev, question) is not None:
        return False
    # A product only the same company's calls hold ("What about LinkedIn?") is a topic; another company is not.
    scope = read(question)
    if set(scope.tickers) - set(read(prev).tickers) or scope.periods:
        return False
    rest = _ELLIPTIC_ZH.sub(" ", _ELLIPTIC_EN.sub(" ", question))
    for g in groups(rest):
        if not is_part(g):  # measures and aspects ask how, not about what; a part is a topic
            rest = mask(rest, g[0])
    return any(t not in question_tokens() and t not in _GENERIC for t in tokenize(rest))


# Words of a follow-up's phrasing that name no topic ("And on a GAAP basis?").
_GENERIC = frozenset(tokenize("basis number figure one"))


def _at(term: str, text: str) -> int:
    """Where `term` stands in `text` as a word of its own ("GAAP", not the end of "non-GAAP"); -1 if not."""
    if not term.isascii():
        return text.find(term)  # Chinese has no word boundaries to test
    m = re.search(rf"(?<![A-Za-z0-9-]){re.escape(term)}(?![A-Za-z0-9-])", text)
    return m.start() if m else -1


def _swap(prev: str, question: str) -> str | None:
    """`prev` with the contrasting term the follow-up asks about, or None when no pair applies."""
    q, p = question.lower(), prev.lower()
    for a, b in CONTRASTS:
        for old, new in ((a, b), (b, a)):
            if _at(new.lower(), q) >= 0 and (i := _at(old.lower(), p)) >= 0 and _at(new.lower(), p) < 0:
                return prev[:i] + new + prev[i + len(old):]
    return None


def _measures(text: str) -> list[tuple[str, ...]]:
    """The measures `text` names; words asking for an outlook ("guide", "expect") are not one: they
    say when, and "the capex guide" after "what tax rate does X expect" asks for another measure; nor
    are words naming a part of the business ("segment")."""
    return [g for g in groups(text) if not is_aspect(g) and not is_part(g) and not ASKS_GUIDANCE.match(g[0])]


def _without_old_measure(prev: str, question: str) -> str:
    """`prev` less the measures it names when the follow-up names another ("...non-GAAP operating
    margin in Q1? And the gross margin?"): its company, period and qualifiers stay as context, but
    its measure would otherwise be read as what is asked."""
    new = _measures(question)
    old = _measures(prev)
    if not new or not old or any(set(g) & set(o) for g in new for o in old):
        return prev
    for g in old:
        prev = without(prev, g[0])
    return re.sub(r"[ \t]{2,}", " ", prev)


def _before_newest(scope: Scope, catalog: Catalog) -> str | None:
    """The fiscal quarter before the one call a scope defaulted to (its company's newest), as the
    catalog writes periods ("FY2025Q2" before "FY2025Q3"); None unless it names exactly one."""
    periods = {catalog.docs[d].get("period") for d in scope.doc_ids if d in catalog.docs} - {None}
    parts = period_parts(next(iter(periods))) if len(periods) == 1 and scope.tickers else None
    return quarter_before(*parts) if parts else None


def _a_year_before(question: str) -> str | None:
    """`question` with the one period it names a year earlier ("FY2026Q2" -> "FY2025Q2", "Q2 FY26" ->
    "Q2 FY25", "2021年第三季度" -> "2020年第三季度"); None when it names no year or several."""
    if fy := PERIOD.search(question):
        return question[:fy.start()] + f"FY{int(fy.group(1)) - 1}Q{fy.group(2)}" + question[fy.end():]
    years = years_in(question)
    if len(years) == 1:
        return with_year(question, next(iter(years)) - 1)
    # Shorthand no year reader above takes ("Q2'26", "2Q26", "26财年Q2"): the one period, written out.
    spans = period_spans(question)
    if years or len({p for _, _, p in spans}) != 1:
        return None
    year, quarter = period_parts(spans[0][2])
    for start, end, _ in reversed(spans):
        question = question[:start] + f"FY{year - 1}Q{quarter}" + question[end:]
    return question


def _qualifier_names(text: str) -> list[str]:
    """Names a question qualifies its measure with (a product, segment, region: "Simparica Trio",
    "Librela", "EMEA"): its name words less measures and periods."""
    return [w for w in name_words(text) if not groups(w) and not PERIOD_WORDS.fullmatch(w.lower())
            and not CALENDAR_WORDS.search(w)]


def _without_old_names(prev: str, question: str, read: ScopeOf, catalog: Catalog) -> str:
    """`prev` less the product, segment or region it named when the follow-up names another ("那Librela
    这个季度卖了多少？" after a Simparica Trio question asks about Librela alone, not both); the
    company's names stay."""
    # Not another company's name ("What about Lennox?" is answered by switching companies): the
    # catalog's names only, as a product only one company's calls hold ("Librela") is a name here.
    named = partial(detect, catalog=catalog)
    tickers = set(read(prev).tickers)
    if named(question).tickers or not set(read(question).tickers) <= tickers:
        return prev
    asked = {w.lower() for w in _qualifier_names(question)}
    earlier = [w for w in _qualifier_names(prev) if w.lower() not in asked]
    if not asked - {w.lower() for w in _qualifier_names(prev)} or not earlier:
        return prev
    # The words of the company's names ("General", "Dynamics"), however the question wrote them.
    names = [n for t in tickers for d in catalog.by_ticker.get(t, ())
             for n in (catalog.docs[d].get("company"), *(catalog.docs[d].get("aliases") or [])) if n]
    company = {x.lower() for n in names for x in re.findall(r"[A-Za-z][\w&.-]*", n)}
    for w in earlier:
        if w.lower() not in company and not named(w).tickers:
            prev = re.sub(rf"(?<![\w-]){re.escape(w)}(?![\w-])", " ", prev)
    return re.sub(r"[ \t]{2,}", " ", prev)


def _named(question: str, catalog: Catalog, lang: str, scope_of: ScopeOf | None = None
           ) -> tuple[str | None, str | None]:
    """(company name in `lang` where the catalog has one, period) that a question names."""
    scope = (scope_of or partial(detect, catalog=catalog))(question)
    company = None
    if scope.tickers:
        t = scope.tickers[0]
        doc = next((d for d in catalog.docs.values() if (d.get("ticker") or "").upper() == t), {})
        names = [n for n in [doc.get("company"), *(doc.get("aliases") or [])] if n]
        in_lang = [n for n in names if (language(n) == "zh") == (lang == "zh")]
        company = (in_lang or names or [None])[0]
    elif scope.unheard:
        # A name no passage holds ("Affiliated Managers Group" for a call that says only "AMG"): the
        # follow-up is about it too, so it is carried and the follow-up gets the same reply.
        company = scope.unheard[0]
    return company, (scope.periods[0] if scope.periods else None)


# How a reply of this assistant names the call it answers from: "Snowflake FY2026Q4 (the latest call
# in the index; ...): ", "Microsoft FY2026Q1：" (`rag.answer`).
_ANSWERED = re.compile(r"\b(FY\d{4}Q[1-4])(?:\s*[（(][^()（）]*[)）])?\s*[:：]")


def answered_period(reply: str) -> str | None:
    """The one call period ("FY2026Q4") an earlier reply says it answered from; None for none or several."""
    found = {m.group(1) for m in _ANSWERED.finditer(reply)}
    return found.pop() if len(found) == 1 else None


def _rewrite_one(question: str, prev: str, catalog: Catalog, scope_of: ScopeOf | None = None,
                 answered: str | None = None) -> str:
    """`answered`: the call period the reply to `prev` came from, when `prev` named none ("How did
    Snowflake do?" answered from its newest call): a follow-up naming no company asks about that call
    too ("RPO?"), unless it names a period of its own."""
    lang = language(question)
    read = scope_of or partial(detect, catalog=catalog)
    # Only a company the question names outright makes it a new question: a product only one company's
    # calls hold ("Atlas占比多少？" after a MongoDB question) still leans on the earlier one.
    company, period = _named(question, catalog, lang)
    if answered and company is None and not read(prev).periods and not PERIOD.search(prev) and \
            not years_in(prev) and not set(read(question).tickers) - set(read(prev).tickers):
        prev = f"{prev.rstrip()} ({answered})"
    # "How about Microsoft's cloud revenue in Q3 FY24?": a company, a period and a measure of its own
    # make a whole question, however it opens.
    whole = company is not None and period is not None and any(not is_aspect(g) for g in groups(question))
    if not whole and (continues(question) or (company is None and is_elliptical(question))):
        swapped = _swap(prev, question)
        if swapped is not None:
            return swapped
        # Keep the earlier question as context: its company, period and metric stay in the query
        # (its metric only while the follow-up names none of its own, its quarter only while the
        # follow-up names no other: "How about Q2?" after a Q3 question asks about Q2 of that year).
        # A comparison base is not the period asked ("How many bps was that up vs 2019?").
        own = without_comparisons(question)
        asked, years = quarters_in(own), years_in(own)
        before = quarters_in(prev)
        previous = _PREVIOUS_QUARTER.search(question)
        if previous and not asked and not before and not years_in(prev) and not previous.group(0).lower().startswith(
                "last") and (earlier := _before_newest(read(prev), catalog)):
            # "And the quarter before?" after a question that named no period (so was answered from the
            # newest call): the quarter before that call's.
            prev = f"{prev.rstrip()} ({earlier})"
            question = _PREVIOUS_QUARTER.sub(" ", question)
        elif previous and not asked and (fy := PERIOD.search(prev)):
            # The period an earlier rewrite carried ("(United Rentals, FY2021Q2)"): the quarter before it.
            prev = prev[:fy.start()] + quarter_before(int(fy.group(1)), int(fy.group(2))) + prev[fy.end():]
            question = _PREVIOUS_QUARTER.sub(" ", question)
        elif len(asked) == 1 and (n := next(iter(asked))) <= 4 and (fy := PERIOD.search(prev)):
            prev = prev[:fy.start()] + f"FY{fy.group(1)}Q{n}" + prev[fy.end():]  # "How about Q1?"
        elif previous and not asked and len(before) == 1 and len(years_in(prev)) == 1 \
                and (n := next(iter(before))) <= 4:
            # The quarter before the earlier one, across a year end; said as a period, not as "last quarter"
            # (which, standing alone, asks for the newest call).
            year = next(iter(years_in(prev)))
            prev = with_year(with_quarter(prev, n - 1), year) if n > 1 else with_year(with_quarter(prev, 4), year - 1)
            question = _PREVIOUS_QUARTER.sub(" ", question)
        elif len(asked) == 1 and (n := next(iter(asked))) <= 4 and before - asked:
            prev = with_quarter(prev, n)
        elif not asked and not years and _YEAR_AGO.search(question) and not _COMPARES.search(question) \
                and (earlier := _a_year_before(prev)) and not read(earlier).out_of_index:
            # "And a year ago?": the same quarter's call a year before, where the index holds it; else
            # the call asked about, which states the year-ago figure beside its own.
            prev, question = earlier, _YEAR_AGO.sub(" ", question)
        if len(years) == 1 and years_in(prev) - years and not (ASKS_GUIDANCE.search(question) and not asked):
            # "How about fiscal Q2 2021?" after a 2020 question. Not "and the guidance for FY26?": the
            # year an outlook is for is not the call's.
            prev = with_year(prev, next(iter(years)))
        # "What about BorgWarner?" after a question about FMC asks the same of BorgWarner, not of both.
        named = set(read(question).tickers)
        if named and not named & set(earlier := read(prev).tickers):
            prev = without_companies(prev, set(earlier), catalog)
        prev = _without_old_names(prev, question, read, catalog)
        return f"{_without_old_measure(prev, question).rstrip()} {question.strip()}"
    prev_company, prev_period = _named(prev, catalog, lang, scope_of)
    if prev_period and not period and ASKS_GUIDANCE.search(prev) and not ASKS_GUIDANCE.search(question):
        # A period carried from a question about guidance is the period guided for ("What Q4
        # guidance did they give?" -> "What growth does that imply?"): it stays an outlook.
        prev_period += "展望" if lang == "zh" else " outlook"
    carry = [x for x, have in ((prev_company, company), (prev_period, period)) if x and not have]
    if not carry:
        return question
    if lang == "zh":
        return _run_together([*carry, question.strip()])
    return f"{question.strip()} ({', '.join(carry)})"


def _run_together(parts: list[str]) -> str:
    """Chinese pieces joined as Chinese text is, with a space where two Latin words or digits would
    meet: "United RentalsFY2021Q2" would run the name into the period for the matcher and tokenizer."""
    out = ""
    for p in parts:
        out += " " + p if out and out[-1].isascii() and out[-1].isalnum() and p[:1].isascii() and p[:1].isalnum() else p
    return out


def rewrite(question: str, history: Sequence[dict[str, Any]] | None, catalog: Catalog,
            scope_of: ScopeOf | None = None) -> str:
    """The standalone form of `question` given earlier turns (`[{"role", "content"}]`). `scope_of`: how
    the index reads a question's scope (`Retriever.scope`: also names only its passages tie to one
    company, "Lennox" for Lennox International); else the catalog's names alone (`detect`)."""
    # Each user turn with the period of the reply that followed it (this assistant's replies name their call).
    turns: list[list] = []
    for h in history or []:
        content = str(h.get("content") or "")
        if h.get("role") == "user" and content:
            turns.append([content, None])
        elif h.get("role") == "assistant" and turns and turns[-1][1] is None:
            turns[-1][1] = answered_period(content)
    if not turns:
        return headline(question)
    read = scope_of or partial(detect, catalog=catalog)
    standalone, answered = turns[0]
    base, topical = standalone, False  # what the last follow-up naming a topic was asked of
    for q, reply_period in [*turns[1:], [question, None]]:
        topic = _names_a_topic(q, standalone, read)
        if not (topic and topical):
            base = standalone
        standalone = _rewrite_one(q, base if topic else standalone, catalog, scope_of, answered)
        topical, answered = topic, reply_period
    return headline(standalone)

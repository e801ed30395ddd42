"""A part of the business the question names that the answer never mentions: "What revenue did
Cummins' Filtration business generate?" met by the company's total, "How much did Voyage AI contribute
to revenue?" by the company's revenue. Calls often name a segment, product or programme without a
figure of its own, and the nearest sentence is then the whole company's figure. Read as one signal of
the answerability model, which weighs it against everything else it knows (a rule refusing on it lost
more answerable questions than it saved). Only capitalised names are read: a part, product, region
or programme as people write it; the company, the people and firms on the call, periods, roles and
glossary measures are not parts."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.cues import CALENDAR_WORDS, PERIOD_WORDS, question_tokens
from rag.glossary import groups, mask
from rag.lexical import tokenize
from rag.types import Hit

# Periods and roles, which questions write in capitals ("Q1 FY26", "the Chief Financial Officer"), are
# who spoke or when, not what is asked about.
_NOT_PARTS = frozenset(tokenize("fy h1 h2 ceo cfo coo cto chief officer president chairman chairwoman director "
                                "board executive vice dr mr mrs ms"))
# Initials stand for a name of three words or more ("Affiliated Managers Group" is AMG): two-letter
# initials of two-word names (a speaker's) would collide with other names ("North America"). A part the
# question names is looked for by its initials from two words on ("Industrial Process" is "IP segment"
# on the call): there they only find the part, never stand for a company or a person.
_INITIALS_FROM = 3
_PART_INITIALS_FROM = 2
# "RentalsFY2021Q2", "哈雷2021年Pan America": a name runs into a period or a Chinese word with no space;
# split there, or the period or the Chinese text would be read as part of the name.
_JOINED = re.compile(r"(?<=[a-z])(?=FY\d)|(?<=[A-Za-z])(?=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff])(?=[A-Za-z])")

# A capitalised name in a question, as `rag.cues.NAME` reads one (not a sentence's first word, which is
# capitalised whatever it is), with two differences: digits inside a word belong to it, so "CET1" is
# masked as the measure it is instead of leaving a part called "CET" ("Trainium2" stays "trainium2"),
# and "X & Y" is one name ("Digital & Betting", "Measurement & Control Solutions"), not two parts each
# of which the answer must name, nor is "Cullen/Frost". A period ("Q3", "FY25Q4", "Q1FY26", "H1") ends a name.
_WORD = r"(?!(?:FY'?\d*|F?Q[1-4]|H[12])(?:Q[1-4]|FY'?\d+)?(?![A-Za-z0-9]))[A-Z][A-Za-z0-9&-]*(?:/[A-Z][A-Za-z0-9&-]*)*[A-Za-z0-9&-]"
_RUN = re.compile(r"(?<![.!?]\s)(?<!^)(?<![A-Za-z0-9'/])" + _WORD + r"(?:\s+(?:&\s+)?" + _WORD + ")*")


def _name_tokens(names: Iterable[str]) -> set[str]:
    """Every way a name's words are matched: stemmed tokens, plain lower-case words, and the initials
    of a name of `_INITIALS_FROM` words or more (a company called by its initials is still the company)."""
    out: set[str] = set()
    for s in filter(None, names):
        words = re.findall(r"[a-z]+", s.lower())
        out.update((s.lower(), *tokenize(s), *words))
        if len(words) >= _INITIALS_FROM:
            out.add("".join(w[0] for w in words))
    return out


def parts_named(question: str, skip: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """The tokens of each capitalised name in the question that is not the company (`skip`: its
    names), a period, a role or a glossary measure."""
    known = _name_tokens(skip)
    out = []
    for m in _RUN.finditer(_JOINED.sub(" ", question)):
        # Measures are masked in the name's own words first: "EPS" and "Free Cash Flow" are no parts
        # ("AI" in "Voyage AI" is set aside, "Voyage" stays).
        rest = CALENDAR_WORDS.sub(" ", PERIOD_WORDS.sub(" ", m.group(0).lower()))
        for g in groups(rest):
            rest = mask(rest, g[0])
        words = tuple(t for t in tokenize(rest) if t not in question_tokens() and t not in _NOT_PARTS and len(t) > 1
                      and not t.isdigit())  # "COVID-19": the 19 is no word of the name to find
        initials = _initials(re.findall(r"[A-Za-z]+", m.group(0)), words)
        if words and not set(words + initials) & known and not set(initials) & _NOT_PARTS:  # "Chief Financial Officer"
            out.append(words + initials)
    return tuple(out)


def _initials(capitals: list[str], words: tuple[str, ...]) -> tuple[str, ...]:
    """The initials a part is also matched by: of a long name ("Affiliated Managers Group" is AMG), or
    of two words that are both the part's ("Industrial Process" is IP; "Nova AI" is no "NA") and that
    are no role, period or measure themselves ("Mission Systems" is no "MS", "Advanced Imaging" no "AI")."""
    found = "".join(w[0] for w in capitals).lower()
    if len(capitals) >= _INITIALS_FROM:
        return (found,)
    if len(capitals) == len(words) >= _PART_INITIALS_FROM and found not in _NOT_PARTS and not groups(found):
        return (found,)
    return ()


def people_and_firms(hits: list[Hit]) -> set[str]:
    """Name tokens of the companies, speakers and analysts' firms on the passages: a question naming
    a person or the company in another form names no part."""
    names: list[str] = []
    for h in hits:
        m = h.chunk.meta
        if m:
            names += [m.company or "", m.ticker or "", *m.aliases]
        names += [sp.name or "" for sp in h.chunk.speakers] + [sp.firm or "" for sp in h.chunk.speakers]
        names += [h.chunk.analyst or "", h.chunk.analyst_firm or ""]
    return _name_tokens(names)


def part_missing(parts: tuple[tuple[str, ...], ...], context: set[str] | frozenset[str], known: set[str]) -> bool:
    """Some part (not a known name) has none of its words in `context`: the answer's sentence, the
    one before it and the analyst's question it answers."""
    return any(not set(words) & known and not any(t in context for t in words) for words in parts)

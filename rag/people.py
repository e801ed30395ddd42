"""Questions about who spoke on a call, answered from the speakers the transcripts name rather than
from a sentence's figures: which analyst asked about something ("Who asked about Azure capacity on
Microsoft's Q2 FY26 call?", 哪位分析师问了关于AI的问题？) and who holds an office ("Who is Microsoft's
CFO?", 微软的首席财务官是谁？). Before, such a question was read like any other and answered with
whatever sentence held the most of its words and a figure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.glossary import groups
from rag.ingest.meta import period_spans
from rag.lexical import STOPWORDS, tokenize
from rag.reader.features import read_passage
from rag.sentences import Sentence
from rag.types import Hit, Speaker

# "Who asked about ...", "which analysts raised ...", 哪位分析师问了…, 谁提问了….
_ASKING = r"(?:ask(?:s|ed|ing)?|rais(?:e|es|ed|ing)|question(?:s|ed)?|quer(?:y|ied)|press(?:es|ed)?|prob(?:e|es|ed)|brought\s+up)\b"
_ASKED = re.compile(
    rf"\bwho\b[^?]{{0,40}}?\b{_ASKING}|\b(?:which|what)\s+analysts?\b[^?]{{0,40}}?\b{_ASKING}|"
    r"(?:哪位|哪个|哪些|哪几位|谁)[^？?，,]{0,8}?(?:分析师|提问|问了|问到|询问|追问|问起)|"
    r"(?:分析师|提问者)[^？?]{0,4}(?:是谁|有哪些|有谁)", re.I)
# The words of the asking itself, left out of what it was asked about.
_ASKING_WORDS = re.compile(
    r"\b(?:who|which|what|analysts?|asked|ask|asks|asking|raised|raise|questions?|questioned|queried|pressed|"
    r"probed|brought|up|about|on|the|call|regarding|concerning|management|did|do|had|has)\b|"
    r"哪位|哪个|哪些|哪几位|谁|分析师|提问者?|提出|问了|问到|询问|追问|问起|关于|有关|的问题|问题|(?:电话会|财报会|业绩会)上?|在(?=[^，,。？?]{0,20}(?:电话会|财报会|业绩会))", re.I)

# Offices a question asks who holds: what it is called, and how a speaker's title says it.
_OFFICES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (re.compile(asked, re.I), re.compile(title, re.I)) for asked, title in (
        (r"\bCFO\b|chief financial officer|finance chief|首席财务官|财务总监|财务长",
         r"\bCFO\b|chief financial officer|首席财务官|财务总监"),
        (r"\bCEO\b|chief executive|首席执行官|(?<!副)总裁|行政总裁",
         r"\bCEO\b|chief executive|首席执行官|行政总裁"),
        (r"\bCOO\b|chief operating officer|首席运营官", r"\bCOO\b|chief operating officer|首席运营官"),
        (r"\bCTO\b|chief technology officer|首席技术官", r"\bCTO\b|chief technology officer|首席技术官"),
        (r"investor relations|\bIR\b|投资者关系", r"investor relations|\bIR\b|投资者关系"),
    ))
_TITLE_WORDS = re.compile(r"\b(?:chief|officer|CFO|CEO|COO|CTO|president|head of|vice president|treasurer|"
                          r"investor relations)\b|首席|财务官|执行官|总裁|投资者关系", re.I)
# Asking who holds it, not what they said: "Who is the CFO?", "Who's Snowflake's CEO?", "name of the
# CFO", 首席财务官是谁？.
_WHO_HOLDS = re.compile(r"^\W*who(?:\s+is|\s+was|\s+are|\s+were|'s|’s)\s|是谁|叫什么名字?|是哪位", re.I)
_SAID = re.compile(r"\b(?:say|said|says|mention\w*|expect\w*|think|thinks|thought|comment\w*|discuss\w*|explain\w*|"
                   r"describ\w*|answer\w*|respond\w*|guid\w*|announc\w*|report\w*)\b|说|表示|提到|认为|预计|回答|谈到|解释|宣布",
                   re.I)


def asks_who_asked(question: str) -> bool:
    return bool(_ASKED.search(question))


def asked_office(question: str) -> re.Pattern[str] | None:
    """How a speaker's title names the office a question asks who holds ("Who is the CFO?"); None when
    it asks no such thing (one asking what the CFO said is about what was said)."""
    if not _WHO_HOLDS.search(question) or _SAID.search(question) or asks_who_asked(question):
        return None
    return next((title for asked, title in _OFFICES if asked.search(question)), None)


def topic(question: str, names: set[str]) -> frozenset[str]:
    """The tokens of what a who-asked question is about: its words less the asking ("who asked about"),
    the company's names (`names`, lower-cased tokens) and periods; glossary terms bring their
    other-language phrasings ("capacity" also finds 产能)."""
    text = question
    for start, end, _ in reversed(period_spans(text)):
        text = text[:start] + " " + text[end:]
    text = _ASKING_WORDS.sub(" ", text)
    out = {t for t in tokenize(text) if t not in STOPWORDS and t not in names and not t.isdigit()}
    for g in groups(text):
        out |= {t for phrase in g for t in tokenize(phrase)}
    return frozenset(out - names)


@dataclass(frozen=True)
class Asker:
    hit: Hit
    sentence: Sentence  # the sentence of the analyst's question that holds most of the topic
    share: float  # of the topic's words the analyst's question holds


def askers(about: frozenset[str], hits: list[Hit], n: int = 3) -> list[Asker]:
    """The analysts whose questions (the Q&A passages' opening turns) hold most of `about`, best first,
    each once, and only those holding at least half as much as the best; none when no question holds
    any of it."""
    found: dict[str, Asker] = {}
    for h in hits:
        c = h.chunk
        # Only a passage opening with the analyst's question quotes it (a long exchange's later parts
        # carry the question as a field, not as their text).
        if not c.analyst or not c.question or not about or not c.text.startswith(c.question[:40]):
            continue
        asked = tokenize(c.question or "")
        share = len(about & set(asked)) / len(about)
        if share == 0 or (c.analyst in found and found[c.analyst].share >= share):
            continue
        found[c.analyst] = Asker(h, _asking_sentence(h, about), share)
    ranked = sorted(found.values(), key=lambda a: -a.share)  # stable: retrieval order breaks ties
    return [a for a in ranked if a.share >= ranked[0].share / 2][:n] if ranked else []


def _asking_sentence(hit: Hit, about: frozenset[str]) -> Sentence:
    """The sentence of the passage's opening question holding most of `about` (the first on a tie)."""
    c = hit.chunk
    sents, infos = read_passage(c.text, c.start)
    within = [(s, i) for s, i in zip(sents, infos) if s.start - c.start < len(c.question or "")]
    return max(within or list(zip(sents, infos)), key=lambda si: len(about & si[1].tokens))[0]


def holders(title: re.Pattern[str], hits: list[Hit]) -> list[tuple[Speaker, list[Hit]]]:
    """Speakers whose title names the office, each once, with the passages where they speak (theirs
    alone first: their opening sentences are their own)."""
    found: dict[str, tuple[Speaker, list[Hit]]] = {}
    for h in sorted(hits, key=lambda h: len(h.chunk.speakers)):
        for s in h.chunk.speakers:
            if s.name and s.title and title.search(s.title):
                found.setdefault(s.name, (s, []))[1].append(h)
    return list(found.values())


def introduced(speaker: Speaker, own: list[Hit], hits: list[Hit]) -> tuple[Hit, Sentence | None]:
    """Where the calls say who the speaker is: a sentence naming them (their family name as a word)
    beside an office ("...our Chief Financial Officer, Amy Hood"), else the opening sentence of a
    passage they speak alone, else a passage of theirs with no sentence to quote (one shared with
    others opens with someone else's words)."""
    last = (speaker.name or "").split()[-1:]
    named = re.compile(rf"(?<![\w-]){re.escape(last[0])}(?![\w-])") if last else None
    for h in hits:
        if named is not None and named.search(h.chunk.text):
            sents, _ = read_passage(h.chunk.text, h.chunk.start)
            for s in sents:
                if named.search(s.text) and _TITLE_WORDS.search(s.text):
                    return h, s
    for h in own:
        if [s.name for s in h.chunk.speakers] == [speaker.name]:
            sents, _ = read_passage(h.chunk.text, h.chunk.start)
            if sents:
                return h, sents[0]
    return own[0], None

"""Calls whose turns are marked by speaker labels in plain text, as most sites, word processors and
copy-pastes lay them out when no other reader knows the layout: a name on a line of its own ("Jane
Doe", "Jane Doe - Chief Financial Officer", "**Jane Doe:**", "JANE DOE:"), or a name that opens the
paragraph ("Jane Doe: Thank you, operator."). A label is believed when it is the operator, a person
the call's participant lists name, or a name labelled more than once that the text never writes in
lower case ("Net Sales:" is a field); a text is read this way only with a sign of a call (an
operator, a participant list, questions and answers). The Q&A opens at its heading, or at the
operator's first hand-over to a questioner. Tried after the layouts that announce themselves, and
before the ECTSum reader (a call printed to PDF keeps no blank lines)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache

from rag.ingest.layouts.fool import CHINESE as CUES  # its cues are the English ones and their Chinese
from rag.ingest.parsed import Parsed
from rag.ingest.roles import (
    NAME_SUFFIXES,
    Labelled,
    add_firms_from_handoffs,
    operators_of,
    role_from_title,
    roles_in_order,
    same_person,
    speaker,
    split_firm_title,
    written_as_name,
)
from rag.ingest.text import Line, lines
from rag.types import Speaker

_OPERATOR_WORDS = CUES.operators | {"Moderator", "Coordinator", "Conference Operator"}
# Emphasis and brackets around a label ("**Jane Doe:**", "<A - Jane Doe>"), a list's bullet ("• Jane Doe").
_MARKUP = re.compile(r"^(?:\*\*|__|\*|_|<|[•·▪●]\s*)+|(?:\*\*|__|\*|_|>)+$")
# "Jane Doe: text", "**Jane Doe:** text", "Jane Doe (CFO): text", "张三：text"; the label is checked below.
_INLINE = re.compile(r"^(?P<label>(?:\*\*|__|<)?[^\s:：*_][^:：\n]{0,79}?(?:\*\*|__|>)?)\s*[:：]\s*"
                     r"(?:\*\*|__)?[ \t]*(?=\S)")
_STAMP_LEAD = re.compile(r"^[\[(]?\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?[\])]?\s+(?=\S)")
_STAMP_TAIL = re.compile(r"\s*[\[(]?\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?[\])]?\s*$")
_NUMBERED = re.compile(r"(?:speaker|participant|caller|发言人)\s*\d{1,2}", re.I)  # automatic transcription
_CJK_NAME = re.compile(r"^[\u4e00-\u9fff]{2,4}$|^[\u4e00-\u9fff]{1,8}(?:[·•][\u4e00-\u9fff]{1,8})+$")
_QA_WORDS = (r"(?:questions?\s*(?:and|&)\s*answers?|question-and-answer|q\s*&\s*a)(?:\s+(?:session|section))?|"
             r"问答(?:环节|部分)?|提问环节")
_WHO = r"company|corporate|conference\s+call|call|executive|analyst|other"
_LIST = r"participants|executives|analysts"
_ZH_PEOPLE = r"参会人员|与会(?:者|人员)|出席人员"
_QA_HEADING = re.compile(rf"^(?:{_QA_WORDS})[:：]?$", re.I)
_PEOPLE_HEADING = re.compile(rf"^(?:(?P<who>{_WHO})?\s*(?P<list>{_LIST})|{_ZH_PEOPLE})[:：]?$", re.I)
# Headings end the turn before them and are no one's words.
_HEADING = re.compile(
    rf"^(?:{_QA_WORDS}|(?:{_WHO})?\s*(?:{_LIST})|{_ZH_PEOPLE}|prepared\s+remarks|presentation|"
    r"management\s+(?:remarks|discussion)(?:\s+section)?|opening\s+remarks|operator\s+instructions|transcript|"
    r"disclaimer|forward-looking\s+statements|管理层(?:发言|陈述))[:：]?$", re.I)
_END = re.compile(r"^(?:copyright|©|disclaimer|duration:|this (?:article|transcript) (?:is|was|may)|"
                  r"all earnings call transcripts|call participants:)", re.I)
# The operator opening the Q&A, in the words of the usual layouts and of conference-call services.
_OPENS_LINE = (r"|your line is (?:now )?open|operator instructions|please go ahead with your question|"
               r"(?:open|turn) the (?:call|line|floor) (?:over )?(?:for|to) questions")
_QA_CUE = re.compile(CUES.qa_cue.pattern + _OPENS_LINE, re.I)
_HANDOFF = re.compile(CUES.handoff.pattern + _OPENS_LINE, re.I)
_ASKS, _ANSWERS = {"q", "question", "问"}, {"a", "answer", "答"}  # press write-ups: "Q: ...", "A: ..."
_ASKED = re.compile(r"^(?P<qa>[QAqa])\s*[-–—]\s*(?P<name>\S.*)$")
_UNNAMED = re.compile(r"^(?:unidentified|unknown|unnamed)\b", re.I)
_SEPARATOR = re.compile(r"\s*--\s*|\s+[—–-]\s+|\s*—\s*")
MIN_LABELS = 4  # labelled turns a text needs before it is read this way (and a sign it is a call)
MIN_SPEAKERS = 2
SUMMARY_CHARS = 300  # text before the first turn longer than a title and a date: key figures, a summary


@dataclass(frozen=True)
class Label:
    name: str
    title: str | None
    content: int  # where the turn's own text starts: after an inline label, else the next line


@lru_cache(maxsize=1)  # detect, then parse, of the same text
def _reading(text: str) -> tuple[list[Line], dict[str, Speaker], tuple[dict[int, Label], dict[str, str]] | None]:
    """The body lines, the listed people and the believed labels of a text, read once for `detect`
    and `parse` (one after the other on the same text)."""
    body, listed = _people(lines(text))
    return body, listed, _believed(body, listed)


def detect(text: str) -> bool:
    return _reading(text)[2] is not None


def parse(text: str) -> Parsed:
    body, listed, found = _reading(text)
    p = Parsed(layout="labelled")
    if found is None:
        return p
    labels, names = found
    raw: list[Labelled] = []
    qa_at: int | None = None
    for i, ln in enumerate(body):
        s = ln.stripped
        if _END.match(s) and raw:
            break
        label = labels.get(i)
        if label is not None and label.name in names:
            raw.append((names[label.name], label.content, ln.end))
        elif _HEADING.match(_bare(s)):
            if _QA_HEADING.match(_bare(s)) and qa_at is None and raw:  # not a contents list above the call
                qa_at = ln.end
            if raw and raw[-1][0] is not None:
                raw.append((None, ln.end, ln.end))  # a heading ends the turn before it
        elif raw and s:
            n, s0, _ = raw[-1]
            raw[-1] = (n, s0, ln.end)
    people = _speakers(names, listed, labels)
    first = min((i for i, lb in labels.items() if lb.name in names), default=0)
    ahead = [ln for ln in body[:first] if not ln.blank and not _HEADING.match(_bare(ln.stripped))]
    if sum(len(ln.stripped) for ln in ahead) >= SUMMARY_CHARS:
        p.add(text, ahead[0].start, ahead[-1].end, speaker(None, "unknown"), "summary")
    operators = operators_of(text, raw, people, frozenset(n for n in names.values() if n in _OPERATOR_WORDS),
                             _HANDOFF)
    turns, qa_started = roles_in_order(text, [t for t in raw if t[1] < t[2]], people, operators, _QA_CUE, qa_at)
    for sp, section, s0, e0 in turns:
        p.add(text, s0, e0, sp, section)
    p.turns = add_firms_from_handoffs(p.turns)
    if not qa_started:
        p.warnings.append("no Q&A section found")
    return p


def _speakers(names: dict[str, str], listed: dict[str, Speaker], labels: dict[int, Label]) -> dict[str, Speaker]:
    """Who the believed names are, where the text says: a participant list, a title in the label
    ("Jane Doe - CFO"), "Q:"/"A:" labels, "Unidentified Analyst". The rest is read from the turns."""
    titles: dict[str, str] = {}
    for i in sorted(labels):
        if labels[i].title:
            titles.setdefault(labels[i].name, labels[i].title)
    out: dict[str, Speaker] = {}
    for key, written in names.items():
        if (sp := _listed(listed, key)) is not None and sp.role != "unknown":  # a bare name: read from the turns
            out[written] = sp
        elif key in _ASKS or key in _ANSWERS:
            out[written] = speaker(None, "analyst" if key in _ASKS else "executive")
        elif _UNNAMED.match(key):  # "Unknown Speaker": a role at most, no one's name
            out[written] = speaker(None, "analyst" if "analyst" in key else "unknown")
        elif key in titles:
            firm, title = split_firm_title(titles[key])
            if role_from_title(title) != "unknown":
                out[written] = speaker(written, role_from_title(title), title, firm)
    return out


def _bare(s: str) -> str:
    """A line without the markup around it ("**Jane Doe:**" -> "Jane Doe:")."""
    return _MARKUP.sub("", s.strip()).strip()


def _label(ln: Line, nxt: Line | None) -> Label | None:
    """The speaker label a line holds, if it can be one: the whole line, or a name before a colon.
    A recording's time stamp before or after the label ("[00:01:23] Jane Doe:", "Jane Doe  0:03")
    is no part of it."""
    said = ln.text.lstrip()
    lead = len(ln.text) - len(said)
    stamp = _STAMP_LEAD.match(said)
    if stamp:
        lead, said = lead + stamp.end(), said[stamp.end():]
    head = _STAMP_TAIL.sub("", said.rstrip())
    s = _bare(head)
    if not s or _HEADING.match(s):
        return None
    m = _INLINE.match(head)
    if m and head[m.end():].strip():
        name, title = _split(_bare(m.group("label")))
        return Label(name, title, ln.start + lead + m.end()) if name else None
    if len(s) > 90 or s.endswith((",", ";", "?", "!")) or nxt is None or (s.endswith(".") and len(s.split()[-1]) > 3):
        return None
    name, title = _split(s.rstrip(":：").strip())
    return Label(name, title, nxt.start) if name else None


def _split(label: str) -> tuple[str | None, str | None]:
    """(name, title) of "Jane Doe - CFO", "Jane Doe (CFO)", "Jane Doe, Chief Financial Officer",
    "Jane Doe"; (None, None) when the name part is not written as a person's name or the operator."""
    name, title = label, None
    asked = _ASKED.match(label)  # Bloomberg's "Q - Sam Park" (an analyst asks), "A - Jane Doe"
    if asked and _is_name(asked.group("name")):
        return asked.group("name"), ("Analyst" if asked.group("qa") in "Qq" else None)
    m = re.match(r"^(?P<name>[^()（）]+?)\s*[(（](?P<title>[^()（）]+)[)）]$", label)
    if m and (len(m.group("title")) > 12 or role_from_title(m.group("title")) != "unknown"):  # not a nickname
        name, title = m.group("name"), m.group("title")
    else:
        # The first separator parts the name ("Keith Weiss--Morgan Stanley -- Analyst").
        m = _SEPARATOR.search(label)
        if m:
            name, title = label[:m.start()], label[m.end():]
        else:
            head, _, rest = label.partition(", ")
            if rest and rest.lower().rstrip(".") not in NAME_SUFFIXES and role_from_title(rest) != "unknown":
                name, title = head, rest
    name = name.strip()
    if title and role_from_title(name) != "unknown" and role_from_title(title) == "unknown" and _is_name(title.strip()):
        name, title = title.strip(), name  # a list that puts the title first: "Chief Financial Officer — Amy Hood"
    # A nickname inside the name ("Aaron (A.J.) Nahmad", 'John "Jack" Doe') is part of it.
    plain = re.sub(r"\s*(?:\([^()]{1,12}\)|[\u0022“][^\u0022“”]{1,12}[\u0022”])\s*", " ", name).strip()
    return (name, title.strip() if title else None) if plain and _is_name(plain) else (None, None)


def _is_name(name: str) -> bool:
    """Written as a person's name ("Jane Doe", "J. P. de la Cruz Jr.", "O'Brien", "张三", "迈克·斯卡佩利")
    or the operator's."""
    if (name in _OPERATOR_WORDS or name.title() in _OPERATOR_WORDS or _CJK_NAME.match(name)
            or name.lower() in _ASKS | _ANSWERS or _NUMBERED.fullmatch(name)):
        return True
    return written_as_name(name)


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _people(ls: list[Line]) -> tuple[list[Line], dict[str, Speaker]]:
    """The lines outside participant lists, and the people those lists name (by `_key` of the name).
    A list runs from its heading over short entries; it ends at the first entry followed by a long
    line (that entry labels the call's first turn) or at a line that is no entry."""
    listed: dict[str, Speaker] = {}
    body: list[Line] = []
    i = 0
    while i < len(ls):
        m = _PEOPLE_HEADING.match(_bare(ls[i].stripped))
        if not m:
            body.append(ls[i])
            i += 1
            continue
        who = (m.group("who") or m.group("list") or "").lower()
        default = "analyst" if who.startswith(("conference", "analyst", "other")) else "executive" \
            if who.startswith(("company", "corporate", "executive")) else None
        i += 1
        while i < len(ls):
            ln = ls[i]
            if ln.blank:
                i += 1
                continue
            s = _bare(ln.stripped)
            j = i + 1
            while j < len(ls) and ls[j].blank:
                j += 1
            nxt = ls[j] if j < len(ls) else None
            name, title = _split(s.rstrip(":："))
            if not name or name in _OPERATOR_WORDS or _PEOPLE_HEADING.match(s) or (nxt and len(nxt.stripped) > 120):
                break
            firm, title = split_firm_title(title) if title else (None, None)
            role = role_from_title(title) if title else "unknown"
            role = default if role == "unknown" and default else role
            listed[_key(name)] = speaker(name, role, title, firm)
            i += 1
    return body, listed


def _believed(body: list[Line], listed: dict[str, Speaker]) -> tuple[dict[int, Label], dict[str, str]] | None:
    """Each body line's label (by index), and the believed names (by `_key`, to the name as written
    first), or None when too few labels are believed for this to be a call laid out by speaker."""
    nonblank = [i for i, ln in enumerate(body) if not ln.blank]
    labels: dict[int, Label] = {}
    for k, i in enumerate(nonblank):
        nxt = body[nonblank[k + 1]] if k + 1 < len(nonblank) else None
        label = _label(body[i], nxt)
        if label is not None:
            labels[i] = label
    counts = Counter(_key(lb.name) for lb in labels.values())
    written: dict[str, str] = {}
    for lb in labels.values():
        written.setdefault(_key(lb.name), _written(lb.name))
    lowered = _lower_case_words(body, {w for key in counts for w in key.split() if w.isascii() and w.isalpha()})
    names: dict[str, str] = {}
    for key, n in counts.items():
        # One word labelled twice may be a field ("Note:", "Revenue:"); a person's name is seen thrice.
        # A name the text also writes in lower case is a field ("Net Sales:" beside "net sales").
        needed = 2 if _full(key) or key in _ASKS | _ANSWERS else 3
        field = key in lowered and key not in _ASKS | _ANSWERS
        if written[key] in _OPERATOR_WORDS or _listed(listed, key) or (n >= needed and not field):
            names[key] = written[key]
    labels = {i: replace(lb, name=_key(lb.name)) for i, lb in labels.items()}
    used = sum(1 for lb in labels.values() if lb.name in names)
    if used < MIN_LABELS or len(names) < MIN_SPEAKERS or not _a_call(body, names, listed):
        return None
    # Laid out by speaker, then: someone who speaks once ("Michael Doe: Thank you and good morning")
    # is a speaker too, when labelled with a full name after the call has begun (before it, a line of
    # its own is the document's title).
    first = min(i for i, lb in labels.items() if lb.name in names)
    once = {lb.name for i, lb in labels.items() if i > first}
    names.update({key: written[key] for key in counts if _full(key) and key in once and key not in names
                  and key not in lowered})
    return labels, names


def _lower_case_words(body: list[Line], label_words: set[str]) -> set[str]:
    """The runs of one to three words written in lower case that open with a word of a label, for
    telling fields from names (only those: a long text holds millions of runs)."""
    if not label_words:
        return set()
    opening = "|".join(re.escape(w) for w in sorted(label_words, key=len, reverse=True))
    runs = re.compile(rf"(?<![\w'’-])(?:{opening})(?![\w'’-])(?:[ \t]+[a-z][a-z'’-]*){{0,2}}")
    out: set[str] = set()
    for m in runs.finditer("\n".join(ln.text for ln in body)):
        words = m.group(0).split()
        out.update(" ".join(words[:n]) for n in range(1, len(words) + 1))
    return out


def _a_call(body: list[Line], names: dict[str, str], listed: dict[str, Speaker]) -> bool:
    """Whether the labelled text is a call or an interview, not a sheet of fields: an operator, a
    participant list, question-and-answer labels or a heading, numbered speakers, or the operator's
    words handing over to a questioner."""
    if listed or any(n in _OPERATOR_WORDS or _NUMBERED.fullmatch(n) for n in names.values()):
        return True
    if any(key in _ASKS | _ANSWERS for key in names):
        return True
    return any(_QA_HEADING.match(_bare(ln.stripped)) or _QA_CUE.search(ln.text) for ln in body)


def _full(key: str) -> bool:
    """A full name ("jane doe", "张伟"), not one word that might be a field's ("note", "revenue")."""
    return " " in key or bool(_CJK_NAME.match(key))


def _listed(listed: dict[str, Speaker], key: str) -> Speaker | None:
    """The listed person a label names: "Doug Lindsay" is listed as "Douglas A. Lindsay"."""
    return listed.get(key) or next((sp for k, sp in listed.items() if same_person(k, key)), None)


def _written(name: str) -> str:
    """A name as shown: one in capitals ("JANE DOE") written as names are ("Jane Doe")."""
    if name.isupper() and len(name) > 3:
        return " ".join(w.capitalize() if len(w) > 2 or "." not in w else w for w in name.split())
    return name.title() if name.title() in _OPERATOR_WORDS else name

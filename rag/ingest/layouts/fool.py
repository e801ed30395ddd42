"""Motley Fool transcripts: the `=====` header, then either the older layout (`Name--Title` speaker
lines under `Prepared Remarks:` / `Questions & Answers:`) or the newer one (key-figure bullets,
takeaways and glossary, then `Full Conference Call Transcript` with `Name:Text` speakers inline)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.companies import aliases_for
from rag.ingest.meta import find_date, normalize_period
from rag.ingest.parsed import Parsed
from rag.ingest.roles import (
    add_firms_from_handoffs,
    operators_of,
    role_from_title,
    roles_in_order,
    speaker,
    split_firm_title,
)
from rag.ingest.text import Line, has_cjk, lines
from rag.types import Speaker

_RULE = re.compile(r"^={10,}\s*$")
_HEADER_FIELD = re.compile(r"^(?P<key>[A-Za-z ]+):\s*(?P<value>.*)$")
_END_MARKERS = re.compile(
    r"^(Duration:|Call participants:|This article is a transcript|More [A-Z]+ analysis|All earnings call transcripts)",
    re.I,
)
# "Keith Weiss--Morgan Stanley -- Analyst", "Amy Hood -- Chief Financial Officer"
_SPEAKER_LINE = re.compile(r"^(?P<name>[A-Z][^\n]{1,60}?)\s*--\s*(?P<title>\S[^\n]{0,120})$")
_INLINE_SPEAKER = re.compile(r"^(?P<name>[A-Z][\w.'’\-]*(?:\s[A-Z][\w.'’\-]*){0,4}):(?P<gap>\s?)")
_HANDOFF_EN = re.compile(r"(next|first|last) question|question comes from|no further questions", re.I)
# "Chief Financial Officer — Amy Hood" (translations: "首席财务官 - 艾米·胡德")
_PARTICIPANT = re.compile(r"^(?P<title>[^—]{2,80}?)\s+[—\-–]\s+(?P<name>[A-Z\u4e00-\u9fff][\w.'’·\- ]{1,60})$")
_QA_CUE = re.compile(
    r"first question|next question|question-and-answer|question and answer|questions? (?:from|comes)|"
    r"open (?:it|the call|the line)s? (?:up )?(?:for|to) questions",
    re.I,
)


def detect(text: str) -> bool:
    head = text[:3000]
    return bool(re.search(r"^={10,}\s*$", head, re.M)) and "Ticker:" in head


def _header(text: str) -> tuple[dict[str, str], int]:
    """Fields of the `=====` block and the offset just after it."""
    ls = lines(text, 0, min(len(text), 5000))
    rules = [i for i, ln in enumerate(ls) if _RULE.match(ln.text)]
    fields: dict[str, str] = {}
    if len(rules) < 2:
        return fields, 0
    for ln in ls[rules[0] + 1 : rules[1]]:
        m = _HEADER_FIELD.match(ln.text.strip())
        if m:
            fields[m.group("key").strip().lower()] = m.group("value").strip()
    return fields, ls[rules[1]].end


def _meta(fields: dict[str, str], title_text: str) -> dict[str, object]:
    header: dict[str, object] = {}
    company = fields.get("company", "")
    m = re.match(r"^(?P<name>[^(]+?)\s*(?:\((?P<alias>[^)]*)\))?$", company)
    if m:
        header["company"] = m.group("name").strip()
        alias = (m.group("alias") or "").strip()
        header["aliases"] = aliases_for(fields.get("ticker"), m.group("name"), alias)
    if fields.get("ticker"):
        header["ticker"] = fields["ticker"].strip().upper()
    if fields.get("quarter"):
        header["period"] = normalize_period(fields["quarter"])
    date = find_date(title_text)
    if date:
        header["call_date"] = date
    return header


def _end_of_body(ls: list[Line], start_idx: int, markers: re.Pattern[str] = _END_MARKERS) -> int:
    for ln in ls[start_idx:]:
        if markers.match(ln.stripped):
            return ln.start
    return ls[-1].end if ls else 0


def _participants(text: str, ls: list[Line]) -> dict[str, Speaker]:
    """Roles from the closing `Call participants:` list of the older layout."""
    out: dict[str, Speaker] = {}
    idx = next((i for i, ln in enumerate(ls) if ln.stripped.lower() == "call participants:"), None)
    if idx is None:
        return out
    for ln in ls[idx + 1 :]:
        m = _SPEAKER_LINE.match(ln.stripped)
        if m:
            name = m.group("name").strip()
            firm, title = split_firm_title(m.group("title"))
            out[name] = speaker(name, role_from_title(title), title, firm)
        elif ln.stripped and not ln.blank and len(out) > 0 and "--" not in ln.stripped:
            break
    return out


def parse(text: str) -> Parsed:
    fields, after = _header(text)
    ls = lines(text)
    body_lines = [ln for ln in ls if ln.start >= after]
    title_text = " ".join(ln.stripped for ln in body_lines[:6])
    full_idx = [i for i, ln in enumerate(ls) if ENGLISH.marker.match(ln.stripped)]
    if full_idx:
        parsed = _parse_new(text, ls, after, full_idx[-1])
        parsed.header = _meta(fields, title_text)
    else:
        parsed = _parse_old(text, ls, after)
        parsed.header = _meta(fields, title_text)
    parsed.turns = add_firms_from_handoffs(parsed.turns)
    return parsed


def _parse_old(text: str, ls: list[Line], after: int) -> Parsed:
    p = Parsed(layout="fool")
    participants = _participants(text, ls)
    starts = [i for i, ln in enumerate(ls) if ln.start >= after and ln.stripped.lower() == "prepared remarks:"]
    if not starts:
        p.warnings.append("no 'Prepared Remarks:' line; reading from the end of the header")
    first = starts[0] + 1 if starts else next(i for i, ln in enumerate(ls) if ln.start >= after)
    end = _end_of_body(ls, first)
    section = "prepared"
    current: Speaker | None = None
    span: list[int] | None = None  # [start, end] of the current turn's content

    def flush() -> None:
        if current is not None and span is not None:
            p.add(text, span[0], span[1], current, section)

    for ln in ls[first:]:
        if ln.start >= end:
            break
        s = ln.stripped
        if not s:
            continue
        if s.lower() in ("questions & answers:", "questions and answers:"):
            flush()
            current, span, section = None, None, "qa"
            continue
        who = _speaker_of_line(s, participants)
        if who is not None:
            flush()
            current, span = who, None
            continue
        if current is None:
            current = speaker(None, "unknown")
        span = [ln.start, ln.end] if span is None else [span[0], ln.end]
    flush()
    if not any(t.section == "qa" for t in p.turns):
        p.warnings.append("no Q&A section found")
    return p


def _speaker_of_line(s: str, participants: dict[str, Speaker]) -> Speaker | None:
    """The speaker a standalone line announces, or None when it is content."""
    if s == "Operator":
        return speaker("Operator", "operator", "Operator")
    if s in participants:
        return participants[s]
    m = _SPEAKER_LINE.match(s)
    if not m or s.endswith((".", "?", "!", ",")):
        return None
    name = m.group("name").strip()
    if len(name.split()) > 6:
        return None
    if name in participants:
        return participants[name]
    firm, title = split_firm_title(m.group("title"))
    role = role_from_title(title)
    if role == "unknown" and len(m.group("title").split()) > 8:
        return None  # a sentence with a dash in it, not a speaker line
    # The transcribers write "Unknown speaker" when they could not tell who spoke.
    return speaker(None if name.lower() == "unknown speaker" else name, role, title, firm)


@dataclass(frozen=True)
class Vocab:
    """The words a Fool-style call is laid out with, in English or in a Chinese translation of it."""

    layout: str
    marker: re.Pattern[str]  # the line that opens the transcript proper
    participants: re.Pattern[str]  # the heading of the participant list
    inline: re.Pattern[str]  # "Name: text" at a line start
    operators: frozenset[str]
    qa_cue: re.Pattern[str]
    end: re.Pattern[str]
    handoff: re.Pattern[str]  # an operator's turn that hands over to the next questioner
    skip: re.Pattern[str] | None = None  # translation residue lines that carry no content
    # A translation leaves some originals in place: an English line right after a Chinese one.
    drops_untranslated: bool = False


ENGLISH = Vocab(
    layout="fool-new",
    marker=re.compile(r"^full conference call transcript$", re.I),
    participants=re.compile(r"^call participants:?$", re.I),
    inline=_INLINE_SPEAKER,
    operators=frozenset({"Operator"}),
    qa_cue=_QA_CUE,
    end=_END_MARKERS,
    handoff=_HANDOFF_EN,
)
# Machine translations keep Latin names or transliterate them ("迈克·斯卡佩利"), and use a full-width colon.
CHINESE = Vocab(
    layout="fool-zh",
    marker=re.compile(r"^(?:完整的?电话会议(?:记录|文字稿|实录)|电话会议(?:全文|完整记录)|Full Conference Call Transcript)$", re.I),
    participants=re.compile(r"^(?:呼叫|电话会议|通话|会议|致电)?参与者[:：]?$|^call participants:?$", re.I),
    inline=re.compile(
        r"^(?P<name>[\u4e00-\u9fff]{1,8}(?:[·•][\u4e00-\u9fff]{1,8})+|操作员|接线员|主持人|会议主持人|"
        r"[A-Z][\w.'’\-]*(?:\s[A-Z][\w.'’\-]*){0,4})\s*[:：](?P<gap>\s?)"
    ),
    operators=frozenset({"Operator", "操作员", "接线员", "主持人", "会议主持人"}),
    qa_cue=re.compile(_QA_CUE.pattern + r"|第一个问题|下一个问题|最后一个问题|问答环节|提问环节|问题来自", re.I),
    end=re.compile(_END_MARKERS.pattern + r"|^本文是为|^本文字记录|^提及的股票|^持续时间[:：]", re.I),
    handoff=re.compile(_HANDOFF_EN.pattern + r"|第一个问题|下一个问题|最后一个问题|问题来自|没有更多(?:的)?问题", re.I),
    skip=re.compile(r"^原文[:：]?\s*$"),
    drops_untranslated=True,
)


def detect_translation(text: str) -> bool:
    """A Chinese translation of a newer-layout Fool call: its transcript marker and participant list."""
    if not has_cjk(text[:3000]):
        return False
    ls = [ln.stripped for ln in lines(text)]
    return any(CHINESE.marker.match(s) for s in ls) and any(CHINESE.participants.match(s) for s in ls[:200])


def parse_translation(text: str) -> Parsed:
    ls = lines(text)
    full_idx = [i for i, ln in enumerate(ls) if CHINESE.marker.match(ln.stripped)]
    parsed = _parse_new(text, ls, 0, full_idx[-1], CHINESE)
    parsed.turns = add_firms_from_handoffs(parsed.turns)
    return parsed


def _parse_new(text: str, ls: list[Line], after: int, full_idx: int, vocab: Vocab = ENGLISH) -> Parsed:
    p = Parsed(layout=vocab.layout)
    execs: dict[str, Speaker] = {}
    # Summary: everything between the header and the transcript marker, minus the participant lines.
    summary_start: int | None = None
    summary_end = ls[full_idx].start
    in_participants = seen_participants = False
    for ln in ls:
        if ln.start < after or ln.start >= summary_end or ln.blank:
            continue
        s = ln.stripped
        if vocab.participants.match(s):
            in_participants = seen_participants = True
            continue
        m = _PARTICIPANT.match(s)
        if in_participants and (m or s in vocab.operators):
            if m:
                execs[m.group("name").strip()] = speaker(m.group("name").strip(), "executive", m.group("title").strip())
            continue
        in_participants = False
        if find_date(s) and len(s) < 60 and summary_start is None and not seen_participants:
            # The call's date line, above the participant list; a dated line below it is the summary's
            # ("产品收入——截至2025年7月31日的财政第二季度产品收入为10.9亿美元").
            continue
        if summary_start is None:
            summary_start = ln.start
    if summary_start is not None:
        p.add(text, summary_start, summary_end, speaker(None, "unknown"), "summary")

    body_start = ls[full_idx].end
    end = _end_of_body(ls, full_idx + 1, vocab.end)
    raw: list[tuple[str | None, int, int]] = []  # (name, content start, content end)
    prev = ""
    for ln in ls[full_idx + 1 :]:
        if ln.start >= end:
            break
        s = ln.stripped
        if not s or vocab.marker.match(s) or (vocab.skip is not None and vocab.skip.match(s)):
            continue
        if vocab.drops_untranslated and _is_residue(s, prev):
            continue
        prev = s
        m = vocab.inline.match(ln.text.lstrip())
        name = m.group("name") if m else None
        if m and not (name in execs or name in vocab.operators or m.group("gap") == ""
                      or len(name.split()) >= 2 or not name.isascii()):
            name = None
        if name is not None and m is not None:
            lead = len(ln.text) - len(ln.text.lstrip())
            raw.append((name, ln.start + lead + m.end(), ln.end))
        elif raw:
            n, s0, _ = raw[-1]
            raw[-1] = (n, s0, ln.end)
        else:
            raw.append((None, max(ln.start, body_start), ln.end))

    operators = operators_of(text, raw, execs, vocab.operators, vocab.handoff)
    turns, qa_started = roles_in_order(text, raw, execs, operators, vocab.qa_cue)
    for sp, section, s0, e0 in turns:
        p.add(text, s0, e0, sp, section)
    if not qa_started:
        p.warnings.append("no Q&A section found")
    return p


def _is_residue(line: str, prev: str) -> bool:
    """An English line right after a Chinese one in a translation: the original the translator
    repeated (its translation is the line before), not more of the call."""
    return len(line) >= 20 and not has_cjk(line) and has_cjk(prev)

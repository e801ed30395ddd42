"""Motley Fool transcripts: the `=====` header, then either the older layout (`Name--Title` speaker
lines under `Prepared Remarks:` / `Questions & Answers:`) or the newer one (key-figure bullets,
takeaways and glossary, then `Full Conference Call Transcript` with `Name:Text` speakers inline)."""

from __future__ import annotations

import re

from rag.companies import aliases_for
from rag.ingest.meta import find_date, normalize_period
from rag.ingest.parsed import Parsed
from rag.ingest.roles import add_firms_from_handoffs, role_from_title, speaker, split_firm_title
from rag.ingest.text import Line, lines
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


def _end_of_body(ls: list[Line], start_idx: int) -> int:
    for ln in ls[start_idx:]:
        if _END_MARKERS.match(ln.stripped):
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
    full_idx = [i for i, ln in enumerate(ls) if ln.stripped.lower() == "full conference call transcript"]
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


def _parse_new(text: str, ls: list[Line], after: int, full_idx: int) -> Parsed:
    p = Parsed(layout="fool-new")
    execs: dict[str, Speaker] = {}
    # Summary: everything between the header and the transcript marker, minus the participant lines.
    summary_start: int | None = None
    summary_end = ls[full_idx].start
    in_participants = False
    for ln in ls:
        if ln.start < after or ln.start >= summary_end or ln.blank:
            continue
        s = ln.stripped
        if s.lower() == "call participants":
            in_participants = True
            continue
        m = re.match(r"^(?P<title>[^—]{3,80}?)\s+—\s+(?P<name>[A-Z][\w.'’\- ]{2,60})$", s)
        if in_participants and m:
            execs[m.group("name").strip()] = speaker(m.group("name").strip(), "executive", m.group("title").strip())
            continue
        in_participants = False
        if find_date(s) and len(s) < 60 and summary_start is None:
            continue  # the call's date line
        if summary_start is None:
            summary_start = ln.start
    if summary_start is not None:
        p.add(text, summary_start, summary_end, speaker(None, "unknown"), "summary")

    body_start = ls[full_idx].end
    end = _end_of_body(ls, full_idx + 1)
    raw: list[tuple[str | None, int, int]] = []  # (name, content start, content end)
    for ln in ls[full_idx + 1 :]:
        if ln.start >= end:
            break
        s = ln.stripped
        if not s or s.lower() == "full conference call transcript":
            continue
        m = _INLINE_SPEAKER.match(ln.text.lstrip())
        name = m.group("name") if m else None
        if m and not (name in execs or name == "Operator" or m.group("gap") == "" or len(name.split()) >= 2):
            name = None
        if name is not None and m is not None:
            lead = len(ln.text) - len(ln.text.lstrip())
            raw.append((name, ln.start + lead + m.end(), ln.end))
        elif raw:
            n, s0, _ = raw[-1]
            raw[-1] = (n, s0, ln.end)
        else:
            raw.append((None, max(ln.start, body_start), ln.end))

    operators = {n for n, s0, e0 in raw if n == "Operator" or (n not in execs and n and _handoff_like(text[s0:e0]))}
    qa_started = False
    seen_exec = False
    for name, s0, e0 in raw:
        content = text[s0:e0]
        if name in operators:
            sp = speaker(name, "operator", "Operator")
            if seen_exec and _QA_CUE.search(content):
                qa_started = True
        elif name in execs:
            sp, seen_exec = execs[name], True
        elif name is None:
            sp = speaker(None, "unknown")
        elif qa_started:
            sp = speaker(name, "analyst")
        else:
            # Non-listed speakers before Q&A present prepared remarks for the company (IR, presidents).
            sp, seen_exec = speaker(name, "executive"), True
        p.add(text, s0, e0, sp, "qa" if qa_started else "prepared")
    if not qa_started:
        p.warnings.append("no Q&A section found")
    return p


def _handoff_like(content: str) -> bool:
    return bool(re.search(r"(next|first|last) question|question comes from|no further questions", content, re.I))

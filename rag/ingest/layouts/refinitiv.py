"""Refinitiv / Thomson StreetEvents layout: participant lists, PRESENTATION, QUESTIONS AND ANSWERS,
each turn a name line, an affiliation line `Company - Title` (may wrap), then hard-wrapped text."""

from __future__ import annotations

import re

from rag.companies import aliases_for
from rag.ingest.meta import normalize_period
from rag.ingest.parsed import Parsed
from rag.ingest.roles import add_firms_from_handoffs, role_from_title, speaker, split_firm_title
from rag.ingest.text import Line, lines
from rag.types import Speaker

_HEADINGS = {
    "CORPORATE PARTICIPANTS": "corporate",
    "CONFERENCE CALL PARTICIPANTS": "analysts",
    "PRESENTATION": "prepared",
    "QUESTIONS AND ANSWERS": "qa",
    "DISCLAIMER": "end",
}
_NAME_LINE = re.compile(r"^[A-Z][\w.'’\-]*(?:\s+[A-Z][\w.'’\-]*\.?){0,5}$")


def detect(text: str) -> bool:
    head = text[:20000]
    return "PRESENTATION" in head and bool(re.search(r"^(CORPORATE PARTICIPANTS|CONFERENCE CALL PARTICIPANTS)\s*$", head, re.M))


def _blocks(ls: list[Line]) -> list[list[Line]]:
    """Runs of non-blank lines (the files separate turns with lines holding a single space). Text with
    no blank line at all (read out of a PDF, which keeps no empty lines) is parted where a turn opens
    instead: at "Operator", or at a name line followed by an affiliation line ("Equinix, Inc. - CFO")."""
    blankless = not any(ln.blank for ln in ls)
    out: list[list[Line]] = []
    cur: list[Line] = []
    for i, ln in enumerate(ls):
        opens = blankless and cur and (ln.stripped == "Operator" or (
            _NAME_LINE.match(ln.stripped) and i + 1 < len(ls) and " - " in ls[i + 1].text and " - " not in ln.text))
        if ln.blank or opens:
            if cur:
                out.append(cur)
            cur = [] if ln.blank else [ln]
        else:
            cur.append(ln)
    if cur:
        out.append(cur)
    return out


def _sections(ls: list[Line]) -> dict[str, tuple[int, int]]:
    """Line-index ranges of each heading's section."""
    marks = [(i, _HEADINGS[ln.stripped]) for i, ln in enumerate(ls) if ln.stripped in _HEADINGS]
    out: dict[str, tuple[int, int]] = {}
    for k, (i, name) in enumerate(marks):
        end = marks[k + 1][0] if k + 1 < len(marks) else len(ls)
        out.setdefault(name, (i + 1, end))
    return out


def _participants(
    ls: list[Line], rng: tuple[int, int] | None, role: str, affiliations: dict[str, str]
) -> dict[str, Speaker]:
    """Speakers of a participant list; `affiliations` collects each one's affiliation as written."""
    out: dict[str, Speaker] = {}
    if rng is None:
        return out
    for block in _blocks(ls[rng[0] : rng[1]]):
        name = block[0].stripped
        affiliation = " ".join(ln.stripped for ln in block[1:])
        firm, title = split_firm_title(affiliation) if affiliation else (None, None)
        r = role if role == "analyst" else (role_from_title(title) if role_from_title(title) != "unknown" else role)
        out[name] = speaker(name, r, title, firm)
        affiliations[name] = affiliation
    return out


def parse(text: str) -> Parsed:
    p = Parsed(layout="refinitiv")
    ls = lines(text)
    sec = _sections(ls)
    affiliations: dict[str, str] = {}
    people = _participants(ls, sec.get("corporate"), "executive", affiliations)
    people.update(_participants(ls, sec.get("analysts"), "analyst", affiliations))
    firms = [s.firm for s in people.values() if s.role == "executive" and s.firm]
    if firms:
        company = max(set(firms), key=firms.count)
        p.header["company"] = re.sub(r",?\s+(Inc|Corp|Corporation|Ltd|LLC|plc|N\.V\.)\.?$", "", company)
        p.header["aliases"] = aliases_for(None, p.header["company"], company)
    for section in ("prepared", "qa"):
        rng = sec.get(section)
        if rng is None:
            p.warnings.append(f"no {'PRESENTATION' if section == 'prepared' else 'QUESTIONS AND ANSWERS'} section")
            continue
        _parse_turns(p, text, ls[rng[0] : rng[1]], people, affiliations, section)
    intro = " ".join(t.text for t in p.turns[:3])
    period = normalize_period(intro[:3000])
    if period:
        p.header["period"] = period
    p.turns = add_firms_from_handoffs(p.turns)
    return p


def _parse_turns(
    p: Parsed, text: str, ls: list[Line], people: dict[str, Speaker], affiliations: dict[str, str], section: str
) -> None:
    for block in _blocks(ls):
        who, body = _speaker_of_block(block, people, affiliations)
        if who is None:
            # A blank line inside a turn: the block continues the previous speaker.
            if p.turns and p.turns[-1].section == section:
                last = p.turns.pop()
                p.add(text, last.start, block[-1].end, last.speaker, section)
            else:
                p.add(text, block[0].start, block[-1].end, speaker(None, "unknown"), section)
            continue
        if body:
            p.add(text, body[0].start, body[-1].end, who, section)


def _speaker_of_block(
    block: list[Line], people: dict[str, Speaker], affiliations: dict[str, str]
) -> tuple[Speaker | None, list[Line]]:
    first = block[0].stripped
    if first == "Operator":
        return speaker("Operator", "operator", "Operator"), block[1:]
    known = people.get(first)
    if known is None and not (_NAME_LINE.match(first) and len(block) > 1 and " - " in block[1].text):
        return None, block
    # Consume the affiliation, which can wrap onto a second line.
    rest = block[1:]
    affiliation = ""
    target = affiliations.get(first) or None
    while rest and " - " in (affiliation + " " + rest[0].stripped) and len(rest[0].stripped) < 160:
        candidate = (affiliation + " " + rest[0].stripped).strip()
        if target and not target.startswith(candidate):
            break
        affiliation = candidate
        rest = rest[1:]
        if target is None or affiliation == target:
            break
    if known is not None:
        return known, rest
    firm, title = split_firm_title(affiliation)
    return speaker(first, role_from_title(title), title, firm), rest

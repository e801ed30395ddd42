"""Structured JSON calls: `{"prepared_remarks": [{"speaker", "speech"}], "q_and_a": [...],
"participants": ["Name--Title", ...]}` (the Motley Fool dataset's `TICKER_qN_YYYY.txt` files).

Turns point into the file's own text, inside its JSON strings, so `/documents/{id}` serves the file as
given and every citation slices it back exactly. The JSON escapes inside a span (`\\n` between
paragraphs, `\\"`, `\\u2019`) are read as the characters they stand for wherever text is embedded,
tokenized, split into sentences or shown in an answer (`rag.ingest.text.unescape`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from json.decoder import scanstring
from typing import Any, NamedTuple

from rag.ingest.opening import from_opening
from rag.ingest.parsed import Parsed
from rag.ingest.roles import (
    add_firms_from_handoffs,
    handoff_target,
    role_from_title,
    same_person,
    speaker,
    split_firm_title,
)
from rag.ingest.text import trim_breaks, unescape
from rag.types import Speaker

SECTIONS = (("prepared_remarks", "prepared"), ("q_and_a", "qa"))
_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")
class Str(NamedTuple):
    """A JSON string value: its text, and where its content lies in the file (between the quotes)."""

    value: str
    start: int
    end: int


def detect(text: str) -> bool:
    head = text[:20000]
    return text.lstrip()[:1] == "{" and bool(re.search(r'"(?:prepared_remarks|q_and_a)"\s*:\s*\[', head))


def parse(text: str) -> Parsed:
    """Turns of a structured call; a file that is not valid JSON raises ValueError naming the place."""
    try:
        data, end = _value(text, _WS.match(text, 0).end())
    except RecursionError:
        raise ValueError("not valid JSON for a call: nested too deeply") from None
    if _WS.match(text, end).end() != len(text):
        raise ValueError(f"not valid JSON: extra data at {_where(text, end)}")
    if not isinstance(data, dict):
        raise ValueError("a structured call must be a JSON object")
    p = Parsed(layout="calls-json")
    people = _participants(data.get("participants"), p)
    for key, section in SECTIONS:
        entries = data.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise ValueError(f"'{key}' must be a list of {{speaker, speech}} objects")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("speech"), Str):
                raise ValueError(f"{key}[{i}] must be an object with a string 'speech'")
            who = entry.get("speaker")
            name = who.value.strip() if isinstance(who, Str) else ""
            if name.lower().startswith("duration:"):  # the call's length, filed as a speaker
                continue
            s, e = trim_breaks(text, entry["speech"].start, entry["speech"].end)
            if e > s:
                p.add(text, s, e, _speaker(name, section, people), section)
    if not any(t.section == "qa" for t in p.turns):
        p.warnings.append("no Q&A section found")
    p.turns = add_firms_from_handoffs(_analysts_from_handoffs(p.turns))
    p.header = from_opening([unescape(t.text[:600]) for t in p.turns[:3]])
    return p


def _participants(value: Any, p: Parsed) -> dict[str, Speaker]:
    out: dict[str, Speaker] = {}
    if not isinstance(value, list):
        return out
    for item in value:
        if not isinstance(item, Str) or "--" not in item.value:
            continue
        name, rest = item.value.split("--", 1)
        firm, title = split_firm_title(rest)
        out[name.strip()] = speaker(name.strip(), role_from_title(title), title, firm)
    if not out:
        p.warnings.append("no call participants listed; speaker roles read from the operator's hand-offs")
    return out


def _speaker(name: str, section: str, people: dict[str, Speaker]) -> Speaker:
    if name.lower() == "operator":
        return speaker("Operator", "operator", "Operator")
    if name in people:
        return people[name]
    match = next((sp for n, sp in people.items() if same_person(n, name)), None)
    if match is not None:
        return match
    # Someone the list leaves out: in prepared remarks the company speaks; in Q&A the hand-offs decide.
    return speaker(name or None, "executive" if section == "prepared" and name else "unknown")


def _analysts_from_handoffs(turns: list) -> list:
    """A Q&A speaker the list leaves out is the analyst when the operator has just handed over to them."""
    out = []
    pending: str | None = None
    for t in turns:
        sp = t.speaker
        if sp.role == "operator":
            target = handoff_target(t.text)
            pending = target[0] if target else pending
        elif t.section == "qa" and sp.role == "unknown" and sp.name and pending and same_person(pending, sp.name):
            t = replace(t, speaker=replace(sp, role="analyst"))
        out.append(t)
    return out


# ----------------------------------------------------------------------------- a JSON reader with spans

def _value(text: str, i: int) -> tuple[Any, int]:
    """The JSON value at i (strings as `Str` with their spans) and the offset after it."""
    if i >= len(text):
        raise ValueError(f"not valid JSON: unexpected end at {_where(text, i)}")
    ch = text[i]
    if ch == '"':
        try:
            value, end = scanstring(text, i + 1, True)
        except ValueError as e:
            raise ValueError(f"not valid JSON: bad string at {_where(text, i)} ({str(e).split(':')[0]})") from None
        return Str(value, i + 1, end - 1), end
    if ch in "{[":
        close = "}" if ch == "{" else "]"
        items: list[Any] = []
        obj: dict[str, Any] = {}
        i = _WS.match(text, i + 1).end()
        if text[i:i + 1] == close:
            return (obj if ch == "{" else items), i + 1
        while True:
            if ch == "{":
                key, i = _value(text, i)
                if not isinstance(key, Str):
                    raise ValueError(f"not valid JSON: object key is not a string at {_where(text, i)}")
                i = _WS.match(text, i).end()
                if text[i:i + 1] != ":":
                    raise ValueError(f"not valid JSON: expected ':' at {_where(text, i)}")
                val, i = _value(text, _WS.match(text, i + 1).end())
                obj[key.value] = val
            else:
                val, i = _value(text, i)
                items.append(val)
            i = _WS.match(text, i).end()
            if text[i:i + 1] == ",":
                i = _WS.match(text, i + 1).end()
                continue
            if text[i:i + 1] == close:
                return (obj if ch == "{" else items), i + 1
            raise ValueError(f"not valid JSON: expected ',' or '{close}' at {_where(text, i)}")
    m = _SCALAR.match(text, i)
    if not m:
        raise ValueError(f"not valid JSON: unexpected {text[i]!r} at {_where(text, i)}")
    return m.group(0), m.end()


def _where(text: str, i: int) -> str:
    line = text.count("\n", 0, i) + 1
    return f"line {line}, column {i - (text.rfind(chr(10), 0, i) + 1) + 1}"

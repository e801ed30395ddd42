"""Speaker roles (operator / executive / analyst / unknown) from titles, lists and context."""

from __future__ import annotations

import re
from dataclasses import replace

from rag.types import Speaker, Turn

_ANALYST = re.compile(r"\banalyst\b|分析师|\bresearch\b|\bequity research\b", re.I)
_OPERATOR = re.compile(r"^\s*operator\s*$|主持人|接线员", re.I)
_EXEC = re.compile(
    r"\b(chief|officer|ceo|cfo|coo|cto|president|chair(?:man|woman)?|director|vice president|"
    r"\bvp\b|head|investor relations|treasurer|controller|founder|executive|general counsel|"
    r"secretary|manager|partner|evp|svp)\b|首席|总裁|董事|副总裁|财务官|执行官",
    re.I,
)


# Words a person's name holds in lower case or after it ("Juan Carlos de la Vega", "John Doe Jr.").
NAME_PARTICLES = frozenset({"de", "van", "von", "der", "den", "la", "le", "del", "da", "di", "du", "dos", "bin", "al",
                            "st.", "mc"})
NAME_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "phd", "cfa"})


def written_as_name(name: str) -> bool:
    """One to six words written as a person's name: capitalised letters (with . ' ’ -), particles and
    suffixes aside ("Juan Carlos de la Vega"; not "So we have", not "Revenue 2024")."""
    words = name.split()
    if not 1 <= len(words) <= 6 or len(name) > 50 or not words[0][:1].isupper():
        return False
    return all(w.lower() in NAME_PARTICLES | NAME_SUFFIXES or (w[0].isupper() and re.sub(r"[.'’\-]", "", w).isalpha())
               for w in words)


def role_from_title(title: str | None) -> str:
    if not title:
        return "unknown"
    if _OPERATOR.search(title):
        return "operator"
    if _ANALYST.search(title):
        return "analyst"
    if _EXEC.search(title):
        return "executive"
    return "unknown"


def split_firm_title(text: str) -> tuple[str | None, str | None]:
    """'Morgan Stanley -- Analyst' / 'Analyst at UBS Group' / 'RBC, Research Division - MD' -> (firm, title)."""
    t = text.strip()
    m = re.match(r"^(?P<title>.*?\banalyst)\s+at\s+(?P<firm>.+)$", t, re.I)
    if m:
        return m.group("firm").strip(), m.group("title").strip()
    m = re.match(r"^(?P<title>.+?)\s+at\s+(?P<firm>[A-Z].+)$", t)
    if m and _EXEC.search(m.group("title")):
        return m.group("firm").strip(), m.group("title").strip()
    for sep in (" -- ", "--", " - ", " — "):
        if sep in t:
            firm, title = t.rsplit(sep, 1)
            firm = re.sub(r",\s*Research Division$", "", firm.strip())
            return (firm or None), title.strip() or None
    return None, t or None


_HANDOFF = re.compile(
    r"(?:line of|question (?:is |comes )?from|comes from|is from|go to)\s+"
    r"(?P<name>[A-Z][\w.'’\-]+(?:\s+[A-Z][\w.'’\-]+){0,3})(?:\s+(?:from|with|of|at)\s+|,\s+)"
    # Firms hold dots ("J.P. Morgan"), so the firm ends at a sentence that follows, or the line end.
    r"(?P<firm>[A-Z][\w&.'’\- ]*?)\.?\s*(?:,|;|Please\b|Your\b|Go ahead\b|$)",
)


# Translations: "下一个问题来自摩根士丹利的Sam Park", "第一个问题来自UBS的Felix Liu"
_HANDOFF_ZH = re.compile(
    r"(?:问题|提问(?:者)?)来自\s*(?P<firm>[^，。,的]{2,30}?)\s*的\s*"
    r"(?P<name>[A-Z][\w.'’\-]+(?:\s+[A-Z][\w.'’\-]+){0,3}|[\u4e00-\u9fff·]{2,12})"
)


def handoff_target(text: str) -> tuple[str, str] | None:
    """(analyst name, firm) from an operator line like 'next question comes from X with Y.'"""
    m = _HANDOFF.search(text) or _HANDOFF_ZH.search(text)
    if not m:
        return None
    return m.group("name").strip(), m.group("firm").strip()


def same_person(a: str, b: str) -> bool:
    a_parts, b_parts = a.lower().split(), b.lower().split()
    if not a_parts or not b_parts:
        return False
    # "Jon Atkin" introduces "Jonathan Atkin": compare last names and first-name prefixes.
    return a_parts[-1] == b_parts[-1] and (
        a_parts[0].startswith(b_parts[0][:3]) or b_parts[0].startswith(a_parts[0][:3])
    )


def add_firms_from_handoffs(turns: list[Turn]) -> list[Turn]:
    """Give analysts without a firm the one the operator named when handing over to them."""
    out: list[Turn] = []
    pending: tuple[str, str] | None = None
    for t in turns:
        sp = t.speaker
        if sp.role == "operator":
            pending = handoff_target(t.text) or pending
        elif sp.role == "analyst" and pending and not sp.firm:
            if sp.name is None or same_person(sp.name, pending[0]):
                t = replace(t, speaker=replace(sp, firm=pending[1]))
        out.append(t)
    return out


def speaker(name: str | None, role: str, title: str | None = None, firm: str | None = None) -> Speaker:
    return Speaker(name=name or None, role=role, title=title or None, firm=firm or None)


# A turn of the call as a layout reads it: (speaker's name as labelled, or None; content start; end).
Labelled = tuple[str | None, int, int]


def operators_of(text: str, raw: list[Labelled], listed: dict[str, Speaker], words: frozenset[str],
                 handoff: re.Pattern[str]) -> set[str]:
    """Names that run the call: the operator words, and a speaker none of the listed ones whose
    turns mostly hand over to the next questioner (a named moderator)."""
    turns: dict[str, list[str]] = {}
    for n, s0, e0 in raw:
        if n:
            turns.setdefault(n, []).append(text[s0:e0])
    out = {n for n in turns if n in words}
    for n, said in turns.items():
        if n in listed or n in out:
            continue
        handoffs = sum(1 for c in said if handoff.search(c) and len(c) < 400)
        if handoffs * 2 > len(said):
            out.add(n)
    return out


def roles_in_order(text: str, raw: list[Labelled], listed: dict[str, Speaker], operators: set[str],
                   qa_cue: re.Pattern[str], qa_at: int | None = None) -> tuple[list[tuple[Speaker, str, int, int]], bool]:
    """Each labelled turn's speaker and section, and whether a Q&A was found. The Q&A opens at
    `qa_at` (a heading's offset) when the text has one, else at the operator's first hand-over to a
    questioner once the company has spoken. Listed people keep their listed role; of the others,
    those who speak before the Q&A present for the company, and in it the one the exchange opens
    with asks while the rest answer."""
    out: list[tuple[Speaker, str, int, int]] = []
    qa_started = False
    seen_exec = False
    spoke_before_qa: set[str] = set()
    asker: str | None = None  # the analyst of the current exchange
    asked = False  # whether that analyst has spoken yet
    for name, s0, e0 in raw:
        if qa_at is not None and s0 >= qa_at:
            qa_started = True
        if name in operators:
            sp = speaker(name, "operator", "Operator")
            if seen_exec and qa_cue.search(text[s0:e0]):
                qa_started = True
            asker, asked = None, False
        elif name in listed:
            sp = listed[name]
            if sp.role == "analyst":  # a questioner speaking: the Q&A has begun
                asker, asked, qa_started = name, True, True
            else:
                seen_exec = True
        elif name is None:
            sp = speaker(None, "unknown")
        elif qa_started:
            # Who answers in Q&A: those who spoke before it (a translation may spell the same
            # person differently, so also) anyone other than the exchange's analyst once they asked.
            if name in spoke_before_qa or (asked and name != asker):
                sp = speaker(name, "executive")
            else:
                sp = speaker(name, "analyst")
                asker, asked = name, True
        else:
            # Non-listed speakers before Q&A present prepared remarks for the company (IR, presidents).
            sp, seen_exec = speaker(name, "executive"), True
            spoke_before_qa.add(name)
        out.append((sp, "qa" if qa_started else "prepared", s0, e0))
    return out, qa_started

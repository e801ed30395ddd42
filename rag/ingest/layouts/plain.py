"""Transcripts without speaker names: ECTSum-style prepared remarks (one sentence per line), and
the fallback for anything else readable (paragraphs as turns of an unknown speaker)."""

from __future__ import annotations

import re

from rag.ingest.parsed import Parsed
from rag.ingest.roles import speaker
from rag.ingest.text import lines, paragraphs

_SENTENCE_END = re.compile(r"[.?!。！？\"'”’)]\s*$")


def detect_ectsum(text: str) -> bool:
    ls = [ln for ln in lines(text) if ln.stripped]
    if len(ls) < 20:
        return False
    blank = sum(1 for ln in lines(text) if ln.blank)
    ends = sum(1 for ln in ls if _SENTENCE_END.search(ln.text))
    avg = sum(len(ln.stripped) for ln in ls) / len(ls)
    return blank <= len(ls) * 0.05 and ends >= 0.6 * len(ls) and avg < 400


def parse_ectsum(text: str) -> Parsed:
    p = Parsed(layout="ectsum")
    # Prepared remarks are delivered by management; the dataset removed the speaker names.
    p.add(text, 0, len(text), speaker(None, "executive"), "prepared")
    p.warnings.append("no speaker names (ECTSum layout): prepared remarks attributed to management")
    return p


def parse_generic(text: str) -> Parsed:
    p = Parsed(layout="generic")
    for s, e in paragraphs(text, 0, len(text)):
        p.add(text, s, e, speaker(None, "unknown"), "prepared")
    p.warnings.append(
        f"layout not recognised: read {len(p.turns)} paragraph(s) as turns of an unknown speaker"
    )
    return p

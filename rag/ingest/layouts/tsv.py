"""Tab-separated transcripts: a `Speaker<TAB>Title<TAB>Content` header, then one row per paragraph."""

from __future__ import annotations

from collections import Counter

from rag.companies import aliases_for
from rag.ingest.meta import normalize_period
from rag.ingest.parsed import Parsed
from rag.ingest.roles import add_firms_from_handoffs, role_from_title, speaker, split_firm_title
from rag.ingest.text import lines


def detect(text: str) -> bool:
    first = text.lstrip("\ufeff").split("\n", 1)[0].lower().split("\t")
    return len(first) >= 3 and first[0].strip() == "speaker" and "content" in first[-1]


def parse(text: str) -> Parsed:
    p = Parsed(layout="tsv")
    rows = []
    for ln in lines(text)[1:]:
        cols = ln.text.split("\t", 2)
        if len(cols) < 3:
            if ln.stripped:
                p.warnings.append(f"line at offset {ln.start}: expected 3 tab-separated columns, got {len(cols)}")
            continue
        name, title, _ = cols
        content_start = ln.start + len(name) + 1 + len(title) + 1
        firm, job = split_firm_title(title) if title.strip() else (None, None)
        role = role_from_title(title)
        rows.append((speaker(name.strip(), role, job, firm), content_start, ln.end))
    firms = Counter(r[0].firm for r in rows if r[0].role == "executive" and r[0].firm)
    if firms:
        company = firms.most_common(1)[0][0]
        p.header["company"] = company
        p.header["aliases"] = aliases_for(None, company)
    qa = False
    for i, (sp, s, e) in enumerate(rows):
        if not qa and sp.role == "analyst":
            qa = True
            # The operator's hand-off to the first analyst opens the Q&A.
            if p.turns and p.turns[-1].speaker.role == "operator":
                last = p.turns.pop()
                p.add(text, last.start, last.end, last.speaker, "qa")
        p.add(text, s, e, sp, "qa" if qa else "prepared")
    period = normalize_period(" ".join(t.text for t in p.turns[:2]))
    if period:
        p.header["period"] = period
    if not qa:
        p.warnings.append("no analyst rows: no Q&A section found")
    p.turns = add_firms_from_handoffs(p.turns)
    return p

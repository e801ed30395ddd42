"""Bilingual copies of a call (a `{meta, pairs: [{en, zh}]}` JSON file, or an interleaved `[EN]`/`[中]`
reading copy): read once per language, both languages with the same speakers and exchanges.

Offsets cannot point into such a file: a JSON string holds escapes, and an interleaved copy puts the
Chinese between every two English paragraphs, so no passage of several paragraphs would be one span.
The transcript's text is therefore a reading text rendered from the pairs: a short header, every
English paragraph, then every Chinese paragraph (the English a translator repeated after it removed),
paragraphs separated by blank lines. Turns, chunks and citations point into that text, and
`GET /documents/{id}` serves it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

from rag.ingest.layouts import fool
from rag.ingest.meta import find_date, normalize_period
from rag.ingest.parsed import Parsed
from rag.ingest.text import has_cjk
from rag.types import Turn

ZH_HEADING = "== 中文 (Chinese translation) =="


@dataclass(frozen=True)
class Pair:
    en: str
    zh: str


@dataclass(frozen=True)
class Rendered:
    text: str
    en: list[tuple[int, int]]  # span of each pair's English paragraph in `text` (empty: none)
    zh: list[tuple[int, int]]


# ----------------------------------------------------------------------------- reading the pairs

def looks_like_json(text: str) -> bool:
    return text.lstrip()[:1] == "{"


def pairs_from_json(text: str, name: str) -> tuple[list[Pair], dict[str, str]]:
    """The pairs and `meta` of a bilingual JSON file; ValueError names what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{name}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("pairs"), list):
        raise ValueError(f"{name}: a JSON transcript must be an object with a 'pairs' list of {{en, zh}}")
    pairs: list[Pair] = []
    for i, p in enumerate(data["pairs"]):
        if not isinstance(p, dict) or not isinstance(p.get("en", ""), str) or not isinstance(p.get("zh", ""), str):
            raise ValueError(f"{name}: pairs[{i}] must be an object with string fields 'en' and 'zh'")
        en = (p.get("en") or "").strip()
        pairs.append(Pair(en, strip_repeat(p.get("zh") or "", en)))
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    return pairs, {str(k).lower(): str(v) for k, v in meta.items() if isinstance(v, (str, int, float))}


_BLOCK = re.compile(r"^\s*(?:\[\s*\d+\]\s*\[EN\]|━━|👤)")
_HEADER_FIELD = re.compile(r"^(?P<key>[A-Za-z ]+):\s*(?P<value>.+)$")


def detect_interleaved(text: str) -> bool:
    head = text[:6000]
    return len(re.findall(r"^\s*\[\s*\d+\]\s*\[EN\]", head, re.M)) >= 2 and "[中]" in head


def pairs_from_interleaved(text: str) -> tuple[list[Pair], dict[str, str]]:
    """Pairs of an interleaved copy: `[ n] [EN] ...` / `[中] ...` paragraphs, `━━ heading ━━` pairs and
    `👤 participant` pairs, each followed by the English repeated (dropped)."""
    ls = text.splitlines()
    meta: dict[str, str] = {}
    starts: list[int] = []
    for i, ln in enumerate(ls):
        # A heading's translation is a second `━━` line right under it, not a block of its own.
        if _BLOCK.match(ln) and not (starts and starts[-1] == i - 1 and _is_heading(ls[i - 1]) and _is_heading(ln)):
            starts.append(i)
    for ln in ls[: starts[0] if starts else 0]:
        m = _HEADER_FIELD.match(ln.strip())
        if m:
            meta[m.group("key").strip().lower()] = m.group("value").strip()
    pairs: list[Pair] = []
    for k, i in enumerate(starts):
        block = ls[i : starts[k + 1] if k + 1 < len(starts) else len(ls)]
        first = block[0].strip()
        if first.startswith("━━"):
            en = first.strip("━ ").strip()
            zh = block[1].strip().strip("━ ").strip() if len(block) > 1 and _is_heading(block[1]) else ""
            if zh and not has_cjk(zh):
                zh = ""
            pairs.append(Pair(en, zh))
            continue
        en = re.sub(r"^\s*(?:\[\s*\d+\]\s*\[EN\]|👤)\s*", "", block[0]).strip()
        rest = "\n".join(block[1:])
        rest = re.sub(r"^\s*(?:\[中\])?\s*", "", rest, count=1)
        pairs.append(Pair(en, strip_repeat(rest, en)))
    return pairs, meta


def _is_heading(line: str) -> bool:
    return line.strip().startswith("━━")


_ORIGINAL = re.compile(r"(?:^|\n)\s*原文\s*[:：]?")


def strip_repeat(zh: str, en: str) -> str:
    """The translation without the English original a translator repeated after it."""
    zh = zh.strip()
    cut = len(zh)
    m = _ORIGINAL.search(zh)
    if m:
        cut = m.start()
    probe = en[:40].strip()
    if probe:
        i = zh.find(probe, 1)
        if 0 < i < cut:
            cut = i
    out = zh[:cut].strip()
    # An untranslated line repeated as is carries nothing the English side does not.
    if out == en.strip() and not has_cjk(out):
        return ""
    return out


# ----------------------------------------------------------------------------- rendering and parsing

_RULE = "=" * 70


def render(pairs: list[Pair], fields: dict[str, str]) -> Rendered:
    """The reading text: a `=====` header block (the Fool header the English side is read with),
    the English paragraphs, then the Chinese ones under a heading of their own."""
    head = [_RULE, *(f"{k.title()}: {v}" for k, v in fields.items() if v), _RULE, "", ""]
    buf: list[str] = ["\n".join(head)]
    pos = len(buf[0])
    en_spans: list[tuple[int, int]] = []
    zh_spans: list[tuple[int, int]] = []

    def put(s: str) -> tuple[int, int]:
        nonlocal pos
        span = (pos, pos + len(s))
        buf.append(s + "\n\n")
        pos += len(s) + 2
        return span

    for p in pairs:
        en_spans.append(put(p.en) if p.en else (pos, pos))
    put(ZH_HEADING)
    for p in pairs:
        zh_spans.append(put(p.zh) if p.zh else (pos, pos))
    return Rendered(text="".join(buf), en=en_spans, zh=zh_spans)


def header_from_meta(meta: dict[str, str], pairs: list[Pair]) -> dict[str, object]:
    """Company, period and call date from the copy's own metadata and its first lines."""
    out: dict[str, object] = {}
    company = meta.get("company", "")
    m = re.match(r"^(?P<name>[^(（]+?)\s*(?:[(（](?P<alias>[^)）]*)[)）])?$", company)
    if m and m.group("name").strip():
        out["company"] = m.group("name").strip()
        alias = (m.group("alias") or "").strip()
        if alias and alias != out["company"]:
            out["aliases"] = (alias,)
    if meta.get("ticker"):
        out["ticker"] = meta["ticker"].strip().upper()
    period = normalize_period(meta.get("quarter") or meta.get("period"))
    if period:
        out["period"] = period
    for p in pairs[:5]:
        date = find_date(p.en)
        if date:
            out["call_date"] = date
            break
    return out


def parse_pairs(pairs: list[Pair], fields: dict[str, str], header: dict[str, object]) -> tuple[str, Parsed]:
    """The rendered text and its turns: the English side read as a Fool call, each Chinese paragraph
    given the speaker, section and turn of the English paragraph it translates."""
    r = render(pairs, fields)
    en_end = r.en[-1][1] if any(s < e for s, e in r.en) else 0
    english = r.text[:en_end]
    parsed = fool.parse(english)
    en_turns = parsed.turns
    turns: list[Turn] = [replace(t, language="en") for t in en_turns]
    # Which English turn each pair's paragraph belongs to, and whether it opens that turn after a
    # "Name:" prefix (the translation then starts with the translated name, which is dropped too).
    groups: dict[int, list[tuple[int, int]]] = {}
    ti = 0
    for k, (s, e) in enumerate(r.en):
        if s == e:
            continue
        while ti < len(en_turns) and en_turns[ti].end <= s:
            ti += 1
        if ti >= len(en_turns) or en_turns[ti].start >= e:
            continue
        zs, ze = r.zh[k]
        if zs == ze:
            continue
        if en_turns[ti].start > s:  # the English paragraph opened with "Name:"
            m = _ZH_SPEAKER.match(r.text, zs, ze)
            if m:
                zs = m.end()
        if ze > zs:
            groups.setdefault(ti, []).append((zs, ze))
    for ti, spans in sorted(groups.items()):
        t = en_turns[ti]
        s, e = spans[0][0], spans[-1][1]
        turns.append(Turn(speaker=t.speaker, section=t.section, start=s, end=e, text=r.text[s:e], language="zh"))
    parsed.turns = turns
    parsed.header = {**{k: v for k, v in parsed.header.items() if v}, **header}
    return r.text, parsed


# "萨提亚·纳德拉：", "Amy Hood:", "操作员："
_ZH_SPEAKER = re.compile(r"\s*[^\s：:。，,！？]{1,20}(?:[ ·][^\s：:。，,！？]{1,20}){0,3}\s*[：:]\s*")


def read_json(text: str, name: str) -> tuple[str, Parsed]:
    pairs, meta = pairs_from_json(text, name)
    header = header_from_meta(meta, pairs)
    rendered, parsed = parse_pairs(pairs, _fields(meta, "bilingual JSON"), header)
    parsed.layout = "bilingual-json"
    return rendered, parsed


def read_interleaved(text: str) -> tuple[str, Parsed]:
    pairs, meta = pairs_from_interleaved(text)
    header = header_from_meta(meta, pairs)
    rendered, parsed = parse_pairs(pairs, _fields(meta, "interleaved reading copy"), header)
    parsed.layout = "interleaved"
    return rendered, parsed


def _fields(meta: dict[str, str], kind: str) -> dict[str, str]:
    return {"company": meta.get("company", ""), "quarter": meta.get("quarter", ""),
            "layout": f"{kind}: the English paragraphs, then the Chinese translation"}

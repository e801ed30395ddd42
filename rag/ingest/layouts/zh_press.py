"""Chinese press write-ups of a call: a prose summary, then the Q&A as either `Q:` / `A:` paragraphs
after a `Q&A 问答` heading (智通财经 style) or `机构(行情)分析师姓名：` / `高管姓名：` paragraphs
(新浪科技 style); site chrome (bylines, dates, link lists, footers) around them is dropped."""

from __future__ import annotations

import re

from rag.companies import aliases_for, name_for
from rag.ingest.meta import find_date, normalize_period
from rag.ingest.parsed import Parsed
from rag.ingest.roles import speaker
from rag.ingest.text import Line, has_cjk, lines

_QA_HEADING = re.compile(r"^\s*(?:Q\s*&\s*A\s*(?:问答|环节)?|问答环节|问答)\s*$")
_Q = re.compile(r"^\s*(?:Q|问)\s*[:：]\s*")
_A = re.compile(r"^\s*(?:A|答)\s*[:：]\s*")
# 摩根士丹利(92.83, 0.27, 0.29%)分析师Keith Weiss：
_ANALYST = re.compile(
    r"^\s*(?P<firm>[^\s：:，。(（]{2,30}?)(?:[(（][\d.,\s%+\-]+[)）])?\s*分析师\s*(?P<name>[^：:，。]{1,40}?)\s*[：:]"
)
# 萨提亚·纳德拉： / Amy Hood:
_EXEC = re.compile(r"^\s*(?P<name>[\u4e00-\u9fff·]{2,12}|[A-Z][A-Za-z.'\- ]{1,30})\s*[：:]")
_COMPANY = re.compile(r"(?P<name>[\u4e00-\u9fffA-Za-z]{2,12})[(（](?P<ticker>[A-Z]{1,5})\.(?:US|HK|SH|SZ|N|O)[)）]")
_COMPANY_QUOTE = re.compile(r"(?P<name>[\u4e00-\u9fff]{2,10})[(（][\d.]+,\s*[\d.\-+]+,\s*[\d.\-+]+%[)）]")
_END = re.compile(r"[（(]完[)）]\s*$")


def detect(text: str) -> bool:
    if not has_cjk(text[:5000]):
        return False
    return bool(_qa_heading(lines(text))) or _count_analyst(text) >= 2


def _qa_heading(ls: list[Line]) -> Line | None:
    return next((ln for ln in ls if _QA_HEADING.match(ln.text)), None)


def _count_analyst(text: str) -> int:
    return sum(1 for ln in lines(text) if _ANALYST.match(ln.text))


def _is_chrome(s: str) -> bool:
    """Bylines, dates, source names, link-list items: short lines with no sentence in them."""
    s = s.strip()
    if not s:
        return True
    if re.match(r"^来源\s*[:：]", s):
        return True
    if find_date(s) and len(s) <= 40:
        return True
    return len(s) <= 30 and not re.search(r"[。！？；]", s)


def _body_end(ls: list[Line]) -> int:
    """Index just past the last content line: before trailing chrome, or at the '（完）' line."""
    for i, ln in enumerate(ls):
        if _END.search(ln.text):
            return i + 1
    end = len(ls)
    while end > 0 and _is_chrome(ls[end - 1].text):
        end -= 1
    return end


def parse(text: str) -> Parsed:
    ls = lines(text)
    heading = _qa_heading(ls)
    p = Parsed(layout="zh-press-qa" if heading else "zh-press-analyst")
    end_idx = _body_end(ls)
    body = ls[:end_idx]
    if heading is not None:
        qa_idx = next(i for i, ln in enumerate(body) if ln is heading or ln.start == heading.start)
        summary, qa = body[:qa_idx], body[qa_idx + 1 :]
    else:
        qa_idx = next((i for i, ln in enumerate(body) if _ANALYST.match(ln.text)), len(body))
        summary, qa = body[:qa_idx], body[qa_idx:]
    _summary(p, text, summary)
    if heading is not None:
        _qa_prefixed(p, text, qa)
    else:
        _qa_named(p, text, qa)
    _header(p, text, summary)
    if not any(t.section == "qa" for t in p.turns):
        p.warnings.append("no Q&A paragraphs found")
    return p


def _summary(p: Parsed, text: str, ls: list[Line]) -> None:
    content = [ln for ln in ls if not _is_chrome(ln.text) and not re.match(r"^\s*(详见|以下是)", ln.text)]
    # Start at the first real sentence (page chrome above it), end at the last.
    if content:
        p.add(text, content[0].start, content[-1].end, speaker(None, "unknown"), "summary")


def _qa_prefixed(p: Parsed, text: str, ls: list[Line]) -> None:
    cur: tuple[str, int, int] | None = None  # (role, start, end)
    for ln in ls:
        if ln.blank:
            continue
        mq, ma = _Q.match(ln.text), _A.match(ln.text)
        if mq or ma:
            if cur:
                _add_qa(p, text, *cur)
            m = mq or ma
            assert m is not None
            cur = ("analyst" if mq else "executive", ln.start + m.end(), ln.end)
        elif cur:
            cur = (cur[0], cur[1], ln.end)
    if cur:
        _add_qa(p, text, *cur)


def _add_qa(p: Parsed, text: str, role: str, start: int, end: int) -> None:
    p.add(text, start, end, speaker(None, role), "qa")


def _qa_named(p: Parsed, text: str, ls: list[Line]) -> None:
    cur = None
    for ln in ls:
        if ln.blank:
            continue
        ma, me = _ANALYST.match(ln.text), _EXEC.match(ln.text)
        if ma:
            sp = speaker(ma.group("name").strip(), "analyst", "分析师", ma.group("firm").strip())
            m = ma
        elif me:
            sp, m = speaker(me.group("name").strip(), "executive"), me
        else:
            if cur:
                cur = (cur[0], cur[1], ln.end)
            continue
        if cur:
            p.add(text, cur[1], cur[2], cur[0], "qa")
        cur = (sp, ln.start + m.end(), ln.end)
    if cur:
        p.add(text, cur[1], cur[2], cur[0], "qa")


def _header(p: Parsed, text: str, summary: list[Line]) -> None:
    head = text[: (summary[-1].end if summary else 3000)]
    m = _COMPANY.search(head)
    if m:
        p.header["company"] = m.group("name")
        p.header["ticker"] = m.group("ticker")
    else:
        mq = _COMPANY_QUOTE.search(head)
        if mq:
            p.header["company"] = mq.group("name")
    ticker = p.header.get("ticker")
    if "company" in p.header:
        p.header["aliases"] = aliases_for(ticker, p.header["company"], name_for(ticker))
    period = normalize_period(head)
    if period:
        p.header["period"] = period
    date = find_date(text[:600])
    if date:
        p.header["call_date"] = date

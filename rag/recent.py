"""Questions over a company's latest quarters as a run ("How has Azure growth trended over the last
few quarters?", "revenue over the past three quarters", 微软最近几个季度的营收趋势): each quarter's call
is read on its own (`Assistant._each_period`), as when the quarters are named one by one."""

from __future__ import annotations

import re

_COUNT = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "eight": 8, "两": 2, "二": 2, "三": 3, "四": 4,
          "五": 5, "六": 6, "八": 8}
_WORDS = "|".join(sorted(_COUNT, key=len, reverse=True))
_RECENT = re.compile(
    rf"\b(?:(?:over|in|for|across)\s+)?(?:the\s+)?(?:last|past|recent|latest|previous)\s+(?:(?P<n>\d|{_WORDS}|few|several|couple of)\s+)?quarters\b"
    rf"|(?:过去|最近|近)(?P<zh>\d|{_WORDS}|几)?个?(?:季度|财季)"
    r"|\btrend(?:ed|ing|s)?\b|\bover\s+time\b|\bquarter[- ](?:by|over|to)[- ]quarter\s+trend|\bsequential\s+trend"
    r"|趋势|走势|各季度|每个季度|逐季",
    re.I,
)
# "How do you see margins trending going forward?", 未来的走势: a trend ahead is an outlook, not past calls.
_AHEAD = re.compile(r"\b(?:expect\w*|future|forward|ahead|next|outlook|will|going to|guid\w*)\b|未来|预计|预期|展望|今后|接下来|指引",
                    re.I)
# When the question says no number ("the last few quarters", "trend"): a year of calls.
DEFAULT = 4


def recent_quarters(question: str) -> int | None:
    """How many of the latest quarters the question asks over, or None when it asks of no run of them."""
    m = _RECENT.search(question)
    if not m or _AHEAD.search(question):
        return None
    for found in (m.group("n"), m.group("zh")):
        if found and (found.isdigit() or found.lower() in _COUNT):
            n = int(found) if found.isdigit() else _COUNT[found.lower()]
            return n if n >= 2 else None
    return DEFAULT  # "the last few quarters", 几个季度, "trend": no number


def without_recent(question: str) -> str:
    """`question` less the words asking for a run of quarters: each call is read for its own."""
    return re.sub(r"[ \t]{2,}", " ", _RECENT.sub(" ", question)).strip()

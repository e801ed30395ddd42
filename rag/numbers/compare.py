"""Whether two quantities state the same number, and which numbers of an answer no passage states."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from rag.numbers.quantity import REL_TOL, Quantity
from rag.numbers.scan import extract


def same(a: Quantity, b: Quantity) -> bool:
    """Whether two quantities state the same number (see the `rag.numbers` docstring for the rules)."""
    if a.kind == b.kind:
        if a.kind == "money" and a.currency != b.currency:
            return False
        if a.kind == "date":
            return _same_date(a.value, b.value)
        return _close(a.value, b.value)
    kinds = {a.kind, b.kind}
    if kinds == {"money", "count"}:
        return _close(a.value, b.value)  # "200 billion" may restate "2000亿美元"
    if kinds == {"fraction", "percent"}:
        f, p = (a, b) if a.kind == "fraction" else (b, a)
        return _close(f.value * 100, p.value)  # half == 50%; 三分之一 is not 33%
    return False


def _close(x: float, y: float) -> bool:
    x, y = abs(x), abs(y)
    return x == y or abs(x - y) <= REL_TOL * max(x, y)


def _same_date(x: float, y: float) -> bool:
    """Dates agree where both name a part (year, month, day) and share at least one part."""
    px, py = _date_parts(x), _date_parts(y)
    shared = [(i, j) for i, j in zip(px, py) if i and j]
    return bool(shared) and all(i == j for i, j in shared)


def _date_parts(v: float) -> tuple[int, int, int]:
    n = int(abs(v))
    return n // 10000, n // 100 % 100, n % 100


def _held(q: Quantity, pool: Sequence[Quantity]) -> bool:
    ends = [q] if q.low is None else [replace(q, value=q.low), replace(q, value=q.high)]
    return all(any(same(e, p) for p in pool) for e in ends)


def supported(q: Quantity, passage: str) -> bool:
    """Whether `passage` states `q` (both ends, for a range end)."""
    return _held(q, extract(passage))


def unsupported(answer_text: str, passages: Sequence[str],
                kinds: Collection[str] | None = None) -> list[Quantity]:
    """The quantities of `answer_text` (of `kinds`, default all) that no passage states."""
    pool = [q for p in passages for q in extract(p)]
    return [q for q in extract(answer_text)
            if (kinds is None or q.kind in kinds) and not _held(q, pool)]

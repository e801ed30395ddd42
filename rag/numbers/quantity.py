"""The `Quantity` every number is normalised into, its kinds, and the tolerance they compare by."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

KINDS = ("percent", "pp", "money", "count", "multiple", "fraction", "year", "date", "ordinal")
REL_TOL = 1e-6  # equality only; 1.77 billion never supports 1.8 billion


@dataclass(frozen=True)
class Quantity:
    """One number found in a text, normalised (see the `rag.numbers` docstring for the kinds)."""

    value: float
    kind: str
    currency: str | None = None  # ISO code, money only
    text: str = ""  # surface form, text[start:end]
    start: int = 0
    end: int = 0
    low: float | None = None  # set on both ends of a range
    high: float | None = None
    qualifier: str | None = None  # "approx", "over" or "under" ("约", "超过", "more than"...)

    @property
    def is_range(self) -> bool:
        return self.low is not None


def _q(text: str, value: Decimal | float, kind: str, start: int, end: int,
       currency: str | None = None, qualifier: str | None = None) -> Quantity:
    return Quantity(float(value), kind, currency, text[start:end], start, end, qualifier=qualifier)

"""What a layout parser returns: turns with offsets, header metadata found in the text, warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rag.ingest.text import trim
from rag.types import Speaker, Turn


@dataclass
class Parsed:
    layout: str
    turns: list[Turn] = field(default_factory=list)
    header: dict[str, Any] = field(default_factory=dict)  # company, ticker, period, call_date, aliases
    warnings: list[str] = field(default_factory=list)

    def add(self, text: str, start: int, end: int, speaker: Speaker, section: str) -> None:
        """Append a turn over text[start:end], trimmed; empty spans are skipped."""
        s, e = trim(text, start, end)
        if e > s:
            self.turns.append(Turn(speaker=speaker, section=section, start=s, end=e, text=text[s:e]))

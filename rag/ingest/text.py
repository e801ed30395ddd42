"""Offset-preserving text helpers shared by the layout parsers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Line:
    start: int
    end: int  # exclusive, newline not included
    text: str

    @property
    def stripped(self) -> str:
        return self.text.strip()

    @property
    def blank(self) -> bool:
        return not self.text.strip()


def lines(text: str, lo: int = 0, hi: int | None = None) -> list[Line]:
    """Lines of text[lo:hi] with absolute offsets (handles \\n and \\r\\n)."""
    hi = len(text) if hi is None else hi
    out: list[Line] = []
    pos = lo
    while pos < hi:
        nl = text.find("\n", pos, hi)
        end = hi if nl < 0 else nl
        seg_end = end - 1 if end > pos and text[end - 1] == "\r" else end
        out.append(Line(pos, seg_end, text[pos:seg_end]))
        pos = end + 1
    return out


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) so it neither starts nor ends with whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def paragraphs(text: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """Spans of consecutive non-blank lines in text[lo:hi], trimmed."""
    start: int | None = None
    last_end = lo
    for ln in lines(text, lo, hi):
        if ln.blank:
            if start is not None:
                yield trim(text, start, last_end)
                start = None
        else:
            if start is None:
                start = ln.start
            last_end = ln.end
    if start is not None:
        yield trim(text, start, last_end)


def cjk_ratio(text: str) -> float:
    letters = sum(1 for c in text if c.isalpha())
    if not letters:
        return 0.0
    return len(_CJK.findall(text)) / letters


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


# A JSON string's escapes, as they stand in a structured call whose offsets point into the file's own
# JSON text (rag/ingest/layouts/calls_json.py). Plain-text transcripts do not hold these sequences.
JSON_ESCAPE = re.compile(r'\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})')
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def escaped_char(seq: str) -> str:
    """The character a JSON escape (`\\n`, `\\"`, `\\u2019`) stands for; a lone surrogate of a
    `\\ud83d\\ude00` pair stands for nothing legible and reads as a space."""
    c = seq[1]
    if c != "u":
        return _SIMPLE_ESCAPES[c]
    ch = chr(int(seq[2:], 16))
    return " " if 0xD800 <= ord(ch) <= 0xDFFF else ch


def trim_breaks(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) past whitespace and a structured call's escaped line breaks (`\\n`, `\\r`,
    `\\t`) at either end; an escaped backslash before an `n` is text, not a break."""
    while start < end:
        if text[start].isspace():
            start += 1
        elif text.startswith(("\\n", "\\r", "\\t"), start) and start + 2 <= end:
            start += 2
        else:
            break
    while end > start:
        if text[end - 1].isspace():
            end -= 1
        elif end - 2 >= start and text[end - 2] == "\\" and text[end - 1] in "nrt" and not _escaped(text, end - 2):
            end -= 2
        else:
            break
    return start, end


def _escaped(text: str, i: int) -> bool:
    """Whether the backslash at i is itself escaped (preceded by an odd run of backslashes)."""
    n = 0
    while i - 1 - n >= 0 and text[i - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


def unescape(text: str) -> str:
    """`text` with JSON escapes read as their characters (the text as a reader sees it)."""
    return JSON_ESCAPE.sub(lambda m: escaped_char(m.group(0)), text) if "\\" in text else text


def squash(text: str) -> str:
    """Collapse whitespace (hard line wraps, tabs) into single spaces for embedding text; JSON
    escapes count as the characters they stand for."""
    return re.sub(r"\s+", " ", unescape(text)).strip()


# Characters that show nothing (zero-width spaces and joiners, word joiner, invisible operators, BOM,
# soft hyphen, Unicode tag characters) or only reorder what is shown (bidi marks, embeddings,
# overrides, isolates). In a transcript they can only mislead: "1\u200b2.5 billion" reads as 12.5
# billion but scans as 1 and 2.5 billion, a word with one inside misses the lexical index, and tag
# characters spell text no reader sees but a model reads. The joiners also shape Persian and Indic
# scripts and emoji sequences, neither of which a call transcript needs.
INVISIBLE = frozenset([0x00AD, 0x061C, 0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F),
                       *range(0x2060, 0x2070), 0xFEFF, *range(0xE0000, 0xE0080)])
_DROP = dict.fromkeys(INVISIBLE)
# The same characters written as JSON escapes (a tag character as its surrogate pair); an escaped
# backslash is matched too, so that the `u200b` after `\\` (a backslash, then text) stays.
_ESCAPE_OR_PAIR = re.compile(r"\\(?:\\|u[dD][bB]40\\u[dD][cC][0-7][0-9a-fA-F]|u[0-9a-fA-F]{4})")


def strip_invisible(text: str) -> str:
    """`text` without invisible and bidi control characters, literal or JSON-escaped (`\\u200b`)."""
    text = text.translate(_DROP)
    if "\\u" in text:
        text = _ESCAPE_OR_PAIR.sub(_keep_visible, text)
    return text


def _keep_visible(m: re.Match[str]) -> str:
    seq = m.group(0)
    if seq == "\\\\":
        return seq
    if len(seq) == 12:  # a tag character's surrogate pair
        return ""
    return "" if int(seq[2:], 16) in INVISIBLE else seq

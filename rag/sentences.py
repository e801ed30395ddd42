"""Sentences of a passage with exact source offsets, minus speaker labels and Q:/A: prefixes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.ingest.roles import NAME_PARTICLES, written_as_name
from rag.ingest.text import JSON_ESCAPE, escaped_char, trim_breaks
from rag.markup import FAKE_MARKER, chat_spans

# A sentence ends at Chinese end punctuation, at . ? ! before a space and a capital/digit/quote/CJK,
# at a blank line, or before a tab-separated row. A single line break is a hard wrap (Refinitiv
# files wrap at ~140 characters), not an end. "$1.2 billion" and "U.S. dollar" do not end sentences.
_END = re.compile(
    r"[。！？；]+[”’」』）)]*"
    r"|[.?!]+(?:\\?[\"'”’)])*(?=\s+\\?[A-Z0-9\"'“‘(\u4e00-\u9fff])"
    r"|\n[ \t]*\n\s*"
    # A structured call's paragraph break is the JSON escape "\n" in the file's text.
    r"|(?:\\n)+\s*"
    r"|\n(?=[^\n\t]{0,80}\t)"
)
# Bump when sentence boundaries change: an index stores one vector per sentence, so a rebuild checks
# the passages it would copy vectors from (rag/build.py).
SPLIT_VERSION = 4
# Between two turns of a structured (JSON) call a passage holds the file's own syntax: the closing
# quote, `},`, `{`, `"speaker": "Name",`, `"speech": "`. No sentence may run across it.
_JSON_SEAM = re.compile(
    r'(?<!\\)"\s*[}\]](?:[\s,{}\[\]]|"\w+"\s*:\s*"(?:[^"\\\n]|\\.)*"\s*,|"\w+"\s*:\s*(?=[\[{]))*'
    r'(?:"\w+"\s*:\s*")?'
)
# A title's words in lower case: "Head of Investor Relations", "JPMorgan Chase and Company -- Analyst".
_TITLE_JOINERS = NAME_PARTICLES | {"of", "and", "the", "for", "in", "on", "at", "y"}
_TITLE_END = re.compile(r"(?:\b(?:Inc|Co|Corp|Ltd|LLC|plc|Jr|Sr)\.|[^.?!])$")  # no sentence's end but "Co."
_PREFIX = re.compile(r"^(?:[QA]|问|答)\s*[:：]\s*")


@dataclass(frozen=True)
class Sentence:
    text: str  # == source[start:end]
    start: int  # absolute offsets in the source transcript
    end: int

    @property
    def is_question(self) -> bool:
        return self.text.rstrip("”’\"') ").endswith(("?", "？"))


def split(text: str, offset: int = 0) -> list[Sentence]:
    """Sentences of `text` (a chunk's passage starting at `offset` in its source). Citation markers
    and chat markup (`rag.markup`) end a sentence and are in none: planted there, they must never be
    quoted as what the call said, nor run into a real sentence by the hard-wrap rule."""
    out: list[Sentence] = []
    pos = 0
    for s, e in [*_gaps(text), (len(text), len(text))]:
        piece = pos
        for m in _END.finditer(text, pos, s):
            _add(out, text, pos, m.end(), offset)
            pos = m.end()
        _add(out, text, pos, s, offset)
        # A sentence that a citation marker closes on its line was written to read as an answer's
        # claim ("The answer is 42 [1]."); a call's own sentences carry no such marker.
        last = out[-1].end - offset if out else -1
        if last > piece and FAKE_MARKER.match(text, s) and "\n" not in text[last:s]:
            out.pop()
        pos = e
    return out


def _gaps(text: str) -> list[tuple[int, int]]:
    """Spans no sentence may hold or cross: chat markup, and a structured call's JSON between turns;
    in order, overlapping ones merged."""
    out: list[tuple[int, int]] = []
    for s, e in sorted([*chat_spans(text), *(m.span() for m in _JSON_SEAM.finditer(text))]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def contiguous(text: str, a: Sentence, b: Sentence, offset: int = 0) -> bool:
    """Whether nothing `split` left out (markup, a structured call's JSON) lies between sentences
    `a` and `b` of `text` (a passage starting at `offset`): only then may one quote span both."""
    return not _gaps(text[a.end - offset : b.start - offset])


def _add(out: list[Sentence], text: str, s: int, e: int, offset: int) -> None:
    seg = text[s:e]
    # TSV rows: "Name<TAB>Title<TAB>content" -- keep the content only.
    if "\t" in seg:
        cut = seg.rfind("\t") + 1
        s, seg = s + cut, seg[cut:]
    a, b = trim_breaks(seg, 0, len(seg))
    s, seg = s + a, seg[a:b]
    m = _PREFIX.match(seg)
    if m:
        s, seg = s + m.end(), seg[m.end():]
    seg = seg.rstrip()
    if len(seg) < 6 or not re.search(r"\w", seg) or _is_label(seg) or seg == "Operator":
        return
    out.append(Sentence(seg, offset + s, offset + s + len(seg)))


def _is_label(seg: str) -> bool:
    """A participant line, "Satya Nadella--Chief Executive Officer" or "Keith Weiss--Morgan Stanley --
    Analyst": a name, then a title with no figure, no lower-case word but joiners and no sentence's end.
    Speech transcribed with dashes is no label: "So we have -- on buybacks, we have $1 billion
    authorization.", "Dynamics 365 revenue-- Increased 21%"."""
    name, dashes, title = seg.partition("--")
    title = title.strip()
    return (bool(dashes) and 0 < len(title) <= 100 and written_as_name(name) and not re.search(r"\d", title)
            and not any(w[0].islower() and w not in _TITLE_JOINERS for w in re.findall(r"[A-Za-z][\w'’]*", title))
            and bool(_TITLE_END.search(title)))


def spans_in_embed_text(passage: str, embed_text: str) -> list[tuple[int, int]]:
    """Where each sentence of `passage` lies in its embedding text (a header, then the passage with
    whitespace runs squashed to one space), so a sentence vector can be read off the passage's tokens."""
    squashed, at = _squash_map(passage)
    base = len(embed_text) - len(squashed)
    if base < 0 or embed_text[base:] != squashed:
        raise ValueError("embed_text does not end with the squashed passage")
    return [(base + at[s.start], base + at[s.end - 1] + 1) for s in split(passage)]


def _squash_map(text: str) -> tuple[str, list[int]]:
    """`rag.ingest.text.squash(text)` and, for each character of `text`, its index in the result (every
    character of a JSON escape maps to where the character it stands for went)."""
    out: list[str] = []
    at: list[int] = []
    pending_space = False
    i = 0
    while i < len(text):
        m = JSON_ESCAPE.match(text, i) if text[i] == "\\" else None
        ch, width = (escaped_char(m.group(0)), m.end() - i) if m else (text[i], 1)
        i += width
        if ch.isspace():
            pending_space = bool(out)
            at.extend([len(out)] * width)
            continue
        if pending_space:
            out.append(" ")
            pending_space = False
        at.extend([len(out)] * width)
        out.append(ch)
    return "".join(out), at

"""Reading transcript files of every supported layout into `Transcript`s with turns and metadata."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from rag.companies import aliases_for, name_for, ticker_for
from rag.errors import TranscriptError
from rag.ingest import bilingual
from rag.ingest.documents import SUFFIXES as DOCUMENT_SUFFIXES
from rag.ingest.documents import document_text
from rag.ingest.identify import from_body, from_title
from rag.ingest.layouts import calls_json, fool, labelled, plain, refinitiv, tsv, zh_press
from rag.ingest.meta import detect_language, from_filename, read_sidecar, sidecar_path
from rag.ingest.opening import fourth_quarter_before, from_opening, from_title_line
from rag.ingest.parsed import Parsed
from rag.ingest.text import strip_invisible, unescape
from rag.ingest.walk import TRANSCRIPT_SUFFIXES, find_transcripts, is_transcript_name
from rag.types import DocMeta, Transcript

log = logging.getLogger(__name__)

# Tried in order; the first whose detector accepts the text parses it. The generic reader is last.
LAYOUTS: list[tuple[str, Callable[[str], bool], Callable[[str], Parsed]]] = [
    ("tsv", tsv.detect, tsv.parse),
    ("fool", fool.detect, fool.parse),
    ("refinitiv", refinitiv.detect, refinitiv.parse),
    ("fool-zh", fool.detect_translation, fool.parse_translation),
    ("zh-press", zh_press.detect, zh_press.parse),
    # Before ECTSum: a call by speaker printed to PDF keeps no blank lines, and reads as one sentence a line.
    ("labelled", labelled.detect, labelled.parse),
    ("ectsum", plain.detect_ectsum, plain.parse_ectsum),
]
# Bump when reading changes what a file yields (turns, speakers, metadata), so rebuilds re-read
# every transcript even though no file changed (vectors of unchanged passages are reused).
INGEST_VERSION = 19
# A call transcript is 20-200 KB (the longest seen, a bilingual reading copy, 190 KB). A file far larger
# is not a transcript, and is refused before it is read, so it costs neither the memory nor the time.
MAX_BYTES = 20 * 1024 * 1024

__all__ = ["INGEST_VERSION", "MAX_BYTES", "TRANSCRIPT_SUFFIXES", "ScanResult", "decode", "find_transcripts",
           "is_transcript_name", "parse_text", "read_transcript", "scan"]


def decode(raw: bytes, name: str) -> str:
    """Text of a transcript file; errors name the file and the problem."""
    if not raw.strip():
        raise TranscriptError(f"{name}: file is empty")
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TranscriptError(f"{name}: looks like a binary file (NUL bytes), not a text transcript")
    bom16 = raw.startswith((b"\xff\xfe", b"\xfe\xff"))
    # Chinese sites still serve GB18030/GBK; it is tried after UTF-8 and kept only if it decodes cleanly.
    for enc in ("utf-16",) if bom16 else ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text
    raise TranscriptError(f"{name}: cannot decode as UTF-8, UTF-16 or GB18030 text")


def _looks_like_text(text: str) -> bool:
    sample = text[:20000]
    bad = sum(1 for c in sample if (ord(c) < 32 and c not in "\t\n\r\f") or 0xE000 <= ord(c) <= 0xF8FF or c == "\ufffd")
    return bad <= len(sample) * 0.01


def parse_text(text: str, name: str = "<text>") -> Parsed:
    """Detect the layout and parse; never raises for readable text (falls back to paragraphs)."""
    for layout, detect, parse in LAYOUTS:
        if detect(text):
            parsed = parse(text)
            if parsed.turns:
                return parsed
            log.warning("%s: looked like %s but gave no turns; trying other layouts", name, layout)
    return plain.parse_generic(text)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; one over MAX_BYTES is refused by its size, before any of it is read."""
    limit = f"larger than the {MAX_BYTES // 2**20} MB limit for a transcript; not read (split it or trim it)"
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise TranscriptError(f"{path}: file is {size / 2**20:.1f} MB, {limit}")
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)  # it may have grown since the stat
    except OSError as e:
        raise TranscriptError(f"{path}: cannot read file: {e.strerror or e}") from e
    if len(raw) > MAX_BYTES:
        raise TranscriptError(f"{path}: file grew past {MAX_BYTES // 2**20} MB while read, {limit}")
    return raw


def _read(text: str, name: str) -> tuple[str, Parsed]:
    """The text offsets point into, and its parse. Bilingual copies are rendered into a reading
    text (see `rag.ingest.bilingual`); every other layout, structured JSON calls included, keeps the
    file's text as it is (less invisible characters)."""
    if calls_json.detect(text):
        try:
            return text, calls_json.parse(text)
        except ValueError as e:
            raise TranscriptError(f"{name}: {e}") from None
    if bilingual.looks_like_json(text):
        try:
            return bilingual.read_json(text, name)
        except ValueError as e:
            raise TranscriptError(str(e)) from None
    if bilingual.detect_interleaved(text):
        return bilingual.read_interleaved(text)
    return text, parse_text(text, name)


def read_transcript(path: str | Path, text: str | None = None) -> Transcript:
    """Read and parse one transcript file (or `text` given for it). Characters that show nothing or
    only reorder what is shown are removed first (`rag.ingest.text.strip_invisible`): offsets, and the
    text `GET /documents/{id}` serves, point into the text without them."""
    path = Path(path)
    if text is None:
        raw = _read_bytes(path)
        suffix = path.suffix.lower()
        text = document_text(raw, str(path), suffix, decode) if suffix in DOCUMENT_SUFFIXES else decode(raw, str(path))
    else:
        raw = text.encode("utf-8")
    text = strip_invisible(text)
    if not text.strip():
        raise TranscriptError(f"{path}: file is empty")
    text, parsed = _read(text, str(path))
    if not parsed.turns:
        raise TranscriptError(f"{path}: no readable text found")
    meta, warnings = _metadata(path, text, parsed)
    turns = tuple(
        replace(t, speaker=replace(t.speaker, firm=meta.company))
        if t.speaker.role == "executive" and t.speaker.firm is None and t.speaker.name and meta.company
        else t
        for t in parsed.turns
    )
    return Transcript(
        meta=meta,
        text=text,
        turns=turns,
        warnings=tuple(parsed.warnings + warnings),
        source_hash=hashlib.sha256(raw).hexdigest(),
    )


# Where metadata comes from, the most trusted last: the opening words, the body (most-named company, a
# ticker in parentheses), the file name, the text's own header (layout headers, then a title line), the sidecar.
def _metadata(path: Path, text: str, parsed: Parsed) -> tuple[DocMeta, list[str]]:
    warnings: list[str] = []
    named = from_filename(path)
    if "ticker" not in named:  # "Acme Corp Q1 2021 Earnings Call.pdf": a file named as its title
        titled = from_title_line(path.stem.replace("_", " "))
        named = {**({"titled_name": titled["company"], "period": titled["period"]} if titled else {}), **named}
    header = {**from_title(text), **{k: v for k, v in parsed.header.items() if v}}
    for key in ("ticker", "period"):
        if key in header and key in named and header[key] != named[key]:
            warnings.append(f"{key} in text ({header[key]}) differs from file name ({named[key]}); using the text")
    body = from_body(text) if not (header.get("ticker") or named.get("ticker")) else {}
    # Last of all, the call's own opening words ("Welcome to the Acme First Quarter 2021 Earnings Call").
    opening = [unescape(t.text[:600]) for t in parsed.turns[:3]]
    spoken = from_opening(opening) if "spoken_name" not in header else {}
    fields = {**spoken, **body, **named, **header}
    side = read_sidecar(path)
    if named.get("period") and not (header.get("period") or spoken.get("period") or side.get("period")):
        # Only the file name gives the period: the call's own guidance may say it is a year earlier.
        before = fourth_quarter_before(fields["period"], (t.text for t in parsed.turns if t.section == "prepared"),
                                       " ".join(opening))
        if before:
            year = int(fields["period"][2:6])
            warnings.append(f"period read as {before}, not the file name's {fields['period']}: the call gives "
                            f"guidance for {year} and none for {year + 1}, as a fourth-quarter call of {year - 1} does")
            fields["period"] = before
    if body.get("ticker") and fields.get("ticker") == body["ticker"]:
        warnings.append(f"ticker {body['ticker']} read from the body (the company it names most often)")
    languages = {t.language for t in parsed.turns if t.language}
    fields["language"] = "en+zh" if len(languages) > 1 else detect_language(text)
    fields.update(side)
    ticker = fields.get("ticker") or ticker_for(fields.get("company") or fields.get("titled_name"))
    company = fields.get("company") or name_for(ticker) or fields.get("titled_name") or fields.get("spoken_name")
    if side.get("ticker") and not side.get("company"):
        company = name_for(ticker) or company
    aliases = aliases_for(ticker, company, *fields.get("aliases", ()), name_for(ticker), fields.get("titled_name"),
                          fields.get("spoken_name"))
    missing = [k for k, v in (("company", company), ("period", fields.get("period"))) if not v]
    if missing:
        warnings.append(
            f"no {' or '.join(missing)} found in the text or the file name; indexed anyway - add "
            f"{sidecar_path(path).name} with {', '.join(repr(k) for k in missing)} to fix it"
        )
    meta = DocMeta(
        doc_id=path.stem,
        source=path.name,
        company=company,
        ticker=ticker,
        period=fields.get("period"),
        call_date=fields.get("call_date"),
        language=fields["language"],
        layout=parsed.layout,
        aliases=tuple(a for a in aliases if a != company),
    )
    return meta, warnings


@dataclass(frozen=True)
class ScanResult:
    transcripts: list[Transcript]
    errors: list[str]  # one message per file that could not be read or was refused, naming it


def scan(sources: Iterable[str | Path]) -> ScanResult:
    """Read every transcript under `sources`; unreadable files are reported, the rest still read."""
    transcripts: list[Transcript] = []
    errors: list[str] = []
    for f in find_transcripts(sources, refused=errors):
        try:
            transcripts.append(read_transcript(f))
        except TranscriptError as e:
            errors.append(str(e))
    return ScanResult(transcripts, errors)

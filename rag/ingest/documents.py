"""Transcripts published as PDF, HTML or Word files, read as the text a reader of them sees, which the
layouts then parse like any text file (investor-relations sites publish calls as PDFs and web pages far
more often than as text). The text is what citations point into and what `GET /documents/{id}` serves.

- PDF (pypdf): each page's text; lines repeated on most pages (a running header, "Page 3 of 20") are
  dropped, and a line a sentence wraps across is joined back to the next.
- HTML: the text of the page's elements, a line per block (paragraph, heading, list item, row, break);
  scripts and styles left out; the title first, as a transcript's title line.
- Word (.docx): its paragraphs, a line each (read from the file's XML; no extra dependency).

A file that is not what its name says, is encrypted, or holds no text (a scanned PDF would need OCR)
is refused with an error naming it and the problem."""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from html.parser import HTMLParser
from xml.etree import ElementTree

from rag.errors import TranscriptError

SUFFIXES = {".pdf", ".html", ".htm", ".docx"}


def document_text(raw: bytes, name: str, suffix: str, decode) -> str:
    """The text of a PDF, HTML or Word file (`suffix`, lower-cased); `decode`: how a text file's bytes
    are read (HTML is text in some encoding)."""
    if suffix == ".pdf":
        return pdf_text(raw, name)
    if suffix == ".docx":
        return docx_text(raw, name)
    return html_text(_declared(raw) or decode(raw, name))


def _declared(raw: bytes) -> str | None:
    """An HTML page's text in the charset it declares (`<meta charset="windows-1252">`), if that reads."""
    m = re.search(rb"""charset\s*=\s*["']?([\w.:-]+)""", raw[:4096], re.I)
    if not m:
        return None
    try:
        return raw.decode(m.group(1).decode("ascii"))
    except (LookupError, UnicodeDecodeError):
        return None


# ----------------------------------------------------------------------------- PDF

# A page number standing alone ("3", "- 3 -", "Page 3", "Page 3 of 20", "3/20").
_PAGE_NUMBER = re.compile(r"^\W*(?:page\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\W*$", re.I)
_SENTENCE_END = re.compile(r"[.?!:;。？！：；\"”’)）\]]$")
_HAN = re.compile(r"[\u4e00-\u9fff]")
# A speaker's label on a line of its own, however long: "Camilla Sylvest--Executive Vice President,
# Commercial Strategy and Corporate Affairs", "Jane Roe - Chief Financial Officer".
_LABEL = re.compile(r"^[A-Z][\w.'’ -]{1,60}?(?:--|—|–| - )\s*[A-Z][^.?!。？！]*$")


def pdf_text(raw: bytes, name: str) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise TranscriptError(f"{name}: the PDF is encrypted; save an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
    except TranscriptError:
        raise
    except Exception as e:
        # Whatever a third-party parser raises on a file (a damaged stream, a decompression bomb past
        # pypdf's limit, AES encryption needing a library not installed, nesting past the recursion
        # limit) is that file's problem: named as such, it never stops the rest of a build.
        raise TranscriptError(f"{name}: not a readable PDF ({type(e).__name__}: {e})") from e
    if not any(p.strip() for p in pages):
        raise TranscriptError(f"{name}: the PDF holds no text (a scanned document would need OCR first)")
    # One run of lines across pages: a sentence or a turn goes on over a page break.
    return _joined([ln for lines in _without_running_lines(pages) for ln in lines])


def _without_running_lines(pages: list[str]) -> list[list[str]]:
    """Each page's lines (blank ones kept: some layouts part turns by them) less page numbers and the
    lines most pages repeat at their top or bottom (headers, footers): they would split a speaker's turn
    wherever a page breaks."""
    split = [[ln.strip() for ln in p.splitlines()] for p in pages]

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", line.lower())

    def edges(lines: list[str]) -> set[int]:  # where a running line stands: a page's top or bottom
        filled = [i for i, ln in enumerate(lines) if ln]
        return set(filled[:2] + filled[-2:])

    seen = Counter(k for lines in split for k in {key(lines[i]) for i in edges(lines)})
    # (a one-word line at a page's edge, such as "Operator", is a speaker's label, not a header)
    running = {k for k, n in seen.items() if n >= max(3, 0.6 * len(pages)) and (" " in k or "#" in k)}
    out = []
    for lines in split:
        at = edges(lines)
        kept = [ln for i, ln in enumerate(lines) if not (i in at and (key(ln) in running or _PAGE_NUMBER.match(ln)))]
        while kept and not kept[0]:
            kept.pop(0)
        out.append(kept)
    return out


def _joined(lines: list[str]) -> str:
    """Lines with a sentence wrapped across two joined again: a line not ending a sentence that runs
    to the page's width (a speaker's name on a line of its own does not), or is followed by one going
    on in lower case, a figure, or Chinese. Never across a blank line."""
    width = max((len(ln) for ln in lines), default=0)
    out: list[str] = []
    last = ""  # the previous line as the page had it (out[-1] may be several joined)
    for ln in lines:
        prev = out[-1] if out else ""
        wrapped = len(last) >= 0.75 * width and not _SENTENCE_END.search(prev) and re.search(r"\w", prev) \
            and not _LABEL.match(last)
        goes_on = (ln[:1].islower() and not re.search(r"[.?!。？！]$", prev)) or (
            not _SENTENCE_END.search(prev) and (ln[:1].isdigit() or ln[:1] in "$%,"))
        zh = _HAN.match(ln[:1]) and _HAN.search(prev[-1:]) and not _SENTENCE_END.search(prev)
        last = ln
        if prev and ln and (wrapped or goes_on or zh):
            glue = "" if zh or (prev.endswith("-") and ln[:1].islower()) else " "
            out[-1] = prev + glue + ln
        else:
            out.append(ln)
    return "\n".join(out)


# ----------------------------------------------------------------------------- HTML

_BLOCKS = {"p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "blockquote",
           "pre", "dt", "dd", "table", "ul", "ol", "header", "footer", "title", "hr"}
# Not <head>: its end tag is optional, and a page that leaves it out would lose its body.
_SKIPPED = {"script", "style", "noscript", "template", "svg"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.parts: list[str] = []
        self.skipping = 0
        self.in_title = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "title" and not self.skipping:  # not an <svg>'s <title>
            self.in_title = True
        elif tag in _SKIPPED:
            self.skipping += 1
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in _SKIPPED and self.skipping:
            self.skipping -= 1
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [re.sub(r"[ \t\r\f\v\u00a0]+", " ", ln).strip() for ln in "".join(parser.parts).split("\n")]
    title = re.sub(r"\s+", " ", "".join(parser.title)).strip()
    body = "\n\n".join(ln for ln in lines if ln)  # a blank line between blocks, as text transcripts have
    return f"{title}\n\n{body}" if title and not body.startswith(title) else body


# ----------------------------------------------------------------------------- Word

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# A text box is written twice, as a drawing and as a fallback for old readers: the fallback is skipped.
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _runs(el, own: list[str], lines: list[str]) -> None:
    """Each paragraph's text once, in document order, onto `lines`; the text of runs under `el` onto
    `own`. A paragraph inside another (a text box) is its own line, not also part of the one holding it."""
    for child in el:
        if child.tag == _FALLBACK:
            continue
        if child.tag == f"{_W}p":
            inner: list[str] = []
            _runs(child, inner, lines)
            lines.append("".join(inner).strip())
        elif child.tag == f"{_W}t":
            own.append(child.text or "")
        elif child.tag == f"{_W}tab":
            own.append("\t")
        elif child.tag in (f"{_W}br", f"{_W}cr"):
            own.append("\n")
        else:
            _runs(child, own, lines)


def docx_text(raw: bytes, name: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            xml = z.read("word/document.xml")
        root = ElementTree.fromstring(xml)
    except Exception as e:
        # (a damaged zip or deflate stream, an encrypted entry, bad XML: the file's problem)
        raise TranscriptError(f"{name}: not a readable Word (.docx) file ({type(e).__name__}: {e})") from e
    lines: list[str] = []
    _runs(root, [], lines)  # (text outside any paragraph is not the document's)
    if not any(lines):
        raise TranscriptError(f"{name}: the Word file holds no text")
    return "\n\n".join(ln for ln in lines if ln)

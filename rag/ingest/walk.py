"""Finding transcript files under source folders without leaving them: a link that leads out of its
source folder, and a file whose name cannot be a document id, is refused, named, and never opened."""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from rag.errors import TranscriptError
from rag.ingest.meta import sidecar_path

log = logging.getLogger("rag.ingest")

# Text files, and documents read as text (`rag.ingest.documents`: PDF, HTML, Word).
TRANSCRIPT_SUFFIXES = {".txt", ".tsv", ".md", ".json", ".pdf", ".html", ".htm", ".docx"}
# Documentation that sits beside transcripts is not a transcript.
_DOC_STEMS = {"README", "SOURCES", "LICENSE", "CHANGELOG"}
# `rag index --watch` lists the sources every two seconds: each refusal is logged once per process.
_logged: set[str] = set()


def find_transcripts(sources: Iterable[str | Path], refused: list[str] | None = None) -> list[Path]:
    """Transcript files named by `sources` (files, or folders walked recursively), sorted.

    Inside a folder, a link (to a file or a folder) is followed only where its target lies in that
    folder; a link leading out of it, a transcript whose sidecar is such a link, and a file name with
    control, invisible or undecodable characters or a backslash are skipped: each is logged as a
    warning naming it and appended to `refused` when given. A folder is never entered through a link,
    so a link loop or a link to `/` cannot make the walk endless or leave the folder."""
    found: set[Path] = set()
    problems: list[str] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            found.update(_walk(p, problems))
        elif p.is_file():
            # Named on purpose, so followed wherever it is; its name and sidecar are still checked.
            why = _refusal(p, p.parent.resolve(), link_ok=True)
            if why:
                problems.append(why)
            else:
                found.add(p)
        else:
            raise TranscriptError(f"{p}: no such file or folder")
    for msg in problems:
        if msg not in _logged and len(_logged) < 10_000:
            _logged.add(msg)
            log.warning("%s", msg)
    if refused is not None:
        refused.extend(problems)
    return sorted(found)


def is_transcript_name(f: Path) -> bool:
    """Whether a file's name is a transcript's (not hidden, a sidecar or a README)."""
    if f.suffix.lower() not in TRANSCRIPT_SUFFIXES or f.name.startswith("."):
        return False
    if f.name.lower().endswith(".meta.json"):
        return False
    return f.stem.upper() not in _DOC_STEMS


def name_problem(name: str) -> str | None:
    """Why a file name cannot name a document (its stem becomes the doc id in URLs, logs and tables),
    or None. Undecodable bytes come through `os` as lone surrogates; control characters would write
    into a terminal; invisible and bidi characters make two ids look alike; a backslash separates
    folders on other systems (`..\\..\\x.txt`)."""
    for ch in name:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            return "bytes that are not UTF-8"
        cat = unicodedata.category(ch)
        if cat == "Cc":
            return "control characters"
        if cat in ("Cf", "Zl", "Zp"):
            return "invisible or bidi formatting characters"
    if "\\" in name:
        return "a backslash"
    return None


def _walk(root: Path, problems: list[str]) -> list[Path]:
    real_root = root.resolve()
    out: list[Path] = []
    # os.walk never descends through a link to a folder (followlinks=False): one whose target is
    # inside is walked where it really is, one that leads out is named.
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        for name in dirs:
            d = here / name
            if d.is_symlink() and not _inside(d, real_root):
                problems.append(f"{_shown(d)}: link to a folder outside the source folder {root} "
                                f"({_shown(_target(d))}); not read")
        for name in files:
            f = here / name
            if not is_transcript_name(f):
                continue
            why = _refusal(f, real_root)
            if why:
                problems.append(why)
            elif f.is_file():  # a FIFO, socket or device named *.txt would block or never end
                out.append(f)
    return out


def _refusal(f: Path, real_root: Path, link_ok: bool = False) -> str | None:
    """Why `f` is not read (a message naming it), or None."""
    why = name_problem(f.name)
    if why:
        return f"{_shown(f)}: the file name has {why}; rename it to index it (not read)"
    if not link_ok and f.is_symlink() and not _inside(f, real_root):
        return f"{_shown(f)}: link to a file outside the source folder ({_shown(_target(f))}); not read"
    side = sidecar_path(f)
    if side.is_symlink() and not _inside(side, real_root):
        return (f"{_shown(f)}: its metadata sidecar {side.name} links outside the source folder "
                f"({_shown(_target(side))}); neither file read")
    return None


def leads_out(f: Path, folders: Iterable[Path] = ()) -> bool:
    """Whether `f` is a link whose target lies outside its own folder and outside each of `folders`
    (a file swapped for such a link after it was indexed must not be read in its place)."""
    if not f.is_symlink():
        return False
    return not any(_inside(f, d.resolve()) for d in (f.parent, *folders))


def _target(link: Path) -> Path:
    try:
        return link.resolve()
    except (OSError, RuntimeError):  # a link loop
        return Path(os.readlink(link))


def _inside(link: Path, real_root: Path) -> bool:
    """Whether a link's final target lies in the (resolved) source folder; a loop never does."""
    try:
        target = link.resolve(strict=False)
    except (OSError, RuntimeError):
        return False
    return target == real_root or target.is_relative_to(real_root)


def _shown(p: Path) -> str:
    """A path fit for a log line: odd characters escaped, so a name cannot write into the terminal."""
    s = str(p)
    return ascii(s) if name_problem(s.replace("\\", "/")) else s

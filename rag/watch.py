"""`rag index --watch`: poll the sources and rebuild when a transcript appears, changes or goes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rag.errors import RagError
from rag.ingest import find_transcripts
from rag.ingest.meta import sidecar_path


def snapshot(sources: list[Path]) -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of every transcript and sidecar under the sources."""
    out: dict[str, tuple[int, int]] = {}
    for f in find_transcripts([s for s in sources if Path(s).exists()]):
        for p in (f, sidecar_path(f)):
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            out[str(p)] = (st.st_mtime_ns, st.st_size)
    return out


def watch(
    sources: list[Path],
    rebuild: Callable[[], None],
    interval: float = 2.0,
    settle: float = 1.0,
    max_rebuilds: int | None = None,
    on_error: Callable[[Exception], None] = lambda e: None,
) -> int:
    """Call `rebuild` now and whenever the sources change; returns the number of rebuilds.

    A change is acted on once the snapshot has been stable for `settle` seconds, so a transcript
    still being copied is not read half-written. Polling (not inotify) works on every filesystem.
    """
    rebuilds = 0
    last = None
    pending_since: float | None = None
    while max_rebuilds is None or rebuilds < max_rebuilds:
        snap = snapshot(sources)
        if snap != last:
            last, pending_since = snap, time.monotonic()
        if pending_since is not None and time.monotonic() - pending_since >= settle:
            pending_since = None
            try:
                rebuild()
            except RagError as e:  # a failed build leaves the live index; keep watching
                on_error(e)
            rebuilds += 1
            continue
        time.sleep(interval if pending_since is None else min(interval, settle))
    return rebuilds

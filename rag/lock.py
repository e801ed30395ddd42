"""An exclusive lock file serialising index builds; the kernel drops it when its holder dies."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import RagError


class LockTimeout(RagError):
    """Another build holds the index lock."""


@contextmanager
def exclusive(path: Path, timeout: float = 600.0, poll: float = 0.2) -> Iterator[None]:
    """Hold an exclusive flock on `path`, waiting up to `timeout` seconds.

    flock (not a create-if-absent marker file) is used because a process killed with -9 releases it
    automatically: a stale lock from a dead process never blocks the next build.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read(path)
                    raise LockTimeout(
                        f"{path}: another build is running ({holder or 'unknown holder'}); "
                        f"waited {timeout:.0f} s"
                    ) from None
                time.sleep(poll)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""

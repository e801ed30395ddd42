"""Embeddings a build has computed so far, kept on disk block by block, so that a build interrupted
(Ctrl-C, kill, a crash) resumes without re-embedding what it had done. Cleared once a version that
holds them is written."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

PREFIX = ".embedding-"


def passage_key(embed_text: str, text: str) -> str:
    """What a passage's vectors depend on: the text embedded and the passage its sentences come from."""
    return hashlib.sha1(f"{embed_text}\x1f{text}".encode()).hexdigest()


class Checkpoint:
    """Blocks of (passage key, vector, sentence vectors) under `index_dir/.embedding-<fingerprint>/`."""

    def __init__(self, index_dir: Path, fingerprint: str) -> None:
        self.index_dir = Path(index_dir)
        self.folder = self.index_dir / f"{PREFIX}{hashlib.sha1(fingerprint.encode()).hexdigest()[:16]}"

    def load(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every passage saved so far; a block cut short by a crash is skipped (it is embedded again).
        Another model's blocks can never be reused: they are removed."""
        for other in self.index_dir.glob(f"{PREFIX}*"):
            if other != self.folder:
                shutil.rmtree(other, ignore_errors=True)
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for f in sorted(self.folder.glob("block-*.npz")) if self.folder.is_dir() else []:
            try:
                with np.load(f) as z:
                    keys, vectors, ptr, sentences = z["keys"], z["vectors"], z["ptr"], z["sentences"]
            except (OSError, ValueError, KeyError, EOFError):
                continue
            for i, k in enumerate(keys):
                out[str(k)] = (vectors[i], sentences[ptr[i]:ptr[i + 1]])
        return out

    def save(self, keys: list[str], vectors: np.ndarray, sentences: list[np.ndarray]) -> None:
        """One block, written whole or not at all (a temporary file renamed into place)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        ptr = np.zeros(len(keys) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([len(s) for s in sentences])
        dim = vectors.shape[1]
        flat = np.concatenate(sentences).astype(np.float16) if sentences and ptr[-1] else np.zeros((0, dim), np.float16)
        name = f"block-{time.time_ns()}-{os.getpid()}"
        tmp = self.folder / f".{name}.npz"
        np.savez(tmp, keys=np.array(keys), vectors=vectors.astype(np.float32), ptr=ptr, sentences=flat)
        os.replace(tmp, self.folder / f"{name}.npz")

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class Progress:
    """'embedded 1,024/70,000 passages (1.5%), 8.2/s, ETA 2h 20m' lines, one per block."""

    def __init__(self, total: int, done: int, emit: Callable[[str], None]) -> None:
        self.total, self.start_done, self.done, self.emit = total, done, done, emit
        self.started = time.perf_counter()

    def advance(self, n: int) -> None:
        self.done += n
        elapsed = time.perf_counter() - self.started
        rate = (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        self.emit(f"embedded {self.done:,}/{self.total:,} passages ({100 * self.done / max(1, self.total):.1f}%), "
                  f"{rate:.1f}/s, ETA {_duration(eta)}")


def _duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s"

"""Chunk records and lexical tokens of a loaded index, read from disk when asked for, so a service
over a million passages holds offsets and a bounded cache instead of every record.

`chunks.jsonl` and `tokens.jsonl` are read through byte offsets (`chunk_offsets.npy`, written with
them; an index written before that has them computed once by scanning the file)."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

CACHE = 8192  # records kept in memory (a question touches a few dozen)


def line_offsets(path: Path) -> np.ndarray:
    """Byte offset of every line start, plus the file's size: (n + 1,) int64."""
    starts = [0]
    with open(path, "rb") as f:
        pos = 0
        for block in iter(lambda: f.read(1 << 24), b""):
            nl = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
            starts.extend((nl + pos + 1).tolist())
            pos += len(block)
    if starts[-1] != pos:
        starts.append(pos)  # a last line without a newline
    return np.asarray(starts, dtype=np.int64)


class Lines(Sequence):
    """Line i of a JSONL file, parsed by `parse`, with an LRU cache; thread-safe. With `data` (the
    file's bytes, read once) lines come from memory and the file is never read again."""

    def __init__(self, path: Path, offsets: np.ndarray, parse: Callable[[Any], Any], cache: int = CACHE,
                 data: bytes | None = None) -> None:
        self.path = Path(path)
        self.data = data
        self.offsets = offsets
        self.parse = parse
        self._cache: OrderedDict[int, Any] = OrderedDict()
        self._size = cache
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, i: int) -> Any: ...

    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"row {i} out of range (0..{n - 1})")
        with self._lock:
            if i in self._cache:
                self._cache.move_to_end(i)
                return self._cache[i]
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        if self.data is not None:
            value = self.parse(json.loads(self.data[start:end]))
        else:
            with open(self.path, "rb") as f:
                f.seek(start)
                value = self.parse(json.loads(f.read(end - start)))
        with self._lock:
            self._cache[i] = value
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return value

    def __iter__(self) -> Iterator[Any]:
        # A full pass streams the file instead of seeking line by line (rebuilds, metadata columns).
        if self.data is not None:
            for line in self.data.splitlines():
                yield self.parse(json.loads(line))
            return
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                yield self.parse(json.loads(line))

    def all(self) -> list[Any]:
        return list(iter(self))

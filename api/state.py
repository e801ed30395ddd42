"""The service's live state: the embedding model (loaded once), the `Assistant` over the index that
`CURRENT` names (reloaded in the background and swapped in atomically when the pointer changes),
background reindex runs, and a small cache of transcripts for `/documents/{doc_id}`."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from api.errors import Unavailable, redact_paths
from rag.config import PROJECT_ROOT, Settings
from rag.errors import RagError

log = logging.getLogger("api")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class SerializedEmbedder:
    """The shared embedder with its calls serialised: HF fast tokenizers are not safe to call from
    several threads at once, and on a CPU one encode already uses every core. Passages are embedded
    in slices so a background reindex never holds the model for longer than one slice."""

    def __init__(self, inner: Any, slice_size: int = 32) -> None:
        self.inner = inner
        self.slice_size = slice_size
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # model_id, dim, show_progress, test counters ...
        return getattr(self.inner, name)

    def fingerprint(self) -> str:
        return self.inner.fingerprint()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self.inner.embed_queries(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if len(texts) <= self.slice_size:
            with self._lock:
                return self.inner.embed_passages(texts)
        parts = []
        for i in range(0, len(texts), self.slice_size):
            with self._lock:
                parts.append(self.inner.embed_passages(texts[i : i + self.slice_size]))
        return np.concatenate(parts, axis=0)


@dataclass
class ReindexRun:
    status: str = "never"  # never, running, succeeded, failed
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float | None = None
    summary: str | None = None
    version: str | None = None
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)  # unreadable files, and the failure itself
    warnings: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ServiceState:
    """Everything the request handlers share. Handlers only read `assistant()`: the reference is
    replaced in one assignment, so a request keeps the Assistant it started with."""

    def __init__(self, settings: Settings, reload_interval: float = 1.0, retry_after: float = 30.0,
                 max_answers: int = 1, max_llm_answers: int = 8) -> None:
        self.settings = settings
        # Answering is CPU-bound, mostly holds the GIL, and torch already uses every core for the query
        # embedding: answering one at a time gave the best throughput and latency at 1, 4 and 16
        # clients on 2 cores (bench/http_bench.py: 34 req/s vs 26 with 4 at once), so requests queue
        # in arrival order.
        # LLM answers mostly wait on the model and get their own, larger pool so they never starve
        # extractive ones. Created in the event loop (the lifespan), see `open_limiters`.
        self.max_answers, self.max_llm_answers = max_answers, max_llm_answers
        self._limiters: dict[str, Any] = {}
        self.reload_interval = reload_interval
        self.retry_after = retry_after
        self.embedder: SerializedEmbedder | None = None
        self.generators: dict[str, Any] = {}  # built once: a reload must not reload an LLM
        self.started = time.monotonic()
        self.load_error: str | None = None  # why the index named by CURRENT is not the one served
        self.loaded_at: str | None = None
        self.reloads = 0
        self.reload_failures = 0
        self.reindex_runs = 0
        self.last_check: str | None = None
        self._assistant: Any = None
        self._load_lock = threading.Lock()  # one load at a time
        self._failed: tuple[str, float] | None = None  # (pointer, monotonic time) of the last failed load
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._reindex_lock = threading.Lock()
        self._reindex_thread: threading.Thread | None = None
        self.reindex_run = ReindexRun()
        self._docs: OrderedDict[tuple[str, int, int], tuple[Any, str]] = OrderedDict()
        self._docs_lock = threading.Lock()
        # Damage found on disk in the served version's files (it keeps being served: see `check_files`).
        self.damage: list[str] = []
        self._file_stats: tuple[Any, ...] | None = None

    # ------------------------------------------------------------------------- life cycle

    def start(self) -> None:
        """Load the model and the index (blocking), then watch CURRENT for replacements."""
        try:
            self._ensure_embedder()
        except Exception as e:  # noqa: BLE001 - reported in /health; requests get 503
            self.load_error = _describe(e)
            log.error("cannot load the embedding model: %s", self.load_error)
        self.refresh(wait=True)
        if self.reload_interval > 0:
            self._watcher = threading.Thread(target=self._watch, name="rag-index-watch", daemon=True)
            self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        if self._reindex_thread is not None:
            self._reindex_thread.join(timeout=0.1)  # a build in progress finishes on its own (daemon)

    def _watch(self) -> None:
        while not self._stop.wait(self.reload_interval):
            try:
                self.refresh()
                self.check_files()
            except Exception:
                log.exception("index watcher")

    def check_files(self) -> list[str]:
        """Compare the served version's files with its manifest (sizes and times, a digest where they
        differ) and keep what is wrong in `damage` for /health. The answers go on: a version small
        enough was read into memory whole (rag.store.IN_MEMORY_BYTES), and the next `rag index`
        rebuilds a damaged version in full."""
        from rag.store import version_parts, version_problems

        a = self._assistant
        index = a.index if a is not None else None
        parts = version_parts(index) if index is not None else ()
        if not parts or not all(hasattr(part, "folder") for part in parts):  # nothing loaded, or Milvus
            return self.damage
        stats = (index.version, *(_stat(part.folder / name) for part in parts for name in part.manifest.get("files", {})))
        if stats != self._file_stats:  # hashed only when something changed since the last look
            damage = version_problems(index, full=False)
            if damage and not self.damage:
                log.error("index version %s is damaged on disk: %s", index.version, "; ".join(damage))
            self.damage, self._file_stats = damage, stats
        return self.damage

    @property
    def backends(self) -> list[str]:
        return ["extractive", *self.generators]

    def _ensure_embedder(self) -> SerializedEmbedder:
        if self.embedder is None:
            from rag.app import make_embedder, make_generators

            emb = make_embedder(self.settings)
            load = getattr(emb, "load", None)
            if callable(load):
                load()  # the model loads here, once, not on the first request
            self.embedder = SerializedEmbedder(emb)
            try:
                self.generators = make_generators(self.settings)
            except Exception as e:  # noqa: BLE001 - a misconfigured LLM backend leaves extractive
                log.warning("LLM backends unavailable: %s", _describe(e))
        return self.embedder

    # ---------------------------------------------------------------------------- serving

    def open_limiters(self) -> None:
        import anyio

        self._limiters = {"extractive": anyio.CapacityLimiter(self.max_answers),
                          "llm": anyio.CapacityLimiter(self.max_llm_answers)}

    def limiter(self, backend: str) -> Any:
        """The worker pool a request for `backend` (or a search: "extractive") runs in."""
        return self._limiters.get("extractive" if backend == "extractive" else "llm")

    def assistant(self) -> Any:
        """The Assistant to answer this request with; 503 (`Unavailable`) while there is none."""
        a = self._assistant
        if a is None:
            raise Unavailable(self.load_error or "the index is still loading; try again in a moment")
        return a

    @property
    def current(self) -> Any:
        return self._assistant

    def pointer(self) -> str | None:
        """The version the store serves now: CURRENT's folder, or Milvus's CURRENT row (one small read)."""
        from rag.app import live_version

        try:
            return live_version(self.settings)
        except Exception as e:  # noqa: BLE001 - an unreachable store keeps the version served
            log.debug("cannot read the live version: %s", _describe(e))
            return None

    def refresh(self, wait: bool = False) -> bool:
        """Load the index CURRENT names if it is not the one served; True when a new one was swapped
        in. A failed load keeps the old Assistant and is reported in /health; the same pointer is
        retried after `retry_after` seconds, a new pointer at once."""
        self.last_check = _now()
        pointer = self.pointer()
        current = self._assistant
        if current is not None and current.index.version == pointer and self.load_error:
            self.load_error, self._failed = None, None  # the pointer is back on the version served
        if not self._needs_load(pointer):
            return False
        if not self._load_lock.acquire(blocking=wait):
            return False  # another thread is loading; it will swap
        try:
            pointer = self.pointer()  # it may have moved while we waited
            if not self._needs_load(pointer):
                return False
            if pointer is None:
                self.load_error = (f"{self.settings.index_dir}: no index built yet; build one with "
                                   f"`rag index --index-dir {self.settings.index_dir}`")
                return False
            try:
                assistant = self._load()
            except Exception as e:  # noqa: BLE001 - any failure keeps the old index live
                self._failed = (pointer, time.monotonic())
                self.reload_failures += 1
                self.load_error = _describe(e)
                log.error("cannot load index version %s: %s", pointer, self.load_error)
                return False
            first = self._assistant is None
            self._assistant = assistant  # the swap: one reference assignment
            self.damage, self._file_stats = [], None  # the old version's damage; the new one is looked at next
            self.loaded_at = _now()
            self.load_error = None
            self._failed = None
            if not first:
                self.reloads += 1
            log.info("serving index version %s (%d documents, %d chunks)", assistant.index.version,
                     len(assistant.index.manifest.get("documents", {})), len(assistant.index))
            return True
        finally:
            self._load_lock.release()

    def _needs_load(self, pointer: str | None) -> bool:
        current = self._assistant
        if pointer is None:
            return current is None
        if current is not None and current.index.version == pointer:
            return False
        # A version that failed to load is retried only after `retry_after` seconds.
        failed_recently = bool(self._failed) and self._failed[0] == pointer and (
            time.monotonic() - self._failed[1] < self.retry_after)
        return not failed_recently

    def _load(self) -> Any:
        from rag.app import load_assistant

        assistant = load_assistant(self.settings, embedder=self._ensure_embedder(), generators=self.generators)
        try:  # warm the caches (jieba, the dictionary, retriever metadata, IDF) before the first request sees it
            assistant.ask("revenue 收入", top_k=1)
        except Exception:
            log.debug("warm-up question failed", exc_info=True)
        return assistant

    # ---------------------------------------------------------------------------- reindex

    def start_reindex(self) -> tuple[bool, ReindexRun]:
        """Start an incremental rebuild from the configured sources in the background; False when one
        is already running."""
        with self._reindex_lock:
            if self.reindex_run.status == "running":
                return False, self.reindex_run
            self.reindex_run = ReindexRun(status="running", started_at=_now())
            self.reindex_runs += 1
            self._reindex_thread = threading.Thread(target=self._reindex, args=(self.reindex_run,),
                                                    name="rag-reindex", daemon=True)
            self._reindex_thread.start()
            return True, self.reindex_run

    def _reindex(self, run: ReindexRun) -> None:
        from rag.app import publisher
        from rag.build import build_index

        t0 = time.perf_counter()
        s = self.settings
        try:
            report = build_index(list(s.sources), s.index_dir, self._ensure_embedder(),
                                 max_tokens=s.chunk_max_tokens, overlap_tokens=s.chunk_overlap_tokens,
                                 approx_threshold=s.approx_threshold, publish=publisher(s))
            run.summary, run.version = report.summary(), report.version
            run.added, run.updated, run.removed = report.added, report.updated, report.removed
            run.unchanged, run.warnings = len(report.unchanged), len(report.warnings)
            run.errors = list(report.errors)
            self._failed = None
            self.refresh(wait=True)
            served = self._assistant.index.version if self._assistant is not None else None
            if served != report.version:
                run.errors.append(f"built version {report.version} but could not serve it: {self.load_error}")
                run.status = "failed"
            else:
                run.status = "succeeded"
        except Exception as e:
            if not isinstance(e, (RagError, ValueError, OSError)):
                log.exception("reindex failed")
            run.errors.append(_describe(e))
            run.status = "failed"
        finally:
            run.seconds = round(time.perf_counter() - t0, 3)
            run.finished_at = _now()
            log.info("reindex %s: %s", run.status, run.summary or "; ".join(run.errors))

    # -------------------------------------------------------------------------- documents

    def source_path(self, source: str) -> Path | None:
        """Where a manifest's `source` is now: as written, else under the project or the sources. A
        file since replaced by a link out of its folder is not followed (`rag index` would not read it)."""
        from rag.ingest.walk import leads_out

        p = Path(source)
        folders = [Path(s) for s in self.settings.sources if Path(s).is_dir()]
        candidates = [p] if p.is_absolute() else [Path.cwd() / p, PROJECT_ROOT / p, self.settings.index_dir.parent / p]
        candidates += [d / p.name for d in folders]
        return next((c for c in candidates if c.is_file() and not leads_out(c, folders)), None)

    def transcript(self, path: Path) -> tuple[Any, str]:
        """(Transcript, source hash) of a file, cached while its size and mtime stay the same."""
        from rag.build import source_hash
        from rag.ingest import read_transcript

        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
        with self._docs_lock:
            hit = self._docs.get(key)
            if hit is not None:
                self._docs.move_to_end(key)
                return hit
        value = (read_transcript(path), source_hash(path))
        with self._docs_lock:
            self._docs[key] = value
            while len(self._docs) > 16:
                self._docs.popitem(last=False)
        return value

    # ---------------------------------------------------------------------------- reports

    def _public(self, message: str) -> str:
        """A reason as a client may see it: index files as `<version>/<file>`, other paths cut."""
        for root in {str(self.settings.index_dir.resolve()), str(self.settings.index_dir)}:
            message = message.replace(root + "/", "")
        return redact_paths(message)

    def health(self) -> dict[str, Any]:
        a = self._assistant
        manifest = a.index.manifest if a is not None else {}
        emb = self.embedder
        status = "unavailable" if a is None else ("degraded" if self.load_error or self.damage else "ok")
        return {
            "status": status,
            "index": {
                "loaded": a is not None,
                "version": a.index.version if a is not None else None,
                "current_pointer": self.pointer(),
                "built_at": manifest.get("built_at"),
                "documents": len(manifest.get("documents", {})),
                "chunks": len(a.index) if a is not None else 0,
                # Reasons name files by their place in the index folder, never by a path on this host.
                "error": self._public(self.load_error) if self.load_error else None,
                "damage": [self._public(d) for d in self.damage],
            },
            "model": {
                "id": getattr(emb, "model_id", self.settings.embed_model) if emb else self.settings.embed_model,
                "loaded": emb is not None,
                "dim": manifest.get("model", {}).get("dim"),
            },
            "backends": list(self.backends),
            "reload": {"interval_s": self.reload_interval, "reloads": self.reloads,
                       "failures": self.reload_failures, "loaded_at": self.loaded_at, "last_check": self.last_check},
            "reindex": {"status": self.reindex_run.status, "finished_at": self.reindex_run.finished_at},
            "uptime_s": round(time.monotonic() - self.started, 1),
        }


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _describe(e: BaseException) -> str:
    """A one-line reason for /health and logs; library errors already carry the rule and a fix."""
    if isinstance(e, (RagError, ValueError, OSError)):
        return str(e) or type(e).__name__
    return f"unexpected {type(e).__name__}: {e}"

"""(Re)building the index: diff sources against the manifest by content hash, chunk and embed only
what changed, reuse everything else, and swap the new version in atomically under a lock."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rag.checkpoint import Checkpoint, Progress, passage_key
from rag.chunk import CHUNKER_VERSION, chunk_transcript
from rag.embed import Embedder, passage_and_sentence_vectors
from rag.errors import IndexDamagedError, TranscriptError
from rag.ingest import INGEST_VERSION, find_transcripts, read_transcript
from rag.ingest.meta import sidecar_path
from rag.lexical import TOKENIZER_VERSION, tokenize
from rag.lock import exclusive
from rag.sentences import SPLIT_VERSION, spans_in_embed_text
from rag.store import (
    DEFAULT_APPROX_THRESHOLD,
    FULL_CHECK_BYTES,
    Index,
    current_folder,
    index_bytes,
    load_index,
    named_disk_full,
    verify_files,
    version_problems,
    write_index,
)
from rag.types import Chunk, Transcript

LOCK_FILE = ".lock"
# Passages embedded, checkpointed and reported on together: about half a minute of work on 2 cores.
EMBED_BLOCK = 256
# Delta versions (rag/segments.py) from this many passages on, while the change is at most this share
# of the base: below, a full build takes seconds anyway.
DELTA_MIN = 20_000
DELTA_SHARE = 0.05


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one per unreadable file, naming it
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the version was written (a delta, a compaction)
    documents: list[dict[str, Any]] = field(default_factory=list)  # what each added or changed file was read as
    chunks_embedded: int = 0
    chunks_resumed: int = 0  # embedded by an interrupted build before this one, read from its checkpoint
    chunks_total: int = 0
    embed_seconds: float = 0.0
    seconds: float = 0.0
    version: str | None = None  # the live version after the build
    written: bool = False  # False when nothing changed and the live index was kept
    published: str | None = None  # what a second store (Milvus) was sent, when one is configured

    def summary(self) -> str:
        return (
            f"documents: {len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged; {self.chunks_embedded} chunks embedded "
            f"({self.chunks_total} in index); {len(self.errors)} unreadable; {self.seconds:.1f}s"
        ) + "".join(f"; {n}" for n in self._notes()) + (f"\n{self.published}" if self.published else "")

    def _notes(self) -> list[str]:
        resumed = [f"{self.chunks_resumed} passages resumed from an interrupted build"] if self.chunks_resumed else []
        return resumed + self.notes


def source_hash(path: Path) -> str:
    """Content hash of a transcript and its metadata sidecar (either changing re-reads the file)."""
    h = hashlib.sha256(path.read_bytes())
    side = sidecar_path(path)
    if side.exists():
        h.update(b"\0sidecar\0" + side.read_bytes())
    return h.hexdigest()


def _previous(index_dir: Path, embedder: Embedder, rebuild: bool, report: BuildReport) -> Index | None:
    """The live index to build on (checked against the embedder), or None. A live version whose files
    are missing or damaged is not built on: the build re-reads and re-embeds everything, and says so."""
    if rebuild or current_folder(index_dir) is None:
        return None
    try:  # another model or format raises: that is the user's choice to make (--rebuild)
        old = load_index(index_dir, embedder.model_id, embedder.fingerprint(), verify=False)
        # Every file is hashed while that is cheap; a million-passage index compares sizes and times
        # instead, so that a one-call change does not cost hashing the whole corpus.
        problems = version_problems(old, full=index_bytes(old) <= FULL_CHECK_BYTES)
        if problems:
            raise IndexDamagedError(problems[0] + (f" and {len(problems) - 1} more" if len(problems) > 1 else ""))
    except IndexDamagedError as e:
        report.notes.append(f"the live version is damaged ({e}); rebuilt in full")
        return None
    return old


def build_index(
    sources: list[Path],
    index_dir: Path,
    embedder: Embedder,
    *,
    max_tokens: int = 350,
    overlap_tokens: int = 40,
    keep_missing: bool = False,
    rebuild: bool = False,
    approx_threshold: int = DEFAULT_APPROX_THRESHOLD,
    lock_timeout: float = 600.0,
    publish: Callable[[Index], str] | None = None,
    delta_min: int = DELTA_MIN,
    delta_share: float = DELTA_SHARE,
    progress: Callable[[str], None] | None = None,
) -> BuildReport:
    """Bring the index at `index_dir` up to date with `sources` (files or folders). `publish`, when
    given, is called under the build lock with the live version (new or unchanged) and sends it to a
    second store; its summary goes into the report. An index of at least `delta_min` passages takes a
    change of at most `delta_share` of its passages as a delta version (rag/segments.py): only the
    change is written; a larger change, or a delta grown past that share, is a full build.
    `progress` receives a line per block of passages embedded (count, rate, ETA); the blocks are kept
    on disk until the version is written, so an interrupted build resumes where it stopped."""
    started = time.perf_counter()
    index_dir = Path(index_dir)
    report = BuildReport()
    refused: list[str] = []
    files = find_transcripts(sources, refused=refused)  # a missing source fails here, before anything changes
    # Links out of a source folder and odd file names are never opened: listed with the unreadable.
    report.errors.extend(refused)
    chunking = {"max_tokens": max_tokens, "overlap_tokens": overlap_tokens, "version": CHUNKER_VERSION,
                "tokenizer": TOKENIZER_VERSION, "ingest": INGEST_VERSION, "sentences": SPLIT_VERSION}
    with exclusive(index_dir / LOCK_FILE, timeout=lock_timeout), named_disk_full(index_dir):
        old = _previous(index_dir, embedder, rebuild, report)
        checkpoint = Checkpoint(index_dir, embedder.fingerprint())
        old_docs: dict[str, Any] = old.manifest.get("documents", {}) if old else {}
        same_chunking = bool(old) and old.manifest.get("chunking") == chunking
        old_rows: dict[str, list[int]] = old.columns.rows_by_doc() if old else {}

        docs: dict[str, dict[str, Any]] = {}
        plan: list[tuple[str, list[Chunk] | None, list[int] | None]] = []  # (doc_id, new chunks | old rows)
        for path in files:
            doc_id = path.stem
            if doc_id in docs:
                report.errors.append(f"{path}: document id {doc_id!r} already comes from {docs[doc_id]['source']}; skipped")
                continue
            try:
                digest = source_hash(path)
            except OSError as e:
                report.errors.append(f"{path}: cannot read file: {e.strerror or e}")
                digest = None
            prev = old_docs.get(doc_id)
            if digest and prev and prev["hash"] == digest and same_chunking:
                docs[doc_id] = {**prev, "source": str(path)}
                plan.append((doc_id, None, old_rows.get(doc_id, [])))
                report.unchanged.append(doc_id)
                continue
            try:
                if digest is None:
                    raise TranscriptError(f"{path}: cannot read file")
                t = read_transcript(path)
            except TranscriptError as e:
                if digest is not None:
                    report.errors.append(str(e))
                if prev:  # a broken new version never replaces a good old one
                    docs[doc_id] = prev
                    plan.append((doc_id, None, old_rows.get(doc_id, [])))
                    report.warnings.append(f"{doc_id}: kept the previously indexed version")
                continue
            chunks = chunk_transcript(t, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
            docs[doc_id] = _doc_entry(t, str(path), digest, chunks)
            report.documents.append(_row(t, path, chunks))
            plan.append((doc_id, chunks, None))
            (report.updated if prev else report.added).append(doc_id)
            report.warnings.extend(f"{t.meta.source}: {w}" for w in t.warnings)

        if keep_missing:
            for doc_id, entry in old_docs.items():
                if doc_id not in docs:
                    docs[doc_id] = entry
                    plan.append((doc_id, None, old_rows.get(doc_id, [])))
                    report.unchanged.append(doc_id)
        report.removed = sorted(d for d in old_docs if d not in docs)

        # An index from before sentence vectors is rewritten with them (its passages re-embedded).
        if old and not (report.added or report.updated or report.removed) and same_chunking \
                and old.sentence_ptr is not None:
            report.chunks_total = len(old)
            report.version = old.version
            if publish is not None:
                report.published = publish(old)
            report.seconds = time.perf_counter() - started
            return report

        delta = _delta_plan(plan, old, old_rows, delta_share) if (
            old is not None and delta_min and len(old) >= delta_min and same_chunking
            and old.sentence_ptr is not None) else None
        if delta is not None:
            chunks, tokens, vectors, sentences = _materialize(delta.pairs, old, embedder, report, checkpoint, progress)
            report.notes.append(f"delta version over {delta.base}: {len(chunks)} passages written, "
                                f"{len(delta.deleted)} of the base's deleted")
        else:
            if old is not None and index_bytes(old) > FULL_CHECK_BYTES:
                verify_files(index_dir, old)  # a full build copies from it: hashed now if not before
            chunks, tokens, vectors, sentences = _assemble(plan, old, embedder, report, checkpoint, progress)
        manifest = {
            "model": {"id": embedder.model_id, "dim": int(embedder.dim), "fingerprint": embedder.fingerprint(),
                      "backend": getattr(embedder, "backend", "torch"),
                      "precision": getattr(embedder, "precision", "fp32")},
            "chunking": chunking,
            "documents": docs,
            "sources": [str(s) for s in sources],
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "embed_seconds": round(report.embed_seconds, 3),
            "chunks_embedded": report.chunks_embedded,
        }
        report.chunks_total = len(chunks)
        report.seconds = time.perf_counter() - started
        manifest["build_seconds"] = round(report.seconds, 3)
        if delta is not None:
            manifest["avg_tokens"] = old.manifest.get("avg_tokens")
            report.chunks_total = delta.base_size - len(delta.deleted) + len(chunks)
        folder = write_index(index_dir, chunks, tokens, vectors, manifest, approx_threshold=approx_threshold,
                             sentences=sentences, base=(delta.base, delta.deleted, delta.documents) if delta is not None else None)
        report.version = folder.name
        report.written = True
        checkpoint.clear()
        if publish is not None:
            report.published = publish(load_index(index_dir, verify=False))
        report.seconds = time.perf_counter() - started
    return report


METADATA_FIELDS = ("company", "ticker", "period")


def metadata_missing(entry: dict[str, Any]) -> list[str]:
    """The identifying fields a document's metadata lacks (it is indexed all the same)."""
    return [k for k in METADATA_FIELDS if not entry.get(k)]


def _row(t: Transcript, path: Path, chunks: list[Chunk]) -> dict[str, Any]:
    m = t.meta
    return {"file": path.name, "layout": m.layout, "company": m.company, "ticker": m.ticker, "period": m.period,
            "language": m.language, "chunks": len(chunks), "warnings": list(t.warnings),
            "metadata_missing": metadata_missing({"company": m.company, "ticker": m.ticker, "period": m.period})}


def documents_table(rows: list[dict[str, Any]]) -> str:
    """The documents a build added or changed, one line each, unknown fields shown as '?'."""
    cols = ("file", "layout", "company", "ticker", "period", "language", "chunks", "warnings")
    cells = [[str(r[c] if r[c] not in (None, "") else "?") if c != "warnings" else str(len(r[c]) or "-")
              for c in cols] for r in rows]
    widths = [max(_width(x) for x in [c, *(row[i] for row in cells)]) for i, c in enumerate(cols)]

    def line(values: list[str]) -> str:
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths)).rstrip()

    return "\n".join([line(list(cols)), "  ".join("-" * w for w in widths), *map(line, cells)])


def _width(text: str) -> int:
    """Columns a string takes in a terminal: CJK characters are two wide."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _doc_entry(t: Transcript, source: str, digest: str, chunks: list[Chunk]) -> dict[str, Any]:
    m = t.meta
    return {
        "source": source,
        "hash": digest,
        "chunk_ids": [c.id for c in chunks],
        "company": m.company,
        "ticker": m.ticker,
        "period": m.period,
        "call_date": m.call_date,
        "language": m.language,
        "layout": m.layout,
        "aliases": list(m.aliases),
        "warnings": list(t.warnings),
        "indexed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _assemble(
    plan: list[tuple[str, list[Chunk] | None, list[int] | None]],
    old: Index | None,
    embedder: Embedder,
    report: BuildReport,
    checkpoint: Checkpoint | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[Chunk], list[list[str]], np.ndarray, list[np.ndarray]]:
    """Chunks, tokens, vectors and sentence vectors of a full new version; only chunks never embedded
    before (with their sentences) are embedded."""
    # A chunk whose embedding text is unchanged keeps its vectors even inside an edited transcript.
    reusable: dict[tuple[str, str], int] = {}
    if old is not None:
        reusable = {(c.id, c.embed_text): i for i, c in enumerate(old.chunks)}
    pairs: list[tuple[Chunk, int | None]] = []
    for _doc_id, new_chunks, rows in plan:
        if rows is not None:  # an unchanged document: its old rows
            assert old is not None
            pairs += [(old.chunks[r], r) for r in rows]
        else:
            pairs += [(c, reusable.get((c.id, c.embed_text))) for c in new_chunks or []]
    return _materialize(pairs, old, embedder, report, checkpoint, progress)


class Delta(NamedTuple):
    """What a delta version over the old version's base holds."""

    pairs: list[tuple[Chunk, int | None]]  # its passages, with the old row to copy vectors from
    base: str  # the base version's name
    deleted: np.ndarray  # keys of the base's passages it deletes
    base_size: int
    documents: dict[str, Any]  # the base's documents (a delta's manifest lists only what differs)


def _delta_plan(plan: list[tuple[str, list[Chunk] | None, list[int] | None]], old: Any,
                old_rows: dict[str, list[int]], share: float) -> Delta | None:
    """The delta version for `plan` over the old version's base; None when the change (with any delta
    already there) exceeds `share` of the base and a full build should fold it in."""
    from rag.segments import Segmented

    segmented = isinstance(old, Segmented)
    base = old.base if segmented else old
    n_live_base = old.n_base if segmented else len(old)
    keep = np.zeros(len(base), dtype=bool)
    pairs: list[tuple[Chunk, int | None]] = []
    for doc_id, new_chunks, rows in plan:
        if rows is not None:
            for g in rows:
                if g < n_live_base:
                    keep[old.locate(g)[1] if segmented else g] = True
                else:  # already in the old delta: carried into the new one
                    pairs.append((old.chunks[g], g))
        else:
            prev = {(old.chunks[g].id, old.chunks[g].embed_text): g for g in old_rows.get(doc_id, [])}
            pairs += [(c, prev.get((c.id, c.embed_text))) for c in new_chunks or []]
    deleted = base.keys[~keep]
    if len(pairs) + len(deleted) > share * len(base):
        return None
    return Delta(pairs, base.version, deleted, len(base), base.manifest.get("documents", {}))


def _materialize(pairs: list[tuple[Chunk, int | None]], old: Any, embedder: Embedder, report: BuildReport,
                 checkpoint: Checkpoint | None = None, progress: Callable[[str], None] | None = None,
                 ) -> tuple[list[Chunk], list[list[str]], np.ndarray, list[np.ndarray]]:
    """Tokens, vectors and sentence vectors for (chunk, old row or None) pairs: copied from the old
    version where it has them, embedded otherwise."""
    same_tokens = old is not None and old.manifest.get("chunking", {}).get("tokenizer") == TOKENIZER_VERSION
    # Vectors are copied only together with sentence vectors; an older index is re-embedded.
    with_sentences = old is not None and old.sentence_ptr is not None
    chunks = [c for c, _ in pairs]
    tokens = [old.tokens[r] if (same_tokens and r is not None) else tokenize(c.embed_text) for c, r in pairs]
    # Sentences split another way than the old version's have no stored vector each: re-embedded.
    same_split = old is not None and old.manifest.get("chunking", {}).get("sentences") == SPLIT_VERSION
    sources = [r if with_sentences and (r is None or same_split or _same_sentences(old, r, c)) else None
               for c, r in pairs]
    dim = int(embedder.dim)
    vectors = np.zeros((len(chunks), dim), dtype=np.float32)
    sentences: list[np.ndarray] = [np.zeros((0, dim), dtype=np.float16)] * len(chunks)
    for i, r in enumerate(sources):
        if r is not None:
            vectors[i] = old.embeddings[r]
            sentences[i] = np.asarray(old.sentences_of(r))
    todo = [i for i, r in enumerate(sources) if r is None]
    if todo:
        t0 = time.perf_counter()
        left = _resume(todo, chunks, vectors, sentences, checkpoint)
        report.chunks_resumed, todo = len(todo) - len(left), left
        # Longest first within the whole build, so each block's batches hold passages of like length.
        todo.sort(key=lambda i: -len(chunks[i].embed_text))
        meter = Progress(len(todo) + report.chunks_resumed, report.chunks_resumed, progress) \
            if progress is not None and len(todo) > EMBED_BLOCK else None
        for b in range(0, len(todo), EMBED_BLOCK):
            block = todo[b:b + EMBED_BLOCK]
            texts = [chunks[i].embed_text for i in block]
            spans = [spans_in_embed_text(chunks[i].text, chunks[i].embed_text) for i in block]
            new_vectors, new_sentences = passage_and_sentence_vectors(embedder, texts, spans)
            vectors[block] = new_vectors
            for i, v in zip(block, new_sentences):
                sentences[i] = v.astype(np.float16)
            if checkpoint is not None and len(todo) > EMBED_BLOCK:
                checkpoint.save([passage_key(chunks[i].embed_text, chunks[i].text) for i in block],
                                vectors[block], [sentences[i] for i in block])
            if meter is not None:
                meter.advance(len(block))
        report.embed_seconds = time.perf_counter() - t0
    report.chunks_embedded = len(todo)
    return chunks, tokens, vectors, sentences


def _same_sentences(old: Any, row: int, chunk: Chunk) -> bool:
    """The old row holds one stored vector for each sentence `chunk` splits into now."""
    return len(old.sentences_of(row)) == len(spans_in_embed_text(chunk.text, chunk.embed_text))


def _resume(todo: list[int], chunks: list[Chunk], vectors: np.ndarray, sentences: list[np.ndarray],
            checkpoint: Checkpoint | None) -> list[int]:
    """Fill in what an interrupted build had embedded already (see rag/checkpoint.py); what is left."""
    saved = checkpoint.load() if checkpoint is not None else {}
    if not saved:
        return todo
    left = []
    for i in todo:
        hit = saved.get(passage_key(chunks[i].embed_text, chunks[i].text))
        if hit is None:
            left.append(i)
        else:
            vectors[i], sentences[i] = hit
    return left

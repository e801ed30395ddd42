"""The on-disk index: FAISS vectors, chunk records, BM25 lexical index and manifest; load, verify,
and atomic save.

Layout of an index folder (`index/` by default):

    CURRENT                  name of the live version folder (replaced atomically)
    .lock                    build lock (flock; see rag/lock.py)
    milvus.db/               the milvus-lite data, when RAG_STORE=milvus and no RAG_MILVUS_URI is set
    v-<time>-<id>/           one immutable index version
        manifest.json        format version, model id/dim/fingerprint, chunking, FAISS kind,
                             per-document source hash and chunk ids, counts, build times, and every
                             file's digest, size and modification time (BM25's files too); a delta
                             version also names its base version ("base") and lists only the
                             documents that differ from the base's and the base's that are gone
        vectors.faiss        FAISS IndexIDMap2 (flat inner product; IVF over 8-bit vectors above a
                             size); ids are keys
        vectors-<lang>.faiss one approximate index per language, when the whole is approximate
        embeddings.npy       the same vectors, row-aligned with chunks.jsonl (reused by rebuilds)
        sentences.npy, sentence_ptr.npy   float16 sentence vectors of every chunk, for the reader
        chunks.jsonl         one chunk record per line, with its int64 `key`
        tokens.jsonl         jieba/Latin tokens per chunk (reused by rebuilds)
        chunk_offsets.npy, token_offsets.npy   where each line starts: records are read on demand
        keys.npy, rows.npz   the chunk keys, and per-chunk metadata as codes (filters without records)
        bm25/                bm25s index over those tokens
        deleted.npy          (a delta version) keys of the base's passages it deletes

A version is written into a temporary folder beside the others, renamed, and only then named in
CURRENT, so readers never see a half-written index and a crash leaves the previous one live. A delta
version (rag/segments.py) holds only what changed since a full base version, which stays on disk
unchanged and shared while a version that needs it is kept.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import DiskFullError, IndexDamagedError, IndexMismatchError, IndexMissingError
from rag.index import EXACT_ROWS, ROWS, Index, key_for  # noqa: F401 - re-exported: the store's public names
from rag.types import Chunk

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
FAISS_FILE = "vectors.faiss"
EMBEDDINGS = "embeddings.npy"
CHUNKS = "chunks.jsonl"
TOKENS = "tokens.jsonl"
BM25_DIR = "bm25"
DATA_FILES = (FAISS_FILE, EMBEDDINGS, CHUNKS, TOKENS)
# Sentence vectors (float16) of every chunk's sentences in order, and where each chunk's start:
# sentences of chunk i are rows SENTENCE_PTR[i]:SENTENCE_PTR[i + 1]. Optional: an index built before
# they existed loads without them (the reader then uses the passage vector).
SENTENCES = "sentences.npy"
SENTENCE_PTR = "sentence_ptr.npy"
SENTENCE_FILES = (SENTENCES, SENTENCE_PTR)
# Read without parsing every record (optional: an index written before them is scanned once on load):
# byte offsets of each line of chunks.jsonl and tokens.jsonl, the chunk keys, and coded metadata.
CHUNK_OFFSETS = "chunk_offsets.npy"
TOKEN_OFFSETS = "token_offsets.npy"
KEYS = "keys.npy"
LAZY_FILES = (CHUNK_OFFSETS, TOKEN_OFFSETS, KEYS, ROWS)
# A delta version (rag/segments.py) names its base in the manifest and lists the base's passages it
# deletes here (int64 keys).
DELETED = "deleted.npy"
DEFAULT_APPROX_THRESHOLD = 50_000
# Above the threshold the vectors go into an IVF index over 8-bit scalar-quantised vectors, chosen
# from bench/scale_bench.py's table (recall@10 and memory at 100k and 1M passages; README "Scale").
# nprobe 128 at a million passages: recall@10 0.968 over all vectors at 3.2 ms, and inside a language's
# partition 0.967 for questions in that language (0.80 for the other language's, whose true
# neighbours are spread over more lists; 512 would reach 0.92 at 13 ms a search).
IVF_NPROBE = 128
# An index up to this size on disk is read into memory whole (nothing mapped or read on demand), so
# damage done to its files after loading never reaches an answer: the service keeps answering from
# what it loaded. Larger ones map their files: a million passages would not fit the memory target.
IN_MEMORY_BYTES = 512 * 1024**2
# Up to this size a build hashes every file of the version it builds on; above it, sizes and
# modification times are compared (any difference is then hashed), and `rag index --verify` hashes all.
FULL_CHECK_BYTES = 2 * 1024**3


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it with `rag index --rebuild --index-dir {index_dir}`"


def current_folder(index_dir: Path) -> Path | None:
    """The live version folder named by CURRENT, or None when no index was built."""
    pointer = Path(index_dir) / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return Path(index_dir) / name if name else None


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    """The live manifest (unverified), or None when there is no index."""
    folder = current_folder(index_dir)
    if folder is None:
        return None
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise IndexDamagedError(
            f"{folder / MANIFEST}: missing or damaged ({e}); {_rebuild_hint(index_dir)}"
        ) from e


def check_compatible(manifest: dict[str, Any], index_dir: Path, model_id: str | None, fingerprint: str | None) -> None:
    """Raise when the index has another format version or was built by another model."""
    fmt = manifest.get("format_version")
    if fmt != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{index_dir}: index format version {fmt}, this program reads version {FORMAT_VERSION}; "
            + _rebuild_hint(index_dir)
        )
    built = manifest.get("model", {})
    if model_id is not None and built.get("id") != model_id:
        raise IndexMismatchError(
            f"{index_dir}: index was built with embedding model {built.get('id')!r}, but {model_id!r} is "
            f"configured; set RAG_EMBED_MODEL={built.get('id')} or {_rebuild_hint(index_dir)}"
        )
    if fingerprint is not None and built.get("fingerprint") != fingerprint:
        raise IndexMismatchError(
            f"{index_dir}: the embedding model {model_id!r} changed since the index was built "
            f"(fingerprint {str(built.get('fingerprint'))[:19]}... vs {fingerprint[:19]}...; the index was built "
            f"with the {built.get('backend', 'torch')} backend, see RAG_EMBED_BACKEND); " + _rebuild_hint(index_dir)
        )


def load_index(
    index_dir: Path, model_id: str | None = None, fingerprint: str | None = None, verify: bool | None = True
) -> Index:  # or rag.segments.Segmented, for a delta version
    """Load the live index, checking format, model and files: with `verify` every file's digest, with
    False sizes and times, with None digests only of a version small enough to be read into memory."""
    index_dir = Path(index_dir)
    folder = current_folder(index_dir)
    if folder is None:
        raise IndexMissingError(f"{index_dir}: no index built yet; run `rag index` to build one")
    manifest = read_manifest(index_dir)
    assert manifest is not None
    check_compatible(manifest, index_dir, model_id, fingerprint)
    base = manifest.get("base")
    if not base:
        return _load_folder(index_dir, folder, manifest, verify)
    from rag.segments import Segmented

    base_folder = index_dir / base["version"]
    try:
        base_manifest = json.loads((base_folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise IndexDamagedError(f"{base_folder}: the base of delta version {folder.name} is missing or damaged "
                                 f"({e}); {_rebuild_hint(index_dir)}") from e
    index = _load_folder(index_dir, folder, {**manifest, "documents": all_documents(manifest, base_manifest)}, verify)
    deleted = np.load(folder / DELETED) if (folder / DELETED).is_file() else np.zeros(0, dtype=np.int64)
    return Segmented(_load_folder(index_dir, base_folder, base_manifest, verify), index, deleted)


def all_documents(manifest: dict[str, Any], base_manifest: dict[str, Any]) -> dict[str, Any]:
    """The whole index's documents: a delta version's manifest records only the documents that differ
    from its base's and the ones its base has that are gone (written before that, it holds all)."""
    docs = manifest.get("documents", {})
    changes = manifest.get("base", {}).get("documents")
    if changes is None:
        return docs
    gone = set(changes.get("removed", ()))
    return {**{k: v for k, v in base_manifest.get("documents", {}).items() if k not in gone}, **docs}


def verify_files(index_dir: Path, index: Any) -> None:
    """Check every file of a loaded version (and of its base) against the manifest's digests."""
    problems = version_problems(index, full=True)
    if problems:
        raise IndexDamagedError(f"{problems[0]}; {_rebuild_hint(index_dir)}")


def verify_live(index_dir: Path) -> tuple[str, int, list[str]]:
    """Hash every file of the live version (and of its base) without loading it: (version, files
    checked, one line per missing or damaged file). `rag index --verify`."""
    folder = current_folder(index_dir)
    if folder is None:
        raise IndexMissingError(f"{index_dir}: no index built yet; run `rag index` to build one")
    try:
        manifest = read_manifest(index_dir)
    except IndexDamagedError as e:
        return folder.name, 0, [str(e)]
    assert manifest is not None
    folders = [(folder, manifest)]
    if manifest.get("base"):
        base = index_dir / manifest["base"]["version"]
        try:
            folders.append((base, json.loads((base / MANIFEST).read_text(encoding="utf-8"))))
        except (OSError, json.JSONDecodeError) as e:
            return folder.name, 0, [f"{base / MANIFEST}: the base of this delta version is missing or damaged ({e})"]
    problems = [p for f, m in folders for p in file_problems(f, m, full=True, required=DATA_FILES)]
    return folder.name, sum(len(m.get("files", {})) for _, m in folders), problems


def version_parts(index: Any) -> tuple[Index, ...]:
    """The folders a loaded version reads: itself, or a delta version's base and delta."""
    return (index.base, index.delta) if hasattr(index, "delta") else (index,)


def version_problems(index: Any, full: bool) -> list[str]:
    """What is wrong on disk with a loaded version's files (and its base's); see `file_problems`."""
    return [p for part in version_parts(index) for p in file_problems(part.folder, part.manifest, full=full)]


def index_bytes(index: Any) -> int:
    """The recorded size on disk of a loaded version and its base."""
    return sum(version_bytes(part.manifest) for part in version_parts(index))


def version_bytes(manifest: dict[str, Any]) -> int:
    """The size on disk of a version's files as its manifest records them (0 before sizes were)."""
    return sum(int(s[0]) for s in manifest.get("stat", {}).values())


def file_problems(folder: Path, manifest: dict[str, Any], full: bool = True,
                  required: tuple[str, ...] = ()) -> list[str]:
    """One line per file of a version that is missing or damaged, naming it. `full` hashes every file;
    otherwise a file is hashed only when its size or modification time differs from the manifest's
    (an index written before sizes were recorded is then only checked for missing files)."""
    digests, stats = manifest.get("files", {}), manifest.get("stat", {})
    problems = []
    for name in dict.fromkeys((*required, *digests)):
        path = folder / name
        try:
            st = path.stat()
        except OSError:
            problems.append(f"{path}: index file is missing")
            continue
        recorded = stats.get(name)
        if recorded is not None and st.st_size != recorded[0]:
            problems.append(f"{path}: index file is damaged (size {st.st_size} bytes, {recorded[0]} when written)")
        elif name in digests and (full or (recorded is not None and st.st_mtime_ns != recorded[1])) \
                and _sha256(path) != digests[name]:
            problems.append(f"{path}: index file is damaged (digest mismatch)")
    return problems


def _load_folder(index_dir: Path, folder: Path, manifest: dict[str, Any], verify: bool | None) -> Index:
    """One version folder; `verify`: hash every file (True), compare sizes and times (False), or hash
    when the version is read into memory anyway (None)."""
    digests = manifest.get("files", {})
    with_sentences = all(n in digests for n in SENTENCE_FILES)
    part_files = dict(manifest.get("faiss", {}).get("parts", {}))
    lazy = all(n in digests for n in LAZY_FILES)
    required = DATA_FILES + (SENTENCE_FILES if with_sentences else ()) + tuple(part_files.values()) \
        + (LAZY_FILES if lazy else ()) + ((DELETED,) if DELETED in digests else ())
    size = version_bytes(manifest) or sum((folder / n).stat().st_size for n in digests if (folder / n).is_file())
    in_memory = size <= IN_MEMORY_BYTES
    problems = file_problems(folder, manifest, full=in_memory if verify is None else verify, required=required)
    if problems:
        raise IndexDamagedError(f"{problems[0]}; {_rebuild_hint(index_dir)}")
    try:
        import bm25s
        import faiss

        from rag.records import Lines, line_offsets

        offsets = (np.load(folder / CHUNK_OFFSETS), np.load(folder / TOKEN_OFFSETS)) if lazy else \
            (line_offsets(folder / CHUNKS), line_offsets(folder / TOKENS))
        held = (lambda name: (folder / name).read_bytes()) if in_memory else (lambda name: None)
        chunks = Lines(folder / CHUNKS, offsets[0], Chunk.from_dict, data=held(CHUNKS))
        tokens = Lines(folder / TOKENS, offsets[1], list, cache=256, data=held(TOKENS))
        keys = np.load(folder / KEYS) if lazy else None
        mmap = None if in_memory else "r"
        embeddings = np.load(folder / EMBEDDINGS, mmap_mode=mmap)
        # Large indexes map their IVF lists and BM25 postings from disk (the page cache holds what
        # queries touch) instead of copying them into the process.
        flags = faiss.IO_FLAG_MMAP if manifest.get("faiss", {}).get("kind") == "ivf-sq8" and not in_memory else 0
        faiss_index = _tuned(faiss.read_index(str(folder / FAISS_FILE), flags), manifest)
        parts = {lang: _tuned(faiss.read_index(str(folder / f), flags), manifest) for lang, f in part_files.items()}
        bm25 = bm25s.BM25.load(str(folder / BM25_DIR), show_progress=False, mmap=not in_memory) if chunks else None
        sentences = np.load(folder / SENTENCES, mmap_mode=mmap) if with_sentences else None
        sentence_ptr = np.load(folder / SENTENCE_PTR) if with_sentences else None
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise IndexDamagedError(f"{folder}: cannot read index files ({e}); {_rebuild_hint(index_dir)}") from e
    n = manifest.get("counts", {}).get("chunks")
    if not (len(chunks) == len(tokens) == embeddings.shape[0] == faiss_index.ntotal == n) or \
            (keys is not None and len(keys) != n):
        raise IndexDamagedError(
            f"{folder}: index files disagree on the chunk count (records {len(chunks)}, tokens {len(tokens)}, "
            f"vectors {embeddings.shape[0]}, faiss {faiss_index.ntotal}, manifest {n}); {_rebuild_hint(index_dir)}"
        )
    if sentence_ptr is not None and (len(sentence_ptr) != len(chunks) + 1 or sentence_ptr[-1] != len(sentences)):
        raise IndexDamagedError(f"{folder}: sentence vectors disagree with the chunks; {_rebuild_hint(index_dir)}")
    if sum(p.ntotal for p in parts.values()) not in (0, n):
        raise IndexDamagedError(f"{folder}: the language partitions do not hold every chunk; {_rebuild_hint(index_dir)}")
    return Index(folder, manifest, chunks, tokens, embeddings, faiss_index, bm25, sentences, sentence_ptr, parts,
                 keys)


def _tuned(index: Any, manifest: dict[str, Any]) -> Any:
    """The loaded index with the search effort the manifest records (nprobe is not saved by FAISS)."""
    import faiss

    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = int(manifest.get("faiss", {}).get("nprobe", IVF_NPROBE))
    return index


def _faiss_index(embeddings: np.ndarray, keys: np.ndarray, dim: int, approx_threshold: int) -> tuple[Any, dict[str, Any]]:
    import faiss

    n = len(keys)
    if n > approx_threshold:
        nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))  # FAISS wants 39+ training points a list
        base = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                             faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(n, size=min(n, 64 * nlist), replace=False)
        base.train(np.ascontiguousarray(embeddings[np.sort(sample)], dtype=np.float32))
        base.nprobe = IVF_NPROBE
        info = {"kind": "ivf-sq8", "metric": "inner_product", "nlist": nlist, "nprobe": IVF_NPROBE}
    else:
        base = faiss.IndexFlatIP(dim)
        info = {"kind": "flat", "metric": "inner_product"}
    index = faiss.IndexIDMap2(base)
    if n:
        index.add_with_ids(np.ascontiguousarray(embeddings, dtype=np.float32), keys)
    return index, info


def _partitions(embeddings: np.ndarray, keys: np.ndarray, chunks: list[Chunk], dim: int,
                approx_threshold: int) -> dict[str, Any]:
    """One approximate index per language when the whole is approximate and holds several: the
    retriever ranks each language on its own, and a partition answers that without a filter."""
    langs = np.array([c.language for c in chunks], dtype=object)
    kinds = sorted(set(langs.tolist()))
    if len(keys) <= approx_threshold or len(kinds) < 2:
        return {}
    out = {}
    for lang in kinds:
        rows = np.flatnonzero(langs == lang)
        out[lang] = _faiss_index(embeddings[rows], keys[rows], dim, approx_threshold)[0]
    return out


def write_index(
    index_dir: Path,
    chunks: list[Chunk],
    tokens: list[list[str]],
    embeddings: np.ndarray,
    manifest: dict[str, Any],
    approx_threshold: int = DEFAULT_APPROX_THRESHOLD,
    keep_versions: int = 2,
    sentences: list[np.ndarray] | None = None,
    base: tuple[str, np.ndarray, dict[str, Any]] | None = None,
) -> Path:
    """Write a complete new version and make it live atomically; returns its folder.

    The caller holds the build lock. `manifest` gets the format version, counts, FAISS kind and file
    digests added here. With `base` (a full version's name, the keys of its passages to delete and
    its documents), the version is a delta: the given chunks are only what is new since that base.
    """
    import bm25s
    import faiss

    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    if not (len(chunks) == len(tokens) == len(embeddings)):
        raise ValueError("chunks, tokens and embeddings must have the same length")
    dim = int(manifest["model"]["dim"])
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32).reshape(len(chunks), dim)
    keys = np.array([key_for(c.id) for c in chunks], dtype=np.int64)
    if len(set(keys.tolist())) != len(keys):
        raise ValueError("duplicate chunk ids in the index")

    # Names sort by creation time (nanoseconds break ties within a second); pruning relies on that.
    name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()
    try:
        for file_name, offsets_name, lines in (
                (CHUNKS, CHUNK_OFFSETS, (json.dumps({"key": int(k), **c.to_dict()}, ensure_ascii=False)
                                         for c, k in zip(chunks, keys))),
                (TOKENS, TOKEN_OFFSETS, (json.dumps(t, ensure_ascii=False) for t in tokens))):
            offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
            with open(tmp / file_name, "wb") as f:
                for i, line in enumerate(lines):
                    f.write(line.encode("utf-8") + b"\n")
                    offsets[i + 1] = f.tell()
            np.save(tmp / offsets_name, offsets)
        np.save(tmp / KEYS, keys)
        from rag.select import Columns

        Columns.of(chunks).save(tmp / ROWS)
        np.save(tmp / EMBEDDINGS, embeddings)
        if sentences is not None:
            if len(sentences) != len(chunks):
                raise ValueError("sentences must give one array of sentence vectors per chunk")
            ptr = np.zeros(len(chunks) + 1, dtype=np.int64)
            ptr[1:] = np.cumsum([len(v) for v in sentences])
            # Streamed chunk by chunk (a million passages' sentence vectors are several GB), with plain
            # writes: a memory map written on a full disk kills the process with SIGBUS instead of
            # raising ENOSPC.
            with open(tmp / SENTENCES, "wb") as f:
                np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)),
                                                         "fortran_order": False, "shape": (int(ptr[-1]), dim)})
                for v in sentences:
                    f.write(np.ascontiguousarray(np.asarray(v, dtype=np.float16).reshape(-1, dim)).tobytes())
            np.save(tmp / SENTENCE_PTR, ptr)
        index, info = _faiss_index(embeddings, keys, dim, approx_threshold)
        faiss.write_index(index, str(tmp / FAISS_FILE))
        parts = _partitions(embeddings, keys, chunks, dim, approx_threshold)
        for lang, part in parts.items():
            faiss.write_index(part, str(tmp / f"vectors-{lang}.faiss"))
        if parts:
            info["parts"] = {lang: f"vectors-{lang}.faiss" for lang in parts}
        if chunks:
            bm25 = bm25s.BM25()
            bm25.index(tokens, show_progress=False)
            bm25.save(str(tmp / BM25_DIR), show_progress=False)
        extra: tuple[str, ...] = ()
        documents = len(manifest.get("documents", {}))
        if base is not None:
            np.save(tmp / DELETED, np.asarray(base[1], dtype=np.int64))
            extra = (DELETED,)
            manifest = _delta_documents({**manifest, "base": {"version": base[0], "deleted": len(base[1])}}, base[2])
        else:
            manifest = {k: v for k, v in manifest.items() if k != "base"}
            manifest["avg_tokens"] = round(float(np.mean([len(t) for t in tokens])), 3) if tokens else 0.0
        bm25_files = tuple(sorted(p.relative_to(tmp).as_posix() for p in (tmp / BM25_DIR).rglob("*")
                                  if p.is_file())) if chunks else ()
        names = DATA_FILES + (SENTENCE_FILES if sentences is not None else ()) \
            + tuple(info.get("parts", {}).values()) + LAZY_FILES + extra + bm25_files
        _fsync_tree(tmp)  # before the times are recorded: they must be those the files keep
        manifest = {
            **manifest,
            "format_version": FORMAT_VERSION,
            "faiss": info,
            "counts": {"documents": documents, "chunks": len(chunks)},
            "files": {n: _sha256(tmp / n) for n in names},
            # Size and modification time of each file: a cheap check for damage (see file_problems).
            "stat": {n: [(tmp / n).stat().st_size, (tmp / n).stat().st_mtime_ns] for n in names},
            "version": name,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        _fsync(tmp / MANIFEST)
        _fsync(tmp)
        os.rename(tmp, index_dir / name)
        pointer_tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex[:8]}"
        pointer_tmp.write_text(name + "\n", encoding="utf-8")
        _fsync(pointer_tmp)
        os.replace(pointer_tmp, index_dir / CURRENT)
        _fsync(index_dir)
    except BaseException as e:
        full = disk_full(e, index_dir)  # before the cleanup: it names the file being written
        shutil.rmtree(tmp, ignore_errors=True)
        if full is not None:
            raise full from e
        raise
    _prune(index_dir, keep_versions)
    return index_dir / name


def disk_full(e: BaseException, index_dir: Path) -> DiskFullError | None:
    """A DiskFullError naming the path for an error that is the disk (or quota) running out; FAISS
    reports a failed write as a RuntimeError whose text carries the path and the system's reason."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        where = e.filename
    elif isinstance(e, OSError) and e.errno is None and "requested and" in str(e):
        where = None  # numpy's tofile() reports a short write without errno ("N requested and M written")
    elif isinstance(e, RuntimeError) and ("No space left on device" in str(e) or "Disk quota exceeded" in str(e)):
        where = next((w.rstrip(":") for w in str(e).split() if w.startswith(str(index_dir))), None)
    else:
        return None
    # A failed write() names no file: the one written last under the index folder is the one.
    where = where or max((p for p in Path(index_dir).rglob("*") if p.is_file()),
                         key=lambda p: p.stat().st_mtime_ns, default=index_dir)
    live = current_folder(index_dir)
    return DiskFullError(f"disk full: cannot write {where}; the live index "
                         f"{'(' + live.name + ') is unchanged' if live else 'was not touched'}; "
                         f"free some space and run `rag index` again")


@contextmanager
def named_disk_full(index_dir: Path) -> Iterator[None]:
    """Turn a disk-full error raised inside into a DiskFullError naming the path."""
    try:
        yield
    except (OSError, RuntimeError) as e:
        full = disk_full(e, Path(index_dir))
        if full is not None:
            raise full from e
        raise


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _delta_documents(manifest: dict[str, Any], base_docs: dict[str, Any]) -> dict[str, Any]:
    """A delta version's manifest with only the documents that differ from its base's (`base_docs`),
    and the names of the base's documents that are gone (`all_documents` puts them back together):
    adding one call to twenty thousand rewrites one entry, not every call's list of passages (25 MB
    at a million)."""
    docs = manifest.get("documents", {})
    return {**manifest, "documents": {k: v for k, v in docs.items() if base_docs.get(k) != v},
            "base": {**manifest["base"], "documents": {"removed": sorted(set(base_docs) - set(docs))}}}


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            _fsync(p)
    _fsync(folder)


def _prune(index_dir: Path, keep: int) -> None:
    """Delete old versions (keeping the newest `keep`, so a reader mid-load is safe) and leftovers
    of crashed builds. Called with the build lock held."""
    live = current_folder(index_dir)
    versions = sorted(p for p in index_dir.glob("v-*") if p.is_dir())
    kept = versions[max(0, len(versions) - keep):] + ([live] if live else [])
    # A kept delta version's base is kept with it.
    bases = set()
    for v in kept:
        try:
            base = json.loads((v / MANIFEST).read_text(encoding="utf-8")).get("base")
        except (OSError, json.JSONDecodeError):
            continue
        if base:
            bases.add(index_dir / base["version"])
    for old in versions[: max(0, len(versions) - keep)]:
        if old != live and old not in bases:
            shutil.rmtree(old, ignore_errors=True)
    for tmp in index_dir.glob(".tmp-v-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for ptr in index_dir.glob(f".{CURRENT}.*"):
        ptr.unlink(missing_ok=True)

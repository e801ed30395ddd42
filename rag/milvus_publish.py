"""Publishing a built index version into Milvus, so that every reader sees one complete version
(rag/milvus_store.py says how the `born` field and the manifest's retired keys do that):

1. delete what the current version retired (its readers already hide those rows);
2. insert the new passages with born = the new sequence number (hidden from current readers);
3. update the term statistics (under a PENDING mark, so a crash before step 4 is redone from a recount);
4. write the new manifest, listing the keys it retires, and name it in CURRENT (the switch);
5. after a grace period for requests still running on the old version, delete the retired rows.

Costs grow with the change: only added and removed passages are written or read back. A crash at any
step leaves CURRENT on a complete version and the next publish finishes the work."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rag.milvus_store import (
    BM25_B,
    BM25_K1,
    DUMMY_DIM,
    META_PART,
    RETIRED_MAX,
    connect,
    ensure_loaded,
    names,
    read_version,
    rows_of,
)
from rag.store import Index

log = logging.getLogger(__name__)

BATCH = 256
QUERY_LIMIT = 16_384  # Milvus's most rows per query


@dataclass
class PublishReport:
    version: str = ""
    inserted: int = 0
    deleted: int = 0
    terms_changed: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"milvus: version {self.version}; {self.inserted} passages inserted, {self.deleted} deleted, "
                f"{self.terms_changed} term counts changed; {self.seconds:.1f}s")


def _chunks_schema(client: Any, dim: int) -> tuple[Any, Any]:
    from pymilvus import DataType, Function, FunctionType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("key", DataType.INT64, is_primary=True)
    s.add_field("born", DataType.INT64)  # the publish sequence number that inserted the row
    s.add_field("chunk_id", DataType.VARCHAR, max_length=64)
    s.add_field("doc_id", DataType.VARCHAR, max_length=512)
    s.add_field("ticker", DataType.VARCHAR, max_length=32)
    s.add_field("period", DataType.VARCHAR, max_length=16)
    s.add_field("language", DataType.VARCHAR, max_length=8)
    s.add_field("section", DataType.VARCHAR, max_length=16)
    s.add_field("names", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=32, max_length=256)
    s.add_field("roles", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=8, max_length=16)
    s.add_field("boilerplate", DataType.BOOL)
    s.add_field("record", DataType.VARCHAR, max_length=65535)
    s.add_field("sentences", DataType.VARCHAR, max_length=65535)
    s.add_field("lexical", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                analyzer_params={"tokenizer": "standard"})
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["lexical"],
                            output_field_names=["sparse"]))
    ip = client.prepare_index_params()
    # FLAT: exact inner product, so both stores return the same passages; a cluster holding millions
    # would use HNSW here (one line; see README "Milvus").
    ip.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    ip.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                 params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
    for scalar in ("born", "doc_id", "ticker", "period", "language"):
        ip.add_index(field_name=scalar, index_type="INVERTED")
    return s, ip


def _table_schema(client: Any, key: str, value: tuple[str, Any, dict]) -> tuple[Any, Any]:
    from pymilvus import DataType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field(key, DataType.VARCHAR, is_primary=True, max_length=512)
    s.add_field(value[0], value[1], **value[2])
    if key == "id":
        s.add_field("version", DataType.VARCHAR, max_length=64)
        s.add_field("part", DataType.INT64)
    s.add_field("dummy", DataType.FLOAT_VECTOR, dim=DUMMY_DIM)
    ip = client.prepare_index_params()
    ip.add_index(field_name="dummy", index_type="FLAT", metric_type="L2")
    return s, ip


def ensure_collections(client: Any, base: str, dim: int) -> None:
    """Create the three collections when missing; an existing one of another dimension is an error."""
    from pymilvus import DataType

    chunks, terms, meta = names(base)
    if client.has_collection(chunks):
        have = next((f for f in client.describe_collection(chunks)["fields"] if f["name"] == "vector"), None)
        have_dim = int((have or {}).get("params", {}).get("dim", dim))
        if have_dim != dim:
            raise ValueError(f"Milvus collection {chunks} holds {have_dim}-dimensional vectors, the embedding model "
                             f"makes {dim}; set RAG_MILVUS_COLLECTION to another name or drop it")
    else:
        schema, ip = _chunks_schema(client, dim)
        client.create_collection(chunks, schema=schema, index_params=ip)
    if not client.has_collection(terms):
        schema, ip = _table_schema(client, "term", ("df", DataType.INT64, {}))
        client.create_collection(terms, schema=schema, index_params=ip)
    if not client.has_collection(meta):
        schema, ip = _table_schema(client, "id", ("text", DataType.VARCHAR, {"max_length": 65535}))
        client.create_collection(meta, schema=schema, index_params=ip)
    for name in (chunks, terms, meta):
        ensure_loaded(client, name)


def _present_keys(client: Any, name: str) -> set[int]:
    """Every stored key, read in key ranges small enough for one query each. (Keys are hashes, so
    ranges hold about equal shares; a full range is split again. pymilvus's query iterator would need
    a server timestamp call that milvus-lite lacks.)"""
    total = int(client.get_collection_stats(name).get("row_count", 0))
    keys: set[int] = set()
    top = 1 << 60  # key_for takes 60 bits
    pending = [(0, top)] if total <= QUERY_LIMIT // 2 else \
        [(i * top // (2 * total // QUERY_LIMIT + 1), (i + 1) * top // (2 * total // QUERY_LIMIT + 1))
         for i in range(2 * total // QUERY_LIMIT + 1)]
    while pending:
        lo, hi = pending.pop()
        got = client.query(name, filter=f"key >= {lo} and key < {hi}", output_fields=["key"], limit=QUERY_LIMIT)
        if len(got) >= QUERY_LIMIT:
            mid = (lo + hi) // 2
            pending += [(lo, mid), (mid, hi)]
            continue
        keys.update(int(r["key"]) for r in got)
    return keys


def _terms_of(client: Any, name: str, keys: list[int]) -> Counter[str]:
    """Document frequencies contributed by the given stored passages (read back from Milvus)."""
    from rag.lexical import tokenize

    df: Counter[str] = Counter()
    for i in range(0, len(keys), BATCH):
        part = keys[i: i + BATCH]
        for r in client.query(name, filter=f"key in [{', '.join(map(str, part))}]", output_fields=["record"]):
            df.update(set(tokenize(json.loads(r["record"])["embed_text"])))
    return df


def _update_terms(client: Any, terms: str, delta: Counter[str]) -> int:
    changed = [t for t, d in delta.items() if d]
    for i in range(0, len(changed), BATCH):
        part = changed[i: i + BATCH]
        quoted = ", ".join(json.dumps(t, ensure_ascii=False) for t in part)
        have = {r["term"]: int(r["df"]) for r in client.query(terms, filter=f"term in [{quoted}]",
                                                               output_fields=["term", "df"])}
        upserts, drops = [], []
        for t in part:
            n = have.get(t, 0) + delta[t]
            if n > 0:
                upserts.append({"term": t, "df": n, "dummy": [0.0] * DUMMY_DIM})
            elif t in have:
                drops.append(t)
        if upserts:
            client.upsert(terms, upserts)
        if drops:
            client.delete(terms, filter=f"term in [{', '.join(json.dumps(t, ensure_ascii=False) for t in drops)}]")
    return len(changed)


def _write_manifest(client: Any, meta: str, manifest: dict[str, Any]) -> None:
    version = manifest["version"]
    text = json.dumps(manifest, ensure_ascii=False)
    parts = [text[i: i + META_PART] for i in range(0, len(text), META_PART)] or [""]
    rows = [{"id": f"{version}/{n:06d}", "version": version, "part": n, "text": p, "dummy": [0.0] * DUMMY_DIM}
            for n, p in enumerate(parts)]
    for i in range(0, len(rows), 16):
        client.upsert(meta, rows[i: i + 16])
    client.upsert(meta, [{"id": "CURRENT", "version": "", "part": -1, "text": version, "dummy": [0.0] * DUMMY_DIM}])
    client.delete(meta, filter=f"part >= 0 and version != {json.dumps(version)}")


def _stale(client: Any, base: str, manifest: dict[str, Any]) -> bool:
    from rag.milvus_store import read_manifest

    chunks = names(base)[0]
    if client.has_collection(chunks) and not any(
            f["name"] == "born" for f in client.describe_collection(chunks)["fields"]):
        return True  # published before rows carried their version: no reader could tell versions apart
    version = read_version(client, base)
    if version is None:
        return False
    old = read_manifest(client, base, version)
    return old.get("model") != manifest.get("model") or old.get("chunking") != manifest.get("chunking")


def _current_store(client: Any, base: str) -> dict[str, Any]:
    """The "store" part of the manifest CURRENT names ({} before the first publish)."""
    from rag.milvus_store import read_manifest

    version = read_version(client, base)
    return read_manifest(client, base, version).get("store", {}) if version else {}


def _pending(client: Any, meta: str) -> int | None:
    """The sequence number of a publish that changed the term table and never switched CURRENT."""
    rows = client.query(meta, filter='id == "PENDING"', output_fields=["text"])
    return int(rows[0]["text"]) if rows else None


def _set_pending(client: Any, meta: str, seq: int | None) -> None:
    if seq is None:
        client.delete(meta, filter='id == "PENDING"')
    else:
        client.upsert(meta, [{"id": "PENDING", "version": "", "part": -2, "text": str(seq),
                              "dummy": [0.0] * DUMMY_DIM}])


def _recount_terms(client: Any, terms: str, index: Index, gone: set[str]) -> int:
    """Set the term table to the built index's own posting-list lengths, after a crashed publish left
    it half-updated (which of that attempt's changes landed cannot be told). `gone`: the terms of every
    passage that attempt may have dropped; those the index lacks are deleted. Rows are upserted in
    place so that services reading IDF weights meanwhile never find the table missing."""
    import numpy as np

    df = np.diff(index.bm25.scores["indptr"]) if index.bm25 is not None else np.zeros(0, dtype=np.int64)
    vocab = {t: int(df[i]) for t, i in (index.bm25.vocab_dict.items() if index.bm25 is not None else ())
             if i < len(df) and df[i] > 0}
    rows = [{"term": t, "df": n, "dummy": [0.0] * DUMMY_DIM} for t, n in vocab.items()]
    for i in range(0, len(rows), 4 * BATCH):
        client.upsert(terms, rows[i: i + 4 * BATCH])
    stale = sorted(gone - vocab.keys())
    for i in range(0, len(stale), BATCH):
        client.delete(terms, filter=f"term in [{', '.join(json.dumps(t, ensure_ascii=False) for t in stale[i: i + BATCH])}]")
    return len(rows) + len(stale)


def _delete(client: Any, chunks: str, keys: list[int]) -> None:
    for i in range(0, len(keys), 4096):
        client.delete(chunks, ids=[int(k) for k in keys[i: i + 4096]])


def publish(index: Index, uri: str, base: str, token: str = "", grace: float = 0.0) -> PublishReport:
    """Make Milvus hold exactly the passages of `index` (a built local version) and its manifest.
    `grace`: seconds the rows this version retires stay stored after the switch, for requests still
    answering from the previous version (services re-read CURRENT every second)."""
    t0 = time.perf_counter()
    report = PublishReport(version=index.version)
    client = connect(uri, token)
    if _stale(client, base, index.manifest):
        # Other vectors or other tokens for the same passage ids: nothing stored can be reused.
        for name in names(base):
            client.drop_collection(name)
        report.notes.append("the model, chunking or row schema changed since the last publish: republished "
                            "everything")
    ensure_collections(client, base, int(index.manifest["model"]["dim"]))
    chunks, terms, meta = names(base)
    current = _current_store(client, base)
    seq = int(current.get("seq", 0)) + 1
    recount = _pending(client, meta) is not None
    gone = set(_terms_of(client, chunks, current.get("retired", []))) if recount else set()
    _delete(client, chunks, current.get("retired", []))  # hidden from every reader of the current version
    present = _present_keys(client, chunks)
    wanted = {int(k): r for r, k in enumerate(index.keys)}
    add = [r for k, r in wanted.items() if k not in present]
    drop = sorted(present - wanted.keys())
    if read_version(client, base) == index.version and not add and not drop and not recount:
        report.seconds = time.perf_counter() - t0
        return report
    _set_pending(client, meta, seq)
    delta: Counter[str] = Counter()
    for r in add:
        delta.update(set(index.tokens[r]))
    if drop and not recount:
        delta.subtract(_terms_of(client, chunks, drop))
    for i in range(0, len(add), BATCH):
        client.upsert(chunks, rows_of(index, add[i: i + BATCH], seq))
    report.inserted = len(add)
    client.flush(chunks)
    if recount:
        report.terms_changed = _recount_terms(client, terms, index, gone | set(_terms_of(client, chunks, drop)))
        report.notes.append("an earlier publish stopped half-way: the term table was recounted")
    else:
        report.terms_changed = _update_terms(client, terms, delta)
    retired = drop if len(drop) <= RETIRED_MAX else []
    if len(drop) > RETIRED_MAX:
        report.notes.append(f"{len(drop)} passages dropped, over the {RETIRED_MAX} a manifest hides by filter: "
                            "deleted right after the switch, so requests running on the previous version "
                            "may miss some of them")
    langs = sorted(set(index.columns.language))
    # `counts` of the whole index: a delta version's own manifest counts only the delta's passages.
    counts = {**index.manifest.get("counts", {}), "chunks": len(index)}
    _write_manifest(client, meta, {**index.manifest, "counts": counts,
                                   "store": {"kind": "milvus", "languages": langs, "seq": seq,
                                             "retired": retired}})
    _set_pending(client, meta, None)
    if drop:
        if retired and grace > 0:
            log.info("milvus: %d retired passages kept %.0fs for requests on the previous version", len(drop), grace)
            time.sleep(grace)
        _delete(client, chunks, drop)
    report.deleted = len(drop)
    client.flush(chunks)
    report.seconds = time.perf_counter() - t0
    return report

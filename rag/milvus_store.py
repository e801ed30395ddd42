"""The Milvus store: the same search interface as the FAISS index (`rag.store.Index`), held by a
Milvus server (a local `milvus-lite` file, or the URI of a Milvus standalone or cluster) so that the
services that read it keep no index state of their own.

Three collections, named from one base name (`RAG_MILVUS_COLLECTION`, default "rag"):

    <name>_chunks   one row per passage: key (int64, `rag.store.key_for`), the dense vector, the
                    passage's lexical tokens in `lexical` with Milvus's built-in BM25 function writing
                    `sparse`, scalar fields filtered inside Milvus (doc_id, ticker, period, language,
                    section, company names, speaker roles, boilerplate), the chunk record and its
                    sentence vectors (float16, base64) for the reader.
    <name>_terms    term -> in how many passages it occurs (the reader's IDF weights).
    <name>_meta     the manifest of the version published last, in parts, and a CURRENT row naming it.

Lexical tokens are ours (`rag.lexical.tokenize`: jieba search mode, stemmed English, numbers kept),
written space-separated into a field with the "standard" analyzer, so that Milvus's BM25 scores the
same terms as the FAISS store's bm25s index. Milvus's own jieba analyzer would neither stem nor keep
"3.5" whole, and the glossary's cross-language expansion of the query would then miss.

Milvus has no transactions, so versions are made visible by filter (rag/milvus_publish.py): every
passage row carries `born`, the publish sequence number that inserted it, and each manifest carries its
own sequence number and the keys it retired. A reader of version N searches `born <= N and key not in
retired(N)`: the rows a later publish inserts stay invisible to it, and the rows N retired are hidden
from it while readers of N-1 still see them, until they are deleted after a grace period. Every search
therefore sees one complete version. (BM25 term statistics and the term table move at publish time;
they weigh passages, they do not choose which version is seen.)
"""

from __future__ import annotations

import base64
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from rag.errors import IndexMismatchError, IndexMissingError
from rag.select import names_of
from rag.store import Index, check_compatible, key_for
from rag.types import Chunk, Where

RETIRED_MAX = 20_000  # keys a manifest may hide by filter; a larger drop is deleted at once (see publish)
MAX_TEXT = 65_535  # Milvus's VARCHAR limit, in bytes
META_PART = 60_000  # characters of manifest JSON per meta row
BM25_K1, BM25_B = 1.5, 0.75  # bm25s's defaults, so both stores rank alike
CACHE = 4096  # chunk records and sentence vectors kept per loaded version
DUMMY_DIM = 2  # Milvus needs a vector field in every collection; the term and meta tables carry a dummy


def names(base: str) -> tuple[str, str, str]:
    return f"{base}_chunks", f"{base}_terms", f"{base}_meta"


@lru_cache(maxsize=8)  # one client (one gRPC channel) per server, reused by every poll and version
def connect(uri: str, token: str = "") -> Any:  # -> pymilvus.MilvusClient
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    try:
        return MilvusClient(uri=str(uri), token=token)
    except MilvusException as e:
        if not str(uri).startswith(("http://", "https://", "tcp://", "unix:")):
            # milvus-lite locks its data folder: one process per file.
            raise IndexMissingError(
                f"cannot open the milvus-lite file {uri} ({e.message}); it may be open in another process. "
                "For several processes run `milvus-lite server --data-dir DIR` and set RAG_MILVUS_URI to "
                "http://127.0.0.1:19530") from e
        raise IndexMissingError(f"cannot reach Milvus at {uri}: {e.message}") from e


def ensure_loaded(client: Any, name: str) -> None:
    """Load a collection into memory if it is not (a restarted Milvus keeps them released)."""
    from pymilvus.client.types import LoadState

    if client.get_load_state(name).get("state") != LoadState.Loaded:
        client.load_collection(name)


def lexical_text(tokens: list[str]) -> str:
    """Our tokens as text the "standard" analyzer splits back into exactly these tokens (it splits on
    anything but word characters, so "3.5" and "o'clock" become "3_5" and "o_clock")."""
    return " ".join(t.replace(".", "_").replace("'", "_") for t in tokens)


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def expression(where: Where | None) -> str:
    """A Milvus filter expression for `where` ("" when it restricts nothing)."""
    if where is None:
        return ""
    parts = []
    if where.ticker:
        parts.append(f"ticker == {_quote(where.ticker.upper())}")
    if where.company:
        parts.append(f"array_contains(names, {_quote(where.company.lower())})")
    for key in ("period", "language", "section"):
        value = getattr(where, key)
        if value:
            parts.append(f"{key} == {_quote(value)}")
    if where.role:
        parts.append(f"array_contains(roles, {_quote(where.role)})")
    if where.doc_ids is not None:
        parts.append(f"doc_id in [{', '.join(_quote(d) for d in sorted(where.doc_ids))}]")
    return " and ".join(parts)


def visible(manifest: dict[str, Any]) -> str:
    """The filter that shows exactly the passages of the manifest's version ("" for a manifest
    published before versions were tracked)."""
    store = manifest.get("store", {})
    if "seq" not in store:
        return ""
    expr = f"born <= {int(store['seq'])}"
    if store.get("retired"):
        expr += f" and key not in [{', '.join(str(int(k)) for k in store['retired'])}]"
    return expr


def _and(*exprs: str) -> str:
    return " and ".join(f"({e})" for e in exprs if e)


def read_version(client: Any, base: str) -> str | None:
    """The version CURRENT names in Milvus, or None when nothing was published."""
    meta = names(base)[2]
    if not client.has_collection(meta):
        return None
    ensure_loaded(client, meta)
    rows = client.query(meta, filter='id == "CURRENT"', output_fields=["text"])
    return rows[0]["text"] if rows else None


def read_manifest(client: Any, base: str, version: str) -> dict[str, Any]:
    meta = names(base)[2]
    rows = client.query(meta, filter=f"version == {_quote(version)} and part >= 0", output_fields=["part", "text"])
    if not rows:
        raise IndexMismatchError(f"Milvus collection {meta}: manifest of version {version} is missing; "
                                 "publish again with `rag index`")
    return json.loads("".join(r["text"] for r in sorted(rows, key=lambda r: r["part"])))


@dataclass
class _Cache:
    """A bounded LRU map shared by the threads answering with one loaded version."""

    size: int

    def __post_init__(self) -> None:
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


class MilvusIndex:
    """One published version, read from Milvus; rows are the passages' int64 keys."""

    def __init__(self, client: Any, base: str, manifest: dict[str, Any]) -> None:
        self.client = client
        self.base = base
        self.chunks_name, self.terms_name, _ = names(base)
        self.manifest = manifest
        self._visible = visible(manifest)
        self._records = _Cache(CACHE)
        self._sentences = _Cache(CACHE)
        self._boilerplate = _Cache(16 * CACHE)
        self._df = _Cache(16 * CACHE)

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def model_id(self) -> str:
        return str(self.manifest["model"]["id"])

    def __len__(self) -> int:
        return int(self.manifest.get("counts", {}).get("chunks", 0))

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.manifest.get("store", {}).get("languages", ()))

    # ---- searches, filtered inside Milvus

    def _search(self, data: list, field: str, k: int, expr: str, metric: str) -> list[tuple[int, float]]:
        """(key, distance) of the hits, remembering each one's boilerplate flag for the fusion."""
        found = self.client.search(self.chunks_name, data=data, anns_field=field, limit=k,
                                   filter=_and(self._visible, expr),
                                   output_fields=["boilerplate"], search_params={"metric_type": metric})
        out = []
        for h in (found[0] if found else []):
            key = int(h.get("key", h.get("id")))
            self._boilerplate.put(key, bool(h["entity"]["boilerplate"]))
            out.append((key, float(h["distance"])))
        return out

    def dense(self, query: np.ndarray, k: int, where: Where | None = None,
              effort: int = 1, asked: str | None = None) -> list[tuple[int, float]]:
        # `effort` and `asked` are the FAISS store's: Milvus searches its flat collection exactly here.
        if k < 1:
            raise ValueError("k must be at least 1")
        vec = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
        return self._search([vec], "vector", k, expression(where), "IP")

    def lexical(self, tokens: list[str], k: int, where: Where | None = None) -> list[tuple[int, float]]:
        if not tokens:
            return []
        self.prefetch_idf(tokens)
        return self._lexical(tokens, k, expression(where))

    def dense_of(self, query: np.ndarray, rows: list[int]) -> dict[int, float]:
        if not rows:
            return {}
        vec = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
        return dict(self._search([vec], "vector", len(rows), f"key in [{', '.join(str(int(r)) for r in rows)}]", "IP"))

    def lexical_of(self, tokens: list[str], rows: list[int]) -> dict[int, float]:
        if not tokens or not rows:
            return {}
        return dict(self._lexical(tokens, len(rows), f"key in [{', '.join(str(int(r)) for r in rows)}]"))

    def _lexical(self, tokens: list[str], k: int, expr: str) -> list[tuple[int, float]]:
        # Milvus multiplies BM25 by (k1 + 1) and milvus-lite reports it negated; bm25s does neither.
        return [(key, abs(d) / (BM25_K1 + 1)) for key, d in
                self._search([lexical_text(tokens)], "sparse", k, expr, "BM25") if d]

    def is_boilerplate(self, row: int) -> bool:
        known = self._boilerplate.get(int(row))
        if known is None:
            known = self.chunks_of([row])[row].boilerplate
        return bool(known)

    # ---- records

    def chunks_of(self, rows: list[int]) -> dict[int, Chunk]:
        out: dict[int, Chunk] = {}
        missing = []
        for r in rows:
            c = self._records.get(int(r))
            if c is None:
                missing.append(int(r))
            else:
                out[int(r)] = c
        if missing:
            found = self.client.query(self.chunks_name,
                                      filter=_and(self._visible, f"key in [{', '.join(map(str, missing))}]"),
                                      output_fields=["key", "record", "sentences", "boilerplate"])
            for f in found:
                key = int(f["key"])
                c = Chunk.from_dict(json.loads(f["record"]))
                self._records.put(key, c)
                self._sentences.put(key, _decode(f["sentences"], int(self.manifest["model"]["dim"])))
                self._boilerplate.put(key, bool(f["boilerplate"]))
                out[key] = c
        absent = [r for r in rows if int(r) not in out]
        if absent:
            raise KeyError(f"no passage with key {absent[0]} in Milvus collection {self.chunks_name}")
        return out

    def chunk(self, row: int) -> Chunk:
        return self.chunks_of([row])[int(row)]

    def sentences_of(self, row: int) -> np.ndarray | None:
        got = self._sentences.get(int(row))
        if got is None:
            self.chunks_of([row])
            got = self._sentences.get(int(row))
        return got

    def row_of(self, chunk_id: str) -> int:
        return key_for(chunk_id)

    def chunk_by_id(self, chunk_id: str) -> Chunk:
        try:
            c = self.chunk(key_for(chunk_id))
        except KeyError:
            c = None
        if c is None or c.id != chunk_id:
            raise KeyError(f"no chunk {chunk_id!r} in Milvus collection {self.chunks_name}")
        return c

    def chunks_by_ids(self, chunk_ids: list[str]) -> list[Chunk]:
        got = self.chunks_of([key_for(i) for i in chunk_ids])
        return [got[key_for(i)] for i in chunk_ids]

    # ---- term statistics

    def prefetch_idf(self, tokens: list[str]) -> None:
        todo = sorted({t for t in tokens if self._df.get(t) is None})
        if not todo:
            return
        rows = self.client.query(self.terms_name, filter=f"term in [{', '.join(map(_quote, todo))}]",
                                 output_fields=["term", "df"])
        df = {r["term"]: int(r["df"]) for r in rows}
        for t in todo:
            self._df.put(t, df.get(t, 0))

    def idf(self, token: str) -> float:
        """The same IDF as `rag.store.Index.idf`, from the published document frequencies."""
        import math

        self.prefetch_idf([token])
        df = self._df.get(token) or 0
        n = len(self)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def _encode(vectors: np.ndarray | None) -> str:
    if vectors is None:
        return ""
    return base64.b64encode(np.asarray(vectors, dtype=np.float16).tobytes()).decode("ascii")


def _decode(text: str, dim: int) -> np.ndarray | None:
    if not text:
        return None
    return np.frombuffer(base64.b64decode(text), dtype=np.float16).reshape(-1, dim)


def open_milvus(uri: str, base: str, model_id: str | None = None, fingerprint: str | None = None,
                token: str = "") -> MilvusIndex:
    """The version published last in Milvus, checked against the embedding model like a local index."""
    client = connect(uri, token)
    version = read_version(client, base)
    if version is None:
        raise IndexMissingError(f"Milvus at {uri}: nothing published under {base!r} yet; run `rag index` with "
                                "RAG_STORE=milvus")
    manifest = read_manifest(client, base, version)
    for name in names(base)[:2]:
        ensure_loaded(client, name)
    check_compatible(manifest, f"Milvus {uri} ({base})", model_id, fingerprint)
    return MilvusIndex(client, base, manifest)


def row_of_chunk(chunk: Chunk, tokens: list[str], vector: np.ndarray, sentences: np.ndarray | None,
                 born: int) -> dict:
    """The Milvus row of one passage, inserted by publish number `born`; a field over Milvus's size
    limit is an error naming the chunk."""
    m = chunk.meta
    row = {
        "key": key_for(chunk.id),
        "born": int(born),
        "chunk_id": chunk.id,
        "doc_id": chunk.doc_id,
        "ticker": (m.ticker or "").upper() if m else "",
        "period": (m.period or "") if m else "",
        "language": chunk.language,
        "section": chunk.section,
        "names": sorted(names_of(chunk))[:32],
        "roles": sorted({s.role for s in chunk.speakers}),
        "boilerplate": bool(chunk.boilerplate),
        "record": json.dumps(chunk.to_dict(), ensure_ascii=False),
        "sentences": _encode(sentences),
        "lexical": lexical_text(tokens),
        "vector": np.asarray(vector, dtype=np.float32).tolist(),
    }
    for name in ("record", "sentences", "lexical"):
        size = len(row[name].encode("utf-8"))
        if size > MAX_TEXT:
            raise ValueError(f"chunk {chunk.id} of {chunk.doc_id}: its {name} field is {size} bytes, over "
                             f"Milvus's VARCHAR limit of {MAX_TEXT}; lower RAG_CHUNK_MAX_TOKENS")
    return row


def rows_of(index: Index, rows: list[int], born: int) -> list[dict]:
    return [row_of_chunk(index.chunks[r], index.tokens[r], index.embeddings[r], index.sentences_of(r), born)
            for r in rows]

"""Search at scale: FAISS index kinds, filters inside the search, and BM25, at N passages (up to
1,000,000) made from real ones. Prints one table per N.

    .venv/bin/python bench/scale_bench.py --passages 10000 100000 1000000 [--kinds flat hnsw ivf-sq8 ivf-pq]

Passages: the chunks of a real index (default: the eval index over seeds + ../shared/transcripts, built
with the configured model when missing), repeated with changed companies, periods and figures. A copy's
vector is its original's plus a share of another real passage's and Gaussian noise, renormalised
(cosine to the original about 0.9), so copies neither collapse onto their original nor scatter
uniformly; its tokens are the original's with the figures changed and the copy's company token added.
Queries are real eval questions embedded by the model. recall@10 is against exact inner-product
search over the same vectors. Filters run inside the search: a company filter (one company's
passages, ~1/400 of the corpus) and a language filter (about half), either as an exact scan of the
allowed rows or as a FAISS IDSelector passed to the index's own search.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMPANIES = 420  # as many as the large corpus has
K = 10


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def base_data(settings, embedder) -> tuple[np.ndarray, list[list[str]], list[str]]:
    """Vectors, tokens and languages of a real index's chunks (built when missing)."""
    from rag.build import build_index
    from rag.store import load_index

    idx = ROOT / "eval" / ".index" / "bench-full"
    sources = [ROOT / "seeds", ROOT.parent / "shared" / "transcripts"]
    build_index([s for s in sources if s.exists()], idx, embedder)
    index = load_index(idx, embedder.model_id, embedder.fingerprint(), verify=False)
    return np.asarray(index.embeddings, dtype=np.float32), index.tokens, [c.language for c in index.chunks]


def questions(embedder, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectors and languages of `n` eval questions."""
    from rag.text_lang import language

    qs = []
    for f in sorted((ROOT / "eval" / "cases").glob("*.jsonl")):
        qs += [json.loads(line)["question"] for line in f.open(encoding="utf-8") if line.strip()]
    rng = np.random.default_rng(7)
    pick = [qs[i] for i in rng.choice(len(qs), size=min(n, len(qs)), replace=False)]
    return (np.asarray(embedder.embed_queries(pick), dtype=np.float32),
            np.array([language(q) for q in pick], dtype=object))


def synthesize(n: int, vecs: np.ndarray, tokens: list[list[str]], langs: list[str], seed: int = 0):
    """n passages: vectors (float32, unit), tokens, company id and language per passage."""
    rng = np.random.default_rng(seed)
    b, dim = vecs.shape
    src = np.arange(n) % b
    other = rng.integers(0, b, size=n)
    out = np.empty((n, dim), dtype=np.float32)
    step = 65536
    for i in range(0, n, step):
        j = slice(i, min(n, i + step))
        v = vecs[src[j]] + 0.35 * vecs[other[j]] + rng.normal(0, 0.02, size=(j.stop - j.start, dim)).astype(np.float32)
        out[j] = v / np.linalg.norm(v, axis=1, keepdims=True)
    out[:b] = vecs  # the originals stay as they are
    copy = np.arange(n) // b
    company = (copy * 7919 + src // 40) % COMPANIES  # a call's chunks stay together under one company
    toks = []
    for i in range(n):
        t = tokens[src[i]]
        if copy[i]:
            t = [str(round(float(x) * (1 + 0.01 * (copy[i] % 37)), 1)) if x.replace(".", "", 1).isdigit() else x
                 for x in t] + [f"co{company[i]}"]
        toks.append(t)
    lang = np.array([langs[s] for s in src], dtype=object)
    return out, toks, company, lang


def make_index(kind: str, x: np.ndarray):
    import faiss

    n, dim = x.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    elif kind == "hnsw-sq8":  # the graph over 8-bit vectors: a quarter of the memory
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.train(x[np.random.default_rng(1).choice(n, size=min(n, 100_000), replace=False)])
    else:
        nlist = int(max(16, min(4 * np.sqrt(n), n / 39)))  # faiss wants >= 39 training points a list
        quantizer = faiss.IndexFlatIP(dim)
        if kind == "ivf-sq8":
            index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                                  faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFPQ(quantizer, dim, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT)
        sample = x[np.random.default_rng(1).choice(n, size=min(n, 64 * nlist), replace=False)]
        index.train(sample)
    index.add(x)
    return index


EF_SEARCH = (128, 512)
NPROBE = (32, 64, 128)


def params(kind: str, sel=None, effort: int | None = None):
    """Search parameters: HNSW's efSearch or IVF's nprobe (`effort`, default the first of the sweep)."""
    import faiss

    if kind.startswith("hnsw"):
        return faiss.SearchParametersHNSW(sel=sel, efSearch=effort or EF_SEARCH[0])
    if kind.startswith("ivf"):
        return faiss.SearchParametersIVF(sel=sel, nprobe=effort or NPROBE[1])
    return faiss.SearchParameters(sel=sel) if sel is not None else None


def timed(fn, qs: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    ids, ms = [], []
    for q in qs:
        t = time.perf_counter()
        ids.append(fn(q.reshape(1, -1)))
        ms.append((time.perf_counter() - t) * 1000)
    return ids, np.asarray(ms)


def recall(found: list[np.ndarray], truth: list[np.ndarray]) -> float:
    hits = [len(set(f.tolist()) & set(t.tolist())) / max(1, min(K, len(t))) for f, t in zip(found, truth)]
    return float(np.mean(hits))


def _row(kind: str, search: str, ms: np.ndarray, rec: float | None, build_s: float | None = None,
         mem_mb: float | None = None) -> dict:
    return {"kind": kind, "search": search, "build_s": build_s, "mem_mb": mem_mb,
            "p50": np.percentile(ms, 50), "p95": np.percentile(ms, 95), "recall": rec}


def bench_dense(kind: str, x: np.ndarray, qs: np.ndarray, company: np.ndarray, lang: np.ndarray,
                truth: dict[str, list[np.ndarray]], qlang: np.ndarray) -> list[dict]:
    import faiss

    gc.collect()
    before = rss_mb()
    t = time.perf_counter()
    index = make_index(kind, x)
    build_s = time.perf_counter() - t
    mem = rss_mb() - before

    def search(target, p, q):
        return target.search(q, K, params=p)[1][0]

    rows = []
    sweep = EF_SEARCH if kind.startswith("hnsw") else NPROBE if kind.startswith("ivf") else (None,)
    for effort in sweep:
        found, ms = timed(partial(search, index, params(kind, effort=effort)), qs)
        label = "unfiltered" + (f" ({'efSearch' if kind.startswith('hnsw') else 'nprobe'} {effort})" if effort else "")
        rows.append(_row(kind, label, ms, recall(found, truth["none"]),
                         *((build_s, mem) if not rows else ())))
    # The store's design: one index per language (the retriever ranks each language on its own), so a
    # language is a partition, not a filter; measured here as an index over the English rows.
    # Questions in the partition's language, and in the other one: those lie far from its IVF lists,
    # so the retriever probes CROSS_LANGUAGE_EFFORT times as many (rag/retrieve.py).
    from rag.retrieve import CROSS_LANGUAGE_EFFORT
    from rag.store import IVF_NPROBE

    en = np.flatnonzero(lang == "en")
    part = make_index(kind, np.ascontiguousarray(x[en]))
    found, ms = timed(lambda q, part=part: en[search(part, params(kind), q)], qs)
    rows.append(_row(kind, f"language partition ({len(en) / len(x):.0%} of rows)", ms,
                     recall(found, truth["language"])))
    if kind.startswith("ivf"):
        for who, mask, efforts in (("en", qlang == "en", (1,)), ("zh", qlang == "zh", (1, CROSS_LANGUAGE_EFFORT))):
            sub = np.flatnonzero(mask)
            for effort in efforts:
                p = params(kind, effort=IVF_NPROBE * effort)
                found, ms = timed(lambda q, part=part, p=p: en[search(part, p, q)], qs[sub])
                rows.append(_row(kind, f"language partition, {'cross-language, ' if who == 'zh' else ''}{who} "
                                       f"questions (nprobe {IVF_NPROBE * effort})", ms,
                                 recall(found, [truth["language"][i] for i in sub])))
        rows.append(_moved_row(kind, part, x, en, lang, qs[qlang == "zh"],
                               [truth["language"][i] for i in np.flatnonzero(qlang == "zh")]))
    del part
    for name, mask in (("company", company == 17), ("language", lang == "en")):
        bits = np.packbits(mask, bitorder="little")  # the selector points into this buffer: keep it alive
        sel = faiss.IDSelectorBitmap(bits)
        found, ms = timed(partial(search, index, params(kind, sel)), qs)
        rows.append(_row(kind, f"{name} filter, IDSelector ({mask.mean():.2%})", ms,
                         recall([f[f >= 0] for f in found], truth[name])))
    del index
    gc.collect()
    return rows


def _moved_row(kind: str, part, x: np.ndarray, en: np.ndarray, lang: np.ndarray, qs: np.ndarray,
               truth: list[np.ndarray]) -> dict:
    """Chinese questions over the English partition as the store searches them: the lists nearest the
    question moved toward the English passages (`rag.index.LANGUAGE_SHIFT`), at the retriever's effort."""
    from rag.index import LANGUAGE_SHIFT, _centroids, _search_lists, ivf_mean
    from rag.retrieve import CROSS_LANGUAGE_EFFORT
    from rag.store import IVF_NPROBE

    cent = _centroids(part)
    shift = LANGUAGE_SHIFT * (ivf_mean(part) - x[lang == "zh"].mean(axis=0))
    n = min(part.nlist, IVF_NPROBE * CROSS_LANGUAGE_EFFORT)

    def one(q):
        moved = q[0] + shift
        lists = np.argpartition(-(cent @ (moved / np.linalg.norm(moved))), n - 1)[:n].astype(np.int64)
        return en[_search_lists(part, q, K, lists)[1][0]]

    found, ms = timed(one, qs)
    return _row(kind, f"language partition, cross-language, zh questions, lists toward English (nprobe {n})",
                ms, recall(found, truth))


def exact_rows(x: np.ndarray, qs: np.ndarray, mask: np.ndarray | None) -> tuple[list[np.ndarray], np.ndarray]:
    """Exact top-K by scanning the allowed rows (the FAISS store's filtered search for small sets)."""
    rows = np.arange(len(x)) if mask is None else np.flatnonzero(mask)

    def one(q):
        s = x[rows] @ q[0] if mask is not None else x @ q[0]
        top = np.argpartition(-s, min(K, len(s) - 1))[:K]
        return rows[top[np.argsort(-s[top])]]

    return timed(one, qs)


def bench_bm25(tokens: list[list[str]], query_tokens: list[list[str]], mask: np.ndarray) -> list[dict]:
    import bm25s

    gc.collect()
    before = rss_mb()
    t = time.perf_counter()
    bm = bm25s.BM25()
    bm.index(tokens, show_progress=False)
    build_s = time.perf_counter() - t
    mem = rss_mb() - before
    vocab = bm.vocab_dict
    out = []
    for name, m in (("unfiltered", None), ("company filter", mask)):
        ms = []
        for qt in query_tokens:
            known = [w for w in qt if w in vocab]
            t = time.perf_counter()
            if known:
                s = bm.get_scores(known)
                if m is not None:
                    s = np.where(m, s, 0)
                np.argpartition(-s, 50)[:50]
            ms.append((time.perf_counter() - t) * 1000)
        out.append(_row("bm25s", name, np.asarray(ms), None, *((build_s, mem) if m is None else ())))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--kinds", nargs="+", default=["flat", "hnsw", "hnsw-sq8", "ivf-sq8", "ivf-pq"])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--no-bm25", action="store_true")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    if any(not 1000 <= n <= 2_000_000 for n in args.passages):
        raise SystemExit("--passages must be between 1,000 and 2,000,000")

    from rag.app import make_embedder
    from rag.config import get_settings
    from rag.lexical import tokenize

    settings = get_settings()
    emb = make_embedder(settings)
    vecs, tokens, langs = base_data(settings, emb)
    qv, qlang = questions(emb, args.queries)
    qtok = [tokenize(t) for t in ("revenue growth guidance", "gross margin", "营收 同比 增长", "free cash flow",
                                   "净利润", "operating income 2021", "subscribers", "capital expenditure")] * 25
    all_rows = []
    for n in args.passages:
        x, toks, company, lang = synthesize(n, vecs, tokens, langs)
        truth = {"none": exact_rows(x, qv, None)[0]}
        e_company, ms_c = exact_rows(x, qv, company == 17)
        e_lang, ms_l = exact_rows(x, qv, lang == "en")
        truth["company"], truth["language"] = e_company, e_lang
        _, ms_all = exact_rows(x, qv, None)
        rows = [_row("numpy scan", "unfiltered (exact)", ms_all, 1.0, 0, x.nbytes / 2**20),
                _row("numpy scan", f"company filter, allowed rows ({(company == 17).mean():.2%})", ms_c, 1.0),
                _row("numpy scan", "language filter, allowed rows", ms_l, 1.0)]
        for kind in args.kinds:
            rows += bench_dense(kind, x, qv, company, lang, truth, qlang)
            print(f"  {n:,}: {kind} done", file=sys.stderr, flush=True)
        if not args.no_bm25:
            rows += bench_bm25(toks, qtok, company == 17)
        print(f"\n## {n:,} passages (dim {x.shape[1]}, {len(qv)} queries, k={K}, faiss threads: 2)\n")
        print("| index | search | build s | memory MB | p50 ms | p95 ms | recall@10 |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for r in rows:
            f = lambda v, d=1: "" if v is None else f"{v:.{d}f}"
            print(f"| {r['kind']} | {r['search']} | {f(r['build_s'])} | {f(r['mem_mb'], 0)} | {f(r['p50'], 2)} | "
                  f"{f(r['p95'], 2)} | {f(r['recall'], 3)} |", flush=True)
        all_rows += [{**r, "passages": n} for r in rows]
        del x, toks
        gc.collect()
    if args.json:
        Path(args.json).write_text(json.dumps(all_rows, default=float, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

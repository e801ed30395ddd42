"""The product at scale, end to end: a real index folder of N passages (made from the eval index's
chunks, repeated with changed companies, tickers, periods and figures, as in scale_bench.py), then
in a fresh process: load time, resident memory, and warm `ask` p50/p95 (extractive, the real
embedding model) over eval questions. Prints one table.

    .venv/bin/python bench/scale_e2e.py --passages 1000000 [--index-dir /tmp/scale-1m] [--no-sentences]
                                        [--add ../shared/transcripts/<one call>]

Then one real call is added with `build_index` (as `rag index` would, keeping the other documents):
its time, what was embedded and how many bytes the new version wrote. The service is measured on
the index after that addition (a delta version from 20,000 passages on).

The folder is written by `rag.store.write_index`, the same code `rag index` uses, with the vectors
made as in scale_bench.py instead of embedded (embedding a million passages takes this machine a day).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

NUMBER = re.compile(r"\d+(?:\.\d+)?")


class Synthetic(Sequence):
    """Copy i of the real chunks: the original for the first round, then with another company,
    ticker, period, figures and id."""

    def __init__(self, chunks: list, company: np.ndarray, figures: bool = True) -> None:
        self.chunks, self.company, self.figures = chunks, company, figures

    def __len__(self) -> int:
        return len(self.company)

    def __getitem__(self, i: int):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        b = len(self.chunks)
        c, copy = self.chunks[i % b], i // b
        if not copy:
            return c
        factor = 1 + 0.01 * (copy % 37)
        scale = lambda m: f"{float(m.group()) * factor:.1f}"
        cid = int(self.company[i])
        doc_id = f"{c.doc_id}~{copy}"
        meta = dataclasses.replace(c.meta, doc_id=doc_id, company=f"Company {cid}", ticker=f"C{cid:03d}",
                                   period=f"FY{2015 + copy % 10}Q{1 + copy % 4}", aliases=()) if c.meta else None
        chunk_id = f"{(int(c.id[:15], 16) * 1_000_003 + copy) % (1 << 60):015x}0"
        # The copy's figures differ in its lexical tokens (scale_bench.synthesize) and in the text only
        # when asked (`figures`): rewriting a million texts on every pass over them takes an hour here.
        if not self.figures:
            return dataclasses.replace(c, id=chunk_id, doc_id=doc_id, meta=meta)
        return dataclasses.replace(c, id=chunk_id, doc_id=doc_id, text=NUMBER.sub(scale, c.text),
                                   embed_text=NUMBER.sub(scale, c.embed_text), meta=meta)


def make(n: int, out: Path, with_sentences: bool) -> float:
    """Write an index of n passages into `out`; returns the seconds write_index took."""
    from scale_bench import synthesize

    from rag.app import make_embedder
    from rag.config import get_settings
    from rag.store import load_index, write_index

    settings = get_settings()
    emb = make_embedder(settings)
    from scale_bench import base_data

    vecs, tokens, langs = base_data(settings, emb)
    base = load_index(ROOT / "eval" / ".index" / "bench-full", verify=False)
    chunks0 = list(base.chunks)
    x, toks, company, _ = synthesize(n, vecs, list(tokens), langs)
    b = len(chunks0)
    # Made on access: a million copies of the texts would not fit.
    chunks = Synthetic(chunks0, company, figures=n <= 200_000)
    sentences = [base.sentences_of(i % b) for i in range(n)] if with_sentences else None
    docs: dict[str, dict] = {}
    for c in chunks:
        d = docs.setdefault(c.doc_id, {"chunk_ids": [], "company": c.meta.company if c.meta else None,
                                       "ticker": c.meta.ticker if c.meta else None,
                                       "period": c.meta.period if c.meta else None,
                                       "language": c.meta.language if c.meta else "en",
                                       "aliases": list(c.meta.aliases) if c.meta else [], "hash": "synthetic"})
        d["chunk_ids"].append(c.id)
    manifest = {**{k: base.manifest[k] for k in ("model", "chunking")}, "documents": docs,
                "sources": ["synthetic"], "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    t = time.perf_counter()
    write_index(out, chunks, toks, x, manifest, sentences=sentences)
    return time.perf_counter() - t


def add_one(out: Path, call: Path) -> dict:
    """Add one call to the index at `out` as `rag index` does; what it cost."""
    import shutil
    import tempfile

    from rag.app import make_embedder
    from rag.build import build_index
    from rag.config import get_settings
    from rag.store import current_folder

    emb = make_embedder(get_settings())
    emb.load()
    before = {p for p in out.rglob("*") if p.is_file()}
    # A new document (the synthetic corpus holds every shared transcript under its own name already).
    new = Path(tempfile.mkdtemp()) / f"NEWCO_{call.name}"
    shutil.copy(call, new)
    t = time.perf_counter()
    report = build_index([new], out, emb, keep_missing=True)
    seconds = time.perf_counter() - t
    written = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and p not in before)
    return {"seconds": seconds, "embed_s": report.embed_seconds, "embedded": report.chunks_embedded,
            "written_mb": written / 2**20, "delta": "base" in json.loads(
                (current_folder(out) / "manifest.json").read_text())}


def measure(index_dir: Path, rounds: int) -> dict:
    """Run in a fresh process: load, then warm asks; memory from /proc."""
    from scale_bench import rss_mb

    from rag.app import make_assistant, make_embedder
    from rag.config import get_settings
    from rag.store import load_index

    settings = get_settings()
    emb = make_embedder(settings)
    emb.load()
    before = rss_mb()
    t = time.perf_counter()
    index = load_index(index_dir, emb.model_id, emb.fingerprint(), verify=False)
    a = make_assistant(settings, index, emb)
    a.ask("revenue growth 收入", top_k=settings.top_k)  # warms jieba, the columns, the reader
    load_s = time.perf_counter() - t
    qs = []
    for f in sorted((ROOT / "eval" / "cases").glob("*.jsonl")):
        qs += [json.loads(line)["question"] for line in f.open(encoding="utf-8") if line.strip()]
    qs = qs[::3][:80]
    ms = []
    for _ in range(rounds):
        for q in qs:
            t = time.perf_counter()
            a.ask(q, top_k=settings.top_k)
            ms.append((time.perf_counter() - t) * 1000)
    kind = getattr(index, "base", index).manifest["faiss"]["kind"]  # a delta's base holds the bulk
    return {"passages": len(index), "kind": kind, "load_s": load_s,
            "rss_model_mb": before, "rss_mb": rss_mb(), "p50": float(np.percentile(ms, 50)),
            "p95": float(np.percentile(ms, 95)), "asks": len(ms)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=100_000)
    ap.add_argument("--index-dir", type=Path)
    ap.add_argument("--no-sentences", action="store_true")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--add", type=Path, default=ROOT.parent / "shared" / "transcripts" / "MDB_FY25Q4_en.txt",
                    help="a transcript to add after the build (timed)")
    ap.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    out = args.index_dir or Path(f"/tmp/rag-scale-{args.passages}")
    if args.measure_only:
        print(json.dumps(measure(out, args.rounds)))
        return 0
    from scale_bench import rss_mb

    t = time.perf_counter()
    write_s = make(args.passages, out, not args.no_sentences)
    total_s = time.perf_counter() - t
    peak = rss_mb()
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    added = add_one(out, args.add) if args.add and args.add.exists() else None
    run = subprocess.run([sys.executable, __file__, "--measure-only", "--index-dir", str(out),
                          "--rounds", str(args.rounds)], capture_output=True, text=True, check=True)
    m = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"\n## End to end at {m['passages']:,} passages ({m['kind']}; {m['asks']} warm asks, extractive)\n")
    print("| write_index s | make + write s | writer RSS MB | on disk MB | load s | service RSS MB (model alone) "
          "| ask p50 ms | ask p95 ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {write_s:.0f} | {total_s:.0f} | {peak:.0f} | {size:.0f} | {m['load_s']:.1f} | "
          f"{m['rss_mb']:.0f} ({m['rss_model_mb']:.0f}) | {m['p50']:.1f} | {m['p95']:.1f} |")
    if added:
        print(f"\nAdding {args.add.name}: {added['seconds']:.1f} s ({added['embed_s']:.1f} s embedding "
              f"{added['embedded']} passages), {added['written_mb']:.1f} MB written, "
              f"{'a delta version' if added['delta'] else 'a full version'}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

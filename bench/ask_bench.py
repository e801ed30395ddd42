"""Warm latency of `rag ask` in-process (extractive backend) over the seed plus ../shared/transcripts,
per stage, p50 and p95. Prints a table.

    .venv/bin/python bench/ask_bench.py [--index-dir DIR] [--rounds N]

The index is built (incrementally) into --index-dir first; questions come from eval/cases.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer import Assistant  # noqa: E402
from rag.app import make_embedder  # noqa: E402
from rag.build import build_index  # noqa: E402
from rag.config import get_settings  # noqa: E402
from rag.followup import rewrite  # noqa: E402
from rag.glossary import expand  # noqa: E402
from rag.lexical import tokenize  # noqa: E402
from rag.store import load_index  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index-dir", type=Path, default=ROOT / "eval" / ".index" / "bench-full")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    settings = get_settings()
    emb = make_embedder(settings)
    sources = [ROOT / "seeds", ROOT.parent / "shared" / "transcripts"]
    build_index([s for s in sources if s.exists()], args.index_dir, emb)
    a = Assistant(load_index(args.index_dir, emb.model_id, emb.fingerprint()), emb)
    cases = [json.loads(line) for f in sorted((ROOT / "eval" / "cases").glob("*.jsonl")) for line in f.open()]
    questions = [(c["question"], c.get("history")) for c in cases]
    a.ask("warm-up question about revenue")  # loads jieba, the model's first batch, caches

    stages: dict[str, list[float]] = {k: [] for k in
                                      ("rewrite+scope", "embed query", "dense search", "lexical (bm25)",
                                       "retrieve (fused)", "answer (reader)", "ask total")}
    for _ in range(args.rounds):
        for q, history in questions:
            t = time.perf_counter
            t0 = t()
            standalone = rewrite(q, history, a.retriever.catalog)
            scope = a.retriever.scope(standalone)
            t1 = t()
            vec = emb.embed_queries([standalone])[0]
            t2 = t()
            where = a.retriever.where(None, None if scope.out_of_index else scope)
            a.index.dense(vec, 50, where)
            t3 = t()
            a.index.lexical(tokenize(expand(standalone)), 50, where)
            t4 = t()
            hits = a.retriever.retrieve(standalone, settings.top_k, None, None if scope.out_of_index else scope,
                                        query_vector=vec)
            t5 = t()
            a.picker.pick(standalone, hits, vec, a._skip_terms(scope), ahead=scope.ahead, idf=a.retriever.idf_for(scope))
            t6 = t()
            a.ask(q, history=history, top_k=settings.top_k)
            t7 = t()
            for k, v in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6)):
                stages[k].append(v * 1000)

    n = len(stages["ask total"])
    print(f"\n{n} asks ({len(questions)} questions x {args.rounds}), index of {len(a.index)} chunks "
          f"from {len(a.index.manifest['documents'])} transcripts, model {emb.model_id}\n")
    print(f"| {'stage':<22} | {'p50 ms':>8} | {'p95 ms':>8} |")
    print(f"|{'-' * 24}|{'-' * 10}|{'-' * 10}|")
    for k, v in stages.items():
        print(f"| {k:<22} | {np.percentile(v, 50):>8.2f} | {np.percentile(v, 95):>8.2f} |")
    p50, p95 = np.percentile(stages["ask total"], 50), np.percentile(stages["ask total"], 95)
    print(f"\nask total: p50 {p50:.1f} ms (target < 50), p95 {p95:.1f} ms (target < 150)")
    return 0 if p50 < 50 and p95 < 150 else 1


if __name__ == "__main__":
    raise SystemExit(main())

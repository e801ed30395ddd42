"""Index build throughput: the whole `rag index` pipeline vs bare SentenceTransformer.encode on the
same texts, plus an incremental add of one transcript. Prints a table.

    .venv/bin/python bench/index_bench.py [--sources seeds ../shared/transcripts] [--add FILE]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.build import build_index  # noqa: E402
from rag.chunk import chunk_transcript  # noqa: E402
from rag.config import get_settings  # noqa: E402
from rag.embed import load_embedder  # noqa: E402
from rag.ingest import find_transcripts, read_transcript  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sources", nargs="+", type=Path, default=[ROOT / "seeds", ROOT.parent / "shared" / "transcripts"])
    p.add_argument("--add", type=Path, default=None, help="transcript added incrementally (default: the last file)")
    args = p.parse_args()
    sources = [s for s in args.sources if s.exists()]
    settings = get_settings()
    emb = load_embedder(settings.embed_model, settings.model_cache_dir, batch_size=settings.embed_batch_size)
    emb.load()
    emb.embed_passages(["warm-up passage"] * 4)
    files = find_transcripts(sources)
    add = args.add or files[-1]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = build_index(sources, Path(tmp) / "index", emb,
                             max_tokens=settings.chunk_max_tokens, overlap_tokens=settings.chunk_overlap_tokens)
        pipeline_s = time.perf_counter() - t0
        n = report.chunks_embedded
        rows.append(("rag index (full build)", n, pipeline_s, n / pipeline_s))

        texts = [c.embed_text for f in files for c in chunk_transcript(
            read_transcript(f), settings.chunk_max_tokens, settings.chunk_overlap_tokens)]
        model = emb._model  # the very SentenceTransformer the pipeline used
        t0 = time.perf_counter()
        model.encode(texts, prompt=emb.passage_prompt, batch_size=settings.embed_batch_size,
                     normalize_embeddings=True, convert_to_numpy=True)
        bare_s = time.perf_counter() - t0
        rows.append(("bare SentenceTransformer.encode", len(texts), bare_s, len(texts) / bare_s))

        # Incremental: index everything but one transcript, then add it.
        src = Path(tmp) / "src"
        src.mkdir()
        for f in files:
            if f != add:
                shutil.copy(f, src / f.name)
        inc_dir = Path(tmp) / "inc"
        build_index([src], inc_dir, emb)
        shutil.copy(add, src / add.name)
        expected = len(chunk_transcript(read_transcript(add), settings.chunk_max_tokens, settings.chunk_overlap_tokens))
        t0 = time.perf_counter()
        inc = build_index([src], inc_dir, emb)
        inc_s = time.perf_counter() - t0
        rows.append((f"add {add.name}", inc.chunks_embedded, inc_s, inc.chunks_embedded / inc_s))
        t0 = time.perf_counter()
        noop = build_index([src], inc_dir, emb)
        rows.append(("re-run, nothing changed", noop.chunks_embedded, time.perf_counter() - t0, 0.0))

    print(f"\nmodel {emb.model_id}, batch {settings.embed_batch_size}, {len(files)} transcripts\n")
    print(f"| {'run':<40} | {'chunks':>6} | {'seconds':>8} | {'chunks/s':>8} |")
    print(f"|{'-' * 42}|{'-' * 8}|{'-' * 10}|{'-' * 10}|")
    for name, n, s, rate in rows:
        print(f"| {name:<40} | {n:>6} | {s:>8.2f} | {rate:>8.2f} |")
    ratio = rows[0][3] / rows[1][3]
    print(f"\npipeline / bare encode throughput: {ratio:.1%} (target >= 80%)")
    print(f"incremental add embedded {inc.chunks_embedded} chunks; the added transcript has {expected} "
          f"({'only its chunks' if inc.chunks_embedded == expected and inc.added == [add.stem] else 'MISMATCH'})")
    return 0 if ratio >= 0.8 and inc.chunks_embedded == expected else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Index build throughput per embedding backend (torch fp32, torch bf16, onnx-int8): the whole `rag index`
pipeline (passage and sentence vectors) vs a bare encode of the same texts, plus an incremental add
of one transcript. Prints one table.

    .venv/bin/python bench/index_bench.py [--sources seeds ../shared/transcripts] [--add FILE]
                                          [--backends torch torch-bf16 onnx-int8]
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


def bare_encode(emb, texts: list[str], batch_size: int) -> None:
    """Passage vectors only, with nothing of the pipeline around them."""
    if emb.backend == "torch":
        with emb._autocast():
            emb._model.encode(texts, prompt=emb.passage_prompt, batch_size=batch_size, normalize_embeddings=True,
                              convert_to_numpy=True)
    else:
        emb.embed_passages(texts)


def run(backend: str, sources: list[Path], files: list[Path], add: Path, settings) -> list[tuple]:
    engine, _, precision = backend.partition("-") if backend.startswith("torch") else (backend, "", "")
    emb = load_embedder(settings.embed_model, settings.model_cache_dir, batch_size=settings.embed_batch_size,
                        backend=engine, precision=precision or "fp32")
    emb.load()
    emb.embed_passages(["warm-up passage"] * 4)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = build_index(sources, Path(tmp) / "index", emb,
                             max_tokens=settings.chunk_max_tokens, overlap_tokens=settings.chunk_overlap_tokens)
        pipeline_s = time.perf_counter() - t0
        n = report.chunks_embedded
        rows.append((backend, "rag index (full build)", n, pipeline_s, n / pipeline_s))

        texts = [c.embed_text for f in files for c in chunk_transcript(
            read_transcript(f), settings.chunk_max_tokens, settings.chunk_overlap_tokens)]
        t0 = time.perf_counter()
        bare_encode(emb, texts, settings.embed_batch_size)
        bare_s = time.perf_counter() - t0
        rows.append((backend, "bare encode (passages only)", len(texts), bare_s, len(texts) / bare_s))

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
        ok = inc.chunks_embedded == expected and inc.added == [add.stem]
        rows.append((backend, f"add {add.name}" + ("" if ok else " (MISMATCH)"), inc.chunks_embedded, inc_s,
                     inc.chunks_embedded / inc_s))
        t0 = time.perf_counter()
        noop = build_index([src], inc_dir, emb)
        rows.append((backend, "re-run, nothing changed", noop.chunks_embedded, time.perf_counter() - t0, 0.0))
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sources", nargs="+", type=Path, default=[ROOT / "seeds", ROOT.parent / "shared" / "transcripts"])
    p.add_argument("--add", type=Path, default=None, help="transcript added incrementally (default: the last file)")
    p.add_argument("--backends", nargs="+", default=["torch", "torch-bf16", "onnx-int8"],
                   choices=["torch", "torch-bf16", "onnx-int8"], help="torch is fp32")
    args = p.parse_args()
    sources = [s for s in args.sources if s.exists()]
    settings = get_settings()
    files = find_transcripts(sources)
    add = args.add or files[-1]
    rows = [r for b in args.backends for r in run(b, sources, files, add, settings)]

    print(f"\nmodel {settings.embed_model}, batch {settings.embed_batch_size}, {len(files)} transcripts\n")
    print(f"| {'backend':<10} | {'run':<44} | {'chunks':>6} | {'seconds':>8} | {'chunks/s':>8} |")
    print(f"|{'-' * 12}|{'-' * 46}|{'-' * 8}|{'-' * 10}|{'-' * 10}|")
    for backend, name, n, s, rate in rows:
        print(f"| {backend:<10} | {name:<44} | {n:>6} | {s:>8.2f} | {rate:>8.2f} |")
    full = {r[0]: r[4] for r in rows if r[1] == "rag index (full build)"}
    bare = {r[0]: r[4] for r in rows if r[1].startswith("bare")}
    for b in full:
        print(f"{b}: pipeline / bare encode throughput {full[b] / bare[b]:.1%}")
    if {"torch", "onnx-int8"} <= set(full):
        print(f"onnx-int8 / torch full-build throughput: {full['onnx-int8'] / full['torch']:.2f}x (target >= 2x)")
    return 0 if not any("MISMATCH" in r[1] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

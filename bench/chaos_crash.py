"""Crashes mid-build: `rag index` over a corpus with changes, killed with SIGKILL at a random moment,
then the index loaded and searched, compared with clean builds of the old and the new version, and
built again without a manual step.

Half the kills come at a random time within a build's measured duration (mostly while embedding,
where a build spends its time); the other half at a random one of the build's file writes and
renames (an audit hook in the killed process counts them and kills at the k-th), so the short write
phases (records, FAISS, BM25, digests, manifest, the renames) are hit as often as they are listed.

    .venv/bin/python bench/chaos_crash.py [--runs 50] [--model real|fake] [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos_common import ROOT, SEEDS, SHARED, KillAt, Row, crash_part_main, service_env  # noqa: E402

# Version A, and what changes on the way to B: two calls added, one removed, one edited.
BASE_FILES = ["AAPL_FY23Q2_en.txt", "EQIX_FY22Q3_en.txt", "TAL_FY25Q4_en.txt", "KO_FY21Q4_en_ectsum.txt",
              "MSFT_FY24Q3_zh.txt"]
ADDED, REMOVED, EDITED = ["MDB_FY25Q4_en.txt", "NVO_FY24Q4_en.txt"], "KO_FY21Q4_en_ectsum.txt", "TAL_FY25Q4_en.txt"
KILL_ENV = "CHAOS_KILL_AT_WRITE"  # k: the hooked process kills itself at its k-th write; 0: count them


def corpus(root: Path, changed: bool) -> Path:
    src = root / ("src-b" if changed else "src-a")
    src.mkdir()
    for f in sorted(SEEDS.glob("*.txt")):
        shutil.copy(f, src / f.name)
    for name in BASE_FILES + (ADDED if changed else []):
        if not (changed and name == REMOVED):
            shutil.copy(SHARED / "transcripts" / name, src / name)
    if changed:
        with open(src / EDITED, "a", encoding="utf-8") as f:
            f.write("\n\nOperator: Thank you. This concludes today's call. You may now disconnect.\n")
    return src


def _index_cmd(index_dir: Path, src: Path, hooked: bool) -> list[str]:
    rag = ["index", "--quiet", "--index-dir", str(index_dir), str(src)]
    if hooked:
        return [sys.executable, str(Path(__file__).resolve()), "hooked", *rag]
    return [sys.executable, "-m", "rag.cli", *rag]


def run_index(index_dir: Path, src: Path, model: str, hooked: bool = False, env_extra: dict | None = None,
               kill_after: float | None = None) -> tuple[int, float, str]:
    """(exit code, seconds, output) of one `rag index`; killed with SIGKILL after `kill_after` s."""
    env = service_env(index_dir, [src], model, env_extra)
    t0 = time.perf_counter()
    proc = subprocess.Popen(_index_cmd(index_dir, src, hooked), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    return proc.returncode, time.perf_counter() - t0, out.decode(errors="replace")


def signature(index_dir: Path) -> dict[str, Any]:
    """What a version is: its documents, passages, tokens and vectors, and what a search returns."""
    from rag.store import load_index

    index = load_index(index_dir, verify=True)
    docs = {d: (e["hash"], e["chunk_ids"]) for d, e in index.manifest["documents"].items()}
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((3, index.embeddings.shape[1])).astype(np.float32)
    return {
        "documents": docs,
        "chunks": [(c.id, c.text) for c in index.chunks],
        "tokens": [list(t) for t in index.tokens],
        "vectors": np.asarray(index.embeddings, dtype=np.float32),
        "search": [[index.chunks[r].id for r, _ in index.search_dense(q, 5)] for q in queries],
    }


def same(a: dict[str, Any], b: dict[str, Any], atol: float) -> tuple[bool, float]:
    """Whether two signatures are the same version, and the largest vector difference."""
    if a["documents"] != b["documents"] or a["chunks"] != b["chunks"] or a["tokens"] != b["tokens"]:
        return False, float("inf")
    diff = float(np.max(np.abs(a["vectors"] - b["vectors"]))) if a["vectors"].size else 0.0
    return diff <= atol and (atol > 0 or a["search"] == b["search"]), diff


def _phase(index_dir: Path) -> str:
    """Where a killed build was, read from what it left behind."""
    tmp = sorted(index_dir.glob(".tmp-v-*"))
    if tmp:
        t = tmp[-1]
        if (t / "manifest.json").exists():
            return "manifest written, before rename"
        if (t / "bm25").is_dir():
            return "BM25 / digests"
        if (t / "vectors.faiss").exists():
            return "FAISS written"
        return "records / vectors files"
    if any(index_dir.glob(".embedding-*/block-*.npz")):
        return "embedding (blocks saved)"
    return "start-up / reading / embedding"


def _count_writes(index_dir: Path, src_b: Path, model: str) -> int:
    code, _, out = run_index(index_dir, src_b, model, hooked=True, env_extra={KILL_ENV: "0"})
    if code != 0:
        raise RuntimeError(f"counting build failed: {out[-2000:]}")
    return int(out.strip().splitlines()[-1].split()[-1])


def run(opts: argparse.Namespace | None = None, quick: bool = False) -> list[Row]:
    runs = getattr(opts, "runs", None) or (6 if quick else 50)
    model = getattr(opts, "model", None) or ("fake" if quick else "real")
    atol = 0.0 if model == "fake" else 1e-3
    rng = random.Random(getattr(opts, "seed", 13))
    with tempfile.TemporaryDirectory(prefix="chaos-crash-") as tmp:
        root = Path(tmp)
        src_a, src_b = corpus(root, False), corpus(root, True)
        ref_a, ref_b = root / "ref-a", root / "ref-b"
        for ref, src in ((ref_a, src_a), (ref_b, src_b)):
            code, secs, out = run_index(ref, src, model)
            if code != 0:
                raise RuntimeError(f"reference build failed: {out[-2000:]}")
        sig_a, sig_b = signature(ref_a), signature(ref_b)
        # How long the change takes when nothing goes wrong (A -> B), and how many writes it makes.
        timing = root / "timing"
        shutil.copytree(ref_a, timing)
        code, build_secs, out = run_index(timing, src_b, model)
        if code != 0 or not same(signature(timing), sig_b, atol)[0]:
            raise RuntimeError(f"the uninterrupted A -> B build differs from a clean build of B: {out[-2000:]}")
        writes = _count_writes(_fresh(ref_a, root, "count"), src_b, model)
        outcome: Counter[str] = Counter()
        phases: Counter[str] = Counter()
        broke: list[str] = []
        max_diff = 0.0
        for i in range(runs):
            index_dir = _fresh(ref_a, root, f"run-{i}")
            if i % 2 == 0:
                when = rng.uniform(0.0, build_secs)
                code, _, out = run_index(index_dir, src_b, model, kill_after=when)
                how = f"at {when:.1f} s"
            else:
                k = rng.randint(1, writes)
                code, _, out = run_index(index_dir, src_b, model, hooked=True, env_extra={KILL_ENV: str(k)})
                how = f"at write {k}/{writes}"
            phases[_phase(index_dir) if code == -signal.SIGKILL else "finished before the kill"] += 1
            try:
                sig = signature(index_dir)
                ok_a, diff_a = same(sig, sig_a, atol)
                ok_b, diff_b = same(sig, sig_b, atol)
                max_diff = max(max_diff, min(diff_a, diff_b))
                outcome["old version live" if ok_a else "new version live" if ok_b else "neither"] += 1
                if not (ok_a or ok_b):
                    broke.append(f"run {i} ({how}): live version is neither A nor B")
            except Exception as e:  # noqa: BLE001 - any failure to load or search is the finding
                outcome["not loadable"] += 1
                broke.append(f"run {i} ({how}): {type(e).__name__}: {e}")
            code2, _, out2 = run_index(index_dir, src_b, model)
            left = [p.name for p in index_dir.iterdir() if p.name.startswith((".tmp-", ".embedding-", ".CURRENT."))]
            if code2 != 0:
                broke.append(f"run {i}: the next build failed: {out2[-300:]}")
            elif left:
                broke.append(f"run {i}: left after the next build: {left}")
            elif not same(signature(index_dir), sig_b, atol)[0]:
                broke.append(f"run {i}: the next build is not a clean B")
            shutil.rmtree(index_dir, ignore_errors=True)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(phases.items()))
    return [Row("crash", f"kill -9 during `rag index` (A -> B, {model} model), then load, search, rebuild", runs,
                broke="; ".join(broke[:3]) + (f" (+{len(broke) - 3} more)" if len(broke) > 3 else ""),
                lost=bool(broke),
                figures=f"{', '.join(f'{k} {v}' for k, v in sorted(outcome.items()))}; killed in: {kinds}; "
                        f"clean build {build_secs:.1f} s, {writes} writes; max vector diff {max_diff:.1e}")]


def _fresh(ref: Path, root: Path, name: str) -> Path:
    """A copy of a reference index (times kept: they are part of its manifest's cheap damage check)."""
    dest = root / name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(ref, dest, copy_function=shutil.copy2)
    for lock in dest.glob(".lock"):
        lock.unlink()
    return dest


def _hooked(argv: list[str]) -> int:
    """`rag index` with an audit hook that counts file writes and renames under the index folder and
    kills the process (SIGKILL) at the k-th; with k = 0 it prints the count at exit."""
    from rag.cli import main

    kill = KillAt(KILL_ENV)
    index_dir = str(Path(argv[argv.index("--index-dir") + 1]).resolve())

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode = args[0], args[1]
            if not isinstance(path, (str, bytes, os.PathLike)) or not isinstance(mode, str) or \
                    not any(m in mode for m in "wax+"):
                return
        elif event not in ("os.rename", "os.replace", "shutil.rmtree", "os.remove"):
            return
        else:
            path = args[0]
        if not os.path.abspath(os.fsdecode(path)).startswith(index_dir):
            return
        kill.tick()

    sys.addaudithook(hook)
    return kill.done(main(argv))


def main() -> int:
    return crash_part_main(_hooked, run, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())

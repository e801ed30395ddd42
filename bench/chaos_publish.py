"""Crashes mid-publish to Milvus: version A published in a `milvus-lite` server, then `rag index`
(RAG_STORE=milvus) publishing B killed with SIGKILL at a random one of its Milvus writes (inserts,
deletes, flushes, term updates, manifest rows: an in-process hook counts the client's write calls and
kills at the k-th). After each kill: Milvus names A or B, a reader of that version reaches exactly its
passages (no more, no fewer), a reader opened on A before the kill still reaches exactly A while A is
current; then the next `rag index` completes B: exactly B's passages stored and reachable, and every
term's IDF equal to the local build's.

    .venv/bin/python bench/chaos_publish.py [--runs 50] [--model real|fake] [--quick]
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos_common import ROOT, KillAt, Row, crash_part_main, service_env, start_milvus, stop_service  # noqa: E402
from bench.chaos_crash import _fresh, corpus, run_index  # noqa: E402

KILL_ENV = "CHAOS_KILL_AT_MILVUS_WRITE"  # k: the hooked process kills itself at its k-th write; 0: count
WRITES = ("insert", "upsert", "delete", "flush", "create_collection", "drop_collection", "load_collection")


def _index(index_dir: Path, src: Path, model: str, milvus: dict[str, str], k: int | None) -> tuple[int, str]:
    """`rag index` publishing to Milvus; with `k`, through the hook that kills at the k-th write."""
    rag = ["index", "--quiet", "--index-dir", str(index_dir), str(src)]
    cmd = [sys.executable, str(Path(__file__).resolve()), "hooked", *rag] if k is not None else \
        [sys.executable, "-m", "rag.cli", *rag]
    env = service_env(index_dir, [src], model, milvus | ({KILL_ENV: str(k)} if k is not None else {}))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=1800)
    return proc.returncode, (proc.stdout + proc.stderr).decode(errors="replace")


def reachable(index, dim: int) -> set[int]:
    """Every passage key a reader of `index` can reach: an exact dense search for more than all rows."""
    q = np.random.default_rng(0).standard_normal(dim).astype(np.float32)
    return {k for k, _ in index.dense(q, k=16_384)}


def run(opts: argparse.Namespace | None = None, quick: bool = False) -> list[Row]:
    from rag.milvus_publish import _present_keys, publish
    from rag.milvus_store import connect, names, open_milvus
    from rag.store import load_index

    runs = getattr(opts, "runs", None) or (4 if quick else 50)
    model = getattr(opts, "model", None) or ("fake" if quick else "real")
    rng = random.Random(getattr(opts, "seed", 13))
    with tempfile.TemporaryDirectory(prefix="chaos-publish-") as tmp:
        root = Path(tmp)
        server, milvus = start_milvus(root)
        try:
            uri = milvus["RAG_MILVUS_URI"]
            src_a, src_b = corpus(root, False), corpus(root, True)
            refs = {}
            for name, src in (("a", src_a), ("b", src_b)):
                code, _, out = run_index(root / f"ref-{name}", src, model)
                if code != 0:
                    raise RuntimeError(f"reference build failed: {out[-2000:]}")
                refs[name] = load_index(root / f"ref-{name}")
            a, b = refs["a"], refs["b"]
            dim = int(a.manifest["model"]["dim"])
            keys = {a.version: {int(k) for k in a.keys}, b.version: {int(k) for k in b.keys}}
            tokens = sorted({t for ix in (a, b) for toks in ix.tokens for t in toks})

            def setup(collection: str) -> tuple[Path, dict[str, str], object]:
                # Milvus at A; the local index already at B, so `rag index` only publishes.
                publish(a, uri, collection)
                return (_fresh(root / "ref-b", root, collection), milvus | {"RAG_MILVUS_COLLECTION": collection},
                        open_milvus(uri, collection))

            local, env, _ = setup("count")
            code, out = _index(local, src_b, model, env, 0)
            if code != 0:
                raise RuntimeError(f"counting publish failed: {out[-2000:]}")
            writes = int(next(line for line in out.splitlines() if line.startswith("writes ")).split()[1])
            outcome: Counter[str] = Counter()
            broke: list[str] = []
            client = connect(uri)
            for i in range(runs):
                collection = f"run{i}"
                local, env, reader_a = setup(collection)
                k = rng.randint(1, writes)
                code, out = _index(local, src_b, model, env, k)
                how = f"run {i} (killed at write {k}/{writes})"
                if code != -signal.SIGKILL:
                    broke.append(f"{how}: not killed (exit {code}): {out[-200:]}")
                try:
                    live = open_milvus(uri, collection)
                    seen = reachable(live, dim)
                    outcome["A live" if live.version == a.version else "B live"] += 1
                    if live.version not in keys:
                        broke.append(f"{how}: Milvus names {live.version}, neither A nor B")
                    elif seen != keys[live.version]:
                        broke.append(f"{how}: a reader of {live.version} reaches {len(seen - keys[live.version])} "
                                     f"passages of no version and misses {len(keys[live.version] - seen)}")
                    if live.version == a.version and reachable(reader_a, dim) != keys[a.version]:
                        broke.append(f"{how}: the reader opened on A before the kill no longer reaches exactly A")
                except Exception as e:  # noqa: BLE001 - any failure to open or search is the finding
                    outcome["not loadable"] += 1
                    broke.append(f"{how}: {type(e).__name__}: {e}")
                code, out = _index(local, src_b, model, env, None)
                if code != 0:
                    broke.append(f"{how}: the next `rag index` failed: {out[-300:]}")
                else:
                    done = open_milvus(uri, collection)
                    stored = _present_keys(client, names(collection)[0])
                    if done.version != b.version or reachable(done, dim) != keys[b.version] \
                            or stored != keys[b.version]:
                        broke.append(f"{how}: after the next `rag index` Milvus holds {len(stored)} passages, "
                                     f"{len(stored ^ keys[b.version])} off B")
                    off = [t for t in tokens if abs(done.idf(t) - b.idf(t)) > 1e-9]
                    if off:
                        broke.append(f"{how}: {len(off)} term IDFs differ from the local build's (e.g. {off[0]!r})")
                for name in names(collection):
                    client.drop_collection(name)
        finally:
            stop_service(server)
    return [Row("crash", f"kill -9 during the Milvus publish (A -> B, {model} model), then open, search, "
                         "publish again", runs,
                broke="; ".join(broke[:3]) + (f" (+{len(broke) - 3} more)" if len(broke) > 3 else ""),
                lost=bool(broke),
                figures=f"{', '.join(f'{k} {v}' for k, v in sorted(outcome.items()))}; a publish makes {writes} "
                        f"Milvus writes; A {len(keys[a.version])} passages, B {len(keys[b.version])}")]


def _hooked(argv: list[str]) -> int:
    """`rag index` whose Milvus client counts its write calls and kills the process (SIGKILL) at the
    k-th; with k = 0 it prints the count at exit."""
    from pymilvus import MilvusClient

    from rag.cli import main

    kill = KillAt(KILL_ENV)

    def counted(method):
        def call(*args, **kwargs):
            kill.tick()
            return method(*args, **kwargs)
        return call

    for name in WRITES:
        setattr(MilvusClient, name, counted(getattr(MilvusClient, name)))
    return kill.done(main(argv))


def main() -> int:
    return crash_part_main(_hooked, run, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())

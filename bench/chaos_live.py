"""Live reindex under load: concurrent clients asking `POST /chat` (extractive) while the index is
rebuilt several times, by `rag index` and by `POST /admin/reindex`, and once by a `rag index` killed
half-way. Every reply must be a 200 whose citations all come from one complete version (each cited
passage's id and text as that version holds them); p95 during the rebuilds is reported next to p95
without them.

    .venv/bin/python bench/chaos_live.py [--clients 16] [--seconds 60] [--rebuilds 5] [--model real|fake]
                                         [--store faiss|milvus]

With `--store milvus` a `milvus-lite` server holds the index: every rebuild publishes to it and the
service answers from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos_common import (  # noqa: E402
    ADMIN_TOKEN,
    ROOT,
    SEEDS,
    SHARED,
    Row,
    rag_index,
    rss_mb,
    run_alone,
    start_milvus,
    start_service,
    stop_service,
)
from bench.chaos_crash import BASE_FILES, KILL_ENV, run_index  # noqa: E402
from rag.store import current_folder  # noqa: E402

# Calls added and removed in turn by the rebuilds (each rebuild makes a new version).
ROTATING = ["MDB_FY25Q4_en.txt", "NVO_FY24Q4_en.txt", "SNOW_FY25Q4_en.txt", "Z_FY22Q3_en.txt"]
# A large addition for the rebuild that is killed half-way (it must still be embedding when killed).
BIG = ["MSFT_FY24Q3_en.txt", "FIG_FY25Q3_en.txt", "EQIX_FY22Q3_en.txt"]


def _questions(docs: set[str]) -> list[str]:
    out = []
    for f in sorted((ROOT / "eval" / "cases").glob("*.jsonl")):
        for line in f.open(encoding="utf-8"):
            if line.strip():
                c = json.loads(line)
                if c.get("gold_doc") in docs and not c.get("history"):
                    out.append(c["question"])
    return out or ["What was revenue in the quarter?", "收入是多少？"]


class Versions:
    """Every version made live in the index folder, recorded (chunk id -> text) the moment CURRENT names
    it: old versions are pruned from disk, and replies are checked against them afterwards."""

    def __init__(self, index_dir: Path, base: str) -> None:
        self.index_dir, self.base, self.seen = index_dir, base, {}
        self.served: set[str] = set()  # versions the service reported serving (/health)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Versions:
        self._record()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._record()

    def _poll(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30, trust_env=False) as c:
            while not self._stop.wait(0.05):
                self._record()
                try:
                    self.served.add(c.get("/health").json()["index"]["version"])
                except (httpx.HTTPError, ValueError, KeyError):
                    pass

    def _record(self) -> None:
        folder = current_folder(self.index_dir)
        if folder is None or folder.name in self.seen:
            return
        texts = {}
        with open(folder / "chunks.jsonl", encoding="utf-8") as f:
            for line in f:
                c = json.loads(line)
                texts[c["id"]] = c["text"]
        self.seen[folder.name] = texts

    def complete_version_of(self, citations: list[dict]) -> str | None:
        """The recorded version holding every cited passage as cited, or None."""
        for name, texts in self.seen.items():
            if all(texts.get(c["chunk_id"]) == c["text"] for c in citations):
                return name
        return None


async def _client(base: str, questions: list[str], stop: asyncio.Event, offset: int, log: list) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120, trust_env=False) as c:
        i = offset
        while not stop.is_set():
            q = questions[i % len(questions)]
            i += 1
            t0 = time.perf_counter()
            try:
                r = await c.post("/chat", json={"message": q})
                status, body = r.status_code, (r.json() if r.headers.get("content-type", "").startswith(
                    "application/json") else {})
            except httpx.HTTPError as e:
                status, body = 0, {"error": str(e)}
            log.append((time.monotonic(), time.perf_counter() - t0, status, body))


def _rebuilds(src: Path, index_dir: Path, base: str, rebuilds: int, model: str, marks: list,
              extra: dict[str, str]) -> list[str]:
    """Run the rebuilds one after another (alternately `rag index` and the admin route), then one
    `rag index` killed half-way; `marks` gets (start, end) of each. Returns what went wrong."""
    problems = []
    for i in range(rebuilds):
        name = ROTATING[i % len(ROTATING)]
        if (src / name).exists():
            (src / name).unlink()
        else:
            shutil.copy(SHARED / "transcripts" / name, src / name)
        t0 = time.monotonic()
        if i % 2 == 0:
            proc = rag_index(index_dir, [src], model, extra)
            out, _ = proc.communicate(timeout=1800)
            if proc.returncode != 0:
                problems.append(f"rebuild {i} (rag index) failed: {out.decode(errors='replace')[-300:]}")
        else:
            with httpx.Client(base_url=base, timeout=60, trust_env=False) as c:
                r = c.post("/admin/reindex", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
                if r.status_code != 202:
                    problems.append(f"rebuild {i} (admin) refused: {r.status_code} {r.text[:200]}")
                while (run := c.get("/admin/reindex", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
                       )["status"] == "running":
                    time.sleep(0.5)
                if run["status"] != "succeeded":
                    problems.append(f"rebuild {i} (admin) {run['status']}: {run['errors']}")
        marks.append((t0, time.monotonic(), "rebuild"))
    # The failing one: a large change, killed (SIGKILL) at its third write: with the real model that is
    # while it embeds (after the first block of passages is saved). The live version must not move.
    for name in BIG:
        shutil.copy(SHARED / "transcripts" / name, src / name)
    t0 = time.monotonic()
    before = current_folder(index_dir)
    code, _, out = run_index(index_dir, src, model, hooked=True, env_extra={KILL_ENV: "3", **extra})
    if code != -signal.SIGKILL:
        problems.append(f"the rebuild meant to fail was not killed (exit {code}): {out[-300:]}")
    if current_folder(index_dir) != before:
        problems.append("the live version moved after a killed rebuild")
    marks.append((t0, time.monotonic(), "failed rebuild"))
    for name in BIG:
        (src / name).unlink()
    return problems


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q) * 1000) if values else float("nan")


async def _load(base: str, questions: list[str], clients: int, seconds: float, during: threading.Thread | None,
                log: list) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_client(base, questions, stop, k * 7, log)) for k in range(clients)]
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds or (during is not None and during.is_alive()):
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*tasks)


def run(opts: argparse.Namespace | None = None, quick: bool = False) -> list[Row]:
    clients = getattr(opts, "clients", None) or (4 if quick else 16)
    seconds = getattr(opts, "seconds", None) or (5 if quick else 60)
    rebuilds = getattr(opts, "rebuilds", None) or (2 if quick else 5)
    model = getattr(opts, "model", None) or ("fake" if quick else "real")
    store = getattr(opts, "store", None) or "faiss"
    with tempfile.TemporaryDirectory(prefix="chaos-live-") as tmp:
        root = Path(tmp)
        milvus, extra = start_milvus(root) if store == "milvus" else (None, {})
        try:
            return _run(root, clients, seconds, rebuilds, model, store, extra)
        finally:
            if milvus is not None:
                stop_service(milvus)


def _run(root: Path, clients: int, seconds: float, rebuilds: int, model: str, store: str,
         extra: dict[str, str]) -> list[Row]:
    src, index_dir = root / "src", root / "index"
    src.mkdir()
    for f in sorted(SEEDS.glob("*.txt")):
        shutil.copy(f, src / f.name)
    for name in BASE_FILES:
        shutil.copy(SHARED / "transcripts" / name, src / name)
    proc = rag_index(index_dir, [src], model, extra)
    out, _ = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"initial build failed: {out.decode(errors='replace')[-2000:]}")
    questions = _questions({p.stem for p in src.iterdir()})
    service, base = start_service(index_dir, [src], root / "serve.log", model, extra)
    quiet: list = []
    busy: list = []
    marks: list = []
    try:
        with httpx.Client(base_url=base, timeout=120, trust_env=False) as c:
            for q in questions:  # warm-up: first-use costs are not what the quiet phase measures
                c.post("/chat", json={"message": q})
        with Versions(index_dir, base) as versions:
            asyncio.run(_load(base, questions, clients, seconds / 2, None, quiet))
            problems: list[str] = []
            worker = threading.Thread(target=lambda: problems.extend(
                _rebuilds(src, index_dir, base, rebuilds, model, marks, extra)), daemon=True)
            worker.start()
            asyncio.run(_load(base, questions, clients, seconds, worker, busy))
            worker.join()
            rss = rss_mb(service.pid)
    finally:
        stop_service(service)
    rows = []
    for label, log in (("without rebuilds", quiet), (f"{rebuilds} rebuilds + 1 killed half-way", busy)):
        bad = [s for _, _, s, _ in log if s != 200]
        torn = [b for _, _, s, b in log if s == 200 and versions.complete_version_of(b.get("citations", [])) is None]
        secs = [d for _, d, s, _ in log if s == 200]
        rows.append(Row("live", f"{clients} clients asking /chat, {label}"
                        + (f" ({store} store)" if store != "faiss" else ""), len(log),
                        broke=(f"{len(bad)} failed or non-200 ({sorted(set(bad))}); " if bad else "")
                        + (f"{len(torn)} replies citing no single complete version" if torn else "")
                        + ("; ".join(problems) if label != "without rebuilds" and problems else ""),
                        lost=bool(bad or torn or (problems and label != "without rebuilds")),
                        figures=f"p50 {_p(secs, 50):.0f} ms, p95 {_p(secs, 95):.0f} ms, "
                                f"{len(log) / max(1e-9, _span(log)):.1f} req/s"
                                + (f"; the service swapped through {len(versions.served)} versions "
                                   f"({len(versions.seen)} made live); RSS {rss:.0f} MB"
                                   if label != "without rebuilds" else "")))
    return rows


def _span(log: list) -> float:
    return (max(t for t, *_ in log) - min(t for t, *_ in log)) if len(log) > 1 else 0.0


def main() -> int:
    return run_alone(run, __doc__, ("--clients", {"type": int, "default": None}),
                     ("--seconds", {"type": float, "default": None}), ("--rebuilds", {"type": int, "default": None}),
                     ("--store", {"choices": ("faiss", "milvus"), "default": None}))

if __name__ == "__main__":
    raise SystemExit(main())

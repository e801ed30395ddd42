"""Latency and throughput of `POST /chat` (extractive) over HTTP on loopback, with 1, 4 and 16
concurrent clients, against `rag serve` (a subprocess) over the seed plus ../shared/transcripts
indexed with the real embedding model. Prints a table.

    .venv/bin/python bench/http_bench.py [--index-dir DIR] [--requests N] [--clients 1,4,16]

The index is brought up to date first by `rag index` (incremental; reuses eval/.index/bench-full,
which bench/ask_bench.py builds too). Questions (with their chat history) come from eval/cases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from itertools import cycle
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def questions() -> list[dict]:
    out = []
    for f in sorted((ROOT / "eval" / "cases").glob("*.jsonl")):
        for line in f.open(encoding="utf-8"):
            if line.strip():
                c = json.loads(line)
                out.append({"message": c["question"], **({"history": c["history"]} if c.get("history") else {})})
    return out


def start(index_dir: Path, port: int, max_answers: int = 1) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "RAG_INDEX_DIR"} | {"NO_PROXY": "127.0.0.1"}
    cmd = [sys.executable, "-m", "rag.cli", "serve", "--port", str(port), "--index-dir", str(index_dir),
           "--log-level", "warning", "--max-answers", str(max_answers)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2, trust_env=False).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not come up in 300 s")


async def level(base: str, bodies: list[dict], clients: int, total: int) -> dict[str, float]:
    """`total` requests from `clients` concurrent connections; latency per request in ms."""
    latencies: list[float] = []
    errors = 0
    todo = iter(range(total))
    source = cycle(bodies)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits, trust_env=False) as client:

        async def worker() -> None:
            nonlocal errors
            for _ in todo:
                body = next(source)
                t0 = time.perf_counter()
                try:
                    r = await client.post("/chat", json=body)
                    ok = r.status_code == 200 and "answer" in r.json()
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += not ok

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - t0
    lat = np.array(latencies)
    return {"clients": clients, "requests": len(lat), "errors": errors, "rps": len(lat) / wall,
            "p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
            "p99": float(np.percentile(lat, 99))}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index-dir", type=Path, default=ROOT / "eval" / ".index" / "bench-full")
    p.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    p.add_argument("--clients", default="1,4,16")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--max-answers", type=int, default=1, help="the server's --max-answers")
    args = p.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    if not 1 <= args.requests <= 100_000 or not all(1 <= c <= 256 for c in levels):
        raise SystemExit("--requests must be 1-100000 and --clients each 1-256")

    sources = [s for s in (ROOT / "seeds", ROOT.parent / "shared" / "transcripts") if s.exists()]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rag.cli", "index", *map(str, sources), "--index-dir", str(args.index_dir),
                    "--quiet"], cwd=ROOT, check=True)
    print(f"index ready in {time.perf_counter() - t0:.1f}s", file=sys.stderr)

    port = free_port()
    t0 = time.perf_counter()
    proc = start(args.index_dir, port, args.max_answers)
    base = f"http://127.0.0.1:{port}"
    try:
        health = httpx.get(f"{base}/health", trust_env=False).json()
        print(f"server up in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        bodies = questions()
        asyncio.run(level(base, bodies, 1, args.warmup))
        rows = [asyncio.run(level(base, bodies, c, args.requests)) for c in levels]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()

    idx = health["index"]
    print(f"\nPOST /chat (extractive) over loopback: {len(bodies)} eval questions cycled, index of {idx['chunks']} "
          f"chunks from {idx['documents']} transcripts, model {health['model']['id']}, {os.cpu_count()} cores, "
          f"server --max-answers {args.max_answers}\n")
    print(f"| {'clients':>7} | {'requests':>8} | {'errors':>6} | {'req/s':>7} | {'p50 ms':>8} | {'p95 ms':>8} | "
          f"{'p99 ms':>8} |")
    print(f"|{'-' * 9}|{'-' * 10}|{'-' * 8}|{'-' * 9}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    for r in rows:
        print(f"| {r['clients']:>7} | {r['requests']:>8} | {r['errors']:>6} | {r['rps']:>7.1f} | {r['p50']:>8.1f} | "
              f"{r['p95']:>8.1f} | {r['p99']:>8.1f} |")
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())

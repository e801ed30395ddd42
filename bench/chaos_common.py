"""What the parts of bench/chaos.py share: a row of the table, the table itself, and a `rag serve`
subprocess on a free loopback port (the fake embedder or the real model)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEEDS = ROOT / "seeds"
ADMIN_TOKEN = "chaos-admin-token"


@dataclass
class Row:
    """One line of the table: what was done, how often, what broke (empty: nothing), and whether
    anything was lost (a lost row makes bench/chaos.py exit non-zero)."""

    part: str
    what: str
    runs: int
    broke: str = ""
    lost: bool = False
    figures: str = ""


def table(rows: list[Row]) -> str:
    head = ("part", "what was done", "runs", "figures", "what broke", "loss")
    cells = [(r.part, r.what, str(r.runs), r.figures or "-", r.broke or "nothing", "LOSS" if r.lost else "none")
             for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *cells)]

    def line(values: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"

    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_env(index_dir: Path, sources: list[Path], model: str = "fake",
                extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `rag serve` or `rag index` subprocess: this index, these sources, the admin
    token, and `model` ("fake": the deterministic test embedder; "real": the configured model)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_INDEX_DIR": str(index_dir), "RAG_SOURCES": json.dumps([str(s) for s in sources]),
                "RAG_ADMIN_TOKEN": ADMIN_TOKEN, "NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1",
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    if model == "fake":
        env["RAG_EMBED_MODEL"] = "fake"
    for key in ("RAG_READER_WEIGHTS", "RAG_EMBED_BACKEND"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env | (extra or {})


def start_service(index_dir: Path, sources: list[Path], log: Path, model: str = "fake",
                  extra: dict[str, str] | None = None, timeout: float = 300) -> tuple[subprocess.Popen, str]:
    """`rag serve` in a subprocess, returned once /health answers 200 (an index is loaded)."""
    port = free_port()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--reload-interval", "0.2", "--log-level", "warning"],
            cwd=ROOT, env=service_env(index_dir, sources, model, extra), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rag serve exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"{base}/health", timeout=2, trust_env=False).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_service(proc)
    raise RuntimeError(f"rag serve did not come up in {timeout:.0f} s; see {log}")


def stop_service(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_milvus(root: Path, timeout: float = 60) -> tuple[subprocess.Popen, dict[str, str]]:
    """A `milvus-lite` server on a free loopback port (data under `root`), and the settings that make
    `rag index` publish to it and `rag serve` answer from it."""
    port = free_port()
    log = root / "milvus.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "milvus_lite.cmdline", "server", "--data-dir",
                                 str(root / "milvus"), "--host", "127.0.0.1", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"milvus-lite server exited with {proc.returncode}; see {log}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, {"RAG_STORE": "milvus", "RAG_MILVUS_URI": f"http://127.0.0.1:{port}",
                              "RAG_MILVUS_COLLECTION": "chaos"}
        time.sleep(0.2)
    stop_service(proc)
    raise RuntimeError(f"milvus-lite server did not come up in {timeout:.0f} s; see {log}")


def rag_index(index_dir: Path, sources: list[Path], model: str = "fake", extra: dict[str, str] | None = None,
              args: tuple[str, ...] = ()) -> subprocess.Popen:
    """`rag index` over `sources` into `index_dir`, started (not waited for)."""
    return subprocess.Popen([sys.executable, "-m", "rag.cli", "index", "--quiet", "--index-dir", str(index_dir),
                             *args, *map(str, sources)], cwd=ROOT, env=service_env(index_dir, sources, model, extra),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def run_alone(run: Callable[..., list[Row]], doc: str | None, *options: tuple[str, dict]) -> int:
    """A part run on its own: its options plus --model and --quick, its table, exit 1 on a loss."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, kw in options:
        p.add_argument(flag, **kw)
    p.add_argument("--model", choices=("real", "fake"), default=None)
    p.add_argument("--quick", action="store_true")
    opts = p.parse_args()
    rows = run(opts, quick=opts.quick)
    print(table(rows))
    return 1 if any(r.lost for r in rows) else 0


class KillAt:
    """Counts a hooked `rag index`'s writes and kills the process (SIGKILL) at the k-th (env
    `KILL_ENV`); with k = 0 it only counts, and `done` prints the count."""

    def __init__(self, env: str) -> None:
        self.k, self.count = int(os.environ[env]), 0

    def tick(self) -> None:
        self.count += 1
        if self.count == self.k:
            os.kill(os.getpid(), signal.SIGKILL)

    def done(self, code: int) -> int:
        if self.k == 0:
            print(f"writes {self.count}")
        return code


def crash_part_main(hooked: Callable[[list[str]], int], run: Callable[..., list[Row]], doc: str | None) -> int:
    """A crash part's entry point: `hooked ARGS` is the killed `rag index`, anything else the part."""
    if len(sys.argv) > 1 and sys.argv[1] == "hooked":
        return hooked(sys.argv[2:])
    return run_alone(run, doc, ("--runs", {"type": int, "default": None}), ("--seed", {"type": int, "default": 13}))

"""Two `rag serve` processes against one `milvus-lite server`: they hold no index state of their own,
answer the same questions identically, keep answering while `rag index` publishes a new version, and
both switch to it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_api_server import DATA, ROOT, free_port, hammer, start_server, stop_server

pytest.importorskip("milvus_lite")
pytestmark = pytest.mark.integration

DOCS = ["ACME_FY24Q2_en.txt", "GLBX_FY23Q3_en.txt", "SEED_FY25Q4_zh.txt"]
QUESTIONS = ["What was ACME revenue?", "示例公司的积压订单是多少？", "How much did pricing add to growth?",
             "What did Globex guide for next quarter?"]


def _wait_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"milvus-lite server exited:\n{log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("milvus-lite server did not come up")


def _index(src: Path, idx: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag.cli", "index", str(src), "--index-dir", str(idx), "--quiet"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("milvus-services")
    src = root / "src"
    src.mkdir()
    for n in DOCS:
        shutil.copy(DATA / n, src / n)
    port = free_port()
    log = root / "milvus.log"
    with open(log, "wb") as out:
        milvus = subprocess.Popen([sys.executable, "-m", "milvus_lite.cmdline", "server", "--data-dir",
                                   str(root / "milvus"), "--host", "127.0.0.1", "--port", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT)
    servers: list[subprocess.Popen] = []
    try:
        _wait_port(port, milvus, log)
        store = {"RAG_STORE": "milvus", "RAG_MILVUS_URI": f"http://127.0.0.1:{port}", "RAG_MILVUS_COLLECTION": "svc"}
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {"RAG_EMBED_MODEL": "fake"} | store
        first = _index(src, root / "idx", env)
        assert first.returncode == 0, first.stderr
        assert "milvus: version" in first.stdout
        bases = []
        for i in range(2):
            # Each service gets an empty index folder of its own: what it serves comes from Milvus only.
            proc, base = start_server(root / f"empty-{i}", src, root / f"serve-{i}.log", extra=store)
            servers.append(proc)
            bases.append(base)
        yield {"bases": bases, "src": src, "idx": root / "idx", "env": env, "root": root}
    finally:
        for proc in servers:
            stop_server(proc)
        stop_server(milvus)


def _answers(base: str) -> list[tuple]:
    with httpx.Client(base_url=base, timeout=60, trust_env=False) as c:
        out = []
        for q in QUESTIONS:
            r = c.post("/chat", json={"message": q})
            assert r.status_code == 200, r.text
            j = r.json()
            out.append((j["answer"], j["abstained"], [x["chunk_id"] for x in j["citations"]]))
        return out


def test_two_services_answer_identically(cluster: dict) -> None:
    a, b = (_answers(base) for base in cluster["bases"])
    assert a == b
    assert any(not abstained for _, abstained, _ in a)
    for i, base in enumerate(cluster["bases"]):
        health = httpx.get(f"{base}/health", trust_env=False).json()
        assert health["index"]["loaded"] and health["index"]["documents"] == len(DOCS)
        assert not list((cluster["root"] / f"empty-{i}").glob("v-*"))  # no local index behind it


def test_services_keep_answering_while_a_rebuild_publishes(cluster: dict) -> None:
    shutil.copy(DATA / "COLA_FY21Q4_en_ectsum.txt", cluster["src"])
    failures: list[str] = []
    done = threading.Event()
    counts = [0]
    workers = [threading.Thread(target=hammer, args=(b, done, failures, counts)) for b in cluster["bases"]]
    for w in workers:
        w.start()
    try:
        run = _index(cluster["src"], cluster["idx"], cluster["env"])
        assert run.returncode == 0, run.stderr
        assert "1 added" in run.stdout and "passages inserted" in run.stdout
        deadline = time.monotonic() + 60
        for base in cluster["bases"]:
            while httpx.get(f"{base}/documents", trust_env=False).json()["count"] != len(DOCS) + 1:
                assert time.monotonic() < deadline, f"{base} did not pick up the new version"
                time.sleep(0.2)
    finally:
        done.set()
        for w in workers:
            w.join()
    assert not failures, failures[:3]
    assert counts[0] > 4
    a, b = (_answers(base) for base in cluster["bases"])
    assert a == b
    with httpx.Client(trust_env=False, timeout=60) as c:
        replies = [c.post(f"{base}/chat", json={"message": "How much free cash flow was delivered?"}).json()
                   for base in cluster["bases"]]
    assert replies[0]["answer"] == replies[1]["answer"] and "$11.3 billion" in replies[0]["answer"]

"""The real server: `rag serve` in a subprocess on a free loopback port, spoken to over HTTP with
httpx (JSON and Server-Sent Events) and with the official `openai` client; the index is replaced
on disk by a `rag index` subprocess while requests run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.build import build_index
from rag.embed import FakeEmbedder

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent
DOCS = ["ACME_FY24Q2_en.txt", "GLBX_FY23Q3_en.txt", "WIDG_FY25Q1_en.txt", "SEED_FY25Q4_zh.txt"]
TOKEN = "server-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(index_dir: Path, sources: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_EMBED_MODEL": "fake", "RAG_READER_WEIGHTS": os.environ["RAG_READER_WEIGHTS"],
                "RAG_INDEX_DIR": str(index_dir), "RAG_SOURCES": json.dumps([str(sources)]),
                "RAG_ADMIN_TOKEN": TOKEN, "NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"})
    return env | (extra or {})


def start_server(index_dir: Path, sources: Path, log: Path,
                 extra: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--reload-interval", "0.2"],
            cwd=ROOT, env=server_env(index_dir, sources, extra), stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise AssertionError(f"server did not come up:\n{log.read_text()[-3000:]}")


def hammer(base: str, done: threading.Event, failures: list[str], counts: list[int]) -> None:
    """Ask one question with a known answer until `done`; every reply that is not a 200 with that
    answer goes into `failures`."""
    with httpx.Client(base_url=base, timeout=60, trust_env=False) as c:
        while not done.is_set():
            r = c.post("/chat", json={"message": "What was ACME revenue?"})
            counts[0] += 1
            if r.status_code != 200 or "$1.2 billion" not in r.json()["answer"]:
                failures.append(f"{base} {r.status_code} {r.text[:200]}")


def stop_server(proc: subprocess.Popen) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    root = tmp_path_factory.mktemp("server")
    src, idx = root / "src", root / "index"
    src.mkdir()
    for name in DOCS:
        shutil.copy(DATA / name, src / name)
    build_index([src], idx, FakeEmbedder())
    proc, base = start_server(idx, src, root / "server.log")
    try:
        yield base, src, idx
    finally:
        code = stop_server(proc)
        log = (root / "server.log").read_text()
        # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal (exit -15).
        assert code in (0, -signal.SIGTERM) and "Application shutdown complete" in log, log[-3000:]
        assert "Traceback" not in log, log[-3000:]


@pytest.fixture
def http(server: tuple[str, Path, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0], timeout=30, trust_env=False) as c:
        yield c


def test_health_and_documents(http: httpx.Client) -> None:
    h = http.get("/health").json()
    assert h["status"] == "ok" and h["index"]["documents"] == 4 and h["model"]["id"] == "fake-hash-64"
    assert http.get("/documents").json()["count"] == 4


def test_chat_over_http(http: httpx.Client) -> None:
    r = http.post("/chat", json={"message": "What was ACME revenue?"})
    assert r.status_code == 200
    reply = r.json()
    assert "$1.2 billion" in reply["answer"] and reply["citations"][0]["doc_id"] == "ACME_FY24Q2_en"
    r = http.post("/chat", json={"message": "x" * 4001})
    assert r.status_code == 422 and r.json()["error"]["param"] == "message"


def test_chat_stream_over_http(http: httpx.Client) -> None:
    events: list[tuple[str, dict]] = []
    with http.stream("POST", "/chat", json={"message": "示例公司的积压订单是多少？", "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((event or "message", json.loads(line.split(":", 1)[1])))
    assert [e for e, _ in events][-1] == "reply" and {e for e, _ in events[:-1]} == {"delta"}
    reply = events[-1][1]
    assert "2440" in reply["answer"] and reply["verified"] is True and reply["citations"]


def test_openai_client(server: tuple[str, Path, Path]) -> None:
    openai = pytest.importorskip("openai", reason="the openai package is in the test extras")
    client = openai.OpenAI(base_url=f"{server[0]}/v1", api_key="unused", max_retries=0, timeout=30,
                           http_client=httpx.Client(trust_env=False))
    assert next(m.id for m in client.models.list()) == "extractive"

    r = client.chat.completions.create(model="extractive", messages=[
        {"role": "system", "content": "Answer from the transcripts."},
        {"role": "user", "content": "What was ACME revenue?"}])
    assert r.object == "chat.completion" and r.choices[0].finish_reason == "stop"
    assert "$1.2 billion" in r.choices[0].message.content and "[1]" in r.choices[0].message.content
    extra = r.model_extra or {}
    assert extra["citations"][0]["doc_id"] == "ACME_FY24Q2_en" and extra["reply"]["verified"] is True

    stream = client.chat.completions.create(model="extractive", stream=True,
                                            messages=[{"role": "user", "content": "示例公司的积压订单是多少？"}])
    chunks = list(stream)
    assert chunks and all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "2440" in text and "[1]" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["citations"][0]["doc_id"] == "SEED_FY25Q4_zh"

    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="extractive", messages=[{"role": "user", "content": " "}])


def test_admin_over_http(http: httpx.Client) -> None:
    assert http.post("/admin/reindex").status_code == 401
    assert http.get("/admin/reindex", headers={"Authorization": "Bearer nope"}).status_code == 403
    assert http.get("/admin/reindex", headers={"Authorization": f"Bearer {TOKEN}"}).json()["status"] == "never"


def test_metrics_over_http(http: httpx.Client) -> None:
    http.post("/chat", json={"message": "What was ACME revenue?"})
    text = http.get("/metrics").text
    assert 'rag_http_requests_total{method="POST",route="/chat",status="200"}' in text
    assert "rag_http_request_duration_seconds_bucket" in text


def test_rag_index_subprocess_replaces_the_index_while_requests_run(server: tuple[str, Path, Path]) -> None:
    """Runs last in this module: `rag index` (another process) writes a new version; the server
    switches to it between requests, none fails, and the new document is served."""
    base, src, idx = server
    shutil.copy(DATA / "COLA_FY21Q4_en_ectsum.txt", src)
    failures: list[str] = []
    done = threading.Event()
    counts = [0]
    workers = [threading.Thread(target=hammer, args=(base, done, failures, counts)) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {"RAG_EMBED_MODEL": "fake"}
        run = subprocess.run([sys.executable, "-m", "rag.cli", "index", str(src), "--index-dir", str(idx), "--quiet"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stderr
        assert "1 added" in run.stdout
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
            while c.get("/documents").json()["count"] != 5:
                assert time.monotonic() < deadline, "the new index was not picked up"
                time.sleep(0.1)
            time.sleep(0.5)
            reply = c.post("/chat", json={"message": "How much free cash flow was delivered?"}).json()
    finally:
        done.set()
        for w in workers:
            w.join()
    assert not failures, failures[:3]
    assert counts[0] > 5
    assert "$11.3 billion" in reply["answer"]

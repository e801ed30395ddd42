"""The index folder: manifest checks, damaged files named, lock behaviour, crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.build import LOCK_FILE, build_index
from rag.embed import FakeEmbedder
from rag.errors import IndexMismatchError, IndexMissingError
from rag.lock import LockTimeout, exclusive
from rag.store import CHUNKS, EMBEDDINGS, FAISS_FILE, MANIFEST, current_folder, load_index

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def built(tmp_path: Path, data_dir: Path) -> tuple[Path, FakeEmbedder]:
    emb = FakeEmbedder()
    build_index([data_dir / "ACME_FY24Q2_en.txt", data_dir / "SEED_FY25Q4_zh.txt"], tmp_path / "index", emb)
    return tmp_path / "index", emb


def test_manifest_contents(built: tuple[Path, FakeEmbedder]) -> None:
    idx_dir, emb = built
    m = json.loads((current_folder(idx_dir) / MANIFEST).read_text())
    assert m["format_version"] == 1
    assert m["model"] == {"id": emb.model_id, "dim": 64, "fingerprint": emb.fingerprint(), "backend": "fake",
                          "precision": "fp32"}
    assert m["counts"]["documents"] == 2 and m["counts"]["chunks"] == len(load_index(idx_dir))
    doc = m["documents"]["ACME_FY24Q2_en"]
    assert len(doc["hash"]) == 64 and doc["ticker"] == "ACME" and doc["period"] == "FY2024Q2"
    assert doc["chunk_ids"] == [c.id for c in load_index(idx_dir).chunks if c.doc_id == "ACME_FY24Q2_en"]
    assert m["faiss"]["kind"] == "flat" and m["build_seconds"] >= 0 and m["built_at"]


def test_missing_index_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="rag index"):
        load_index(tmp_path / "none")


def test_other_model_or_format_is_a_clear_error(built: tuple[Path, FakeEmbedder]) -> None:
    idx_dir, emb = built
    with pytest.raises(IndexMismatchError, match=r"built with embedding model 'fake-hash-64'.*rag index --rebuild"):
        load_index(idx_dir, model_id="multilingual-e5-small")
    with pytest.raises(IndexMismatchError, match="changed since the index was built"):
        load_index(idx_dir, model_id=emb.model_id, fingerprint="sha256:other")
    path = current_folder(idx_dir) / MANIFEST
    m = json.loads(path.read_text())
    m["format_version"] = 99
    path.write_text(json.dumps(m))
    with pytest.raises(IndexMismatchError, match="format version 99.*rag index --rebuild"):
        load_index(idx_dir)


@pytest.mark.parametrize("name", [FAISS_FILE, EMBEDDINGS, CHUNKS])
def test_missing_or_damaged_file_is_named(built: tuple[Path, FakeEmbedder], name: str) -> None:
    idx_dir, _ = built
    path = current_folder(idx_dir) / name
    data = path.read_bytes()
    path.write_bytes(data[:-7] + b"garbage")
    with pytest.raises(IndexMismatchError, match=f"{name}.*damaged"):
        load_index(idx_dir)
    path.unlink()
    with pytest.raises(IndexMismatchError, match=f"{name}.*missing"):
        load_index(idx_dir)


def test_damaged_manifest_is_named(built: tuple[Path, FakeEmbedder]) -> None:
    idx_dir, _ = built
    (current_folder(idx_dir) / MANIFEST).write_text("{not json")
    with pytest.raises(IndexMismatchError, match="manifest.json"):
        load_index(idx_dir)


def test_filtered_dense_search_only_returns_allowed_rows(built: tuple[Path, FakeEmbedder]) -> None:
    idx_dir, emb = built
    index = load_index(idx_dir)
    zh_rows = np.array([i for i, c in enumerate(index.chunks) if c.doc_id == "SEED_FY25Q4_zh"])
    hits = index.search_dense(emb.embed_queries(["margins for the rest of the year"])[0], 10, rows=zh_rows)
    assert hits and {index.chunks[r].doc_id for r, _ in hits} == {"SEED_FY25Q4_zh"}
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_lock_serialises_and_times_out(tmp_path: Path) -> None:
    lock = tmp_path / LOCK_FILE
    with exclusive(lock):
        child = subprocess.run(
            [sys.executable, "-c", f"from rag.lock import exclusive\nwith exclusive(__import__('pathlib').Path({str(lock)!r}), timeout=0.3): pass"],
            capture_output=True, text=True, cwd=ROOT,
        )
        assert child.returncode != 0 and "another build is running" in child.stderr
    with exclusive(lock, timeout=0.3):  # released: can be taken again
        pass


def test_stale_lock_of_a_killed_process_is_recovered(tmp_path: Path) -> None:
    lock = tmp_path / LOCK_FILE
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from rag.lock import exclusive\nimport time\nwith exclusive(__import__('pathlib').Path({str(lock)!r})):\n print('held', flush=True)\n time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(LockTimeout):
        with exclusive(lock, timeout=0.2):
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert "pid" in lock.read_text()  # the dead holder's note is still there, but the lock is free
    t0 = time.monotonic()
    with exclusive(lock, timeout=5):
        pass
    assert time.monotonic() - t0 < 2


def test_kill_9_during_build_leaves_previous_index_loadable(built: tuple[Path, FakeEmbedder], data_dir: Path) -> None:
    idx_dir, _ = built
    live = current_folder(idx_dir)
    # A child builds with an embedder that hangs mid-build; it is killed with SIGKILL.
    script = f"""
import time, numpy as np
from pathlib import Path
from rag.build import build_index
from rag.embed import FakeEmbedder
class Hang(FakeEmbedder):
    def embed_passages(self, texts):
        print('embedding', flush=True); time.sleep(60)
build_index([Path({str(data_dir)!r})], Path({str(idx_dir)!r}), Hang())
"""
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert child.stdout is not None and child.stdout.readline().strip() == "embedding"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert current_folder(idx_dir) == live
    index = load_index(idx_dir)
    assert {c.doc_id for c in index.chunks} == {"ACME_FY24Q2_en", "SEED_FY25Q4_zh"}
    # and the next build goes through (the lock died with the child)
    r = build_index([data_dir], idx_dir, FakeEmbedder(), lock_timeout=5)
    assert r.written

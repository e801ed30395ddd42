"""Damaged index files and a full disk: the service keeps answering from what it loaded and reports
the damage in /health, `rag index --verify` finds it, the next `rag index` rebuilds it; a build that
runs out of space says "disk full" with the path and leaves the live index as it was."""

from __future__ import annotations

import errno
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag.build import build_index
from rag.cli import main
from rag.config import Settings
from rag.embed import FakeEmbedder
from rag.errors import DiskFullError
from rag.store import current_folder, load_index, verify_live
from tests.test_api import DATA, TOKEN, client_for, make_corpus, wait_for

QUESTION = {"message": "What was ACME revenue?"}


def _answer(client) -> tuple[str, list[str]]:
    r = client.post("/chat", json=QUESTION)
    assert r.status_code == 200, r.text
    return r.json()["answer"], [c["chunk_id"] for c in r.json()["citations"]]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[object, Path, Path]]:
    src, idx = make_corpus(tmp_path)
    settings = Settings(embed_model="fake", index_dir=idx, sources=[src], admin_token=TOKEN)
    with client_for(settings, reload_interval=0.05) as c:
        yield c, src, idx


@pytest.mark.parametrize("name", ["embeddings.npy", "chunks.jsonl", "bm25/data.csc.index.npy", "sentences.npy"])
def test_a_truncated_live_file_is_reported_while_answers_go_on(service, name: str, capsys,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_EMBED_MODEL", "fake")
    client, src, idx = service
    before = _answer(client)
    version = current_folder(idx).name
    path = current_folder(idx) / name
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 3)

    wait_for(lambda: client.get("/health").json()["index"]["damage"], what="damage in /health")
    health = client.get("/health").json()
    assert health["status"] == "degraded" and health["index"]["version"] == version
    assert any(name in d and "damaged" in d for d in health["index"]["damage"])
    assert str(idx) not in client.get("/health").text  # the folder is not named to clients
    assert _answer(client) == before  # from what it loaded

    assert main(["index", "--verify", "--index-dir", str(idx)]) == 1
    assert name in capsys.readouterr().err
    assert main(["index", "--quiet", "--index-dir", str(idx), str(src)]) == 0
    assert "damaged" in capsys.readouterr().out  # the summary says why it rebuilt
    wait_for(lambda: client.get("/health").json()["index"]["version"] != version, what="the rebuilt version")
    assert client.get("/health").json()["status"] == "ok" and _answer(client) == before
    assert main(["index", "--verify", "--index-dir", str(idx)]) == 0


def test_verify_names_an_altered_file_of_the_same_size(tmp_path: Path) -> None:
    src, idx = make_corpus(tmp_path)
    path = current_folder(idx) / "vectors.faiss"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    _, checked, problems = verify_live(idx)
    assert checked >= 10 and len(problems) == 1 and "vectors.faiss" in problems[0]


def _fill_up(monkeypatch: pytest.MonkeyPatch, nth: int) -> list[str]:
    """Make the `nth` file opened for writing under an index's new version fail with ENOSPC."""
    import builtins

    real_open, seen = builtins.open, []

    def open_(file, mode="r", *a, **kw):
        if any(m in mode for m in "wax+") and ".tmp-v-" in str(file):
            seen.append(str(file))
            if len(seen) == nth:
                raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_open(file, mode, *a, **kw)

    monkeypatch.setattr(builtins, "open", open_)
    return seen


def test_each_write_of_a_build_failing_for_space_leaves_the_live_index(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    src, idx = make_corpus(tmp_path)
    shutil.copy(DATA / "COLA_FY21Q4_en_ectsum.txt", src)
    live = current_folder(idx).name
    ids = [c.id for c in load_index(idx).chunks]
    nth, failed = 1, 0
    while True:
        with monkeypatch.context() as m:
            seen = _fill_up(m, nth)
            try:
                build_index([src], idx, FakeEmbedder())
            except DiskFullError as e:
                assert "disk full" in str(e) and seen[-1] in str(e) and live in str(e)
                failed += 1
            else:
                break
        assert current_folder(idx).name == live and [c.id for c in load_index(idx).chunks] == ids
        assert not list(idx.glob(".tmp-*"))
        nth += 1
    assert failed >= 8  # every file the build writes with Python was failed once
    assert current_folder(idx).name != live and load_index(idx, verify=True)


def _tmpfs(mount: Path, size: str) -> bool:
    mount.mkdir()
    try:
        return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_a_real_full_disk_names_the_path(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    if not _tmpfs(mount, "600k"):
        pytest.skip("cannot mount a size-limited tmpfs here (needs root); the injected ENOSPC test covers it")
    try:
        src = tmp_path / "src"
        src.mkdir()
        shutil.copy(DATA / "ACME_FY24Q2_en.txt", src)
        idx = mount / "index"
        build_index([src], idx, FakeEmbedder())
        live, before = current_folder(idx).name, {p.name: p.read_bytes() for p in current_folder(idx).iterdir()
                                                   if p.is_file()}
        filler = mount / "filler"
        free = shutil.disk_usage(mount).free
        filler.write_bytes(b"\0" * max(0, free - 20_000))  # leave too little for another version
        for name in ("GLBX_FY23Q3_en.txt", "WIDG_FY25Q1_en.txt"):
            shutil.copy(DATA / name, src)
        with pytest.raises(DiskFullError, match=r"disk full: cannot write .*index.*is unchanged"):
            build_index([src], idx, FakeEmbedder())
        assert current_folder(idx).name == live and not list(idx.glob(".tmp-*"))
        assert {p.name: p.read_bytes() for p in current_folder(idx).iterdir() if p.is_file()} == before
        filler.unlink()
        assert build_index([src], idx, FakeEmbedder()).written  # no manual step after space is freed
        assert np.asarray(load_index(idx, verify=True).embeddings).shape[0] > 0
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True, timeout=10)


def test_a_short_write_without_errno_is_a_full_disk(tmp_path: Path) -> None:
    from rag.store import disk_full

    (tmp_path / "v-1").mkdir()
    (tmp_path / "v-1" / "sentences.npy").write_bytes(b"x")
    e = disk_full(OSError("18816 requested and 4064 written"), tmp_path)  # numpy's tofile() on a full disk
    assert isinstance(e, DiskFullError) and "sentences.npy" in str(e)
    assert disk_full(OSError(errno.EACCES, "Permission denied", "x"), tmp_path) is None
    assert disk_full(RuntimeError("write error in /x: (No space left on device)"), tmp_path) is not None

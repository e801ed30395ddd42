"""`rag index --watch`: a rebuild when a transcript appears or changes, not before it settles."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from rag.build import build_index
from rag.embed import FakeEmbedder
from rag.store import load_index
from rag.watch import snapshot, watch


def test_snapshot_sees_new_and_changed_files(tmp_path: Path, data_dir: Path) -> None:
    a = snapshot([tmp_path])
    shutil.copy(data_dir / "ACME_FY24Q2_en.txt", tmp_path)
    b = snapshot([tmp_path])
    assert a == {} and list(b) == [str(tmp_path / "ACME_FY24Q2_en.txt")]
    (tmp_path / "ACME_FY24Q2_en.meta.json").write_text('{"company": "X"}')
    assert len(snapshot([tmp_path])) == 2


def test_watch_rebuilds_when_a_transcript_arrives(tmp_path: Path, data_dir: Path) -> None:
    src, idx_dir, emb = tmp_path / "src", tmp_path / "index", FakeEmbedder()
    src.mkdir()
    shutil.copy(data_dir / "ACME_FY24Q2_en.txt", src)
    reports = []

    def rebuild() -> None:
        reports.append(build_index([src], idx_dir, emb))

    def drop_new_file() -> None:
        while not reports:
            time.sleep(0.02)
        shutil.copy(data_dir / "WIDG_FY25Q1_en.txt", src)

    threading.Thread(target=drop_new_file, daemon=True).start()
    n = watch([src], rebuild, interval=0.05, settle=0.1, max_rebuilds=2)
    assert n == 2
    assert reports[0].added == ["ACME_FY24Q2_en"] and reports[1].added == ["WIDG_FY25Q1_en"]
    assert {c.doc_id for c in load_index(idx_dir).chunks} == {"ACME_FY24Q2_en", "WIDG_FY25Q1_en"}

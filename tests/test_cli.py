"""The `rag` command line: chunk listings and error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main


def test_chunks_json(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chunks", str(data_dir / "ACME_FY24Q2_en.txt"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    source = (data_dir / "ACME_FY24Q2_en.txt").read_text()
    assert len(rows) == 4
    for r in rows:
        assert {"id", "doc_id", "section", "speakers", "question", "text", "start", "end"} <= set(r)
        assert r["ticker"] == "ACME" and r["period"] == "FY2024Q2" and r["company"] == "Acme Corp"
        assert source[r["start"] : r["end"]] == r["text"]
    assert [r["section"] for r in rows] == ["prepared", "prepared", "qa", "qa"]
    assert rows[2]["speakers"][0] == {"name": "Sam Lee", "role": "analyst", "title": "Analyst", "firm": "Big Bank"}


def test_chunks_listing(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chunks", str(data_dir / "SEED_FY25Q4_zh.txt")]) == 0
    out = capsys.readouterr().out
    assert "示例公司 (SMPL) FY2025Q4" in out and "layout=zh-press-qa" in out
    assert "2 Q&A exchanges, 3 chunks" in out


def test_chunks_reports_warnings_on_stderr(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chunks", str(data_dir / "notes.txt")]) == 0
    assert "not recognised" in capsys.readouterr().err


def test_unreadable_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "empty.txt"
    bad.write_bytes(b"")
    assert main(["chunks", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "empty.txt" in err and "Traceback" not in err


def test_index_and_search_commands(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EMBED_MODEL", "fake")
    idx = str(tmp_path / "index")
    assert main(["index", str(data_dir / "ACME_FY24Q2_en.txt"), str(data_dir / "notes.txt"), "--index-dir", idx]) == 0
    captured = capsys.readouterr()
    out = captured.out.strip().splitlines()
    # A table of what each added file was read as, unknown fields shown as "?", then the summary.
    assert out[0].split()[:8] == ["file", "layout", "company", "ticker", "period", "language", "chunks", "warnings"]
    acme = next(r.split() for r in out if r.startswith("ACME_FY24Q2_en.txt"))
    assert acme[1:4] == ["fool", "Acme", "Corp"] and "ACME" in acme and "FY2024Q2" in acme
    notes = next(r.split() for r in out if r.startswith("notes.txt"))
    assert notes[1:5] == ["generic", "?", "?", "?"]
    assert out[-1].startswith("documents: 2 added, 0 updated, 0 removed, 0 unchanged;")
    # ...and the unknown file is named with the sidecar that would fix it.
    assert "notes.txt: no company or period found" in captured.err and "notes.meta.json" in captured.err
    assert main(["index", str(data_dir / "ACME_FY24Q2_en.txt"), "--index-dir", idx]) == 0
    assert "0 added, 0 updated, 1 removed, 1 unchanged; 0 chunks embedded" in capsys.readouterr().out
    assert main(["search", "backlog growth data-center contracts", "--index-dir", idx, "--json", "--top-k", "2"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and rows[0]["ticker"] == "ACME" and rows[0]["score"] >= rows[1]["score"]
    source = (data_dir / "ACME_FY24Q2_en.txt").read_text()
    assert all(source[r["start"] : r["end"]] == r["text"] for r in rows)


def test_index_reports_unreadable_files_and_goes_on(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EMBED_MODEL", "fake")
    src = tmp_path / "src"
    src.mkdir()
    (src / "empty.txt").write_bytes(b"")
    (src / "ACME_FY24Q2_en.txt").write_text((data_dir / "ACME_FY24Q2_en.txt").read_text())
    assert main(["index", str(src), "--index-dir", str(tmp_path / "index")]) == 0
    captured = capsys.readouterr()
    assert "skipped:" in captured.err and "empty.txt" in captured.err
    assert "1 added" in captured.out and "1 unreadable" in captured.out


def test_search_without_index_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EMBED_MODEL", "fake")
    assert main(["search", "x", "--index-dir", str(tmp_path / "none")]) == 2
    assert "rag index" in capsys.readouterr().err

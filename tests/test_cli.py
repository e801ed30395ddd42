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

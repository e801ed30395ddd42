"""The fast parts of bench/chaos.py, so CI guards them: a few kill -9 points of a build and of a
Milvus publish, one live reindex under load with a killed rebuild (on each store), a full disk and
damaged files (the fake embedder; the full runs with the real model are the bench)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import chaos_crash, chaos_disk, chaos_live, chaos_publish  # noqa: E402

pytestmark = pytest.mark.integration


def _opts(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"model": "fake", **kw})


def _check(rows: list, runs_at_least: int) -> None:
    for r in rows:
        assert not r.lost, f"{r.part}: {r.what}: {r.broke}"
    assert sum(r.runs for r in rows) >= runs_at_least


def test_killed_builds_leave_a_clean_version_and_build_again() -> None:
    rows = chaos_crash.run(_opts(runs=6, seed=5), quick=True)
    _check(rows, 6)
    assert "old version live" in rows[0].figures  # kills before the swap were among them


def test_killed_milvus_publishes_leave_one_whole_version_and_publish_again() -> None:
    pytest.importorskip("milvus_lite")
    rows = chaos_publish.run(_opts(runs=4, seed=3), quick=True)
    _check(rows, 4)


@pytest.mark.parametrize("store", ["faiss", "milvus"])
def test_answers_during_live_rebuilds_come_from_complete_versions(store: str) -> None:
    if store == "milvus":
        pytest.importorskip("milvus_lite")
    rows = chaos_live.run(_opts(clients=4, seconds=4, rebuilds=2, store=store), quick=True)
    _check(rows, 10)
    assert len(rows) == 2 and all(r.runs > 0 for r in rows)


def test_full_disk_and_damaged_files() -> None:
    rows = chaos_disk.run(_opts(), quick=True)
    _check(rows, 10)

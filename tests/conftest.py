"""Shared fixtures: the hand-written sample transcripts and the real corpus beside the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent
SHARED_TRANSCRIPTS = ROOT.parent / "shared" / "transcripts"
SEEDS = ROOT / "seeds"


@pytest.fixture
def data_dir() -> Path:
    return DATA


def real_transcripts() -> list[Path]:
    """Every real transcript: the shared corpus (when present) and the project's seeds."""
    files = sorted(SEEDS.glob("*.txt"))
    if SHARED_TRANSCRIPTS.is_dir():
        files += sorted(p for p in [*SHARED_TRANSCRIPTS.glob("*.txt"), *SHARED_TRANSCRIPTS.glob("*.json")])
    return files


@pytest.fixture
def shared_transcripts() -> Path:
    if not SHARED_TRANSCRIPTS.is_dir():
        pytest.skip(f"{SHARED_TRANSCRIPTS} is absent: the shared corpus is needed for this test")
    return SHARED_TRANSCRIPTS

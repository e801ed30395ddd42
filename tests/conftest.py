"""Shared fixtures: the hand-written sample transcripts and the real corpus beside the repo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent
SHARED_TRANSCRIPTS = ROOT.parent / "shared" / "transcripts"
SHARED_CORPUS_LARGE = ROOT.parent / "shared" / "corpus-large"
SEEDS = ROOT / "seeds"
SHIPPED_WEIGHTS = ROOT / "rag" / "reader" / "weights.json"


@pytest.fixture
def data_dir() -> Path:
    return DATA


def fake_index(root: Path, files: tuple[str, ...], texts: dict[str, str] | None = None) -> Path:
    """An index, built under `root` with the fake embedder, of these tests/data files and of `texts`
    (file name -> transcript text)."""
    import shutil

    from rag.build import build_index
    from rag.embed import FakeEmbedder

    src = root / "src"
    src.mkdir()
    for name in files:
        shutil.copy(DATA / name, src / name)
    for name, text in (texts or {}).items():
        (src / name).write_text(text)
    build_index([src], root / "index", FakeEmbedder())
    return root / "index"


@pytest.fixture(scope="session", autouse=True)
def _simple_reader() -> Iterator[None]:
    """Unit tests answer with hand-set reader weights (tests/data/reader_weights.json): the shipped
    ones are fitted on the real model's similarities, which the fake embedder does not produce.
    Session-wide, so that module fixtures (and the services they start) read them too."""
    import rag.reader

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rag.reader, "WEIGHTS", DATA / "reader_weights.json")
        mp.setenv("RAG_READER_WEIGHTS", str(DATA / "reader_weights.json"))
        yield


@pytest.fixture(autouse=True)
def _shipped_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that load the real model (marked `model`) read the shipped, fitted weights."""
    if request.node.get_closest_marker("model") is not None:
        import rag.reader

        monkeypatch.setattr(rag.reader, "WEIGHTS", SHIPPED_WEIGHTS)
        monkeypatch.delenv("RAG_READER_WEIGHTS", raising=False)


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

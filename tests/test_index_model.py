"""The real embedding model over the seed: build, reload, and find the passage a question is about."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.build import build_index
from rag.config import get_settings
from rag.embed import load_embedder
from rag.store import load_index

pytestmark = [pytest.mark.model, pytest.mark.integration]
SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture(scope="module")
def embedder():
    s = get_settings()
    return load_embedder(s.embed_model, s.model_cache_dir).load()


def test_seed_index_with_real_model(tmp_path: Path, embedder) -> None:
    report = build_index([SEEDS], tmp_path / "index", embedder)
    assert report.added == ["AMZN_FY25Q4_zh"] and report.chunks_embedded == report.chunks_total > 0
    index = load_index(tmp_path / "index", embedder.model_id, embedder.fingerprint())
    m = index.manifest["model"]
    assert (m["id"], m["dim"]) == ("multilingual-e5-small", 384) and m["fingerprint"].startswith("sha256:")

    def top(question: str, k: int = 1) -> list[str]:
        return [index.chunks[r].text for r, _ in index.search_dense(embedder.embed_queries([question])[0], k)]

    assert any("2440" in t for t in top("亚马逊的积压订单有多少？"))
    assert any("机器人" in t for t in top("履约网络中有多少台机器人？", 2))
    assert any("Trainium" in t for t in top("Trainium 芯片交付了多少颗？", 2))
    # Rebuilding with nothing changed embeds nothing and keeps the version.
    again = build_index([SEEDS], tmp_path / "index", embedder)
    assert again.chunks_embedded == 0 and again.version == report.version

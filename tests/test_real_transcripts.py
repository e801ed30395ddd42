"""Every real transcript (seeds/ and ../shared/transcripts) read and chunked end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.chunk import chunk_transcript
from rag.ingest import read_transcript
from rag.ingest.meta import from_filename
from tests.conftest import SHARED_TRANSCRIPTS, real_transcripts

pytestmark = pytest.mark.integration

FILES = real_transcripts()
# Exchanges counted by hand (one per analyst question, follow-ups after an answer count again).
EXPECTED_EXCHANGES = {
    "AMZN_FY25Q4_zh": 6,
    "MSFT_FY24Q3_zh": 7,
    "MSFT_FY24Q3_en": 8,
    "TAL_FY25Q4_en": 6,
    "EQIX_FY22Q3_en": 10,
}
# Analysts named in the Motley Fool "Call participants" list of MSFT_FY24Q3_en.
MSFT_ANALYSTS = {
    "Keith Weiss", "Brent Thill", "Mark Moerdler", "Karl Keirstead",
    "Raimo Lenschow", "Michael Turrin", "Kirk Materne", "Alex Zukin",
}


def test_corpus_is_present() -> None:
    if not SHARED_TRANSCRIPTS.is_dir():
        pytest.skip(f"{SHARED_TRANSCRIPTS} is absent; only seeds/ are checked")
    assert len(FILES) >= 19


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_transcript_reads_and_chunks(path: Path) -> None:
    t = read_transcript(path)
    named = from_filename(path)
    assert t.meta.ticker == named["ticker"] and t.meta.period == named["period"]
    assert t.meta.language == named["language"] and t.meta.company
    assert t.meta.layout != "generic", t.warnings
    for turn in t.turns:
        assert t.text[turn.start : turn.end] == turn.text and turn.text.strip()

    chunks = chunk_transcript(t)
    assert chunks
    for c in chunks:
        assert t.text[c.start : c.end] == c.text and c.text.strip()
    assert len({c.id for c in chunks}) == len(chunks)

    full_call = "ectsum" not in path.stem
    exchanges = [c for c in chunks if c.section == "qa" and c.question and c.part == 0]
    if full_call:
        assert len(exchanges) >= 5
        if t.meta.doc_id in EXPECTED_EXCHANGES:
            assert len(exchanges) == EXPECTED_EXCHANGES[t.meta.doc_id]
        for c in exchanges:
            roles = [s.role for s in c.speakers]
            assert roles[0] == "analyst" and "executive" in roles, (c.id, roles)
            assert "operator" not in roles
        analysts = {s.name for turn in t.turns for s in [turn.speaker] if s.role == "analyst" and s.name}
        executives = {s.name for turn in t.turns for s in [turn.speaker] if s.role == "executive" and s.name}
        assert not analysts & executives
        assert t.meta.language == "zh" or analysts, "English full calls name their analysts"
    else:
        assert not exchanges and all(c.section == "prepared" for c in chunks)


def test_msft_analysts_and_firms() -> None:
    path = SHARED_TRANSCRIPTS / "MSFT_FY24Q3_en.txt"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    chunks = chunk_transcript(read_transcript(path))
    asked = {c.analyst for c in chunks if c.section == "qa" and c.question}
    assert asked == MSFT_ANALYSTS
    firms = {c.analyst: c.analyst_firm for c in chunks if c.analyst}
    assert firms["Keith Weiss"] == "Morgan Stanley" and firms["Alex Zukin"] == "Wolfe Research"


def test_new_fool_layout_bullets_are_not_speakers() -> None:
    path = SHARED_TRANSCRIPTS / "FIG_FY25Q3_en.txt"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    t = read_transcript(path)
    names = {turn.speaker.name for turn in t.turns}
    assert not names & {"Revenue", "Annualized revenue run rate", "Dev Mode", "MCP server"}
    summary = [turn for turn in t.turns if turn.section == "summary"]
    assert len(summary) == 1 and summary[0].text.startswith("Revenue-- $274 million")
    operator = {turn.speaker.name for turn in t.turns if turn.speaker.role == "operator"}
    assert operator == {"Eric"}  # FIG's operator speaks under a first name only


def test_seed_footer_is_not_in_any_chunk() -> None:
    t = read_transcript(Path(__file__).resolve().parent.parent / "seeds" / "AMZN_FY25Q4_zh.txt")
    chunks = chunk_transcript(t)
    assert all("证券之星" not in c.text and not c.text.endswith("2026-02-06") for c in chunks)
    assert chunks[-1].text.endswith("我们非常乐观能够继续保持与此相近的增长水平。")
    assert t.meta.company == "亚马逊" and "Amazon" in t.meta.aliases

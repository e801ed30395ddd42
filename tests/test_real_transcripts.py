"""Every real transcript (seeds/ and ../shared/transcripts) read and chunked end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.chunk import chunk_transcript
from rag.ingest import read_transcript
from tests.conftest import SHARED_TRANSCRIPTS, real_transcripts

pytestmark = pytest.mark.integration

FILES = real_transcripts()
# What each file is, filled in by reading the files (headers, titles, the calls themselves), not by
# running the reader: company, ticker, fiscal period, language, and the call date where the text gives one.
EXPECTED_META = {
    "AMZN_FY25Q4_zh": ("亚马逊", "AMZN", "FY2025Q4", "zh", "2026-02-06"),
    "AAPL_FY23Q2_en": ("Apple", "AAPL", "FY2023Q2", "en", None),
    "BAC_FY21Q4_en_ectsum": ("Bank of America", "BAC", "FY2021Q4", "en", None),
    "DE_FY21Q4_en_ectsum": ("Deere", "DE", "FY2021Q4", "en", None),
    "DIS_FY22Q1_en_ectsum": ("Disney", "DIS", "FY2022Q1", "en", None),
    "EQIX_FY22Q3_en": ("Equinix", "EQIX", "FY2022Q3", "en", None),
    "FIG_FY25Q3_en": ("Figma", "FIG", "FY2025Q3", "en", "2025-11-05"),
    "FIG_Q2_2025_earnings_call": ("Figma", "FIG", "FY2025Q2", "en", "2025-09-03"),
    "IBM_FY21Q4_en_ectsum": ("IBM", "IBM", "FY2021Q4", "en", None),
    "KO_FY21Q4_en_ectsum": ("Coca-Cola", "KO", "FY2021Q4", "en", None),
    "MA_FY21Q4_en_ectsum": ("Mastercard", "MA", "FY2021Q4", "en", None),
    "MDB_FY25Q4_en": ("MongoDB", "MDB", "FY2025Q4", "en", "2025-03-05"),
    "MDB_Q1_2026_interleaved": ("MongoDB", "MDB", "FY2026Q1", "en+zh", "2025-06-04"),
    "MSFT_FY24Q3_en": ("Microsoft", "MSFT", "FY2024Q3", "en", "2024-04-25"),
    "MSFT_FY24Q3_zh": ("微软", "MSFT", "FY2024Q3", "zh", None),
    "MSFT_Q2_2026_bilingual": ("Microsoft", "MSFT", "FY2026Q2", "en+zh", "2026-01-28"),
    "MSFT_Q4_2025_earnings_call": ("Microsoft", "MSFT", "FY2025Q4", "en", "2025-07-30"),
    "NKE_FY22Q2_en_ectsum": ("Nike", "NKE", "FY2022Q2", "en", None),
    "NVO_FY24Q4_en": ("Novo Nordisk", "NVO", "FY2024Q4", "en", "2025-02-05"),
    "NVO_Q2_2024_earnings_call": ("Novo Nordisk", "NVO", "FY2024Q2", "en", "2024-08-07"),
    "SNOW_FY25Q4_en": ("Snowflake", "SNOW", "FY2025Q4", "en", "2025-02-26"),
    "SNOW_Q1_2025_interleaved": ("Snowflake", "SNOW", "FY2025Q1", "en+zh", "2024-05-22"),
    "SNOW_Q2_2026_zh": ("Snowflake", "SNOW", "FY2026Q2", "zh", "2025-08-27"),
    "TAL_FY25Q4_en": ("TAL Education", "TAL", "FY2025Q4", "en", None),
    "TAL_Q3_2026_zh": ("TAL Education", "TAL", "FY2026Q3", "zh", "2026-01-29"),
    "T_FY21Q4_en_ectsum": ("AT&T", "T", "FY2021Q4", "en", None),
    "Z_FY22Q3_en": ("Zillow Group", "Z", "FY2022Q3", "en", None),
}
# Exchanges counted by hand (one per analyst question, follow-ups after an answer count again).
EXPECTED_EXCHANGES = {
    "AMZN_FY25Q4_zh": 6,
    "MSFT_FY24Q3_zh": 7,
    "MSFT_FY24Q3_en": 8,
    "TAL_FY25Q4_en": 6,
    "EQIX_FY22Q3_en": 10,
    "TAL_Q3_2026_zh": 4,  # four analysts asked on this call (the operator hands over four times)
}
# Questions the call itself leaves unanswered: SNOW's line dropped mid-question twice
# ("我们刚刚在Alex提问的中途被切断了") before the analyst asked again and was answered.
UNANSWERED = {"SNOW_Q2_2026_zh": 2}
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
    company, ticker, period, language, call_date = EXPECTED_META[path.stem]
    m = t.meta
    assert (m.company, m.ticker, m.period, m.language) == (company, ticker, period, language), m
    if call_date:
        assert m.call_date == call_date
    assert m.layout != "generic", t.warnings
    assert not any("no company" in w or "no period" in w for w in t.warnings)
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
        for lang in {c.language for c in chunks}:
            # Every full call has at least five exchanges in each language it is read in (TAL's
            # FY2026 Q3 call had four questions).
            assert len([c for c in exchanges if c.language == lang]) >= min(5, EXPECTED_EXCHANGES.get(m.doc_id, 5))
        if m.doc_id in EXPECTED_EXCHANGES:
            assert len(exchanges) == EXPECTED_EXCHANGES[m.doc_id]
        unanswered = 0
        for c in exchanges:
            # A long Chinese question can fill the first piece alone: the answer is in the next.
            parts = [x for x in chunks if x.question == c.question and x.start >= c.start][:3]
            roles = [s.role for x in parts for s in x.speakers]
            assert roles[0] == "analyst" and "operator" not in roles, (c.id, roles)
            unanswered += "executive" not in roles
        assert unanswered == UNANSWERED.get(m.doc_id, 0)
        analysts = {s.name for turn in t.turns for s in [turn.speaker] if s.role == "analyst" and s.name}
        executives = {s.name for turn in t.turns for s in [turn.speaker] if s.role == "executive" and s.name}
        assert not analysts & executives
        assert m.language == "zh" or analysts, "English full calls name their analysts"
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


@pytest.mark.parametrize("name", ["MSFT_Q2_2026_bilingual.json", "SNOW_Q1_2025_interleaved.txt",
                                  "MDB_Q1_2026_interleaved.txt"])
def test_bilingual_copies_are_read_once_per_language_with_the_same_speakers(name: str) -> None:
    path = SHARED_TRANSCRIPTS / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    t = read_transcript(path)
    by_lang = {lang: [x for x in t.turns if x.language == lang] for lang in ("en", "zh")}
    assert by_lang["en"] and by_lang["zh"] and len(by_lang["en"]) + len(by_lang["zh"]) == len(t.turns)
    # Each Chinese turn translates an English one: same speaker and section, in the same order.
    en_keys = [(x.speaker, x.section) for x in by_lang["en"]]
    zh_keys = [(x.speaker, x.section) for x in by_lang["zh"]]
    it = iter(en_keys)
    assert all(k in it for k in zh_keys)
    assert len(zh_keys) >= 0.9 * len(en_keys)
    # Chinese turns hold the translation, not the English repeated after it.
    assert all(cjk_share(x.text) > 0.3 for x in by_lang["zh"] if len(x.text) > 80)
    assert not any(x.text.startswith("原文") for x in by_lang["zh"])
    chunks = chunk_transcript(t)
    assert {c.language for c in chunks} == {"en", "zh"}
    for lang in ("en", "zh"):
        asked = {c.analyst for c in chunks if c.language == lang and c.section == "qa" and c.question}
        assert asked == {c.analyst for c in chunks if c.language == "en" and c.section == "qa" and c.question}


def cjk_share(text: str) -> float:
    from rag.ingest.text import cjk_ratio

    return cjk_ratio(text)

"""Each layout parsed from a small hand-written sample: turns, roles, sections, metadata, offsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import TranscriptError
from rag.ingest import read_transcript, scan
from rag.types import Transcript


def _check_offsets(t: Transcript) -> None:
    for turn in t.turns:
        assert t.text[turn.start : turn.end] == turn.text
        assert turn.text.strip() == turn.text and turn.text


def _roles(t: Transcript) -> list[tuple[str | None, str, str]]:
    return [(x.speaker.name, x.speaker.role, x.section) for x in t.turns]


def test_fool_old_layout(data_dir: Path) -> None:
    t = read_transcript(data_dir / "ACME_FY24Q2_en.txt")
    _check_offsets(t)
    m = t.meta
    assert (m.company, m.ticker, m.period, m.call_date, m.language, m.layout) == (
        "Acme Corp", "ACME", "FY2024Q2", "2024-07-30", "en", "fool",
    )
    assert "阿克米" in m.aliases
    assert _roles(t) == [
        ("Operator", "operator", "prepared"),
        ("Jane Roe", "executive", "prepared"),
        ("Operator", "operator", "qa"),
        ("Sam Lee", "analyst", "qa"),
        ("Jane Roe", "executive", "qa"),
        ("John Doe", "executive", "qa"),
        ("Sam Lee", "analyst", "qa"),
        ("Operator", "operator", "qa"),
        ("Ana Park", "analyst", "qa"),
        ("John Doe", "executive", "qa"),
    ]
    # A content line with " -- " in it is not a speaker line; the CFO's turn spans both paragraphs.
    cfo = t.turns[1]
    assert cfo.text.startswith("Revenue was $1.2 billion") and cfo.text.endswith("$300 million next year.")
    assert t.turns[3].speaker.firm == "Big Bank"
    assert t.turns[8].speaker.firm == "Little Securities"
    # Nothing after the transcript (participants list, disclaimer) becomes a turn.
    assert all("Motley Fool" not in x.text for x in t.turns)


def test_fool_new_layout_bullets_are_summary_not_speakers(data_dir: Path) -> None:
    t = read_transcript(data_dir / "WIDG_FY25Q1_en.txt")
    _check_offsets(t)
    assert t.meta.layout == "fool-new" and t.meta.period == "FY2025Q1" and t.meta.call_date == "2025-05-06"
    summary = [x for x in t.turns if x.section == "summary"]
    assert len(summary) == 1 and summary[0].text.startswith("Revenue-- $274 million")
    assert "ARR: Annual recurring revenue." in summary[0].text
    names = [x.speaker.name for x in t.turns if x.section != "summary"]
    assert "Revenue" not in names and "Gross margin" not in names and "ARR" not in names
    assert _roles(t)[1:] == [
        ("Mia Chen", "executive", "prepared"),
        ("Raj Patel", "executive", "prepared"),
        ("Operator", "operator", "qa"),
        ("Tom Wu", "analyst", "qa"),
        ("Raj Patel", "executive", "qa"),
        ("Operator", "operator", "qa"),
    ]
    tom = t.turns[4]
    assert tom.text == "Thanks. What is the outlook for gross margin?" and tom.speaker.firm == "Alpha Research"


def test_refinitiv_layout(data_dir: Path) -> None:
    t = read_transcript(data_dir / "GLBX_FY23Q3_en.txt")
    _check_offsets(t)
    assert t.meta.layout == "refinitiv" and t.meta.company == "Globex" and t.meta.period == "FY2023Q3"
    assert _roles(t) == [
        ("Operator", "operator", "prepared"),
        ("Alice B. Smith", "executive", "prepared"),
        ("Bob Jones", "executive", "prepared"),
        ("Operator", "operator", "qa"),
        ("Carol White", "analyst", "qa"),
        ("Bob Jones", "executive", "qa"),
        ("Operator", "operator", "qa"),
    ]
    # The wrapped affiliation line is not part of the question; hard-wrapped text stays one turn.
    assert t.turns[4].text == "How much did pricing add to growth?"
    assert t.turns[4].speaker.firm == "Big Bank Securities"
    assert t.turns[1].text == "Revenue rose 9% to $4.5 billion, a record\nfor the third quarter."
    assert "Thomson" not in t.text[t.turns[-1].end :].split("DISCLAIMER")[0]


def test_tsv_layout(data_dir: Path) -> None:
    t = read_transcript(data_dir / "INIT_FY23Q3_en.tsv")
    _check_offsets(t)
    assert t.meta.layout == "tsv" and t.meta.company == "Initech" and t.meta.period == "FY2023Q3"
    assert t.turns[1].text == "Revenue was $90 billion, down 3%."
    assert _roles(t)[3:] == [
        ("Operator", "operator", "qa"),
        ("Joan Hill", "analyst", "qa"),
        ("Bill Lumbergh", "executive", "qa"),
    ]
    assert t.turns[4].speaker.firm == "Mega Bank"


def test_ectsum_layout(data_dir: Path) -> None:
    t = read_transcript(data_dir / "COLA_FY21Q4_en_ectsum.txt")
    _check_offsets(t)
    assert t.meta.layout == "ectsum" and t.meta.ticker == "COLA" and t.meta.period == "FY2021Q4"
    assert [x.section for x in t.turns] == ["prepared"]
    assert any("speaker" in w for w in t.warnings)


def test_zh_press_qa_layout_drops_chrome(data_dir: Path) -> None:
    t = read_transcript(data_dir / "SEED_FY25Q4_zh.txt")
    _check_offsets(t)
    m = t.meta
    assert (m.company, m.ticker, m.period, m.language, m.layout) == ("示例公司", "SMPL", "FY2025Q4", "zh", "zh-press-qa")
    assert _roles(t) == [
        (None, "unknown", "summary"),
        (None, "analyst", "qa"),
        (None, "executive", "qa"),
        (None, "analyst", "qa"),
        (None, "executive", "qa"),
    ]
    assert t.turns[0].text.startswith("(原标题") and "来源" not in t.turns[0].text
    assert t.turns[2].text == "我们计划在2026年投入约2000亿美元资本支出。\n其中大部分投向AWS。"
    # The repeated site footer is not part of the last answer.
    assert t.turns[-1].text.endswith("同比增长 40%。")


def test_zh_press_named_analysts(data_dir: Path) -> None:
    t = read_transcript(data_dir / "WB_FY24Q3_zh.txt")
    _check_offsets(t)
    assert t.meta.layout == "zh-press-analyst" and t.meta.period == "FY2024Q3" and t.meta.company == "某公司"
    assert _roles(t) == [
        (None, "unknown", "summary"),
        ("Keith Weiss", "analyst", "qa"),
        ("萨提亚·纳德拉", "executive", "qa"),
        ("艾米·胡德", "executive", "qa"),
        ("Brent Thill", "analyst", "qa"),
        ("萨提亚·纳德拉", "executive", "qa"),
    ]
    assert t.turns[1].speaker.firm == "摩根士丹利" and t.turns[4].speaker.firm == "杰弗瑞"
    assert t.turns[0].text.startswith("某公司(406.32")
    assert t.turns[-1].text == "需求强劲。（完）"


def test_unknown_layout_reads_paragraphs_with_warning(data_dir: Path) -> None:
    t = read_transcript(data_dir / "notes.txt")
    _check_offsets(t)
    assert t.meta.layout == "generic" and len(t.turns) == 3
    assert all(x.speaker.role == "unknown" and x.speaker.name is None for x in t.turns)
    assert any("not recognised" in w for w in t.warnings)
    # Still indexed, with a warning that names what is missing and the sidecar that would fix it.
    assert any("no company or period" in w and "notes.meta.json" in w for w in t.warnings), t.warnings


def test_sidecar_overrides_metadata(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_text((data_dir / "notes.txt").read_text())
    (tmp_path / "notes.meta.json").write_text(
        json.dumps({"company": "Foo", "ticker": "FOO", "period": "Q1 2024", "aliases": ["富"]})
    )
    m = read_transcript(src).meta
    assert (m.company, m.ticker, m.period) == ("Foo", "FOO", "FY2024Q1") and "富" in m.aliases


def test_sidecar_with_unknown_field_names_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("Revenue was up.\n")
    (tmp_path / "x.meta.json").write_text('{"tickr": "X"}')
    with pytest.raises(TranscriptError, match=r"x\.meta\.json.*tickr"):
        read_transcript(tmp_path / "x.txt")


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty"), (b"   \n\n", "empty"), (b"\x00\x01\x02binary", "binary"), (b"abc \xff\xff\x80\x80 def", "cannot decode")],
)
def test_unreadable_files_raise_naming_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    f = tmp_path / "BAD_FY24Q1_en.txt"
    f.write_bytes(content)
    with pytest.raises(TranscriptError, match=r"BAD_FY24Q1_en\.txt.*" + message):
        read_transcript(f)


def test_gb18030_file_is_decoded(tmp_path: Path) -> None:
    f = tmp_path / "GB_FY24Q1_zh.txt"
    f.write_bytes("公司营收增长了百分之十。\n\n利润率为35%。\n".encode("gb18030"))
    t = read_transcript(f)
    assert t.meta.language == "zh" and "营收" in t.turns[0].text


def test_scan_reports_bad_files_and_reads_the_rest(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "good.txt").write_text((data_dir / "notes.txt").read_text())
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "README.md").write_text("# not a transcript")
    result = scan([tmp_path])
    assert [t.meta.doc_id for t in result.transcripts] == ["good"]
    assert len(result.errors) == 1 and "empty.txt" in result.errors[0]


def test_scan_of_missing_source_names_it(tmp_path: Path) -> None:
    with pytest.raises(TranscriptError, match="nope"):
        scan([tmp_path / "nope"])


def test_chinese_translation_of_a_call(data_dir: Path) -> None:
    t = read_transcript(data_dir / "ACME_Q1_2026_zh.txt")
    _check_offsets(t)
    m = t.meta
    assert (m.layout, m.ticker, m.period, m.call_date, m.language) == ("fool-zh", "ACME", "FY2026Q1", "2025-08-20", "zh")
    assert _roles(t) == [
        (None, "unknown", "summary"),
        ("操作员", "operator", "prepared"),
        ("简·罗伊", "executive", "prepared"),
        ("Tom Lee", "executive", "prepared"),
        ("操作员", "operator", "qa"),
        ("Sam Park", "analyst", "qa"),
        ("Tom Lee", "executive", "qa"),
        ("Sam Park", "analyst", "qa"),
        ("接线员", "operator", "qa"),
        ("Karen Wu", "analyst", "qa"),
        # Spelled in Latin letters here and in Chinese in the participant list: still the executive
        # who answers, not a second analyst.
        ("Jane Roy", "executive", "qa"),
        ("操作员", "operator", "qa"),
    ]
    assert t.turns[5].speaker.firm == "摩根士丹利" and t.turns[9].speaker.firm == "瑞银"
    # The repeated English original and its "原文：" marker are not part of the call.
    assert not any("Thank you. Product revenue" in x.text or "原文" in x.text for x in t.turns)
    assert all("本文是为" not in x.text for x in t.turns)  # the publisher's footer


def test_a_dated_key_figure_below_the_participants_is_the_summary_not_the_date_line(data_dir: Path,
                                                                                 tmp_path: Path) -> None:
    # A short summary line holding a date ("截至2025年6月30日的...") was taken for the call's date line and
    # left out of every passage; the date line is the one above the participant list.
    text = (data_dir / "ACME_Q1_2026_zh.txt").read_text(encoding="utf-8")
    dated = "产品收入——截至2025年6月30日的第一财季产品收入为12亿美元，同比增长30%。"
    text = text.replace("产品收入——第一财季产品收入为12亿美元，同比增长30%。", dated)
    (tmp_path / "ACME_Q1_2026_zh.txt").write_text(text, encoding="utf-8")
    t = read_transcript(tmp_path / "ACME_Q1_2026_zh.txt")
    assert t.meta.call_date == "2025-08-20"
    assert t.turns[0].section == "summary" and t.text[t.turns[0].start:].startswith(dated)


def test_bilingual_json_is_read_once_per_language(data_dir: Path) -> None:
    path = data_dir / "ACME_Q2_2026_bilingual.json"
    t = read_transcript(path)
    _check_offsets(t)
    m = t.meta
    assert (m.layout, m.company, m.ticker, m.period, m.call_date, m.language) == (
        "bilingual-json", "Acme", "ACME", "FY2026Q2", "2025-11-19", "en+zh")
    assert "艾克米" in m.aliases
    en = [x for x in t.turns if x.language == "en"]
    zh = [x for x in t.turns if x.language == "zh"]
    assert [(x.speaker, x.section) for x in en] == [(x.speaker, x.section) for x in zh]
    assert [x.speaker.role for x in en if x.section == "qa"] == [
        "operator", "analyst", "executive", "operator", "analyst", "executive", "operator"]
    by_text = {x.text: x for x in t.turns}
    assert "Net revenue retention was 126% this quarter." in by_text
    # The translation without the English repeated after it, and without the translated name.
    assert "本季度净收入留存率为126%。" in by_text and "简·罗伊" not in by_text["每周有超过4,000个账户使用我们的人工智能功能。"].text
    assert by_text["产品收入——13亿美元，同比增长28%。"].section == "summary"
    # Offsets point into the rendered reading text: the JSON's strings, English first, then Chinese.
    assert t.text.index("Net revenue retention was 126%") < t.text.index("本季度净收入留存率为126%")
    assert json.loads(path.read_text())["pairs"][12]["en"] in t.text
    # Each language is chunked on its own: no passage mixes them.
    from rag.chunk import chunk_transcript

    chunks = chunk_transcript(t)
    assert {c.language for c in chunks} == {"en", "zh"}
    assert all(c.text == t.text[c.start:c.end] for c in chunks)
    from rag.ingest.text import cjk_ratio

    assert all((cjk_ratio(c.text) > 0.3) == (c.language == "zh") for c in chunks if c.section != "summary")


def test_interleaved_copy_is_read_once_per_language(data_dir: Path) -> None:
    t = read_transcript(data_dir / "ACME_Q3_2026_interleaved.txt")
    _check_offsets(t)
    m = t.meta
    assert (m.layout, m.company, m.ticker, m.period, m.call_date, m.language) == (
        "interleaved", "Acme", "ACME", "FY2026Q3", "2026-02-25", "en+zh")
    assert [(x.language, x.speaker.name, x.speaker.role, x.section) for x in t.turns] == [
        (lang, name, role, section)
        for lang in ("en", "zh")
        for name, role, section in [("Operator", "operator", "prepared"), ("Jane Roy", "executive", "prepared"),
                                    ("Operator", "operator", "qa"), ("Sam Park", "analyst", "qa"),
                                    ("Tom Lee", "executive", "qa")]
    ]
    texts = [x.text for x in t.turns]
    assert "本季度净收入留存率为127%。" in texts and "Net revenue retention was 127% this quarter." in texts
    # Headings and their translations are structure, not speech; the repeated English is dropped.
    assert not any("准备好的发言" in x or "原文" in x for x in texts)
    assert t.text.count("Net revenue retention was 127% this quarter.") == 1


def test_broken_bilingual_json_names_the_file_and_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "X_Q1_2025_bilingual.json"
    bad.write_text('{"meta": {}, "pairs": [{"en": 1}]}')
    with pytest.raises(TranscriptError, match=r"X_Q1_2025_bilingual.json: pairs\[0\]"):
        read_transcript(bad)
    bad.write_text('{"meta": {}, "pairs": ')
    with pytest.raises(TranscriptError, match="not valid JSON"):
        read_transcript(bad)
    # A sidecar is not a transcript, however it is named.
    (tmp_path / "X_Q1_2025_bilingual.meta.json").write_text('{"ticker": "X"}')
    assert [p.name for p in __import__("rag.ingest", fromlist=["find_transcripts"]).find_transcripts([tmp_path])] == [
        "X_Q1_2025_bilingual.json"]


def test_metadata_sources_in_order_of_trust(tmp_path: Path) -> None:
    body = "Thanks for joining the call. Microsoft revenue grew. Microsoft margins rose. Microsoft cloud.\n"
    # The body alone: the company it names most often; no period anywhere, so a warning names the sidecar.
    (tmp_path / "call notes.txt").write_text(body)
    t = read_transcript(tmp_path / "call notes.txt")
    assert (t.meta.ticker, t.meta.company, t.meta.period) == ("MSFT", "Microsoft", None)
    assert any("no period" in w and "call notes.meta.json" in w for w in t.warnings)
    # The file name beats the body.
    (tmp_path / "AAPL_Q1_2024_call.txt").write_text(body)
    assert (read_transcript(tmp_path / "AAPL_Q1_2024_call.txt").meta.ticker,) == ("AAPL",)
    # The text's own title beats the file name (and says so).
    (tmp_path / "AAPL_Q2_2024.txt").write_text("Microsoft (NASDAQ: MSFT) Q3 2024 Earnings Call\n" + body)
    t = read_transcript(tmp_path / "AAPL_Q2_2024.txt")
    assert (t.meta.ticker, t.meta.period) == ("MSFT", "FY2024Q3")
    assert any("differs from file name" in w for w in t.warnings)
    # The sidecar beats everything.
    (tmp_path / "AAPL_Q2_2024.meta.json").write_text(json.dumps({"ticker": "NFLX", "period": "FY2024Q4"}))
    m = read_transcript(tmp_path / "AAPL_Q2_2024.txt").meta
    assert (m.ticker, m.company, m.period) == ("NFLX", "Netflix", "FY2024Q4")

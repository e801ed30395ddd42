"""Chunking: one chunk per Q&A exchange, operator hand-offs dropped, long turns split with context."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.chunk import approx_tokens, chunk_transcript
from rag.ingest import read_transcript
from rag.types import Chunk, Transcript


def _check(t: Transcript, chunks: list[Chunk]) -> None:
    assert chunks
    for c in chunks:
        assert t.text[c.start : c.end] == c.text and c.text.strip()
        assert c.doc_id == t.meta.doc_id and c.meta == t.meta
        assert c.embed_text.endswith(" ".join(c.text.split()))
    assert len({c.id for c in chunks}) == len(chunks)


def test_one_chunk_per_exchange_operator_dropped(data_dir: Path) -> None:
    t = read_transcript(data_dir / "ACME_FY24Q2_en.txt")
    chunks = chunk_transcript(t)
    _check(t, chunks)
    qa = [c for c in chunks if c.section == "qa"]
    assert [c.question for c in qa] == [
        "How should we think about margins for the rest of the year?",
        "What drove the backlog growth?",
    ]
    first, second = qa
    assert (first.analyst, first.analyst_firm) == ("Sam Lee", "Big Bank")
    assert (second.analyst, second.analyst_firm) == ("Ana Park", "Little Securities")
    assert "near 20%" in first.text and "demand remains strong" in first.text
    # The analyst's closing "Thank you." stays in the exchange; the operator's hand-off never appears.
    assert first.text.endswith("Thank you.")
    assert not any("next question" in c.text or "first question" in c.text for c in qa)
    assert {s.role for s in first.speakers} == {"analyst", "executive"}
    assert "Backlog grew 30%" in second.text and "Acme Corp (ACME) FY2024Q2" in second.embed_text


def test_prepared_remarks_per_speaker_and_boilerplate(data_dir: Path) -> None:
    t = read_transcript(data_dir / "ACME_FY24Q2_en.txt")
    prepared = [c for c in chunk_transcript(t) if c.section == "prepared"]
    assert [tuple(s.name for s in c.speakers) for c in prepared] == [("Operator",), ("Jane Roe",)]
    assert prepared[0].boilerplate and not prepared[1].boilerplate
    assert prepared[1].text.startswith("Revenue was $1.2 billion") and prepared[1].question is None


def test_long_answer_is_split_and_every_piece_carries_the_question(tmp_path: Path) -> None:
    answer_sentences = [f"Point {i}: cloud revenue grew {i}% in region {i}." for i in range(1, 80)]
    zh = "".join(f"第{i}个地区的收入增长了{i}%。" for i in range(1, 60))
    text = (
        "Speaker\tTitle\tContent\n"
        "Ann Analyst\tAnalyst at Bank\tHow did each region do this quarter?\n"
        f"Carl Exec\tChief Executive Officer at Co\t{' '.join(answer_sentences)}\n"
        f"Carl Exec\tChief Executive Officer at Co\t{zh}\n"
    )
    f = tmp_path / "CO_FY24Q1_en.tsv"
    f.write_text(text)
    t = read_transcript(f)
    chunks = chunk_transcript(t, max_tokens=120, overlap_tokens=30)
    _check(t, chunks)
    assert len(chunks) >= 4 and all(c.section == "qa" for c in chunks)
    assert [c.part for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.question == "How did each region do this quarter?"
        assert approx_tokens(c.text) <= 120
    for c in chunks[1:]:
        assert "Question: How did each region do this quarter?" in c.embed_text
    # The question stays with the start of its answer; pieces end at sentence ends (en and zh).
    assert chunks[0].text.startswith("How did each region") and "Point 1:" in chunks[0].text
    for c in chunks[:-1]:
        assert c.text.endswith((".", "。")), c.text[-30:]
    # Consecutive pieces overlap by whole sentences, within the overlap budget.
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end and approx_tokens(t.text[b.start : a.end]) <= 30


def test_a_sentence_cut_at_a_comma_lies_whole_in_the_next_piece(tmp_path: Path) -> None:
    # Sentences longer than a segment are split at commas; a piece that ends inside one must not leave
    # its figure's sentence whole in no passage (no answer could quote it).
    long = [
        f"In region {i}, which we entered in {2000 + i}, revenue grew {i}% to ${i}.{i} million, "
        f"helped by pricing, by volume in the second half, by new customers in the north, "
        f"and by a lower tax rate of {10 + i}% against {20 + i}% a year ago."
        for i in range(1, 30)
    ]
    f = tmp_path / "CO_FY24Q1_en.tsv"
    f.write_text("Speaker\tTitle\tContent\n"
                 f"Carl Exec\tChief Executive Officer at Co\t{' '.join(long)}\n")
    t = read_transcript(f)
    chunks = chunk_transcript(t, max_tokens=90, overlap_tokens=20)
    _check(t, chunks)
    assert len(chunks) >= 4
    # Some piece ends inside a sentence (at a comma), so the rule is exercised, not bypassed.
    assert any(not c.text.endswith(".") for c in chunks[:-1])
    for sentence in long:
        at = t.text.index(sentence)
        assert any(c.start <= at and at + len(sentence) <= c.end for c in chunks), sentence[:40]
    for c in chunks:
        assert approx_tokens(c.text) <= 90


def test_zh_seed_sample_exchanges(data_dir: Path) -> None:
    t = read_transcript(data_dir / "SEED_FY25Q4_zh.txt")
    chunks = chunk_transcript(t)
    _check(t, chunks)
    assert [c.section for c in chunks] == ["summary", "qa", "qa"]
    assert chunks[1].question == "关于资本支出,今年计划投入多少?"
    assert "2000亿美元" in chunks[1].text and "大部分投向AWS" in chunks[1].text
    assert "智通财经\n2026" not in chunks[-1].text


def test_ids_are_stable_and_content_addressed(data_dir: Path) -> None:
    t = read_transcript(data_dir / "ACME_FY24Q2_en.txt")
    a = [c.id for c in chunk_transcript(t)]
    assert a == [c.id for c in chunk_transcript(read_transcript(data_dir / "ACME_FY24Q2_en.txt"))]
    edited = t.text.replace("Backlog grew 30%", "Backlog grew 31%")
    b = [c.id for c in chunk_transcript(read_transcript(data_dir / "ACME_FY24Q2_en.txt", text=edited))]
    changed = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    assert changed == [len(a) - 1]  # only the chunk whose text changed gets a new id


def test_to_dict_round_trip(data_dir: Path) -> None:
    t = read_transcript(data_dir / "WB_FY24Q3_zh.txt")
    for c in chunk_transcript(t):
        d = c.to_dict()
        assert d["ticker"] == "WB" and d["period"] == "FY2024Q3"
        assert Chunk.from_dict(d) == c


def test_overlap_must_be_smaller_than_size(data_dir: Path) -> None:
    t = read_transcript(data_dir / "notes.txt")
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_transcript(t, max_tokens=50, overlap_tokens=50)

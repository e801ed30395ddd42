"""Sentence splitting: a speaker's label line is no sentence, speech transcribed with dashes is."""

from __future__ import annotations

import re

import pytest

from rag.chunk import chunk_transcript
from rag.ingest import read_transcript
from rag.sentences import split
from tests.conftest import SHARED_CORPUS_LARGE, real_transcripts


@pytest.mark.parametrize("line", [
    "Satya Nadella--Chief Executive Officer",
    "Keith Weiss--Morgan Stanley -- Analyst",
    "Jacob Martin Wiborg Rode--Head of Investor Relations",
    "Mark Moskowitz -- Barclays Capital, Inc.",
    "Robert Galvin--Stifel Financial Corp. -- Analyst",
    "Jimmy Sexton--投资者关系主管",
])
def test_a_participant_label_is_no_sentence(line: str) -> None:
    text = f"Revenue was $5 billion, up 10%.\n\n{line}\n\nThanks, everyone."
    assert [s.text for s in split(text)] == ["Revenue was $5 billion, up 10%.", "Thanks, everyone."]


@pytest.mark.parametrize("sentence", [
    # A false start or an aside between dashes, as transcripts write them.
    "So we have -- on buybacks, we have $1 billion authorization.",
    "But on a normal basis usually our share -- market share is about 20% of the North American market.",
    "It's -- look, it's a good question.",
    "How -- I imagine team sports is much better than they were a year ago.",
    # An editor's key-figure bullet.
    "Productivity and business processes revenue-- $34.1 billion, up 16% in constant currency.",
    "Small Class Retention Rate-- 80% for the quarter.",
])
def test_speech_with_dashes_is_a_sentence(sentence: str) -> None:
    text = f"Thank you. {sentence} Next question."
    assert sentence in [s.text for s in split(text)]


@pytest.mark.integration
@pytest.mark.skipif(not SHARED_CORPUS_LARGE.is_dir(), reason="../shared/corpus-large missing")
def test_every_sentence_of_a_real_call_that_states_a_figure_is_a_candidate() -> None:
    # Jabil's answer on its buyback ("I think it's about $830 million of that authorization left") was
    # dropped whole as if it were a "Name -- Title" label, so no question could be answered from it.
    t = read_transcript(SHARED_CORPUS_LARGE / "JBL_q1_2022.txt")
    said = [s.text for c in chunk_transcript(t) for s in split(c.text, c.start)]
    assert any("$830 million of that authorization left" in s for s in said)
    assert any(s.startswith("So we have -- on buybacks, we have $1 billion authorization") for s in said)


@pytest.mark.integration
def test_only_labels_are_dropped_from_real_transcripts() -> None:
    # A line of a real transcript with a dash and a figure keeps its figures in the passage's sentences:
    # the splitter leaves out participant labels (name--title, no figure), never speech or a key figure.
    for path in real_transcripts():
        t = read_transcript(path)
        for c in chunk_transcript(t):
            kept = "".join(s.text for s in split(c.text, c.start))
            for line in (ln.strip() for ln in c.text.splitlines()):
                if "--" in line and re.search(r"\d", line) and len(line) > 8 and line.count('"') < 2:  # JSON aside
                    digits = re.findall(r"\d+(?:\.\d+)?", line)
                    assert all(d in kept for d in digits), f"{path.name}: {line[:120]!r} left out"

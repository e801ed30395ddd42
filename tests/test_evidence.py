"""Every dev case's gold quote can be quoted: it lies inside one sentence (or two adjacent ones) of the
passages its document is chunked into. A sentence the splitter drops or a line the layout reader skips
is evidence no reader, however good, can ever cite (a dash read as a 'Name -- Title' label, a dated
key-figure line taken for the call's date line)."""

from __future__ import annotations

import pytest

from rag.chunk import chunk_transcript
from rag.config import PROJECT_ROOT
from rag.evaluate import _squeeze, find_documents, load_cases
from rag.ingest import read_transcript
from rag.ingest.text import unescape
from rag.sentences import split
from tests.conftest import SHARED_CORPUS_LARGE, SHARED_TRANSCRIPTS


def _quotable(path) -> list[str]:
    t = read_transcript(path)
    out: list[str] = []
    for c in chunk_transcript(t):
        said = [_squeeze(unescape(s.text)) for s in split(c.text, c.start)]
        out += said + [a + b for a, b in zip(said, said[1:])]
    return out


@pytest.mark.integration
@pytest.mark.skipif(not SHARED_TRANSCRIPTS.is_dir(), reason="../shared/transcripts missing")
def test_every_dev_gold_quote_lies_in_a_sentence_of_its_document() -> None:
    cases = [c for c in load_cases([PROJECT_ROOT / "eval" / "cases"])
             if c.split == "dev" and c.gold_doc and c.gold_quote]
    sources = [p for p in (PROJECT_ROOT / "seeds", SHARED_TRANSCRIPTS, SHARED_CORPUS_LARGE) if p.is_dir()]
    docs = find_documents({c.gold_doc for c in cases}, sources)
    quotable = {d: _quotable(p) for d, p in docs.items()}
    missing = [(c.id, c.gold_doc, c.gold_quote) for c in cases if c.gold_doc in quotable
               and not any(_squeeze(unescape(c.gold_quote)) in s for s in quotable[c.gold_doc])]
    assert len(quotable) > 50 and not missing, missing

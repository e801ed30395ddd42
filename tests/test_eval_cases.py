"""The checker for the hand-written eval cases: every gold quote is in its document and every gold
number is stated near it; the case sets meet the required counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.evaluate import load_cases
from rag.ingest import read_transcript
from rag.numbers import extract, parse, same
from tests.conftest import SEEDS, SHARED_CORPUS_LARGE, SHARED_TRANSCRIPTS

CASES = Path(__file__).resolve().parent.parent / "eval" / "cases"
ALL = load_cases([CASES])


def _doc_path(doc_id: str) -> Path:
    for folder in (SEEDS, SHARED_TRANSCRIPTS, SHARED_CORPUS_LARGE):
        for suffix in (".txt", ".json"):
            p = folder / f"{doc_id}{suffix}"
            if p.exists():
                return p
    pytest.skip(f"{doc_id}: its transcript is absent (../shared missing?)")


def test_case_sets_meet_the_required_counts() -> None:
    seed = [c for c in ALL if c.file == "seed.jsonl"]
    shared = [c for c in ALL if c.file == "shared.jsonl"]
    later = [c for c in ALL if c.file == "later.jsonl"]
    assert len(seed) >= 50 and len(shared) >= 60 and len(later) >= 60
    for group in (seed, shared, later):
        assert sum(not c.answerable for c in group) >= 8
        assert {"zh", "en"} <= {c.lang for c in group}
    assert sum("follow-up" in c.tags for c in seed) >= 1
    assert all(c.history for c in ALL if "follow-up" in c.tags)
    if SHARED_TRANSCRIPTS.is_dir():
        files = {p.stem for p in [*SHARED_TRANSCRIPTS.glob("*.txt"), *SHARED_TRANSCRIPTS.glob("*.json")]}
        assert files <= {c.gold_doc for c in shared + later}, "every shared transcript has cases"
        # The later-quarter files (several calls per company): at least 6 cases each, both languages,
        # period-pinned and latest-call questions, follow-ups.
        per_doc = {d: sum(c.gold_doc == d for c in later) for d in {c.gold_doc for c in later if c.gold_doc}}
        assert len(per_doc) == 8 and min(per_doc.values()) >= 6, per_doc
        for tag in ("period-pinned", "latest", "follow-up", "cross-lingual"):
            assert any(tag in c.tags for c in later), tag
        assert any("q&a" in c.tags for c in shared) and any("prepared-remarks" in c.tags for c in shared)


def test_large_corpus_cases_cover_names_quarters_and_abstentions() -> None:
    """At least 40 cases over at least 20 calls of the large corpus, split by company."""
    large = [c for c in ALL if c.file == "large.jsonl"]
    assert len(large) >= 40 and len({c.gold_doc for c in large if c.gold_doc}) >= 20
    assert sum(not c.answerable for c in large) >= 8 and {"zh", "en"} <= {c.lang for c in large}
    by_company: dict[str, set[str]] = {}
    for c in large:
        by_company.setdefault(c.tags[-1], set()).add(c.split)
    assert all(len(s) == 1 for s in by_company.values()), "a company's cases are all on one side"
    assert sum(c.split == "test" for c in large) >= 0.4 * len(large)


def test_case_fields_are_consistent() -> None:
    for c in ALL:
        assert c.lang in ("zh", "en") and c.lang in c.tags, c.id
        if c.answerable:
            assert c.gold_doc and c.gold_quote, c.id
        else:
            assert c.gold_doc is None and not c.gold_numbers and "unanswerable" in c.tags, c.id
        for g in c.gold_numbers:
            parse(g)  # raises naming the string when the notation is not understood


@pytest.mark.parametrize("case", [c for c in ALL if c.answerable], ids=lambda c: c.id)
def test_gold_quote_and_numbers_are_in_the_document(case) -> None:
    text = read_transcript(_doc_path(case.gold_doc)).text
    i = text.find(case.gold_quote)
    assert i >= 0, f"{case.id}: gold_quote not in {case.gold_doc}"
    around = extract(text[max(0, i - 300): i + len(case.gold_quote) + 300])
    for g in case.gold_numbers:
        assert any(same(parse(g), q) for q in around), f"{case.id}: {g} not stated near the gold quote"


def test_cases_are_valid_json_lines() -> None:
    for f in CASES.glob("*.jsonl"):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            assert not line.strip() or isinstance(json.loads(line), dict), f"{f.name}:{n}"


def _split_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("eval_split", CASES.parent / "split.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documented_draw_reproduces_every_committed_split() -> None:
    """`python eval/split.py` rewrites no case's side: the split in the files is the documented one."""
    files = {p.name: [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
             for p in sorted(CASES.glob("*.jsonl"))}
    drawn = _split_module().assign(files)
    moved = [c["id"] for cases in files.values() for c in cases if drawn[c["id"]] != c["split"]]
    assert not moved, f"eval/split.py would move {moved[:10]}"


def test_a_one_sided_file_never_puts_a_document_on_both_sides() -> None:
    split = _split_module()
    files = {"seed.jsonl": [], "later.jsonl": [],
             "shared.jsonl": [{"id": "a", "tags": ["en", "acme"], "gold_doc": "ACME_1"}],
             "outside.jsonl": [{"id": "b", "tags": ["en", "acme"], "gold_doc": "ACME_2"}]}
    assert split.assign({**files, "outside.jsonl": []})["a"] == "test"  # the draw puts acme on test
    with pytest.raises(ValueError, match="already on test"):
        split.assign(files)

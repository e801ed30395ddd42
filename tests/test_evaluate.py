"""The eval runner: metric arithmetic on known results, and the seed suite end to end (real model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main
from rag.evaluate import Case, CaseResult, holds_quote, metrics, numbers_found

ROOT = Path(__file__).resolve().parent.parent


def _case(answerable: bool = True, numbers: tuple[str, ...] = ("40%",), tags: tuple[str, ...] = ("en",)) -> Case:
    return Case(id="x", question="q", lang="en", answerable=answerable, gold_numbers=numbers if answerable else (),
                gold_doc="D" if answerable else None, gold_quote="quote" if answerable else None, tags=tags)


def test_metrics_arithmetic() -> None:
    results = [
        CaseResult(_case(), answer="up 40% [1]", rank=1, correct=True, cited=1, cited_gold=1, numbers=1, supported=1, latency_ms=10),
        CaseResult(_case(), answer="up 30% [1]", rank=3, correct=False, cited=2, cited_gold=1, numbers=1, supported=1, latency_ms=20),
        CaseResult(_case(), answer="-", abstained=True, rank=None, correct=False, latency_ms=30),
        CaseResult(_case(answerable=False), answer="-", abstained=True, latency_ms=40),
        CaseResult(_case(answerable=False), answer="x 5% [1]", cited=1, numbers=2, supported=1, latency_ms=50),
    ]
    m = metrics(results)
    assert m["recall@1"] == round(1 / 3, 4) and m["recall@5"] == round(2 / 3, 4)
    assert m["mrr"] == round((1 + 1 / 3) / 3, 4)
    assert m["answer_accuracy"] == round(1 / 3, 4)
    assert m["citation_precision"] == round((1 + 0.5) / 2, 4) and m["citation_recall"] == round(2 / 3, 4)
    assert m["faithfulness"] == 0.75
    assert m["abstention_precision"] == 0.5 and m["abstention_recall"] == 0.5
    assert m["latency_p50_ms"] == 30.0


def test_numbers_found_normalises_notation() -> None:
    assert numbers_found(("2440亿美元", "40%"), "Backlog was $244 billion, up 40% [1]")
    assert not numbers_found(("40 basis points",), "margin up 40% [1]")


def test_holds_quote_by_offsets_or_repeated_statement() -> None:
    doc = "A: 积压订单达2440亿美元,同比增长40%。 ... Q&A: 我们的积压订单达 2440 亿美元,同比增长 40%。"
    quote = "我们的积压订单达 2440 亿美元,同比增长 40%"
    span = (doc.find(quote), doc.find(quote) + len(quote))
    assert holds_quote(span[0] - 2, span[1], span, doc, quote)
    assert holds_quote(0, 26, span, doc, quote)  # the same statement earlier, without "我们的"
    assert not holds_quote(27, 40, span, doc, quote)


@pytest.mark.model
@pytest.mark.integration
def test_seed_suite_meets_thresholds_with_the_real_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "--cases", str(ROOT / "eval" / "cases" / "seed.jsonl"), "--report", str(tmp_path),
                 "--index-dir", str(tmp_path / "index"), "--thresholds", str(ROOT / "eval" / "floors.toml")])
    out = capsys.readouterr()
    report = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert code == 0, out.err
    assert report["overall"]["answer_accuracy"] > report["baseline"]["answer_accuracy"]
    assert report["overall"]["faithfulness"] == 1.0
    assert (tmp_path / next(tmp_path.glob("*.md")).name).read_text().startswith("# Eval report")


@pytest.mark.model
@pytest.mark.integration
def test_shared_suite_meets_thresholds_with_the_real_model(shared_transcripts: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The cases over the eighteen shared calls (six layouts, both languages) hold the same floors."""
    code = main(["eval", "--cases", str(ROOT / "eval" / "cases" / "shared.jsonl"), "--report", str(tmp_path),
                 "--sources", str(shared_transcripts), "--no-baseline",
                 "--thresholds", str(ROOT / "eval" / "floors.toml")])
    out = capsys.readouterr()
    report = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert code == 0, out.err
    assert report["overall"]["cases"] == len((ROOT / "eval" / "cases" / "shared.jsonl").read_text().splitlines())


@pytest.mark.model
@pytest.mark.integration
def test_large_corpus_suite_meets_its_floors_with_the_real_model(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The cases over the large corpus (structured JSON calls of sixteen companies, every call of each)."""
    if not (ROOT.parent / "shared" / "corpus-large").is_dir():
        pytest.skip("../shared/corpus-large missing")
    code = main(["eval", "--cases", str(ROOT / "eval" / "cases" / "large.jsonl"), "--report", str(tmp_path),
                 "--no-baseline", "--thresholds", str(ROOT / "eval" / "floors-large.toml")])
    out = capsys.readouterr()
    report = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert code == 0, out.err
    assert report["overall"]["cases"] == len((ROOT / "eval" / "cases" / "large.jsonl").read_text().splitlines())

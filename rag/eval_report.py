"""Eval reports: the terminal table, `eval/reports/<time>.json` / `.md`, a failures file, and
thresholds from `eval/thresholds.toml`."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from rag.evaluate import CaseResult

COLUMNS = [
    "recall@1", "recall@5", "recall@8", "mrr", "answer_accuracy", "citation_precision", "citation_recall",
    "faithfulness", "abstention_precision", "abstention_recall", "answerable_abstained", "latency_p50_ms",
    "latency_p95_ms",
]


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}" if isinstance(v, float) and v > 1.5 else (f"{v:.3f}" if isinstance(v, float) else str(v))


def table(rows: dict[str, dict[str, Any]]) -> str:
    """A markdown table: one row per system (ours, baseline) or tag, one column per metric."""
    head = "| | cases | " + " | ".join(COLUMNS) + " |"
    sep = "|---|---:|" + "---:|" * len(COLUMNS)
    lines = [head, sep]
    for name, m in rows.items():
        lines.append(f"| {name} | {m['cases']} | " + " | ".join(_fmt(m.get(c)) for c in COLUMNS) + " |")
    return "\n".join(lines)


def check_thresholds(overall: dict[str, Any], baseline: dict[str, Any], path: Path,
                     dev: dict[str, Any] | None = None) -> list[str]:
    """Messages for every metric below its threshold (or not above the baseline by the margin, or
    further from dev than the allowed gap)."""
    if not path.exists():
        return []
    conf = tomllib.loads(path.read_text(encoding="utf-8"))
    fails = []
    for metric, gap in conf.get("max_gap_to_dev", {}).items():
        v, d = overall.get(metric), (dev or {}).get(metric)
        if v is not None and d is not None and dev is not overall and abs(v - d) > gap:
            fails.append(f"{metric} = {_fmt(v)} is more than {gap} from dev's {_fmt(d)}")
    for metric, minimum in conf.get("min", {}).items():
        v = overall.get(metric)
        if v is None or v < minimum:
            fails.append(f"{metric} = {_fmt(v)} is below the threshold {minimum}")
    for metric, maximum in conf.get("max", {}).items():
        v = overall.get(metric)
        if v is not None and v > maximum:
            fails.append(f"{metric} = {_fmt(v)} is above the limit {maximum}")
    for metric, margin in conf.get("above_baseline", {}).items():
        ours, base = overall.get(metric), baseline.get(metric)
        if ours is not None and base is not None and ours < base + margin:
            fails.append(f"{metric} = {_fmt(ours)} is not {margin} above the baseline's {_fmt(base)}")
    return fails


def failures(results: list[CaseResult]) -> list[dict[str, Any]]:
    """Cases that missed something, with what was expected and what came back."""
    out = []
    for r in results:
        c = r.case
        problems = []
        if c.answerable and r.abstained:
            problems.append("abstained on an answerable question")
        if not c.answerable and not r.abstained:
            problems.append("answered an unanswerable question")
        if c.gold_numbers and r.correct is False:
            problems.append("gold number missing from the answer")
        if c.gold_quote and (r.rank is None or r.rank > 5):
            problems.append("gold passage not retrieved in the top 5")
        if c.answerable and not r.abstained and c.gold_quote and not r.cited_gold:
            problems.append("no citation holds the gold quote")
        if r.numbers != r.supported:
            problems.append("unsupported number in the answer")
        if problems:
            out.append({
                "id": c.id, "file": c.file, "problems": problems, "question": c.question,
                "history": list(c.history), "expected": {"numbers": list(c.gold_numbers), "doc": c.gold_doc,
                                                         "quote": c.gold_quote, "answerable": c.answerable},
                "answer": r.answer, "abstained": r.abstained, "gold_rank": r.rank, "citations": r.citations,
            })
    return out


def write(report_dir: Path, stamp: str, payload: dict[str, Any], fails: list[dict[str, Any]]) -> list[Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    j = report_dir / f"{stamp}.json"
    md = report_dir / f"{stamp}.md"
    fl = report_dir / f"{stamp}-failures.jsonl"
    j.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    lines = [f"# Eval report {stamp}", "", f"backend: {payload['backend']}, cases: {', '.join(payload['case_files'])}",
             "", f"## Dev and test (targets judged on {payload.get('gated_on', 'test')})", "",
             table({**payload.get("splits", {"ours": payload["overall"]}), "baseline": payload["baseline"]}),
             "", "## Per tag", "", table(payload["per_tag"]), ""]
    if payload.get("threshold_failures"):
        lines += ["## Below threshold", ""] + [f"- {f}" for f in payload["threshold_failures"]] + [""]
    lines += [f"{len(fails)} case(s) with a problem: see `{fl.name}`."]
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fl.write_text("".join(json.dumps(f, ensure_ascii=False) + "\n" for f in fails), encoding="utf-8")
    return [j, md, fl]

"""Reader ablation: refit the reader on the dev split without each feature group, and without the
features each remaining hand-written cue (rag/cues.py) feeds, in turn; report dev (out of fold) and
test case-level results. Prints a table; test is only reported, never used to choose weights.

    .venv/bin/python bench/reader_ablation.py [--cases FILE ...] [--threshold T]

`--cases` and `--threshold` as given to `rag train-reader` for the shipped weights (README, "The
reader"), so the "(none)" row is the shipped reader.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer import READ_POOL  # noqa: E402
from rag.app import make_embedder  # noqa: E402
from rag.config import PROJECT_ROOT, get_settings  # noqa: E402
from rag.evaluate import load_cases, prepare  # noqa: E402
from rag.reader.features import FEATURES, GROUPS  # noqa: E402
from rag.reader.train import Dataset, apply, case_outcomes, collect, fit  # noqa: E402


def datasets(paths: list[Path]) -> dict[str, Dataset]:
    settings = get_settings()
    cases = load_cases(paths)
    sources = [PROJECT_ROOT / "seeds", PROJECT_ROOT.parent / "shared" / "transcripts"]
    embedder = make_embedder(settings)
    out = {"dev": Dataset(), "test": Dataset()}
    for file in sorted({c.file for c in cases}):
        group = [c for c in cases if c.file == file]
        assistant, _, _ = prepare(file, group, sources, settings, embedder, with_reader=False)
        for split, ds in out.items():
            # as many passages as `ask` reads, as `rag train-reader` collects them
            collect(assistant, [c for c in group if c.split == split], max(settings.top_k, READ_POOL), ds)
    return out


# The features each hand-written cue of rag/cues.py feeds.
CUES: dict[str, tuple[str, ...]] = {
    "cue: guidance (ASKS_GUIDANCE, leads_with_guidance)": ("guidance_fit", "guidance_misfit"),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", type=Path, default=[PROJECT_ROOT / "eval" / "cases"])
    ap.add_argument("--threshold", type=float, default=None, help="abstain below this (default: the out-of-fold choice)")
    args = ap.parse_args()
    ds = datasets(args.cases)
    rows = []
    drops = {"(none)": (), **{f"group: {g}": fs for g, fs in GROUPS.items()}, **CUES}
    for dropped, gone in drops.items():
        features = tuple(f for f in FEATURES if f not in gone)
        weights, report = fit(ds["dev"], features)
        if args.threshold is not None:
            weights = replace(weights, threshold=args.threshold)
        probs, answers = apply(weights, ds["test"])
        test = case_outcomes(ds["test"], probs, weights.threshold, answers, second=weights.shares())
        dev = min(report["curve"], key=lambda r: abs(r["threshold"] - weights.threshold))
        rows.append((dropped, len(features), dev, test))
    print(f"\ndev cases {len(ds['dev'].real())}, test cases {len(ds['test'].real())}; 'right' = the chosen "
          "sentence holds the gold quote or the case abstains when it should; 'numbers' = it states every "
          "gold number\n")
    print("| dropped | features | dev right (oof) | dev numbers (oof) | test right | test numbers | "
          "test abstention P | test abstention R |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, dev, test in rows:
        print(f"| {name} | {n} | {dev['right']:.3f} | {dev['numbers']:.3f} | {test['right']:.3f} | "
              f"{test['numbers']:.3f} | {test['abstention_precision']:.3f} | {test['abstention_recall']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Whether the retrieved passages answer the question at all: a second, case-level model over how
the best candidate and the field of candidates look (its probability, its lead over the next, whether
it names the measure and holds a figure of the kind the wording asks for, how close the passages
are). Fitted on dev cases, including ones whose answering passages were held out of retrieval, so it
learns what "the call does not say" looks like beyond the few unanswerable cases written by hand."""

from __future__ import annotations

import numpy as np

from rag.reader.features import FEATURES, Candidate, Question, asked_tokens
from rag.reader.parts import part_missing, people_and_firms
from rag.types import Hit

# Candidate features read off the best candidate, and ones whose best value over all candidates counts.
_TOP = ("focus", "focus_context", "metric_coverage", "coverage", "coverage_context", "has_figure", "dense",
        "period_same", "focus_figure", "language_match")
_BEST = ("focus", "coverage", "dense", "metric_coverage")
CASE_FEATURES: tuple[str, ...] = (
    "top_logit", "margin", *(f"top_{f}" for f in _TOP), *(f"best_{f}" for f in _BEST),
    "first_passage_dense", "best_passage_dense", "names_measure", "top_pinned_missing",
    "part_missing",
)
_COL = {f: i for i, f in enumerate(FEATURES)}


def case_features(q: Question, hits: list[Hit], cands: list[Candidate], x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """One row of CASE_FEATURES for a question, its passages, their candidates (non-empty) with
    features `x` and probabilities `p`."""
    order = np.argsort(-p)
    best = int(order[0])
    p1 = float(np.clip(p[best], 1e-6, 1 - 1e-6))
    p2 = float(p[order[1]]) if len(p) > 1 else 0.0
    dense = [h.dense for h in hits if h.dense is not None]
    top = cands[best]
    context = top.tokens | (top.before.tokens if top.before else frozenset()) | asked_tokens(top.hit.chunk.question or "")
    row = [np.log(p1 / (1 - p1)), p1 - p2, *(x[best, _COL[f]] for f in _TOP), *(x[:, _COL[f]].max() for f in _BEST),
           (hits[0].dense or 0.0) if hits else 0.0, max(dense, default=0.0), float(q.metrics > 0),
           # "How many employees?" met by "headcount was 1% lower": the wording pins a kind of figure
           # the best sentence does not state.
           float(bool(q.pinned) and not q.pinned & top.kinds),
           float(bool(q.parts) and part_missing(q.parts, context, people_and_firms(hits)))]
    return np.array(row, dtype=np.float64)

"""Fitting the reader (`rag train-reader`): candidates and features of the dev cases' retrieved
passages, labelled by the gold quote; a logistic regression chosen by cross-validation grouped by
company; the abstention threshold chosen on the out-of-fold probabilities. Test cases are never read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.evaluate import Case, company_of, numbers_found
from rag.reader import Weights
from rag.reader.features import FEATURES, Candidate, candidates, matrix, question_of
from rag.text_lang import language

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


@dataclass
class Dataset:
    x: list[np.ndarray] = field(default_factory=list)  # per case: (candidates, features)
    y: list[np.ndarray] = field(default_factory=list)  # per case: 1 where the candidate answers
    cases: list[Case] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # the company: folds never split one
    texts: list[list[str]] = field(default_factory=list)  # per case: the candidates' texts (for reports)


def company(case: Case) -> str:
    return company_of(case.tags) or case.file


def label(case: Case, cand: Candidate) -> int:
    """A candidate answers when it holds the gold quote (or lies inside it), or, in the gold document's
    other language, states every gold number (a bilingual copy says it twice)."""
    if not case.answerable or cand.hit.chunk.doc_id != case.gold_doc or not case.gold_quote:
        return 0
    text = cand.sentence.text
    if case.gold_quote in text or (len(text) >= 15 and text in case.gold_quote):
        return 1
    other_language = cand.hit.chunk.language != language(case.gold_quote)
    return int(other_language and bool(case.gold_numbers) and numbers_found(case.gold_numbers, text))


def collect(assistant, cases: list[Case], top_k: int, ds: Dataset | None = None) -> Dataset:
    """Features and labels of every case's candidates, retrieved the way `Assistant.ask` retrieves."""
    from rag.followup import rewrite

    ds = ds or Dataset()
    r = assistant.retriever
    for case in cases:
        standalone = rewrite(case.question, list(case.history), r.catalog)
        scope = r.scope(standalone)
        if scope.out_of_index:
            continue  # answered "no such call" before any sentence is read
        vector = assistant.embedder.embed_queries([standalone])[0]
        hits = r.retrieve(standalone, top_k, None, scope, query_vector=vector)
        q = question_of(standalone, vector, assistant.index.idf, {s.lower() for s in assistant._skip_terms(scope)})
        cands = candidates(hits)
        if not cands:
            continue
        ds.x.append(matrix(q, cands, lambda h: assistant.index.sentences_of(h.row)))
        ds.y.append(np.array([label(case, c) for c in cands], dtype=np.int8))
        ds.cases.append(case)
        ds.groups.append(company(case))
        ds.texts.append([c.sentence.text for c in cands])
    return ds


def case_outcomes(ds: Dataset, probs: list[np.ndarray], t: float) -> dict[str, float]:
    """Case-level results at threshold t: answered right (the top candidate holds the gold quote; or,
    with texts, states every gold number), abstention precision and recall."""
    right, numbers, abstained, abstained_unans, unans = 0, 0, 0, 0, 0
    for k, (case, y, p) in enumerate(zip(ds.cases, ds.y, probs)):
        best = int(np.argmax(p))
        answers = p[best] >= t
        if case.answerable:
            right += int(answers and y[best] == 1)
            if ds.texts and case.gold_numbers:
                numbers += int(answers and numbers_found(case.gold_numbers, ds.texts[k][best]))
            else:
                numbers += int(answers and y[best] == 1)
        else:
            unans += 1
            right += int(not answers)
            numbers += int(not answers)
        abstained += int(not answers)
        abstained_unans += int(not answers and not case.answerable)
    return {"threshold": t, "right": right / max(1, len(ds.cases)), "numbers": numbers / max(1, len(ds.cases)),
            "abstention_precision": abstained_unans / abstained if abstained else 1.0,
            "abstention_recall": abstained_unans / unans if unans else 1.0,
            "abstained": abstained / max(1, len(ds.cases))}


def _oof(ds: Dataset, cols: list[int], c: float, folds: int) -> list[np.ndarray]:
    """Out-of-fold candidate probabilities, folds grouped by company."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    idx = np.arange(len(ds.cases))
    out: list[np.ndarray] = [np.zeros(0)] * len(ds.cases)
    k = min(folds, len(set(ds.groups)))
    for train, held in GroupKFold(n_splits=k).split(idx, groups=ds.groups):
        x = np.concatenate([ds.x[i][:, cols] for i in train])
        y = np.concatenate([ds.y[i] for i in train])
        if len(set(y.tolist())) < 2:
            for i in held:
                out[i] = np.full(len(ds.y[i]), y.mean() if len(y) else 0.0)
            continue
        scaler = StandardScaler().fit(x)
        model = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(x), y)
        for i in held:
            out[i] = model.predict_proba(scaler.transform(ds.x[i][:, cols]))[:, 1]
    return out


def fit(ds: Dataset, features: tuple[str, ...] = FEATURES, folds: int = 5,
        c_grid: tuple[float, ...] = C_GRID) -> tuple[Weights, dict[str, Any]]:
    """The reader fitted on `ds`: C and the abstention threshold chosen on grouped out-of-fold
    predictions (case-level: answered with a right sentence, or abstained when nothing answers)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if len(set(np.concatenate(ds.y).tolist())) < 2:
        raise ValueError("the dev cases give no positive (or no negative) candidate: nothing to fit")
    cols = [FEATURES.index(f) for f in features]
    thresholds = [round(t, 3) for t in np.arange(0.02, 0.96, 0.01)]
    best: tuple[float, float, float, list[dict[str, float]]] | None = None
    for c in c_grid:
        probs = _oof(ds, cols, c, folds)
        curve = [case_outcomes(ds, probs, t) for t in thresholds]
        top = max(curve, key=lambda r: (r["right"], r["abstention_precision"]))
        if best is None or top["right"] > best[0]:
            best = (top["right"], c, top["threshold"], curve)
    assert best is not None
    right, c, threshold, curve = best
    x = np.concatenate([d[:, cols] for d in ds.x])
    y = np.concatenate(ds.y)
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(x), y)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    info = {"C": c, "cases": len(ds.cases), "candidates": int(len(y)), "positives": int(y.sum()),
            "companies": len(set(ds.groups)), "folds": min(folds, len(set(ds.groups))),
            "dev_out_of_fold_right": round(right, 4)}
    weights = Weights(tuple(features), scaler.mean_, scale, model.coef_[0], float(model.intercept_[0]),
                      threshold, info)
    return weights, {"curve": curve, "C": c, "threshold": threshold, "right": right}

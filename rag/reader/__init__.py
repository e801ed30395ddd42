"""The extractive reader: scores candidate sentences of the retrieved passages with a fitted logistic
model over general features (`rag.reader.features`) and answers with the most probable one, unless a
second, case-level model (`rag.reader.answerable`) puts the chance that the passages answer at all
below a threshold chosen on the dev split (`rag train-reader`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunk import BOILERPLATE
from rag.cues import not_the_figure_asked
from rag.ingest.text import squash
from rag.reader.adapter import Adapter
from rag.reader.answerable import CASE_FEATURES, case_features
from rag.reader.features import (
    FEATURES, Candidate, Question, asked_tokens, asks_a_move, asks_two_things, candidates, level_kinds, matrix, pinned_kinds,
    question_of,
)
from rag.sentences import Sentence
from rag.types import Hit

WEIGHTS = Path(__file__).with_name("weights.json")
# What a passage flagged as boilerplate says (`rag.chunk`), and the rest of a safe-harbor statement,
# sentence by sentence ("Actual results could materially differ ... the Risk Factors section of our Form 10-K").
_NOT_AN_ANSWER = re.compile(BOILERPLATE.pattern + r"|actual results (?:may|could|might|will)\s+(?:\w+\s+)?differ|"
                            r"\brisk factors\b|\bform 10-?[kq]s?\b|securities and exchange commission", re.I)


@dataclass(frozen=True)
class Pick:
    hit: Hit
    sentence: Sentence
    score: float  # the model's probability that this sentence answers the question
    kinds: frozenset[str]


@dataclass(frozen=True)
class Linear:
    """A fitted logistic model: standardise, weigh, squash."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": self.mean.round(6).tolist(),
                "scale": self.scale.round(6).tolist(), "coef": self.coef.round(6).tolist(),
                "intercept": round(float(self.intercept), 6)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Linear":
        out = cls(tuple(d["features"]), np.array(d["mean"], dtype=np.float64), np.array(d["scale"], dtype=np.float64),
                  np.array(d["coef"], dtype=np.float64), float(d["intercept"]))
        if not len(out.features) == len(out.mean) == len(out.scale) == len(out.coef):
            raise ValueError("features, mean, scale and coef differ in length")
        return out


@dataclass(frozen=True)
class Weights(Linear):
    """The candidate model (the `Linear` it extends) and how answers are made from it."""

    threshold: float  # abstain below this probability (of `answerable` when fitted, else of the best candidate)
    info: dict[str, Any]
    answerable: Linear | None = None  # the case-level model over CASE_FEATURES
    # The answer adds the next distinct candidate when its probability is at least this share of the
    # best one's (a question asking two figures is often answered by two sentences); > 1: never.
    second: float = 2.0
    adapter: Adapter | None = None  # the question vector's adapter (`rag.reader.adapter`); None: none fitted
    # The same share for a question asking two things at once (`asks_two_things`); None: `second`.
    second_two: float | None = None

    def shares(self) -> tuple[float, float]:
        """The second-sentence shares for a question asking one thing and for one asking two."""
        return self.second, self.second if self.second_two is None else self.second_two

    def second_for(self, question: str) -> float:
        return share_for(self.shares(), question)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "threshold": round(float(self.threshold), 4),
                "second": round(float(self.second), 4),
                **({"second_two": round(float(self.second_two), 4)} if self.second_two is not None else {}),
                "answerable": self.answerable.to_dict() if self.answerable else None,
                "info": self.info, "adapter": self.adapter.to_dict() if self.adapter else None}


def share_for(shares: tuple[float, float], question: str) -> float:
    """The second-sentence share for `question` of (for one thing asked, for two: `asks_two_things`)."""
    return shares[1] if asks_two_things(question) else shares[0]


def load_weights(path: Path | None = None) -> Weights:
    """The fitted reader (default: the shipped WEIGHTS); errors name the file and what is wrong with it."""
    path = path or WEIGHTS
    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        c = Linear.from_dict(d)
        w = Weights(c.features, c.mean, c.scale, c.coef, c.intercept, float(d["threshold"]), d.get("info", {}),
                    Linear.from_dict(d["answerable"]) if d.get("answerable") else None, float(d.get("second", 2.0)),
                    Adapter.from_dict(d["adapter"]) if d.get("adapter") else None,
                    float(d["second_two"]) if d.get("second_two") is not None else None)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: cannot read the reader's weights ({e}); run `rag train-reader`") from e
    if w.answerable is not None and set(w.answerable.features) - set(CASE_FEATURES):
        raise ValueError(f"{path}: the answerability model names unknown features; run `rag train-reader`")
    return w


class Reader:
    """Question + retrieved passages -> the sentence that answers, or none."""

    name = "extractive"

    def __init__(self, weights: Weights, idf, sentence_vectors) -> None:
        missing = set(weights.features) - set(FEATURES)
        if missing:
            raise ValueError(f"reader weights name unknown features {sorted(missing)}; run `rag train-reader`")
        self.weights = weights
        self.idf = idf
        self.sentence_vectors = sentence_vectors  # hit -> vectors of its passage's sentences, or None
        self._cols = [FEATURES.index(f) for f in weights.features]

    def score(self, question: str, hits: list[Hit], vector: np.ndarray | None, skip: set[str] = frozenset(),
              ahead: bool = False, idf=None, period: str | None = None) -> tuple[list[Candidate], np.ndarray, float]:
        """Every candidate with its probability of answering the question, and the probability that
        any does (the best candidate's own when no answerability model is fitted). `ahead`: the
        question names a period after the calls it is scoped to (only guidance can answer); `idf`:
        term weights for this question (its scope's, `Retriever.idf_for`), else the index's; `period`:
        the one call's period ("FY2025Q3") a question naming no quarter is scoped to (its company's
        newest), read as the quarter it asks about."""
        q = question_of(question, vector, idf or self.idf, {s.lower() for s in skip}, ahead, period)
        if self.weights.adapter is not None and vector is not None and self.weights.adapter.fits(vector):
            # (An embedding model other than the one it was fitted for reads the plain similarity.)
            q = replace(q, adapted=self.weights.adapter.apply(vector))
        cands = candidates(hits)
        if not _NOT_AN_ANSWER.search(question):
            # Safe-harbor and call-logistics sentences answer no question but one about them: "What
            # risks did X mention?" is not answered by "subject to risks and uncertainties".
            cands = [c for c in cands if not _NOT_AN_ANSWER.search(c.sentence.text)]
        if not cands:
            return cands, np.zeros(0), 0.0
        x = matrix(q, cands, self.sentence_vectors)
        p = self.weights.probabilities(x[:, self._cols])
        if q.metrics and not mentions_a_measure(q, cands):
            # The question names measures (glossary terms) that no passage names in any of their
            # phrasings or languages: the calls do not speak of them, so any figure they hold is another.
            return cands, p, 0.0
        a = self.weights.answerable
        if a is None:
            return cands, p, float(p.max())
        row = case_features(q, hits, cands, x, p)
        cols = [CASE_FEATURES.index(f) for f in a.features]
        return cands, p, float(a.probabilities(row[cols][None, :])[0])

    def pick(self, question: str, hits: list[Hit], vector: np.ndarray | None, skip: set[str] = frozenset(),
             ahead: bool = False, idf=None, period: str | None = None) -> list[Pick]:
        """The most probable candidate (and the next distinct one when nearly as probable), or []
        when the passages likely do not answer."""
        return self.read(question, hits, vector, skip, ahead, idf, period)[0]

    def read(self, question: str, hits: list[Hit], vector: np.ndarray | None, skip: set[str] = frozenset(),
             ahead: bool = False, idf=None, period: str | None = None) -> tuple[list[Pick], list[Hit]]:
        """`pick`'s answer, and the passages reordered by their most probable sentence (the reader as
        a reranker: the passage that states what is asked first, whatever its retrieval rank)."""
        cands, p, answers = self.score(question, hits, vector, skip, ahead, idf, period)
        ranked = by_best_sentence(hits, cands, p)
        # 0: nothing answers whatever the threshold (`score`: no passage names the measure asked).
        if not len(cands) or answers <= 0.0 or answers < self.weights.threshold:
            return [], ranked
        picks = distinct(cands, p, 2)
        if not_the_figure_asked(question, picks[0].sentence.text):
            # The likeliest sentence gives the figure on the other accounting basis, or for a longer span
            # than the quarter asked for on its own: the one asked for is not stated there, and a weaker
            # sentence would only guess (rules, not features: fitted as one, the basis did not help on
            # dev; eval/README.md, fourteenth session).
            return [], ranked
        picks = picks[:1] + [q for q in picks[1:] if q.score >= self.weights.second_for(question) * picks[0].score
                             and not not_the_figure_asked(question, q.sentence.text)]
        pinned = pinned_kinds(question)
        held = picks[0].kinds if asks_a_move(question) else level_kinds(picks[0].sentence.text)
        if pinned and not pinned & held:
            # The wording fixes the kind of figure ("in dollars", "what percentage", "how many") and
            # the answer's sentence states none of it: "Azure revenue in dollars?" met by a growth rate.
            # A second sentence does not rescue it ("GAAP net loss in dollars?" met by a bullet naming
            # the loss, then another sentence's amount): on dev, accuracy level at 0.900, abstention
            # 0.862 / 0.491 -> 0.864 / 0.500 (eval/README.md, thirtieth session).
            return [], ranked
        return picks, ranked

    def top(self, question: str, hits: list[Hit], vector: np.ndarray | None, skip: set[str] = frozenset(),
            ahead: bool = False, n: int = 6, idf=None, period: str | None = None) -> list[Pick]:
        """The `n` most probable candidates whose spans do not overlap, best first (an LLM's shortlist)."""
        cands, p, _ = self.score(question, hits, vector, skip, ahead, idf, period)
        return distinct(cands, p, n)


def mentions_a_measure(q: Question, cands: list[Candidate]) -> bool:
    """Some passage (a sentence, or the analyst's question it answers) names one of the measures the
    question names (`q.terms[:q.metrics]`)."""
    # Per passage: "monthly active users" is not named by "monthly", "active" and "users" in three.
    said: dict[int, set[str]] = {}
    for c in cands:
        if c.hit.row not in said:
            said[c.hit.row] = set(asked_tokens(c.hit.chunk.question or ""))
        if not c.pair:
            said[c.hit.row] |= c.tokens
    return any(any(a <= words for a in alts) for alts, _ in q.terms[: q.metrics] for words in said.values())


def by_best_sentence(hits: list[Hit], cands: list[Candidate], p: np.ndarray) -> list[Hit]:
    """`hits` ordered by the probability of their best candidate, ties (and passages without one) in
    retrieval order."""
    best: dict[int, float] = {}
    for c, pr in zip(cands, p):
        best[c.hit.row] = max(best.get(c.hit.row, 0.0), float(pr))
    return sorted(hits, key=lambda h: -best.get(h.row, 0.0))


def distinct(cands: list[Candidate], p: np.ndarray, n: int) -> list[Pick]:
    """The `n` most probable candidates, skipping any that overlaps one already taken or repeats its
    words from another document (the same call from two sources: cite either, never both)."""
    out: list[Pick] = []
    said: list[str] = []
    for i in np.argsort(-p, kind="stable"):
        c = cands[int(i)]
        # Chunks overlap, so the same sentence can come from two passages: compare document spans.
        if any(overlapping(o, c) for o in out):
            continue
        words = _words(c.sentence.text)
        if any(words == w or (min(len(words), len(w)) >= 20 and (words in w or w in words)) for w in said):
            continue
        said.append(words)
        out.append(Pick(c.hit, c.sentence, float(p[int(i)]), c.kinds))
        if len(out) == n:
            break
    return out


def overlapping(a: Pick | Candidate, b: Pick | Candidate) -> bool:
    """The two quote overlapping spans of one document."""
    return (a.hit.chunk.doc_id == b.hit.chunk.doc_id and a.sentence.start < b.sentence.end
            and b.sentence.start < a.sentence.end)


def _words(text: str) -> str:
    """A sentence's letters and digits, lower-cased: the same sentence however a source spaced it."""
    return re.sub(r"\W+", "", squash(text).lower())

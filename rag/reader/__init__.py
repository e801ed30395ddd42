"""The extractive reader: scores candidate sentences of the retrieved passages with a fitted logistic
model over general features (`rag.reader.features`), answers with the most probable one, and
abstains when its probability is below a threshold chosen on the dev split (`rag train-reader`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.reader.features import FEATURES, Candidate, candidates, matrix, question_of
from rag.sentences import Sentence
from rag.types import Hit

WEIGHTS = Path(__file__).with_name("weights.json")


@dataclass(frozen=True)
class Pick:
    hit: Hit
    sentence: Sentence
    score: float  # the model's probability that this sentence answers the question
    kinds: frozenset[str]


@dataclass(frozen=True)
class Weights:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float  # abstain below this probability
    info: dict[str, Any]

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": self.mean.round(6).tolist(),
                "scale": self.scale.round(6).tolist(), "coef": self.coef.round(6).tolist(),
                "intercept": round(float(self.intercept), 6), "threshold": round(float(self.threshold), 4),
                "info": self.info}


def load_weights(path: Path = WEIGHTS) -> Weights:
    """The fitted reader; errors name the file and what is wrong with it."""
    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        w = Weights(tuple(d["features"]), np.array(d["mean"], dtype=np.float64), np.array(d["scale"], dtype=np.float64),
                    np.array(d["coef"], dtype=np.float64), float(d["intercept"]), float(d["threshold"]), d.get("info", {}))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: cannot read the reader's weights ({e}); run `rag train-reader`") from e
    if not len(w.features) == len(w.mean) == len(w.scale) == len(w.coef):
        raise ValueError(f"{path}: features, mean, scale and coef differ in length")
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

    def score(self, question: str, hits: list[Hit], vector: np.ndarray | None,
              skip: set[str] = frozenset()) -> tuple[list[Candidate], np.ndarray]:
        """Every candidate with its probability of answering the question."""
        q = question_of(question, vector, self.idf, {s.lower() for s in skip})
        cands = candidates(hits)
        x = matrix(q, cands, self.sentence_vectors)
        return cands, self.weights.probabilities(x[:, self._cols]) if len(cands) else np.zeros(0)

    def pick(self, question: str, hits: list[Hit], vector: np.ndarray | None,
             skip: set[str] = frozenset()) -> list[Pick]:
        """The most probable candidate, or [] when it is below the abstention threshold."""
        cands, p = self.score(question, hits, vector, skip)
        if not len(cands):
            return []
        best = int(np.argmax(p))
        if p[best] < self.weights.threshold:
            return []
        c = cands[best]
        return [Pick(c.hit, c.sentence, float(p[best]), c.kinds)]

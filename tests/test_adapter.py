"""The question vector's adapter: fitted listwise, it moves questions toward the sentences that
answer them; it round-trips through the weights file and feeds the reader's adapted similarity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.reader import Weights, load_weights
from rag.reader.adapter import Adapter, fit_adapter, unit_rows
from rag.reader.features import FEATURES


def _twist(rng: np.random.Generator, dim: int = 24) -> np.ndarray:
    """How answers differ from their questions (a language, a house style the plain similarity does
    not see): they lean along two directions, by how much the question points along two others."""
    basis = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    return 3.0 * basis[:, :2] @ basis[:, 2:4].T


def _task(rng: np.random.Generator, n: int, twist: np.ndarray, cands: int = 12):
    """Questions whose answering sentence is the question seen through `twist`, among other sentences."""
    dim = len(twist)
    qs, cs, ys = [], [], []
    for _ in range(n):
        q = unit_rows(rng.normal(size=(1, dim)))[0]
        answer = q + twist @ q + rng.normal(size=dim) * 0.05
        # Decoys nearer the question as it stands than the answer is.
        others = q + rng.normal(size=(cands - 1, dim)) * 0.25
        c = unit_rows(np.vstack([answer, others]))
        y = np.zeros(cands, dtype=np.int8)
        y[0] = 1
        order = rng.permutation(cands)
        qs.append(q.astype(np.float32))
        cs.append(c[order])
        ys.append(y[order])
    return qs, cs, ys


def _top1(adapter: Adapter | None, qs, cs, ys) -> float:
    hits = [y[int(np.argmax(c @ (adapter.apply(q) if adapter else q)))] for q, c, y in zip(qs, cs, ys)]
    return float(np.mean(hits))


def test_the_adapter_learns_what_the_plain_similarity_misses() -> None:
    rng = np.random.default_rng(0)
    twist = _twist(rng)
    train, held = _task(rng, 200, twist), _task(rng, 100, twist)
    adapter = fit_adapter(*train, rank=4, decay=0.0, steps=200)
    # Scored on questions it never saw: the answer comes first far more often than by the plain vector.
    assert _top1(adapter, *held) >= _top1(None, *held) + 0.3
    v = adapter.apply(held[0][0])
    assert v.dtype == np.float32 and abs(np.linalg.norm(v) - 1.0) < 1e-5


def test_no_positive_no_change() -> None:
    """Questions none of whose candidates answer teach nothing: the adapter stays the identity."""
    rng = np.random.default_rng(1)
    qs, cs, ys = _task(rng, 10, _twist(rng))
    adapter = fit_adapter(qs, cs, [np.zeros_like(y) for y in ys])
    assert np.allclose(adapter.apply(qs[0]), qs[0], atol=1e-6)


def test_decay_keeps_the_adapter_near_the_identity() -> None:
    rng = np.random.default_rng(2)
    task = _task(rng, 100, _twist(rng))
    loose, tight = fit_adapter(*task, rank=4, decay=0.0), fit_adapter(*task, rank=4, decay=10.0)
    assert np.linalg.norm(tight.a @ tight.b.T) < np.linalg.norm(loose.a @ loose.b.T)


def test_the_adapter_round_trips_through_the_weights_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    adapter = Adapter(rng.normal(size=(8, 2)), rng.normal(size=(8, 2)))
    n = len(FEATURES)
    w = Weights(FEATURES, np.zeros(n), np.ones(n), np.zeros(n), 0.0, 0.3, {}, None, 2.0, adapter)
    path = tmp_path / "w.json"
    path.write_text(json.dumps(w.to_dict()))
    back = load_weights(path).adapter
    q = rng.normal(size=8)
    assert back is not None and np.allclose(back.apply(q), adapter.apply(q), atol=1e-5)
    d = w.to_dict()
    d["adapter"]["b"] = d["adapter"]["b"][:-1]  # a row short: the file is wrong, and says so
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"w\.json.*shapes"):
        load_weights(path)

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


def test_a_vector_of_other_dimensions_reads_the_plain_similarity(tmp_path: Path) -> None:
    """Weights fitted for one embedding model, read with another's vectors: the reader does not fail,
    and the adapted similarity is the plain one."""
    from rag.reader import Reader
    from rag.reader.features import candidates, matrix, question_of
    from rag.types import Chunk, Hit

    rng = np.random.default_rng(4)
    n = len(FEATURES)
    adapter = Adapter(rng.normal(size=(384, 2)), rng.normal(size=(384, 2)))
    assert adapter.fits(np.zeros(384)) and not adapter.fits(np.zeros(64))
    coef = np.zeros(n)
    coef[FEATURES.index("dense_adapted")] = 1.0
    w = Weights(FEATURES, np.zeros(n), np.ones(n), coef, 0.0, 0.0, {}, None, 2.0, adapter)
    text = "Revenue was $5 billion. Margin was 20%."
    chunk = Chunk(id="c", doc_id="d", section="remarks", speakers=(), text=text, embed_text=text, start=0,
                  end=len(text))
    hit = Hit(chunk=chunk, row=0, score=1.0, dense=0.5)
    vectors = unit_rows(rng.normal(size=(2, 64)))
    q = unit_rows(rng.normal(size=(1, 64)))[0]
    cands, p, _ = Reader(w, lambda t: 1.0, lambda h: vectors).score("What was revenue?", [hit], q)
    x = matrix(question_of("What was revenue?", q, lambda t: 1.0, set()), cands, lambda h: vectors)
    # The model weighs the adapted similarity alone: its probabilities are those of the plain one.
    assert len(cands) == len(p) and np.allclose(p, 1 / (1 + np.exp(-x[:, FEATURES.index("dense")])), atol=1e-6)

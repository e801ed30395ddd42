"""A learned adapter for the question's vector: W = I + A Bᵀ (low rank), fitted on the dev cases so
that the adapted question lies nearer the sentence that answers it than the other candidates of its
passages. The embedding model was trained on general text; this moves a question toward how calls
state what it asks (a Chinese question toward an English sentence, "top line" toward revenue) without
re-embedding the index: stored sentence vectors are read as they are, and adapting a question is one
small matrix product."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Adapter:
    a: np.ndarray  # (dim, rank)
    b: np.ndarray  # (dim, rank)

    def apply(self, vector: np.ndarray) -> np.ndarray:
        """The adapted question vector, unit length."""
        v = np.asarray(vector, dtype=np.float64)
        w = v + self.a @ (self.b.T @ v)
        return (w / (np.linalg.norm(w) or 1.0)).astype(np.float32)

    def fits(self, vector: np.ndarray) -> bool:
        """The vector has the dimensions the adapter was fitted in."""
        return len(vector) == self.a.shape[0]

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a.round(6).tolist(), "b": self.b.round(6).tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Adapter":
        a, b = np.array(d["a"], dtype=np.float64), np.array(d["b"], dtype=np.float64)
        if a.ndim != 2 or a.shape != b.shape:
            raise ValueError(f"adapter matrices of shapes {a.shape} and {b.shape}: both must be (dim, rank)")
        return cls(a, b)


def unit_rows(m: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    m = np.asarray(m, dtype=np.float32)
    n = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(n > 0, n, 1.0)


def fit_adapter(questions: list[np.ndarray], candidates: list[np.ndarray], labels: list[np.ndarray],
                rank: int = 16, decay: float = 0.01, temperature: float = 0.05, steps: int = 100,
                seed: int = 0) -> Adapter:
    """Fit A and B by a listwise loss: per question, the softmax (at `temperature`) of its adapted
    similarity to each candidate's vector (rows of `candidates[i]`, unit length) puts its mass on the
    candidates `labels[i]` marks; `decay` keeps A Bᵀ small, so the adapter stays near the identity.
    Defaults chosen by grouped out-of-fold ranking on the dev cases (eval/README.md)."""
    import torch

    torch.manual_seed(seed)
    keep = [i for i, y in enumerate(labels) if np.asarray(y).any() and questions[i] is not None]
    dim = len(questions[keep[0]]) if keep else (candidates[0].shape[1] if candidates else 0)
    a = torch.nn.Parameter(torch.randn(dim, rank, dtype=torch.float32) * 0.01)
    b = torch.nn.Parameter(torch.zeros(dim, rank, dtype=torch.float32))
    if not keep:
        return Adapter(a.detach().numpy().astype(np.float64), b.detach().numpy().astype(np.float64))
    width = max(len(candidates[i]) for i in keep)
    # Padded to one batch: questions x candidates x dim, with a mask for the padding.
    c = torch.zeros(len(keep), width, dim)
    pos = torch.zeros(len(keep), width, dtype=torch.bool)
    real = torch.zeros(len(keep), width, dtype=torch.bool)
    for j, i in enumerate(keep):
        n = len(candidates[i])
        c[j, :n] = torch.from_numpy(np.asarray(candidates[i], dtype=np.float32))
        pos[j, :n] = torch.from_numpy(np.asarray(labels[i]).astype(bool))
        real[j, :n] = True
    q = torch.from_numpy(np.stack([np.asarray(questions[i], dtype=np.float32) for i in keep]))
    opt = torch.optim.Adam([a, b], lr=0.01)
    for _ in range(steps):
        opt.zero_grad()
        w = q + (q @ b) @ a.T  # (I + A Bᵀ) q, row by row
        w = w / w.norm(dim=1, keepdim=True).clamp_min(1e-8)
        s = torch.einsum("qcd,qd->qc", c, w) / temperature
        s = s.masked_fill(~real, -1e9)
        loss = -(torch.logsumexp(s.masked_fill(~pos, -1e9), 1) - torch.logsumexp(s, 1)).mean()
        loss = loss + decay * ((a @ b.T) ** 2).sum()
        loss.backward()
        opt.step()
    return Adapter(a.detach().numpy().astype(np.float64), b.detach().numpy().astype(np.float64))

"""The int8 ONNX backend against the torch one: same tokens, vectors within int8 rounding, the same
nearest passages, late-chunked sentence vectors, and a fingerprint of its own; the fp32 export that
embeds one question for the torch backend: the torch vector to float rounding.

Slow (exports and quantises the provisioned model once, ~1 min); select with -m model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.embed import DEFAULT_MODEL_NAME, SentenceTransformerEmbedder, load_embedder, provision_model
from rag.embed_onnx import FP32_FILE, MODEL_FILE, OnnxEmbedder, export, export_fp32

pytestmark = pytest.mark.model

QUERIES = ["积压订单是多少？", "What was AWS operating margin?", "How much capex next year?"]
PASSAGES = [
    "积压订单达2440亿美元，同比增长40%。",
    "AWS operating margin was 35%, up 40 basis points.",
    "We expect capital expenditures of roughly $200 billion in 2026.",
    "公司预计全年资本开支在1000亿～1100亿元之间",
    "Q: How should we think about  capex next year?  A: Roughly flat, maybe up slightly.",
]


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(str(provision_model(Settings().model_cache_dir)),
                                       model_id=DEFAULT_MODEL_NAME).load()


@pytest.fixture(scope="module")
def onnx_embedder() -> OnnxEmbedder:
    folder, _ = export(provision_model(Settings().model_cache_dir))
    return OnnxEmbedder(folder, model_id=DEFAULT_MODEL_NAME).load()


def test_export_is_idempotent_and_keeps_the_tokenizer(onnx_embedder: OnnxEmbedder) -> None:
    folder, built = export(provision_model(Settings().model_cache_dir))
    assert not built and folder == onnx_embedder.folder
    assert (folder / MODEL_FILE).stat().st_size < 200_000_000  # int8: well under the fp32 folder's ~465 MB
    assert "source" in json.loads((folder / "export.json").read_text())
    assert (folder / "tokenizer.json").is_file()


def test_vectors_match_the_torch_backend(torch_embedder, onnx_embedder) -> None:
    for embed in ("embed_queries", "embed_passages"):
        texts = QUERIES if embed == "embed_queries" else PASSAGES
        a, b = getattr(torch_embedder, embed)(texts), getattr(onnx_embedder, embed)(texts)
        assert a.shape == b.shape and b.dtype == np.float32
        assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-4)
        cosine = (a * b).sum(axis=1)
        assert cosine.min() > 0.99, cosine  # int8 weights, per-channel scales: close, not equal
    # The same passage is nearest to each query on both backends.
    qa, qb = torch_embedder.embed_queries(QUERIES), onnx_embedder.embed_queries(QUERIES)
    pa, pb = torch_embedder.embed_passages(PASSAGES), onnx_embedder.embed_passages(PASSAGES)
    assert ((qa @ pa.T).argmax(axis=1) == (qb @ pb.T).argmax(axis=1)).all()


def test_late_chunked_sentence_vectors(torch_embedder, onnx_embedder) -> None:
    text = PASSAGES[1] + " " + PASSAGES[2]
    spans = [[(0, len(PASSAGES[1])), (len(PASSAGES[1]) + 1, len(text))]]
    pa, sa = torch_embedder.embed_passages_with_spans([text], spans)
    pb, sb = onnx_embedder.embed_passages_with_spans([text], spans)
    assert sb[0].shape == (2, onnx_embedder.dim)
    assert ((sa[0] * sb[0]).sum(axis=1) > 0.95).all() and float(pa[0] @ pb[0]) > 0.97


def test_backends_have_different_fingerprints_and_the_manifest_says_which(
        torch_embedder, onnx_embedder, tmp_path: Path) -> None:
    from rag.build import build_index
    from rag.errors import IndexMismatchError
    from rag.store import load_index

    assert onnx_embedder.fingerprint() != torch_embedder.fingerprint()
    src = tmp_path / "src"
    src.mkdir()
    (src / "ACME_FY24Q2_en.txt").write_text("Acme Q2 FY2024 earnings call\n\nJane Doe -- CFO\n\n"
                                            "Revenue was $1.2 billion, up 8%. Operating margin was 21%.\n")
    build_index([src], tmp_path / "idx", onnx_embedder)
    index = load_index(tmp_path / "idx", onnx_embedder.model_id, onnx_embedder.fingerprint())
    assert index.manifest["model"]["backend"] == "onnx-int8" and len(index) >= 1
    with pytest.raises(IndexMismatchError, match="onnx-int8 backend"):
        load_index(tmp_path / "idx", torch_embedder.model_id, torch_embedder.fingerprint())


def test_the_setting_chooses_the_backend() -> None:
    emb = load_embedder(DEFAULT_MODEL_NAME, Settings().model_cache_dir, backend="onnx-int8")
    assert isinstance(emb, OnnxEmbedder) and emb.backend == "onnx-int8"
    assert emb.dim == 384  # read before any text is embedded, as a build does
    with pytest.raises(ValueError, match="unknown embedding backend"):
        load_embedder(DEFAULT_MODEL_NAME, Settings().model_cache_dir, backend="tpu")


def test_one_question_through_the_fp32_export_is_torchs_vector() -> None:
    model_dir = provision_model(Settings().model_cache_dir)
    folder, _ = export_fp32(model_dir)
    again, built = export_fp32(model_dir)
    assert again == folder and not built and (folder / FP32_FILE).is_file()
    fast = SentenceTransformerEmbedder(str(model_dir), model_id=DEFAULT_MODEL_NAME, precision="fp32").load()
    plain = SentenceTransformerEmbedder(str(model_dir), model_id=DEFAULT_MODEL_NAME, precision="fp32",
                                        onnx_queries=False).load()
    for text in [*QUERIES, "营收增长了多少？", "revenue " * 700]:  # the last past the 512-token limit
        a, b = fast.embed_queries([text]), plain.embed_queries([text])
        assert a.shape == b.shape == (1, 384) and a.dtype == np.float32
        assert float(a[0] @ b[0]) > 0.99999
    assert fast._query_network() is not None and plain._query_network() is None
    # Several questions at once still go through encode, which the fast path must agree with.
    many = fast.embed_queries(QUERIES)
    assert min(float(many[i] @ fast.embed_queries([q])[0]) for i, q in enumerate(QUERIES)) > 0.99999

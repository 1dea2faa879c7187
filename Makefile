# citewise: `make run` (ingest the sample corpus, start the chat UI) and `make test` (the whole suite).
# Both create .venv and install what they need on first use; later runs reuse it.

PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.citewise-installed
# llama.cpp is compiled from source by pip (about 5 minutes on 2 cores, then cached as a wheel).
# A portable x86-64 build with AVX2/FMA: fast on any recent CPU, and the cached wheel stays valid.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
PYTEST_ARGS ?=

.PHONY: install run ui chat test test-fast lint typecheck bench bench-full clean-index sample-docs

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip setuptools wheel

# torch first, pinned to the CPU build, so nothing later pulls CUDA packages.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -q -e '.[models,llm,neo4j,ui,dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/ingest data/corpus
	$(BIN)/citewise ui

chat: install
	$(BIN)/ingest data/corpus
	$(BIN)/citewise chat

# The suite, plus the style the house map promises: ruff-clean and mypy-clean package code.
test: install lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check app ingest retrieval graph bench tests
	$(BIN)/ruff format --check app ingest retrieval graph bench tests

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m bench.run --quick

bench-full: install
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m bench.run --full

sample-docs: install
	$(BIN)/python scripts/make_sample_docs.py

clean-index:
	rm -rf data/index

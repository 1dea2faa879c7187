# citewise: `make run` (ingest the sample corpus, start the chat UI) and `make test` (the whole suite).
# Both create .venv and install what they need on first use; later runs reuse it.
#
# What gets installed is pinned: requirements.lock (what the app needs at run time) and
# requirements-dev.lock (that plus the test tools) hold every package version the suite is run
# with (requirements-bench.lock adds the benchmark tools); pyproject.toml keeps compatible ranges
# for library users. `make lock` refreshes all three.

PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.citewise-installed
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
BENCH_LOCK := requirements-bench.lock
# llama.cpp is compiled from source once per machine (about 5 minutes on 2 cores) into this wheel
# folder, which every later install (a new venv, a fresh clone, CI) reuses, whatever pip's cache.
WHEELHOUSE ?= $(HOME)/.cache/citewise/wheels
# A portable x86-64 build with AVX2/FMA: fast on any recent CPU, and the cached wheel stays valid.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
LLAMA_VERSION = $(shell sed -n 's/^llama-cpp-python==\([^ ]*\).*/\1/p' $(LOCK))
PYTEST_ARGS ?=
# torch's CPU build: pip finds it on this machine's wheel folder; elsewhere set
# PIP_EXTRA_INDEX_URL to PyTorch's CPU index. The locks pin the same version.
TORCH := torch==2.13.0
# The extras each lock covers (scripts/check_lock.py checks the same lists).
APP_EXTRAS := --extra models --extra llm --extra neo4j --extra ui --extra api --extra formats
LOCK_FLAGS := --python-version 3.11 --no-header --annotation-style line $(if $(wildcard /opt/wheels),--find-links /opt/wheels)

.PHONY: install run ui chat test test-fast lint typecheck bench bench-full clean-index sample-docs \
	llama-wheel lock lock-check bench-install system-deps

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip setuptools wheel

llama-wheel: | $(BIN)/python
	@mkdir -p $(WHEELHOUSE)
	@if ls $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "llama-cpp-python $(LLAMA_VERSION): reusing the wheel in $(WHEELHOUSE)"; \
	else \
		echo "llama-cpp-python $(LLAMA_VERSION): compiling llama.cpp once into $(WHEELHOUSE) (about 5 minutes)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel -q --no-deps -w $(WHEELHOUSE) \
			llama-cpp-python==$(LLAMA_VERSION); \
	fi

# Programs from the system's packages: Tesseract (OCR of pages without a text layer) with its
# English model. Debian/Ubuntu as root; elsewhere install tesseract-ocr yourself (OCR is then
# reported as unavailable per page, nothing else changes).
system-deps:
	@if command -v tesseract >/dev/null 2>&1; then echo "tesseract: $$(command -v tesseract)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			tesseract-ocr tesseract-ocr-eng >/dev/null; \
	else echo "warning: install tesseract-ocr for OCR of scanned pages (apt-get install tesseract-ocr)"; fi

# torch first, pinned to the CPU build, so nothing later pulls CUDA packages; then the lock exactly.
$(STAMP): pyproject.toml $(LOCK) $(DEV_LOCK) | $(BIN)/python
	$(MAKE) --no-print-directory system-deps
	$(BIN)/pip install -q $(TORCH)
	$(MAKE) --no-print-directory llama-wheel
	$(BIN)/pip install -q --find-links $(WHEELHOUSE) -r $(DEV_LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python scripts/check_lock.py --installed
	touch $(STAMP)

install: $(STAMP)

# Re-resolve the locks from pyproject.toml's ranges (newest versions that fit), then check them.
# After it: `make test` installs exactly the new pins and runs the suite on them.
lock: | $(BIN)/python
	$(BIN)/pip install -q uv
	printf '%s\n' '$(TORCH)+cpu' > $(VENV)/torch-cpu.txt
	$(BIN)/uv pip compile pyproject.toml $(APP_EXTRAS) \
		$(LOCK_FLAGS) -c $(VENV)/torch-cpu.txt -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml $(APP_EXTRAS) --extra dev \
		$(LOCK_FLAGS) -c $(LOCK) -o $(DEV_LOCK)
	$(BIN)/uv pip compile pyproject.toml $(APP_EXTRAS) --extra dev \
		--extra bench $(LOCK_FLAGS) -c $(DEV_LOCK) -o $(BENCH_LOCK)
	sed -i 's/^torch==\(.*\)+cpu/torch==\1/' $(LOCK) $(DEV_LOCK) $(BENCH_LOCK)
	$(BIN)/python scripts/check_lock.py

# Fails when pyproject.toml asks for something the locks do not pin, or pin outside its range.
lock-check: | $(BIN)/python
	$(BIN)/python scripts/check_lock.py

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
	$(BIN)/ruff check app ingest retrieval graph bench tests scripts
	$(BIN)/ruff format --check app ingest retrieval graph bench tests scripts

typecheck: install
	$(BIN)/mypy

bench-install: install
	$(BIN)/pip install -q --find-links $(WHEELHOUSE) -r $(BENCH_LOCK)

bench: bench-install
	$(BIN)/python -m bench.run --quick

bench-full: bench-install
	$(BIN)/python -m bench.run --full

sample-docs: install
	$(BIN)/python scripts/make_sample_docs.py

clean-index:
	rm -rf data/index

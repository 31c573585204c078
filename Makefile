# docstream: `make run` starts the whole system, `make test` runs the whole suite.
# Every setup step lives here, so a fresh clone on a fresh machine needs nothing else.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: bench-deps redis-deps rebuild screenshots browser-deps help install ocr-deps prometheus-deps dashboards infra run infra-only watch test test-unit lint format typecheck check bench bench-quick chaos chaos-quick token clean

help: ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "docstream needs Python 3.11+"'
	@echo "[docstream] Creating the virtualenv and installing Python packages ..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --progress-bar off -e '.[dev]' | grep -E '^(Successfully|ERROR)' || true
	@$(PY) -c 'import aiokafka, pymongo, pypdfium2, fastapi' # fail here, not later
	@touch $(STAMP)

install: $(STAMP) ocr-deps browser-deps prometheus-deps ## virtualenv + Python packages (once; again when pyproject.toml changes)

# The web page's tests and screenshots drive Debian's Chromium through Playwright (which
# downloads no browser of its own here).
browser-deps: ## Debian's chromium for the browser tests, when missing
	@command -v chromium >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "[docstream] apt-get not found: install chromium"; exit 1; }; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "[docstream] Installing chromium (Debian package) ..."; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

screenshots: infra ## the web page's list and a document, saved in docs/screenshots/ (Chromium)
	@$(PY) -m deploy.screenshots

# The Celery + Redis peer of the benchmarks (benchmarks/peers/celery_redis): Celery and
# redis-py are the `bench` extra, never a dependency of the services; redis-server is Debian's.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	@echo "[docstream] Installing the benchmark extra (Celery, redis-py) ..."
	@$(PY) -m pip install --progress-bar off -e '.[dev,bench]' | grep -E '^(Successfully|ERROR)' || true
	@$(PY) -c 'import celery, redis' # fail here, not later
	@touch $(BENCH_STAMP)

bench-deps: $(BENCH_STAMP) redis-deps ## what the benchmarks' Celery + Redis peer needs

redis-deps: ## Debian's redis-server (apt-get, as root or through sudo), when missing
	@if ! command -v redis-server >/dev/null; then \
	  command -v apt-get >/dev/null || { echo "[docstream] apt-get not found: install redis-server (7+)"; exit 1; }; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "[docstream] Installing redis-server (Debian package; not started as a service) ..."; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null; \
	fi

# OCR: the engine comes with the tesserocr wheel (pyproject.toml); its language data (English,
# French, orientation) and the font the script tests draw with are Debian packages.
OCR_DEBS := tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra tesseract-ocr-osd fonts-dejavu-core

ocr-deps: ## Debian packages OCR needs (apt-get, as root or through sudo), when missing
	@missing=$$(for deb in $(OCR_DEBS); do \
	  dpkg-query -W -f='$${Status}\n' $$deb 2>/dev/null | grep -q '^install ok installed' || echo $$deb; \
	done); \
	if [ -n "$$missing" ]; then \
	  command -v apt-get >/dev/null || { echo "[docstream] apt-get not found: install $$missing (Tesseract and its eng, fra, osd data)"; exit 1; }; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "[docstream] Installing" $$missing "(Debian packages) ..."; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Prometheus and promtool: the tests check the rules, every service's /metrics and the
# dashboards' queries with the real tools (Debian's prometheus package).
prometheus-deps: ## Debian's prometheus package (promtool, prometheus), when missing
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "[docstream] apt-get not found: install Prometheus 2.x (prometheus, promtool)"; exit 1; }; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "[docstream] Installing prometheus (Debian package) ..."; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  $$sudo systemctl disable --now prometheus >/dev/null 2>&1 || true; \
	}

dashboards: install ## regenerate deploy/grafana/dashboards/*.json from deploy/grafana/dashboards.py
	@$(PY) -m deploy.grafana.dashboards

infra: install ## fetch Kafka jars (Maven) and build FerretDB (go install), once, into ~/.cache/docstream
	@$(PY) -m deploy.launcher install

run: infra ## the whole system on the local defaults (Ctrl-C stops everything)
	@$(PY) -m deploy.launcher run

infra-only: infra ## only Kafka and FerretDB, for running services by hand
	@$(PY) -m deploy.launcher infra

watch: install ## stream a document's progress: make watch ID=<document id>
	@$(PY) -m deploy.launcher watch $(ID) --owner $${OWNER:-dev}

token: install ## print a development token (owner "dev"; OWNER=name for another)
	@$(PY) -m deploy.launcher token --owner $${OWNER:-dev}

test: infra bench-deps ## the whole test suite (starts its own Kafka and FerretDB on free ports)
	@$(PY) -m pytest $(PYTEST_ARGS)

test-unit: install ## only the tests that need no broker
	@$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

lint: install ## ruff (lint + format check)
	@$(VENV)/bin/ruff check shared services deploy docstream tests benchmarks
	@$(VENV)/bin/ruff format --check shared services deploy docstream tests benchmarks

format: install ## apply ruff's formatting and safe fixes
	@$(VENV)/bin/ruff check --fix shared services deploy docstream tests benchmarks
	@$(VENV)/bin/ruff format shared services deploy docstream tests benchmarks

typecheck: install ## mypy --strict
	@$(VENV)/bin/mypy

check: lint typecheck test ## everything CI and pre-commit run

bench: infra bench-deps ## benchmarks (minutes); writes benchmarks/results/latest.json and docs/benchmarks.md
	@$(PY) -m benchmarks.run

bench-quick: infra bench-deps ## a short smoke run of the benchmarks
	@$(PY) -m benchmarks.run --quick

chaos: infra ## fault suite (~10 min): kills, broker and DB restarts under load; docs/reliability.md
	@$(PY) -m benchmarks.chaos

chaos-quick: infra ## a short fault run (60 documents, ~4 min), prints but records nothing
	@$(PY) -m benchmarks.chaos --quick

rebuild: install ## refold the read model (of the running make run stack) into a fresh database and switch to it
	@$(PY) -m deploy.launcher rebuild

clean: ## remove local data (.data); caches in ~/.cache/docstream stay
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache

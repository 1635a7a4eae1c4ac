# The two commands that matter (see README):  make demo  |  make test
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup demo test test-fast bench lint clean

setup:
	scripts/setup.sh

demo: setup
	$(VENV)/bin/apeiria demo

test: setup
	APEIRIA_REQUIRE_ROS=1 APEIRIA_TEST_GEMMA=1 $(PY) -m pytest -q tests

test-fast:
	$(PY) -m pytest -q -x tests -m "not slow"

bench: setup
	$(PY) -m benchmarks.run --out benchmarks/results

clean:
	rm -rf build install log .pytest_cache .hypothesis

# The two commands that matter (see README):  make demo  |  make test
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup demo test test-fast test-kernels fuzz bench lint clean

setup:
	scripts/setup.sh

demo: setup
	$(VENV)/bin/apeiria demo

test: setup
	APEIRIA_REQUIRE_ROS=1 APEIRIA_TEST_GEMMA=1 $(PY) -m pytest -q tests

# The tests whose result rides on float kernels (marker `kernels`), once per kernel set
# PyTorch may pick on an x86-64 CPU: this machine's own, AVX2 and the portable default.
# AVX-512 joins where the CPU has it (it cannot be forced on one that does not).
KERNEL_SETS ?= native $(if $(shell grep -m1 -o avx512f /proc/cpuinfo 2>/dev/null),avx512) avx2 default
test-kernels: setup
	@set -e; for k in $(KERNEL_SETS); do \
	  echo "== ATEN_CPU_CAPABILITY=$$k"; \
	  if [ "$$k" = native ]; then env -u ATEN_CPU_CAPABILITY $(PY) -m pytest -q -m kernels tests -p no:cacheprovider; \
	  else ATEN_CPU_CAPABILITY=$$k $(PY) -m pytest -q -m kernels tests -p no:cacheprovider; fi; \
	done

# Every way in under hostile input (tests/fuzz, tests/ros/test_fuzz_scene_map.py), at scale:
# FUZZ_EXAMPLES cases a target (`make test` runs the same targets with 150). docs/robustness.md
FUZZ_EXAMPLES ?= 100000
fuzz: setup
	APEIRIA_REQUIRE_ROS=1 APEIRIA_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider \
	  --hypothesis-show-statistics tests/fuzz tests/ros/test_fuzz_scene_map.py

test-fast:
	$(PY) -m pytest -q -x tests -m "not slow"

bench: setup
	$(PY) -m benchmarks.run --out benchmarks/results --no-docs
	$(PY) -m benchmarks.render --results benchmarks/results --out docs/benchmarks.md

clean:
	rm -rf build install log .pytest_cache .hypothesis

# pgmq: the only entry points a newcomer needs.
#   make demo   build and run the seed example against a throwaway PostgreSQL (or $DATABASE_URL)
#   make test   build everything and run every test suite; ends with `tests: N passed, N failed`
#   make bench  throughput and latency beside the raw-SQL ceiling of the same cluster
# Every target starts (and always removes) its own PostgreSQL cluster unless DATABASE_URL is set.

SHELL := /bin/bash
CARGO ?= cargo
WITH_PG := tests/with-postgres.sh
LOGS := target/test-logs

.PHONY: all build demo test test-suites bench clean

all: build

build:
	$(CARGO) build --workspace --all-targets

demo:
	$(CARGO) build -q -p pgmq-core --example demo
	$(WITH_PG) target/debug/examples/demo

# Tests share one throwaway cluster; fsync is off there (PGMQ_PG_FAST) because durability is not what
# the tests measure. Each suite writes a log; tests/summarize.py adds them up into the last line.
test: build
	@rm -rf $(LOGS) && mkdir -p $(LOGS)
	PGMQ_PG_FAST=1 $(WITH_PG) $(MAKE) --no-print-directory test-suites; \
	  rc=$$?; python3 tests/summarize.py $(LOGS)/*.log && exit $$rc

# Runs inside the cluster started by `test`; a failing suite does not stop the others.
test-suites:
	@rc=0; \
	$(CARGO) test --workspace --no-fail-fast 2>&1 | tee $(LOGS)/rust.log; rc=$$(( rc | PIPESTATUS[0] )); \
	exit $$rc

bench:
	$(CARGO) build --release -p pgmq-core --example bench
	$(WITH_PG) target/release/examples/bench

clean:
	$(CARGO) clean
	rm -rf .venv node_modules

# pgmq: the only entry points a newcomer needs.
#   make demo   build the Python package and run the seed example (python -m pgmq demo) against a
#               throwaway PostgreSQL (or $DATABASE_URL)
#   make test   build everything and run every test suite; ends with `tests: N passed, N failed`
#   make bench  throughput and latency beside the raw-SQL ceiling of the same cluster
#   make chaos  the chaos checker: random workload + injected faults, then every message's fate checked
#   make soak   10 minutes of steady load with faults; fails if the queue tables grow without bound
# Every target starts (and always removes) its own PostgreSQL cluster unless DATABASE_URL is set.

SHELL := /bin/bash
CARGO ?= cargo
WITH_PG := tests/with-postgres.sh
LOGS := target/test-logs
VENV := .venv
PY := $(VENV)/bin/python
# The Python extension, the Node addon and the bench program are release builds for this host's target
# triple: napi builds with --target, and giving maturin and the bench the same one puts all three in
# target/<triple>/release, where they share the compiled dependencies instead of building them twice.
HOST_TRIPLE := $(shell rustc -vV | sed -n 's/^host: //p')
RELEASE_DIR := target/$(HOST_TRIPLE)/release

.PHONY: all build python node kotlin swift demo test test-suites bench clean

all: build

# The Python and Node bindings are built by maturin and @napi-rs/cli (below), not by cargo: they are
# loaded by their interpreters, not run as Rust test binaries.
# One cargo invocation (the same packages, so the same features) builds the uniffi library, the Rust tests
# and the chaos workers: the library's own build below is this one, and `cargo test` in test-suites then
# compiles nothing again.
RUST_WORKSPACE := --workspace --exclude pgmq-python --exclude pgmq-node
build: python node kotlin
	$(CARGO) build $(RUST_WORKSPACE) --all-targets

# The development virtualenv: maturin, pytest, anyio, mypy (pinned).
$(VENV): bindings-python/requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r bindings-python/requirements-dev.txt
	touch $(VENV)

# `pgmq` installed into .venv (editable: the Python sources are used in place, the extension is built
# into bindings-python/python/pgmq/). Rebuilt only when a Rust source or build file changed.
PYTHON_STAMP := $(VENV)/pgmq-develop.stamp
PYTHON_DEPS := $(shell find core/src core/migrations bindings-python/src -type f) \
	Cargo.toml Cargo.lock core/Cargo.toml bindings-python/Cargo.toml pyproject.toml
python: $(PYTHON_STAMP)
$(PYTHON_STAMP): $(PYTHON_DEPS) | $(VENV)
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/maturin develop --release --quiet --target $(HOST_TRIPLE)
	@touch $@

# npm packages (pinned by package-lock.json): @napi-rs/cli, typescript, tsx, @types/node.
node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The addon bindings-node/pgmq.<platform>.node and its loader native.cjs / native.d.ts, built by
# @napi-rs/cli in release mode. Rebuilt only when a Rust source or build file changed.
NODE_ADDON_STAMP := target/node-addon.stamp
NODE_DEPS := $(shell find core/src core/migrations bindings-node/src -type f) \
	Cargo.toml Cargo.lock core/Cargo.toml bindings-node/Cargo.toml bindings-node/build.rs
node: $(NODE_ADDON_STAMP)
$(NODE_ADDON_STAMP): $(NODE_DEPS) node_modules/.stamp
	npx napi build --platform --release --target $(HOST_TRIPLE) --manifest-path bindings-node/Cargo.toml \
	  --package-json-path package.json --output-dir bindings-node --js native.cjs --dts native.d.ts
	@mkdir -p $(dir $@) && touch $@

# Kotlin/Swift: pgmq-uniffi (debug build: tests load it through JNA), the sources uniffi-bindgen generates
# from it (target/uniffi/kotlin, target/uniffi/swift), and the Kotlin library jar: the generated code
# plus the hand-written extras in bindings-uniffi/kotlin/src. kotlinc comes from the npm package
# kotlin-compiler (pinned in package-lock.json, with kotlinx-coroutines); JNA from Debian's libjna-java,
# installed here when missing and running as root.
UNIFFI_LIB := target/debug/libpgmq_uniffi.$(if $(filter Darwin,$(shell uname -s)),dylib,so)
UNIFFI_DEPS := $(shell find core/src core/migrations bindings-uniffi/src -type f) \
	Cargo.toml Cargo.lock core/Cargo.toml bindings-uniffi/Cargo.toml bindings-uniffi/uniffi.toml
KOTLINC := node_modules/kotlin-compiler/bin/kotlinc
JNA_JAR ?= /usr/share/java/jna.jar
KOTLIN_CP := $(JNA_JAR):node_modules/kotlin-compiler/lib/kotlinx-coroutines-core-jvm.jar
KOTLIN_JAR := target/uniffi/pgmq.jar

$(JNA_JAR):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y -q libjna-java >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q libjna-java >/dev/null; }; \
	else echo "JNA is missing: install Debian's libjna-java (or set JNA_JAR=/path/to/jna.jar)"; exit 1; fi

# The PostgreSQL JDBC driver, for the Kotlin tests of io.pgmq.Outbox only: the library compiles against
# java.sql alone and works with whatever driver the application brings. Debian's libpostgresql-jdbc-java,
# installed here when missing and running as root; bindings-uniffi/kotlin/run-tests.sh builds
# `kotlin-test-deps` and puts it on the tests' classpath.
PG_JDBC_JAR ?= /usr/share/java/postgresql.jar

$(PG_JDBC_JAR):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y -q libpostgresql-jdbc-java >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q libpostgresql-jdbc-java >/dev/null; }; \
	else echo "The PostgreSQL JDBC driver is missing: install Debian's libpostgresql-jdbc-java (or set PG_JDBC_JAR=/path/to/postgresql.jar)"; exit 1; fi

.PHONY: kotlin-test-deps
kotlin-test-deps: $(KOTLIN_JAR) $(PG_JDBC_JAR)

$(UNIFFI_LIB) target/debug/uniffi-bindgen: $(UNIFFI_DEPS)
	$(CARGO) build $(RUST_WORKSPACE) --all-targets
	@touch $(UNIFFI_LIB)

target/uniffi/.generated: $(UNIFFI_LIB) target/debug/uniffi-bindgen
	rm -rf target/uniffi/kotlin target/uniffi/swift
	target/debug/uniffi-bindgen generate --no-format --library $(UNIFFI_LIB) --language kotlin --out-dir target/uniffi/kotlin
	target/debug/uniffi-bindgen generate --no-format --library $(UNIFFI_LIB) --language swift --out-dir target/uniffi/swift
	@touch $@

swift: target/uniffi/.generated

$(KOTLIN_JAR): target/uniffi/.generated $(shell find bindings-uniffi/kotlin/src -name '*.kt' 2>/dev/null) | node_modules/.stamp $(JNA_JAR)
	$(KOTLINC) -nowarn -classpath $(KOTLIN_CP) -d $@ target/uniffi/kotlin $(wildcard bindings-uniffi/kotlin/src)

kotlin: $(KOTLIN_JAR)

demo: python
	$(PY) -m pgmq demo

# Tests share one throwaway cluster; fsync is off there (PGMQ_PG_FAST) because durability is not what
# the tests measure. Each suite writes a log; tests/summarize.py adds them up into the last line.
test: build
	@rm -rf $(LOGS) && mkdir -p $(LOGS)
	PGMQ_PG_FAST=1 PGMQ_PG_TLS=1 PGMQ_PG_PGBOUNCER=1 PGMQ_REQUIRE_TLS_TESTS=1 PGMQ_REQUIRE_PGBOUNCER_TESTS=1 $(WITH_PG) $(MAKE) --no-print-directory test-suites; \
	  rc=$$?; python3 tests/summarize.py $(LOGS)/*.log && exit $$rc

# Runs inside the cluster started by `test`; a failing suite does not stop the others. The chaos checker
# and the crash tests crash their server, so each gets a throwaway cluster of its own (env -u: without
# DATABASE_URL, with-postgres.sh starts one) with default durability: fsync and synchronous_commit on.
# PGMQ_PG_FAST's synchronous_commit=off would let a crash take commits that had already returned.
WITHOUT_SHARED_PG := env -u DATABASE_URL -u PGMQ_PG_FAST -u PGMQ_PG_TLS -u PGMQ_PG_PGBOUNCER
test-suites:
	@rc=0; \
	$(CARGO) test $(RUST_WORKSPACE) --no-fail-fast 2>&1 | tee $(LOGS)/rust.log; rc=$$(( rc | PIPESTATUS[0] )); \
	$(PY) -m pytest bindings-python/tests 2>&1 | tee $(LOGS)/python.log; rc=$$(( rc | PIPESTATUS[0] )); \
	npm test 2>&1 | tee $(LOGS)/node.log; rc=$$(( rc | PIPESTATUS[0] )); \
	bindings-uniffi/kotlin/run-tests.sh 2>&1 | tee $(LOGS)/kotlin.log; rc=$$(( rc | PIPESTATUS[0] )); \
	bindings-uniffi/swift/run-tests.sh 2>&1 | tee $(LOGS)/swift.log; rc=$$(( rc | PIPESTATUS[0] )); \
	$(PY) -m pytest tests/interop 2>&1 | tee $(LOGS)/interop.log; rc=$$(( rc | PIPESTATUS[0] )); \
	$(WITHOUT_SHARED_PG) $(WITH_PG) target/debug/pgmq-chaos --messages 10000 2>&1 | tee $(LOGS)/chaos.log; rc=$$(( rc | PIPESTATUS[0] )); \
	$(WITHOUT_SHARED_PG) $(WITH_PG) target/debug/pgmq-chaos --graph 3000 2>&1 | tee $(LOGS)/graph.log; rc=$$(( rc | PIPESTATUS[0] )); \
	$(WITHOUT_SHARED_PG) PGMQ_CRASH_TESTS=1 $(WITH_PG) $(CARGO) test $(RUST_WORKSPACE) --test crash 2>&1 | tee $(LOGS)/crash.log; rc=$$(( rc | PIPESTATUS[0] )); \
	exit $$rc

# core/schema.sql, the schema as the migrations leave it: a fresh database migrated by the core, dumped
# and normalised by tests/schema-dump.sh. The test core/tests/integration/schema.rs compares the two on
# every `make test` (and writes the file when PGMQ_UPDATE_SCHEMA is set): run this after changing a migration.
.PHONY: schema
schema:
	PGMQ_PG_FAST=1 PGMQ_UPDATE_SCHEMA=1 $(WITH_PG) $(CARGO) test -p pgmq-core --test integration -- --exact schema::the_schema_snapshot_is_what_the_migrations_make

# The tables of docs/options.md and docs/errors.md that come from the core's table of truths
# (pgmq_core::truths_json): rewrites their generated cells; core/tests/docs_tables.rs checks them on every
# `make test`. Run it after changing a default, a limit or an error code.
.PHONY: docs
docs:
	PGMQ_UPDATE_DOCS=1 $(CARGO) test -p pgmq-core --test docs_tables

# Rust first, then Python and Node on the same cluster: their rows are printed beside the Rust figures
# of this run (the binding benches read them from target/bench/summary.jsonl).
bench: python node
	$(CARGO) build --release --target $(HOST_TRIPLE) -p pgmq-core --example bench
	PGMQ_PG_TLS=1 $(WITH_PG) bash -c '$(RELEASE_DIR)/examples/bench && $(PY) bindings-python/bench/bench.py && node bindings-node/bench/bench.mjs'

# The peer benchmark (docs/performance.md): the harness in ../shared/bench-peers runs pgmq's Python and
# Node packages (tests/bench_contender.py, .mjs) beside procrastinate, graphile-worker, pg-boss and
# Tembo's PGMQ (tests/bench-contenders.json) on its own throwaway cluster, and prints the tables. It
# installs the peers and writes its results under BENCH_HOME (set here so that it never writes into
# the shared folder, even as root). Knobs pass through: PEERS="pgmq-python pg-boss+notify", REPS=1,
# SKIP_CEILING=1.
BENCH_PEERS ?= ../shared/bench-peers
BENCH_HOME ?= $(abspath target/bench-peers)
.PHONY: bench-peers
bench-peers: python node
	BENCH_HOME=$(BENCH_HOME) CONTENDERS=$(abspath tests/bench-contenders.json) $(BENCH_PEERS)/run-peers.sh

# Fuzzing, not part of `make test`: each cargo-fuzz target in fuzz/ (filters -> SQL, attributes -> JSON,
# DSNs, names and options) for FUZZ_SECONDS (default 60) on the nightly toolchain; cargo-fuzz is
# installed when missing. A crash stops it and is saved under fuzz/artifacts/<target>/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := filter_sql attributes dsn_options
.PHONY: fuzz
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
	  $(CARGO) +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; \
	done

# The chaos checker (chaos/; docs/testing.md): a seeded random workload of Rust, Python and Node
# worker processes while faults are injected (SIGKILL/SIGSTOP of workers holding leases,
# pg_terminate_backend of LISTEN and work connections, server restarts: pg_ctl restart -m fast, and the
# crashes pg_ctl stop -m immediate and SIGKILL of every server process, each kind at least once), then
# every message's fate is checked. Default durability (fsync and synchronous_commit on), as in production:
# a crash must not take a send or an ack that returned. Default 100,000 messages (3.5-5 minutes
# here); `make test` runs 10,000 (about a minute, in a cluster of its own). Reproduce a run with
# CHAOS_ARGS="--seed S"; other options: --messages N, --rate R, --workers RUST,PYTHON,NODE, --no-faults.
# Then the dependency graph checker: 10,000 messages with dependencies in two queues, some poison, a
# SIGKILL of every server process half-way (`make test` runs 3,000); GRAPH_ARGS="--seed S" reproduces one.
# `make soak`: 10 minutes of steady load with the same faults, sampling table sizes and dead tuples every
# 10 s; fails if the queue tables grow without bound.
CHAOS_ARGS ?=
GRAPH_ARGS ?=
.PHONY: chaos soak
chaos: python node
	$(CARGO) build -p pgmq-chaos --bins
	$(WITH_PG) target/debug/pgmq-chaos $(CHAOS_ARGS)
	$(WITH_PG) target/debug/pgmq-chaos --graph 10000 $(GRAPH_ARGS)
soak: python node
	$(CARGO) build -p pgmq-chaos --bins
	$(WITH_PG) target/debug/pgmq-chaos --soak --duration 600 $(CHAOS_ARGS)

clean:
	$(CARGO) clean
	rm -rf .venv node_modules bindings-python/python/pgmq/*.so bindings-node/*.node bindings-node/native.*

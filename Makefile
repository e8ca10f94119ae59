# jetmesh — developer entry points. `make help` lists them.
#
# Tests need PostgreSQL at DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/test) and the pinned tools that `make
# tools` builds with Go into .tools/bin (nats-server, the nats CLI, Jaeger).
# `make run-local` needs no PostgreSQL: it starts nats-server, Jaeger and an
# embedded PGlite itself.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# Where the tests find PostgreSQL (passed to the tests only; `run-local` treats
# an unset DATABASE_URL as "use embedded PGlite").
TEST_DATABASE_URL := $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/test)
# Subset of test files, e.g. `make test TESTS="devkit/test-db.test.ts"`.
TESTS ?=
TAP_FLAGS ?=

TS_DIRS := cmd internal subjects sdk demo devkit test bench infra examples
NODE_TSX := node --import tsx

# npm writes node_modules/.package-lock.json on every install: newer than
# package-lock.json means node_modules is current.
INSTALLED := node_modules/.package-lock.json
# tap compiles its Test class for the plugins named in .taprc.
TAP_BUILT := node_modules/.jetmesh-tap-built

.PHONY: help install tools page test test-faults check typecheck denocheck fmt fmtcheck lint migrate inspect replay-dlq run-local smoke smoke-running bench bench-tracing clean ensure-postgres ensure-chromium

help:
	@echo "make install    npm ci when node_modules is missing or stale"
	@echo "make tools      build the pinned nats-server, nats CLI and Jaeger into .tools/bin (infra/tools/pins.txt; TOOLS=centrifugo for the bench peer)"
	@echo "make page       build the chat page notify serves at / into .build/chat (esbuild; run-local, smoke and test do it)"
	@echo "make test       all tap tests (TESTS=\"file ...\" for some; needs nats-server and PostgreSQL)"
	@echo "make test-faults  kill -9 / SIGTERM every process under load, check nothing is lost or repeated (FAULT_SEED=n replays)"
	@echo "make test-mutations  break each guarantee on purpose (test/mutations/list.ts), check a test fails each time (MUTATIONS=id,id for some; about 5 min)"
	@echo "make test-fuzz  hostile frames at both edges, 100,000 per WebSocket (FUZZ_SEED=n replays, FUZZ_FRAMES=n sets the count)"
	@echo "make check      tsc --noEmit, deno check, deno fmt --check and deno lint over cmd internal subjects sdk demo devkit test bench infra"
	@echo "make fmt        format the tree (deno fmt, settings in deno.json)"
	@echo "make run-local  nats-server + PGlite + Jaeger (UI :16686) + the four services, Ctrl-C stops all; RUN_LOCAL_JAEGER=0 without Jaeger"
	@echo "make run-local EXAMPLE=iot  the same with examples/iot's namespaces (route runs its rules) and its page built (or transactions)"
	@echo "make run-local REPLICAS=3  the same with 3 processes of every service, replica i on each port + 100 x i (printed)"
	@echo "make migrate    create or update the streams and KV buckets, as the NATS admin user (before the services start)"
	@echo "make inspect    streams, consumer lag and DLQ of a running jetmesh"
	@echo "make replay-dlq re-inject events parked on DLQ (ARGS=\"--service route --dry-run\")"
	@echo "make smoke      fresh stack with embedded PGlite, one event published and read back (and its trace from Jaeger)"
	@echo "make bench      throughput, latency, fan-out, idle memory vs raw ceilings, fsync cost (QUICK=1: under 3 min)"
	@echo "make bench-tracing  tracing cost: off vs OTLP export on (per hop and ingest publish throughput)"
	@echo "make example-load EXAMPLE=iot  the example's load generator against INGEST_URL (ARGS=\"--rate=500 --expected=out.json\")"
	@echo "make example-pages  build the examples' live pages into .build/examples/<name>"
	@echo "make clean      remove .tap, .data, .build and bench temp files"

install: $(TAP_BUILT)

# A symlinked node_modules is shared with other checkouts (git worktrees):
# `npm ci` would empty the shared tree through the link and replace the link,
# so it is left alone here; install where the link points.
$(INSTALLED): package-lock.json
	@if [ -L node_modules ]; then \
	  echo "node_modules is a symlink to $$(readlink node_modules): not running npm ci here (install there if it is stale)" >&2; \
	else \
	  echo "==> npm ci"; \
	  npm ci --no-audit --no-fund --loglevel=error; \
	  touch $@; \
	fi

# Rebuilding a shared (symlinked) tree races the other checkouts' runs.
$(TAP_BUILT): $(INSTALLED) .taprc
	@if [ -L node_modules ] && [ -e $@ ]; then exit 0; fi; \
	  echo "==> tap build (plugins from .taprc)"; \
	  bash test/helpers/tap-build.sh; \
	  touch $@

# Each tool is built once per pinned version; a second run only checks stamps.
# TOOLS="nats-server nats" builds some of them.
tools:
	@bash infra/tools/install.sh

# The browser test (test/browser) drives Debian's chromium through playwright-core.
ensure-chromium:
	@bash infra/local/ensure-apt.sh chromium /usr/bin/chromium optional

# The chat page notify serves at `/`, built ahead (demo/chat/build.ts) so that notify's
# production code bundles nothing and esbuild stays a development dependency. Notify reads
# it from NOTIFY_PAGE_DIR, by default this folder; infra/docker/Dockerfile builds its own.
PAGE_DIR := .build/chat
PAGE_SOURCES := $(wildcard demo/chat/* sdk/*.ts)

page: $(PAGE_DIR)/chat.js

# `install` order-only: a fresher package-lock.json alone rebuilds nothing.
$(PAGE_DIR)/chat.js: $(PAGE_SOURCES) | install
	@echo "==> chat page into $(PAGE_DIR)"
	@$(NODE_TSX) demo/chat/build.ts $(PAGE_DIR)

ensure-postgres: $(INSTALLED)
	@DATABASE_URL='$(TEST_DATABASE_URL)' $(NODE_TSX) test/helpers/preflight.ts postgres

# Output goes through tee, so tap never sees a terminal; when make's own stdout
# is not one either (CI, logs), CI=true makes tap's reporter print plain lines
# instead of redrawing progress. tap prints "# { total: N, pass: N, fail: N }"
# last; the line after it repeats that as "N passed, N failed, N skipped".
test: install tools ensure-postgres ensure-chromium page
	@mkdir -p .tap
	@echo "==> tap"
	@set +e; if [ ! -t 1 ]; then export CI="$${CI:-true}"; fi; \
	  DATABASE_URL='$(TEST_DATABASE_URL)' npx --no-install tap $(TAP_FLAGS) $(TESTS) 2>&1 | tee .tap/last-run.txt; \
	  rc=$${PIPESTATUS[0]}; set -e; \
	  sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' .tap/last-run.txt | awk ' \
	    /^# \{ total: / { line = $$0 } \
	    END { \
	      if (line == "") { print "tests: no summary from tap"; exit } \
	      p = f = s = 0; \
	      if (match(line, /pass: [0-9]+/)) p = substr(line, RSTART + 6, RLENGTH - 6); \
	      if (match(line, /fail: [0-9]+/)) f = substr(line, RSTART + 6, RLENGTH - 6); \
	      if (match(line, /skip: [0-9]+/)) s += substr(line, RSTART + 6, RLENGTH - 6); \
	      if (match(line, /todo: [0-9]+/)) s += substr(line, RSTART + 6, RLENGTH - 6); \
	      printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }'; \
	  exit $$rc

# The fault suite: services run as processes and are killed and
# restarted under load, on a single nats-server and on a 3-node cluster. It
# takes minutes, so `make test` leaves it out (.taprc excludes test/faults);
# one file at a time, since each loads both cores. It prints FAULT_SEED=<n>;
# `FAULT_SEED=<n> make test-faults` replays that fault schedule.
test-faults: install tools ensure-postgres
	@echo "==> tap test/faults"
	@if [ ! -t 1 ]; then export CI="$${CI:-true}"; fi; \
	  DATABASE_URL='$(TEST_DATABASE_URL)' npx --no-install tap --timeout=600 --jobs=1 $(TAP_FLAGS) test/faults/*.test.ts

# The fuzzer's long mode. `make test` runs test/fuzz with a
# few thousand frames per edge; this sends 100,000 per WebSocket and a quarter
# as many HTTP requests, minutes of work. It prints FUZZ_SEED=<n>;
# `FUZZ_SEED=<n> make test-fuzz` replays those frames.
.PHONY: test-fuzz
test-fuzz: install tools ensure-postgres
	@echo "==> tap test/fuzz (FUZZ_FRAMES=$${FUZZ_FRAMES:-100000})"
	@if [ ! -t 1 ]; then export CI="$${CI:-true}"; fi; \
	  FUZZ_FRAMES="$${FUZZ_FRAMES:-100000}" DATABASE_URL='$(TEST_DATABASE_URL)' npx --no-install tap --timeout=1800 $(TAP_FLAGS) test/fuzz/edges.test.ts

# The mutation pass (issue 16): each hand-picked mutation of test/mutations/list.ts
# (drop an ack, ack before the PubAck, skip the seen-ids check, a cursor off by
# one...) is applied to the tree in turn and its tests run; every one must make
# a test fail. The file is restored after each, and checked with git. About five
# minutes (4.5 to 6 measured on two shared cores), so not part of `make test` or .ci/run.
# MUTATIONS=id,id runs some; MUTATION_ARGS="--no-baseline" skips the unmutated run.
MUTATIONS ?=
MUTATION_ARGS ?=
.PHONY: test-mutations
test-mutations: install tools ensure-postgres
	@echo "==> mutations (test/mutations/list.ts)"
	@DATABASE_URL='$(TEST_DATABASE_URL)' $(NODE_TSX) test/mutations/run.ts $(if $(MUTATIONS),--only=$(MUTATIONS)) $(MUTATION_ARGS)

# Every checker runs even when an earlier one fails, so one pass shows all errors.
check: install
	@rc=0; $(MAKE) typecheck || rc=1; $(MAKE) denocheck || rc=1; $(MAKE) fmtcheck || rc=1; $(MAKE) lint || rc=1; \
	  if [ $$rc = 0 ]; then echo "check: ok"; else echo "check: FAILED" >&2; fi; exit $$rc

typecheck: install
	@echo "==> tsc --noEmit"
	@npx --no-install tsc --noEmit -p .

denocheck: install
	@echo "==> deno check"
	@dirs=$$(for d in $(TS_DIRS); do if [ -d $$d ]; then echo $$d; fi; done); \
	  files=$$(if [ -n "$$dirs" ]; then find $$dirs -name '*.ts' -not -path '*/node_modules/*' | sort; fi); \
	  if [ ! -t 2 ]; then export NO_COLOR=1; fi; \
	  if [ -z "$$files" ]; then echo "no .ts files"; else RUST_BACKTRACE=0 npx --no-install deno check --quiet $$files; fi

# One formatter and one linter, configured in deno.json: `make fmt` rewrites,
# `make check` fails on drift. Lint runs deno's recommended rules except
# require-await: an async function without await still turns a throw into a
# rejection, which callers of the Bus and RouteStep interfaces rely on.
fmt: install
	@npx --no-install deno fmt --quiet

fmtcheck: install
	@echo "==> deno fmt --check"
	@if [ ! -t 2 ]; then export NO_COLOR=1; fi; npx --no-install deno fmt --check --quiet || { echo "run make fmt" >&2; exit 1; }

lint: install
	@echo "==> deno lint"
	@if [ ! -t 2 ]; then export NO_COLOR=1; fi; npx --no-install deno lint --quiet

# Streams and KV buckets, created or brought to the configured settings, as the
# NATS admin user (NATS_URL, NATS_USER=admin, NATS_PASSWORD; run-local's when
# NATS_URL is not set); the services only check that they exist. `make
# run-local` runs it itself.
migrate: install
	@$(WITH_LOCAL_ADMIN) $(NODE_TSX) cmd/migrate/main.ts

# The admin user's NATS_URL / NATS_USER / NATS_PASSWORD (and PGlite's
# DATABASE_URL) that `make run-local` writes: the admin tools below use them
# when NATS_URL is not set, so they work against run-local as they are.
LOCAL_ADMIN_ENV := .data/run-local.env
WITH_LOCAL_ADMIN := if [ -z "$${NATS_URL:-}" ] && [ -f $(LOCAL_ADMIN_ENV) ]; then set -a; . ./$(LOCAL_ADMIN_ENV); set +a; fi;

# Streams, consumer lag and DLQ of a running jetmesh (NATS_URL, and NATS_USER/NATS_PASSWORD of the admin user when the server has users).
inspect: install
	@$(WITH_LOCAL_ADMIN) $(NODE_TSX) cmd/inspect/main.ts

# Re-inject events parked on DLQ once their cause is fixed (docs/architecture.md); ARGS="--service route --dry-run".
replay-dlq: install
	@$(WITH_LOCAL_ADMIN) $(NODE_TSX) cmd/replay-dlq/main.ts $(ARGS)

# `make run-local REPLICAS=n`: n processes of every service, replica i on each
# port + 100 × i (devkit/local-stack/replicas.ts).
# `make run-local EXAMPLE=iot` (or transactions): the example's namespaces file
# for every service (route runs its rules) and its live page built into
# .build/examples/<name>/ (README "Examples"). Only a value given on the command
# line or in the environment counts, not example-load's default below.
RUN_LOCAL_EXAMPLE := $(if $(filter-out undefined file,$(origin EXAMPLE)),$(EXAMPLE))
run-local: install tools page $(if $(RUN_LOCAL_EXAMPLE),.build/examples/$(RUN_LOCAL_EXAMPLE)/app.js)
ifneq ($(RUN_LOCAL_EXAMPLE),)
	@test -f examples/$(RUN_LOCAL_EXAMPLE)/namespaces.yaml || { echo "no examples/$(RUN_LOCAL_EXAMPLE)/namespaces.yaml" >&2; exit 1; }
	@JETMESH_NAMESPACES='$(CURDIR)/examples/$(RUN_LOCAL_EXAMPLE)/namespaces.yaml' RUN_LOCAL_EXAMPLE='$(RUN_LOCAL_EXAMPLE)' RUN_LOCAL_REPLICAS='$(REPLICAS)' $(NODE_TSX) infra/local/run.ts
else
	@RUN_LOCAL_REPLICAS='$(REPLICAS)' $(NODE_TSX) infra/local/run.ts
endif

# A fresh stack (nats-server + PGlite + services, free ports, temp data) and
# one event through it. `make smoke-running` checks an already running stack.
smoke: install tools page
	@RUN_LOCAL_REPLICAS='$(REPLICAS)' $(NODE_TSX) infra/local/run.ts --smoke

smoke-running: install
	@$(NODE_TSX) infra/local/smoke.ts

# QUICK=1 for a run under three minutes; BENCH_ARGS="--phases=durability" for some
# phases, BENCH_ARGS="--channels=16 --rates=1000,5000"
# and BENCH_* variables change the load (bench/options.ts). Needs nats-server and
# PostgreSQL at DATABASE_URL like the tests; never part of `make test`.
# The peers phase needs Centrifugo, which plain `make tools` (and CI) does not build:
# it is built here on demand (minutes, once) unless CENTRIFUGO_BIN names one or the
# phases asked for leave peers out; if it cannot be built, its rows say "not run".
QUICK ?=
BENCH_ARGS ?=
bench: install tools ensure-postgres
	@phases="$$(printf '%s' '$(BENCH_ARGS)' | sed -n 's/.*--phases=\([^ ]*\).*/\1/p')"; \
	phases="$${phases:-$${BENCH_PHASES:-}}"; \
	if [ -z "$${CENTRIFUGO_BIN:-}" ] && { [ -z "$$phases" ] || printf ',%s,' "$$phases" | grep -q ',peers,'; }; then \
	  TOOLS=centrifugo bash infra/tools/install.sh || echo "make bench: Centrifugo was not built; the peers rows will say not run" >&2; \
	fi
	@QUICK='$(QUICK)' DATABASE_URL='$(TEST_DATABASE_URL)' $(NODE_TSX) bench/run.ts $(BENCH_ARGS)

# What tracing costs: off (no exporter) against OTLP export on; needs nats-server.
bench-tracing: install tools
	@$(NODE_TSX) bench/tracing-overhead.ts

# The examples of issue 15 (examples/, README "Examples"). The load generator
# publishes through ingest's HTTP API: INGEST_URL, and a token in JETMESH_TOKEN or
# from JETMESH_TOKEN_URL; ARGS passes flags (examples/load/cli.ts).
EXAMPLE ?= iot
.PHONY: example-load example-pages
example-load: install
	@test -f examples/$(EXAMPLE)/load.ts || { echo "no examples/$(EXAMPLE)/load.ts" >&2; exit 1; }
	@$(NODE_TSX) examples/$(EXAMPLE)/load.ts $(ARGS)

EXAMPLE_PAGES := $(patsubst examples/%/page/index.html,%,$(wildcard examples/*/page/index.html))
EXAMPLE_PAGE_SOURCES := $(wildcard examples/page/*.ts examples/*/page/* sdk/*.ts)

example-pages: $(foreach e,$(EXAMPLE_PAGES),.build/examples/$(e)/app.js)

.build/examples/%/app.js: $(EXAMPLE_PAGE_SOURCES) | install
	@echo "==> $* page into .build/examples/$*"
	@$(NODE_TSX) examples/page/build.ts $* .build/examples/$*

clean:
	@rm -rf .tap .data .build bench/results/*.tmp
	@echo "removed .tap .data .build bench/results/*.tmp"

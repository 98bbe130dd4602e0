# milvus-cdc — build, run and test the daemon.
#   make build   static binary (CGO_ENABLED=0) at bin/milvus-cdc
#   make run     daemon with configs/cdc.yaml and an embedded etcd (no other service)
#   make test    unit tests of the whole module (race detector when gcc exists), then short fuzzing
#   make fuzz    only the fuzz targets (FUZZTIME=10s by default)
#   make lint    go vet (also with -tags e2e) + gofmt check; package client depends only on api and the standard library
#   make deploy-check  helm lint + the Helm, compose, Dockerfile and alert-rule tests
#                (needs helm and promtool: go install, see .ci/run)
#   make proto   regenerate corelib/source/metapb

GO       ?= go
BIN      ?= bin/milvus-cdc
# The version milvus-cdc version and milvus_cdc_daemon_build_info report.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
CONFIG   ?= configs/cdc.yaml
FUZZTIME ?= 10s

# The race detector needs cgo, hence a C compiler; the product binary never uses cgo.
RACE := $(shell command -v gcc >/dev/null 2>&1 && echo -race)
TEST_CGO := $(if $(RACE),1,0)

.PHONY: build run test unit fuzz lint proto clean deploy-check

build:
	CGO_ENABLED=0 $(GO) build -buildvcs=auto -ldflags "-X github.com/milvus-cdc/milvus-cdc/internal/buildinfo.Version=$(VERSION)" -o $(BIN) ./cmd/milvus-cdc

# The embedded etcd keeps its data in ./data/etcd (a relative dataDir would be
# relative to the config file's directory, configs/).
run: build
	MILVUS_CDC_METASTORE_EMBED_DATADIR=$(CURDIR)/data/etcd ./$(BIN) --config $(CONFIG)

test: unit fuzz

unit:
	CGO_ENABLED=$(TEST_CGO) $(GO) test $(RACE) ./...

# One fuzz target per go test invocation (a go test -fuzz rule). Under heavy
# CPU contention a run with a duration -fuzztime can end in a bare "context
# deadline exceeded" without any failing input (a race in Go's fuzz
# coordinator at the deadline, fixed in Go 1.27); such a run is repeated
# once. A real failure writes its input under testdata/fuzz and fails at once.
define fuzz-one
	@for attempt in 1 2; do \
	  out=$$(CGO_ENABLED=0 $(GO) test $(1) -run '^$$' -fuzz '^$(2)$$' -fuzztime $(FUZZTIME) 2>&1); rc=$$?; \
	  if [ $$rc -eq 0 ]; then echo "$$out" | tail -1; break; fi; \
	  if [ $$attempt -eq 1 ] && echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
	    echo "$(2): spurious deadline failure of the fuzz coordinator, running it again"; continue; fi; \
	  echo "$$out"; exit $$rc; \
	done
endef

fuzz:
	$(call fuzz-one,./server/compat,FuzzDecodeRequest)
	$(call fuzz-one,./server/rest,FuzzDecodeStrict)
	$(call fuzz-one,./internal/strictjson,FuzzCheck)
	$(call fuzz-one,./corelib/source,FuzzDecodeMessage)
	$(call fuzz-one,./corelib/source,FuzzCatalogApply)
	$(call fuzz-one,./corelib/source,FuzzDecodeKafkaOffset)
	$(call fuzz-one,./corelib/source/mq,FuzzPulsarStartMessageID)
	$(call fuzz-one,./corelib/source,FuzzParseVChannel)

# The Go client must stay light: only package api and the standard library.
CLIENT_DEPS_ALLOWED := github.com/milvus-cdc/milvus-cdc/api github.com/milvus-cdc/milvus-cdc/client

lint:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...
	@extra=$$($(GO) list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./client | grep -vxF -e $(word 1,$(CLIENT_DEPS_ALLOWED)) -e $(word 2,$(CLIENT_DEPS_ALLOWED))); \
	if [ -n "$$extra" ]; then echo "package client may import only package api and the standard library; it pulls in:"; echo "$$extra"; exit 1; fi
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

proto:
	bash corelib/source/metapb/generate.sh

deploy-check:
	MILVUS_CDC_REQUIRE_DEPLOY_TOOLS=1 $(GO) test -count=1 ./deployments/

clean:
	rm -rf bin

# Test bed (testbed-up/down/status) and end-to-end targets.
-include deployments/testbed/testbed.mk

# Demo: the bed, the daemon and a task replicating sample data; left running.
.PHONY: demo demo-stop
demo:
	bash deployments/demo/demo.sh start --mq $(or $(MQ),pulsar)

demo-stop:
	bash deployments/demo/demo.sh stop

# Benchmark (bench/, docs/benchmarks.md). Per MQ and writer mode the bed comes
# up (deployments/testbed/testbed.sh up --mq M --target-mode api|replicate, in
# the caller's network namespace) and always comes down. Per configuration: the
# direct-insert baseline into the target (api mode; replicate mode reuses it),
# the drain of a backlog written while the task is paused, lag at half the
# source's own rate, the daemon's CPU and peak RSS; on each MQ's api bed the
# cost curve (tasks and collections, idle and under load), plotted to
# bench/results/cost-curve.png. Results: bench/results/latest.json and
# latest.md. Narrow a run with BENCH_FLAGS, e.g. BENCH_FLAGS='-mq kafka -modes
# api -dims 768 -batches 5000 -cost-curve ""'; measure another daemon with
# BENCH_FLAGS='-daemon-rev <commit>' or '-daemon-env GOMEMLIMIT=192MiB'.
.PHONY: bench bench-quick bench-cost bench-plot bench-kafka-writer
BENCH_FLAGS ?=
BENCH_JSON  ?= bench/results/latest.json
BENCH_PNG   ?= bench/results/cost-curve.png
# matplotlib for the plot, in a virtual environment outside the repository.
BENCH_VENV  ?= $(HOME)/.cache/milvus-cdc-bench/venv

# The plot is drawn even when a configuration failed; the exit code is the run's.
bench:
	@CGO_ENABLED=0 $(GO) run ./bench/cmd/bench -out $(BENCH_JSON) $(BENCH_FLAGS); rc=$$?; \
	$(MAKE) --no-print-directory bench-plot BENCH_JSON=$(BENCH_JSON) BENCH_PNG=$(BENCH_PNG) || true; \
	$(MAKE) --no-print-directory bench-kafka-writer || rc=1; exit $$rc

# The Kafka writer's events/s against a plain franz-go producer sending the
# writer's own encoded records, in the same iterations, to an in-process
# broker (no bed needed); the ratio writer/plain is the cost of encoding.
BENCH_KAFKA_TXT ?= bench/results/kafka-writer.txt
bench-kafka-writer:
	CGO_ENABLED=0 $(GO) test -run '^$$' -bench BenchmarkWriterVsPlainProducer -benchtime 30x ./corelib/sink/kafka/ | tee $(BENCH_KAFKA_TXT)

bench-quick:
	CGO_ENABLED=0 $(GO) run ./bench/cmd/bench -quick -out $(BENCH_JSON) $(BENCH_FLAGS)

# Only the cost curve (Pulsar unless BENCH_FLAGS says otherwise), then the plot.
bench-cost:
	@CGO_ENABLED=0 $(GO) run ./bench/cmd/bench -skip-drain -mq pulsar -modes api -cost-curve pulsar -out $(BENCH_JSON) $(BENCH_FLAGS); rc=$$?; \
	$(MAKE) --no-print-directory bench-plot BENCH_JSON=$(BENCH_JSON) BENCH_PNG=$(BENCH_PNG) || true; exit $$rc

# Redraws the cost-curve PNG from the JSON (no bed needed).
bench-plot: $(BENCH_VENV)/.matplotlib
	$(BENCH_VENV)/bin/python bench/plot_cost.py $(BENCH_JSON) $(BENCH_PNG)

$(BENCH_VENV)/.matplotlib:
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet 'matplotlib>=3.8'
	touch $@

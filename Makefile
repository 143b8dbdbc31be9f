# hivekv — see README.md. Every target works on a fresh machine with Go and
# the module proxy: the embedded etcd comes from go.mod.

GO       ?= go
PKGS     ?= ./...
# 2-core CI machines: keep package parallelism low so that embedded etcd
# servers of different packages do not starve each other.
TESTFLAGS ?= -race -p 2 -timeout 20m
# vet builds what it checks; with the tests' -race it shares that build with
# them instead of compiling every package (the etcd server included) a
# second time without the race detector.
VETFLAGS  ?= -race

.PHONY: all demo test vet lint bench cover tidy fuzz-smoke faults scale scale-mesh scale-fleet

all: lint test

## demo: run the composed hive demo on an embedded etcd (no setup needed)
demo:
	$(GO) run ./examples/demo

## test: vet, then every test with the race detector (one seeded run per
# fault scenario; make faults runs more), then a short fuzz run
test: vet
	$(GO) test $(TESTFLAGS) $(PKGS)
	$(MAKE) fuzz-smoke

## fuzz-smoke: fuzz each target for FUZZTIME (seeds also run in every go test)
FUZZTIME ?= 3s
FUZZ_TARGETS = \
	.:FuzzGetScopeFromKeyUTF8 \
	.:FuzzStateToCachePrefix \
	.:FuzzBackendOptions \
	./client/internal/keyset:FuzzKeySet \
	./client/internal/etcdfile:FuzzEtcdConfigFile
fuzz-smoke:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

## faults: the fault suite, FAULTS_RUNS seeded runs per scenario (make test
# runs 1). FAULTS_SEED picks the first seed; failing histories are written
# as HTML to FAULTS_OUT. See hivetest/faults.
FAULTS_RUNS ?= 100
FAULTS_SEED ?= 1
FAULTS_OUT  ?= $(CURDIR)/faults-out
faults:
	$(GO) test -race -p 1 -count=1 -timeout 90m -v ./hivetest/faults -run '^TestFaults$$' \
		-faults.runs=$(FAULTS_RUNS) -faults.seed=$(FAULTS_SEED) -faults.out=$(FAULTS_OUT)

## scale: both scale shapes, the clustermesh one and the agent fleet.
scale: scale-mesh scale-fleet

## scale-mesh: clustermesh in a box (docs/clustermesh.md): SCALE_CLUSTERS remote
# clusters in Cilium's CI shape mirrored by the kvstoremesh, a fault pass,
# a table; exits 1 when an agent's final view differs from the remote truth.
# SCALE_FLAGS adds flags (e.g. -churn 60s -servers 5 -cpuprofile cpu.out).
SCALE_CLUSTERS ?= 50
SCALE_FLAGS    ?=
scale-mesh:
	$(GO) run ./hivetest/meshscale/cmd/meshscale -clusters $(SCALE_CLUSTERS) $(SCALE_FLAGS)

## scale-fleet: FLEET_AGENTS agents (client + SyncStore + WatchStore each) on a
# 3-member embedded cluster; kills the leader, compacts past every watcher,
# restarts the whole cluster, and prints per fault the time to converge,
# requests by kind, relists and missing keys (fails if any is missing).
# See docs/fleet.md.
# FLEET_FAULTS=leader-kill,churn picks faults (churn: 200 updates/s for 10 s).
FLEET_AGENTS ?= 500
FLEET_FAULTS ?= all
FLEET_MAX_LISTS ?= 100
scale-fleet:
	$(GO) test -count=1 -timeout 60m -v ./hivetest/fleet -run '^TestScenario$$' \
		-fleet.agents=$(FLEET_AGENTS) -fleet.faults=$(FLEET_FAULTS) -fleet.max-lists-per-second=$(FLEET_MAX_LISTS)

vet:
	$(GO) vet $(VETFLAGS) $(PKGS)

## lint: gofmt check + vet
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## bench: compare our layer with raw clientv3 on the same server, print ratios
# Four runs, alternating which side of each pair runs first; benchratio
# prints the median over all of them.
bench:
	$(GO) test -c -o bench.test ./bench/
	for i in 0 1 0 1; do HIVEKV_BENCH_RAW_FIRST=$$i ./bench.test -test.run '^$$' -test.bench . -test.benchmem -test.benchtime 1000x -test.count 2; done | $(GO) run ./bench/cmd/benchratio
	rm -f bench.test

cover:
	$(GO) test -coverprofile=coverage.out $(PKGS)
	$(GO) tool cover -func=coverage.out | tail -1

tidy:
	$(GO) mod tidy

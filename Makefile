# repro-matrix: two commands on a fresh machine.
#   make matrix   runs the reproducibility matrix (offline `local` profile by default)
#   make test     runs the tests: unit, fuzz smoke, and end to end on real engines
#
# Both set the host up first (hack/setup-host.sh: packages, dockerd, host fixes).

PROFILE ?= local
LABELS  ?=
# One Ginkgo process per core (at most one per 2 GiB): each runs its own builders.
PROCS   ?= $(shell bash hack/procs.sh)
REPORTS ?= $(CURDIR)/reports
MATRIX  ?= $(CURDIR)/matrix.yaml
# Fuzz budgets as execution counts (about 20 s each here): a duration races
# Go 1.26's fuzz coordinator, which then fails a sound run with "context
# deadline exceeded" and no crasher (golang/go#75804, fixed in Go 1.27).
FUZZ_ANALYZE ?= 400000x
FUZZ_DIFF    ?= 40000x
# ONLINE=1 pulls pinned images by digest (through REPRO_MATRIX_REGISTRY_MIRRORS
# when set) instead of making them from their offline recipes.
ONLINE  ?=

GO      ?= go
GINKGO  := $(GO) tool ginkgo
# Long quiet commands say every 20 s that they are still going.
HB      := bash hack/heartbeat.sh
export TESTCONTAINERS_RYUK_DISABLED := true

.PHONY: all setup build matrix goldens test unit e2e suite-e2e fuzz lint bench bench-matrix clean fresh

all: build

setup:
	@$(HB) bash hack/setup-host.sh $(SETUP_FLAGS)

build:
	$(HB) $(GO) build -o bin/repro-matrix ./cmd/repro-matrix

# The main job: every cell of PROFILE, reports in $(REPORTS).
matrix: setup build
	bin/repro-matrix validate $(MATRIX)
	$(GINKGO) -p --procs=$(PROCS) --tags matrix --timeout=3h --grace-period=2m $(if $(LABELS),--label-filter='$(LABELS)') \
		./suites/matrix -- -matrix=$(MATRIX) -profile=$(PROFILE) -reports=$(REPORTS) $(if $(filter 1,$(ONLINE)),-online)

# Rewrite the golden digests from the last run's results and show what changed.
goldens: build
	bin/repro-matrix goldens --matrix $(MATRIX) $(REPORTS)/results.json

test: setup lint unit fuzz e2e suite-e2e

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(HB) $(GO) vet ./...
	$(HB) $(GO) vet -tags e2e,matrix ./...
	$(GO) tool actionlint
	shellcheck hack/*.sh bench/*.sh .ci/run internal/provision/engine/*.sh

unit:
	$(HB) $(GO) test -count=1 ./...

# The tarball reader must survive arbitrary input: a short fuzz run.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzAnalyze$$' -fuzztime $(FUZZ_ANALYZE) -fuzzminimizetime 20x ./internal/oci
	$(GO) test -run '^$$' -fuzz '^FuzzDiff$$' -fuzztime $(FUZZ_DIFF) -fuzzminimizetime 20x ./internal/imagediff

# End to end on real engines: the build core under host Docker and Podman,
# then the Ginkgo suite on a small matrix (and a non-reproducible fixture).
e2e:
	$(HB) $(GO) test -count=1 -tags e2e -timeout 60m ./internal/...

suite-e2e:
	$(HB) $(GO) test -count=1 -tags e2e -timeout 60m ./suites/...

bench:
	bash bench/analyze.sh

# The matrix against its floor: the smoke and bench profiles as `make matrix`
# runs them, then a plain buildctl build of each distinct build on a warm
# BuildKit; prints wall time, sum of cell times, floor and their ratio.
bench-matrix: setup
	$(GO) run ./bench/matrix -matrix $(MATRIX) -procs $(PROCS)

# The two commands rehearsed on a fresh machine: a bare Debian bookworm
# container with Go, git, make, gcc and the docker client, nothing cached
# (hack/fresh.sh). Not part of `make test`: it costs both commands' time.
fresh: setup
	bash hack/fresh.sh

clean:
	rm -rf bin
	find reports -mindepth 1 ! -name .gitkeep -exec rm -rf {} +

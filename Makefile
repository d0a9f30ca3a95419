# k8sverify — see README.md. Every target runs on a fresh machine with Go 1.26.
GO      ?= go
BIN     := bin/k8sverify
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
DEMO_DIR ?= $(CURDIR)/.demo

.PHONY: all build test vet unit bench fuzz mutation demo e2e tools release-check clean catalog

COSIGN_VERSION := v2.6.5
REGISTRY_VERSION := v3.1.2
# ko: the version goreleaser v2.15.1 (make release-check) builds the
# release's image with (its go.mod requires github.com/google/ko v0.18.1).
KO_VERSION := v0.18.1

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/k8sverify

vet:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	@# No function of the tool over cyclomatic complexity 20 (tests aside);
	@# gocyclo is pinned in go.mod (tool directive): no network after go mod download.
	$(GO) tool gocyclo -over 20 -ignore '_test\.go$$' pkg cmd

# unit runs every test and ends with the tests that skipped and why: the
# three that compare with the real cosign CLI skip unless it is built
# (make tools, once, from the module proxy; or $$K8SVERIFY_COSIGN).
unit:
	@if [ ! -x bin/cosign ] && [ -z "$$K8SVERIFY_COSIGN" ] && ! command -v cosign >/dev/null; then \
		echo "note: no cosign CLI (make tools builds bin/cosign): the tests comparing with it will skip"; fi
	$(GO) test -count=1 -json ./... | $(GO) run ./internal/tools/testsummary

test: vet unit

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# fuzz runs every fuzz target (go test -list '^Fuzz') for FUZZTIME each, one
# after another; `make test` runs their seed corpora (testdata/fuzz and
# f.Add) as ordinary tests. FUZZ=REGEXP selects targets.
FUZZTIME ?= 30s
FUZZPARALLEL ?= 2
FUZZMINIMIZETIME ?= 10s
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZPARALLEL=$(FUZZPARALLEL) FUZZMINIMIZETIME=$(FUZZMINIMIZETIME) scripts/fuzz.sh

# mutation runs go-gremlins (pinned; built from the Go module proxy on
# first use) over the decision code, one package at a time: it changes the
# code one operator at a time (a condition negated, < made <=, + made -),
# runs the package's own tests against each change, and fails below
# MUTATION_EFFICACY percent of covered mutants killed (gremlins' own
# --threshold-efficacy does not fail the run in v0.6.0: the JSON is
# checked here). Slow (about 45 min for pkg/verify's 300 mutants with 2
# workers on a busy 2-core machine), so not part of `make test`. Results:
# bin/mutation/<package>.txt (each mutant) and .json.
GREMLINS_VERSION := v0.6.0
MUTATION_PKGS ?= ./pkg/verify ./pkg/sigverify
MUTATION_WORKERS ?= 2
MUTATION_EFFICACY ?= 90
mutation:
	@mkdir -p bin/mutation
	@for p in $(MUTATION_PKGS); do \
		n=$$(basename $$p); rm -f bin/mutation/$$n.json; echo "== mutation testing $$p (bin/mutation/$$n.txt)"; \
		$(GO) run github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION) unleash \
			--workers $(MUTATION_WORKERS) --timeout-coefficient 10 \
			--output bin/mutation/$$n.json $$p 2>&1 | tee bin/mutation/$$n.txt || exit 1; \
		e=$$(grep -o '"test_efficacy":[0-9.]*' bin/mutation/$$n.json | cut -d: -f2); \
		awk -v e="$$e" -v min=$(MUTATION_EFFICACY) -v p=$$p 'BEGIN { if (e == "" || e + 0 < min) { printf "%s: efficacy %s%%, under %s%%\n", p, e, min; exit 1 } }' || exit 1; \
	done

demo: build
	@scripts/demo.sh "$(DEMO_DIR)"

# e2e runs the built binary as users do, against test worlds (one in a real
# registry process) and the real cosign CLI. It also builds k8sverify's
# container image with ko, as the release does (.goreleaser.yaml kos:, with
# .ko.yaml here), on a stand-in for the release's base image (the real one
# is on the internet), pushes it to the registry process, pulls it back and
# runs it there if a container runtime works (CONTAINER_RUNTIME=docker,
# podman, nerdctl or none; default: the first that answers `info`), and
# says so when none does. The first run compiles k8sverify for linux/amd64
# and linux/arm64 (a few minutes on 2 cores; cached after).
e2e: build tools
	$(GO) build -o bin/testworld ./internal/testworld/cmd/testworld
	$(GO) build -o bin/htpasswd ./internal/testworld/cmd/htpasswd
	$(GO) build -o bin/staticbase ./internal/testworld/cmd/staticbase
	@# crane (reads the image back) is go-containerregistry's, pinned in go.mod.
	$(GO) build -o bin/crane github.com/google/go-containerregistry/cmd/crane
	GO=$(GO) LDFLAGS='$(LDFLAGS)' scripts/e2e.sh

# tools installs what the tests run against, pinned, built from the Go module
# proxy into bin/ (a few minutes the first time): the real cosign CLI,
# distribution's registry and ko (builds the image without a Docker daemon).
# Installed with go install, not go.mod's tool directive, which would let
# their dependencies upgrade the product's (ko's would: golang.org/x/crypto,
# x/net).
tools: bin/cosign bin/registry bin/ko

bin/cosign:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION)

bin/registry:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/distribution/distribution/v3/cmd/registry@$(REGISTRY_VERSION)

bin/ko:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/google/ko@$(KO_VERSION)

# release-check validates .goreleaser.yaml (release archives, SBOMs and
# keyless signatures; never needed to build or test).
release-check:
	$(GO) run github.com/goreleaser/goreleaser/v2@v2.15.1 check

# catalog (re)writes the embedded catalog of release line LINE from the
# documents that publish its facts, each a file or an https URL: the line's
# CHANGELOG (tarball SHA-512, images), the image promoter's manifest (image
# digests) and endoflife-date's release dates (SCHEDULE, the website's
# data/releases/schedule.yaml, cross-checks them). BASE holds the hand-curated
# layout, sources, signing history and incidents: the line's own file, or
# for a new line the previous line's (then review the result).
#   make catalog LINE=1.36
#   make catalog LINE=1.37 BASE=pkg/artifacts/catalog/v1.36.json
#   make catalog LINE=1.24 CHANGELOG=/tmp/CHANGELOG-1.24.md IMAGES=/tmp/images.yaml RELEASES=/tmp/kubernetes.json
LINE      ?=
BASE      ?= pkg/artifacts/catalog/v$(LINE).json
CHANGELOG ?= https://raw.githubusercontent.com/kubernetes/kubernetes/master/CHANGELOG/CHANGELOG-$(LINE).md
IMAGES    ?= https://raw.githubusercontent.com/kubernetes/k8s.io/main/registry.k8s.io/images/k8s-staging-kubernetes/images.yaml
RELEASES  ?= https://raw.githubusercontent.com/endoflife-date/release-data/main/releases/kubernetes.json
SCHEDULE  ?=
catalog:
	@test -n "$(LINE)" || { echo "make catalog LINE=1.X [BASE=...] [CHANGELOG=...] [IMAGES=...] [RELEASES=...] [SCHEDULE=...]"; exit 2; }
	$(GO) run ./internal/catalog/cmd/catalog-gen -line $(LINE) -base $(BASE) \
		-changelog $(CHANGELOG) -images $(IMAGES) -releases $(RELEASES) $(if $(SCHEDULE),-schedule $(SCHEDULE)) \
		-o pkg/artifacts/catalog/v$(LINE).json

clean:
	rm -rf bin .demo dist

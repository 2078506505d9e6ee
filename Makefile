# Shoal — `make help` lists the targets.
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 15s
GOFLAGS_TEST ?= -timeout 30m

# golangci-lint at a pinned version, installed by `make tools` (and by lint
# on first use) where `go install` puts binaries.
GOLANGCI_LINT_VERSION ?= v2.15.0
GOBIN_DIR      = $(or $(shell $(GO) env GOBIN),$(firstword $(subst :, ,$(shell $(GO) env GOPATH)))/bin)
GOLANGCI_LINT  = $(GOBIN_DIR)/golangci-lint

.PHONY: help test test-kill test-short lint vet fmt-check golangci-lint tools fuzz bench bench-pipeline demo build clean generate check-generated

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-16s %s\n", $$1, $$2}'

test: lint ## the full test suite (what CI runs): lint, every test, a short fuzz of the decoder
	$(GO) test $(GOFLAGS_TEST) $(PKGS)
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./ingest

test-kill: ## the full crash test: 20 SIGKILLs of shoal run (the last three under a second after they start), then one run that must equal the oracle
	SHOAL_KILL_TEST_KILLS=20 $(GO) test -count=1 -timeout 30m -run '^TestExactlyOnceUnderSIGKILL$$' -v ./cmd/shoal

test-short: ## unit tests only (skips whole-binary tests)
	$(GO) test -short $(PKGS)

lint: vet fmt-check golangci-lint ## go vet, gofmt and golangci-lint (.golangci.yml: import rules, errors, doc comments)

vet: ## go vet
	$(GO) vet $(PKGS)

fmt-check: ## fail if any file is not gofmt-clean
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

golangci-lint: tools ## golangci-lint run with .golangci.yml (installs the pinned version first if needed)
	$(GOLANGCI_LINT) run

tools: ## install golangci-lint at GOLANGCI_LINT_VERSION with go install (skipped when that version is there)
	@if [ "v$$($(GOBIN_DIR)/golangci-lint version --short 2>/dev/null)" = "$(GOLANGCI_LINT_VERSION)" ]; then echo "golangci-lint $(GOLANGCI_LINT_VERSION) already in $(GOBIN_DIR)"; exit 0; fi; \
	echo "go install golangci-lint $(GOLANGCI_LINT_VERSION) (a cold build takes minutes)"; \
	GOTOOLCHAIN=local $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

fuzz: ## fuzz the decoder for longer (FUZZTIME=10m make fuzz)
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./ingest

bench: ## Go benchmarks of the hot paths, with allocations
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

PRESET ?= small
BENCH_FLAGS ?=
bench-pipeline: ## shoal bench: Shoal vs the kafka-go ceiling, a naive pipeline and DuckDB read_json; writes BENCHMARKS.md (PRESET=small|large, BENCH_FLAGS="--duckdb-memory-limit 256MB --go-memory-limit 320MiB" as BENCHMARKS.md runs large)
	$(GO) run ./cmd/shoal bench --preset $(PRESET) $(BENCH_FLAGS) --out BENCHMARKS.md

demo: ## run the demo organisation through the whole pipeline
	$(GO) run ./cmd/shoal demo

generate: ## regenerate the committed Grafana dashboards (deploy/grafana/dashboards) from the metric catalog
	$(GO) run ./cmd/shoal dashboards --out deploy/grafana/dashboards

check-generated: generate ## fail if the committed generated files differ from a fresh generate
	git diff --exit-code -- deploy/grafana/dashboards
	@untracked=$$(git ls-files --others --exclude-standard deploy/grafana/dashboards); if [ -n "$$untracked" ]; then echo "untracked generated files (commit them):"; echo "$$untracked"; exit 1; fi

build: ## build bin/shoal
	$(GO) build -o bin/shoal ./cmd/shoal

clean: ## remove build output and demo data
	rm -rf bin shoal-demo

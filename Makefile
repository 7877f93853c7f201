# nixbox — run `make help` for the targets.
#
# The first two commands of the README do all set-up themselves on a fresh
# Debian/Ubuntu machine (root, or a user with sudo):
#   make demo   build, prepare Nix and a demo app, run it sandboxed
#   make test   install what is missing and run every test

SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# sudo keeps the environment (PATH for go, the NIXBOX_* variables) with -E.
SUDO_E := $(if $(SUDO),sudo -E env PATH="$(PATH)",)
GO ?= go
BIN := $(CURDIR)/bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
PURE_PKGS := ./profiles/... ./seccomp/... ./runtime/closure/... ./runtime/specgen/... \
	./runtime/hostenv/... ./runtime/rootfs/... ./runtime/appres/... ./runtime/hostfs/... ./runtime/cgroups/...
FIXTURES_ENV := $(CURDIR)/build/fixtures.env

.PHONY: help build setup fixtures test unit integration lint golden fuzz demo bench clean

help: ## show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

# Never add the nixbox_testing tag here: it adds the allow-all seccomp policy of
# the escape suite's no-seccomp test build (seccomp/testing_on.go), which the
# integration harness builds for itself.
build: ## build bin/nixbox (cgo, -tags seccomp libsqlite3) and the static bin/nixbox-init (cgo, glibc static)
	@mkdir -p $(BIN)
	CGO_ENABLED=1 $(GO) build -tags 'seccomp libsqlite3' -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN)/nixbox ./cmd/nixbox
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags '-s -w -linkmode external -extldflags "-static"' -o $(BIN)/nixbox-init ./cmd/nixbox-init

setup: ## install missing packages, configure single-user Nix, create the test user (needs root)
	$(SUDO) scripts/setup-host.sh

fixtures: setup ## build the Nix store fixtures (coreutils, bash, python3, curl, demo, synthetic closures)
	$(SUDO) scripts/build-fixtures.sh

lint: ## gofmt, go vet, and the cgo-free build of the pure packages
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags 'seccomp libsqlite3' ./...
	CGO_ENABLED=0 $(GO) build $(PURE_PKGS)
	@if command -v nix-instantiate >/dev/null; then nix-instantiate --parse flake.nix >/dev/null; fi

unit: ## hermetic unit, golden and fuzz-seed tests
	$(GO) test -tags 'seccomp libsqlite3' -count=1 ./...

integration: build fixtures ## real sandboxes, as root and as the unprivileged user nixbox-test
	NIXBOX_BIN=$(BIN)/nixbox NIXBOX_INIT_BIN=$(BIN)/nixbox-init NIXBOX_FIXTURES=$(FIXTURES_ENV) \
		$(SUDO_E) $(GO) test -tags 'integration seccomp libsqlite3' -count=1 -timeout 20m ./integration/... ./runtime/closure/...

test: setup lint unit integration fuzz ## everything CI runs: set-up, lint, unit, integration and bounded fuzz tests

golden: ## rewrite golden files after an intended change
	$(GO) test ./runtime/specgen/ ./seccomp/ ./profiles/ -update

fuzz: ## run each fuzz target for a bounded time (FUZZTIME=20s each; corpus in testdata/fuzz)
	@set -e; for t in profiles:FuzzParse profiles:FuzzExpandPath profiles:FuzzMerge runtime/specgen:FuzzProfileToSpec; do \
		echo "fuzz $${t#*:} ($(or $(FUZZTIME),20s))"; \
		$(GO) test -run '^$$' -fuzz="^$${t#*:}\$$" -fuzztime=$(or $(FUZZTIME),20s) ./$${t%%:*}; done

demo: build fixtures ## run the demo app sandboxed and show what it can and cannot see
	$(SUDO) scripts/demo.sh $(BIN)/nixbox $(FIXTURES_ENV)

bench: build fixtures ## time nixbox vs bwrap, crun, runc (rootless); writes docs/benchmarks.md and .png
	$(SUDO) scripts/setup-bench.sh
	$(SUDO) scripts/bench-fixtures.sh
	$(SUDO_E) $(GO) run ./bench -repo $(CURDIR) -fixtures $(CURDIR)/build/bench/fixtures.env \
		-nixbox $(BIN)/nixbox -nixbox-init $(BIN)/nixbox-init

clean: ## remove build outputs (not the Nix store fixtures)
	rm -rf $(BIN)

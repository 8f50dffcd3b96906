# Nova's build. Every Go module in the tree (the root module, cmd/nova and each
# functions/<name>) is found by its go.mod, so a new function is built, vetted
# and tested without editing this file.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

BIN := $(CURDIR)/bin
# The nova command. Tests run its Kafka broker and S3 server (nova kafka,
# nova s3) as child processes, found through NOVA_BIN, so that the root
# module never carries them; every target that runs tests builds it first.
NOVA := $(BIN)/nova
export NOVA_BIN := $(NOVA)
# Jaeger, for the trace test (found through NOVA_JAEGER_BIN) and
# make run TRACE=1.
JAEGER := $(BIN)/jaeger
export NOVA_JAEGER_BIN := $(JAEGER)

# Code generators, pinned; installed into bin/ (git-ignored) on first use.
BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
BUF := $(BIN)/buf
PROTOC_GEN_GO := $(BIN)/protoc-gen-go
# The linter, pinned; its checks are in .golangci.yaml.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint

# Directories holding a go.mod, skipping hidden folders (build scaffolds,
# run-time data), testdata, bin and tools (modules that only pin a program
# we build, such as Jaeger). The root module comes first.
MODULES = $(shell find . -mindepth 1 \( -name '.*' -o -name testdata -o -name bin -o -name node_modules -o -path ./tools \) -prune \
	-o -name go.mod -printf '%h\n' | sort)

# Each module is checked on its own, as `kn func build` sees it: go.work is for
# editors and `go run`, not for deciding whether a module builds.
CHECK_ENV := GOWORK=off
# The end-to-end package (cmd/nova/internal/e2e) takes about 12 minutes
# under -race on two cores beside the other modules' tests (make test runs
# them at once: tools/test-modules.sh); the others far less.
TESTFLAGS ?= -timeout 25m
BENCH ?= .
BENCHFLAGS ?=
# How long make fuzz runs each fuzz target; FUZZFLAGS go to each go test -fuzz
# (a short minimisation leaves more of FUZZTIME to fuzzing).
FUZZTIME ?= 30s
FUZZFLAGS ?= -fuzzminimizetime=10s
# KEEP_GOING=1 runs every module's tests and lists the failures at the end
# instead of stopping at the first failing module.
KEEP_GOING ?=
ARGS ?=
# The manifest check (nova manifests): its schemas, generated from pinned
# module versions, and the Strimzi validator with its npm packages.
MANIFEST_DIR := cmd/nova/internal/manifests/validation
STRIMZI_DIR := $(MANIFEST_DIR)/strimzi
# nova-api's OpenAPI document and Redocly CLI, the linter openapi-lint runs
# on it, pinned with its integrity in the package-lock.json there.
OPENAPI_DIR := shared/api/openapi
# The AsyncAPI CLI asyncapi-lint validates schemas/asyncapi.json with, pinned
# with its integrity in the package-lock.json there.
ASYNCAPI_DIR := shared/event/asyncapi/lint
# The fault suite (cmd/nova/internal/e2e) writes its report here; make test
# prints it at the end, since go test hides a passing package's output.
FAULT_REPORT := $(CURDIR)/.nova/fault-report.txt

.PHONY: help nova jaeger install run test test-short vet lint lint-tools bench fuzz tidy proto proto-check tools eventing-check deploy-check schemas schemas-check strimzi-deps openapi-deps openapi-lint asyncapi asyncapi-deps asyncapi-lint manifests-check work release pin unpin modules

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

modules: ## print the Go modules the other targets work on
	@printf '%s\n' $(MODULES)

nova: ## build the nova command into bin/ (the tests run its nova kafka and nova s3)
	@mkdir -p $(BIN)
	@cd cmd/nova && $(CHECK_ENV) go build -o $(NOVA) .

# install puts nova where go install does (GOBIN, else the first GOPATH
# entry's bin), says where, and says so when that folder is not on PATH.
install: ## install the nova command with go install (into GOBIN, default $(go env GOPATH)/bin) and say where
	@cd cmd/nova && $(CHECK_ENV) go install .
	@dir=$$(cd cmd/nova && go env GOBIN); \
	if [ -z "$$dir" ]; then gopath=$$(cd cmd/nova && go env GOPATH); dir="$${gopath%%:*}/bin"; fi; \
	echo "installed nova as $$dir/nova"; \
	case ":$$PATH:" in *":$$dir:"*) ;; \
		*) echo "$$dir is not on PATH; add it, e.g. in ~/.profile: export PATH=\"$$dir:\$$PATH\"";; \
	esac

# run builds bin/nova, then becomes it (exec), so nova's exit status is the
# recipe's: `go run` answers a Ctrl-C with status 1 however cleanly the
# program stopped, which make reports as an error. go build -v names each
# package it compiles; the filter passes module downloads and errors through
# and counts the rest, so a first build is not a minute of silence.
run: $(if $(TRACE),jaeger) ## build bin/nova, then run the whole system on this machine (nova run; extra flags in ARGS="..."; TRACE=1 with Jaeger and tracing)
	@[ -f cmd/nova/go.mod ] || { echo "make run: cmd/nova (the nova command) is not in this tree" >&2; exit 1; }
	@mkdir -p $(BIN)
	@echo "building bin/nova (a first build downloads modules and compiles about 900 packages: a minute or two; after that, seconds)…"
	@start=$$(date +%s); \
	(cd cmd/nova && $(CHECK_ENV) go build -v -o $(NOVA) . 2>&1) | awk '\
		/^go: downloading / { print "  " $$0; fflush(); next } \
		/^[^ \t#]+$$/ { if (++n % 100 == 0) { printf "  %d packages compiled…\n", n; fflush() } next } \
		{ print; fflush() }'; \
	echo "built bin/nova in $$(( $$(date +%s) - start ))s; starting it"
	@exec $(NOVA) run $(if $(TRACE),--trace --jaeger-bin $(JAEGER)) $(ARGS)

# Jaeger all-in-one, the version tools/jaeger/go.mod pins (a tool
# directive): `nova run --trace` (make run TRACE=1) and the trace test run
# it. A first build compiles about 1,500 packages (several minutes on two
# cores); after that the build cache makes it seconds.
jaeger: ## build bin/jaeger (Jaeger all-in-one, pinned in tools/jaeger/go.mod) for make run TRACE=1 and the trace test
	@mkdir -p $(BIN)
	@cd tools/jaeger && GOWORK=off go build -o $(JAEGER) github.com/jaegertracing/jaeger/cmd/jaeger

test: nova jaeger lint proto-check schemas-check openapi-lint asyncapi-lint eventing-check strimzi-deps ## lint, proto and schema staleness, the OpenAPI and AsyncAPI lints, deploy-check, then go vet and go test -race in every module
	@failed=(); \
	mkdir -p $(dir $(FAULT_REPORT)); rm -f $(FAULT_REPORT); \
	trap 'if [ -f $(FAULT_REPORT) ]; then echo "==> fault suite report ($(FAULT_REPORT))"; cat $(FAULT_REPORT); fi' EXIT; \
	echo "==> deploy-check: every function built as kn func builds it, started and stopped"; \
	if ! $(MAKE) deploy-check; then \
		echo "make test: deploy-check failed" >&2; \
		if [ -z "$(KEEP_GOING)" ]; then exit 1; fi; failed+=("deploy-check"); \
	fi; \
	NOVA_FAULT_REPORT=$(FAULT_REPORT) TESTFLAGS="$(TESTFLAGS)" KEEP_GOING="$(KEEP_GOING)" \
		tools/test-modules.sh ./cmd/nova $(filter-out ./cmd/nova,$(MODULES)) || failed+=("the modules' tests"); \
	if [ $${#failed[@]} -gt 0 ]; then printf 'make test: failed in %s\n' "$${failed[@]}" >&2; exit 1; fi

test-short: nova ## the edit loop: every module's tests at once (workspace mode), -short, without -race, deploy-check and the end-to-end and fault suites (make test runs everything)
	@pkgs=$$(go list $(addsuffix /...,$(MODULES)) | grep -v '/cmd/nova/internal/e2e$$'); \
	go test -short -p 4 $(TESTFLAGS) $$pkgs || { echo "make test-short: tests failed" >&2; exit 1; }

vet: ## go vet in every module
	@for m in $(MODULES); do \
		echo "==> $$m: go vet"; \
		(cd "$$m" && $(CHECK_ENV) go vet ./...) || { echo "make vet: go vet failed in module $$m" >&2; exit 1; }; \
	done

lint: lint-tools ## golangci-lint (.golangci.yaml: gofmt, vet, staticcheck, errcheck, gosec, revive, ...) in every module
	@for m in $(MODULES); do \
		echo "==> $$m: golangci-lint"; \
		(cd "$$m" && $(CHECK_ENV) $(GOLANGCI_LINT) run --config $(CURDIR)/.golangci.yaml ./...) \
			|| { echo "make lint: golangci-lint found problems in module $$m" >&2; exit 1; }; \
	done

lint-tools: ## install the pinned golangci-lint into bin/
	@mkdir -p $(BIN)
	@if ! $(GOLANGCI_LINT) version 2>/dev/null | grep -q "version $(GOLANGCI_LINT_VERSION:v%=%) "; then \
		echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) into bin/ (a cold build takes a minute or two)"; \
		GOBIN=$(BIN) GOWORK=off GOFLAGS= go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	fi

bench: nova ## go test -bench in every module (BENCH=regexp, BENCHFLAGS="-benchtime=...")
	@for m in $(MODULES); do \
		echo "==> $$m: go test -bench '$(BENCH)'"; \
		(cd "$$m" && $(CHECK_ENV) go test -run '^$$' -bench '$(BENCH)' -benchmem $(BENCHFLAGS) ./...) \
			|| { echo "make bench: benchmarks failed in module $$m" >&2; exit 1; }; \
	done

fuzz: nova ## run every fuzz target in the tree for FUZZTIME each (default 30s); findings land in testdata/fuzz
	@for m in $(MODULES); do \
		for d in $$(cd "$$m" && grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do \
			[ "$$(cd "$$m/$$d" && go env GOMOD)" = "$$(cd "$$m" && go env GOMOD)" ] || continue; \
			targets=$$(cd "$$m/$$d" && $(CHECK_ENV) go test -list '^Fuzz' .) || { echo "make fuzz: cannot list the fuzz targets of $$m/$${d#./}" >&2; exit 1; }; \
			for t in $$(grep '^Fuzz' <<<"$$targets"); do \
				echo "==> $$m/$${d#./}: $$t for $(FUZZTIME)"; \
				(cd "$$m/$$d" && $(CHECK_ENV) go test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) .) \
					|| { echo "make fuzz: $$t in $$m/$${d#./} failed (the failing input is under testdata/fuzz/$$t)" >&2; exit 1; }; \
			done; \
		done; \
	done

tidy: ## go mod tidy in every module
	@for m in $(MODULES); do \
		echo "==> $$m: go mod tidy"; \
		(cd "$$m" && $(CHECK_ENV) go mod tidy) || { echo "make tidy: go mod tidy failed in module $$m" >&2; exit 1; }; \
	done

work: ## regenerate go.work from the go.mod files found
	@rm -f go.work
	@go work init $(MODULES)
	@echo "go.work: $(MODULES)"

tools: ## install the pinned buf and protoc-gen-go into bin/
	@mkdir -p $(BIN)
	@if [ "$$($(BUF) --version 2>/dev/null)" != "$(BUF_VERSION:v%=%)" ]; then \
		echo "installing buf $(BUF_VERSION) into bin/ (a cold build takes a minute or two)"; \
		GOBIN=$(BIN) GOWORK=off go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION); \
	fi
	@if [ "$$($(PROTOC_GEN_GO) --version 2>/dev/null)" != "protoc-gen-go $(PROTOC_GEN_GO_VERSION)" ]; then \
		echo "installing protoc-gen-go $(PROTOC_GEN_GO_VERSION) into bin/"; \
		GOBIN=$(BIN) GOWORK=off go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION); \
	fi

proto: tools ## lint the protos and regenerate the Go code in schemas/
	cd schemas && $(BUF) lint
	cd schemas && PATH="$(BIN):$$PATH" $(BUF) generate

proto-check: tools ## fail when the protos do not lint or the committed *.pb.go are stale
	@cd schemas && $(BUF) lint || { echo "make proto-check: buf lint failed in schemas/" >&2; exit 1; }
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd schemas && PATH="$(BIN):$$PATH" $(BUF) generate -o "$$tmp"); \
	want=$$(cd "$$tmp" && find . -name '*.pb.go' | sort); \
	have=$$(cd schemas && find . -name '*.pb.go' | sort); \
	if [ "$$want" != "$$have" ]; then \
		echo "make proto-check: generated files (<) differ from the committed ones (>) (run make proto):" >&2; \
		diff <(echo "$$want") <(echo "$$have") >&2 || true; exit 1; \
	fi; \
	stale=0; \
	for f in $$want; do \
		if ! cmp -s "$$tmp/$$f" "schemas/$$f"; then \
			echo "make proto-check: schemas/$${f#./} is stale (run make proto):" >&2; \
			diff -u "schemas/$$f" "$$tmp/$$f" | head -40 >&2 || true; stale=1; \
		fi; \
	done; \
	[ $$stale -eq 0 ] && echo "proto-check: buf lint clean, generated code up to date"

eventing-check: ## build eventing/ and every eventing/overlays/* with kustomize (kubectl), as kubectl apply -k would
	@if command -v kubectl >/dev/null; then \
		for k in eventing/ $$(find eventing/overlays -mindepth 2 -maxdepth 2 -name kustomization.yaml -printf '%h/\n' 2>/dev/null | sort); do \
			kubectl kustomize "$$k" >/dev/null || { echo "make eventing-check: kustomize cannot build $$k" >&2; exit 1; }; \
			echo "eventing-check: kubectl kustomize $$k builds"; \
		done; \
	else \
		echo "eventing-check: kubectl not installed, kustomize builds NOT checked (shared/event/catalog tests still check the listing; nova run builds in process)"; \
	fi

deploy-check: manifests-check ## validate eventing/ and its overlays (manifests-check), then build every function as kn func (pack) would, run each as Knative would, and end to end (ARGS="--only nova-api --keep")
	cd cmd/nova && $(CHECK_ENV) go run . deploy-check --root ../.. $(ARGS)

release: ## pin the functions to VERSION=vX.Y.Z of the root module, commit, tag VERSION, unpin and commit (nothing is pushed)
	@[ -n "$(VERSION)" ] || { echo "usage: make release VERSION=vX.Y.Z" >&2; exit 2; }
	cd cmd/nova && $(CHECK_ENV) go run . release --root ../.. --version $(VERSION)

schemas: ## regenerate the manifest check's schemas from their pinned module versions (go mod download)
	cd cmd/nova && $(CHECK_ENV) go run ./internal/manifests/validation/schemagen -out internal/manifests/validation/schemas

schemas-check: ## fail naming each committed manifest schema that differs from its pinned source
	@cd cmd/nova && $(CHECK_ENV) go run ./internal/manifests/validation/schemagen -check internal/manifests/validation/schemas \
		|| { echo "make schemas-check: $(MANIFEST_DIR)/schemas is stale (run make schemas)" >&2; exit 1; }

strimzi-deps: ## install the Strimzi validator's pinned npm packages (npm ci) for the manifest check
	@command -v npm >/dev/null || { echo "make strimzi-deps: npm (Node.js) is not installed" >&2; exit 1; }
	@if [ ! -f $(STRIMZI_DIR)/node_modules/.package-lock.json ] \
		|| [ $(STRIMZI_DIR)/package-lock.json -nt $(STRIMZI_DIR)/node_modules/.package-lock.json ]; then \
		echo "strimzi-deps: npm ci in $(STRIMZI_DIR)"; \
		(cd $(STRIMZI_DIR) && npm ci --no-audit --no-fund --loglevel=error) \
			|| { echo "make strimzi-deps: npm ci failed in $(STRIMZI_DIR)" >&2; exit 1; }; \
	fi

openapi-deps: ## install the pinned Redocly CLI (npm ci) for openapi-lint
	@command -v npm >/dev/null || { echo "make openapi-deps: npm (Node.js) is not installed" >&2; exit 1; }
	@node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) || (a === 20 && b >= 19) ? 0 : 1)' \
		|| { echo "make openapi-deps: Redocly CLI needs Node.js 20.19+ or 22.12+, not $$(node --version)" >&2; exit 1; }
	@if [ ! -f $(OPENAPI_DIR)/node_modules/.package-lock.json ] \
		|| [ $(OPENAPI_DIR)/package-lock.json -nt $(OPENAPI_DIR)/node_modules/.package-lock.json ]; then \
		echo "openapi-deps: npm ci in $(OPENAPI_DIR)"; \
		(cd $(OPENAPI_DIR) && npm ci --no-audit --no-fund --loglevel=error) \
			|| { echo "make openapi-deps: npm ci failed in $(OPENAPI_DIR)" >&2; exit 1; }; \
	fi

openapi-lint: openapi-deps ## redocly lint of nova-api's OpenAPI document (rules in shared/api/openapi/redocly.yaml; every problem fails)
	@cd $(OPENAPI_DIR) && REDOCLY_SUPPRESS_UPDATE_NOTICE=true node_modules/.bin/redocly lint openapi.yaml \
		|| { echo "make openapi-lint: $(OPENAPI_DIR)/openapi.yaml does not pass redocly lint" >&2; exit 1; }

asyncapi: ## regenerate schemas/asyncapi.json and docs/events.md from the catalogue and the schema (go test ./shared/event/asyncapi fails while they are stale)
	$(CHECK_ENV) go test ./shared/event/asyncapi -run TestDocumentsAreCurrent -count=1 -update

asyncapi-deps: ## install the pinned AsyncAPI CLI (npm ci) for asyncapi-lint
	@command -v npm >/dev/null || { echo "make asyncapi-deps: npm (Node.js) is not installed" >&2; exit 1; }
	@if [ ! -f $(ASYNCAPI_DIR)/node_modules/.package-lock.json ] \
		|| [ $(ASYNCAPI_DIR)/package-lock.json -nt $(ASYNCAPI_DIR)/node_modules/.package-lock.json ]; then \
		echo "asyncapi-deps: npm ci in $(ASYNCAPI_DIR) (a first install takes a minute or two)"; \
		(cd $(ASYNCAPI_DIR) && npm ci --no-audit --no-fund --loglevel=error) \
			|| { echo "make asyncapi-deps: npm ci failed in $(ASYNCAPI_DIR)" >&2; exit 1; }; \
	fi

# CI=true keeps the CLI from sending usage metrics; its settings file stays
# beside its node_modules.
asyncapi-lint: asyncapi-deps ## validate schemas/asyncapi.json with the AsyncAPI CLI (every diagnostic, down to info, fails)
	@CI=true ASYNCAPI_METRICS_CONFIG_PATH=$(CURDIR)/$(ASYNCAPI_DIR)/node_modules/.asyncapi-analytics SUPPRESS_NO_CONFIG_WARNING=1 \
		$(ASYNCAPI_DIR)/node_modules/.bin/asyncapi validate schemas/asyncapi.json --fail-severity=info 2>&1 | grep -v '^WARNING: ' ; \
		[ $${PIPESTATUS[0]} -eq 0 ] || { echo "make asyncapi-lint: schemas/asyncapi.json does not pass asyncapi validate" >&2; exit 1; }

manifests-check: nova strimzi-deps ## validate what kubectl apply -k sends, for eventing/ and every eventing/overlays/*/ (nova manifests)
	@$(NOVA) manifests --root $(CURDIR)

pin: ## point every functions/*/go.mod at release VERSION=vX.Y.Z of the root module (for kn func deploy)
	@[ -n "$(VERSION)" ] || { echo "usage: make pin VERSION=vX.Y.Z" >&2; exit 2; }
	cd cmd/nova && $(CHECK_ENV) go run . pin --root ../.. --version $(VERSION)

unpin: ## restore the local replace of the root module in every functions/*/go.mod
	cd cmd/nova && $(CHECK_ENV) go run . unpin --root ../..

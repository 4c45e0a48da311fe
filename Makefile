# hasidecar — see README.md. `make demo` and `make test` are the two set-up commands.
GO      ?= go
BIN     := bin
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
PKGS    := ./...

.PHONY: all build test test-short bench demo lint fuzz proto deps clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/hasidecar ./cmd/hasidecar

deps:
	@./scripts/install-deps.sh

# The whole suite: unit tests and the lab tests in network namespaces (root).
test: deps
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 30m $(PKGS)

# Unit tests only: no namespaces, no root.
test-short:
	$(GO) test -short -count=1 $(PKGS)

# Measurements, hasidecar beside keepalived in the same run; prints a table.
bench: deps build
	@mkdir -p $(BIN)
	$(GO) test -tags bench -count=1 -timeout 60m -run '^TestBench$$' -v ./test/e2e/ | tee $(BIN)/bench.log | grep -v '^ *[0-9-]*T[0-9:.]*Z\|^=== \|^ *hasidecar log\|^ *keepalived log'

demo: deps build
	./scripts/demo.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzUnmarshal -fuzztime 60s ./host/vrrp/packet/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./host/config/

clean:
	rm -rf $(BIN)

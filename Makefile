# hasidecar — see README.md. `make demo` and `make test` are the two set-up commands.
GO      ?= go
BIN     := bin
# Recipes run under bash with pipefail: `go test | tee | grep` fails when the
# test does, not only when grep does.
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c
# One version for the binary and the package, so that `hasidecar version`
# prints what dpkg shows (a package version must start with a digit).
VERSION ?= 0.1.0+git$(shell git rev-parse --short HEAD 2>/dev/null || echo 0)
GO_NEED := $(shell sed -n 's/^go //p' go.mod)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Static binaries: no libc or loader mapped into the daemon and each of its
# plugins, which saves about 1.5 MiB of resident memory per process.
export CGO_ENABLED := 0
BUILD   := $(GO) build -trimpath -ldflags "$(LDFLAGS)"
PKGS    := ./...

.PHONY: all build test test-short bench soak demo lint fuzz proto deps clean package go-check

all: build

# Says plainly when Go is missing or older than go.mod needs (a Go of 1.21 or
# newer fetches the right toolchain itself, which `go env` below triggers).
go-check:
	@command -v $(GO) >/dev/null 2>&1 || { echo "make: Go is not installed or not on PATH ($(GO)): hasidecar needs Go $(GO_NEED) or newer; install it from https://go.dev/dl/ and add /usr/local/go/bin to PATH" >&2; exit 1; }
	@have=$$($(GO) env GOVERSION 2>/dev/null | sed 's/^go//'); \
	if [ -z "$$have" ] || [ "$$(printf '%s\n%s\n' "$(GO_NEED)" "$$have" | sort -V | head -n1)" != "$(GO_NEED)" ]; then \
		echo "make: $$($(GO) version 2>&1 | head -n1) is older than the Go $(GO_NEED) that go.mod needs; install Go $(GO_NEED) or newer from https://go.dev/dl/" >&2; exit 1; fi

PLUGINS := icmp tcp httpget script

# One executable: the built-in plugins are the same file, started under the
# name hasidecar-plugin-NAME (a symlink) in their own processes.
build: go-check
	$(BUILD) -o $(BIN)/hasidecar ./cmd/hasidecar
	@for p in $(PLUGINS); do ln -sfn hasidecar $(BIN)/hasidecar-plugin-$$p; done

deps:
	@./scripts/install-deps.sh

# The whole suite: unit tests and the lab tests in network namespaces (root).
test: go-check deps
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 30m $(PKGS)

# Unit tests only: no namespaces, no root.
test-short: go-check
	$(GO) test -short -count=1 $(PKGS)

# Measurements, hasidecar beside keepalived in the same run; prints a table.
bench: deps build
	@mkdir -p $(BIN)
	$(GO) test -tags bench -count=1 -timeout 60m -run '^TestBench$$' -v ./test/e2e/ | tee $(BIN)/bench.log | grep -v '^ *[0-9-]*T[0-9:.]*Z\|^=== \|^ *hasidecar log\|^ *keepalived log'

# 10 ms adverts for 10 minutes with the other core busy, hasidecar beside
# keepalived (HASIDECAR_SOAK=1m for a shorter pass).
soak: go-check deps
	$(GO) test -tags bench -count=1 -timeout 30m -run '^TestSoak10msAdverts$$' -v ./test/e2e/ | tee $(BIN)/soak.log | grep -v '^ *[0-9-]*T[0-9:.]*Z\|^=== \|^ *hasidecar log\|^ *keepalived log'

demo: deps build
	./scripts/demo.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)

# Each fuzz target for a minute (FUZZTIME=10s for a quick pass): the packet
# decoder, the socket's header parsing, the configuration loader, what the
# host does with a plugin's replies, the keepalived.conf importer, and the
# ARP frames that reveal a duplicate VIP owner.
FUZZTIME ?= 60s
fuzz: go-check
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime $(FUZZTIME) ./host/vrrp/packet/
	$(GO) test -run '^$$' -fuzz '^FuzzAccept$$' -fuzztime $(FUZZTIME) ./host/vrrpconn/
	$(GO) test -run '^$$' -fuzz '^FuzzAccept6$$' -fuzztime $(FUZZTIME) ./host/vrrpconn/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./host/config/
	$(GO) test -run '^$$' -fuzz '^FuzzPluginReply$$' -fuzztime $(FUZZTIME) ./host/checkspec/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./host/kaconf/
	$(GO) test -run '^$$' -fuzz '^FuzzConvert$$' -fuzztime $(FUZZTIME) ./host/kaimport/
	$(GO) test -run '^$$' -fuzz '^FuzzParseClaim$$' -fuzztime $(FUZZTIME) ./host/vipguard/
	$(GO) test -run '^$$' -fuzz '^FuzzParseAdvert$$' -fuzztime $(FUZZTIME) ./host/ndp/

# Regenerates sdk/pluginpb from sdk/proto/checker.proto (protoc from Debian's
# protobuf-compiler; the Go generators from the module proxy).
proto:
	@command -v protoc >/dev/null || apt-get install -y -qq protobuf-compiler
	GOBIN=$(CURDIR)/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
	GOBIN=$(CURDIR)/bin $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
	PATH=$(CURDIR)/bin:$$PATH protoc -I sdk/proto \
		--go_out=sdk/pluginpb --go_opt=paths=source_relative \
		--go-grpc_out=sdk/pluginpb --go-grpc_opt=paths=source_relative \
		sdk/proto/checker.proto

# The Debian package (dist/hasidecar_VERSION_amd64.deb), built with nfpm from
# the module proxy. The version must start with a digit for dpkg.
NFPM_VERSION := v2.41.3
PKG_VERSION  ?= $(VERSION)
package: go-check
	$(MAKE) --no-print-directory build VERSION=$(PKG_VERSION)
	@test -x $(BIN)/nfpm || GOBIN=$(CURDIR)/$(BIN) CGO_ENABLED=0 $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
	@mkdir -p dist
	HASIDECAR_PKG_VERSION=$(PKG_VERSION) $(BIN)/nfpm package --config packaging/nfpm.yaml --packager deb --target dist/

clean:
	rm -rf $(BIN) dist

# hasidecar — see README.md. `make demo` and `make test` are the two set-up commands.
GO      ?= go
BIN     := bin
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Static binaries: no libc or loader mapped into the daemon and each of its
# plugins, which saves about 1.5 MiB of resident memory per process.
export CGO_ENABLED := 0
BUILD   := $(GO) build -trimpath -ldflags "$(LDFLAGS)"
PKGS    := ./...

.PHONY: all build test test-short bench soak demo lint fuzz proto deps clean package

all: build

PLUGINS := icmp tcp httpget script

# One executable: the built-in plugins are the same file, started under the
# name hasidecar-plugin-NAME (a symlink) in their own processes.
build:
	$(BUILD) -o $(BIN)/hasidecar ./cmd/hasidecar
	@for p in $(PLUGINS); do ln -sfn hasidecar $(BIN)/hasidecar-plugin-$$p; done

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

# 10 ms adverts for 10 minutes with the other core busy, hasidecar beside
# keepalived (HASIDECAR_SOAK=1m for a shorter pass).
soak: deps
	$(GO) test -tags bench -count=1 -timeout 30m -run '^TestSoak10msAdverts$$' -v ./test/e2e/ | tee $(BIN)/soak.log | grep -v '^ *[0-9-]*T[0-9:.]*Z\|^=== \|^ *hasidecar log\|^ *keepalived log'

demo: deps build
	./scripts/demo.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)

# Each fuzz target for a minute (FUZZTIME=10s for a quick pass): the packet
# decoder, the socket's header parsing, the configuration loader, and what
# the host does with a plugin's replies.
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime $(FUZZTIME) ./host/vrrp/packet/
	$(GO) test -run '^$$' -fuzz '^FuzzAccept$$' -fuzztime $(FUZZTIME) ./host/vrrpconn/
	$(GO) test -run '^$$' -fuzz '^FuzzAccept6$$' -fuzztime $(FUZZTIME) ./host/vrrpconn/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./host/config/
	$(GO) test -run '^$$' -fuzz '^FuzzPluginReply$$' -fuzztime $(FUZZTIME) ./host/checkspec/

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
PKG_VERSION  ?= 0.1.0+git$(shell git rev-parse --short HEAD 2>/dev/null || echo 0)
package: build
	@test -x $(BIN)/nfpm || GOBIN=$(CURDIR)/$(BIN) CGO_ENABLED=0 $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
	@mkdir -p dist
	HASIDECAR_PKG_VERSION=$(PKG_VERSION) $(BIN)/nfpm package --config packaging/nfpm.yaml --packager deb --target dist/

clean:
	rm -rf $(BIN) dist

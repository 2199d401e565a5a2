# pkid — see README.md. Every target installs what it needs.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/pkid
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/pkid/pkid/core/cli.Version=$(VERSION)
export PKID_STATE_DIR ?= $(CURDIR)/.state

.PHONY: all build run demo test bench bench-scale proto fmt vet lint clean example-plugin

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/pkid

# A dev CA daemon on the embedded SQLite store: state in .state/dev (created
# on first start with a root and an issuing CA), http://127.0.0.1:8888.
run: build
	./bin/pkid serve -dev -state $(PKID_STATE_DIR)/dev

# A walk through the CLI: configured CA, gencert, pkid json, openssl verify,
# certstore list, a third-party plugin pinned by sha256.
demo: build
	./scripts/demo.sh

example-plugin:
	cd examples/plugins/keystore-memory && GOWORK=off $(GO) build -o ../../../bin/pkid-plugin-memory .

test:
	./scripts/test.sh

bench:
	./scripts/bench.sh

# The certstore at 1M (and 10M where the disk allows) certificates; tens of
# minutes per size (scripts/bench-scale.sh says what it skips and why).
bench-scale:
	./scripts/bench-scale.sh

# Regenerates the committed protobuf code.
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
proto:
	command -v protoc >/dev/null || (apt-get update -qq && apt-get install -y -qq protobuf-compiler)
	GOBIN=$(CURDIR)/bin $(GO) install $(PROTOC_GEN_GO)
	GOBIN=$(CURDIR)/bin $(GO) install $(PROTOC_GEN_GO_GRPC)
	cd sdk && PATH=$(CURDIR)/bin:$$PATH protoc -I proto -I /usr/include \
		--go_out=. --go_opt=module=github.com/pkid/pkid/sdk \
		--go-grpc_out=. --go-grpc_opt=module=github.com/pkid/pkid/sdk \
		pkid/plugin/v1/plugin.proto pkid/plugin/v1/docs.proto

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...
	cd sdk && $(GO) vet ./...

clean:
	rm -rf bin .state

# Installs pkid into $(PREFIX)/bin (default /usr/local) and, with
# CFSSL_LINKS=1 (the default), symlinks under CFSSL's binary names: started
# by those names pkid behaves as CFSSL (docs/cfssl-dropin.md). An existing
# file of that name that is not already such a link is left alone.
PREFIX     ?= /usr/local
CFSSL_LINKS ?= 1
CFSSL_NAMES := cfssl cfssljson multirootca mkbundle cfssl-bundle cfssl-certinfo cfssl-newkey cfssl-scan
.PHONY: install
install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/pkid
	@if [ "$(CFSSL_LINKS)" = 1 ]; then for n in $(CFSSL_NAMES); do \
		t=$(DESTDIR)$(PREFIX)/bin/$$n; \
		if [ -e "$$t" ] && [ "$$(readlink "$$t")" != pkid ]; then echo "install: $$t exists, not replaced" >&2; continue; fi; \
		ln -sfn pkid "$$t" && echo "$$t -> pkid"; \
	done; fi

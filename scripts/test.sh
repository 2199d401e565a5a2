#!/usr/bin/env bash
# make test: static checks, then every module's tests. Under CI=true a
# missing component fails the run; nothing is silently skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

# Test oracles and independent clients: real CFSSL (formats, cfssljson
# byte-identity) and openssl (chain verification).
if ! command -v openssl >/dev/null; then
	echo "== installing openssl"
	apt-get update -qq && apt-get install -y -qq openssl >/dev/null
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! id postgres >/dev/null 2>&1; then
	echo "== installing PostgreSQL (store-postgres tests start a throwaway cluster)"
	apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ] || ! id mysql >/dev/null 2>&1; then
	echo "== installing MariaDB (store-cfssl tests start a throwaway server)"
	apt-get update -qq && apt-get install -y -qq mariadb-server >/dev/null
fi
if ! command -v softhsm2-util >/dev/null || [ ! -e /usr/lib/softhsm/libsofthsm2.so ]; then
	echo "== installing SoftHSM2 (PKCS#11 tests)"
	apt-get update -qq && apt-get install -y -qq softhsm2 >/dev/null
fi
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
	echo "== installing nginx (pkid agent tests serve it renewed files)"
	apt-get update -qq && { apt-get install -y -qq nginx-light >/dev/null || apt-get install -y -qq nginx >/dev/null; }
fi
if ! command -v chromium >/dev/null; then
	echo "== installing Chromium (the dashboard is tested in a headless browser)"
	apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
if ! command -v promtool >/dev/null; then
	echo "== installing promtool (the metrics exposition is checked with it)"
	apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if ! command -v certbot >/dev/null; then
	echo "== installing certbot (the ACME server is tested with it as a client)"
	apt-get update -qq && apt-get install -y -qq --no-install-recommends certbot >/dev/null
fi
cfssl_tools="cfssl cfssljson multirootca mkbundle cfssl-bundle cfssl-scan"
for t in $cfssl_tools; do
	if [ ! -x "bin/$t" ]; then
		echo "== installing the CFSSL v1.6.5 oracles ($cfssl_tools) into bin/"
		GOBIN="$PWD/bin" $GO install $(for t in $cfssl_tools; do printf 'github.com/cloudflare/cfssl/cmd/%s@v1.6.5 ' "$t"; done)
		break
	fi
done
export PKID_ORACLE_DIR="$PWD/bin"
# The Sunlight CT log core/ct's tests submit to (cgo; a minute or more),
# built here once so the build does not count against a test's timeout.
if [ ! -x bin/sunlight-v0.8.1 ]; then
	echo "== building the Sunlight CT log (v0.8.1) into bin/"
	(cd internal/ctlogtest/sunlight && GOWORK=off CGO_ENABLED=1 $GO build -mod=mod -o ../../../bin/sunlight-v0.8.1.tmp filippo.io/sunlight/cmd/sunlight) &&
		mv bin/sunlight-v0.8.1.tmp bin/sunlight-v0.8.1
fi

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' | grep -v '\.pb\.go$') 2>/dev/null || true)
if [ -n "$bad" ]; then echo "gofmt would change:"; echo "$bad"; exit 1; fi

# Comments point to docs/, not to a specification outside the repository.
echo "== doc references"
./scripts/check-doc-refs.sh

# Every module's go.mod and go.sum as go mod tidy leaves them; the diff
# says what to change. It reads the module cache (and the proxy only for
# what is missing there); GOWORK=off because tidy is per module.
echo "== go mod tidy -diff"
for mod in . sdk examples/plugins/keystore-memory examples/plugins/scancheck-example; do
	if ! diff=$(cd "$mod" && GOWORK=off $GO mod tidy -diff 2>&1); then
		echo "$mod is not tidy (run: cd $mod && go mod tidy):"; echo "$diff"; exit 1
	fi
done

# go.work joins the modules for development; the sdk and the example
# plugin are also checked as a plugin author builds them: alone, the
# example against the sdk through its own replace (GOWORK=off).
echo "== go vet"
$GO vet ./...
(cd sdk && GOWORK=off $GO vet ./...)
(cd examples/plugins/keystore-memory && GOWORK=off $GO vet ./...)
(cd examples/plugins/scancheck-example && GOWORK=off $GO vet ./...)

echo "== go test (sdk)"
(cd sdk && GOWORK=off $GO test -count=1 ./...)
echo "== go test (example plugins)"
(cd examples/plugins/keystore-memory && GOWORK=off $GO test -count=1 ./...)
(cd examples/plugins/scancheck-example && GOWORK=off $GO test -count=1 ./...)
echo "== go test (pkid)"
$GO test -count=1 -timeout 12m ./...
echo "== fuzz (every target, 10,000 executions each)"
./scripts/fuzz.sh

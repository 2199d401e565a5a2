#!/usr/bin/env bash
# Runs every fuzz target for a bounded number of executions (FUZZ_EXECS,
# default 10000) and prints one line per target. Fails when a target finds
# a crasher (go test writes it to the package's testdata/fuzz: commit it as
# a regression seed with the fix) or makes fewer than FUZZ_EXECS executions.
# Minimization is capped: by default it may take 60 s per new input, during
# which no execution is counted.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
EXECS=${FUZZ_EXECS:-10000}

# package target: one line each. A new func Fuzz* that is not listed here
# fails the run (below), so none is forgotten.
targets=(
	"./core/config FuzzLoad"
	"./core/ui FuzzParseQuery"
	"./core/server FuzzDecodeRequest"
	"./core/server FuzzUnwrap"
	"./core/server FuzzParseCertID"
	"./core/server/responder FuzzParseRequest"
	"./core/server/responder FuzzHandler"
	"./core/ca FuzzEncodeCRLEntry"
	"./core/ca/profile FuzzParseCFSSL"
	"./core/ca/csr FuzzParse"
	"./core/ca/csr FuzzParseCSR"
	"./core/ca/csr FuzzParsePrivateKey"
	"./core/ca/csr FuzzDNSName"
	"./core/aia FuzzParseCerts"
	"./plugins/keystore-file FuzzParsePrivateKeyPEM"
	"./core/scan FuzzReadCSV"
	"./core/scan FuzzNormalizeHost"
	"./plugins/scan-checks FuzzParseHSTS"
	"./plugins/scan-checks FuzzParseTarget"
	"./plugins/trust-files FuzzParseCerts"
	"./core/bundle FuzzParseChain"
	"./plugins/keystore-split FuzzParseDelegation"
	"./plugins/keystore-split FuzzTokenRecipient"
	"./core/ct FuzzParseLogList"
	"./core/ct FuzzEmbeddedSCTs"
	"./plugins/store-cfssl FuzzParseDBConfig"
	"./plugins/store-cfssl FuzzMetadata"
	"./plugins/store-cfssl FuzzMySQLConfig"
	"./core/audit FuzzParseLine"
	"./core/cli FuzzParseRoots"
	"./core/cli FuzzTranslateSigning"
	"./core/forward FuzzProbe"
	"./core/acme FuzzParseEnvelope"
	"./core/acme FuzzCheckCSR"
	"./core/acme/validation FuzzParseCAAValue"
	"./core/acme/validation FuzzCheckALPNCert"
	"./core/acme/validation FuzzHandler"
)

listed=$(printf '%s\n' "${targets[@]}" | awk '{print $2}' | sort)
found=$(git grep -h -o '^func Fuzz[A-Za-z0-9_]*' -- '*_test.go' | sed 's/^func //' | sort)
if [ "$listed" != "$found" ]; then
	echo "fuzz.sh: the target list differs from the func Fuzz* in the tree:"
	diff <(echo "$listed") <(echo "$found") || true
	exit 1
fi

fail=0
start=$SECONDS
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	t0=$SECONDS
	status=ok
	if ! $GO test -run '^$' -fuzz "^${name}\$" -fuzztime "${EXECS}x" -fuzzminimizetime 100x \
		-timeout 120s "$pkg" >"$log" 2>&1; then
		status=FAIL
	fi
	# The last progress line carries the execution count.
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | awk '{print $2}')
	execs=${execs:-0}
	if [ "$status" = ok ] && [ "$execs" -lt "$EXECS" ]; then
		status="FAIL (fewer than $EXECS executions)"
	fi
	printf 'fuzz %-24s %-28s %7d execs %4ds %s\n' "$pkg" "$name" "$execs" $((SECONDS - t0)) "$status"
	if [ "$status" != ok ]; then
		fail=1
		sed 's/^/    /' "$log"
	fi
done
echo "fuzz: ${#targets[@]} targets in $((SECONDS - start))s"
exit $fail

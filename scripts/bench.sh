#!/usr/bin/env bash
# make bench: Go benchmarks, with every figure next to its anchor as a ratio
# measured in the same run (these machines are shared and noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
$GO test -run '^$' -bench . -benchtime ${BENCHTIME:-2s} -count ${BENCHCOUNT:-1} \
	./core/pluginhost/ ./plugins/keystore-file/ ./plugins/store-sqlite/ | tee "$out"
echo
echo "== ratios (same run)"
# Out-of-process signing vs in-process, per concurrency.
awk '
/^BenchmarkSignP256\// {
	split($1, p, "/"); mode=p[2]; conc=p[3]; sub(/-[0-9]+$/, "", conc)
	ns[mode "/" conc]=$3
}
END {
	for (c in ns) { }
	split("c1 c32", cs, " ")
	for (i in cs) {
		c=cs[i]
		if ((("inprocess/" c) in ns) && (("process/" c) in ns)) {
			printf "keystore-file ECDSA P-256 sign, %s: out-of-process / in-process time per signature = %.2fx (%s vs %s ns/op)\n", c, ns["process/" c]/ns["inprocess/" c], ns["process/" c], ns["inprocess/" c]
		}
	}
}' "$out"

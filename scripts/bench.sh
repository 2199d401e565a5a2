#!/usr/bin/env bash
# make bench: Go benchmarks, with every figure next to its anchor as a ratio
# measured in the same run (these machines are shared and noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
# BenchmarkSignVsCFSSL32 runs the real cfssl serve and creates CFSSL's certdb
# from its migrations in the module cache; go install puts both in place.
if [ ! -x bin/cfssl ] || [ ! -d "$($GO env GOMODCACHE)/github.com/cloudflare/cfssl@v1.6.5/certdb/sqlite/migrations" ]; then
	GOBIN="$PWD/bin" $GO install github.com/cloudflare/cfssl/cmd/cfssl@v1.6.5 github.com/cloudflare/cfssl/cmd/cfssljson@v1.6.5
fi
export PKID_ORACLE_DIR=${PKID_ORACLE_DIR:-$PWD/bin}
out=$(mktemp)
ab=$(mktemp -d)
trap 'rm -f "$out"; rm -rf "$ab"' EXIT
# BENCH_BASE (default: where this branch left main, when that is not HEAD)
# is measured beside the working tree: its pkid serve in
# BenchmarkSignVsCFSSL32 and its core/ca issuance (with today's
# BenchmarkIssue) at the end.
base_rev=${BENCH_BASE:-$(git merge-base HEAD main 2>/dev/null || true)}
if [ -n "$base_rev" ] && [ "$(git rev-parse "$base_rev")" != "$(git rev-parse HEAD)" ]; then
	git archive "$base_rev" | tar -x -C "$ab"
	cp core/ca/bench_test.go "$ab/core/ca/"
	(cd "$ab" && $GO build -o "$ab/pkid-base" ./cmd/pkid && $GO test -c -o "$ab/before.test" ./core/ca)
	export PKID_BENCH_BASE_PKID="$ab/pkid-base"
else
	base_rev=
fi
$GO test -p 1 -run '^$' -bench . -benchtime ${BENCHTIME:-2s} -count ${BENCHCOUNT:-3} \
	./core/pluginhost/ ./core/ca/ ./core/groupcommit/ ./plugins/keystore-file/ ./plugins/store-sqlite/ \
	./plugins/keystore-pkcs11/ ./plugins/store-postgres/ ./core/cli/ ./core/server/ ./core/bundle/ ./core/ct/ ./core/scan/ 2>&1 | grep -av '\[DEBUG\]' | tee "$out"
$GO test -p 1 -run '^$' -bench BenchmarkACMEOrderVsSign -benchtime 20x -count ${BENCHCOUNT:-3} ./core/acme/ 2>&1 | grep -av 'level=' | tee -a "$out" # ACME orders (lego, http-01) beside /sign: sign/acme-ratio
echo
echo "== ratios (same run; means over -count runs)"
awk '
function metric(name,   i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
/^BenchmarkSignP256\// {
	split($1, p, "/"); k = p[2] "/" p[3]; sub(/-[0-9]+$/, "", k)
	ns[k] += metric("ns/op"); cpu[k] += metric("cpu-ns/op"); n[k]++
}
/^BenchmarkPKCS11Sign\// {
	split($1, p, "/"); c = p[4]; sub(/-[0-9]+$/, "", c); k = p[2] "/" p[3] "/" c
	pk[k] += metric("ns/op"); npk[k]++
}
/^BenchmarkIssue-/              { iss += metric("ns/op"); isscpu += metric("cpu-ns/op"); niss++ }
/^BenchmarkSignVsCFSSL32\// {
	split($1, p, "/"); k = p[2]; sub(/-[0-9]+$/, "", k); sub(/#[0-9]+$/, "", k)
	vs[k] += metric("requests/s"); vs50[k] += metric("p50-ms"); vs99[k] += metric("p99-ms"); vsref[k] += metric("refused/op"); vscpu[k] += metric("server-cpu-us/op"); nvs[k]++
}
/^BenchmarkServeSign32-/ { ss += metric("cpu-ns/op"); nss++ }
/^BenchmarkCreateCertificate-/  { cc += metric("ns/op"); ncc++ }
/^BenchmarkPut32\/direct-/      { gd += metric("ns/op"); ngd++ }
/^BenchmarkPut32\/groupcommit-/ { gg += metric("ns/op"); ngg++ }
/^pkg: / { pkg = $2; sub(/.*\//, "", pkg) }
/^BenchmarkPut-/        { put[pkg] += metric("records/s"); nput[pkg]++ }
/^BenchmarkPutBatch64-/ { batch[pkg] += metric("records/s"); nbatch[pkg]++ }
/^BenchmarkDaemonSign32\/sqlite-/   { dsq += metric("requests/s"); ndsq++ }
/^BenchmarkDaemonSign32\/postgres-/ { dpg += metric("requests/s"); ndpg++ }
/^BenchmarkDaemonOCSP32\// {
	split($1, p, "/"); k = p[2]; sub(/-[0-9]+$/, "", k)
	docsp[k] += metric("requests/s"); ndocsp[k]++
}
/^BenchmarkCRL\// {
	split($1, p, "/"); k = p[2]; sub(/-[0-9]+$/, "", k)
	crlns[k] += metric("ns/op"); crlheap[k] += metric("peak-heap-MB"); crlmb[k] += metric("crl-MB"); ncrl[k]++
}
/^BenchmarkBundle\// {
	split($1, p, "/"); k = p[2]; sub(/-[0-9]+$/, "", k)
	bun[k] += metric("p50-ns/op"); nbun[k]++
}
/^BenchmarkSignUnderKeygen\/idle-/        { ski += metric("ns/op"); nski++ }
/^BenchmarkSignUnderKeygen\/keygen-load-/ { skl += metric("ns/op"); nskl++ }
/^BenchmarkIssueCT\/ct-2of3-/ { ct50 += metric("p50-ms"); ct99 += metric("p99-ms"); ctper = metric("period-ms"); nct++ }
/^BenchmarkIssueCT\/no-ct-/    { nc50 += metric("p50-ms"); nc99 += metric("p99-ms"); nnc++ }
/^BenchmarkOCSPPresign\// {
	split($1, p, "/"); k = p[2]; sub(/-[0-9]+$/, "", k)
	pre[k] += metric("responses/s"); npre[k]++
}
/^BenchmarkScan256\// {
	split($1, p, "/"); k = p[2] "/" p[3]; sub(/-[0-9]+$/, "", k)
	scan[k] += metric("hosts/s"); nscan[k]++
}
END {
	split("c1 c32", cs, " ")
	for (i = 1; i <= 2; i++) {
		c = cs[i]; a = "process/" c; b = "inprocess/" c
		if (!(a in n) || !(b in n)) continue
		printf "keystore-file P-256 sign, %s callers: out-of-process/in-process = %.2fx wall (%.0f vs %.0f ns/op), %.2fx CPU (%.0f vs %.0f cpu-ns/op)\n",
			substr(c, 2), (ns[a]/n[a])/(ns[b]/n[b]), ns[a]/n[a], ns[b]/n[b], (cpu[a]/n[a])/(cpu[b]/n[b]), cpu[a]/n[a], cpu[b]/n[b]
	}
	split("P256 RSA2048", algs, " ")
	for (j = 1; j <= 2; j++) for (i = 1; i <= 2; i++) {
		a = algs[j] "/plugin/" cs[i]; b = algs[j] "/direct/" cs[i]
		if (!(a in npk) || !(b in npk)) continue
		printf "keystore-pkcs11 %s sign (SoftHSM), %s callers: plugin/direct = %.2fx time per signature (%.0f vs %.0f signatures/s)\n",
			algs[j], substr(cs[i], 2), (pk[a]/npk[a])/(pk[b]/npk[b]), 1e9/(pk[a]/npk[a]), 1e9/(pk[b]/npk[b])
	}
	if (niss && ncc)
		printf "core/ca issuance (P-256; CSR verify, policy, lint) vs bare x509.CreateCertificate: %.2fx time per certificate (%.0f vs %.0f certs/s)\n", (iss/niss)/(cc/ncc), 1e9/(iss/niss), 1e9/(cc/ncc)
	if (niss)
		printf "core/ca issuance CPU per certificate (BenchmarkIssue, P-256, default lint, no store): %.0f us\n", isscpu/niss/1000
	if (nss)
		printf "pkid POST /sign in one process (BenchmarkServeSign32: HTTP, lint, sign, SQLite record, clients included): %.0f us CPU per request\n", ss/nss/1000
	if ("pkid" in nvs) {
		pv = vs["pkid"]/nvs["pkid"]
		for (k in nvs) if (k != "pkid")
			printf "POST /sign, 32 clients, same run: pkid serve (default: plugins out of process, linted, recorded in SQLite) / %s = %.2fx certificates/s (%.0f vs %.0f); p50 %.1f vs %.1f ms, p99 %.1f vs %.1f ms%s\n", k, pv/(vs[k]/nvs[k]), pv, vs[k]/nvs[k], vs50["pkid"]/nvs["pkid"], vs50[k]/nvs[k], vs99["pkid"]/nvs["pkid"], vs99[k]/nvs[k], (vsref[k] > 0 ? sprintf("; %s refused %.1f%% of requests (database is locked)", k, 100*vsref[k]/nvs[k]) : "")
		for (k in nvs)
			printf "server CPU per issued certificate (daemon and its plugin processes), %s: %.0f us = %.2fx pkid\n", k, vscpu[k]/nvs[k], (vscpu[k]/nvs[k])/(vscpu["pkid"]/nvs["pkid"])
		if ("pkid-base" in nvs)
			printf "pkid serve before/after (BENCH_BASE, same run): %.2fx certificates/s, %.2fx server CPU per certificate\n", pv/(vs["pkid-base"]/nvs["pkid-base"]), (vscpu["pkid"]/nvs["pkid"])/(vscpu["pkid-base"]/nvs["pkid-base"])
		if ("pkid-inprocess" in nvs)
			printf "price of isolation, end to end: pkid builtins in process / out of process = %.2fx requests/s, out of process / in process = %.2fx server CPU per certificate (goal <= 1.15x)\n", (vs["pkid-inprocess"]/nvs["pkid-inprocess"])/pv, (vscpu["pkid"]/nvs["pkid"])/(vscpu["pkid-inprocess"]/nvs["pkid-inprocess"])
	}
	if (ngd && ngg)
		printf "store-sqlite, 32 concurrent writers: group commit / one transaction per Put = %.1fx throughput (%.0f vs %.0f records/s)\n", (gd/ngd)/(gg/ngg), 1e9/(gg/ngg), 1e9/(gd/ngd)
	for (sp in nput) if (sp in nbatch)
		printf "%s: 64 records per transaction / 1 per transaction = %.1fx (%.0f vs %.0f records/s)\n", sp, (batch[sp]/nbatch[sp])/(put[sp]/nput[sp]), batch[sp]/nbatch[sp], put[sp]/nput[sp]
	if (("store-postgres" in nbatch) && ("store-sqlite" in nbatch))
		printf "raw batched insert rate (64 per transaction): store-postgres / store-sqlite = %.2fx (%.0f vs %.0f records/s)\n", (batch["store-postgres"]/nbatch["store-postgres"])/(batch["store-sqlite"]/nbatch["store-sqlite"]), batch["store-postgres"]/nbatch["store-postgres"], batch["store-sqlite"]/nbatch["store-sqlite"]
	if (ndsq && ndpg)
		printf "pkid serve sign, 32 clients over loopback: PostgreSQL store / SQLite store = %.2fx (%.0f vs %.0f requests/s)\n", (dpg/ndpg)/(dsq/ndsq), dpg/ndpg, dsq/ndsq
	if (("health" in ndocsp) && ("ca-cert" in ndocsp))
		for (k in ndocsp) if (k ~ /^ocsp/)
			printf "pkid serve OCSP %s (pre-signed), 32 clients: %.0f responses/s = %.2fx the static CA-certificate path (%.0f requests/s), %.2fx health (store probe, %.0f requests/s), same daemon\n", k, docsp[k]/ndocsp[k], (docsp[k]/ndocsp[k])/(docsp["ca-cert"]/ndocsp["ca-cert"]), docsp["ca-cert"]/ndocsp["ca-cert"], (docsp[k]/ndocsp[k])/(docsp["health"]/ndocsp["health"]), docsp["health"]/ndocsp["health"]
	for (k in ncrl) {
		m = ncrl[k]
		size = crlmb[k] > 0 ? sprintf(", CRL %.1f MB", crlmb[k]/m) : ""
		printf "CRL generation (P-256, streaming unless stdlib) %s: %.0f ms, peak live heap %.2f MB%s\n", k, crlns[k]/m/1e6, crlheap[k]/m, size
	}
	if (("entries=100000" in ncrl) && ("stdlib-100000" in ncrl))
		printf "CRL of 100,000 entries: x509.CreateRevocationList / streaming encoder = %.1fx time, %.0fx peak heap\n", (crlns["stdlib-100000"]/ncrl["stdlib-100000"])/(crlns["entries=100000"]/ncrl["entries=100000"]), (crlheap["stdlib-100000"]/ncrl["stdlib-100000"])/(crlheap["entries=100000"]/ncrl["entries=100000"])
	if (("entries=100000" in ncrl) && ("entries=1000000" in ncrl))
		printf "CRL of 1,000,000 vs 100,000 entries: %.1fx time, %.2fx peak heap (bounded memory)\n", (crlns["entries=1000000"]/ncrl["entries=1000000"])/(crlns["entries=100000"]/ncrl["entries=100000"]), (crlheap["entries=1000000"]/ncrl["entries=1000000"])/(crlheap["entries=100000"]/ncrl["entries=100000"])
	if (("pkid-warm" in nbun) && ("pkid-cold" in nbun) && ("cfssl-process" in nbun) && ("cfssl-startup" in nbun)) {
		cf = bun["cfssl-process"]/nbun["cfssl-process"] - bun["cfssl-startup"]/nbun["cfssl-startup"]
		w = bun["pkid-warm"]/nbun["pkid-warm"]; c = bun["pkid-cold"]/nbun["pkid-cold"]
		printf "bundle, 3-certificate chain, 150 roots + 500 intermediates loaded (p50): CFSSL 1.6.5 (cfssl bundle minus cfssl version process start) / pkid pool loaded = %.1fx (%.2f vs %.3f ms)\n", cf/w, cf/1e6, w/1e6
		printf "bundle, same inputs, each run reading the PEM files (p50): CFSSL 1.6.5 (process minus start) / pkid read+index+bundle = %.2fx (%.2f vs %.2f ms)\n", cf/c, cf/1e6, c/1e6
	}
	if (nski && nskl)
		printf "pkid serve sign latency, one client, while newkey RSA-4096 saturates the key generation bound (2 at once) / idle: %.2fx (%.2f vs %.2f ms)\n", (skl/nskl)/(ski/nski), skl/nskl/1e6, ski/nski/1e6
	if (nct && nnc)
		printf "issuance under a 2-of-3 CT policy (3 local Sunlight logs, sequencing period %d ms) / without CT: p50 %.1fx (%.1f vs %.2f ms), p99 %.1fx (%.1f vs %.2f ms)\n", ctper, (ct50/nct)/(nc50/nnc), ct50/nct, nc50/nnc, (ct99/nct)/(nc99/nnc), ct99/nct, nc99/nnc
	split("latency=0s latency=20ms", lats, " ")
	for (i = 1; i <= 2; i++) {
		a = lats[i] "/concurrency=10"; b = lats[i] "/concurrency=1"
		if (!(a in nscan) || !(b in nscan)) continue
		printf "pkid scan (builtin Connectivity checks), 256 loopback endpoints, %s added per connection: default concurrency (10) / 1 = %.2fx (%.1f vs %.1f hosts/s)\n", substr(lats[i], 9), (scan[a]/nscan[a])/(scan[b]/nscan[b]), scan[a]/nscan[a], scan[b]/nscan[b]
	}
	if (("refresh" in npre) && ("bare" in npre))
		printf "OCSP bulk pre-signing (RefreshOCSP through the store) / bare ocsp.CreateResponse, 8 workers each: %.2fx (%.0f vs %.0f responses/s)\n", (pre["refresh"]/npre["refresh"])/(pre["bare"]/npre["bare"]), pre["refresh"]/npre["refresh"], pre["bare"]/npre["bare"]
}' "$out"

# Issuance CPU before/after, interleaved in this session, then the top of
# both CPU profiles.
if [ -z "$base_rev" ]; then
	echo "issuance before/after: skipped (set BENCH_BASE=<revision> to compare with an earlier revision)"
	exit 0
fi
$GO test -c -o "$ab/after.test" ./core/ca
for i in 1 2 3; do
	for v in before after; do
		(cd core/ca && "$ab/$v.test" -test.run '^$' -test.bench '^BenchmarkIssue$' -test.benchtime ${ISSUE_N:-500}x -test.cpuprofile "$ab/$v-$i.prof") |
			awk -v v=$v '/^BenchmarkIssue/ { print v, $0 }'
	done
done | tee "$ab/runs"
awk '
function metric(name,   i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
{ cpu[$1] += metric("cpu-ns/op"); n[$1]++ }
END { if (n["before"] && n["after"]) printf "core/ca issuance CPU per certificate, '"$(git rev-parse --short "$base_rev")"' -> working tree (interleaved, same session): %.0f -> %.0f us = %.2fx\n", cpu["before"]/n["before"]/1000, cpu["after"]/n["after"]/1000, (cpu["after"]/n["after"])/(cpu["before"]/n["before"]) }' "$ab/runs"
for v in before after; do
	echo "== $v: CPU profile top (cumulative, within Issuer.Sign: one-time setup left out)"
	$GO tool pprof -top -cum -nodecount=300 -focus 'ca\.\(\*Issuer\)\.Sign$' "$ab/$v.test" "$ab"/$v-*.prof 2>/dev/null |
		grep -E 'pkid/core/ca|crypto/x509\.|ecdsa\.(Verify|Sign)|zlint/v3\.|nistec\.\(\*P256Point\)\.BytesX|sqlite' | grep -v '(inline)' | head -14
done

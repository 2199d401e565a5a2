#!/usr/bin/env bash
# make bench-compare: server CPU per request (user+system of the server's
# whole process tree: daemon and plugin processes) for POST /sign under 32
# closed-loop clients, targets alternated in rounds (ABAB...), medians and
# per-round ratios against the first target; wall req/s and p50/p99 from the
# same rounds beside them, labelled noisy (scripts/bench-compare/main.go).
#
#   scripts/bench-compare.sh [TARGET...]
#
# TARGET is one of
#   tree           pkid serve -dev built from the working tree
#   inprocess      the same with both builtins isolation = "inprocess"
#   cfssl          cfssl serve (CFSSL 1.6.5 from bin/), no database
#   cfssl-sqlite   cfssl serve -db-config on SQLite
#   REV            pkid serve -dev built from git revision REV (git archive)
# Default: tree, then where this branch left main when that is not HEAD,
# then cfssl. Ratios are against the first target.
#   COMPARE_N=2000 requests per target per round, COMPARE_ROUNDS=5,
#   COMPARE_CLIENTS=32, COMPARE_PERF=DIR records each target with perf
#   (call graphs, daemon and plugins) and prints the top of each profile.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	targets=(tree)
	base=$(git merge-base HEAD main 2>/dev/null || true)
	if [ -n "$base" ] && [ "$(git rev-parse "$base")" != "$(git rev-parse HEAD)" ]; then
		targets+=("$base")
	fi
	targets+=(cfssl)
fi

cfssl_bin() {
	if [ ! -x bin/cfssl ]; then
		GOBIN="$PWD/bin" $GO install github.com/cloudflare/cfssl/cmd/cfssl@v1.6.5
	fi
	echo "$PWD/bin/cfssl"
}

tree_bin=
build_tree() {
	if [ -z "$tree_bin" ]; then
		tree_bin="$work/pkid-tree"
		$GO build -o "$tree_bin" ./cmd/pkid
	fi
	echo "$tree_bin"
}

args=()
for t in "${targets[@]}"; do
	case "$t" in
	tree) args+=(-target "tree=pkid:$(build_tree)") ;;
	inprocess) args+=(-target "tree-inprocess=pkid-inprocess:$(build_tree)") ;;
	cfssl) args+=(-target "cfssl=cfssl:$(cfssl_bin)") ;;
	cfssl-sqlite)
		$GO mod download github.com/cloudflare/cfssl@v1.6.5
		args+=(-target "cfssl-sqlite=cfssl-sqlite:$(cfssl_bin)")
		;;
	*)
		rev=$(git rev-parse --short "$t^{commit}") || { echo "bench-compare: $t: not a target or a git revision" >&2; exit 2; }
		src="$work/src-$rev"
		mkdir -p "$src"
		git archive "$rev" | tar -x -C "$src"
		(cd "$src" && $GO build -o "$work/pkid-$rev" ./cmd/pkid)
		args+=(-target "rev-$rev=pkid:$work/pkid-$rev")
		;;
	esac
done
[ -n "${COMPARE_PERF:-}" ] && args+=(-perf "$COMPARE_PERF")
$GO build -o "$work/bench-compare" ./scripts/bench-compare
"$work/bench-compare" -n "${COMPARE_N:-2000}" -rounds "${COMPARE_ROUNDS:-5}" -clients "${COMPARE_CLIENTS:-32}" -dir "$work/run" "${args[@]}"

if [ -n "${COMPARE_PERF:-}" ]; then
	for data in "$COMPARE_PERF"/*.data; do
		echo "== perf top of $(basename "$data" .data), all processes of the tree: self time"
		perf report -i "$data" --stdio --no-children --sort sym 2>/dev/null | grep -E '^ +[0-9]' | head -"${COMPARE_PERF_TOP:-25}"
		echo "== perf top of $(basename "$data" .data): cumulative (children included), the server's own code and its libraries"
		perf report -i "$data" --stdio --children --sort sym 2>/dev/null | grep -E '^ +[0-9]' |
			grep -E 'pkid/pkid|zlint|zcrypto|crypto/x509|ecdsa\.|sqlite|grpc|net/http|cfssl|gcBgMarkWorker|sysmon' | head -"${COMPARE_PERF_TOP:-25}"
	done
fi

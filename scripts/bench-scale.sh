#!/usr/bin/env bash
# make bench-scale: the certstore at 1 million certificates (10 million where
# the disk allows), SQLite and PostgreSQL: bulk load through PutBatch, sign
# throughput at that size next to an empty store, certstore list
# -expiring-within, OCSP pre-signing of the whole set, a full CRL with up to
# 100,000 revoked entries, database size per certificate (core/cli
# TestScale). Separate from make bench: it takes tens of minutes per size.
#   SCALE_SIZES="1000000 10000000"  sizes to try (default)
#   SCALE_STORES="sqlite postgres"  stores to measure (default)
#   SCALE_OCSP_SECONDS=600          bound on OCSP pre-signing (default: none
#                                   below 5 million, 600 s from there: 10
#                                   million responses take hours on 2 CPUs;
#                                   the rate is measured and the whole set's
#                                   time projected)
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
sizes=${SCALE_SIZES:-1000000 10000000}
stores=${SCALE_STORES:-sqlite postgres}
dir=${PKID_SCALE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/pkid-scale.XXXXXX")}
trap 'rm -rf "$dir"' EXIT
# About 1.9 kB per certificate with its OCSP response (measured), twice
# that for the write-ahead log and the sign-rate copies; PostgreSQL's own
# data directory is under TMPDIR as well.
need_per_cert=4000
free_kb=$(df -Pk "$dir" | awk 'NR==2 { print $4 }')
echo "bench-scale: $((free_kb / 1024 / 1024)) GiB free under $dir; load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
for store in $stores; do
	for n in $sizes; do
		need_kb=$((n * need_per_cert / 1024))
		if [ "$need_kb" -gt "$free_kb" ]; then
			echo "bench-scale: SKIPPED $store at $n certificates: needs about $((need_kb / 1024 / 1024)) GiB, $((free_kb / 1024 / 1024)) GiB free"
			continue
		fi
		echo "bench-scale: $store, $n certificates"
		sub="$dir/$store-$n"
		mkdir -p "$sub"
		ocsp_bound=${SCALE_OCSP_SECONDS:-$([ "$n" -ge 5000000 ] && echo 600 || echo 0)}
		PKID_SCALE_N=$n PKID_SCALE_STORE=$store PKID_SCALE_DIR=$sub PKID_SCALE_OCSP_SECONDS=$ocsp_bound \
			$GO test -run '^TestScale$' -count=1 -timeout 0 -v ./core/cli/ 2>&1 |
			grep -a --line-buffered -E '^SCALE|^bench-scale|^--- FAIL|^FAIL|_test.go:[0-9]+:' || true
		rm -rf "$sub"
	done
done

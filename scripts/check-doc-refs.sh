#!/usr/bin/env bash
# Lists Go source lines that cite a section ("§n") or a deliberate difference
# ("DD-n") of the CFSSL compatibility spec, which is not in this repository.
# Comments point to docs/ instead (docs/differences-from-cfssl.md, one heading
# per difference; docs/architecture.md). Section signs in RFC citations are
# written "RFC 5280, section 5.2.3" so they do not match either.
# Exit 0 when nothing is found, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
if hits=$(grep -rnE 'DD-[0-9]|§[0-9]' --include='*.go' --exclude-dir=.git --exclude-dir=bin --exclude-dir=.state .); then
	echo "$hits"
	echo "check-doc-refs: $(printf '%s\n' "$hits" | wc -l) line(s) cite the spec; point them to docs/ instead" >&2
	exit 1
fi

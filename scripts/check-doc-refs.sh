#!/usr/bin/env bash
# Lists Go source lines that cite a section ("§n") or a deliberate difference
# ("DD-n") of the CFSSL compatibility spec, which is not in this repository.
# Comments point to docs/ instead (docs/differences-from-cfssl.md, one heading
# per difference; docs/architecture.md). Section signs in RFC citations are
# written "RFC 5280, section 5.2.3" so they do not match either.
# Exit 0 when nothing is found, 1 otherwise.
#
# Where the old citations go (headings of docs/differences-from-cfssl.md):
#   DD-1 Authentication applies everywhere     DD-14 selfsign uses its HOSTNAME
#   DD-2 Opt-in endpoints                       DD-15 multirootca defaults
#   DD-3 Every CLI failure exits non-zero       DD-16 Replay-resistant tokens
#   DD-4 TLS version is checked                 DD-17 No certificate without its record
#   DD-5 Bounded requests and timeouts          DD-18 Certificate requests have a defined summary
#   DD-6 Error envelopes are JSON               DD-19 pkid json writes bundles and safe files
#   DD-7 Client mistakes are 4xx, faults are opaque
#   DD-8 Unknown profiles are errors            DD-20 Ed25519 keys are PKCS#8
#   DD-9 Revocation reasons and re-revocation   DD-21 No SHA-1, no leaf outliving its issuer
#   DD-10 CRLs per issuer                       DD-22 Outbound dials are opt-in
#   DD-11 OCSP responder                        DD-23 Health names what is wrong
#   DD-12 Bundle hostnames in order             DD-24 mkbundle keeps unchecked certificates
#   DD-13 Bundle scoring without 2016 penalties DD-25 Unknown paths get an envelope
#                                               DD-26 Hostname items are trimmed
# Section numbers name CFSSL's wire format, which the code now states in place
# ("the authsign wrapper", "CFSSL's OCSP error codes (category 8000)"); the
# token wrapper on other endpoints is "Authentication applies everywhere".
# Cite as: (docs/differences-from-cfssl.md, "Heading"); internal/boundary's
# TestDocRefs checks that the heading exists.
set -euo pipefail
cd "$(dirname "$0")/.."
if hits=$(grep -rnE 'DD-[0-9]|§[0-9]' --include='*.go' --exclude-dir=.git --exclude-dir=bin --exclude-dir=.state .); then
	echo "$hits"
	echo "check-doc-refs: $(printf '%s\n' "$hits" | wc -l) line(s) cite the spec; point them to docs/ instead" >&2
	exit 1
fi

#!/usr/bin/env bash
# make run (until the daemon lands): the most useful end-to-end path today.
# Validates the dev configuration (the shared CA definition in ca.hcl plus the
# file keystore of dev.hcl; prod-hsm.hcl swaps in a PKCS#11 token), generates
# a key inside the file keystore (plugin process), lists keys, shows the
# certificate store, and runs the third-party sample plugin pinned by sha256.
set -euo pipefail
cd "$(dirname "$0")/.."
PKID="$PWD/bin/pkid"
export PKID_STATE_DIR=${PKID_STATE_DIR:-$PWD/.state}
mkdir -p "$PKID_STATE_DIR"
chmod 700 "$PKID_STATE_DIR"
if [ ! -s "$PKID_STATE_DIR/passphrase" ]; then
	(umask 077; head -c 32 /dev/urandom | base64 >"$PKID_STATE_DIR/passphrase")
	echo "Generated a dev keystore passphrase in $PKID_STATE_DIR/passphrase (0600)."
fi
cfg="examples/hcl/ca.hcl -config examples/hcl/dev.hcl"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step $PKID version
step $PKID validate -config $cfg
step $PKID plugin list -config $cfg
if ! $PKID keystore ca public -id demo-p256 -config $cfg >/dev/null 2>&1; then
	step $PKID keystore ca generate -id demo-p256 -algorithm ecdsa-p256 -config $cfg
fi
step $PKID keystore ca list -config $cfg

# A CA whose key lives in the keystore plugin; certificates are recorded in
# the SQLite store before they are printed.
if [ ! -s "$PKID_STATE_DIR/ca/issuing.pem" ]; then
	step $PKID ca init -config $cfg -ca issuing -cn "pkid dev issuing CA"
fi
out="$PKID_STATE_DIR/out"
mkdir -p "$out"
$PKID print-defaults csr >"$out/server.json"
printf '\n\033[1m$ pkid gencert -config %s -label issuing -profile server server.json | pkid json -bare server\033[0m\n' "$cfg"
$PKID gencert -config $cfg -label issuing -profile server "$out/server.json" | (cd "$out" && $PKID json -bare server)
ls -l "$out"
step openssl verify -CAfile "$PKID_STATE_DIR/ca/issuing.pem" "$out/server.pem"
step $PKID certinfo -cert "$out/server.pem"
step $PKID certstore main list -config $cfg

make -s example-plugin
sum=$(sha256sum bin/pkid-plugin-memory | cut -d' ' -f1)
step $PKID plugin register bin/pkid-plugin-memory
export PKID_MEMORY_PLUGIN_SHA256=$sum
step $PKID keystore scratch generate -id demo -algorithm ed25519 -config examples/hcl/third-party-plugin.hcl
# Plugins declare their own commands: pkid keystore TYPE COMMAND.
step $PKID keystore memory stats -config examples/hcl/third-party-plugin.hcl
step $PKID keystore pkcs11 -help
echo
echo "State is in $PKID_STATE_DIR. Try: $PKID plugin schema keystore file"

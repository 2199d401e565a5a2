# Development keystore for ca.hcl: an age-encrypted file keystore running out
# of process (the default).
#
#   pkid validate -config examples/hcl/ca.hcl -config examples/hcl/dev.hcl
#   pkid keystore ca list -config examples/hcl/ca.hcl -config examples/hcl/dev.hcl
#
# prod-hsm.hcl defines the same instance name on a PKCS#11 token.

keystore "file" "ca" {
  dir = "${env("PKID_STATE_DIR", "/var/lib/pkid")}/keys"
  # Keys at rest are age-encrypted; the passphrase never sits in this file.
  passphrase_file = "${env("PKID_STATE_DIR", "/var/lib/pkid")}/passphrase"
}

# Development configuration: a file keystore and the embedded SQLite store,
# both running out of process (the default). Everything lives under
# $PKID_STATE_DIR (make run uses ./.state).
#
#   pkid validate -config examples/hcl/dev.hcl
#   pkid keystore dev generate -id issuing -algorithm ecdsa-p256 -config examples/hcl/dev.hcl

pkid {
  state_dir = env("PKID_STATE_DIR", "/var/lib/pkid")
  listen    = "127.0.0.1:8888"
}

keystore "file" "dev" {
  dir = "${env("PKID_STATE_DIR", "/var/lib/pkid")}/keys"
  # Keys at rest are age-encrypted; the passphrase never sits in this file.
  passphrase_file = "${env("PKID_STATE_DIR", "/var/lib/pkid")}/passphrase"
}

certstore "sqlite" "main" {
  path = "${env("PKID_STATE_DIR", "/var/lib/pkid")}/pkid.db"
}

ca "issuing" {
  keystore    = keystore.dev
  key         = "issuing"
  certificate = "${env("PKID_STATE_DIR", "/var/lib/pkid")}/ca/issuing.pem"
  certstore   = certstore.main

  profile "server" {
    usages = ["digital signature", "server auth"]
    expiry = "2160h"
  }
}

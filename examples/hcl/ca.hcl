# The CA definition shared by every environment. It names its keystore only
# as keystore.ca: the keystore block comes from a second file, so the same CA
# runs on a file keystore in development and on an HSM in production by
# switching that file only:
#
#   pkid validate -config examples/hcl/ca.hcl -config examples/hcl/dev.hcl
#   pkid validate -config examples/hcl/ca.hcl -config examples/hcl/prod-hsm.hcl
#
# Everything lives under $PKID_STATE_DIR (make demo uses ./.state).

pkid {
  state_dir = env("PKID_STATE_DIR", "/var/lib/pkid")
  listen    = "127.0.0.1:8888"
}

certstore "sqlite" "main" {
  path = "${env("PKID_STATE_DIR", "/var/lib/pkid")}/pkid.db"
}

ca "issuing" {
  keystore    = keystore.ca # defined by dev.hcl or prod-hsm.hcl
  key         = "issuing"
  certificate = "${env("PKID_STATE_DIR", "/var/lib/pkid")}/ca/issuing.pem"
  certstore   = certstore.main

  profile "server" {
    usages = ["digital signature", "server auth"]
    expiry = "2160h"
  }
}

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
  # Where relying parties reach this daemon: issued certificates carry
  # ${public_url}/ocsp (AIA), ${public_url}/crl/issuing.crl (CRL DP) and
  # ${public_url}/ca/issuing.crt. Unset, the listen address is used.
  # public_url = "http://pki.internal.example"
}

certstore "sqlite" "main" {
  path = "${env("PKID_STATE_DIR", "/var/lib/pkid")}/pkid.db"
}

ca "issuing" {
  keystore    = keystore.ca # defined by dev.hcl or prod-hsm.hcl
  key         = "issuing"
  certificate = "${env("PKID_STATE_DIR", "/var/lib/pkid")}/ca/issuing.pem"
  certstore   = certstore.main

  crl {
    validity       = "168h" # nextUpdate of full CRLs
    interval       = "1h"   # full CRL schedule (one node at a time)
    delta_interval = "15m"  # delta CRLs; "0" turns them off
    on_revoke      = true   # a new delta right after each revocation
  }
  ocsp {
    validity         = "96h" # nextUpdate of OCSP responses
    refresh_interval = "1h"  # bulk pre-signing schedule
    # A delegated responder (issue it with `pkid ca ocsp-responder -ca issuing`):
    # responder_key         = "issuing-ocsp"
    # responder_certificate = "/var/lib/pkid/ca/issuing-ocsp.pem"
  }

  profile "server" {
    usages = ["digital signature", "server auth"]
    expiry = "2160h"
  }
}

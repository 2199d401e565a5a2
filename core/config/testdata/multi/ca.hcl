ca "issuing" {
  keystore    = keystore.dev
  key         = "issuing-2026"
  certificate = "/var/lib/pkid/ca/issuing.pem"
  chain       = "/var/lib/pkid/ca/chain.pem"
  certstore   = certstore.main

  profile "server" {
    usages = ["digital signature", "server auth"]
    expiry = "2160h"
  }

  profile "client" {
    usages = ["digital signature", "client auth"]
    expiry = "14d"
  }
}

ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "v2" {
    usages                 = ["server auth"]
    expiry                 = "1h"
    auth_key               = "k"
    auth_replay_protection = true
  }
  profile "both" {
    usages   = ["server auth"]
    expiry   = "1h"
    auth_key = "k"
  }
}

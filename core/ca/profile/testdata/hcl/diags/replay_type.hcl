ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    usages                 = ["server auth"]
    expiry                 = "1h"
    auth_key               = "k"
    auth_replay_protection = "yes"
  }
}

ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    usages     = ["server auth"]
    expiration = "1h"
  }
}

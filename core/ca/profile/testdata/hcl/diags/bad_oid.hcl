ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    usages = ["server auth"]
    expiry = "1h"
    certificate_policy "1.2.x" {}
  }
}

ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    usages = ["server auth"]
    expiry = "1h"
    policy {
      allow_ip = ["10.0.0.0/8", "10.0.0.0/33"]
    }
  }
}

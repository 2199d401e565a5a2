ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    usages = ["digital signature", "server-auth"]
    expiry = "1h"
  }
}

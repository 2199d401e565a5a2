ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    usages = ["frobnicate"]
    expiry = "1h"
  }
}

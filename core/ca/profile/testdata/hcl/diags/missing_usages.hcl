ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    expiry = "1h"
  }
}

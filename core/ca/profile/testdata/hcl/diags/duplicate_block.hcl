ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    usages = ["server auth"]
    expiry = "1h"
    lint {
      level = "warn"
    }
    lint {
      level = "error"
    }
  }
}

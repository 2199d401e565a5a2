ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    usages = ["cert sign"]
    expiry = "1h"
    ca_constraint {
      max_path_len = 1
    }
  }
}

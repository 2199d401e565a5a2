ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    usages = ["cert sign"]
    expiry = "1h"
    name_constraints {
      permitted_dns = ["example.com"]
    }
  }
}

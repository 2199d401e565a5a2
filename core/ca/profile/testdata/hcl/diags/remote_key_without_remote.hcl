ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    remote_auth_key = "env:UPSTREAM_KEY"
    expiry          = "1h"
    usages          = ["server auth"]
  }
}

ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    remote = "upstream"
    expiry = "1h"
    usages = ["server auth"]
  }
}

remote "upstream" {
  urls = ["https://ca.example:8888"]
}

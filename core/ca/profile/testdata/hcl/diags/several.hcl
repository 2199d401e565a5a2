ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    usages = ["server auth", "clientauth"]
    expiry = "1y"
    crl_url = "crl"
  }
}

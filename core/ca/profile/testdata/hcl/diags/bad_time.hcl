ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    usages     = ["server auth"]
    not_after  = "2027-01-01"
  }
}

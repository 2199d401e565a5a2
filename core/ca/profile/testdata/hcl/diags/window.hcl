ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    usages     = ["server auth"]
    not_before = "2027-01-01T00:00:00Z"
    not_after  = "2026-01-01T00:00:00Z"
  }
}

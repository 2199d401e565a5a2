keystore "file" "dev" {
  dir = "/var/lib/pkid/keys"
}

certstore "sqlite" "main" {
  path = "/var/lib/pkid/pkid.db"
}

ca "issuing" {
  keystore  = keystore.devv
  key       = "issuing-2026"
  certstore = certstore.other
}

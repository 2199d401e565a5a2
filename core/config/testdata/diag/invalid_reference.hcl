keystore "file" "dev" {
  dir = "/var/lib/pkid/keys"
}

ca "issuing" {
  keystore  = "dev"
  key       = "issuing-2026"
  certstore = keystore.dev
}

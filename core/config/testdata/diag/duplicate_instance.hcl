keystore "file" "dev" {
  dir = "/var/lib/pkid/keys"
}

keystore "pkcs11" "dev" {
  module = "/usr/lib/softhsm/libsofthsm2.so"
}

ca "issuing" {
  keystore = keystore.dev
  key      = "a"
}

ca "issuing" {
  keystore = keystore.dev
  key      = "b"
}

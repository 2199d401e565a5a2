keystore "file" "pkcs11" {
  dir = "/var/lib/pkid/keys"
}

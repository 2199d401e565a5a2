keystore "file" "dev" {
  dir        = "/var/lib/pkid/keys"
  passphrase = trimspace(file("no-such-secret.txt"))
}

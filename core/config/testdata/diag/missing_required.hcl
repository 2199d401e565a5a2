keystore "file" "dev" {
  passphrase = "correct horse"
}

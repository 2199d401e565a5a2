keystore "file" "dev" {
  dir       = "/var/lib/pkid/keys"
  isolation = "inprocess"
  pasphrase = "correct horse"
}

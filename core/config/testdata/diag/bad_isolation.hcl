keystore "file" "dev" {
  isolation = "proces"
  dir       = "/var/lib/pkid/keys"
}

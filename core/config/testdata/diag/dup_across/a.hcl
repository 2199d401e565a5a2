keystore "file" "dev" {
  dir = "/var/lib/pkid/keys"
}

keystore "file" "dev" {
  dir = "/srv/keys"
}

pkid {
  state_dir = "/var/lib/pkid"
}

keystor "file" "dev" {
  dir = "/var/lib/pkid/keys"
}

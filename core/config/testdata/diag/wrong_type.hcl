keystore "file" "dev" {
  dir             = "/var/lib/pkid/keys"
  kdf_work_factor = "lots"
}

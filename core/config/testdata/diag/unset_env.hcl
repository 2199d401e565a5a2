keystore "file" "dev" {
  dir        = env("PKID_TEST_KEY_DIR", "/var/lib/pkid/keys")
  passphrase = env("PKID_TEST_SURELY_UNSET")
}

pkid {
  state_dir = "/var/lib/pkid"
  listen    = "127.0.0.1:8888"
  log_level = "debug"
}

keystore "file" "dev" {
  isolation  = "inprocess"
  dir        = "/var/lib/pkid/keys"
  passphrase = env("PKID_TEST_PASSPHRASE")
}

plugin "example" {
  path   = "plugins/pkid-plugin-example"
  sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  env    = ["HTTPS_PROXY"]
  args   = ["-v"]
}

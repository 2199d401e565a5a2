keystore "file" "dev" {
  dir             = join("/", ["", "var", "lib", lower("PKID"), "keys"])
  passphrase      = trimspace(file("secret.txt"))
  kdf_work_factor = 18
}

certstore "sqlite" "main" {
  path = upper(env("PKID_TEST_UNSET_WITH_DEFAULT", "default.db"))
}

ca "root" {
  keystore = keystore["dev"]
  key      = env("PKID_TEST_KEY_NAME")
}

keystore "fiel" "dev" {
  dir = "/var/lib/pkid/keys"
}

certstore "mysql" "main" {
  dsn = "x"
}

keystore "file" "dev" {
  dir = "/nonexistent"
}

# Satisfies the keystore reference of the ca blocks in the other files.
keystore "file" "k" {
  dir = "/tmp"
}

ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    remote          = remote.upstream
    remote_auth_key = "0123456789ABCDEF0123456789ABCDEF"
  }
}

remote "upstream" {
  urls = ["https://ca.example:8888"]
}

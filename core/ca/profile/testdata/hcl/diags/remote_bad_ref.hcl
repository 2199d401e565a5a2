ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "p" {
    remote = remote.upstream.urls
  }
}

remote "upstream" {
  urls = ["https://ca.example:8888"]
}

keystore "file" "k" {
  dir = "/k"
}

remote "upstream" {
  urls = ["https://ca.example.org:8888"]
}

ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "typo" {
    remote = remote.upstrem
  }
  profile "named" {
    remote = "nowhere"
  }
  profile "good" {
    remote = remote.upstream
  }
}

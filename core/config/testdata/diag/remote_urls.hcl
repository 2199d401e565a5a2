remote "plain" {
  urls = ["http://ca.example.org:8888", "https://ok.example:8888"]
}

remote "loop" {
  urls = ["http://127.0.0.1:8888", "ftp://x", "https://ca.example/api/v1", "http://localhost:1"]
}

remote "mtls" {
  urls = ["http://127.0.0.1:8888"]
  tls {
    cert = "client.pem"
  }
}

remote "empty" {
  urls = []
}

remote "loose" {
  urls     = ["http://ca.example.org:8888"]
  insecure = true
}

remote "loose" {
  urls = ["https://dup.example"]
}

remote "mtls_http" {
  urls = ["http://127.0.0.1:8888"]
  tls {
    cert = "client.pem"
    key  = "client-key.pem"
  }
}

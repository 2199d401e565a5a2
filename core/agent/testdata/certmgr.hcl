agent {
  listen = "127.0.0.1:9180"
  ca {
    url      = "https://ca.example.net:8888"
    root_ca  = "/etc/cfssl/api_server_ca.pem"
    auth_key = "0123456789abcdef0123456789abcdef"
    label    = "www_ca"
    profile  = "three-month"
  }
}

certificate "www" {
  cn         = "www.example.net"
  hosts      = ["www.example.net", "10.0.0.1"]
  key_algo   = "ecdsa"
  key_size   = 256
  cert_file  = "/etc/tls/www.pem"
  key_file   = "/etc/tls/www.key"
  chain_file = "/etc/tls/ca.pem"
  owner      = "www-data"
  group      = "www-data"
  key_mode   = "0600"
  reload {
    systemd_unit = "nginx"
  }
}

certificate "api" {
  cn        = "api.example.net"
  hosts     = ["api.example.net"]
  key_algo  = "rsa"
  key_size  = 2048
  profile   = "client"
  cert_file = "/etc/tls/api.pem"
  key_file  = "/etc/tls/api.key"
  reload {
    command = ["/bin/sh", "-c", "/usr/local/bin/api-reload --graceful"]
  }
}
# Every profile setting, as an operator would write them.
ca "issuing" {
  keystore = keystore.k
  key      = "issuing-2026"

  profile "default" {
    usages      = ["digital signature", "client auth"]
    expiry      = "14d"
    issuer_urls = ["http://pki.example.com/issuing.crt"]
    ocsp_url    = "http://ocsp.example.com"
    crl_url     = "http://crl.example.com/issuing.crl"
  }

  profile "server" {
    usages              = ["digital signature", "key encipherment", "server auth", "1.3.6.1.4.1.311.20.2.2"]
    expiry              = "2160h"
    backdate            = "0s"
    ocsp_no_check       = true
    copy_extensions     = true
    allowed_extensions  = ["1.2.3.4", "1.3.6.1.4.1.99999.7"]
    name_whitelist      = "^[a-z.]+\\.example\\.com$"
    signature_algorithm = "SHA256-RSAPSS"
    client_provides_serial_numbers = true

    policy {
      allow_dns       = ["*.svc.example.com", "example.com"]
      deny_dns        = ["admin.example.com"]
      allow_ip        = ["10.0.0.0/8", "2001:db8::/32"]
      deny_ip         = ["10.9.0.0/16"]
      allow_email     = ["example.com"]
      deny_email      = ["root@example.com"]
      allow_uri       = ["*.example.com"]
      deny_uri        = []
      allow_wildcards = true
    }

    certificate_policy "1.3.6.1.4.1.99999.1" {
      cps         = "https://example.com/cps"
      user_notice = "Issued for testing only"
    }
    certificate_policy "2.23.140.1.2.1" {}

    csr_whitelist {
      subject     = true
      public_key  = true
      dns_names   = true
      ip_addresses = true
    }

    lint {
      level           = "warn"
      sources         = ["RFC5280", "Community", "CABF_BR"]
      ignored_lints   = ["w_subject_common_name_included"]
      ignored_sources = ["ETSI_ESI"]
    }

    ct {
      log_servers = ["https://ct.example/log/"]
    }
  }

  profile "intermediate" {
    usages     = ["cert sign", "crl sign"]
    not_before = "2026-01-01T00:00:00Z"
    not_after  = "2031-01-01T00:00:00Z"
    issuer_urls = []

    ca_constraint {
      is_ca             = true
      max_path_len      = 0
      max_path_len_zero = true
    }

    name_constraints {
      critical        = true
      permitted_dns   = ["example.com", ".example.net"]
      excluded_dns    = ["secret.example.com"]
      permitted_ip    = ["10.0.0.0/8"]
      excluded_ip     = ["10.1.0.0/16"]
      permitted_email = ["example.com"]
      excluded_uri    = [".internal.example.com"]
    }

    lint {
      disabled = true
    }
  }

  profile "forwarded" {
    remote        = remote.upstream
    auth_key      = "key-2026"
    prev_auth_key = "key-2025"
  }
}

remote "upstream" {
  urls = ["https://ca.example:8888"]
}

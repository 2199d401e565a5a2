# The HCL twin of ../realistic.json: DecodeHCL must give the profiles
# ParseCFSSL gives for it.
ca "x" {
  keystore = keystore.k
  key      = "k"

  profile "default" {
    ocsp_url    = "http://ocsp.example.com"
    crl_url     = "http://crl.example.com/issuing.crl"
    issuer_urls = ["http://pki.example.com/issuing.crt"]
    expiry      = "168h"
    usages      = ["signing", "key encipherment", "client auth"]
  }

  profile "intermediate" {
    expiry = "43800h"
    usages = ["signing", "cert sign", "crl sign"]
    ca_constraint {
      is_ca        = true
      max_path_len = 1
    }
    # CFSSL's lint_error_level "warn" refuses results above warn: pkid's
    # "error" (at or above).
    lint {
      level = "error"
    }
  }

  profile "server" {
    expiry         = "2160h"
    backdate       = "1h"
    usages         = ["signing", "key encipherment", "server auth"]
    name_whitelist = "^([a-z0-9-]+\\.)*example\\.com$"
    lint {
      ignored_lints = ["w_subject_common_name_included"]
    }
  }

  profile "client" {
    expiry   = "90d"
    usages   = ["signing", "key encipherment", "client auth"]
    auth_key = "client-key"
    ocsp_url = "http://ocsp2.example.com"
  }
}

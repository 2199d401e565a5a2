# Production keystore for ca.hcl: the CA key lives on a PKCS#11 token (an
# HSM; SoftHSM2 for a rehearsal) and never leaves it. Same instance name as
# dev.hcl, so ca.hcl is unchanged:
#
#   pkid validate -config examples/hcl/ca.hcl -config examples/hcl/prod-hsm.hcl
#   pkid ca init -config examples/hcl/ca.hcl -config examples/hcl/prod-hsm.hcl -ca issuing -cn "Issuing CA"
#   pkid keystore pkcs11 list -config examples/hcl/ca.hcl -config examples/hcl/prod-hsm.hcl
#
# The plugin runs out of process and sees only allow-listed environment
# variables (SOFTHSM2_CONF among them), so the PIN comes from a file.

keystore "pkcs11" "ca" {
  module      = env("PKID_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
  token_label = env("PKID_HSM_TOKEN", "pkid")
  pin_file    = env("PKID_HSM_PIN_FILE", "/etc/pkid/hsm-pin")
  # or: pin = env("PKID_HSM_PIN")  (a PIN written literally here is refused)
}

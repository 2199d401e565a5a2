# High availability: several stateless pkid nodes behind a load balancer,
# sharing one PostgreSQL database as their certificate store. Every node
# runs this same file; only the environment differs:
#
#   export PKID_PG_DSN='postgres://pkid@db.internal:5432/pkid?sslmode=verify-full'
#   PKID_LISTEN=10.0.0.11:8888 pkid serve -config ha-postgres.hcl   # node 1
#   PKID_LISTEN=10.0.0.12:8888 pkid serve -config ha-postgres.hcl   # node 2
#
# (Keep the password out of the DSN: use a ~/.pgpass file or PGPASSWORD,
# which pgx reads too.)
#
# What is shared and how:
#
#   - Certificates: in PostgreSQL. Every node records each certificate there
#     before answering, so any node can serve certinfo, revocation and OCSP
#     for certificates another node issued. Serial numbers are random (not
#     a per-node counter), so nodes never collide.
#   - The CA key and certificate: every node signs, so every node needs
#     both. With the file keystore that means the same key directory and
#     the same passphrase on every node. Create them once, on one node:
#
#         pkid ca init -config ha-postgres.hcl -ca issuing -cn "Example Issuing CA"
#
#     then either keep $PKID_SHARED_DIR on shared storage (NFS, a read-only
#     mount is enough: pkid serve only reads keys), or copy the whole keys/
#     directory (the key files and the directory's encrypted identity file)
#     and ca/issuing.pem to the same path on every node. The keys stay
#     encrypted at rest; the passphrase file is per node (same content,
#     local disk, mode 0600), so the shared copy alone does not expose them.
#     With an HSM, use a pkcs11 keystore block instead: each node opens the
#     same token and no key file is shared at all.
#
# Resilience: the pool reconnects by itself after a PostgreSQL restart or
# failover. While the database is unreachable a node answers sign requests
# with HTTP 503 (CFSSL code 11000, retryable) within connect_timeout, and it
# never returns a certificate that was not stored; no pkid restart needed.
#
#   pkid validate -config examples/hcl/ha-postgres.hcl   (with PKID_PG_DSN set)

pkid {
  listen = env("PKID_LISTEN", "127.0.0.1:8888")
}

keystore "file" "shared" {
  dir             = "${env("PKID_SHARED_DIR", "/srv/pkid")}/keys"
  passphrase_file = env("PKID_PASSPHRASE_FILE", "/etc/pkid/passphrase")
}

certstore "postgres" "main" {
  # Required; from the environment so the file holds no credentials.
  dsn = env("PKID_PG_DSN")
  # Connections per node (default: the larger of 4 and the CPU count).
  # Size PostgreSQL's max_connections for all nodes together.
  max_conns = 8
  # How long a request waits for a new connection before failing with 503.
  connect_timeout = "5s"
}

ca "issuing" {
  keystore    = keystore.shared
  key         = "issuing"
  certificate = "${env("PKID_SHARED_DIR", "/srv/pkid")}/ca/issuing.pem"
  certstore   = certstore.main

  profile "server" {
    usages = ["digital signature", "server auth"]
    expiry = "2160h"
  }
}

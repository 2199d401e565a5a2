// Package ui is pkid's read-only web dashboard, served by the daemon at
// /ui/: the CAs with their chains and key backends, recent issuance,
// search by serial, name or fingerprint, certificates expiring soon,
// revocations, CRL and OCSP freshness, and plugin health.
//
// Pages are rendered on the server with html/template (every value from a
// certificate is escaped for its context) and styled by one embedded CSS
// file; there is no script and nothing is loaded from elsewhere, so the
// Content-Security-Policy forbids both. The handler answers GET and HEAD
// only: the dashboard never changes anything. Each request examines at
// most MaxScan stored records, so a large store costs a bounded amount per
// page view.
//
// Who may look is decided by Access: loopback clients (dev mode) or
// verified mTLS clients whose certificate CN matches the "ui" entry of
// client_cert_policy. docs/operations.md is the operator's guide.
package ui

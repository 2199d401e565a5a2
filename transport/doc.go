// Package transport gives a Go service mutual TLS with certificates from a
// pkid CA that renew themselves.
//
// A Transport holds one identity: a key generated locally (it never leaves
// the process) and the certificate pkid issued for it. New obtains the
// first certificate (authsign with an HMAC key, or sign with a bootstrap
// client certificate); Run renews it before it expires through pkid's
// renew endpoint, authenticated by the current certificate, at a
// configurable fraction of its lifetime with jitter. A new certificate is
// swapped in for new handshakes only (tls.Config's GetCertificate and
// GetClientCertificate), so open connections are never dropped.
//
// Peers are verified against a per-service CA pool (Peers), with the
// revocation status of their certificate: a stapled OCSP response, else
// OCSP, else the CRL, each answer cached for at most
// RevocationConfig.CacheTTL; when no source answers, FailOpen accepts the
// peer and FailClosed refuses it.
//
// When the CA cannot be reached, the current certificate stays in use and
// renewal is retried with exponential backoff; Health reports it.
//
// See docs/transport.md for the design and the renew and renewal-info
// endpoints it uses.
package transport

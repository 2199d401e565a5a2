// Package server is pkid's CFSSL-compatible HTTP API: the handlers behind
// /api/v1/cfssl/<endpoint>, wire-compatible with `cfssl serve` so that
// existing CFSSL clients (`cfssl gencert|sign|info -remote`, auth_remote
// profiles, scripts) work unchanged: same envelope, fields and error codes.
//
// Endpoints served here: sign, authsign, info, newkey, newcert, init_ca,
// certinfo, revoke and health. Every reply is CFSSL's envelope
// ({"success","result","errors","messages"}) as application/json.
//
// Deliberate differences from cfssl serve implemented here, each under its
// heading in docs/differences-from-cfssl.md:
//   - "Authentication applies everywhere": once authentication is configured
//     (auth keys or a client certificate policy), sign, newcert and revoke
//     need an authorised mTLS client certificate or the token wrapper.
//   - "Bounded requests and timeouts": request bodies are capped (default
//     1 MiB → 413).
//   - "Error envelopes are JSON": error envelopes are application/json too.
//   - "Client mistakes are 4xx, faults are opaque": server faults answer
//     500/0 with a generic text and a request id; the detail goes to the
//     log only.
//   - "Unknown profiles are errors": an unknown non-empty profile is
//     400/5400, never the default.
//   - "Revocation reasons and re-revocation": revoke reasons 0–6 and 8–10
//     (numbers or names); re-revoking with another reason is 409.
//   - "No certificate without its record": a certificate store outage is
//     503/11000.
//   - "Outbound dials are opt-in": certinfo's domain mode dials only when
//     Options.Dial is set.
//   - "Health names what is wrong": health reports failing stores and CAs
//     with 503.
//   - "Unknown paths get an envelope": unknown paths get a 404 envelope.
//
// newkey, newcert and init_ca return freshly generated private keys in
// the response body and never store them in a keystore: that is CFSSL's
// behaviour, and clients depend on it. Disable those endpoints where
// keys must not leave the server's callers' hands over the network.
package server

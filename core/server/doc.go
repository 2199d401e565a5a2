// Package server is pkid's CFSSL-compatible HTTP API: the handlers behind
// /api/v1/cfssl/<endpoint>, wire-compatible with `cfssl serve` so that
// existing CFSSL clients (`cfssl gencert|sign|info -remote`, auth_remote
// profiles, scripts) work unchanged (spec/cfssl-compat.md §2–§4).
//
// Endpoints served here: sign, authsign, info, newkey, newcert, init_ca,
// certinfo, revoke and health. Every reply is CFSSL's envelope
// ({"success","result","errors","messages"}) as application/json.
//
// Deliberate differences from cfssl serve (spec §1.3) implemented here:
//   - DD-1: once authentication is configured (auth keys or a client
//     certificate policy), sign, newcert and revoke need an authorised mTLS
//     client certificate or the §4.4 token wrapper.
//   - DD-5: request bodies are capped (default 1 MiB → 413).
//   - DD-6: error envelopes are application/json too.
//   - DD-7: server faults answer 500/0 with a generic text and a request id;
//     the detail goes to the log only.
//   - DD-8: an unknown non-empty profile is 400/5400, never the default.
//   - DD-9: revoke reasons 0–6 and 8–10 (numbers or names); re-revoking
//     with another reason is 409.
//   - DD-17: a certificate store outage is 503/11000.
//   - DD-22: certinfo's domain mode dials only when Options.Dial is set.
//   - DD-23: health reports failing stores and CAs with 503.
//   - DD-25: unknown paths get a 404 envelope.
//
// newkey, newcert and init_ca return freshly generated private keys in
// the response body and never store them in a keystore: that is CFSSL's
// behaviour, and clients depend on it. Disable those endpoints where
// keys must not leave the server's callers' hands over the network.
package server
